"""Every registered env passes the checkers; the analytic problems have their documented optima."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import archgym
from archgym.env import reward_space_of

ENV_IDS = sorted(archgym.get_registry().env_plugins)


def test_builtin_envs_are_registered() -> None:
    assert {
        "archgym/Branin-v0",
        "archgym/Hartmann6-v0",
        "archgym/MixedConditional-v0",
        "archgym/DTLZ2-v0",
    } <= set(ENV_IDS)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_archgym_check_env(env_id: str) -> None:
    env = gym.make(env_id)
    try:
        archgym.check_env(env)
    finally:
        env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_stable_baselines3_check_env_on_flat_actions(env_id: str) -> None:
    env: gym.Env[Any, Any] = gym.make(env_id)
    space = reward_space_of(env)
    if space is not None:
        env = archgym.ScalarizeReward(env, [1.0] * space.shape[0])
    flat = archgym.FlatActions(env)
    try:
        sb3_check_env(flat, warn=True)
        flat.reset(seed=0)
        _, reward, terminated, _, info = flat.step(flat.action_space.sample())
        assert isinstance(reward, float)
        assert terminated is True
        assert "design" in info
    finally:
        flat.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_make_with_module_prefix_in_a_fresh_interpreter(env_id: str) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        import gymnasium
        assert "archgym" not in sys.modules
        env = gymnasium.make("archgym:" + {env_id!r})
        obs, info = env.reset(seed=0)
        print("OK", type(env.unwrapped).__name__, obs.shape)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK "), result.stdout


def _evaluate(env_id: str, design: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    env = gym.make(env_id)
    space = env.unwrapped.design_space  # type: ignore[attr-defined]
    env.reset(seed=0)
    _, reward, _, _, info = env.step(space.to_action(design))
    env.close()
    assert info["feasible"], info
    return reward, info


def test_branin_optimum() -> None:
    env = gym.make("archgym/Branin-v0")
    optimum = env.unwrapped.optimal_reward  # type: ignore[attr-defined]
    assert optimum == pytest.approx(-0.397887, abs=1e-6)
    for x1, x2 in [(math.pi, 2.275), (-math.pi, 12.275), (9.42478, 2.475)]:
        reward, _ = _evaluate("archgym/Branin-v0", {"x1": x1, "x2": x2})
        assert reward == pytest.approx(optimum, abs=1e-5)
    reward, _ = _evaluate("archgym/Branin-v0", {"x1": 0.0, "x2": 0.0})
    assert reward < optimum - 1.0


def test_hartmann6_optimum() -> None:
    x = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
    reward, _ = _evaluate("archgym/Hartmann6-v0", {f"x{i + 1}": v for i, v in enumerate(x)})
    assert reward == pytest.approx(3.32237, abs=1e-4)
    optimum = gym.make("archgym/Hartmann6-v0").unwrapped.optimal_reward  # type: ignore[attr-defined]
    assert reward == pytest.approx(optimum, abs=1e-4)
    rng = np.random.default_rng(0)
    for _ in range(20):
        other, _ = _evaluate("archgym/Hartmann6-v0", {f"x{i}": rng.random() for i in range(1, 7)})
        assert other <= optimum


def test_mixed_conditional_optimum() -> None:
    best = {"x": 1.0, "n": 3, "kernel": "rbf", "gamma": 0.1, "width": 8}
    reward, info = _evaluate("archgym/MixedConditional-v0", best)
    assert reward == pytest.approx(0.0, abs=1e-12)
    assert info["design"] == best
    # moving any variable away from the optimum costs reward
    for change in ({"x": 0.0}, {"n": 4}, {"kernel": "linear"}, {"gamma": 1.0}, {"width": 16}):
        design = {**best, **change}
        if design["kernel"] != "rbf":
            design.pop("gamma")
        assert _evaluate("archgym/MixedConditional-v0", design)[0] < -0.1


def test_mixed_conditional_forbidden_combination_is_infeasible() -> None:
    env = gym.make("archgym/MixedConditional-v0")
    space = env.unwrapped.design_space  # type: ignore[attr-defined]
    env.reset(seed=0)
    design = {"x": 1.0, "n": 10, "kernel": "linear", "width": 32}  # 320 > 160
    _, reward, _, _, info = env.step(space.to_action(design, check=False))
    assert info["feasible"] is False and "n * width <= 160" in info["error"]
    assert reward == -1000.0


@pytest.mark.parametrize("x1", [0.0, 0.3, 0.5, 1.0])
def test_dtlz2_front(x1: float) -> None:
    design = {"x1": x1} | {f"x{i}": 0.5 for i in range(2, 7)}
    reward, info = _evaluate("archgym/DTLZ2-v0", design)
    assert isinstance(reward, np.ndarray) and reward.shape == (2,)
    assert reward[0] ** 2 + reward[1] ** 2 == pytest.approx(1.0)
    assert np.all(reward <= 1e-12)
    f1, f2 = info["metrics"]["f1"], info["metrics"]["f2"]
    assert f1**2 + f2**2 == pytest.approx(1.0)
    off_front, _ = _evaluate("archgym/DTLZ2-v0", {**design, "x4": 0.9})
    assert off_front[0] ** 2 + off_front[1] ** 2 > 1.1


def test_dtlz2_pareto_front() -> None:
    env = gym.make("archgym/DTLZ2-v0")
    front = env.unwrapped.pareto_front(11)  # type: ignore[attr-defined]
    assert front.shape == (11, 2)
    assert np.allclose(front[:, 0] ** 2 + front[:, 1] ** 2, 1.0)
    assert np.all(front <= 1e-12)
    space = reward_space_of(env)
    assert space is not None
    assert all(space.contains(point) for point in front)
    reference = env.unwrapped.reference_point  # type: ignore[attr-defined]
    assert np.all(front > reference)
