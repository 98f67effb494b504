"""Objective specifications: how metrics (raw units) become a higher-is-better reward.

The reward is computed *from metrics only*, by code the env declares once. A proxy model or a
lookup table that predicts the same metrics therefore gets exactly the same reward, and the sign
convention (higher is better) never flips between envs.

Three kinds:

* :class:`Objectives` with one :class:`Objective` — a scalar reward,
* :class:`Objectives` with several — a ``np.ndarray`` reward and a ``reward_space``
  (MO-Gymnasium convention),
* :class:`TargetSpec` — ArchGym-style target specification: the reward is minus the summed
  relative violation of each target, so 0.0 means "every target met".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from gymnasium import spaces

Reward = float | np.ndarray

__all__ = ["Objective", "ObjectiveSpec", "Objectives", "Reward", "Target", "TargetSpec"]


@dataclass(frozen=True)
class Objective:
    """One metric to minimise or maximise. ``bounds`` (in reward units) feed ``reward_space``."""

    metric: str
    direction: Literal["min", "max"] = "max"
    bounds: tuple[float, float] = (-math.inf, math.inf)

    def __post_init__(self) -> None:
        if self.direction not in ("min", "max"):
            raise ValueError(
                f"Objective {self.metric!r}: direction must be 'min' or 'max', got {self.direction!r}"
            )

    @property
    def name(self) -> str:
        """The reward component's name: its metric's (the component is the metric negated
        where minimised, so every reward column stays higher-is-better)."""
        return self.metric

    def reward(self, metrics: Mapping[str, float]) -> float:
        value = float(metrics[self.metric])
        return value if self.direction == "max" else -value


class ObjectiveSpec:
    """Interface shared by all objective kinds."""

    penalty: Reward
    """Reward of an infeasible evaluation (documented per env)."""

    @property
    def n_objectives(self) -> int:
        raise NotImplementedError

    @property
    def names(self) -> list[str]:
        raise NotImplementedError

    @property
    def metrics(self) -> list[str]:
        """Metrics the reward is computed from."""
        raise NotImplementedError

    def reward(self, metrics: Mapping[str, float]) -> Reward:
        raise NotImplementedError

    @property
    def reward_space(self) -> spaces.Box | None:
        return None

    def describe(self) -> str:
        raise NotImplementedError


class Objectives(ObjectiveSpec):
    """One objective (scalar reward) or several (vector reward).

    Args:
        objectives: the objectives, in reward-vector order.
        penalty: reward of an infeasible evaluation; a scalar, or one value per objective.
    """

    def __init__(self, objectives: Sequence[Objective], *, penalty: float | Sequence[float]):
        self.objectives = tuple(objectives)
        if not self.objectives:
            raise ValueError("Objectives needs at least one Objective")
        if len(self.objectives) == 1:
            if not np.isscalar(penalty):
                raise ValueError(f"single-objective penalty must be a scalar, got {penalty!r}")
            self.penalty: Reward = float(penalty)  # type: ignore[arg-type]
        else:
            pen = np.broadcast_to(np.asarray(penalty, dtype=np.float64), (len(self.objectives),))
            self.penalty = pen.copy()

    @property
    def n_objectives(self) -> int:
        return len(self.objectives)

    @property
    def names(self) -> list[str]:
        return [o.name for o in self.objectives]

    @property
    def metrics(self) -> list[str]:
        return [o.metric for o in self.objectives]

    def reward(self, metrics: Mapping[str, float]) -> Reward:
        if len(self.objectives) == 1:
            return self.objectives[0].reward(metrics)
        return np.array([o.reward(metrics) for o in self.objectives], dtype=np.float64)

    @property
    def reward_space(self) -> spaces.Box | None:
        if len(self.objectives) == 1:
            return None
        # each objective's bounds, widened to hold that objective's penalty
        low = np.minimum([o.bounds[0] for o in self.objectives], self.penalty)
        high = np.maximum([o.bounds[1] for o in self.objectives], self.penalty)
        return spaces.Box(low, high, dtype=np.float64)

    def describe(self) -> str:
        return ", ".join(f"{o.direction} {o.metric}" for o in self.objectives)


@dataclass(frozen=True)
class Target:
    """A target on one metric, e.g. ``Target("latency", "<=", 2e6)``."""

    metric: str
    op: Literal["<=", ">="]
    value: float

    def __post_init__(self) -> None:
        if self.op not in ("<=", ">="):
            raise ValueError(f"Target {self.metric!r}: op must be '<=' or '>=', got {self.op!r}")
        if self.value == 0:
            raise ValueError(f"Target {self.metric!r}: value must be non-zero (violation is relative)")

    def violation(self, metrics: Mapping[str, float]) -> float:
        excess = float(metrics[self.metric]) - self.value
        if self.op == ">=":
            excess = -excess
        return max(excess, 0.0) / abs(self.value)


class TargetSpec(ObjectiveSpec):
    """ArchGym-style target specification: reward = -sum of relative target violations.

    0.0 (the maximum) means every target is met, so "did the agent meet the spec?" is
    ``reward == 0``.
    """

    def __init__(self, targets: Sequence[Target], *, penalty: float):
        self.targets = tuple(targets)
        if not self.targets:
            raise ValueError("TargetSpec needs at least one Target")
        self.penalty = float(penalty)

    @property
    def n_objectives(self) -> int:
        return 1

    @property
    def names(self) -> list[str]:
        return ["-violation"]

    @property
    def metrics(self) -> list[str]:
        return [t.metric for t in self.targets]

    def reward(self, metrics: Mapping[str, float]) -> float:
        return -sum(t.violation(metrics) for t in self.targets)

    def describe(self) -> str:
        return "targets " + ", ".join(f"{t.metric} {t.op} {t.value:g}" for t in self.targets)
