"""Space-filling samples of a design space, evaluated through the core loop (``archgym dataset
collect``), so a dataset has the loop's seeding, workers, timeouts, records and resume."""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from archgym.loop import resume, run
from archgym.records import RUN_META
from archgym.search import Agent, EvalResult, Problem
from archgym.spaces import Design, design_key

__all__ = ["METHODS", "SpaceFillingAgent", "collect", "space_filling"]

METHODS = ("sobol", "lhs")


class SpaceFillingAgent(Agent):
    """Scrambled Sobol or Latin-hypercube points of ``[0, 1]^d`` (``scipy.stats.qmc``), decoded
    by the design space (inactive conditional parameters dropped). Forbidden combinations and
    repeats of a design already asked are skipped. Deterministic given its seed, so a resumed
    collection replays exactly."""

    single_objective = True
    multi_objective = True

    def __init__(
        self, problem: Problem, *, seed: int, method: str = "sobol", block: int = 1024, batch_size: int = 16
    ) -> None:
        super().__init__(problem, seed=seed)
        from scipy.stats import qmc

        if method not in METHODS:
            raise ValueError(f"method: {method!r} is not legal; legal values: {list(METHODS)}")
        d = len(self.space)
        self.method = method
        self.batch_size = batch_size
        self.block = 1 << max(0, math.ceil(math.log2(max(block, 1))))  # Sobol balance: powers of 2
        self.sampler = (
            qmc.Sobol(d, scramble=True, rng=seed) if method == "sobol" else qmc.LatinHypercube(d, rng=seed)
        )
        self._pool = np.empty((0, d))
        self._seen: set[tuple[Any, ...]] = set()

    def _next_point(self) -> np.ndarray:
        if not len(self._pool):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._pool = self.sampler.random(self.block)
        point, self._pool = self._pool[0], self._pool[1:]
        return point

    def _ask(self, n: int) -> list[Design]:
        designs: list[Design] = []
        tries = 0
        while len(designs) < n:
            tries += 1
            design = self.space.from_unit(self._next_point(), check=False)
            if self.space.violated(design):
                if tries > 1000 * n:
                    raise RuntimeError("no legal design in 1000 space-filling points per design asked")
                continue
            key = design_key(design)
            if key in self._seen and tries <= 100 * n:  # a small discrete space may run out
                continue
            self._seen.add(key)
            designs.append(design)
        return designs

    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None:
        """A space-filling sample does not adapt to results."""


def space_filling(method: str = "sobol") -> Any:
    """An agent factory for :func:`archgym.loop.run`; its name (``sobol``/``lhs``) is recorded."""
    if method not in METHODS:
        raise ValueError(f"--method: {method!r} is not legal; legal values: {list(METHODS)}")

    def factory(problem: Problem, seed: int) -> SpaceFillingAgent:
        return SpaceFillingAgent(problem, seed=seed, method=method)

    factory.__name__ = method
    return factory


def collect(
    *,
    env: str,
    n: int,
    out: str | Path,
    seed: int = 0,
    workers: int = 1,
    env_kwargs: Mapping[str, Any] | None = None,
    method: str = "sobol",
    timeout: float | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Evaluate an ``n``-point space-filling sample of ``env`` with the core loop into ``out``.

    If ``out`` already holds this collection (killed part-way), it is resumed: the sample is
    replayed and only missing evaluations run.
    """
    out = Path(out)
    if (out / RUN_META).exists():
        try:
            meta = json.loads((out / RUN_META).read_text())
            had_env, had_n, had_agent = meta["env_id"], meta["config"]["budget"], meta["agent"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{out / RUN_META}: not an archgym run.json ({type(exc).__name__}: {exc})"
            ) from None
        env_id = env.partition(":")[2] if ":" in env else env
        if had_env != env_id or had_n != n or had_agent not in METHODS:
            raise ValueError(
                f"{out} holds a run of {had_agent} on {had_env} with n={had_n}; "
                f"resume it with the same --env/--n, or choose another --out"
            )
        started = time.perf_counter()
        # trust is never read from run.json: the caller's own env_kwargs (trust_model) give it
        trust = (env_kwargs or {}).get("trust_model") is True
        summary = resume(out, agent=space_filling(had_agent), progress=progress, trust_model=trust)
        summary["collect_wall_s"] = time.perf_counter() - started
        return summary
    return run(
        env=env,
        agent=space_filling(method),
        budget=n,
        seed=seed,
        out=out,
        env_kwargs=dict(env_kwargs or {}),
        workers=workers,
        timeout=timeout,
        progress=progress,
    )
