"""ScalarizeReward, parse_scalarize and FlatActions."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from archgym import (
    Categorical,
    Constraint,
    DesignEnv,
    DesignSpace,
    EvalContext,
    FlatActions,
    Integer,
    Objective,
    Objectives,
    Ordinal,
    Real,
    ScalarizeReward,
)
from archgym.env import parse_scalarize, reward_space_of


class TwoObjectives(DesignEnv):
    """f1 = x, f2 = 1 - x, both minimised: reward (-x, x - 1). x > 0.9 fails."""

    def __init__(self, bounds: tuple[float, float] = (-2.0, 0.0)) -> None:
        super().__init__(
            design_space=DesignSpace([Real("x", 0.0, 1.0)]),
            metrics={"f1": "1", "f2": "1"},
            objective=Objectives(
                [Objective("f1", "min", bounds), Objective("f2", "min", bounds)], penalty=[-2.0, -3.0]
            ),
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        if design["x"] > 0.9:
            raise RuntimeError("diverged")
        return {"f1": design["x"], "f2": 1.0 - design["x"]}


class OneObjective(DesignEnv):
    def __init__(self) -> None:
        super().__init__(
            design_space=DesignSpace([Real("x", 0.0, 1.0)]),
            metrics={"f": "1"},
            objective=Objectives([Objective("f", "min")], penalty=-2.0),
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        return {"f": design["x"]}


def _step(env: gym.Env[Any, Any], x: float) -> tuple[float, dict[str, Any]]:
    env.reset(seed=0)
    _, reward, _, _, info = env.step({"x": np.array([x])})
    return reward, info


def test_weighted_sum() -> None:
    env = ScalarizeReward(TwoObjectives(), [1.0, 3.0])  # normalised to (0.25, 0.75)
    reward, info = _step(env, 0.2)
    # r = (-0.2, -0.8): 0.25 * -0.2 + 0.75 * -0.8
    assert reward == pytest.approx(-0.65)
    assert isinstance(reward, float)
    assert info["reward_vector"].tolist() == pytest.approx([-0.2, -0.8])
    assert env.weights.tolist() == pytest.approx([0.25, 0.75])


def test_chebyshev_around_the_default_utopia() -> None:
    env = ScalarizeReward(TwoObjectives(), [1.0, 3.0], method="chebyshev")
    reward, _ = _step(env, 0.2)
    # utopia = reward_space.high = (0, 0): -max(0.25 * 0.2, 0.75 * 0.8)
    assert reward == pytest.approx(-0.6)
    reward, _ = _step(env, 0.9)
    # r = (-0.9, -0.1): -max(0.25 * 0.9, 0.75 * 0.1)
    assert reward == pytest.approx(-0.225)


def test_chebyshev_around_a_given_utopia() -> None:
    env = ScalarizeReward(TwoObjectives(), [1.0, 3.0], method="chebyshev", utopia=[-0.1, -0.1])
    reward, _ = _step(env, 0.2)
    # -max(0.25 * |-0.1 + 0.2|, 0.75 * |-0.1 + 0.8|)
    assert reward == pytest.approx(-0.525)


def test_scalarized_penalty() -> None:
    env = ScalarizeReward(TwoObjectives(), [1.0, 1.0])
    reward, info = _step(env, 0.95)
    assert info["feasible"] is False
    assert info["reward_vector"].tolist() == [-2.0, -3.0]
    assert reward == pytest.approx(-2.5)


def test_scalarized_env_is_single_objective() -> None:
    inner = TwoObjectives()
    assert reward_space_of(inner) is not None
    env = ScalarizeReward(inner, [0.5, 0.5])
    assert reward_space_of(env) is None
    assert reward_space_of(OneObjective()) is None


def test_scalarize_needs_a_multi_objective_env() -> None:
    with pytest.raises(ValueError, match="multi-objective"):
        ScalarizeReward(OneObjective(), [1.0])


@pytest.mark.parametrize("weights", [[1.0], [1.0, 1.0, 1.0], [-1.0, 2.0], [0.0, 0.0]])
def test_bad_weights_are_rejected(weights: list[float]) -> None:
    with pytest.raises(ValueError, match="weights"):
        ScalarizeReward(TwoObjectives(), weights)


def test_bad_method_is_rejected() -> None:
    with pytest.raises(ValueError, match="'sum'"):
        ScalarizeReward(TwoObjectives(), [1.0, 1.0], method="sum")  # type: ignore[arg-type]


def test_chebyshev_needs_a_finite_utopia() -> None:
    unbounded = TwoObjectives(bounds=(-math.inf, math.inf))
    with pytest.raises(ValueError, match="utopia"):
        ScalarizeReward(unbounded, [1.0, 1.0], method="chebyshev")
    with pytest.raises(ValueError, match="utopia"):
        ScalarizeReward(TwoObjectives(), [1.0, 1.0], method="chebyshev", utopia=[0.0, math.nan])
    with pytest.raises(ValueError, match="utopia"):
        ScalarizeReward(TwoObjectives(), [1.0, 1.0], method="chebyshev", utopia=[0.0])
    # an explicit utopia makes it work
    env = ScalarizeReward(unbounded, [1.0, 1.0], method="chebyshev", utopia=[0.0, 0.0])
    assert _step(env, 0.5)[0] == pytest.approx(-0.25)


def test_parse_scalarize() -> None:
    assert parse_scalarize("weighted:0.5,0.5") == {"method": "weighted", "weights": [0.5, 0.5]}
    assert parse_scalarize("chebyshev:1,2,3") == {"method": "chebyshev", "weights": [1.0, 2.0, 3.0]}


@pytest.mark.parametrize("text", ["weighted", "weighted:", "sum:1,2", "chebyshev:a,b", ":1,2"])
def test_parse_scalarize_rejects_bad_text(text: str) -> None:
    with pytest.raises(ValueError, match="--scalarize"):
        parse_scalarize(text)


# --- FlatActions ---------------------------------------------------------------------------------


class Discrete3(DesignEnv):
    def __init__(self) -> None:
        super().__init__(
            design_space=DesignSpace(
                [
                    Integer("n", 3, 7),
                    Categorical("kind", ["a", "b", "c"]),
                    Ordinal("width", [1, 2, 4, 8]),
                    Integer("m", 1, 1000, log=True),
                ],
                constraints=[Constraint("n * width <= 28", lambda d: d["n"] * d["width"] <= 28)],
            ),
            metrics={"f": "1"},
            objective=Objectives([Objective("f", "max")], penalty=-1.0),
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        return {"f": float(design["n"] * design["width"])}


class Mixed(DesignEnv):
    def __init__(self) -> None:
        super().__init__(
            design_space=DesignSpace(
                [Real("x", -4.0, 4.0), Categorical("kind", ["a", "b", "c"]), Integer("n", 0, 10)]
            ),
            metrics={"f": "1"},
            objective=Objectives([Objective("f", "max")], penalty=-100.0),
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        return {"f": design["x"] + design["n"]}


def test_flat_actions_multidiscrete_for_discrete_spaces() -> None:
    env = FlatActions(Discrete3())
    assert isinstance(env.action_space, spaces.MultiDiscrete)
    assert env.action_space.nvec.tolist() == [5, 3, 4, 1000]
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.array([2, 1, 3, 41]))
    assert info["design"] == {"n": 5, "kind": "b", "width": 8, "m": 42}
    assert info["feasible"] is False  # 5 * 8 > 28: recorded, not raised
    assert "n * width <= 28" in info["error"]
    assert reward == -1.0
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.array([0, 2, 2, 999]))
    assert info["design"] == {"n": 3, "kind": "c", "width": 4, "m": 1000}
    assert reward == 12.0


def test_flat_actions_box_for_mixed_spaces() -> None:
    env = FlatActions(Mixed())
    assert isinstance(env.action_space, spaces.Box)
    assert env.action_space.shape == (3,)
    assert env.action_space.low.tolist() == [-1.0] * 3 and env.action_space.high.tolist() == [1.0] * 3
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.array([1.0, -1.0, 1.0], dtype=np.float32))
    assert info["design"] == {"x": 4.0, "kind": "a", "n": 10}
    assert reward == 14.0
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.array([0.0, 0.0, -1.0], dtype=np.float32))
    assert info["design"] == {"x": 0.0, "kind": "b", "n": 0}


def test_flat_actions_sampled_actions_evaluate_their_decoded_design() -> None:
    for inner in (Discrete3(), Mixed()):
        env = FlatActions(inner)
        env.action_space.seed(1)
        space = inner.design_space
        for _ in range(20):
            action = env.action_space.sample()
            env.reset(seed=0)
            _, _, _, _, info = env.step(action)
            assert info["design"] == space.from_flat(action, check=False)
            assert space.validate(info["design"], check=False) == info["design"]


class PlainMultiDiscrete(gym.Env[np.ndarray, np.ndarray]):
    """A plain gymnasium env: reward = sum of the chosen values."""

    def __init__(self) -> None:
        self.action_space = spaces.MultiDiscrete([3, 4], start=[1, -2])
        self.observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.last: np.ndarray | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action: np.ndarray) -> Any:
        assert self.action_space.contains(action)
        self.last = action
        return np.zeros(1, np.float32), float(np.sum(action)), True, False, {}


def test_flat_actions_on_a_plain_env_uses_the_derived_space() -> None:
    inner = PlainMultiDiscrete()
    env = FlatActions(inner)
    assert isinstance(env.action_space, spaces.MultiDiscrete)
    assert env.action_space.nvec.tolist() == [3, 4]
    env.reset(seed=0)
    _, reward, _, _, _ = env.step(np.array([2, 0]))
    assert inner.last is not None and inner.last.tolist() == [3, -2]
    assert reward == 1.0


def test_flat_actions_composes_with_scalarize() -> None:
    env = FlatActions(ScalarizeReward(TwoObjectives(), [1.0, 1.0]))
    assert isinstance(env.action_space, spaces.Box)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.array([0.0], dtype=np.float32))
    assert info["design"] == {"x": 0.5}
    assert reward == pytest.approx(-0.5)
