"""One evaluation, the same in the loop's process, a worker process or a cluster node.

An :class:`EnvRecipe` is a picklable description of the env (its Gymnasium spec, kwargs and
wrappers), so workers build their own env instance and nothing mutable is shared.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import EnvSpec

from archgym.env import ActionCodec, ScalarizeReward, codec_for, env_id_guesses, penalty_of
from archgym.execution.scratch import EvaluationDirectory
from archgym.records import result_from_step
from archgym.search import EvalResult
from archgym.spaces import Design, Reward

__all__ = ["EnvRecipe", "Task", "evaluate_task", "failed_result", "resolve_spec"]


TRUST_MODULES_ENV = "ARCHGYM_TRUST_MODULES"
"""Set to ``1`` to let files (run.json, campaign files) name any module to import in ``module:id``."""


def resolve_spec(env_id: str, *, source: str | None = None) -> EnvSpec:
    """The spec of ``env_id``; ``"module:id"`` imports ``module`` first (Gymnasium's syntax).

    ``source``: the file ``env_id`` was read from (a ``run.json``, a campaign file). A file never
    decides which code runs: its ``module:`` part is imported only when the module is archgym's or
    a registered plugin's, is imported already, or the caller trusts modules
    (``ARCHGYM_TRUST_MODULES=1``); else a ValueError says how to proceed."""
    if ":" in env_id:
        module, _, env_id = env_id.partition(":")
        if source is not None:
            _check_module_from_file(module, source)
        try:
            importlib.import_module(module)
        except Exception as exc:  # not installed, or broken: one line naming the module
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(
                f"--env: can't import module {module!r} named in {module}:{env_id} ({reason})"
            ) from None
    try:
        return gym.spec(env_id)
    except gym.error.Error as exc:
        known = sorted(k for k in gym.registry if "/" in k)
        guesses = env_id_guesses(env_id, known)
        hint = (
            f" (did you mean {' or '.join(map(repr, guesses))}?)"
            if guesses and "mean" not in str(exc)
            else ""
        )
        raise ValueError(f"--env: {exc}{hint}; registered namespaced envs: {known}") from None


def _check_module_from_file(module: str, source: str) -> None:
    from importlib.metadata import entry_points

    top = module.split(".")[0]
    plugins = {ep.value.split(".")[0].split(":")[0] for ep in entry_points(group="archgym")}
    if (
        module in sys.modules
        or top == "archgym"
        or top in plugins
        or os.environ.get(TRUST_MODULES_ENV) == "1"
    ):
        return
    raise ValueError(
        f"{source}: env '{module}:…' would import module {module!r}, named in a file; a file never "
        f"decides which code runs: import {module!r} yourself before resuming or running it, or set "
        f"{TRUST_MODULES_ENV}=1 if you trust the file"
    )


@dataclass(frozen=True)
class EnvRecipe:
    """Everything needed to build the run's env anywhere: spec, kwargs, scalarization."""

    spec: EnvSpec
    kwargs: dict[str, Any] = field(default_factory=dict)
    scalarize: dict[str, Any] | None = None

    def make(self) -> gym.Env[Any, Any]:
        env = gym.make(self.spec, **self.kwargs)
        if self.scalarize is not None:
            env = ScalarizeReward(env, **self.scalarize)
        return env


@dataclass(frozen=True)
class Task:
    """One evaluation to run: ``index`` is its position in the run (it also seeds the env).

    ``checkpoints`` (an absolute folder; envs with a continuable fidelity only) is where the
    evaluation keeps its checkpoint, and ``continue_from`` the lower fidelity whose checkpoint of
    the same design it resumes (see :mod:`archgym.env.checkpoints`)."""

    index: int
    design: Design
    fidelity: float | int | None
    seed: int | None  # None: the agent drove the env itself (interactive agents)
    continue_from: float | int | None = None
    checkpoints: str | None = None


def eval_seed(run_seed: int, index: int) -> int:
    """The env seed of evaluation ``index``: a function of the run seed and the index only,
    so it doesn't matter which worker evaluates it or whether the run was resumed."""
    return (run_seed * 1_000_003 + index) % 2**32


def failed_result(task: Task, error: str, penalty: Reward, eval_time_s: float) -> EvalResult:
    return EvalResult(
        design=task.design,
        reward=penalty,
        metrics={},
        feasible=False,
        eval_time_s=eval_time_s,
        error=error,
        fidelity=task.fidelity,
    )


def evaluate_task(env: gym.Env[Any, Any], codec: ActionCodec, task: Task) -> EvalResult:
    """Reset with the task's seed (and fidelity), step once, and package the result.

    Any exception becomes an infeasible result: the run goes on. ``SystemExit`` too (a plain
    env's simulator calling ``sys.exit``); only a real Ctrl-C (``KeyboardInterrupt``) stops the run.
    """
    start = time.perf_counter()
    try:
        options: dict[str, Any] = {} if task.fidelity is None else {"fidelity": task.fidelity}
        if task.checkpoints is not None:
            options["checkpoints"] = task.checkpoints
        if task.continue_from is not None:
            options["continue_from"] = task.continue_from
        env.reset(seed=task.seed, options=options or None)
        _, reward, _, _, info = env.step(codec.to_action(task.design))
    except (Exception, SystemExit) as exc:
        return failed_result(
            task, f"{type(exc).__name__}: {exc}", penalty_of(env), time.perf_counter() - start
        )
    return result_from_step(
        task.design, reward, info, fidelity=task.fidelity, eval_time_s=time.perf_counter() - start
    )


class BoundEnv:
    """An env instance with its codec, built once per process, and the private directory its
    evaluations run in (their CWD and temporary root; see :mod:`archgym.execution.scratch`).

    Args:
        env: the env, built in the caller's CWD (so relative paths in its arguments resolve
            there); only evaluations run in the private directory.
        scratch_root: where the private directory is made (default: the temporary directory).
    """

    def __init__(self, env: gym.Env[Any, Any], *, scratch_root: str | Path | None = None) -> None:
        self.env = env
        self.codec = codec_for(env)
        self.directory = EvaluationDirectory(scratch_root)

    @classmethod
    def from_recipe(cls, recipe: EnvRecipe, *, scratch_root: str | Path | None = None) -> BoundEnv:
        return cls(recipe.make(), scratch_root=scratch_root)

    def __call__(self, task: Task) -> EvalResult:
        self.directory.enter()
        try:
            return evaluate_task(self.env, self.codec, task)
        finally:
            self.directory.leave()

    def close(self) -> None:
        """Remove the private directory (the env itself is the caller's to close)."""
        self.directory.close()
