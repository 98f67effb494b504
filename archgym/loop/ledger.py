"""The run's accounts: evaluations and cost spent against the budget, and the best reward so
far — counted from every result the run holds, evaluated now or replayed from its journal."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym

from archgym.env import DesignEnv
from archgym.loop.config import RunConfig
from archgym.search import EvalResult, Problem

__all__ = ["Ledger"]


class Ledger:
    def __init__(self, config: RunConfig, env: gym.Env[Any, Any], problem: Problem) -> None:
        self.budget = config.budget
        self.cost_budget = config.cost_budget
        self._inner = env.unwrapped
        self._fidelity_cost = self._inner.fidelity_cost if isinstance(self._inner, DesignEnv) else None
        self._single_objective = problem.n_objectives == 1
        self.cost = 0.0
        self.best: float | None = None

    def account(self, result: EvalResult) -> bool:
        """Count ``result``; True when it is a new best (single-objective runs)."""
        self.cost += 1.0 if self._fidelity_cost is None else self._fidelity_cost(result.fidelity)
        if result.feasible and self._single_objective:
            reward = float(result.reward)  # type: ignore[arg-type]
            if math.isfinite(reward) and (self.best is None or reward > self.best):
                self.best = reward
                return True
        return False

    def cost_spent(self) -> bool:
        """True once ``cost_budget`` (full-fidelity evaluations) is spent."""
        return self.cost_budget is not None and self.cost >= self.cost_budget
