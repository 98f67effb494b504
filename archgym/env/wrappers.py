"""Wrappers that compose with any archgym (or plain Gymnasium) env.

* :class:`ScalarizeReward` — a multi-objective env for single-objective agents (weighted sum or
  Chebyshev), keeping the vector in ``info["reward_vector"]``.
* :class:`FlatActions` — the ``MultiDiscrete``/``Box`` action view stable-baselines3 needs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from archgym.env.base import DesignEnv
from archgym.env.codec import codec_for

__all__ = ["FlatActions", "ScalarizeReward", "parse_scalarize", "penalty_of", "reward_space_of"]


def reward_space_of(env: gym.Env[Any, Any]) -> gym.spaces.Box | None:
    """The env's ``reward_space`` (MO-Gymnasium convention) or None for scalar rewards."""
    try:
        return env.get_wrapper_attr("reward_space")
    except AttributeError:
        return None


class ScalarizeReward(gym.Wrapper[Any, Any, Any, Any]):
    """Turn a vector reward into a scalar, for single-objective agents.

    Args:
        weights: one non-negative weight per objective (normalised to sum 1).
        method: ``"weighted"`` (w·r) or ``"chebyshev"`` (``-max_i w_i |z_i - r_i|`` around the
            utopia point ``z``).
        utopia: the utopia point in reward units (Chebyshev only); defaults to the finite upper
            bounds of ``reward_space``.
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        weights: Sequence[float],
        *,
        method: Literal["weighted", "chebyshev"] = "weighted",
        utopia: Sequence[float] | None = None,
    ) -> None:
        super().__init__(env)
        space = reward_space_of(env)
        if space is None:
            raise ValueError("ScalarizeReward needs a multi-objective env (one with a reward_space)")
        n = space.shape[0]
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (n,) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(
                f"weights: need {n} non-negative numbers with a positive sum, got {list(weights)}"
            )
        if method not in ("weighted", "chebyshev"):
            raise ValueError(f"method: {method!r} is not legal; legal values: 'weighted', 'chebyshev'")
        self.weights = w / w.sum()
        self.method = method
        if method == "chebyshev":
            z = np.asarray(space.high if utopia is None else utopia, dtype=np.float64)
            if z.shape != (n,) or not np.all(np.isfinite(z)):
                raise ValueError(
                    f"utopia: Chebyshev needs {n} finite values (the env's reward_space has no "
                    "finite upper bounds to default to)"
                )
            self.utopia: np.ndarray | None = z
        else:
            self.utopia = None
        self.reward_space = None  # the wrapped env is single-objective

    def scalarize(self, reward: np.ndarray) -> float:
        r = np.asarray(reward, dtype=np.float64)
        if self.utopia is None:
            return float(self.weights @ r)
        return float(-np.max(self.weights * np.abs(self.utopia - r)))

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["reward_vector"] = np.asarray(reward, dtype=np.float64).copy()
        return obs, self.scalarize(reward), terminated, truncated, info


def penalty_of(env: gym.Env[Any, Any]) -> Any:
    """The reward of an evaluation that could not run (timeout, crashed worker), as the wrapped
    env would have given it: the declared penalty, scalarized where the env is; NaN for plain
    envs, which declare none."""
    inner = env.unwrapped
    if isinstance(env, ScalarizeReward) and isinstance(inner, DesignEnv):
        return env.scalarize(np.asarray(inner.objective.penalty))
    if isinstance(inner, DesignEnv):
        penalty = inner.objective.penalty
        return penalty.copy() if isinstance(penalty, np.ndarray) else float(penalty)
    space = reward_space_of(env)
    return math.nan if space is None else np.full(space.shape, math.nan)


def parse_scalarize(text: str) -> dict[str, Any]:
    """Parse ``"weighted:0.5,0.5"`` or ``"chebyshev:0.5,0.5"`` (the CLI's ``--scalarize``)."""
    method, _, rest = text.partition(":")
    if method not in ("weighted", "chebyshev") or not rest:
        raise ValueError(f"--scalarize: {text!r} is not legal; use 'weighted:W1,W2,…' or 'chebyshev:W1,W2,…'")
    try:
        weights = [float(v) for v in rest.split(",")]
    except ValueError:
        raise ValueError(f"--scalarize: weights must be numbers, got {rest!r}") from None
    if not all(math.isfinite(w) and w >= 0 for w in weights) or not any(weights):
        raise ValueError(f"--scalarize: weights must be finite numbers >= 0, not all zero; got {rest!r}")
    return {"method": method, "weights": weights}


class FlatActions(gym.ActionWrapper[Any, np.ndarray, Any]):
    """Expose the design space as ``MultiDiscrete`` (all-discrete spaces) or ``Box(-1, 1)``,
    the flat action spaces stable-baselines3 supports. Reals pass through float32."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self.codec = codec_for(env)
        self.action_space = self.codec.design_space.flat_space()

    def action(self, action: np.ndarray) -> Any:
        # Forbidden combinations go through: the env records them as infeasible.
        design = self.codec.design_space.from_flat(action, check=False)
        return self.codec.to_action(design, check=False)
