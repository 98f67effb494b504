"""A small 0/1 knapsack, as a plain Gymnasium env and as an archgym DesignEnv.

The instance (item weights and values, capacity) is fixed by ``instance_seed`` when the env is
built, not drawn on ``reset``: an optimiser compares designs, so every evaluation must score
against the same instance. ``reset(seed=...)`` only seeds ``np_random``, which these envs never
use, so every evaluation is deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

import archgym


def make_instance(n_items: int, instance_seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer weights and values in 1..20; capacity is half the total weight."""
    if n_items < 1:
        raise ValueError(f"n_items must be >= 1, got {n_items}")
    rng = np.random.default_rng(instance_seed)
    weights = rng.integers(1, 21, size=n_items)
    values = rng.integers(1, 21, size=n_items)
    return weights, values, int(weights.sum()) // 2


class Knapsack(gym.Env[np.ndarray, np.ndarray]):
    """Choose a subset of items: ``action[i] == 1`` packs item ``i``.

    One ``step`` is one evaluation and ends the episode (``terminated=True``).

    Reward: the total value if the total weight fits the capacity, otherwise minus the excess
    weight. Every packing that fits therefore beats every packing that does not, and among
    overweight packings the less overweight is better — a gradient a learning agent can follow.

    Observation: the instance itself, ``[weights, values, capacity]``, so a policy could in
    principle generalise across instances. ``info`` has ``weight``, ``value`` and ``fits``.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 - Gymnasium's convention

    def __init__(self, n_items: int = 8, instance_seed: int = 0) -> None:
        self.weights, self.values, self.capacity = make_instance(n_items, instance_seed)
        self.action_space = spaces.MultiBinary(n_items)
        high = float(max(self.weights.sum(), self.values.sum()))
        self.observation_space = spaces.Box(0.0, high, shape=(2 * n_items + 1,), dtype=np.float32)
        self._obs = np.concatenate([self.weights, self.values, [self.capacity]]).astype(np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        return self._obs.copy(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self.action_space.contains(action):
            raise ValueError(f"action must be a 0/1 vector of length {self.action_space.n}, got {action!r}")
        packed = np.asarray(action, dtype=bool)
        weight = int(self.weights[packed].sum())
        value = int(self.values[packed].sum())
        fits = weight <= self.capacity
        reward = float(value) if fits else float(self.capacity - weight)
        info = {"weight": weight, "value": value, "fits": fits}
        return self._obs.copy(), reward, True, False, info


class KnapsackDesign(archgym.DesignEnv):
    """The same knapsack declared as a DesignEnv.

    Parameters ``item0`` … ``item{n-1}`` (integers 0/1), metrics ``value`` and ``weight``,
    objective: maximise ``value``. A packing over capacity is an infeasible evaluation (its
    metrics are still recorded) with the penalty reward -1, below every feasible reward (>= 0).
    """

    def __init__(self, n_items: int = 8, instance_seed: int = 0) -> None:
        self.weights, self.values, self.capacity = make_instance(n_items, instance_seed)
        super().__init__(
            design_space=archgym.DesignSpace([archgym.Integer(f"item{i}", 0, 1) for i in range(n_items)]),
            metrics={"value": "1", "weight": "1"},
            objective=archgym.Objectives([archgym.Objective("value", "max")], penalty=-1.0),
        )

    def evaluate(self, design: Mapping[str, Any], context: archgym.EvalContext) -> dict[str, float]:
        packed = np.array([design[f"item{i}"] for i in range(len(self.weights))], dtype=bool)
        metrics = {"value": float(self.values[packed].sum()), "weight": float(self.weights[packed].sum())}
        if metrics["weight"] > self.capacity:
            raise archgym.InfeasibleDesign(
                f"weight {metrics['weight']:g} exceeds capacity {self.capacity}", metrics
            )
        return metrics
