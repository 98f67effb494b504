"""Envs for testing and benchmarking the loop itself (and plugins' handling of failures).

Importing this module registers them under the ``archgym-testing`` namespace, so they can be
named on the command line with Gymnasium's ``module:id`` syntax::

    archgym run --env archgym.testing:archgym-testing/Sleep-v0 --agent random --budget 10 --out r
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import gymnasium as gym

from archgym.env import DesignEnv, EvalContext, Fidelity
from archgym.search import Agent, EvalResult, InteractiveAgent, Problem
from archgym.spaces import Design, DesignSpace, Objective, Objectives, Real

__all__ = ["ConstantAgent", "FaultyEnv", "NullEnv", "RandomActionsAgent", "SleepEnv", "install_into"]


class NullEnv(DesignEnv):
    """Does no work: measures the overhead of the loop, wrappers and records."""

    def __init__(self) -> None:
        super().__init__(
            design_space=DesignSpace([Real("x", 0.0, 1.0)]),
            metrics={"value": "1"},
            objective=Objectives([Objective("value", "max")], penalty=-1.0),
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        return {"value": design["x"]}


class SleepEnv(DesignEnv):
    """Sleeps ``delay_s`` per full-fidelity evaluation: a stand-in for a slow simulator.

    Fidelity ``steps`` (1–10, default 10) scales the sleep, like training epochs would. With
    ``sigma`` > 0 the sleep is log-normal — median ``delay_s``, shape ``sigma``, drawn from the
    evaluation's own seeded RNG — as evaluation times of real simulators and trainings are.
    """

    optimal_reward = 0.0  # value = 0 at (x, y) = (0.3, 0.7)

    def __init__(self, delay_s: float = 0.05, sigma: float = 0.0) -> None:
        self.delay_s, self.sigma = float(delay_s), float(sigma)
        super().__init__(
            design_space=DesignSpace([Real("x", 0.0, 1.0), Real("y", 0.0, 1.0)]),
            metrics={"value": "1"},
            objective=Objectives([Objective("value", "min")], penalty=-10.0),
            fidelity=Fidelity("steps", 1, 10, default=10, integer=True),
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        spread = float(context.rng.lognormal(0.0, self.sigma)) if self.sigma > 0 else 1.0
        time.sleep(self.delay_s * spread * float(context.fidelity or 10) / 10)
        return {"value": (design["x"] - 0.3) ** 2 + (design["y"] - 0.7) ** 2}


class FaultyEnv(DesignEnv):
    """Raises for ``x < fail_below`` and hangs for ``hang_s`` seconds for ``x > hang_above``:
    a simulator that crashes or hangs on some designs. With ``die_at_or_above`` set, designs
    with ``x >= die_at_or_above`` end the evaluating process at once (``os._exit``), as a
    segfaulting simulator or the OOM killer would. With ``allocate_mb_above`` set, designs with
    ``x > allocate_mb_above`` allocate and touch ``allocate_mb`` MB and hold it for a second, as a
    simulator that runs out of memory does. Every evaluation first writes a scratch file
    into its work directory, as a file-based simulator does; with ``write_cwd`` it also writes
    ``faulty-cwd.txt`` relative to its CWD, as simulators that write relative paths do, and
    fails if the file is already there (the CWD was not private to the evaluation).
    Penalty reward: -10."""

    def __init__(
        self,
        fail_below: float = 0.2,
        hang_above: float = 0.8,
        hang_s: float = 30.0,
        die_at_or_above: float | None = None,
        allocate_mb_above: float | None = None,
        allocate_mb: int = 0,
        write_cwd: bool = False,
    ) -> None:
        self.fail_below, self.hang_above, self.hang_s = fail_below, hang_above, hang_s
        self.write_cwd = bool(write_cwd)
        self.die_at_or_above = die_at_or_above
        self.allocate_mb_above, self.allocate_mb = allocate_mb_above, int(allocate_mb)
        super().__init__(
            design_space=DesignSpace([Real("x", 0.0, 1.0)]),
            metrics={"value": "1"},
            objective=Objectives([Objective("value", "max")], penalty=-10.0),
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        x = design["x"]
        (context.workdir / "scratch.txt").write_text(f"{x}\n")
        if self.write_cwd:
            with open("faulty-cwd.txt", "x") as relative:  # "x": fails if an earlier one left it
                relative.write(f"{x}\n")
        if self.die_at_or_above is not None and x >= self.die_at_or_above:
            os._exit(70)
        if self.allocate_mb_above is not None and x > self.allocate_mb_above:
            import numpy as np

            held = np.ones(self.allocate_mb * 2**20, dtype=np.uint8)  # ones: every page touched
            time.sleep(1.0)
            del held
        if x < self.fail_below:
            raise RuntimeError(f"simulated crash at x={x:.3f}")
        if x > self.hang_above:
            time.sleep(self.hang_s)
        return {"value": x}


class ConstantAgent(Agent):
    """Proposes the space's default design every time (single-objective only): isolates the
    loop's own cost in benchmarks, and is a minimal agent for tests."""

    def __init__(self, problem: Problem, *, seed: int, batch_size: int = 64) -> None:
        super().__init__(problem, seed=seed)
        self.batch_size = batch_size
        self.design = problem.design_space.default()
        self.told = 0

    def _ask(self, n: int) -> list[Design]:
        return [dict(self.design) for _ in range(n)]

    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None:
        self.told += len(results)


class RandomActionsAgent(InteractiveAgent):
    """A minimal interactive agent: steps random actions of the env it is given until the loop's
    budget stops it, so tests see what the loop records of an agent that steps the env itself."""

    def run(self, env: gym.Env, budget: int) -> None:
        env.action_space.seed(self.seed)
        while True:
            env.reset()
            env.step(env.action_space.sample())


for _name, _cls in (("Null", NullEnv), ("Sleep", SleepEnv), ("Faulty", FaultyEnv)):
    _id = f"archgym-testing/{_name}-v0"
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=f"archgym.testing:{_cls.__name__}")


def install_into(target: str | os.PathLike[str], *sources: str | os.PathLike[str]) -> None:
    """pip-install the distributions at ``sources`` (no dependencies, no index, no build
    isolation) into the private directory ``target``: a plugin test then sees them, through real
    ``.dist-info`` entry points, in a child process with ``target`` on ``PYTHONPATH``."""
    import subprocess
    import sys

    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--target",
        str(target),
        *map(str, sources),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"pip install failed:\n{proc.stdout}\n{proc.stderr}")
