"""``archgym.check_env``: Gymnasium's checker plus the suite's own contract checks.

Plugin authors call it in their own tests::

    env = gymnasium.make("mysims/Cache-v0")
    archgym.check_env(env)

It runs :func:`gymnasium.utils.env_checker.check_env` with timing values masked (they differ
between runs by nature, which Gymnasium's determinism check would flag), with the scalar-reward
check replaced by a ``reward_space`` check for multi-objective envs, and with its advisory
warnings turned into failures except those that are by design here (unbounded metric
observations; named action spaces in natural units). Then, for a :class:`DesignEnv`, the
suite's checks: ``info`` keys and types, reward = objective(metrics) (the reward direction),
penalty on infeasible evaluations, design round trips and out-of-space rejection.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env as gymnasium_check_env

from archgym.env.base import TIME_UNIT, DesignEnv
from archgym.env.codec import codec_for
from archgym.env.wrappers import reward_space_of
from archgym.spaces import Design, DesignSpace, Integer, Real

__all__ = ["check_env"]

_BENIGN = (
    "is different from the unwrapped version",
    "Not able to test alternative render modes",
    "This is probably too low",
    "This is probably too high",
    "we recommend using a symmetric and normalized space",
)
_INFO_KEYS = {"design": dict, "metrics": dict, "feasible": bool, "eval_time_s": float, "backend": str}


class _MaskForCheck(gym.Wrapper[Any, Any, Any, Any], gym.utils.RecordConstructorArgs):
    """Masks what legitimately differs between identical evaluations: ``eval_time_s``, metrics
    in seconds (wall-clock times), and NaN metrics or constraint violations (NaN never equals
    itself)."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        inner = self.env.unwrapped
        if isinstance(inner, DesignEnv) and any(
            inner.metric_units.get(m) == TIME_UNIT for m in inner.objective.metrics
        ):  # a wall-clock objective: the reward is a timing value too
            reward = np.zeros_like(reward) if isinstance(reward, np.ndarray) else 0.0
        info = dict(info)
        if "eval_time_s" in info:
            info["eval_time_s"] = 0.0
        if isinstance(info.get("metrics"), dict):
            units = getattr(self.env.unwrapped, "metric_units", {})
            info["metrics"] = {
                k: (None if (isinstance(v, float) and math.isnan(v)) or units.get(k) == TIME_UNIT else v)
                for k, v in info["metrics"].items()
            }
        if isinstance(info.get("constraints"), dict):  # an unmeasured constrained metric: NaN
            info["constraints"] = {
                k: None if isinstance(v, float) and math.isnan(v) else v
                for k, v in info["constraints"].items()
            }
        return obs, reward, terminated, truncated, info


def check_env(env: gym.Env[Any, Any], *, n_designs: int = 5, seed: int = 0) -> None:
    """Raise ``AssertionError`` (or the env's own error) if ``env`` breaks the contract."""
    multi_objective = reward_space_of(env) is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gymnasium_check_env(_MaskForCheck(env), skip_render_check=True)
    problems = [
        str(w.message)
        for w in caught
        if not any(b in str(w.message) for b in _BENIGN)
        and not (multi_objective and "The reward returned by `step()` must be a float" in str(w.message))
    ]
    assert not problems, "Gymnasium's env checker warned: " + " | ".join(problems)

    rng = np.random.default_rng(seed)
    codec = codec_for(env)
    designs = [codec.design_space.sample(rng) for _ in range(n_designs)]
    _check_round_trips(codec.design_space, designs)
    for i, design in enumerate(designs):
        env.reset(seed=seed + i)
        action = codec.to_action(design)
        assert _same_design(codec.design_space, codec.from_action(action), design), (
            f"action round trip changed {design} to {codec.from_action(action)}"
        )
        _, reward, _, _, info = env.step(action)
        if multi_objective:
            _check_vector_reward(env, reward)
        if isinstance(env.unwrapped, DesignEnv):
            _check_design_env_step(env.unwrapped, design, reward, info)
    if isinstance(env.unwrapped, DesignEnv):
        _check_rejects_out_of_space(env)
        _check_fidelity(env, env.unwrapped)
    env.reset(seed=seed)


def _same_design(space: DesignSpace, got: Design, expected: Design) -> bool:
    """Equal designs; reals up to float32 rounding (a derived ``Box`` may be float32)."""
    if list(got) != list(expected):
        return False
    for name, value in expected.items():
        if isinstance(space[name], Real):
            if not math.isclose(got[name], value, rel_tol=1e-6, abs_tol=1e-30):
                return False
        elif got[name] != value:
            return False
    return True


def _check_vector_reward(env: gym.Env[Any, Any], reward: Any) -> None:
    space = reward_space_of(env)
    assert space is not None
    assert isinstance(reward, np.ndarray), f"multi-objective reward must be an np.ndarray, got {type(reward)}"
    assert reward.shape == space.shape, f"reward shape {reward.shape} != reward_space shape {space.shape}"
    assert space.contains(reward.astype(space.dtype)), f"reward {reward} is outside reward_space {space}"


def _check_design_env_step(env: DesignEnv, design: Design, reward: Any, info: dict[str, Any]) -> None:
    for key, kind in _INFO_KEYS.items():
        assert key in info, f"info lacks {key!r} (has {sorted(info)})"
        assert isinstance(info[key], kind), f"info[{key!r}] must be {kind.__name__}, got {info[key]!r}"
    names = [c.name for c in env.outcome_constraints]
    for c in env.outcome_constraints:
        assert c.metric in env.metric_units, f"outcome constraint on undeclared metric {c.metric!r}"
    if names:
        violations = info.get("constraints", {})
        assert sorted(violations) == sorted(names), f"info['constraints'] {violations} != declared {names}"
        if any(not v <= 0 for v in violations.values()):
            assert not info["feasible"], f"a violated outcome constraint must be infeasible: {violations}"
    assert info["design"] == design, f"info['design'] {info['design']} != evaluated design {design}"
    assert list(info["metrics"]) == list(env.metric_units), (
        f"info['metrics'] keys {list(info['metrics'])} != declared metrics {list(env.metric_units)}"
    )
    assert info["backend"] in ("simulator", "proxy", "table"), f"unknown backend {info['backend']!r}"
    assert info["eval_time_s"] >= 0.0
    assert ("error" in info) == (not info["feasible"]), "info['error'] must be present iff infeasible"
    assert ("fidelity" in info) == (env.fidelity is not None), "info['fidelity'] iff the env has one"
    expected = env.objective.reward(info["metrics"]) if info["feasible"] else env.objective.penalty
    assert np.allclose(reward, expected, rtol=1e-9, atol=0.0), (
        f"reward {reward} is not the declared objective of the metrics ({expected}): rewards must be "
        "computed from metrics by the env's objective, higher is better"
    )


def _check_round_trips(space: DesignSpace, designs: list[Design]) -> None:
    for design in designs:
        assert space.validate(design) == design, f"sampled design {design} does not validate"
        decoded = space.from_unit(space.to_unit(design))
        for name, value in design.items():
            param = space[name]
            if isinstance(param, Real):
                assert math.isclose(decoded[name], value, rel_tol=1e-9, abs_tol=1e-12), name
            else:
                assert decoded[name] == value, f"unit round trip changed {name!r}: {value} -> {decoded[name]}"


def _check_rejects_out_of_space(env: gym.Env[Any, Any]) -> None:
    space: DesignSpace = env.unwrapped.design_space  # type: ignore[attr-defined]
    action = space.to_action(space.default())
    param = space.parameters[0]
    if isinstance(param, Integer):
        action[param.name] = np.int64(param.high + 1)
    elif isinstance(param, Real):
        action[param.name] = np.array([param.high + (param.high - param.low) + 1.0])
    else:
        action[param.name] = np.int64(param.n_values)
    env.reset()
    try:
        env.step(action)
    except ValueError as exc:
        assert repr(param.name) in str(exc), f"out-of-space error must name {param.name!r}: {exc}"
    else:
        raise AssertionError(f"an out-of-space value for {param.name!r} was accepted")


def _check_fidelity(env: gym.Env[Any, Any], inner: DesignEnv) -> None:
    if inner.fidelity is None:
        return
    env.reset(options={"fidelity": inner.fidelity.default})
    try:
        env.reset(options={"fidelity": inner.fidelity.high * 2 + 1})
    except ValueError as exc:
        assert repr(inner.fidelity.name) in str(exc), f"fidelity error must name {inner.fidelity.name!r}"
    else:
        raise AssertionError("an out-of-range fidelity was accepted")
