"""What the env base gives every env's constructor: misspelt keywords named with the closest legal
one, declared arguments validated, the arguments it was built with kept, and backends."""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import pytest

import archgym
from archgym import Categorical, DesignEnv, DesignSpace, EvalContext, Integer, Objective, Objectives, Real
from archgym.entrypoints import load_entry_point
from archgym.env import backend_specs

BUILT_IN = sorted(env_id for env_id in gym.registry if env_id.startswith("archgym/"))


def _typo(name: str) -> str:
    """``name`` with two neighbouring letters swapped (or one doubled): a realistic misspelling."""
    for i in range(len(name) - 1):
        if name[i] != name[i + 1] and name[i].isalpha() and name[i + 1].isalpha():
            return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    return name + name[-1]


@pytest.mark.parametrize("env_id", BUILT_IN)
def test_every_env_names_a_misspelt_argument_and_suggests_the_closest(env_id: str) -> None:
    cls = load_entry_point(gym.spec(env_id).entry_point)
    assert issubclass(cls, DesignEnv), env_id
    own = [n for n in list(inspect.signature(cls.__init__).parameters)[1:] if not n.startswith("_")]
    options = [o for spec in backend_specs().values() for o in spec.options]
    target = own[0] if own else "backend"
    typo = _typo(target)
    assert typo not in own
    with pytest.raises(ValueError) as caught:
        gym.make(env_id, **{typo: 1})
    message = str(caught.value)
    assert f"unknown constructor argument {typo!r} (did you mean {target!r}?)" in message, message
    listed = re.search(r"legal: (\[.*\])", message)
    assert listed is not None, message
    assert set(eval(listed.group(1))) == {*own, "backend", "outcome_constraints", *options}  # the base's too


class _Declared(DesignEnv):
    arguments: ClassVar = (Integer("size", 1, 64), Categorical("mode", ["fast", "exact"]), Real("tol", 0, 1))

    def __init__(self, size: int = 4, mode: str = "fast", tol: float | None = None) -> None:
        self.seen = (size, mode, tol)
        super().__init__(
            design_space=DesignSpace([Real("x", 0, 1)]),
            metrics={"f": "1"},
            objective=Objectives([Objective("f", "min")], penalty=-1.0),
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        return {"f": design["x"] * self.seen[0]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 0}, "_Declared: size: 0 is not legal; legal values: integers in [1, 64]"),
        ({"size": 10**30}, f"_Declared: size: {10**30} is not legal"),
        ({"size": True}, "_Declared: size: True is not legal"),
        ({"mode": "slow"}, "_Declared: mode: 'slow' is not legal; legal values: one of ['fast', 'exact']"),
        (
            {"tol": float("nan")},
            "_Declared: tol: nan is not legal; legal values: reals in [0.0, 1.0] or None",
        ),
        ({"tol": float("inf")}, "_Declared: tol: inf is not legal"),
    ],
)
def test_declared_arguments_are_validated_before_the_constructor_runs(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        _Declared(**kwargs)


def test_the_arguments_an_env_was_built_with_are_kept_with_defaults() -> None:
    env = _Declared(size=8.0, tol=None)  # type: ignore[arg-type]
    assert env.seen == (8, "fast", None) and isinstance(env.seen[0], int)  # canonical type
    assert env.constructor_kwargs == {"size": 8, "mode": "fast", "tol": None}
    assert _Declared.complete_kwargs({"mode": "exact"}) == {"size": 4, "mode": "exact", "tol": None}


def test_evaluate_on_answers_from_a_named_backend_of_the_same_instance() -> None:
    env = gym.make("archgym/Branin-v0")
    inner = env.unwrapped
    design = {"x1": 3.14159, "x2": 2.275}
    env.reset(seed=0)
    info = env.step(inner.design_space.to_action(design))[4]
    assert inner.evaluate_on("simulator", design) == info["metrics"]
    assert inner.backend == "simulator" and inner.active_backend is None
    with pytest.raises(
        ValueError, match=r"backend: 'tables' is not legal for Branin; legal values: \['simulator'"
    ):
        inner.evaluate_on("tables", design)
    with pytest.raises(ValueError, match="x1"):
        inner.evaluate_on("simulator", {"x1": 99.0, "x2": 0.0})


def test_an_unknown_backend_is_refused_before_the_env_is_built() -> None:
    with pytest.raises(
        ValueError, match=r"backend: 'tables' is not legal for _Declared; legal values: \['simulator', "
    ):
        _Declared(backend="tables")  # type: ignore[call-arg]
    assert "proxy" in archgym.get_registry().backends
