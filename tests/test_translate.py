"""The one space-translation module (``archgym_agents.translate``): each parameter kind to a
library's view and back, conditions, forbidden combinations, and Optuna's distributions."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from archgym.spaces import Categorical, Condition, Constraint, DesignSpace, Integer, Ordinal, Real, Text
from archgym_agents.translate import (
    design_from_full,
    dimension,
    dimensions,
    forbidden_rules,
    from_library,
    optuna_distributions,
    optuna_params,
    optuna_suggest,
    to_library,
)


def _small(design: dict) -> bool:
    return design["n"] <= 4 or design["width"] < 16


SPACE = DesignSpace(
    [
        Integer("n", 1, 8),
        Integer("units", 1, 1024, log=True),
        Real("lr", 1e-4, 1e-1, log=True),
        Real("x", -1.0, 1.0),
        Categorical("solver", ["sa", "rs"]),
        Integer("presmooth", 1, 4, condition=Condition("solver", ["sa"])),
        Ordinal("width", [1, 2, 4, 8, 16, 32]),
    ],
    constraints=[Constraint("n <= 4 or width < 16", _small)],
)


def test_each_kind_has_one_library_view() -> None:
    dims = {d.name: d for d in dimensions(SPACE)}
    assert [d.name for d in dimensions(SPACE)] == SPACE.names  # declared order: parents first
    assert (dims["n"].kind, dims["n"].low, dims["n"].high, dims["n"].log) == ("int", 1, 8, False)
    assert (dims["units"].kind, dims["units"].log) == ("int", True)
    assert (dims["lr"].kind, dims["lr"].log) == ("real", True)
    assert dims["solver"].kind == "categorical" and dims["solver"].choices == ("sa", "rs")
    assert (dims["width"].kind, dims["width"].low, dims["width"].high) == ("int", 0, 5)  # the index
    assert dims["presmooth"].conditional and not dims["n"].conditional
    with pytest.raises(ValueError, match=r"parameter 'note': Text has no search-space translation"):
        dimension(Text("note"))


def test_ordinals_go_by_index_and_values_come_back_validated() -> None:
    width = SPACE["width"]
    assert to_library(width, 16) == 4 and from_library(width, 4) == 16
    with pytest.raises(ValueError, match=r"parameter 'width': 6 is not an index in \[0, 5\]"):
        from_library(width, 6)
    with pytest.raises(ValueError, match=r"parameter 'n': 9 is out of the design space; legal values"):
        from_library(SPACE["n"], 9)


def test_libraries_without_conditions_sample_everything_and_inactive_values_are_dropped() -> None:
    full = {"n": 2, "units": 64, "lr": 0.01, "x": 0.0, "solver": "rs", "presmooth": 3, "width": 5}
    design = design_from_full(SPACE, full)
    assert "presmooth" not in design and design["width"] == 32
    assert design_from_full(SPACE, full | {"solver": "sa"})["presmooth"] == 3


def test_forbidden_rules_are_named_by_the_space_own_check() -> None:
    design = {"n": 8, "units": 64, "lr": 0.01, "x": 0.0, "solver": "rs", "width": 32}
    assert forbidden_rules(SPACE, design) == ["n <= 4 or width < 16"]
    assert forbidden_rules(SPACE, design | {"n": 2}) == []
    assert design_from_full(SPACE, {**design, "width": 5}) == design  # returned; the adapter decides


def test_optuna_distributions_and_params() -> None:
    dists = optuna_distributions(SPACE)
    assert dists["units"] == IntDistribution(1, 1024, log=True)
    assert dists["lr"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert dists["solver"] == CategoricalDistribution(("sa", "rs"))
    assert dists["width"] == IntDistribution(0, 5)
    design = {"n": 2, "units": 64, "lr": 0.01, "x": 0.5, "solver": "rs", "width": 8}
    params, active = optuna_params(SPACE, design)
    assert params == {"n": 2, "units": 64, "lr": 0.01, "x": 0.5, "solver": "rs", "width": 3}
    assert list(active) == list(params)  # no distribution for the inactive 'presmooth'


def test_optuna_suggests_define_by_run_and_round_trips() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        trial = study.ask()
        design = optuna_suggest(trial, SPACE)
        assert set(trial.params) == set(design)
        assert ("presmooth" in design) == (design["solver"] == "sa")
        assert SPACE.validate(design, check=False) == design
        assert optuna_params(SPACE, design)[0] == trial.params
        study.tell(trial, 0.0)
