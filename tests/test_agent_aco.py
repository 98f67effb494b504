"""Ant colony optimisation: reproducible, respects the space, learns only from feasible ants."""

from __future__ import annotations

import statistics
from pathlib import Path

import gymnasium as gym
import numpy as np
import pyarrow.parquet as pq
import pytest

import archgym
from archgym.loop import build_agent, problem_of, run
from archgym.search import EvalResult, Problem

# Via the registry (``import archgym`` first): importing an agent module before archgym is
# circular, since ``import archgym`` loads the agent plugin.
AntColony = archgym.get_registry().agent("aco").load()

MIXED = "archgym/MixedConditional-v0"
H6 = "archgym/Hartmann6-v0"
FAULTY = "archgym.testing:archgym-testing/Faulty-v0"


def records(out: Path) -> list[dict]:
    return sorted(pq.read_table(out / "evaluations.parquet").to_pylist(), key=lambda r: r["step"])


def columns(rows: list[dict], prefixes: tuple[str, ...]) -> list[dict]:
    return [{k: v for k, v in r.items() if k.startswith(prefixes)} for r in rows]


def distinct(rows: list[dict]) -> int:
    return len({tuple(sorted(d.items())) for d in columns(rows, ("param.",))})


def problem(env_id: str, **kwargs: object) -> Problem:
    return problem_of(gym.make(env_id, **kwargs), env_id)


def result(design: dict, reward: float, feasible: bool = True) -> EvalResult:
    return EvalResult(design=design, reward=reward, metrics={}, feasible=feasible, eval_time_s=0.0)


def test_budget_reproducibility_and_hyperparameters(tmp_path: Path) -> None:
    def rows_of(name: str, seed: int = 5, **params: object) -> list[dict]:
        summary = run(
            env=MIXED,
            agent="aco",
            budget=47,
            seed=seed,
            out=tmp_path / name,
            agent_params=params,
            progress=False,
        )
        assert summary["n_evaluations"] == 47
        return records(tmp_path / name)

    a, b, c = rows_of("a"), rows_of("b"), rows_of("c", seed=6)
    assert len(a) == 47 and [r["step"] for r in a] == list(range(47))
    keep = ("param.", "reward")
    assert columns(a, keep) == columns(b, keep)
    assert columns(a, ("param.",)) != columns(c, ("param.",))
    greedy = rows_of("greedy", alpha=6.0, q=5.0)
    assert columns(greedy, ("param.",))[:10] == columns(a, ("param.",))[:10]  # the first colony is blind
    assert columns(greedy, ("param.",))[10:] != columns(a, ("param.",))[10:]
    wide = rows_of("wide", ants=20)
    assert max(r["slot"] for r in wide) == 19 and max(r["slot"] for r in a) == 9


def test_ants_respect_conditions_constraints_and_bins() -> None:
    prob = problem(MIXED)
    agent = AntColony(prob, seed=0, bins=4)
    space = prob.design_space
    for _ in range(5):
        colony = agent.ask(10)
        for design in colony:
            active = {p.name for p in space.active(design)}
            assert set(design) == active  # no inactive parameter carried
            assert space.validate(design) == design  # legal, incl. n * width <= 160
        agent.tell(colony, [result(d, -float(d["n"])) for d in colony])
    xs = agent.ask(10)
    assert len({d["x"] for d in xs}) == 10  # a real is drawn inside its bin, not at bin centres
    # reals and integers with more than `bins` values are binned; categorical/ordinal never
    assert [len(tau) for tau in agent.pheromone] == [4, 4, 3, 4, 4, 7]
    assert [len(tau) for tau in AntColony(prob, seed=0).pheromone] == [16, 11, 3, 16, 5, 7]


def test_infeasible_ants_deposit_nothing() -> None:
    prob = problem(H6, levels=5)
    agent = AntColony(prob, seed=0, rho=0.5, elite=0.0)
    colony = agent.ask(10)
    agent.tell(colony, [result(d, 1e9, feasible=False) for d in colony])
    assert all(np.allclose(tau, 0.5) for tau in agent.pheromone)  # evaporation only
    assert agent.best is None
    colony = agent.ask(10)
    agent.tell(colony, [result(d, float(i), feasible=i != 9) for i, d in enumerate(colony)])
    assert agent.best == (8.0, colony[8])  # the infeasible ant's higher reward is ignored


def test_deposits_are_ranked_and_spread_on_ordered_parameters() -> None:
    prob = problem(H6, levels=5)
    for spread in (0.0, 0.5):
        agent = AntColony(prob, seed=0, rho=0.0, n_best=1, elite=0.0, spread=spread, q=1.0)
        colony = agent.ask(4)
        agent.tell(colony, [result(d, float(i)) for i, d in enumerate(colony)])
        best = colony[3]
        for i, tau in enumerate(agent.pheromone):
            j = prob.design_space[f"x{i + 1}"].index(best[f"x{i + 1}"])
            expected = 1.0 + 1.0 * (spread ** np.abs(np.arange(5) - j) if spread else np.arange(5) == j)
            assert tau == pytest.approx(expected)


def test_failures_are_information_not_rewards(tmp_path: Path) -> None:
    summary = run(
        env=FAULTY,
        env_kwargs={"hang_above": 2.0},
        agent="aco",
        budget=40,
        seed=0,
        out=tmp_path / "f",
        progress=False,
    )  # x < 0.2 crashes
    rows = records(tmp_path / "f")
    assert len(rows) == 40 and any(not r["feasible"] for r in rows)
    assert summary["best_reward"] > 0.8


def test_duplicates_are_redrawn_by_default(tmp_path: Path) -> None:
    def rows_of(name: str, **params: object) -> list[dict]:
        run(
            env=H6,
            env_kwargs={"levels": 2},
            agent="aco",
            budget=50,
            seed=0,
            out=tmp_path / name,
            agent_params=params,
            progress=False,
        )
        return records(tmp_path / name)

    assert distinct(rows_of("redraw")) == 50  # of 64 designs
    assert distinct(rows_of("allow", duplicates="allow")) < 50


def test_beats_random_on_discretised_hartmann(tmp_path: Path) -> None:
    best: dict[str, list[float]] = {"aco": [], "random": []}
    for seed in range(3):
        for agent in best:
            summary = run(
                env=H6,
                env_kwargs={"levels": 11},
                agent=agent,
                budget=200,
                seed=seed,
                out=tmp_path / f"{agent}{seed}",
                progress=False,
            )
            best[agent].append(summary["best_reward"])
    assert statistics.median(best["aco"]) > statistics.median(best["random"]) + 0.3


def test_single_objective_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="single-objective"):
        build_agent("aco", {}, problem("archgym/DTLZ2-v0"), seed=0)
    summary = run(
        env="archgym/DTLZ2-v0",
        agent="aco",
        budget=10,
        seed=0,
        out=tmp_path / "s",
        scalarize="weighted:0.5,0.5",
        progress=False,
    )
    assert summary["n_evaluations"] == 10


def test_registered_and_summary(tmp_path: Path) -> None:
    spec = archgym.get_registry().agent("aco")
    assert spec.resolve({})["ants"] == 10
    with pytest.raises(ValueError, match="rho"):
        spec.resolve({"rho": 1.5})
    summary = run(env=MIXED, agent="aco", budget=25, seed=0, out=tmp_path / "r", progress=False)
    assert summary["agent_summary"]["colonies"] == 3
    assert set(summary["agent_summary"]["pheromone_favourites"]) == set(problem(MIXED).design_space.names)
