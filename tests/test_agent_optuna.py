"""Optuna's samplers as agents (``optuna.*``): parity with ``study.optimize``, what is told to
Optuna (failures, forbidden combinations, objective vectors, history), naming and listing.

Every registered agent — the Optuna ones included — also runs through the loop on every analytic
problem it fits and on a plain third-party Dict-action env, twice with one seed, in
``tests/test_agents_all.py``.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import optuna
import pyarrow.parquet as pq
import pytest
from optuna.trial import TrialState

import archgym
import archgym.testing  # registers archgym-testing/Faulty-v0
import archgym_agents.optuna_samplers as optuna_samplers
from archgym.loop import problem_of, run
from archgym.search import AgentSpec, EvalResult
from archgym_agents.optuna_samplers import CmaEs, GaussianProcess, OptunaAgent, Random, TreeParzen

HARTMANN = "archgym/Hartmann6-v0"
MIXED = "archgym/MixedConditional-v0"
DTLZ2 = "archgym/DTLZ2-v0"
FAULTY = "archgym-testing/Faulty-v0"


def _rows(out: Path) -> list[dict[str, Any]]:
    return pq.read_table(out / "evaluations.parquet").sort_by("step").to_pylist()


def _problem(env_id: str, **kwargs: Any) -> Any:
    env = gym.make(env_id, **kwargs)
    try:
        return problem_of(env, env_id)
    finally:
        env.close()


class _Keep:
    """An agent factory for ``run`` that keeps the agent it builds (to look into its study)."""

    def __init__(self, cls: type[OptunaAgent], **hyperparameters: Any) -> None:
        self.cls, self.hyperparameters = cls, hyperparameters
        self.agent: OptunaAgent | None = None
        self.__name__ = cls.SPEC.name

    def __call__(self, problem: Any, *, seed: int) -> OptunaAgent:
        self.agent = self.cls(problem, seed=seed, **self.hyperparameters)
        return self.agent


# --- parity with study.optimize --------------------------------------------------------------


def _native(sampler: optuna.samplers.BaseSampler, n_trials: int) -> optuna.Study:
    """``study.optimize`` on Hartmann-6, written by hand as an Optuna user would: the parameters
    suggested in the design space's order, the value computed by the env's own evaluation."""
    env = gym.make(HARTMANN)
    space = env.unwrapped.design_space

    def objective(trial: optuna.Trial) -> float:
        design = {f"x{i}": trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(1, 7)}
        env.reset(seed=0)
        return float(env.step(space.to_action(design))[1])

    study = optuna.create_study(sampler=sampler, direction="maximize")
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        study.optimize(objective, n_trials=n_trials)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return study


PARITY = [
    pytest.param("optuna.tpe", lambda seed: optuna.samplers.TPESampler(seed=seed), {}, 30, id="tpe"),
    pytest.param("optuna.random", lambda seed: optuna.samplers.RandomSampler(seed=seed), {}, 20, id="random"),
    pytest.param(
        "optuna.gp",
        lambda seed: optuna.samplers.GPSampler(seed=seed, n_startup_trials=4),
        {"n_startup_trials": 4},
        9,
        id="gp",
    ),
]


@pytest.mark.parametrize(("agent", "sampler", "params", "n_trials"), PARITY)
@pytest.mark.parametrize("seed", [0, 3])
def test_a_run_reproduces_study_optimize_exactly(
    agent: str, sampler: Any, params: dict[str, Any], n_trials: int, seed: int, tmp_path: Path
) -> None:
    study = _native(sampler(seed), n_trials)
    summary = run(
        env=HARTMANN,
        agent=agent,
        agent_params=params,
        budget=n_trials,
        seed=seed,
        out=tmp_path / "run",
        progress=False,
    )
    rows = _rows(tmp_path / "run")
    ours = [{f"x{i}": row[f"param.x{i}"] for i in range(1, 7)} for row in rows]
    assert ours == [t.params for t in study.trials]  # exactly: same floats, same order
    assert [row["reward"] for row in rows] == [t.value for t in study.trials]
    assert summary["best_reward"] == study.best_value
    assert summary["best_design"] == study.best_params


# --- what is told to Optuna ------------------------------------------------------------------


def test_failed_evaluations_are_told_as_failed_trials_not_penalties(tmp_path: Path) -> None:
    keep = _Keep(TreeParzen, n_startup_trials=4)
    run(
        env=FAULTY,
        env_kwargs={"fail_below": 0.3, "hang_above": 1.0},
        agent=keep,
        budget=16,
        seed=2,
        out=tmp_path / "run",
        progress=False,
    )
    rows = _rows(tmp_path / "run")
    trials = keep.agent.study.trials  # type: ignore[union-attr]
    assert len(trials) == len(rows) == 16
    failed = [not row["feasible"] for row in rows]
    assert any(failed) and not all(failed)
    for row, trial in zip(rows, trials, strict=True):
        assert trial.params == {"x": row["param.x"]}
        if row["feasible"]:
            assert trial.state == TrialState.COMPLETE and trial.value == row["reward"]
        else:
            assert trial.state == TrialState.FAIL and trial.value is None
            assert trial.user_attrs["archgym.error"] == row["error"]


def test_forbidden_combinations_are_failed_trials_naming_the_rule_and_cost_no_evaluation(
    tmp_path: Path,
) -> None:
    keep = _Keep(Random)
    run(env=MIXED, agent=keep, budget=20, seed=0, out=tmp_path / "run", progress=False)
    rows = _rows(tmp_path / "run")
    assert len(rows) == 20 and all(row["feasible"] for row in rows)
    assert all(row["param.n"] * row["param.width"] <= 160 for row in rows)
    trials = keep.agent.study.trials  # type: ignore[union-attr]
    forbidden = [t for t in trials if "archgym.forbidden" in t.user_attrs]
    assert forbidden, "seed 0 proposes forbidden designs; pick another seed if the sampler changed"
    assert all(t.state == TrialState.FAIL for t in forbidden)
    assert {t.user_attrs["archgym.forbidden"] for t in forbidden} == {"n * width <= 160"}
    assert len(trials) == 20 + len(forbidden)


def test_a_streak_of_forbidden_proposals_ends_with_a_legal_design_optuna_knows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(optuna_samplers, "MAX_FORBIDDEN_TRIES", 0)  # always take the fallback
    problem = _problem(MIXED)
    agent = Random(problem, seed=1)
    designs = agent.ask(3)
    trials = agent.study.trials
    assert len(trials) == 3
    for design, trial in zip(designs, trials, strict=True):
        assert problem.design_space.contains(design)
        width = problem.design_space["width"]
        assert trial.params["width"] == width.index(design["width"])  # type: ignore[attr-defined]
        assert set(trial.params) == set(design)  # inactive conditional parameters not suggested


def test_conditional_parameters_are_suggested_only_when_active() -> None:
    problem = _problem(MIXED)
    agent = TreeParzen(problem, seed=4)
    designs = agent.ask(12)
    asked = [t for t in agent.study.trials if t.state == TrialState.RUNNING]  # not the forbidden ones
    for design, trial in zip(designs, asked, strict=True):
        assert ("gamma" in trial.params) == (design["kernel"] == "rbf")
        assert ("degree" in trial.params) == (design["kernel"] == "poly")
        assert set(trial.params) == set(design)


def test_multi_objective_envs_get_the_reward_vector_maximized(tmp_path: Path) -> None:
    keep = _Keep(GaussianProcess, n_startup_trials=3)
    run(env=DTLZ2, agent=keep, budget=6, seed=1, out=tmp_path / "run", progress=False)
    study = keep.agent.study  # type: ignore[union-attr]
    assert study.directions == [optuna.study.StudyDirection.MAXIMIZE] * 2
    rows = _rows(tmp_path / "run")
    assert [t.values for t in study.trials] == [[row["reward.f1"], row["reward.f2"]] for row in rows]


def test_single_objective_samplers_serve_multi_objective_envs_only_scalarized(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'optuna.cmaes' can't search archgym/DTLZ2-v0.*--scalarize"):
        run(env=DTLZ2, agent="optuna.cmaes", budget=4, seed=0, out=tmp_path / "a", progress=False)
    summary = run(
        env=DTLZ2,
        agent="optuna.cmaes",
        budget=6,
        seed=0,
        out=tmp_path / "b",
        scalarize="weighted:0.5,0.5",
        progress=False,
    )
    assert summary["n_evaluations"] == 6
    assert CmaEs.incompatibility(_problem(DTLZ2)) is not None
    assert all(
        archgym.get_registry().agent(name).load().incompatibility(_problem(DTLZ2)) is None
        for name in ("optuna.tpe", "optuna.gp", "optuna.nsga2", "optuna.nsga3", "optuna.qmc", "optuna.random")
    )


def test_a_batch_is_asked_before_any_is_told(tmp_path: Path) -> None:
    problem = _problem(HARTMANN)
    agent = TreeParzen(problem, seed=0, batch_size=4, n_startup_trials=2)
    assert agent.batch_size == 4
    designs = agent.ask(4)
    assert [t.state for t in agent.study.trials] == [TrialState.RUNNING] * 4
    agent.tell(designs, [_result(d, 1.0) for d in designs])
    assert [t.state for t in agent.study.trials] == [TrialState.COMPLETE] * 4
    summary = run(
        env=HARTMANN,
        agent="optuna.tpe",
        agent_params={"batch_size": 4, "n_startup_trials": 4},
        budget=10,
        seed=0,
        out=tmp_path / "run",
        progress=False,
    )
    assert summary["n_evaluations"] == 10
    assert [row["batch"] for row in _rows(tmp_path / "run")] == [0] * 4 + [1] * 4 + [2] * 2


def _result(design: dict[str, Any], reward: float, *, feasible: bool = True) -> EvalResult:
    return EvalResult(
        design=design,
        reward=reward,
        metrics={},
        feasible=feasible,
        eval_time_s=0.0,
        error=None if feasible else "simulator crashed",
    )


def test_tell_history_closes_open_trials_and_adds_the_records() -> None:
    problem = _problem(MIXED)
    space = problem.design_space
    agent = TreeParzen(problem, seed=0, n_startup_trials=2)
    agent.ask(2)  # asked, never evaluated: the run diverged from its journal
    history = [space.sample(np.random.default_rng(i)) for i in range(3)]
    results = [
        _result(history[0], -3.0),
        _result(history[1], -1000.0, feasible=False),
        _result(history[2], -2.0),
    ]
    agent.tell_history(history, results)
    trials = agent.study.trials
    assert [t.state for t in trials[:2]] == [TrialState.FAIL] * 2
    assert all(t.user_attrs["archgym.abandoned"] for t in trials[:2])
    added = trials[2:]
    assert [t.state for t in added] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    assert [t.value for t in added] == [-3.0, None, -2.0]
    for design, trial in zip(history, added, strict=True):
        assert set(trial.params) == set(design)
    more = agent.ask(2)  # the study goes on from the history
    agent.tell(more, [_result(d, -1.0) for d in more])
    assert len(agent.study.trials) == 7


# --- seeds, options, quiet -------------------------------------------------------------------


NATIVE = {
    "optuna.tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
    "optuna.gp": lambda seed: optuna.samplers.GPSampler(seed=seed),
    "optuna.cmaes": lambda seed: optuna.samplers.CmaEsSampler(seed=seed),
    "optuna.nsga2": lambda seed: optuna.samplers.NSGAIISampler(seed=seed, population_size=4),
    "optuna.nsga3": lambda seed: optuna.samplers.NSGAIIISampler(seed=seed, population_size=4),
    "optuna.qmc": lambda seed: optuna.samplers.QMCSampler(seed=seed, scramble=True),
    "optuna.random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
}
OPTIONS = {
    "optuna.nsga2": {"population_size": 4},
    "optuna.nsga3": {"population_size": 4},
    "optuna.qmc": {"scramble": True},
}


@pytest.mark.parametrize("name", sorted(NATIVE))
def test_the_run_seed_reaches_the_sampler_unchanged(name: str) -> None:
    """Each agent asks what its sampler, built natively with the same seed, asks under Optuna's
    own ask/tell (a few rounds, past the NSGA populations' first generation)."""
    problem = _problem(HARTMANN)
    agent = archgym.get_registry().agent(name).load()(problem, seed=123, **OPTIONS.get(name, {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna's experimental-feature notes
        native = optuna.create_study(sampler=NATIVE[name](123), direction="maximize")
        for step in range(6):
            trial = native.ask()
            expected = {f"x{i}": trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(1, 7)}
            (design,) = agent.ask(1)
            assert design == expected, (name, step)
            value = -sum((v - 0.3) ** 2 for v in design.values())
            native.tell(trial, value)
            agent.tell([design], [_result(design, value)])


def test_options_are_checked_by_name() -> None:
    problem = _problem(HARTMANN)
    with pytest.raises(ValueError, match=r"'optuna.cmaes': use_separable_cma and with_margin can't"):
        CmaEs(problem, seed=0, use_separable_cma=True, with_margin=True)
    with pytest.raises(ValueError, match=r"'optuna.tpe': parameter 'multivariate'.*legal values"):
        TreeParzen(problem, seed=0, multivariate="maybe")
    agent = TreeParzen(problem, seed=0, multivariate="true", constant_liar="false")
    assert agent.study.sampler._multivariate is True and agent.study.sampler._constant_liar is False


def test_optuna_stays_quiet_and_the_callers_verbosity_is_kept(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # any warning fails the run
            run(
                env=HARTMANN,
                agent="optuna.gp",
                agent_params={"n_startup_trials": 3, "deterministic_objective": True},
                budget=5,
                seed=0,
                out=tmp_path / "gp",
                progress=False,
            )
            run(env=MIXED, agent="optuna.cmaes", budget=5, seed=0, out=tmp_path / "cma", progress=False)
        assert optuna.logging.get_verbosity() == logging.INFO
    finally:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    assert "Trial" not in capfd.readouterr().err


# --- names and listing -----------------------------------------------------------------------

OPTUNA_AGENTS = {
    "optuna.tpe",
    "optuna.gp",
    "optuna.cmaes",
    "optuna.nsga2",
    "optuna.nsga3",
    "optuna.qmc",
    "optuna.random",
}


def test_names_are_matched_case_insensitively(tmp_path: Path) -> None:
    registry = archgym.get_registry()
    assert registry.agent("Optuna.TPE").name == "optuna.tpe"
    assert registry.agent("RANDOM").name == "random"
    summary = run(env=HARTMANN, agent="Optuna.Random", budget=3, seed=0, out=tmp_path / "run", progress=False)
    assert summary["n_evaluations"] == 3


def test_every_agent_name_follows_the_one_rule() -> None:
    names = set(archgym.get_registry().agents)
    assert names >= OPTUNA_AGENTS
    assert all(name == name.lower() for name in names)
    with pytest.raises(ValueError, match=r"AgentSpec name 'Optuna.TPE' is not legal; legal: lowercase"):
        AgentSpec("Optuna.TPE", "archgym_agents.optuna_samplers:TreeParzen", "upper case")
    for bad in ("optuna..tpe", ".tpe", "tpe.", "optuna tpe", "9lives"):
        with pytest.raises(ValueError, match="is not legal"):
            AgentSpec(bad, "archgym_agents.optuna_samplers:TreeParzen", "bad")


def test_listing_agents_imports_no_optuna() -> None:
    code = (
        "import sys, archgym\n"
        "from archgym.cli import main\n"
        "main(['agents'])\n"
        "heavy = sorted(m for m in ('optuna', 'cmaes') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert all(name in result.stdout for name in OPTUNA_AGENTS)


def test_a_name_typed_in_any_case_is_recorded_as_registered(tmp_path: Path) -> None:
    summary = run(
        env="archgym/Branin-v0", agent="Optuna.Random", budget=3, seed=0, out=tmp_path / "r", progress=False
    )
    assert summary["agent"] == "optuna.random"
    assert json.loads((tmp_path / "r" / "run.json").read_text())["config"]["agent"] == "optuna.random"
