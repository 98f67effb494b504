"""Objectives: reward signs, vector rewards and target specifications."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from archgym import (
    DesignEnv,
    DesignSpace,
    EvalContext,
    Objective,
    Objectives,
    Real,
    Target,
    TargetSpec,
)


def test_min_objective_negates_and_max_keeps_the_metric() -> None:
    metrics = {"latency": 3.0, "throughput": 7.5}
    assert Objective("latency", "min").reward(metrics) == -3.0
    assert Objective("throughput", "max").reward(metrics) == 7.5
    assert Objective("throughput").reward(metrics) == 7.5  # max by default
    assert Objective("latency", "min").name == "latency"
    assert Objective("throughput", "max").name == "throughput"


@pytest.mark.parametrize("direction", ["minimize", "MAX", "", None])
def test_bad_direction_is_rejected(direction: Any) -> None:
    with pytest.raises(ValueError, match="'latency'"):
        Objective("latency", direction)


def test_single_objective_gives_a_scalar_reward() -> None:
    spec = Objectives([Objective("latency", "min")], penalty=-100)
    reward = spec.reward({"latency": 2.5, "unused": 1.0})
    assert isinstance(reward, float) and reward == -2.5
    assert spec.n_objectives == 1
    assert spec.reward_space is None
    assert spec.penalty == -100.0 and isinstance(spec.penalty, float)
    assert spec.metrics == ["latency"]
    with pytest.raises(ValueError, match="scalar"):
        Objectives([Objective("latency", "min")], penalty=[-1.0, -2.0])


def test_multi_objective_vector_reward_and_reward_space() -> None:
    spec = Objectives(
        [Objective("latency", "min", (-10.0, 0.0)), Objective("throughput", "max", (0.0, 5.0))],
        penalty=[-20.0, -1.0],
    )
    reward = spec.reward({"latency": 4.0, "throughput": 2.0})
    assert isinstance(reward, np.ndarray)
    assert reward.tolist() == [-4.0, 2.0]
    assert spec.n_objectives == 2
    assert spec.names == ["latency", "throughput"]
    space = spec.reward_space
    assert space is not None and space.shape == (2,)
    assert space.contains(spec.penalty)  # widened below the bounds to hold the penalty
    assert space.contains(reward)
    assert space.low.tolist() == [-20.0, -1.0]
    assert space.high.tolist() == [0.0, 5.0]


def test_scalar_penalty_broadcasts_for_several_objectives() -> None:
    spec = Objectives([Objective("a", "min"), Objective("b", "min"), Objective("c")], penalty=-3.0)
    assert isinstance(spec.penalty, np.ndarray)
    assert spec.penalty.tolist() == [-3.0, -3.0, -3.0]
    space = spec.reward_space
    assert space is not None and space.contains(spec.penalty)
    with pytest.raises(ValueError):
        Objectives([Objective("a"), Objective("b")], penalty=[1.0, 2.0, 3.0])


def test_objectives_need_at_least_one() -> None:
    with pytest.raises(ValueError):
        Objectives([], penalty=0.0)


def test_target_spec_reward_is_zero_when_met() -> None:
    spec = TargetSpec([Target("latency", "<=", 2.0), Target("throughput", ">=", 4.0)], penalty=-10.0)
    assert spec.reward({"latency": 1.0, "throughput": 9.0}) == 0.0
    assert spec.reward({"latency": 2.0, "throughput": 4.0}) == 0.0
    assert spec.n_objectives == 1 and spec.reward_space is None
    assert sorted(spec.metrics) == ["latency", "throughput"]


def test_target_spec_reward_is_minus_relative_violation() -> None:
    spec = TargetSpec([Target("latency", "<=", 2.0), Target("throughput", ">=", 4.0)], penalty=-10.0)
    # latency 3 exceeds 2 by 50 %; throughput 3 misses 4 by 25 %
    assert spec.reward({"latency": 3.0, "throughput": 9.0}) == pytest.approx(-0.5)
    assert spec.reward({"latency": 1.0, "throughput": 3.0}) == pytest.approx(-0.25)
    assert spec.reward({"latency": 3.0, "throughput": 3.0}) == pytest.approx(-0.75)
    # relative to |value| for negative targets too
    neg = TargetSpec([Target("margin", ">=", -2.0)], penalty=-10.0)
    assert neg.reward({"margin": -3.0}) == pytest.approx(-0.5)
    assert neg.reward({"margin": -1.0}) == 0.0


@pytest.mark.parametrize("op", ["<", "==", "=>", "le"])
def test_bad_target_op_is_rejected(op: str) -> None:
    with pytest.raises(ValueError, match="'latency'"):
        Target("latency", op, 1.0)  # type: ignore[arg-type]


def test_zero_target_and_empty_spec_are_rejected() -> None:
    with pytest.raises(ValueError, match="non-zero"):
        Target("latency", "<=", 0.0)
    with pytest.raises(ValueError):
        TargetSpec([], penalty=-1.0)


class Targeted(DesignEnv):
    def __init__(self) -> None:
        super().__init__(
            design_space=DesignSpace([Real("x", 0.0, 10.0)]),
            metrics={"latency": "ms"},
            objective=TargetSpec([Target("latency", "<=", 4.0)], penalty=-5.0),
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        return {"latency": design["x"]}


def test_target_spec_drives_an_env_reward() -> None:
    env = Targeted()
    env.reset(seed=0)
    assert env.step({"x": np.array([3.0])})[1] == 0.0
    env.reset()
    assert env.step({"x": np.array([6.0])})[1] == pytest.approx(-0.5)


def test_describe_mentions_every_metric() -> None:
    spec = Objectives([Objective("latency", "min"), Objective("area", "min")], penalty=-1.0)
    assert "latency" in spec.describe() and "area" in spec.describe()
    targets = TargetSpec([Target("power", "<=", 1.5)], penalty=-1.0)
    assert "power" in targets.describe() and "1.5" in targets.describe()


def test_nan_metric_gives_nan_reward() -> None:
    # DesignEnv turns a non-finite reward into an infeasible evaluation; the spec must not hide NaN
    spec = TargetSpec([Target("latency", "<=", 2.0)], penalty=-1.0)
    assert math.isnan(spec.reward({"latency": math.nan}))
    assert math.isnan(Objective("latency", "min").reward({"latency": math.nan}))
