"""The run's accounts: evaluations and cost spent against the budget, the best reward so far,
and the highest fidelity each design reached (what a promotion continues from) — counted from
every result the run holds, evaluated now or replayed from its journal."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym

from archgym.env import CONTINUED_FROM, DesignEnv
from archgym.loop.config import RunConfig, evaluation_limit
from archgym.search import EvalResult, Problem
from archgym.spaces import Design, DesignKey, design_key

__all__ = ["Ledger"]


class Ledger:
    def __init__(self, config: RunConfig, env: gym.Env[Any, Any], problem: Problem) -> None:
        self.budget = evaluation_limit(config)
        self.cost_budget = config.cost_budget
        self._inner = env.unwrapped
        self._fidelity_cost = self._inner.fidelity_cost if isinstance(self._inner, DesignEnv) else None
        fidelity = getattr(self._inner, "fidelity", None) if self._fidelity_cost else None
        self._default = None if fidelity is None else fidelity.default
        self._single_objective = problem.n_objectives == 1
        self.continuable = bool(getattr(self._inner, "continuable", False))
        """Whether the env can continue an evaluation from a lower fidelity's checkpoint."""
        self.cost = 0.0
        self.best: float | None = None
        self.reached: dict[DesignKey, float | int] = {}
        """Design → the highest fidelity of its feasible evaluations (continuable envs)."""

    def cost_of(self, result: EvalResult) -> float:
        """The evaluation's cost in full-fidelity evaluations (fidelity v: v / the highest; resumed
        from a checkpoint at u: (v - u) / the highest)."""
        if self._fidelity_cost is None:
            return 1.0
        resumed = result.metrics.get(CONTINUED_FROM) if self.continuable else None
        if resumed is not None and not math.isfinite(resumed):
            resumed = None
        return self._fidelity_cost(result.fidelity, resumed)

    def continuation_of(self, design: Design, fidelity: float | int | None) -> float | int | None:
        """The fidelity an evaluation of ``design`` at ``fidelity`` resumes from: the highest one
        below it at which the run evaluated the design feasibly (None: train from scratch)."""
        if not self.continuable or fidelity is None:
            return None
        reached = self.reached.get(design_key(design))
        return reached if reached is not None and reached < fidelity else None

    def account(self, result: EvalResult) -> bool:
        """Count ``result``; True when it is a new best (single-objective runs)."""
        self.cost += self.cost_of(result)
        if self.continuable and result.feasible and result.fidelity is not None:
            key = design_key(result.design)
            if result.fidelity > self.reached.get(key, -math.inf):
                self.reached[key] = result.fidelity
        if result.feasible and self._single_objective:
            reward = float(result.reward)  # type: ignore[arg-type]
            if math.isfinite(reward) and (self.best is None or reward > self.best):
                self.best = reward
                return True
        return False

    def affordable(self, n: int) -> int:
        """At most ``n`` — fewer where the cost budget left can't pay for ``n`` evaluations at the
        env's default fidelity (what a design proposed without one is evaluated at); at least 1,
        as the budget is not spent yet. An agent proposing lower fidelities may be asked for
        fewer than it could afford; one proposing higher may overshoot by part of a batch."""
        if self.cost_budget is None:
            return n
        each = self.cost_of_fidelity(self._default)
        left = self.cost_budget - self.cost
        return max(1, min(n, math.ceil(left / each - 1e-9))) if each > 0 else n

    def cost_of_fidelity(self, value: float | None) -> float:
        return 1.0 if self._fidelity_cost is None else self._fidelity_cost(value)

    def cost_spent(self) -> bool:
        """True once ``cost_budget`` (full-fidelity evaluations) is spent."""
        return self.cost_budget is not None and self.cost >= self.cost_budget
