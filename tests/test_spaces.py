"""Design spaces: property tests over randomly generated spaces and designs, plus unit tests."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from archgym import Categorical, Condition, Constraint, DesignSpace, Integer, Ordinal, Parameter, Real

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# --- strategies ----------------------------------------------------------------------------------

_NAME_CHARS = "abxyz_-.[]'\" 0"
# Choices of one parameter share one kind (strings, numbers or booleans): one records column.
_choice_lists = st.one_of(
    st.lists(st.text(max_size=4), min_size=1, max_size=5, unique=True),
    st.lists(
        st.one_of(st.integers(-3, 3), st.floats(-10, 10, allow_nan=False)),
        min_size=1,
        max_size=5,
        unique=True,
    ),
    st.lists(st.booleans(), min_size=1, max_size=2, unique=True),
)


@dataclass(frozen=True)
class UnitAbove:
    """A forbidden-combination rule: ``name``'s unit encoding must exceed ``threshold``."""

    param: Parameter
    threshold: float

    def __call__(self, design: Any) -> bool:
        return self.param.name not in design or self.param.to_unit(design[self.param.name]) > self.threshold


@st.composite
def parameters(draw: st.DrawFn, name: str, *, discrete_only: bool, parents: list[Categorical]) -> Parameter:
    kinds = ["int", "int_log", "cat", "ord"] + ([] if discrete_only else ["real", "real_log"])
    kind = draw(st.sampled_from(kinds))
    condition = None
    if parents and draw(st.booleans()):
        parent = draw(st.sampled_from(parents))
        values = draw(st.lists(st.sampled_from(parent.choices), min_size=1, unique=True))
        condition = Condition(parent.name, values)
    if kind == "int":
        low = draw(st.integers(-50, 50))
        return Integer(name, low, low + draw(st.integers(0, 60)), condition=condition)
    if kind == "int_log":
        low = draw(st.integers(1, 50))
        return Integer(name, low, low + draw(st.integers(0, 5000)), log=True, condition=condition)
    if kind == "real":
        low = draw(st.floats(-1e3, 1e3))
        high = low + draw(st.floats(1e-3, 1e4))
        return Real(name, low, high, condition=condition)
    if kind == "real_log":
        low = draw(st.floats(1e-6, 1e3))
        high = low * draw(st.floats(1.01, 1e6))
        return Real(name, low, high, log=True, condition=condition)
    if kind == "cat":
        choices = draw(_choice_lists)
        return Categorical(name, choices, condition=condition)
    values = draw(
        st.one_of(
            st.lists(st.integers(-100, 100), min_size=1, max_size=6, unique=True).map(sorted),
            st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=6, unique=True).map(sorted),
            st.lists(st.text(max_size=3), min_size=1, max_size=6, unique=True),
        )
    )
    return Ordinal(name, values, condition=condition)


@st.composite
def design_spaces(draw: st.DrawFn, *, discrete_only: bool = False, constraints: bool = True) -> DesignSpace:
    n = draw(st.integers(1, 6))
    params: list[Parameter] = []
    for i in range(n):
        name = draw(st.text(alphabet=_NAME_CHARS, min_size=1, max_size=5)) + f"#{i}"
        parents = [p for p in params if isinstance(p, Categorical)]
        params.append(draw(parameters(name, discrete_only=discrete_only, parents=parents)))
    rules = []
    if constraints and draw(st.booleans()):
        param = draw(st.sampled_from(params))
        rules.append(Constraint(f"unit({param.name}) > 0.2", UnitAbove(param, 0.2)))
    return DesignSpace(params, rules)


def values_of(param: Parameter) -> st.SearchStrategy[Any]:
    """Legal values of ``param``, drawn independently of the code under test."""
    if isinstance(param, Integer):
        return st.integers(param.low, param.high)
    if isinstance(param, Real):
        return st.floats(param.low, param.high)
    if isinstance(param, Categorical):
        return st.sampled_from(param.choices)
    assert isinstance(param, Ordinal)
    return st.sampled_from(param.values)


@st.composite
def spaces_and_designs(draw: st.DrawFn, **kwargs: Any) -> tuple[DesignSpace, dict[str, Any]]:
    space = draw(design_spaces(**kwargs))
    design: dict[str, Any] = {}
    for p in space:
        if p.condition is None or (
            p.condition.parent in design and design[p.condition.parent] in p.condition.values
        ):
            design[p.name] = draw(values_of(p))
    assume(all(c.allowed(design) for c in space.constraints))
    return space, design


def is_active(param: Parameter, design: dict[str, Any]) -> bool:
    cond = param.condition
    return cond is None or (cond.parent in design and design[cond.parent] in cond.values)


def assert_consistent(space: DesignSpace, design: dict[str, Any]) -> None:
    """Exactly the active parameters are present, in declaration order."""
    expected = [p.name for p in space if is_active(p, design)]
    assert list(design) == expected


def assert_same_design(space: DesignSpace, got: dict[str, Any], expected: dict[str, Any]) -> None:
    assert list(got) == list(expected)
    for name, value in expected.items():
        param = space[name]
        if isinstance(param, Real):
            tol = 1e-9 * (param.high - param.low)
            assert math.isclose(got[name], value, rel_tol=1e-9, abs_tol=tol), (name, got[name], value)
            assert param.low <= got[name] <= param.high
        else:
            assert got[name] == value, (name, got[name], value)
            assert type(got[name]) is type(value), (name, got[name], value)


def bad_values(param: Parameter) -> list[Any]:
    """Values outside ``param``'s space (wrong value or wrong type)."""
    if isinstance(param, Integer):
        return [param.high + 1, param.low - 1, param.low + 0.5, True, "1", None, math.nan]
    if isinstance(param, Real):
        width = param.high - param.low
        return [param.high + width + 1.0, param.low - width - 1.0, math.nan, math.inf, True, "0.5", None]
    choices = param.values_list()  # type: ignore[attr-defined]
    unknown = "unknown-value"
    while unknown in choices:
        unknown += "!"
    return [unknown, None, object(), (1, 2)]


def assert_names_param(exc: ValueError, param: Parameter) -> None:
    message = str(exc)
    assert repr(param.name) in message, message
    if isinstance(param, Integer | Real):
        assert str(param.low) in message and str(param.high) in message, message
    else:
        for value in param.values_list():  # type: ignore[attr-defined]
            assert repr(value) in message, message


# --- properties ----------------------------------------------------------------------------------


@SETTINGS
@given(spaces_and_designs())
def test_unit_round_trip(case: tuple[DesignSpace, dict[str, Any]]) -> None:
    space, design = case
    x = space.to_unit(design)
    assert x.shape == (len(space),)
    assert np.all((x >= 0.0) & (x <= 1.0))
    assert_same_design(space, space.from_unit(x), design)


@SETTINGS
@given(spaces_and_designs())
def test_action_round_trip(case: tuple[DesignSpace, dict[str, Any]]) -> None:
    space, design = case
    action = space.to_action(design)
    assert space.action_space().contains(action)
    decoded = space.from_action(action)
    assert decoded == design
    assert [type(v) for v in decoded.values()] == [type(v) for v in design.values()]


@SETTINGS
@given(spaces_and_designs(discrete_only=True))
def test_flat_round_trip_for_discrete_spaces(case: tuple[DesignSpace, dict[str, Any]]) -> None:
    space, design = case
    flat = space.to_flat(design)
    assert space.flat_space().contains(flat)
    assert space.from_flat(flat) == design


@SETTINGS
@given(design_spaces(), st.integers(0, 2**32 - 1))
def test_samples_are_legal_and_consistent(space: DesignSpace, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(5):
        design = space.sample(rng)
        assert_consistent(space, design)
        assert all(c.allowed(design) for c in space.constraints), design
        assert space.validate(design) == design
        assert space.contains(design)


@SETTINGS
@given(design_spaces(), st.integers(0, 2**32 - 1))
def test_sampled_actions_decode_to_consistent_designs(space: DesignSpace, seed: int) -> None:
    action_space = space.action_space(seed=seed)
    for _ in range(5):
        design = space.from_action(action_space.sample(), check=False)
        assert_consistent(space, design)
        assert space.validate(design, check=False) == design


@SETTINGS
@given(st.data())
def test_every_unit_point_decodes_to_a_valid_design(data: st.DataObject) -> None:
    space = data.draw(design_spaces(constraints=False))
    x = data.draw(st.lists(st.floats(0.0, 1.0), min_size=len(space), max_size=len(space)))
    design = space.from_unit(np.array(x))
    assert_consistent(space, design)
    assert space.validate(design) == design


@SETTINGS
@given(st.data())
def test_out_of_space_values_are_rejected_naming_the_parameter(data: st.DataObject) -> None:
    space, design = data.draw(spaces_and_designs())
    name = data.draw(st.sampled_from(sorted(design)))
    param = space[name]
    for bad in bad_values(param):
        with pytest.raises(ValueError) as info:
            space.validate({**design, name: bad})
        assert_names_param(info.value, param)


@SETTINGS
@given(st.data())
def test_out_of_space_actions_are_rejected_naming_the_parameter(data: st.DataObject) -> None:
    space, design = data.draw(spaces_and_designs())
    name = data.draw(st.sampled_from(sorted(design)))
    param = space[name]
    action = space.to_action(design)
    if isinstance(param, Integer):
        bad: list[Any] = [np.int64(param.high + 1), np.int64(param.low - 1)]
    elif isinstance(param, Real):
        bad = [np.array([param.high + (param.high - param.low)]), np.array([math.nan]), "x"]
    else:
        bad = [np.int64(param.n_values), np.int64(-1), True]
    for value in bad:
        with pytest.raises(ValueError) as info:
            space.from_action({**action, name: value})
        assert repr(name) in str(info.value)


@SETTINGS
@given(spaces_and_designs())
def test_unknown_parameter_names_are_rejected(case: tuple[DesignSpace, dict[str, Any]]) -> None:
    space, design = case
    unknown = "no such parameter"
    with pytest.raises(ValueError) as info:
        space.validate({**design, unknown: 1})
    message = str(info.value)
    assert repr(unknown) in message
    for name in space.names:
        assert repr(name) in message
    with pytest.raises(ValueError, match="no such parameter"):
        space.from_action({**space.to_action(design), unknown: 1})


@SETTINGS
@given(st.data())
def test_missing_active_parameter_is_rejected(data: st.DataObject) -> None:
    space, design = data.draw(spaces_and_designs())
    name = data.draw(st.sampled_from(sorted(design)))
    partial = {k: v for k, v in design.items() if k != name}
    with pytest.raises(ValueError) as info:
        space.validate(partial)
    assert repr(name) in str(info.value)
    assert "missing" in str(info.value)


@SETTINGS
@given(spaces_and_designs())
def test_values_for_inactive_parameters_are_dropped(case: tuple[DesignSpace, dict[str, Any]]) -> None:
    space, design = case
    inactive = [p for p in space if p.name not in design]
    padded = {**design, **{p.name: p.default_value() for p in inactive}}
    assert space.validate(padded) == design


# --- unit tests ----------------------------------------------------------------------------------


def test_duplicate_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate parameter name 'a'"):
        DesignSpace([Integer("a", 0, 3), Real("a", 0.0, 1.0)])


def test_condition_parent_must_be_declared_first() -> None:
    with pytest.raises(ValueError, match="'kernel' must be declared before"):
        DesignSpace(
            [
                Real("gamma", 0.1, 1.0, condition=Condition("kernel", ["rbf"])),
                Categorical("kernel", ["rbf", "linear"]),
            ]
        )
    with pytest.raises(ValueError, match="'nope'"):
        DesignSpace([Real("gamma", 0.1, 1.0, condition=Condition("nope", ["rbf"]))])


def test_condition_values_must_be_legal_for_the_parent() -> None:
    with pytest.raises(ValueError, match="'kernel'"):
        DesignSpace(
            [
                Categorical("kernel", ["rbf", "linear"]),
                Real("gamma", 0.1, 1.0, condition=Condition("kernel", ["poly"])),
            ]
        )


@pytest.mark.parametrize(
    "make",
    [
        lambda: Real("lr", 0.0, 1.0, log=True),
        lambda: Real("lr", -1.0, 1.0, log=True),
        lambda: Integer("n", 0, 10, log=True),
        lambda: Real("lr", 1.0, 1.0),
        lambda: Real("lr", 0.0, math.inf),
        lambda: Integer("n", 5, 4),
        lambda: Integer("n", 0.5, 4),
        lambda: Categorical("c", []),
        lambda: Categorical("c", [1, True]),
        lambda: Categorical("c", ["a", 1]),
        lambda: Categorical("c", [None]),
        lambda: Ordinal("o", [1, 2, 2]),
        lambda: Integer("n", 0, 4, default=7),
        lambda: Categorical("c", ["a", "b"], default="z"),
    ],
)
def test_bad_parameter_declarations_are_rejected(make: Any) -> None:
    with pytest.raises(ValueError):
        make()


def test_empty_space_is_rejected() -> None:
    with pytest.raises(ValueError):
        DesignSpace([])


def test_size() -> None:
    space = DesignSpace(
        [
            Integer("n", 0, 9),
            Categorical("kind", ["a", "b", "c"]),
            Ordinal("width", [1, 2, 4, 8]),
            Integer("m", 1, 100, log=True, condition=Condition("kind", ["a"])),
        ]
    )
    assert space.size == 10 * 3 * 4 * 100
    assert space.is_discrete
    mixed = DesignSpace([Integer("n", 0, 9), Real("x", 0.0, 1.0)])
    assert mixed.size is None
    assert not mixed.is_discrete


def _conditional_space() -> DesignSpace:
    return DesignSpace(
        [
            Categorical("kernel", ["linear", "rbf", "poly"]),
            Real("gamma", 1e-3, 10.0, log=True, condition=Condition("kernel", ["rbf"])),
            Integer("degree", 1, 5, condition=Condition("kernel", ["poly"])),
            Ordinal("width", [1, 2, 4, 8, 16]),
            Integer("n", 0, 10),
        ],
        constraints=[Constraint("n * width <= 40", lambda d: d["n"] * d["width"] <= 40)],
    )


def test_sampled_actions_decode() -> None:
    space = _conditional_space()
    action_space = space.action_space(seed=3)
    assert set(action_space.spaces) == set(space.names)
    seen_forbidden = False
    for _ in range(300):
        design = space.from_action(action_space.sample(), check=False)
        assert_consistent(space, design)
        assert space.validate(design, check=False) == design
        seen_forbidden |= not space.contains(design)
    assert seen_forbidden  # the product action space does include forbidden combinations


def test_forbidden_combination_names_the_constraint() -> None:
    space = _conditional_space()
    design = {"kernel": "linear", "width": 16, "n": 10}
    with pytest.raises(ValueError, match=r"n \* width <= 40"):
        space.validate(design)
    with pytest.raises(ValueError, match=r"n \* width <= 40"):
        space.from_action(space.to_action(design, check=False))
    assert space.validate(design, check=False) == design
    assert not space.contains(design)
    assert space.contains({"kernel": "linear", "width": 4, "n": 10})


def test_impossible_constraint_makes_sample_fail() -> None:
    space = DesignSpace([Integer("n", 0, 3)], [Constraint("never", lambda d: False)])
    with pytest.raises(RuntimeError, match="never"):
        space.sample(np.random.default_rng(0), max_tries=20)


def test_default_design_is_legal() -> None:
    space = _conditional_space()
    design = space.default()
    assert space.validate(design) == design
    assert design["kernel"] == "linear"
    assert "gamma" not in design and "degree" not in design


def test_booleans_are_not_integers() -> None:
    assert DesignSpace([Categorical("c", [1, 2])]).contains({"c": 1})
    assert not DesignSpace([Categorical("c", [1, 2])]).contains({"c": True})
    assert not DesignSpace([Categorical("c", [True, False])]).contains({"c": 1})
    assert not DesignSpace([Integer("n", 0, 3)]).contains({"n": True})
    assert DesignSpace([Integer("n", 0, 3)]).validate({"n": np.int32(2)}) == {"n": 2}


def test_from_unit_needs_the_right_length() -> None:
    space = DesignSpace([Integer("n", 0, 3), Real("x", 0.0, 1.0)])
    with pytest.raises(ValueError, match="length 2"):
        space.from_unit([0.5])


def test_log_integer_unit_and_flat_round_trips_cover_every_value() -> None:
    space = DesignSpace([Integer("n", 1, 300, log=True)])
    for value in range(1, 301):
        assert space.from_unit(space.to_unit({"n": value})) == {"n": value}
        assert space.from_flat(space.to_flat({"n": value})) == {"n": value}
    flat = space.flat_space()
    assert flat.nvec.tolist() == [300]


def test_log_real_unit_encoding_is_logarithmic() -> None:
    space = DesignSpace([Real("lr", 1e-4, 1.0, log=True)])
    assert space.to_unit({"lr": 1e-2}) == pytest.approx([0.5])
    assert space.from_unit([0.25])["lr"] == pytest.approx(1e-3)


def test_huge_integer_ranges_never_enumerate_their_values(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(self: Integer) -> list[int]:
        raise AssertionError("values_list() enumerated an integer range")

    monkeypatch.setattr(Integer, "values_list", fail)
    space = DesignSpace([Integer("n", 0, 10**12), Integer("m", 1, 10**12, log=True)])
    design = space.sample(np.random.default_rng(0))
    assert space.from_unit(space.to_unit(design)) == design
    assert space.from_flat(space.to_flat(design)) == design
    assert space.from_action(space.to_action(design)) == design
