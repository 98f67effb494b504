"""Arbitrary Python values thrown at every registered env's design validation: the only error
that may come out is a ValueError (naming the parameter), never an OverflowError, TypeError or
anything else."""

from __future__ import annotations

import contextlib
import functools

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archgym  # noqa: F401 - registers the built-in envs
from archgym import DesignSpace

BUILT_IN = sorted(env_id for env_id in gym.registry if env_id.startswith("archgym/"))

ANY_VALUE = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=10**300, max_value=10**400),
        st.floats(allow_nan=True, allow_infinity=True),
        st.complex_numbers(),
        st.binary(max_size=8),
        st.text(max_size=8),
        st.sampled_from([np.int64(3), np.float32("nan"), np.bool_(True), np.array([1, 2]), object()]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=5,
)


@functools.cache
def _space(env_id: str) -> DesignSpace:
    env = gym.make(env_id)
    try:
        return env.unwrapped.design_space
    finally:
        env.close()


@pytest.mark.parametrize("env_id", BUILT_IN)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_design_validation_raises_only_value_errors(env_id: str, data: st.DataObject) -> None:
    space = _space(env_id)
    design = space.default()
    for name in data.draw(st.lists(st.sampled_from(space.names), max_size=3, unique=True)):
        design[name] = data.draw(ANY_VALUE)
    if data.draw(st.booleans()):
        design[data.draw(st.text(max_size=5))] = data.draw(ANY_VALUE)
    with contextlib.suppress(ValueError):
        space.validate(design)


@pytest.mark.parametrize("design", [None, 3, "x", [("x1", 1.0)], b"x1"])
def test_a_design_that_is_not_a_mapping_is_a_value_error(design: object) -> None:
    with pytest.raises(ValueError, match="design"):
        _space("archgym/Branin-v0").validate(design)  # type: ignore[arg-type]
