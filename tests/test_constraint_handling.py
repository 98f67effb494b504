"""Issue #26 item 2 for the evolutionary and library agents: what ``ga``/``nsga2`` (Deb's
constraint-domination), the pymoo adapters (``G``) and the Nevergrad adapters
(``constraint_violation``) make of outcome-constraint violations; failures stay worst;
reproducibility. (That every agent runs on a constrained env is tests/test_outcome_constraints.py.)
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import nevergrad as ng
import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import archgym
from archgym import OutcomeConstraint
from archgym.loop import problem_of, run
from archgym.search import EvalResult, Problem
from archgym.spaces import OUTCOME_VIOLATION, DesignSpace, Real, design_key

GRAMACY = "archgym/ConstrainedGramacy-v0"
DTLZ2 = "archgym/DTLZ2-v0"
DTLZ2_CONSTRAINED = {"outcome_constraints": {"f1": (">=", 0.6), "f2": (">=", 0.6)}}
GeneticAlgorithm = archgym.get_registry().agent("ga").load()
NSGA2 = archgym.get_registry().agent("nsga2").load()

# Two constraints, one with a bound of 0 (violation taken raw) and one relative to its bound.
CONSTRAINTS = (OutcomeConstraint("m1", "<=", 0.0), OutcomeConstraint("m2", ">=", -4.0))
SCALES = (1.0, 4.0)
SPACE = DesignSpace([Real("x", 0.0, 1.0), Real("y", 0.0, 1.0)])


def _problem(n_objectives: int = 1) -> Problem:
    return Problem(
        env_id="t/T-v0", design_space=SPACE, n_objectives=n_objectives, outcome_constraints=CONSTRAINTS
    )


def _rows(out: Path) -> list[dict[str, Any]]:
    return pq.read_table(out / "evaluations.parquet").sort_by("step").to_pylist()


# --- a reference statement of Deb's rules, independent of the agent's code ----------------------

# One evaluation: ("feasible", reward), ("violated", (v1, v2)) with some v > 0, or ("failed", None).
_violation = st.floats(-10.0, 10.0, allow_nan=False)
_outcome = st.one_of(
    st.tuples(st.just("feasible"), st.tuples(st.floats(-5, 5), st.floats(-5, 5))),
    st.tuples(st.just("violated"), st.tuples(_violation, _violation).filter(lambda v: max(v) > 0)),
    st.tuples(st.just("failed"), st.none()),
)


def _result(design: dict[str, float], kind: str, data: Any, n_objectives: int) -> EvalResult:
    if kind == "feasible":
        reward = np.array(data[:n_objectives]) if n_objectives > 1 else data[0]
        satisfied = {c.name: -1.0 for c in CONSTRAINTS}
        return EvalResult(design, reward, {}, True, 0.0, constraints=satisfied)
    penalty = np.full(n_objectives, 99.0) if n_objectives > 1 else 99.0  # above every reward
    if kind == "violated":
        violations = {c.name: v for c, v in zip(CONSTRAINTS, data, strict=True)}
        error = f"{OUTCOME_VIOLATION}: ..."
        return EvalResult(design, penalty, {}, False, 0.0, error=error, constraints=violations)
    nan = {c.name: math.nan for c in CONSTRAINTS}
    return EvalResult(design, penalty, {}, False, 0.0, error="simulator crashed", constraints=nan)


def _deb_key(kind: str, data: Any) -> tuple[int, float]:
    """Single objective: feasible by reward, above violated by total relative violation, above
    failed."""
    if kind == "feasible":
        return (2, data[0])
    if kind == "violated":
        return (1, -sum(max(0.0, v / s) for v, s in zip(data, SCALES, strict=True)))
    return (0, 0.0)


def _deb_dominates(a: tuple[str, Any], b: tuple[str, Any]) -> bool:
    (ka, da), (kb, db) = a, b
    if (ka == "feasible") != (kb == "feasible"):
        return ka == "feasible"
    if ka == "feasible":
        return all(x >= y for x, y in zip(da, db, strict=True)) and da != db
    if ka == "failed":
        return False
    return kb == "failed" or _deb_key(ka, da)[1] > _deb_key(kb, db)[1]


def _told(agent: Any, outcomes: list[tuple[str, Any]], n_objectives: int) -> dict[Any, tuple[str, Any]]:
    """Ask the agent for a population, tell it ``outcomes``; the outcome of each design."""
    designs = agent.ask(len(outcomes))
    agent.tell(designs, [_result(d, k, v, n_objectives) for d, (k, v) in zip(designs, outcomes, strict=True)])
    return {design_key(d): o for d, o in zip(designs, outcomes, strict=True)}


@settings(max_examples=60, deadline=None)
@given(outcomes=st.lists(_outcome, min_size=4, max_size=12))
def test_ga_ranks_by_debs_rules_and_failures_last(outcomes: list[tuple[str, Any]]) -> None:
    agent = GeneticAlgorithm(_problem(), seed=0, population=len(outcomes))
    by_design = _told(agent, outcomes, 1)
    # the population after the first tell is selBest of all of them: best first
    ranked = [by_design[design_key(agent.genome.decode(ind))] for ind in agent.population]
    keys = [_deb_key(*o) for o in ranked]
    assert keys == sorted(keys, reverse=True)
    fitnesses = [ind.fitness for ind in agent.population]
    for (a, fa), (b, fb) in itertools.pairwise(zip(keys, fitnesses, strict=True)):
        assert (fa > fb) == (a > b) and (fa == fb) == (a == b)


@settings(max_examples=40, deadline=None)
@given(outcomes=st.lists(_outcome, min_size=4, max_size=12))
def test_feasible_first_ranks_every_infeasible_one_alike(outcomes: list[tuple[str, Any]]) -> None:
    agent = GeneticAlgorithm(
        _problem(), seed=0, population=len(outcomes), constraint_handling="feasible_first"
    )
    _told(agent, outcomes, 1)
    infeasible = [ind.fitness for ind in agent.population if not ind.fitness.feasible]
    assert all(f == infeasible[0] for f in infeasible)
    assert all(ind.fitness.feasible for ind in agent.population[: len(outcomes) - len(infeasible)])


@settings(max_examples=40, deadline=None)
@given(outcomes=st.lists(_outcome, min_size=8, max_size=8))
def test_nsga2_dominance_is_debs_constraint_domination(outcomes: list[tuple[str, Any]]) -> None:
    agent = NSGA2(_problem(2), seed=0, population=8)
    by_design = _told(agent, outcomes, 2)
    told = [(by_design[design_key(agent.genome.decode(ind))], ind.fitness) for ind in agent.population]
    assert len(told) == 8
    for a, fa in told:
        for b, fb in told:
            assert fa.dominates(fb) == _deb_dominates(a, b), (a, b)


def test_deb_survival_keeps_the_designs_nearest_to_feasible() -> None:
    """(mu+lambda) of 4 from 8: the two feasible, then the two least violating; failures and the
    most violating are dropped."""
    agent = GeneticAlgorithm(_problem(), seed=0, population=4)
    _told(
        agent,
        [
            ("feasible", (1.0, 1.0)),
            ("violated", (5.0, -1.0)),
            ("violated", (0.1, -1.0)),
            ("violated", (0.0, 0.2)),
        ],
        1,
    )
    offspring = agent.ask(4)
    outcomes = [("feasible", (2.0, 2.0)), ("violated", (0.01, 0.0)), ("failed", None), ("failed", None)]
    agent.tell(offspring, [_result(d, *o, 1) for d, o in zip(offspring, outcomes, strict=True)])
    assert [ind.fitness.values[0] for ind in agent.population if ind.fitness.feasible] == [2.0, 1.0]
    violations = [ind.fitness.violation for ind in agent.population if not ind.fitness.feasible]
    assert violations == [pytest.approx(0.01), pytest.approx(0.05)]


@settings(max_examples=60, deadline=None)
@given(violations=st.tuples(_violation, _violation))
def test_violations_are_relative_to_each_bound(violations: tuple[float, float]) -> None:
    kind = "violated" if max(violations) > 0 else "feasible"
    data = violations if kind == "violated" else (0.0, 0.0)
    result = _result({"x": 0.5, "y": 0.5}, kind, data, 1)
    got = _problem().relative_violations(result)
    expected = [v / s for v, s in zip(data if kind == "violated" else (-1.0, -1.0), SCALES, strict=True)]
    assert got is not None and got.tolist() == pytest.approx(expected)
    assert _problem().relative_violations(_result({"x": 0.5, "y": 0.5}, "failed", None, 1)) is None


def test_constraint_handling_is_a_declared_hyperparameter_with_legal_values(tmp_path: Path) -> None:
    for name in ("ga", "nsga2"):
        parameter = {p.name: p for p in archgym.get_registry().agent(name).hyperparameters}[
            "constraint_handling"
        ]
        assert tuple(parameter.choices) == ("deb", "feasible_first") and parameter.default == "deb"
    with pytest.raises(ValueError, match=r"constraint_handling.*deb.*feasible_first"):
        run(
            env=GRAMACY,
            agent="ga",
            agent_params={"constraint_handling": "penalty"},
            budget=4,
            seed=0,
            out=tmp_path / "r",
            progress=False,
        )


# --- pymoo: violations as G ----------------------------------------------------------------------


def _gramacy_violations(x: np.ndarray) -> tuple[float, float, float]:
    x1, x2 = float(x[0]), float(x[1])
    gap = 1.5 - x1 - 2 * x2 - 0.5 * math.sin(2 * math.pi * (x1 * x1 - 2 * x2))
    return x1 + x2, gap, (x1 * x1 + x2 * x2 - 1.5) / 1.5


@pytest.mark.parametrize("name", ["ga", "nsga2"])
def test_pymoo_is_told_violations_as_g_like_a_native_constrained_problem(name: str, tmp_path: Path) -> None:
    """pymoo.optimize.minimize on Gramacy written as a pymoo user writes a constrained problem
    (two inequality constraints, the radius one normalised by its bound) proposes exactly what the
    adapter proposes: the adapter tells the same F and G."""
    from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2
    from pymoo.algorithms.soo.nonconvex.ga import GA
    from pymoo.core.problem import ElementwiseProblem
    from pymoo.optimize import minimize

    native: list[tuple[float, float]] = []

    class Gramacy(ElementwiseProblem):
        def __init__(self) -> None:
            super().__init__(n_var=2, n_obj=1, n_ieq_constr=2, xl=0.0, xu=1.0)

        def _evaluate(self, x: np.ndarray, out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
            native.append((float(x[0]), float(x[1])))
            value, gap, radius = _gramacy_violations(x)
            out["F"], out["G"] = [value], [gap, radius]

    algorithm = {"ga": GA, "nsga2": PymooNSGA2}[name](pop_size=8)
    minimize(Gramacy(), algorithm, ("n_eval", 40), seed=3)
    run(env=GRAMACY, agent=f"pymoo.{name}", agent_params={"pop_size": 8}, budget=40, seed=3, out=tmp_path)
    rows = _rows(tmp_path)
    assert {r["feasible"] for r in rows} == {True, False}
    assert [(r["param.x1"], r["param.x2"]) for r in rows] == native


def test_pymoo_g_holds_violations_and_failures_are_worst() -> None:
    from archgym_agents.pymoo_algorithms import GA

    problem = problem_of(gym.make(GRAMACY), GRAMACY)
    agent = GA(problem, seed=0, pop_size=6)
    assert agent.algorithm.problem.n_ieq_constr == 2
    designs = agent.ask(agent.batch_size)
    population = agent._generation
    env = gym.make(GRAMACY)
    results = []
    for design in designs:
        env.reset(seed=0)
        _, reward, _, _, info = env.step(env.unwrapped.design_space.to_action(design))
        results.append(
            EvalResult(
                design,
                reward,
                info["metrics"],
                info["feasible"],
                0.0,
                error=info.get("error"),
                constraints=info["constraints"],
            )
        )
    results[-1] = EvalResult(designs[-1], -2.0, {}, False, 0.0, error="crashed", constraints={})
    assert {r.feasible for r in results[:-1]} == {True, False}
    agent.tell(designs, results)
    G, F = population.get("G"), population.get("F")
    for i, design in enumerate(designs[:-1]):
        value, gap, radius = _gramacy_violations(np.array([design["x1"], design["x2"]]))
        assert G[i].tolist() == pytest.approx([gap, radius]) and F[i, 0] == pytest.approx(value)
    assert np.isinf(G[-1]).all() and np.isinf(F[-1]).all()


def test_moead_has_no_constraints_and_keeps_working(tmp_path: Path) -> None:
    from archgym_agents.pymoo_algorithms import MOEAD

    problem = problem_of(gym.make(DTLZ2, **DTLZ2_CONSTRAINED), DTLZ2)
    assert len(problem.outcome_constraints) == 2
    assert MOEAD(problem, seed=0).algorithm.problem.n_ieq_constr == 0
    summary = run(
        env=DTLZ2, env_kwargs=DTLZ2_CONSTRAINED, agent="pymoo.moead", budget=30, seed=0, out=tmp_path
    )
    rows = _rows(tmp_path)
    assert summary["n_evaluations"] == 30 and {r["feasible"] for r in rows} == {True, False}


# --- Nevergrad: violations as constraint_violation ---------------------------------------------


@pytest.mark.parametrize("optimizer", ["TwoPointsDE", "OnePlusOne"])
def test_nevergrad_is_told_violations_like_its_own_minimize(optimizer: str, tmp_path: Path) -> None:
    """Nevergrad's ``minimize(loss, constraint_violation=[...])`` on Gramacy (the radius constraint
    normalised by its bound) proposes exactly what the adapter proposes: it tells the same losses
    and violations."""
    budget, native = 30, []
    parametrization = ng.p.Dict(x1=ng.p.Scalar(lower=0.0, upper=1.0), x2=ng.p.Scalar(lower=0.0, upper=1.0))
    parametrization.random_state = np.random.RandomState(2)
    opt = ng.optimizers.registry[optimizer](parametrization=parametrization, budget=budget)

    def loss(design: dict[str, float]) -> float:
        native.append((float(design["x1"]), float(design["x2"])))
        return _gramacy_violations(np.array([design["x1"], design["x2"]]))[0]

    def gap(design: dict[str, float]) -> float:
        return _gramacy_violations(np.array([design["x1"], design["x2"]]))[1]

    def radius(design: dict[str, float]) -> float:
        return _gramacy_violations(np.array([design["x1"], design["x2"]]))[2]

    opt.minimize(loss, constraint_violation=[gap, radius])
    agent = f"nevergrad.{optimizer.lower()}"
    run(env=GRAMACY, agent=agent, agent_params={"budget": budget}, budget=budget, seed=2, out=tmp_path)
    rows = _rows(tmp_path)
    assert {r["feasible"] for r in rows} == {True, False}
    assert [(r["param.x1"], r["param.x2"]) for r in rows] == native


def test_nevergrad_never_recommends_a_violating_design_and_a_failure_stays_failed() -> None:
    from archgym_agents.nevergrad_optimizers import NGOnePlusOne

    problem = problem_of(gym.make(GRAMACY), GRAMACY)
    agent = NGOnePlusOne(problem, seed=0, budget=8)
    designs = agent.ask(1)
    # a violating design with the best objective of all is told with its violation: not a best
    violating = EvalResult(
        designs[0],
        -2.0,
        {"value": 0.01, "gap": 1.0, "radius2": 0.0},
        False,
        0.0,
        error=f"{OUTCOME_VIOLATION}: gap <= 0",
        constraints={"gap_max": 1.0, "radius2_max": -1.5},
    )
    agent.tell(designs, [violating])
    told = []
    original = agent.optimizer.tell
    agent.optimizer.tell = lambda c, loss, constraint_violation=None: (
        told.append((loss, constraint_violation)),
        original(c, loss, constraint_violation=constraint_violation),
    )
    designs = agent.ask(2)
    feasible = EvalResult(
        designs[0], -0.9, {"value": 0.9}, True, 0.0, constraints={"gap_max": -0.5, "radius2_max": -0.3}
    )
    failed = EvalResult(designs[1], -2.0, {}, False, 0.0, error="crashed", constraints={})
    agent.tell(designs, [feasible, failed])
    assert told == [(0.9, pytest.approx([-0.5, -0.2])), (math.inf, [1.0])]
    assert agent.optimizer.recommend().value == pytest.approx(designs[0])


# --- reproducibility and a constrained multi-objective run ---------------------------------------


@pytest.mark.parametrize(
    ("agent", "env", "env_kwargs"),
    [
        ("ga", GRAMACY, None),
        ("nsga2", DTLZ2, DTLZ2_CONSTRAINED),
        ("pymoo.nsga2", DTLZ2, DTLZ2_CONSTRAINED),
        ("nevergrad.twopointsde", GRAMACY, None),
    ],
)
def test_same_seed_same_run_on_a_constrained_env(
    agent: str, env: str, env_kwargs: Any, tmp_path: Path
) -> None:
    runs = []
    for i in range(2):
        run(
            env=env,
            env_kwargs=env_kwargs,
            agent=agent,
            budget=40,
            seed=5,
            out=tmp_path / str(i),
            progress=False,
        )
        runs.append(
            [
                {k: v for k, v in r.items() if k.startswith(("param.", "constraint."))}
                for r in _rows(tmp_path / str(i))
            ]
        )
    assert runs[0] == runs[1]
    assert any(v > 0 for r in runs[0] for k, v in r.items() if k.startswith("constraint."))


def test_deb_and_feasible_first_differ_where_infeasible_designs_compete(tmp_path: Path) -> None:
    """On Gramacy tightened to about 0.5 % feasible, infeasible individuals stay in ga's population
    and the two rules pick different parents: the runs part ways."""
    tight = {"outcome_constraints": {"radius2": ("<=", 0.25)}}
    designs = {}
    for mode in ("deb", "feasible_first"):
        run(
            env=GRAMACY,
            env_kwargs=tight,
            agent="ga",
            agent_params={"constraint_handling": mode},
            budget=40,
            seed=1,
            out=tmp_path / mode,
            progress=False,
        )
        designs[mode] = [(r["param.x1"], r["param.x2"]) for r in _rows(tmp_path / mode)]
    assert designs["deb"][:8] == designs["feasible_first"][:8]  # the same initial population
    assert designs["deb"] != designs["feasible_first"]
