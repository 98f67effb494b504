"""What an agent may know about the env it searches, read off the env once per run."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from archgym.env import DesignEnv, codec_for, penalty_of, reward_space_of
from archgym.search.agent import Problem

__all__ = ["BudgetExhausted", "problem_of"]


class BudgetExhausted(Exception):
    """Raised by the recording env when an interactive agent steps past the budget; it ends the
    agent's :meth:`~archgym.search.InteractiveAgent.run` cleanly."""


def problem_of(env: gym.Env[Any, Any], env_id: str) -> Problem:
    """The :class:`Problem` of a (wrapped) env: design space, objectives, fidelity, penalty and,
    where the env declares them, reference point and known optimum."""
    inner = env.unwrapped
    space = reward_space_of(env)
    n_obj = 1 if space is None else int(space.shape[0])
    if isinstance(inner, DesignEnv):
        names = tuple(inner.objective.names) if n_obj > 1 else ("reward",)
        return Problem(
            env_id=env_id,
            design_space=inner.design_space,
            n_objectives=n_obj,
            objective_names=names,
            fidelity=inner.fidelity,
            reference_point=None if n_obj == 1 else inner.reference_point,
            metric_names=tuple(inner.metric_units),
            penalty=penalty_of(env),
            optimal_reward=inner.optimal_reward if inner.objective.n_objectives == 1 else None,
            outcome_constraints=inner.outcome_constraints,
            objective=inner.objective if inner.objective.n_objectives == n_obj else None,
        )
    names = ("reward",) if n_obj == 1 else tuple(f"r{i}" for i in range(n_obj))
    return Problem(
        env_id=env_id, design_space=codec_for(env).design_space, n_objectives=n_obj, objective_names=names
    )
