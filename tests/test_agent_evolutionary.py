"""The DEAP agents ``ga`` and ``nsga2``: driven through the loop, plus the ask/tell details that
could silently go wrong (types, conditions, forbidden combinations, feasibility first)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import archgym  # registers the envs and agents
from archgym.loop import run
from archgym.search import EvalResult, Problem
from archgym.spaces import Categorical, Condition, Constraint, DesignSpace, Integer, Ordinal, Real

# Through the registry: importing archgym_agents.* before archgym would break the plugin's load.
GeneticAlgorithm = archgym.plugins.get_registry().agent("ga").load()
NSGA2 = archgym.plugins.get_registry().agent("nsga2").load()

MIXED = "archgym/MixedConditional-v0"
DTLZ2 = "archgym/DTLZ2-v0"


def records(out: Path) -> list[dict]:
    return sorted(pq.read_table(out / "evaluations.parquet").to_pylist(), key=lambda r: r["step"])


def columns(rows: list[dict], prefixes: tuple[str, ...] = ("param.", "reward")) -> list[dict]:
    return [{k: v for k, v in r.items() if k.startswith(prefixes)} for r in rows]


def _small_sum(design: dict) -> bool:
    return design["a"] + design["b"] <= 6


# Every gene type, a log real, a log integer, a condition and a tight forbidden combination.
SPACE = DesignSpace(
    [
        Real("lr", 1e-4, 1.0, log=True),
        Integer("a", 0, 10),
        Integer("b", 0, 10),
        Integer("units", 1, 1024, log=True),
        Categorical("kind", ["x", "y", "z"]),
        Real("gamma", -1.0, 1.0, condition=Condition("kind", ["y"])),
        Ordinal("width", [1, 2, 4, 8, 16]),
    ],
    constraints=[Constraint("a + b <= 6", _small_sum)],
)


def _score(design: dict) -> float:
    return -abs(np.log10(design["lr"]) + 2) - abs(design["a"] - 3) - design["width"] / 16


def _drive(agent, generations: int, score=_score) -> list[dict]:
    proposed = []
    for _ in range(generations):
        designs = agent.ask(agent.batch_size)
        proposed += designs
        results = [
            EvalResult(design=d, reward=score(d), metrics={}, feasible=True, eval_time_s=0.0) for d in designs
        ]
        agent.tell(designs, results)
    return proposed


@pytest.mark.parametrize("agent", ["ga", "nsga2"])
def test_runs_to_budget_and_same_seed_same_designs(agent: str, tmp_path: Path) -> None:
    env = MIXED if agent == "ga" else DTLZ2
    budget = 45  # not a multiple of the population: the last generation is cut short

    def rows_of(name: str, seed: int, global_seed: int) -> list[dict]:
        random.seed(global_seed)  # the agent's randomness must not come from the global state
        summary = run(env=env, agent=agent, budget=budget, seed=seed, out=tmp_path / name, progress=False)
        assert summary["n_evaluations"] == budget
        return records(tmp_path / name)

    a, b, c = rows_of("a", 3, 0), rows_of("b", 3, 1), rows_of("c", 4, 0)
    assert [r["step"] for r in a] == list(range(budget))
    assert columns(a) == columns(b)
    assert columns(a, ("param.",)) != columns(c, ("param.",))
    default_population = 8 if agent == "ga" else 20
    assert sum(r["batch"] == 0 for r in a) == default_population  # batch = population


def test_ga_hyperparameters_change_behaviour(tmp_path: Path) -> None:
    def params_of(name: str, **agent_params: object) -> list[dict]:
        run(
            env=MIXED,
            agent="ga",
            budget=40,
            seed=0,
            out=tmp_path / name,
            agent_params=agent_params,
            progress=False,
        )
        return records(tmp_path / name)

    base = params_of("base")
    larger = params_of("larger", population=12)
    assert sum(r["batch"] == 0 for r in larger) == 12  # batch = population
    assert columns(larger, ("param.",)) != columns(base, ("param.",))
    for name, params in {
        "random": {"selection": "random"},
        "gen": {"survival": "generational"},
        "mut": {"mutpb": 0.2, "indpb": 0.05},
        "eta": {"eta": 90.0},
    }.items():
        assert columns(params_of(name, **params), ("param.",)) != columns(base, ("param.",)), name
    with pytest.raises(ValueError, match="survival"):
        params_of("bad", survival="comma")


def test_offspring_respect_types_conditions_and_forbidden_combinations() -> None:
    problem = Problem(env_id="test/Space-v0", design_space=SPACE, n_objectives=1)
    agent = GeneticAlgorithm(problem, seed=1, population=12)
    proposed = _drive(agent, 8)
    assert len(proposed) == 96
    for design in proposed:
        assert SPACE.validate(design) == design  # legal, canonical, no forbidden combination
        assert design["a"] + design["b"] <= 6
        assert ("gamma" in design) == (design["kind"] == "y")
        assert type(design["a"]) is int and type(design["units"]) is int
        assert type(design["lr"]) is float and 1e-4 <= design["lr"] <= 1.0
    assert {d["kind"] for d in proposed[12:]} == {"x", "y", "z"}  # offspring explore every choice
    assert len({tuple(sorted(d.items())) for d in proposed}) == len(proposed)  # no repeats
    # the search works: later generations are better than the initial population
    assert max(map(_score, proposed[-24:])) > max(map(_score, proposed[:12]))


def test_small_discrete_space_is_not_evaluated_twice_while_new_designs_remain(tmp_path: Path) -> None:
    out = tmp_path / "h6"
    run(
        env="archgym/Hartmann6-v0",
        env_kwargs={"levels": 2},
        agent="ga",
        budget=48,
        seed=0,
        out=out,
        progress=False,
    )  # 64 designs in all
    rows = records(out)
    assert {r["param.x1"] for r in rows} <= {0.0, 1.0}
    assert len({tuple(v for k, v in r.items() if k.startswith("param.")) for r in rows}) == 48


def _results(designs, rewards, feasible):
    return [
        EvalResult(design=d, reward=r, metrics={}, feasible=f, eval_time_s=0.0)
        for d, r, f in zip(designs, rewards, feasible, strict=True)
    ]


def test_ga_ranks_infeasible_below_feasible_whatever_their_penalty() -> None:
    space = DesignSpace([Real("x", 0.0, 1.0), Real("y", 0.0, 1.0)])
    agent = GeneticAlgorithm(
        Problem(env_id="t/T-v0", design_space=space, n_objectives=1), seed=0, population=4
    )
    designs = agent.ask(4)
    # a penalty above every feasible reward must not make the infeasible designs parents
    agent.tell(designs, _results(designs, [1e6, -5.0, 1e6, -7.0], [False, True, False, True]))
    assert [ind.fitness.feasible for ind in agent.population][:2] == [True, True]
    offspring = agent.ask(4)
    agent.tell(offspring, _results(offspring, [-1.0, -2.0, 1e6, -3.0], [True, True, False, True]))
    assert all(ind.fitness.feasible for ind in agent.population)
    assert [ind.fitness.values[0] for ind in agent.population] == [-1.0, -2.0, -3.0, -5.0]


def test_nsga2_constraint_domination_and_pareto_survival() -> None:
    space = DesignSpace([Real("x", 0.0, 1.0), Real("y", 0.0, 1.0)])
    agent = NSGA2(Problem(env_id="t/T-v0", design_space=space, n_objectives=2), seed=0, population=4)
    designs = agent.ask(8)
    rewards = [
        np.array(r)
        for r in (
            [9.0, 9.0],
            [0.0, -1.0],
            [-1.0, 0.0],
            [-2.0, -2.0],
            [9.0, 9.0],
            [-3.0, -3.0],
            [-0.5, -0.5],
            [-4.0, -4.0],
        )
    ]
    feasible = [False, True, True, True, False, True, True, True]
    agent.tell(designs, _results(designs, rewards, feasible))
    kept = sorted(tuple(ind.fitness.values) for ind in agent.population)
    # the non-dominated feasible three, then the best of the next front; infeasible never kept
    assert kept == [(-2.0, -2.0), (-1.0, 0.0), (-0.5, -0.5), (0.0, -1.0)]
    assert len(agent.ask(4)) == 4


def test_nsga2_improves_on_its_initial_population(tmp_path: Path) -> None:
    summary = run(env=DTLZ2, agent="nsga2", budget=120, seed=0, out=tmp_path / "d", progress=False)
    rows = records(tmp_path / "d")
    first = [np.hypot(r["metric.f1"], r["metric.f2"]) for r in rows[:20]]
    last = [np.hypot(r["metric.f1"], r["metric.f2"]) for r in rows[-20:]]
    assert np.median(last) < np.median(first)  # offspring move towards the front (radius 1)
    assert summary["hypervolume"] > 0 and summary["agent_summary"]["generations"] == 6


def test_tell_history_of_designs_it_did_not_ask() -> None:
    problem = Problem(env_id="test/Space-v0", design_space=SPACE, n_objectives=1)
    agent = GeneticAlgorithm(problem, seed=0, population=6)
    rng = np.random.default_rng(5)
    outside = [SPACE.sample(rng) for _ in range(10)]
    agent.tell_history(outside, _results(outside, [_score(d) for d in outside], [True] * 10))
    assert len(agent.population) == 6
    assert all(SPACE.contains(d) for d in agent.ask(6))


def test_incompatible_problems_and_illegal_hyperparameters(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"agent 'ga' can't search archgym/DTLZ2-v0.*nsga2"):
        run(env=DTLZ2, agent="ga", budget=4, seed=0, out=tmp_path / "a", progress=False)
    with pytest.raises(ValueError, match=r"agent 'nsga2' can't search .*multi-objective"):
        run(env=MIXED, agent="nsga2", budget=4, seed=0, out=tmp_path / "b", progress=False)
    with pytest.raises(ValueError, match="multiple of 4"):
        run(
            env=DTLZ2,
            agent="nsga2",
            agent_params={"population": 10},
            budget=4,
            seed=0,
            out=tmp_path / "c",
            progress=False,
        )
    with pytest.raises(ValueError, match="population"):
        run(
            env=MIXED,
            agent="ga",
            agent_params={"population": 2},
            budget=4,
            seed=0,
            out=tmp_path / "d",
            progress=False,
        )
    # scalarized, a multi-objective env is fine for the GA
    summary = run(
        env=DTLZ2,
        agent="ga",
        scalarize="weighted:0.5,0.5",
        budget=20,
        seed=0,
        out=tmp_path / "e",
        progress=False,
    )
    assert summary["n_evaluations"] == 20
