"""The ``bo`` agent with outcome constraints (``constraint_handling``): each constraint's signed
violation gets its own GP and the acquisition weights improvement by the probability of
feasibility ("model"), or a violating evaluation is a plain infeasible one ("infeasible")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from archgym.loop import run
from archgym.search import Problem
from archgym.spaces import DesignSpace, Real

# isort: split
# after archgym: importing an agent module first would load the plugins in the middle of it
from archgym_agents.bo import BayesianOptimization

GRAMACY = "archgym/ConstrainedGramacy-v0"
FAST: dict[str, Any] = {"num_restarts": 2, "raw_samples": 64}


class _Recording(BayesianOptimization):
    """The agent, keeping the last acquisition function it built."""

    last_acqf: Any = None

    def _acquisition_function(self, *args: Any, **kwargs: Any) -> Any:
        self.last_acqf = super()._acquisition_function(*args, **kwargs)
        return self.last_acqf


def _capture(**params: Any) -> tuple[list[_Recording], Any]:
    built: list[_Recording] = []

    def factory(problem: Problem, *, seed: int) -> _Recording:
        built.append(_Recording(problem, seed=seed, **params))
        return built[-1]

    return built, factory


def _rows(out: Path) -> list[dict[str, Any]]:
    return sorted(pq.read_table(out / "evaluations.parquet").to_pylist(), key=lambda r: r["step"])


@pytest.mark.parametrize("value", ["penalty", "", "MODEL", 1])
def test_constraint_handling_refuses_illegal_values(value: Any) -> None:
    problem = Problem(env_id="t", design_space=DesignSpace([Real("x", 0.0, 1.0)]), n_objectives=1)
    with pytest.raises(ValueError, match="constraint_handling"):
        BayesianOptimization(problem, seed=0, constraint_handling=value)


def test_model_fits_each_violation_and_learns_violators_objective(tmp_path: Path) -> None:
    built, factory = _capture(n_init=8, **FAST)
    summary = run(env=GRAMACY, agent=factory, budget=12, seed=1, out=tmp_path / "m", progress=False)
    assert summary["n_evaluations"] == 12
    agent = built[0]
    assert agent.constraint_names == ("gap_max", "radius2_max")
    rows = _rows(tmp_path / "m")[:11]  # the last GP was fitted on the first 11 evaluations
    _, Y = agent.last_training_data
    assert Y.shape == (11, 3)  # the objective, then one column per constraint
    violated = [not r["feasible"] for r in rows]
    assert any(violated) and not all(violated)
    # a violating design's objective is its measured value (reward = -value), never the penalty
    values = np.array([-(r["param.x1"] + r["param.x2"]) for r in rows])
    np.testing.assert_allclose(Y[:, 0], values)
    assert not np.any(Y[:, 0] == -2.0)
    # the constraint columns are the recorded signed violations
    np.testing.assert_allclose(Y[:, 1], [r["constraint.gap_max"] for r in rows])
    np.testing.assert_allclose(Y[:, 2], [r["constraint.radius2_max"] for r in rows])
    assert agent.model.num_outputs == 3
    acqf = agent.last_acqf
    assert type(acqf).__name__ == "LogConstrainedExpectedImprovement"
    # each bound is the standardised zero of its violation column
    mean, std = agent.target_scale
    assert acqf.constraints == {
        1: (None, pytest.approx(-mean[1] / std[1])),
        2: (None, pytest.approx(-mean[2] / std[2])),
    }


def test_infeasible_treats_violations_as_plain_failures(tmp_path: Path) -> None:
    built, factory = _capture(n_init=8, constraint_handling="infeasible", **FAST)
    run(env=GRAMACY, agent=factory, budget=12, seed=1, out=tmp_path / "i", progress=False)
    agent = built[0]
    assert agent.constraint_names == ()
    rows = _rows(tmp_path / "i")[:11]
    _, Y = agent.last_training_data
    assert Y.shape == (11, 1)
    feasible = np.array([r["feasible"] for r in rows])
    worst = min(r["reward"] for r in rows if r["feasible"])
    assert np.all(Y[~feasible, 0] == worst)  # imputed with the worst feasible reward


def test_modelled_constraints_find_a_better_feasible_design(tmp_path: Path) -> None:
    """Same seed, same Sobol start: the constrained optimum lies on the boundary of the feasible
    region, which "model" can approach from both sides (it knows the violators' objective values
    and how far each was from feasible), while "infeasible" only learns where failures were."""
    best = {}
    for handling in ("model", "infeasible"):
        summary = run(
            env=GRAMACY,
            agent="bo",
            agent_params=FAST | {"n_init": 6, "constraint_handling": handling},
            budget=20,
            seed=4,
            out=tmp_path / handling,
            progress=False,
        )
        assert summary["n_evaluations"] == 20
        best[handling] = summary["best_reward"]
    assert best["model"] > best["infeasible"]
    assert best["model"] <= -0.5998 + 1e-4  # no feasible design beats the known optimum


@pytest.mark.parametrize("acquisition", ["qlognei", "qlogei"])
def test_monte_carlo_acquisitions_take_the_constraints(tmp_path: Path, acquisition: str) -> None:
    """(0, 0) has the best objective on the square but violates ``gap <= 0`` by 1.5; a design by
    the constrained optimum is feasible. Only an acquisition weighing feasibility ranks it first."""
    import torch

    built, factory = _capture(n_init=8, acquisition=acquisition, **FAST)
    run(env=GRAMACY, agent=factory, budget=10, seed=0, out=tmp_path / acquisition, progress=False)
    acqf = built[0].last_acqf
    assert (
        type(acqf).__name__
        == {"qlognei": "qLogNoisyExpectedImprovement", "qlogei": "qLogExpectedImprovement"}[acquisition]
    )
    with torch.no_grad():
        corner, feasible = acqf(torch.tensor([[[0.0, 0.0]], [[0.2, 0.45]]], dtype=torch.float64)).tolist()
    assert feasible > corner


def test_multi_objective_with_a_user_constraint(tmp_path: Path) -> None:
    built, factory = _capture(n_init=6, **FAST)
    summary = run(
        env="archgym/DTLZ2-v0",
        env_kwargs={"outcome_constraints": {"f1": ("<=", 0.8)}},
        agent=factory,
        budget=8,
        seed=0,
        out=tmp_path / "mo",
        progress=False,
    )
    assert summary["n_evaluations"] == 8
    agent = built[0]
    assert agent.constraint_names == ("f1_max",)
    assert agent.last_training_data[1].shape == (7, 3)  # two objectives, one violation
    acqf = agent.last_acqf
    assert type(acqf).__name__ == "qLogExpectedHypervolumeImprovement"  # auto on a real space
    assert acqf.constraints is not None and len(acqf.constraints) == 1
