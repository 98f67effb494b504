"""The NAS-Bench-201 baselines as general agents — ``rea``, ``reinforce``, ``local_search``:
reproducible runs on the NAS table and on mixed conditional spaces, legal new proposals under
forbidden combinations, resume, and the behaviour each algorithm is named for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pyarrow.parquet as pq
import pytest

import archgym
from archgym.loop import problem_of, run
from archgym.search import EvalResult, Problem
from archgym.spaces import Categorical, Condition, Constraint, DesignSpace, Integer, Ordinal, Real, design_key

AGENTS = ("rea", "reinforce", "local_search")
NAS = "archgym/NASBench201-v0"
MIXED = "archgym/MixedConditional-v0"


def agent_class(name: str) -> Any:
    # via the registry (``import archgym`` first): importing an agent module first is circular
    return archgym.get_registry().agent(name).load()


def result(design: dict, reward: float, feasible: bool = True) -> EvalResult:
    return EvalResult(design=design, reward=reward, metrics={}, feasible=feasible, eval_time_s=0.0)


def _no_three_and_big(design: dict) -> bool:
    return not (design.get("op") == "c" and design.get("width", 0) > 6)


def mixed_space() -> DesignSpace:
    """Every parameter type, a condition and a forbidden combination."""
    return DesignSpace(
        [
            Categorical("op", ["a", "b", "c"]),
            Integer("width", 1, 8),
            Ordinal("depth", [1, 2, 4, 8]),
            Real("lr", 1e-4, 1e-1, log=True),
            Integer("units", 1, 500, condition=Condition("op", ["b", "c"])),
        ],
        [Constraint("not (op == c and width > 6)", _no_three_and_big)],
    )


def reward_of(design: dict) -> float:
    return (
        -abs(design["width"] - 5)
        - abs(np.log10(design["lr"]) + 2)
        + (design["op"] == "c")
        + 0.01 * design.get("units", 0)
    )


def drive(agent: Any, rounds: int, reward: Any = reward_of) -> list[dict]:
    proposed = []
    for _ in range(rounds):
        designs = agent.ask(agent.batch_size)
        agent.tell(designs, [result(d, reward(d)) for d in designs])
        proposed += designs
    return proposed


def param_columns(out: Path) -> list[dict]:
    rows = sorted(pq.read_table(out / "evaluations.parquet").to_pylist(), key=lambda r: r["step"])
    return [{k: v for k, v in r.items() if k.startswith(("param.", "reward"))} for r in rows]


@pytest.mark.parametrize("agent", AGENTS)
def test_runs_the_nas_table_reproducibly_and_learns(agent: str, tmp_path: Path) -> None:
    def once(name: str, seed: int = 3) -> dict:
        return run(
            env=NAS,
            env_kwargs={"backend": "table"},
            agent=agent,
            budget=40,
            seed=seed,
            out=tmp_path / name,
            progress=False,
        )

    a = once("a")
    once("b")
    once("c", seed=4)
    rows = param_columns(tmp_path / "a")
    assert a["n_evaluations"] == 40
    assert rows == param_columns(tmp_path / "b")
    assert rows != param_columns(tmp_path / "c")
    keys = [tuple(sorted((k, v) for k, v in r.items() if k.startswith("param."))) for r in rows]
    assert len(set(keys)) == 40  # no evaluation spent on a known design


@pytest.mark.parametrize("agent", AGENTS)
def test_forbidden_combinations_conditions_and_every_parameter_type(agent: str) -> None:
    space = mixed_space()
    problem = Problem(env_id="test/mixed", design_space=space, n_objectives=1)
    first = drive(agent_class(agent)(problem, seed=1), rounds=60)
    again = drive(agent_class(agent)(problem, seed=1), rounds=60)
    assert first == again
    for design in first:
        assert space.contains(design)  # legal: in range, conditions applied, no forbidden combination
    assert len({design_key(d) for d in first}) == len(first)
    assert {"a", "b", "c"} <= {d["op"] for d in first}


@pytest.mark.parametrize("agent", AGENTS)
def test_resume_from_history_proposes_new_designs(agent: str) -> None:
    space = mixed_space()
    problem = Problem(env_id="test/mixed", design_space=space, n_objectives=1)
    history = [space.sample(np.random.default_rng(i)) for i in range(25)]
    cls = agent_class(agent)
    fresh = cls(problem, seed=2)
    fresh.tell_history(history, [result(d, reward_of(d)) for d in history])
    proposed = drive(fresh, rounds=10)
    assert not {design_key(d) for d in proposed} & {design_key(d) for d in history}


@pytest.mark.parametrize("agent", AGENTS)
def test_single_objective_only_and_hyperparameters_named(agent: str) -> None:
    env = gym.make("archgym/DTLZ2-v0")
    assert agent_class(agent).incompatibility(problem_of(env, "archgym/DTLZ2-v0")) is not None
    problem = problem_of(gym.make(MIXED), MIXED)
    with pytest.raises(ValueError, match="batch_size"):
        agent_class(agent)(problem, seed=0, batch_size=0)


def test_rea_ages_out_the_oldest_member_even_the_best() -> None:
    space = DesignSpace([Categorical(f"e{i}", list("abcde")) for i in range(4)])
    problem = Problem(env_id="test/cat", design_space=space, n_objectives=1)
    agent = agent_class("rea")(problem, seed=0, population=3, sample_size=3)
    told = []
    for reward in (10.0, 1.0, 2.0, 3.0):
        designs = agent.ask(1)
        agent.tell(designs, [result(designs[0], reward)])
        told += designs
    members = [m[1] for m in agent.population]
    assert members == told[1:]  # the first (and best) died of age
    # with sample_size == population the parent is the best member: the child differs in one place
    child = agent.ask(1)[0]
    assert sum(child[k] != told[3][k] for k in child) == 1


def test_rea_sample_size_above_population_is_refused() -> None:
    problem = problem_of(gym.make(MIXED), MIXED)
    with pytest.raises(ValueError, match=r"sample_size.*legal values"):
        agent_class("rea")(problem, seed=0, population=4, sample_size=5)


def test_local_search_moves_to_a_better_neighbour_and_climbs_to_the_optimum() -> None:
    space = DesignSpace([Categorical(f"e{i}", list("abcde")) for i in range(4)])
    problem = Problem(env_id="test/cat", design_space=space, n_objectives=1)
    agent = agent_class("local_search")(problem, seed=0, n_init=3)

    def matches(design: dict) -> float:
        return float(sum(v == "a" for v in design.values()))

    drive(agent, rounds=3, reward=matches)
    start = agent.current
    assert start is not None
    for _ in range(60):
        before = agent.current[1]
        design = agent.ask(1)[0]
        current = agent.moves.decode(agent.current[0])
        assert sum(design[k] != current[k] for k in design) == 1  # a neighbour of the current design
        agent.tell([design], [result(design, matches(design))])
        if matches(design) > before[1]:
            assert agent.moves.decode(agent.current[0]) == design  # first improvement: moved there
        if agent.current[1][1] == 4.0:
            break
    assert agent.current[1] == (True, 4.0)


def test_local_search_refines_reals_by_halving_its_step() -> None:
    space = DesignSpace([Real("x", 0.0, 1.0), Real("y", 0.0, 1.0)])
    problem = Problem(env_id="test/real", design_space=space, n_objectives=1)
    agent = agent_class("local_search")(problem, seed=0, n_init=4)
    proposed = drive(agent, rounds=80, reward=lambda d: -((d["x"] - 0.337) ** 2) - (d["y"] - 0.71) ** 2)
    best = max(proposed, key=lambda d: -((d["x"] - 0.337) ** 2) - (d["y"] - 0.71) ** 2)
    assert abs(best["x"] - 0.337) < 0.02 and abs(best["y"] - 0.71) < 0.02
    assert agent.stats["step_halvings"] >= 2


def test_reinforce_policy_shifts_toward_rewarded_choices() -> None:
    space = DesignSpace(
        [Categorical("op", list("abcd")), Categorical("other", list("abcdefgh")), Real("r", 0, 1)]
    )
    problem = Problem(env_id="test/cat", design_space=space, n_objectives=1)
    agent = agent_class("reinforce")(problem, seed=0, learning_rate=0.1)
    drive(agent, rounds=40, reward=lambda d: float(d["op"] == "b") + float(d["r"] > 0.8))
    op, _, real = agent.probabilities()
    assert op[1] > 0.5 and op[1] == op.max()
    assert real[-2:].sum() > 0.4  # bins above 0.8: 2 of 10 at the start


def test_reinforce_infeasible_counts_as_the_worst_feasible_reward() -> None:
    space = DesignSpace([Categorical("op", list("ab"))])
    problem = Problem(env_id="test/cat", design_space=space, n_objectives=1)
    agent = agent_class("reinforce")(problem, seed=0, learning_rate=0.5)
    agent.tell_history([{"op": "a"}], [result({"op": "a"}, float("nan"), feasible=False)])
    assert agent.updates == 0  # no feasible reward yet: nothing to compare with
    agent.tell_history([{"op": "b"}, {"op": "a"}], [result({"op": "b"}, 1.0), result({"op": "a"}, 0.0)])
    before = agent.probabilities()[0][1]
    agent.tell_history([{"op": "a"}] * 3, [result({"op": "a"}, -1e9, feasible=False)] * 3)
    assert agent.probabilities()[0][1] > before  # told as 0.0, the worst feasible reward: below the baseline
    assert 0.0 <= agent.baseline <= 1.0  # the penalty never reached the baseline
