"""One evaluation, the same in the loop's process, a worker process or a cluster node.

An :class:`EnvRecipe` is a picklable description of the env (its Gymnasium spec, kwargs and
wrappers), so workers build their own env instance and nothing mutable is shared.
"""

from __future__ import annotations

import importlib
import math
import time
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

from archgym.agent import EvalResult
from archgym.derive import ActionCodec, codec_for
from archgym.env import DesignEnv
from archgym.objectives import Reward
from archgym.spaces import Design
from archgym.wrappers import ScalarizeReward, reward_space_of

__all__ = ["EnvRecipe", "Task", "evaluate_task", "failed_result", "resolve_spec"]


def resolve_spec(env_id: str) -> EnvSpec:
    """The spec of ``env_id``; ``"module:id"`` imports ``module`` first (Gymnasium's syntax)."""
    if ":" in env_id:
        module, _, env_id = env_id.partition(":")
        importlib.import_module(module)
    try:
        return gym.spec(env_id)
    except gym.error.Error as exc:
        known = sorted(k for k in gym.registry if "/" in k)
        raise ValueError(f"--env: {exc}; registered namespaced envs: {known}") from None


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
    """One evaluation to run: ``index`` is its position in the run (it also seeds the env)."""

    index: int
    design: Design
    fidelity: float | int | None
    seed: int | None  # None: the agent drove the env itself (interactive agents)


def eval_seed(run_seed: int, index: int) -> int:
    """The env seed of evaluation ``index``: a function of the run seed and the index only,
    so it doesn't matter which worker evaluates it or whether the run was resumed."""
    return (run_seed * 1_000_003 + index) % 2**32


def penalty_of(env: gym.Env[Any, Any]) -> Reward:
    """The reward of an evaluation that could not run (timeout, crashed worker)."""
    inner = env.unwrapped
    if isinstance(env, ScalarizeReward) and isinstance(inner, DesignEnv):
        return env.scalarize(np.asarray(inner.objective.penalty))
    if isinstance(inner, DesignEnv):
        penalty = inner.objective.penalty
        return penalty.copy() if isinstance(penalty, np.ndarray) else float(penalty)
    space = reward_space_of(env)
    return math.nan if space is None else np.full(space.shape, math.nan)


def failed_result(task: Task, error: str, penalty: Reward, eval_time_s: float) -> EvalResult:
    return EvalResult(
        design=task.design, reward=penalty, metrics={}, feasible=False,
        eval_time_s=eval_time_s, error=error, fidelity=task.fidelity,
    )


def evaluate_task(env: gym.Env[Any, Any], codec: ActionCodec, task: Task) -> EvalResult:
    """Reset with the task's seed (and fidelity), step once, and package the result.

    Any exception becomes an infeasible result: the run goes on.
    """
    start = time.perf_counter()
    try:
        options = None if task.fidelity is None else {"fidelity": task.fidelity}
        env.reset(seed=task.seed, options=options)
        _, reward, _, _, info = env.step(codec.to_action(task.design))
    except Exception as exc:
        return failed_result(task, f"{type(exc).__name__}: {exc}", penalty_of(env),
                             time.perf_counter() - start)
    reward = reward.astype(np.float64, copy=True) if isinstance(reward, np.ndarray) else float(reward)
    return EvalResult(
        design=task.design,
        reward=reward,
        metrics=dict(info.get("metrics", {})),
        feasible=bool(info.get("feasible", True)),
        eval_time_s=float(info.get("eval_time_s", time.perf_counter() - start)),
        error=info.get("error"),
        fidelity=info.get("fidelity", task.fidelity),
        backend=str(info.get("backend", "simulator")),
    )


class BoundEnv:
    """An env instance with its codec, built once per process."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        self.env = env
        self.codec = codec_for(env)

    @classmethod
    def from_recipe(cls, recipe: EnvRecipe) -> BoundEnv:
        return cls(recipe.make())

    def __call__(self, task: Task) -> EvalResult:
        return evaluate_task(self.env, self.codec, task)
