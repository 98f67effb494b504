"""Design spaces derived from plain Gymnasium action spaces."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import archgym
from archgym import Integer, Real, codec_for, derive_design_space


class Plain(gym.Env[np.ndarray, Any]):
    """A well-behaved plain env: reward = -(distance of the action from a fixed target)."""

    def __init__(self, action_space: spaces.Space[Any]) -> None:
        self.action_space = action_space
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.target = action_space.sample()
        self.actions: list[Any] = []

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        return self.np_random.uniform(-1, 1, 2).astype(np.float32), {}

    def step(self, action: Any) -> Any:
        assert self.action_space.contains(action), action
        self.actions.append(action)
        flat = spaces.flatten(self.action_space, action).astype(np.float64)
        target = spaces.flatten(self.action_space, self.target).astype(np.float64)
        reward = -float(np.abs(flat - target).sum())
        return self.np_random.uniform(-1, 1, 2).astype(np.float32), reward, True, False, {}


SPACES = {
    "box-float64": spaces.Box(-1.0, 2.0, (2,), np.float64),
    "box-float32": spaces.Box(np.float32([-1.0, 0.0]), np.float32([1.0, 5.0]), dtype=np.float32),
    "box-scalar": spaces.Box(0.0, 1.0, (), np.float64),
    "box-2d": spaces.Box(-1.0, 1.0, (2, 2), np.float64),
    "box-int": spaces.Box(-3, 5, (3,), np.int64),
    "discrete": spaces.Discrete(4),
    "discrete-start": spaces.Discrete(3, start=-1),
    "multidiscrete": spaces.MultiDiscrete([2, 5, 3]),
    "multidiscrete-start": spaces.MultiDiscrete([2, 3], start=[10, -1]),
    "multibinary": spaces.MultiBinary(3),
    "dict": spaces.Dict(
        {
            "cores": spaces.Discrete(8, start=1),
            "freq": spaces.Box(0.5, 3.0, (1,), np.float32),
            "mask": spaces.MultiBinary(2),
            "ways": spaces.MultiDiscrete([4, 4]),
            "nested": spaces.Dict({"depth": spaces.Discrete(3)}),
        }
    ),
}


def _assert_same(
    space: archgym.DesignSpace, got: dict[str, Any], expected: dict[str, Any], f32: bool
) -> None:
    assert list(got) == list(expected)
    for name, value in expected.items():
        if f32 and isinstance(space[name], Real):
            assert math.isclose(got[name], value, rel_tol=1e-6, abs_tol=1e-7)
        else:
            assert got[name] == value


@pytest.mark.parametrize("key", sorted(SPACES))
def test_codec_round_trip(key: str) -> None:
    action_space = SPACES[key]
    action_space.seed(0)
    codec = codec_for(Plain(action_space))
    space = codec.design_space
    rng = np.random.default_rng(0)
    f32 = key in ("box-float32", "dict")
    for _ in range(25):
        design = space.sample(rng)
        action = codec.to_action(design)
        assert action_space.contains(action), (action, action_space)
        _assert_same(space, codec.from_action(action), design, f32)
        # and from the action side: every action of the space decodes and re-encodes exactly
        sampled = action_space.sample()
        decoded = codec.from_action(sampled)
        assert space.validate(decoded) == decoded
        reencoded = codec.to_action(decoded)
        flat_again = spaces.flatten(action_space, reencoded)
        assert flat_again.tolist() == spaces.flatten(action_space, sampled).tolist()


def test_box_parameters() -> None:
    space = derive_design_space(spaces.Box(np.float32([-1.0, 0.0]), np.float32([1.0, 5.0]), dtype=np.float32))
    assert space.names == ["a[0]", "a[1]"]
    assert all(isinstance(p, Real) for p in space)
    assert [(p.low, p.high) for p in space] == [(-1.0, 1.0), (0.0, 5.0)]
    ints = derive_design_space(spaces.Box(-3, 5, (2,), np.int32))
    assert all(isinstance(p, Integer) and (p.low, p.high) == (-3, 5) for p in ints)
    scalar = derive_design_space(spaces.Box(0.0, 1.0, (), np.float64))
    assert scalar.names == ["a"]
    assert len(derive_design_space(spaces.Box(-1.0, 1.0, (2, 3)))) == 6


def test_discrete_parameters_keep_their_start() -> None:
    space = derive_design_space(spaces.Discrete(3, start=-1))
    (param,) = space
    assert isinstance(param, Integer) and (param.low, param.high) == (-1, 1)
    md = derive_design_space(spaces.MultiDiscrete([2, 3], start=[10, -1]))
    assert [(p.low, p.high) for p in md] == [(10, 11), (-1, 1)]
    mb = derive_design_space(spaces.MultiBinary(3))
    assert [(p.low, p.high) for p in mb] == [(0, 1)] * 3


def test_dict_parameter_names() -> None:
    space = derive_design_space(SPACES["dict"])
    assert set(space.names) == {
        "cores",
        "freq[0]",
        "mask[0]",
        "mask[1]",
        "ways[0]",
        "ways[1]",
        "nested.depth",
    }
    assert space.size is None
    assert space["cores"].low == 1 and space["cores"].high == 8  # type: ignore[attr-defined]


def test_codec_maps_designs_to_the_env_action() -> None:
    env = Plain(SPACES["dict"])
    codec = codec_for(env)
    design = {
        "cores": 3,
        "freq[0]": 1.5,
        "mask[0]": 1,
        "mask[1]": 0,
        "nested.depth": 2,
        "ways[0]": 0,
        "ways[1]": 3,
    }
    action = codec.to_action(design)
    assert action["cores"] == 3
    assert action["freq"].dtype == np.float32 and action["freq"].tolist() == [1.5]
    assert action["mask"].tolist() == [1, 0]
    assert action["ways"].tolist() == [0, 3]
    assert action["nested"]["depth"] == 2


def test_out_of_space_design_is_rejected_by_the_codec() -> None:
    codec = codec_for(Plain(spaces.MultiDiscrete([2, 5])))
    with pytest.raises(ValueError, match=r"'a\[1\]'"):
        codec.to_action({"a[0]": 1, "a[1]": 5})
    with pytest.raises(ValueError):
        codec.from_action(np.array([2, 0]))


def test_infinite_box_is_rejected_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="infinite bounds"):
        derive_design_space(spaces.Box(-np.inf, np.inf, (2,)))
    with pytest.raises(ValueError, match="'speed'"):
        derive_design_space(spaces.Dict({"speed": spaces.Box(0.0, np.inf, (1,))}))


@pytest.mark.parametrize(
    "space",
    [
        spaces.Text(5),
        spaces.Tuple((spaces.Discrete(2), spaces.Discrete(3))),
        spaces.Dict({"ok": spaces.Discrete(2), "bad": spaces.Text(3)}),
    ],
    ids=["text", "tuple", "dict-with-text"],
)
def test_unsupported_space_is_rejected_with_a_clear_message(space: spaces.Space[Any]) -> None:
    with pytest.raises(TypeError, match="not drivable") as info:
        derive_design_space(space)
    for supported in ("Box", "Discrete", "MultiDiscrete", "MultiBinary", "Dict"):
        assert supported in str(info.value)


@pytest.mark.parametrize("key", ["box-float32", "box-int", "discrete-start", "multidiscrete", "dict"])
def test_check_env_passes_on_a_plain_env(key: str) -> None:
    env = Plain(SPACES[key])
    archgym.check_env(env)
    assert env.actions  # the checker did drive the env


def test_check_env_catches_a_broken_plain_env() -> None:
    class WrongObservation(Plain):
        def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
            super().reset(seed=seed)
            return np.zeros(3, np.float32), {}

    with pytest.raises(AssertionError, match="observation space"):
        archgym.check_env(WrongObservation(spaces.Discrete(3)))
