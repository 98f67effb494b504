"""Grid search: exhaustive, lazy enumeration of the (discretised) conditional grid."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import gymnasium as gym
import pyarrow.parquet as pq
import pytest

import archgym
from archgym.loop import build_agent, problem_of, run
from archgym.search import Problem
from archgym.spaces import Condition, Constraint, DesignSpace, Integer, Real

# Via the registry (``import archgym`` first): importing an agent module before archgym is
# circular, since ``import archgym`` loads the agent plugin.
_grid = sys.modules[archgym.get_registry().agent("grid").load().__module__]
Grid = _grid.Grid
GridSearch = _grid.GridSearch
real_levels = _grid.real_levels

MIXED = "archgym/MixedConditional-v0"
H6 = "archgym/Hartmann6-v0"


def records(out: Path) -> list[dict]:
    return sorted(pq.read_table(out / "evaluations.parquet").to_pylist(), key=lambda r: r["step"])


def columns(rows: list[dict], prefixes: tuple[str, ...]) -> list[dict]:
    return [{k: v for k, v in r.items() if k.startswith(prefixes)} for r in rows]


def designs(rows: list[dict]) -> list[dict]:
    return [{k[6:]: v for k, v in r.items() if k.startswith("param.") and v is not None} for r in rows]


def key(design: dict) -> tuple:
    return tuple(sorted(design.items()))


def problem(env_id: str, **kwargs: object) -> Problem:
    return problem_of(gym.make(env_id, **kwargs), env_id)


def brute_force(space: DesignSpace, points_per_real: int) -> list[dict]:
    """Every design (forbidden ones included), first parameter slowest."""
    found: list[dict] = [{}]
    for p in space:
        if isinstance(p, Real):
            levels: list = real_levels(p, points_per_real)
        elif isinstance(p, Integer):
            levels = list(range(p.low, p.high + 1))
        else:
            levels = p.values_list()  # type: ignore[attr-defined]
        found = [
            d if p.condition is not None and not p.condition.holds(d) else {**d, p.name: v}
            for d in found
            for v in (levels if p.condition is None or p.condition.holds(d) else [None])
        ]
    return found


def test_real_levels_are_even_and_log_spaced() -> None:
    assert real_levels(Real("x", -5.0, 5.0), 3) == [-5.0, 0.0, 5.0]
    assert real_levels(Real("g", 1e-3, 10.0, log=True), 3) == pytest.approx([1e-3, 0.1, 10.0])
    log = real_levels(Real("g", 1e-3, 10.0, log=True), 5)
    assert log[0] == 1e-3 and log[-1] == 10.0


def test_grid_matches_brute_force_and_conditions_do_not_multiply() -> None:
    space = problem(MIXED).design_space
    grid = Grid(space, 3)
    expected = brute_force(space, 3)
    # x: 3, n: 11, kernel: linear 1 + rbf 3 gammas + poly 5 degrees = 9, width: 7
    assert grid.size == len(expected) == 3 * 11 * 9 * 7
    assert [grid.design(i) for i in range(grid.size)] == expected
    with pytest.raises(IndexError):
        grid.design(grid.size)


def test_grid_size_of_huge_condition_parent_is_counted_without_enumerating() -> None:
    space = DesignSpace(
        [
            Integer("a", 0, 10**9),
            Integer("b", 0, 9, condition=Condition("a", [0, 5])),
            Real("x", 0.0, 1.0, condition=Condition("b", [3])),
        ]
    )
    # a ∉ {0, 5}: one design each; a ∈ {0, 5}: b's 10 values, of which b = 3 brings 4 x values
    assert Grid(space, 4).size == (10**9 + 1 - 2) + 2 * (9 + 4)


def test_full_pass_visits_every_legal_design_once_and_finds_the_grid_optimum(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # exhausting the grid exactly must not warn
        summary = run(
            env=MIXED,
            agent="grid",
            budget=1728,
            seed=0,
            out=tmp_path / "g",
            agent_params={"points_per_real": 3, "order": "lexicographic"},
            progress=False,
        )
    rows = records(tmp_path / "g")
    assert len(rows) == 1728  # 2079 grid designs less the forbidden n * width > 160
    assert len({key(d) for d in designs(rows)}) == 1728 and all(r["feasible"] for r in rows)
    space = problem(MIXED).design_space
    legal = [d for d in brute_force(space, 3) if not space.violated(d)]
    assert designs(rows) == legal  # lexicographic order, forbidden combinations skipped
    assert summary["best_reward"] == pytest.approx(-1.0)  # x=0, n=3, rbf, gamma=0.1, width=8
    assert summary["agent_summary"] == {"grid_size": 2079, "grid_exhausted": True, "legal_designs": 1728}


def test_budget_and_reproducibility_and_order(tmp_path: Path) -> None:
    def rows_of(name: str, **params: object) -> list[dict]:
        seed = params.pop("seed", 3)
        run(
            env=H6,
            env_kwargs={"levels": 3},
            agent="grid",
            budget=100,
            seed=seed,
            out=tmp_path / name,
            agent_params=params,
            progress=False,
        )
        return records(tmp_path / name)

    a, b, c = rows_of("a"), rows_of("b"), rows_of("c", seed=4)
    assert len(a) == 100 and [r["step"] for r in a] == list(range(100))
    keep = ("param.", "reward")
    assert columns(a, keep) == columns(b, keep)
    assert columns(a, ("param.",)) != columns(c, ("param.",))
    assert len({key(d) for d in designs(a)}) == 100  # a sample of the 729 designs without repeats
    lex = rows_of("lex", order="lexicographic")
    zeros = {"x1": 0.0, "x2": 0.0, "x3": 0.0, "x4": 0.0}
    assert designs(lex)[:4] == [  # first parameter slowest
        {**zeros, "x5": 0.0, "x6": 0.0},
        {**zeros, "x5": 0.0, "x6": 0.5},
        {**zeros, "x5": 0.0, "x6": 1.0},
        {**zeros, "x5": 0.5, "x6": 0.0},
    ]
    assert columns(lex, ("param.",)) != columns(a, ("param.",))
    batches = rows_of("batch", batch_size=25)
    assert max(r["slot"] for r in batches) == 24 and max(r["slot"] for r in a) == 7


def test_exhausted_grid_restarts_from_the_beginning_and_warns_once(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="grid search") as caught:
        summary = run(
            env=H6,
            env_kwargs={"levels": 2},
            agent="grid",
            budget=150,
            seed=1,
            out=tmp_path / "r",
            progress=False,
        )
    assert sum("grid search" in str(w.message) for w in caught) == 1
    rows = designs(records(tmp_path / "r"))
    assert len(rows) == 150
    assert len({key(d) for d in rows[:64]}) == 64  # the whole 2^6 grid first
    assert rows[64:128] == rows[:64] and rows[128:] == rows[:22]  # then the same order again
    assert summary["agent_summary"]["grid_exhausted"] is True


def test_grid_too_large_is_refused_naming_the_hyperparameters(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_designs=100000"):
        run(
            env=H6,
            env_kwargs={"levels": 11},
            agent="grid",
            budget=5,
            seed=0,
            out=tmp_path / "a",
            progress=False,
        )  # 11^6 designs
    with pytest.raises(ValueError, match="points_per_real"):
        run(
            env=MIXED,
            agent="grid",
            budget=5,
            seed=0,
            out=tmp_path / "b",
            progress=False,
            agent_params={"points_per_real": 100, "max_designs": 1000},
        )
    summary = run(
        env=H6,
        env_kwargs={"levels": 11},
        agent="grid",
        budget=5,
        seed=0,
        out=tmp_path / "c",
        agent_params={"max_designs": 2_000_000},
        progress=False,
    )
    assert summary["n_evaluations"] == 5


def test_incompatible_when_even_the_coarsest_grid_is_too_large() -> None:
    huge = Problem(
        env_id="huge",
        n_objectives=1,
        design_space=DesignSpace([Integer("a", 0, 10**6), Integer("b", 0, 10**6)]),
    )
    assert "points_per_real=2" in (GridSearch.incompatibility(huge) or "")
    with pytest.raises(ValueError, match="can't search huge"):
        build_agent("grid", {}, huge, seed=0)
    assert GridSearch.incompatibility(problem(MIXED)) is None


def _never(design: object) -> bool:
    return False


def test_all_forbidden_grid_is_an_error() -> None:
    space = DesignSpace([Integer("a", 0, 3)], constraints=[Constraint("never", _never)])
    with pytest.raises(ValueError, match="forbidden"):
        GridSearch(Problem(env_id="none", design_space=space, n_objectives=1), seed=0)


def test_multi_objective_env(tmp_path: Path) -> None:
    summary = run(
        env="archgym/DTLZ2-v0",
        agent="grid",
        budget=20,
        seed=0,
        out=tmp_path / "m",
        agent_params={"points_per_real": 3},
        progress=False,
    )
    assert summary["n_evaluations"] == 20
    assert summary["agent_summary"]["grid_size"] == 3**6


def test_registered() -> None:
    spec = archgym.get_registry().agent("grid")
    assert spec.resolve({}) == {
        "batch_size": 8,
        "points_per_real": 5,
        "max_designs": 100_000,
        "order": "shuffled",
    }
