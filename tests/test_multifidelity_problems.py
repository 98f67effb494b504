"""Issue 23: the analytic multi-fidelity problems — exact at full fidelity (value, optimum, front),
biased below it, with the documented cost model and a simulated duration that agrees with it."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import archgym

PAIRS = [
    ("archgym/BraninMF-v0", "archgym/Branin-v0"),
    ("archgym/Hartmann6MF-v0", "archgym/Hartmann6-v0"),
    ("archgym/DTLZ2MF-v0", "archgym/DTLZ2-v0"),
]


def _step(env: gym.Env, design: dict[str, Any], fidelity: float | None = None) -> tuple[Any, dict]:
    env.reset(seed=0, options=None if fidelity is None else {"fidelity": fidelity})
    _, reward, _, _, info = env.step(design)
    return reward, info


@pytest.mark.parametrize(("mf_id", "base_id"), PAIRS)
def test_full_fidelity_is_the_base_problem(mf_id: str, base_id: str) -> None:
    mf, base = gym.make(mf_id).unwrapped, gym.make(base_id).unwrapped
    rng = np.random.default_rng(0)
    biased = 0
    for _ in range(20):
        design = mf.design_space.sample(rng)
        for fidelity in (None, 1.0):  # the default fidelity is the full one
            reward, info = _step(mf, design, fidelity)
            assert info["fidelity"] == 1.0
            np.testing.assert_allclose(reward, _step(base, design)[0], rtol=0, atol=1e-12)
        low, _ = _step(mf, design, mf.fidelity.low)
        biased += not np.allclose(low, _step(base, design)[0], rtol=0, atol=1e-9)
    assert biased > 10  # a lower fidelity is biased (Hartmann's weakened peak is far from some designs)
    assert mf.optimal_reward == base.optimal_reward


@pytest.mark.parametrize("env_id", [mf for mf, _ in PAIRS])
def test_each_passes_check_env_and_declares_cost_and_duration(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    archgym.check_env(env)
    fidelity = env.fidelity
    assert (fidelity.name, fidelity.low, fidelity.high, fidelity.default) == ("s", 1 / 27, 1.0, 1.0)
    design = env.design_space.sample(np.random.default_rng(1))
    full = env.simulated_duration(design, 1.0, {})
    assert 30.0 <= full <= 90.0
    for s in (1 / 27, 0.25, 1.0):
        assert env.fidelity_cost(s) == pytest.approx(s)
        assert env.simulated_duration(design, s, {}) == pytest.approx(s * full)


def test_known_optima_hold_at_full_fidelity() -> None:
    branin = gym.make("archgym/BraninMF-v0").unwrapped
    for x1, x2 in ((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)):
        assert _step(branin, {"x1": x1, "x2": x2}, 1.0)[0] == pytest.approx(-0.397887, abs=1e-5)
    # the augmented Branin keeps its minimum at every fidelity, at moved minimisers (BoTorch's list)
    assert _step(branin, {"x1": math.pi, "x2": 1.3867356039019576}, 0.1)[0] == pytest.approx(
        -0.397887, abs=1e-5
    )
    hartmann = gym.make("archgym/Hartmann6MF-v0").unwrapped
    best = dict(
        zip(
            hartmann.design_space.names,
            (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573),
            strict=True,
        )
    )
    assert _step(hartmann, best, 1.0)[0] == pytest.approx(3.32237, abs=1e-5)
    assert _step(hartmann, best, 0.5)[0] < 3.32237 - 0.01  # the first peak weakened by 0.1 (1 - s)
    dtlz2 = gym.make("archgym/DTLZ2MF-v0").unwrapped
    for x1 in np.linspace(0, 1, 7):
        on_front = {"x1": float(x1), **{f"x{i}": 0.5 for i in range(2, 7)}}
        reward, _ = _step(dtlz2, on_front, 1.0)
        assert float(np.sum(np.square(reward))) == pytest.approx(1.0)
    assert dtlz2.pareto_front(5).shape == (5, 2)


def test_dtlz2mf_bias_moves_the_front_designs_and_stays_within_the_penalty() -> None:
    env = gym.make("archgym/DTLZ2MF-v0").unwrapped
    s = env.fidelity.low
    centre = 0.5 + 0.2 * (1 - s)
    low_optimal = {"x1": 0.3, **{f"x{i}": centre for i in range(2, 7)}}
    reward, _ = _step(env, low_optimal, s)
    assert float(np.sum(np.square(reward))) == pytest.approx(1.0)  # on the front at fidelity s
    reward, _ = _step(env, low_optimal, 1.0)
    assert float(np.sum(np.square(reward))) > 1.0  # off it at full fidelity
    worst = {"x1": 0.0, **{f"x{i}": 0.0 for i in range(2, 7)}}
    reward, info = _step(env, worst, s)
    assert info["feasible"] and np.all(reward > env.objective.penalty)
    assert env.reward_space.contains(np.asarray(reward, dtype=env.reward_space.dtype))


def test_min_fidelity_is_a_checked_argument() -> None:
    env = gym.make("archgym/Hartmann6MF-v0", min_fidelity=0.1).unwrapped
    assert env.fidelity.low == 0.1
    with pytest.raises(ValueError, match=r"min_fidelity.*legal values"):
        gym.make("archgym/Hartmann6MF-v0", min_fidelity=0.0)
    with pytest.raises(ValueError, match=r"fidelity 's'.*legal values"):
        env.reset(options={"fidelity": 0.05})
