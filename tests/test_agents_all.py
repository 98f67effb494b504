"""Every registered agent, through the one loop, on every analytic problem it fits, and on a plain
third-party Gymnasium env with a mixed Dict action space."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pyarrow.parquet as pq
import pytest
from gymnasium import spaces

import archgym
from archgym.loop import problem_of, run
from archgym.search import Agent, EvalResult, Problem
from archgym.spaces import Categorical, Design

# searched only by the agents that need a fidelity (the others would repeat the plain problems)
MULTI_FIDELITY = ["archgym/BraninMF-v0", "archgym/Hartmann6MF-v0", "archgym/DTLZ2MF-v0"]
ANALYTIC = [
    "archgym/Branin-v0",
    "archgym/Hartmann6-v0",
    "archgym/MixedConditional-v0",
    "archgym/DTLZ2-v0",
    *MULTI_FIDELITY,
]
BUDGET = 10
# Small settings so every agent finishes a 10-evaluation run quickly; the agents' own tests and
# benchmarks/agents.py cover their defaults.
FAST: dict[str, dict[str, Any]] = {
    "bo": {"n_init": 4, "num_restarts": 2, "raw_samples": 64},
    "ga": {"population": 4},
    "nsga2": {"population": 4},
    "aco": {"ants": 4},
    "mapelites": {},
    "rl": {},
    # past each sampler's random start within the 10 evaluations
    "optuna.tpe": {"n_startup_trials": 4},
    "optuna.gp": {"n_startup_trials": 7},
    "optuna.nsga2": {"population_size": 4},
    "optuna.nsga3": {"population_size": 4},
    # past the first generation / initial design within the 10 evaluations
    **{f"pymoo.{a}": {"pop_size": 4} for a in ("ga", "de", "nsga2", "smsemoa", "agemoea")},
    "pymoo.nsga3": {"pop_size": 4, "n_partitions": 2},
    "pymoo.moead": {"n_partitions": 3, "n_neighbors": 2},
    "smac.hpo": {"n_init": 4, "n_trials": 10},
    "smac.blackbox": {"n_init": 10, "n_trials": 10},  # its GP asks take seconds each
    "smac.bohb": {"n_init": 4, "n_trials": 10},  # past its initial design: the forest proposes
    **{name: {"budget": 10} for name in archgym.get_registry().agents if name.startswith("nevergrad.")},
}


class MixedThirdParty(gym.Env[np.ndarray, dict[str, Any]]):
    """A plain Gymnasium env, as a third party would write it: Dict of Discrete, Box, MultiBinary."""

    def __init__(self) -> None:
        self.action_space = spaces.Dict(
            {
                "layers": spaces.Discrete(5, start=1),
                "rates": spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float64),
                "flags": spaces.MultiBinary(2),
            }
        )
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float64)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.zeros(1), {}

    def step(self, action: dict[str, Any]) -> tuple[np.ndarray, float, bool, bool, dict]:
        rates = np.asarray(action["rates"])
        reward = -float(np.sum((rates - 0.3) ** 2)) - abs(int(action["layers"]) - 3)
        reward += float(action["flags"][0])
        return np.array([reward]), reward, True, False, {}


THIRD_PARTY = "thirdparty-test/Mixed-v0"
if THIRD_PARTY not in gym.registry:
    gym.register(id=THIRD_PARTY, entry_point=MixedThirdParty)


def _fits(agent: str, env_id: str) -> bool:
    env = gym.make(env_id)
    problem = problem_of(env, env_id)
    return archgym.get_registry().agent(agent).load().incompatibility(problem) is None


def _pairs(env_ids: list[str]) -> list[tuple[str, str]]:
    plain = [e for e in ANALYTIC if e not in MULTI_FIDELITY]
    return [
        (a, e)
        for a in sorted(archgym.get_registry().agents)
        for e in env_ids
        if _fits(a, e) and (e not in MULTI_FIDELITY or not any(_fits(a, p) for p in plain))
    ]


def _columns(out: Path) -> dict[str, list]:
    table = pq.read_table(out / "evaluations.parquet").sort_by("step")
    return {c: table[c].to_pylist() for c in table.column_names if c.startswith(("param.", "reward"))}


def test_every_agent_fits_some_analytic_problem() -> None:
    fitted = {a for a, _ in _pairs(ANALYTIC)}
    assert fitted == set(archgym.get_registry().agents)


@pytest.mark.parametrize(("agent", "env_id"), _pairs(ANALYTIC))
def test_agent_runs_the_budget_and_is_reproducible(agent: str, env_id: str, tmp_path: Path) -> None:
    params = FAST.get(agent, {})
    first = run(
        env=env_id,
        agent=agent,
        agent_params=params,
        budget=BUDGET,
        seed=5,
        out=tmp_path / "a",
        progress=False,
    )
    run(
        env=env_id,
        agent=agent,
        agent_params=params,
        budget=BUDGET,
        seed=5,
        out=tmp_path / "b",
        progress=False,
    )
    assert first["n_evaluations"] == BUDGET
    a, b = _columns(tmp_path / "a"), _columns(tmp_path / "b")
    assert a == b
    assert len(next(iter(a.values()))) == BUDGET


@pytest.mark.parametrize(("agent", "env_id"), _pairs([THIRD_PARTY]))
def test_agent_drives_a_plain_third_party_env(agent: str, env_id: str, tmp_path: Path) -> None:
    summary = run(
        env=env_id,
        agent=agent,
        agent_params=FAST.get(agent, {}),
        budget=BUDGET,
        seed=1,
        out=tmp_path / "t",
        progress=False,
    )
    cols = _columns(tmp_path / "t")
    assert summary["n_evaluations"] == BUDGET
    assert set(cols) >= {"param.layers", "param.rates[0]", "param.rates[1]", "param.flags[0]", "reward"}
    assert all(1 <= v <= 5 for v in cols["param.layers"])
    assert summary["best_reward"] == max(cols["reward"])


def test_third_party_env_is_fitted_by_the_general_agents() -> None:
    fitted = {a for a, _ in _pairs([THIRD_PARTY])}
    assert {"random", "ga", "bo", "rl"} <= fitted


# --- the spec is the one source of each agent's defaults and legal values ----------------------


def _problem(env_id: str) -> Problem:
    env = gym.make(env_id)
    try:
        return problem_of(env, env_id)
    finally:
        env.close()


def _problem_for(agent: str) -> Problem:
    """The first analytic problem ``agent`` can search (Branin for the single-objective ones)."""
    return next(_problem(e) for a, e in _pairs(ANALYTIC) if a == agent)


def _plain(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, bool | int | float | str)


def _plain_attributes(agent: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(agent).items() if _plain(v)}


def _drive(agent: Agent, rounds: int = 2) -> list[Design]:
    """Designs of ``rounds`` ask/tell rounds, each design rewarded by a fixed function of it."""
    proposed: list[Design] = []
    for _ in range(rounds):
        designs = [p if isinstance(p, dict) else p.design for p in agent.ask(agent.batch_size)]
        reward = [-sum(float(v) for v in d.values() if isinstance(v, int | float)) for d in designs]
        agent.tell(
            designs,
            [
                EvalResult(design=d, reward=r, metrics={}, feasible=True, eval_time_s=0.0)
                for d, r in zip(designs, reward, strict=True)
            ],
        )
        proposed += designs
    return proposed


@pytest.mark.parametrize("agent", sorted(archgym.get_registry().agents))
def test_a_wrong_categorical_or_unknown_hyperparameter_is_refused_naming_it(agent: str) -> None:
    spec = archgym.get_registry().agent(agent)
    cls = spec.load()
    problem = _problem_for(agent)
    for param in spec.hyperparameters:
        if isinstance(param, Categorical):
            with pytest.raises(
                ValueError, match=rf"agent '{agent}': parameter '{param.name}': .*legal values"
            ):
                cls(problem, seed=0, **{param.name: "no-such-choice"})
    with pytest.raises(ValueError, match=r"unknown hyperparameter.*'no_such_hyperparameter'"):
        cls(problem, seed=0, no_such_hyperparameter=1)


@pytest.mark.parametrize("agent", sorted(archgym.get_registry().agents))
def test_no_hyperparameters_means_the_spec_defaults(agent: str) -> None:
    spec = archgym.get_registry().agent(agent)
    cls = spec.load()
    problem = _problem_for(agent)
    implicit, explicit = cls(problem, seed=7), cls(problem, seed=7, **spec.resolve({}))
    assert _plain_attributes(implicit) == _plain_attributes(explicit)
    assert len(_plain_attributes(implicit)) > 1  # more than the seed: the hyperparameters are there
    if isinstance(implicit, Agent):
        assert _drive(implicit) == _drive(explicit)
