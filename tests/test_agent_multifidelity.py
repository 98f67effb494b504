"""Issue 23: the multi-fidelity agents (asha, mo_asha, smac.successive_halving, smac.hyperband,
smac.bohb) — reproducible under synchronous scheduling and on the simulated clock with async
workers, promotions to higher fidelities, the cost budget respected, failures never promoted,
resume through tell_history, and a refusal for envs without a fidelity."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import gymnasium as gym
import pyarrow.parquet as pq
import pytest

import archgym
from archgym.env import Fidelity
from archgym.loop import problem_of, resume, run
from archgym.search import EvalResult, Proposal

AGENTS = ["asha", "mo_asha", "smac.successive_halving", "smac.hyperband", "smac.bohb"]
ENVS = ["archgym/BraninMF-v0", "archgym/Hartmann6MF-v0", "archgym/DTLZ2MF-v0"]
SLEEP = "archgym.testing:archgym-testing/Sleep-v0"  # integer fidelity 1..10
FAST: dict[str, dict[str, Any]] = {"smac.bohb": {"n_init": 4}}
COST = 4.0
CHEAPEST = {"min_fidelity": 1 / 9}  # rungs 1/9, 1/3, 1: a Hyperband bracket costs 3
ASYNC = {"schedule": "async", "simulate_time": True, "workers": 4}
SAME = ["step", "fidelity", "cost", "reward", "feasible", "worker"]
CLOCK = ["start_s", "finish_s"]  # simulated: part of what repeats


def _cls(agent: str) -> Any:
    return archgym.get_registry().agent(agent).load()


def _fits(agent: str, env_id: str) -> bool:
    return _cls(agent).incompatibility(problem_of(gym.make(env_id), env_id)) is None


PAIRS = [(a, e) for a in AGENTS for e in ENVS if _fits(a, e)]


def _rows(out: Path) -> list[dict[str, Any]]:
    return sorted(pq.read_table(out / "evaluations.parquet").to_pylist(), key=lambda r: r["step"])


def _run(out: Path, agent: str, env: str, **options: Any) -> list[dict[str, Any]]:
    options = {"budget": None, "cost_budget": COST, "seed": 4, "env_kwargs": CHEAPEST} | options
    run(env=env, agent=agent, agent_params=FAST.get(agent, {}), out=out, progress=False, **options)
    return _rows(out)


def _same(rows: list[dict[str, Any]], simulated: bool) -> list[tuple]:
    same = SAME + (CLOCK if simulated else [])
    return [tuple(r[c] for c in sorted(r) if c in same or c.startswith(("param.", "reward"))) for r in rows]


def test_every_multifidelity_agent_is_registered_and_fits_its_envs() -> None:
    assert set(AGENTS) <= set(archgym.get_registry().agents)
    assert {a for a, _ in PAIRS} == set(AGENTS)
    assert ("mo_asha", "archgym/DTLZ2MF-v0") in PAIRS and ("asha", "archgym/DTLZ2MF-v0") not in PAIRS


@pytest.mark.parametrize("agent", AGENTS)
def test_an_env_without_a_fidelity_is_refused(agent: str) -> None:
    env_id = "archgym/DTLZ2-v0" if agent == "mo_asha" else "archgym/Branin-v0"
    reason = _cls(agent).incompatibility(problem_of(gym.make(env_id), env_id))
    assert reason is not None and "needs an env with a fidelity" in reason


@pytest.mark.parametrize(("agent", "env"), PAIRS)
@pytest.mark.parametrize("schedule", ["sync", "async"])
def test_reproducible_promoting_and_within_the_cost_budget(
    agent: str, env: str, schedule: str, tmp_path: Path
) -> None:
    options = ASYNC if schedule == "async" else {}
    first = _run(tmp_path / "a", agent, env, **options)
    simulated = schedule == "async"
    assert _same(first, simulated) == _same(_run(tmp_path / "b", agent, env, **options), simulated)
    rungs = sorted({r["fidelity"] for r in first})
    assert len(rungs) >= 3 and rungs[-1] == 1.0
    assert all(r["cost"] == pytest.approx(r["fidelity"]) for r in first)
    seen: dict[tuple, list[float]] = defaultdict(list)  # a design's fidelities, in the order asked
    for row in first:
        seen[tuple(v for k, v in sorted(row.items()) if k.startswith("param."))].append(row["fidelity"])
    promoted = [f for f in seen.values() if len(f) > 1]
    assert promoted and all(f == sorted(set(f)) for f in promoted)  # only ever to higher fidelities
    # the cost budget: asked for only while cost was left; what was in flight may finish past it
    total, in_flight = sum(r["cost"] for r in first), 4 if schedule == "async" else 1
    assert COST <= total <= COST + in_flight
    if simulated:  # the last `in_flight` to finish may have been asked with only a little cost left
        by_finish = sorted(first, key=lambda r: (r["finish_s"], r["step"]))
        assert sum(r["cost"] for r in by_finish[:-in_flight]) < COST
    else:
        assert sum(r["cost"] for r in first[:-1]) < COST


@pytest.mark.parametrize("agent", ["asha", "smac.hyperband"])
def test_integer_fidelities_are_rounded_onto_the_rungs(agent: str, tmp_path: Path) -> None:
    rows = _run(tmp_path / "r", agent, SLEEP, env_kwargs={"delay_s": 0.0}, budget=40, cost_budget=None)
    assert {r["fidelity"] for r in rows} == {1, 3, 10}


def test_the_ladder_of_rungs() -> None:
    from archgym_agents.rungs import ladder, nearest_rung

    assert ladder(Fidelity("e", 1, 10, 10, integer=True), 3) == [1, 3, 10]
    assert ladder(Fidelity("e", 1, 200, 200, integer=True), 3) == [2, 7, 22, 67, 200]
    real = ladder(Fidelity("s", 1 / 27, 1.0, 1.0), 3)
    assert real == pytest.approx([1 / 27, 1 / 9, 1 / 3, 1.0])
    assert ladder(Fidelity("s", 1 / 27, 1.0, 1.0), 3, n_rungs=2) == pytest.approx([1 / 3, 1.0])
    assert ladder(Fidelity("s", 0.5, 1.0, 1.0), 3) == [1.0]
    assert nearest_rung(real, 0.2) == 1 and nearest_rung(real, 0.01) is None and nearest_rung(real, 1.0) == 3
    with pytest.raises(ValueError, match=r"eta.*legal values"):
        ladder(Fidelity("s", 0.1, 1.0, 1.0), 1)


def _result(design: dict, reward: float, fidelity: float, feasible: bool = True) -> EvalResult:
    return EvalResult(
        design=design, reward=reward, metrics={}, feasible=feasible, eval_time_s=0.0, fidelity=fidelity
    )


def test_asha_promotes_the_best_and_never_a_failed_evaluation() -> None:
    env_id = "archgym/Hartmann6MF-v0"
    agent = _cls("asha")(problem_of(gym.make(env_id), env_id), seed=0)
    first = agent.ask(3)
    assert all(isinstance(p, Proposal) and p.fidelity == agent.rungs[0] for p in first)
    designs = [p.design for p in first]
    # the best of the three failed: the next best one is promoted (top 3 // 3 = 1)
    agent.tell(designs, [_result(designs[0], 3.0, 1 / 27, feasible=False), _result(designs[1], 2.0, 1 / 27),
                         _result(designs[2], 1.0, 1 / 27)])  # fmt: skip
    promoted = agent.ask(1)[0]
    assert promoted.design == designs[1] and promoted.fidelity == pytest.approx(1 / 9)
    assert agent.ask(1)[0].fidelity == agent.rungs[0]  # nothing else to promote: a new configuration


@pytest.mark.parametrize("agent", AGENTS)
def test_tell_history_places_recorded_evaluations_and_the_agent_goes_on(agent: str, tmp_path: Path) -> None:
    env = "archgym/DTLZ2MF-v0" if agent == "mo_asha" else "archgym/BraninMF-v0"
    rows = _run(tmp_path / "r", agent, env)
    problem = problem_of(gym.make(env), env)
    names = [c for c in rows[0] if c.startswith("param.")]
    designs = [{c.removeprefix("param."): r[c] for c in names} for r in rows]
    rewards = (
        [r["reward"] for r in rows]
        if problem.n_objectives == 1
        else [[r["reward.f1"], r["reward.f2"]] for r in rows]
    )
    results = [_result(d, w, r["fidelity"]) for d, w, r in zip(designs, rewards, rows, strict=True)]  # type: ignore[arg-type]
    fresh = _cls(agent)(problem, seed=9, **FAST.get(agent, {}))
    fresh.tell_history(designs, results)
    proposals = fresh.ask(4)
    assert all(problem.fidelity.low <= p.fidelity <= problem.fidelity.high for p in proposals)
    if agent in ("asha", "mo_asha"):  # every recorded configuration sits in its rung
        assert sum(len(rung) for rung in fresh._results) == len(rows)


def test_a_resumed_run_extended_to_a_larger_budget_equals_an_uninterrupted_one(tmp_path: Path) -> None:
    env, common = "archgym/Hartmann6MF-v0", {"cost_budget": None, "seed": 2}
    _run(tmp_path / "short", "asha", env, budget=30, **common)
    resume(tmp_path / "short", budget=60, progress=False)
    whole = _run(tmp_path / "whole", "asha", env, budget=60, **common)
    assert [r["fidelity"] for r in _rows(tmp_path / "short")] == [r["fidelity"] for r in whole]
    assert [r["reward"] for r in _rows(tmp_path / "short")] == [r["reward"] for r in whole]
