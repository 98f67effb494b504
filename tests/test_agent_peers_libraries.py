"""Nevergrad, pymoo and SMAC3 as agents (``nevergrad.*``, ``pymoo.*``, ``smac.*``): parity with each
library's own optimization loop, what is told to the library (failures, forbidden combinations),
the ``nevergrad.<Name>`` resolver, ConfigSpace translation, files SMAC writes, and the listing.

Every registered agent also runs through the loop on every analytic problem it fits and on a plain
third-party Dict-action env, twice with one seed, in ``tests/test_agents_all.py``.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import gymnasium as gym
import nevergrad as ng
import numpy as np
import pyarrow.parquet as pq
import pytest

import archgym
import archgym.testing  # registers archgym-testing/Faulty-v0
from archgym.cli import main as cli_main
from archgym.loop import problem_of, run
from archgym_agents.pymoo_algorithms import NSGA3, reference_directions
from archgym_agents.smac_facades import HyperparameterOptimization
from archgym_agents.translate import configspace_design, configspace_space, forbidden_rules

HARTMANN = "archgym/Hartmann6-v0"
MIXED = "archgym/MixedConditional-v0"
DTLZ2 = "archgym/DTLZ2-v0"
FAULTY = "archgym-testing/Faulty-v0"
NAMES = [f"x{i}" for i in range(1, 7)]


def _rows(out: Path) -> list[dict[str, Any]]:
    return pq.read_table(out / "evaluations.parquet").sort_by("step").to_pylist()


def _problem(env_id: str, **kwargs: Any) -> Any:
    env = gym.make(env_id, **kwargs)
    try:
        return problem_of(env, env_id)
    finally:
        env.close()


class _Hartmann:
    """Hartmann-6's reward, computed by the env's own evaluation (what a native loop would call)."""

    def __init__(self) -> None:
        self.env = gym.make(HARTMANN)
        self.space = self.env.unwrapped.design_space

    def __call__(self, design: dict[str, float]) -> float:
        self.env.reset(seed=0)
        return float(self.env.step(self.space.to_action(design))[1])


class _Keep:
    """An agent factory for ``run`` that keeps the agent it builds."""

    def __init__(self, cls: type, **hyperparameters: Any) -> None:
        self.cls, self.hyperparameters = cls, hyperparameters
        self.agent: Any = None
        self.__name__ = cls.SPEC.name

    def __call__(self, problem: Any, *, seed: int) -> Any:
        self.agent = self.cls(problem, seed=seed, **self.hyperparameters)
        return self.agent


def _ours(agent: str, params: dict[str, Any], budget: int, seed: int, out: Path) -> list[dict[str, Any]]:
    run(env=HARTMANN, agent=agent, agent_params=params, budget=budget, seed=seed, out=out, progress=False)
    return [{n: row[f"param.{n}"] for n in NAMES} | {"reward": row["reward"]} for row in _rows(out)]


# --- parity with each library's own loop --------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["NGOpt", "TwoPointsDE"])
@pytest.mark.parametrize("seed", [0, 3])
def test_nevergrad_reproduces_minimize_exactly(optimizer: str, seed: int, tmp_path: Path) -> None:
    f, budget, native = _Hartmann(), 30, []
    parametrization = ng.p.Dict(**{n: ng.p.Scalar(lower=0.0, upper=1.0) for n in NAMES})
    parametrization.random_state = np.random.RandomState(seed)
    opt = ng.optimizers.registry[optimizer](parametrization=parametrization, budget=budget)

    def loss(design: dict[str, float]) -> float:
        reward = f(design)
        native.append({n: float(design[n]) for n in NAMES} | {"reward": reward})
        return -reward

    opt.minimize(loss)
    ours = _ours(f"nevergrad.{optimizer}", {"budget": budget}, budget, seed, tmp_path / "run")
    assert ours == native  # same floats, same order


def _pymoo_native(algorithm: Any, budget: int, seed: int) -> list[dict[str, Any]]:
    """``pymoo.optimize.minimize`` on Hartmann-6 over the unit box, as a pymoo user writes it."""
    from pymoo.core.problem import ElementwiseProblem
    from pymoo.optimize import minimize

    f, native = _Hartmann(), []

    class Hartmann(ElementwiseProblem):
        def __init__(self) -> None:
            super().__init__(n_var=6, n_obj=1, xl=0.0, xu=1.0)

        def _evaluate(self, x: np.ndarray, out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
            design = {n: float(v) for n, v in zip(NAMES, x, strict=True)}
            reward = f(design)
            native.append(design | {"reward": reward})
            out["F"] = [-reward]

    minimize(Hartmann(), algorithm, ("n_eval", budget), seed=seed)
    return native


@pytest.mark.parametrize("name", ["ga", "nsga2"])
@pytest.mark.parametrize("seed", [0, 3])
def test_pymoo_reproduces_minimize_exactly(name: str, seed: int, tmp_path: Path) -> None:
    """The native problem is a plain unconstrained one: the constraint the agent declares for
    failures (``G = 0`` when feasible) changes no comparison while every evaluation succeeds."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.algorithms.soo.nonconvex.ga import GA

    algorithm = {"ga": GA, "nsga2": NSGA2}[name](pop_size=10)
    native = _pymoo_native(algorithm, 40, seed)
    ours = _ours(f"pymoo.{name}", {"pop_size": 10}, 40, seed, tmp_path / "run")
    assert ours == native


@pytest.mark.parametrize("seed", [0, 3])
def test_smac_hpo_reproduces_optimize_exactly(seed: int, tmp_path: Path) -> None:
    from smac import HyperparameterOptimizationFacade, Scenario

    f, native, n_trials = _Hartmann(), [], 8
    problem = _problem(HARTMANN)
    cs, _ = configspace_space(problem.design_space, seed)

    def target(config: Any, seed: int = 0) -> float:
        design = {n: float(config[n]) for n in NAMES}
        reward = f(design)
        native.append(design | {"reward": reward})
        return -reward

    scenario = Scenario(
        cs, deterministic=True, n_trials=n_trials, seed=seed, output_directory=tmp_path / "native"
    )
    HyperparameterOptimizationFacade(scenario, target, overwrite=True, logging_level=False).optimize()
    ours = _ours("smac.hpo", {"n_trials": n_trials}, n_trials, seed, tmp_path / "run")
    assert ours == native


# --- what is told to the libraries ---------------------------------------------------------------


def test_failures_are_told_as_each_library_expects(tmp_path: Path) -> None:
    from smac.runhistory import StatusType

    faulty = {"fail_below": 0.3, "hang_above": 1.0}
    smac = _Keep(HyperparameterOptimization, n_init=4, n_trials=12)
    run(env=FAULTY, env_kwargs=faulty, agent=smac, budget=12, seed=2, out=tmp_path / "smac", progress=False)
    rows = _rows(tmp_path / "smac")
    assert any(not r["feasible"] for r in rows) and any(r["feasible"] for r in rows)
    runhistory = smac.agent.smac.runhistory
    statuses = [runhistory[key].status for key in runhistory]
    assert statuses == [StatusType.SUCCESS if r["feasible"] else StatusType.CRASHED for r in rows]
    crashed = [runhistory[key] for key in runhistory if runhistory[key].status == StatusType.CRASHED]
    assert all(v.additional_info["archgym.error"] for v in crashed)

    ngk = _Keep(archgym.get_registry().agent("nevergrad.oneplusone").load(), budget=16)
    run(env=FAULTY, env_kwargs=faulty, agent=ngk, budget=16, seed=2, out=tmp_path / "ng", progress=False)
    rows = _rows(tmp_path / "ng")
    assert any(not r["feasible"] for r in rows)
    best = ngk.agent.optimizer.recommend().value  # a failed candidate never becomes the recommendation
    assert best["x"] in [r["param.x"] for r in rows if r["feasible"]]


def test_pymoo_failures_are_violated_constraints_and_moead_has_none() -> None:
    from archgym.search import EvalResult

    agent = NSGA3(_problem(DTLZ2), seed=0, n_partitions=2, pop_size=4)
    designs = agent.ask(agent.batch_size)
    results = [
        EvalResult(design=d, reward=np.array([-0.5, -0.5]), metrics={}, feasible=i % 2 == 0, eval_time_s=0.0)
        for i, d in enumerate(designs)
    ]
    population = agent._generation
    agent.tell(designs, results)
    assert population.get("G")[:, 0].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert np.isinf(population.get("F")[1]).all() and population.get("F")[0].tolist() == [0.5, 0.5]
    moead = archgym.get_registry().agent("pymoo.moead").load()
    assert moead.constrained is False and moead(_problem(DTLZ2), seed=0).algorithm.problem.n_ieq_constr == 0


def test_reference_directions_follow_the_number_of_objectives() -> None:
    assert len(reference_directions(2, 0, seed=0)) == 13  # Das-Dennis, 12 partitions
    assert len(reference_directions(3, 0, seed=0)) == 91
    assert len(reference_directions(5, 0, seed=0)) == 210
    assert len(reference_directions(2, 3, seed=0)) == 4


@pytest.mark.parametrize("agent", ["smac.hpo", "nevergrad.twopointsde", "pymoo.ga"])
def test_forbidden_combinations_are_never_evaluated(agent: str, tmp_path: Path) -> None:
    params = {"smac.hpo": {"n_init": 4, "n_trials": 20}, "pymoo.ga": {"pop_size": 8}}.get(agent, {})
    run(env=MIXED, agent=agent, agent_params=params, budget=20, seed=0, out=tmp_path / "r", progress=False)
    rows = _rows(tmp_path / "r")
    assert len(rows) == 20 and all(r["feasible"] for r in rows)
    assert all(r["param.n"] * r["param.width"] <= 160 for r in rows)


def test_configspace_has_the_conditions_and_the_enumerable_forbiddens() -> None:
    space = _problem(MIXED).design_space
    cs, left = configspace_space(space, seed=0)
    assert left == []  # n * width <= 160 reads two small discrete parameters: enumerated
    assert {str(c) for c in cs.conditions} == {"gamma | kernel == 'rbf'", "degree | kernel == 'poly'"}
    assert cs.forbidden_clauses
    for config in cs.sample_configuration(200):
        design = configspace_design(space, config)
        assert space.contains(design) and not forbidden_rules(space, design)


# --- the resolver, files, listing ------------------------------------------------------------------


def test_any_nevergrad_registry_name_resolves_at_run_time(tmp_path: Path) -> None:
    registry = archgym.get_registry()
    assert "nevergrad.ngoptrw" in registry.agents  # listed
    assert "nevergrad.cmabounded" not in registry.agents  # not listed, resolved
    spec = registry.agent("nevergrad.CMAbounded")
    assert spec.name == "nevergrad.cmabounded" and spec.resolve({})["optimizer"] == "CMAbounded"
    summary = run(
        env="archgym/Branin-v0",
        agent="nevergrad.CMAbounded",
        agent_params={"budget": 12},
        budget=12,
        seed=1,
        out=tmp_path / "r",
        progress=False,
    )
    assert summary["n_evaluations"] == 12 and summary["agent"] == "nevergrad.cmabounded"
    with pytest.raises(ValueError, match=r"no optimizer 'NoSuchOptimizer'.*close"):
        registry.agent("nevergrad.NoSuchOptimizer")
    with pytest.raises(ValueError, match=r"unknown agent 'nosuch\.x'.*nevergrad\.<name>"):
        registry.agent("nosuch.x")


def test_smac_writes_nothing_outside_its_private_temp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    keep = _Keep(HyperparameterOptimization, n_init=3, n_trials=6)
    run(env="archgym/Branin-v0", agent=keep, budget=6, seed=0, out=tmp_path / "run", progress=False)
    assert list(cwd.iterdir()) == []
    assert not keep.agent._tmp.exists()  # removed in finish()
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if "smac" in p.name) == []


def test_agents_lists_30_adapters_from_4_libraries_and_names_the_resolver() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli_main(["agents"]) == 0
    names = [line.split(":")[0] for line in out.getvalue().splitlines() if not line.startswith(" ")]
    adapters = [n for n in names if "." in n and "<" not in n]
    assert len(adapters) >= 30
    assert {n.split(".")[0] for n in adapters} >= {"optuna", "nevergrad", "pymoo", "smac"}
    assert "nevergrad.<name>" in names
