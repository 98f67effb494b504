"""Issue #26 part 1: outcome constraints in the env contract — declared or added at make time,
recorded as signed violations (``constraint.<name>``, <= 0 satisfied), deciding ``feasible``;
told to agents (``EvalResult.constraints``, ``Problem.outcome_constraints``), to Optuna through
``Trial.set_constraint``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import archgym
from archgym import OutcomeConstraint
from archgym.cli import main
from archgym.loop import problem_of, resume, run
from archgym.records import JOURNAL, PARQUET
from archgym.search import EvalResult

GRAMACY = "archgym/ConstrainedGramacy-v0"


def _rows(out: Path) -> list[dict[str, Any]]:
    return pq.read_table(out / PARQUET).to_pylist()


def _gap(x1: float, x2: float) -> float:
    return 1.5 - x1 - 2 * x2 - 0.5 * math.sin(2 * math.pi * (x1**2 - 2 * x2))


def test_declared_constraints_are_recorded_with_their_signs_and_decide_feasibility(tmp_path: Path) -> None:
    run(env=GRAMACY, agent="random", budget=40, seed=0, out=tmp_path / "r", progress=False)
    rows = _rows(tmp_path / "r")
    assert {r["feasible"] for r in rows} == {True, False}
    for r in rows:
        x1, x2 = r["param.x1"], r["param.x2"]
        assert r["constraint.gap_max"] == pytest.approx(_gap(x1, x2))
        assert r["constraint.radius2_max"] == pytest.approx(x1**2 + x2**2 - 1.5)
        ok = r["constraint.gap_max"] <= 0 and r["constraint.radius2_max"] <= 0
        assert r["feasible"] == ok
        if not ok:
            assert r["error"].startswith("outcome constraint violated: ") and r["reward"] == -2.0
            named = {
                "gap <= 0": r["constraint.gap_max"] > 0,
                "radius2 <= 1.5": r["constraint.radius2_max"] > 0,
            }
            assert all((text in r["error"]) == broken for text, broken in named.items())
        else:
            assert r["reward"] == pytest.approx(-(x1 + x2)) and r["reward"] <= -0.5998 + 1e-3


def test_a_user_constraint_added_at_make_time_and_on_the_cli(tmp_path: Path, capsys: Any) -> None:
    argv = ["run", "--env", "archgym/Branin-v0", "--agent", "random", "--budget", "12", "--seed", "1"]
    assert main([*argv, "--constraint", "value<=20", "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    capsys.readouterr()
    rows = _rows(tmp_path / "r")
    for r in rows:
        assert r["constraint.value_max"] == pytest.approx(r["metric.value"] - 20)
        assert r["feasible"] == (r["metric.value"] <= 20)
    assert {r["feasible"] for r in rows} == {True, False}
    stored = json.loads((tmp_path / "r" / "run.json").read_text())["config"]["env_kwargs"]
    assert stored["outcome_constraints"] == ["value<=20"]
    # a resumed run rebuilds the constraint from run.json and replays the violations exactly
    lines = (tmp_path / "r" / JOURNAL).read_text().splitlines(keepends=True)
    (tmp_path / "r" / JOURNAL).write_text("".join(lines[:5]))
    for name in (PARQUET, "summary.json"):
        (tmp_path / "r" / name).unlink()
    resume(tmp_path / "r", progress=False)
    assert _rows(tmp_path / "r") == rows[:5] + _rows(tmp_path / "r")[5:]
    assert [r["constraint.value_max"] for r in _rows(tmp_path / "r")] == [
        r["constraint.value_max"] for r in rows
    ]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"energy": ("<=", 1.0)}, "metric 'energy' is not legal for ConstrainedGramacy; legal values"),
        ({"value": ("<=", math.nan)}, "bound nan is not legal"),
        ({"value": ("<", 1.0)}, "operator '<' is not legal; legal values: <=, >="),
        ({"radius2": ("<=", 2.0)}, "would loosen the env's own radius2 <= 1.5"),
        (["value=<1"], "--constraint: 'value=<1' is not legal"),
        ({"value": 3}, "outcome_constraints['value']: 3 is not legal"),
    ],
)
def test_invalid_constraint_specs_are_refused(given: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        gym.make(GRAMACY, outcome_constraints=given)


def test_a_bad_cli_constraint_is_one_line(tmp_path: Path, capsys: Any) -> None:
    argv = ["run", "--env", "archgym/Branin-v0", "--agent", "random", "--budget", "2", "--out", str(tmp_path)]
    with pytest.raises(SystemExit):
        main([*argv, "--constraint", "value<=nan"])
    err = capsys.readouterr().err.strip().splitlines()
    assert "bound 'nan'" in err[-1] or "bound nan" in err[-1]


@settings(max_examples=60, deadline=None)
@given(op=st.sampled_from(["<=", ">="]), bound=st.floats(-1e6, 1e6), value=st.floats(-1e6, 1e6))
def test_the_violation_is_signed_distance_to_the_bound(op: str, bound: float, value: float) -> None:
    violation = OutcomeConstraint("m", op, bound).violation({"m": value})
    assert violation == (value - bound if op == "<=" else bound - value)
    assert (violation <= 0) == (value <= bound if op == "<=" else value >= bound)


def test_agents_see_constraints_and_the_objective_of_a_violating_design() -> None:
    env = gym.make(GRAMACY)
    problem = problem_of(env, GRAMACY)
    assert [c.name for c in problem.outcome_constraints] == ["gap_max", "radius2_max"]
    env.reset(seed=0)
    _, reward, _, _, info = env.step(env.unwrapped.design_space.to_action({"x1": 0.1, "x2": 0.1}))
    assert not info["feasible"] and info["constraints"]["gap_max"] > 0
    result = EvalResult(
        design={"x1": 0.1, "x2": 0.1},
        reward=reward,
        metrics=info["metrics"],
        feasible=False,
        eval_time_s=0.0,
        error=info["error"],
        constraints=info["constraints"],
    )
    assert reward == -2.0 and problem.objective_value(result) == pytest.approx(-0.2)


def test_optuna_is_told_the_violations(tmp_path: Path) -> None:
    from optuna.trial import TrialState

    from archgym_agents.optuna_samplers import TreeParzen

    agents = []

    def factory(problem: Any, *, seed: int) -> TreeParzen:
        agents.append(TreeParzen(problem, seed=seed, n_startup_trials=4))
        return agents[0]

    run(env=GRAMACY, agent=factory, budget=16, seed=0, out=tmp_path / "r", progress=False)
    trials = agents[0].study.trials
    assert all(t.state == TrialState.COMPLETE for t in trials)  # violations are told, not failures
    told = [t.system_attrs for t in trials]
    assert all({"constraints:gap_max", "constraints:radius2_max"} <= set(a) for a in told)
    assert any(a["constraints:gap_max"] > 0 for a in told) and any(
        a["constraints:gap_max"] <= 0 for a in told
    )


def _fitting_agents() -> list[str]:
    problem = problem_of(gym.make(GRAMACY), GRAMACY)
    registry = archgym.get_registry()
    return sorted(n for n, s in registry.agents.items() if s.load().incompatibility(problem) is None)


@pytest.mark.parametrize("agent", _fitting_agents())
def test_every_agent_runs_on_a_constrained_env(tmp_path: Path, agent: str) -> None:
    summary = run(env=GRAMACY, agent=agent, budget=8, seed=0, out=tmp_path / "r", progress=False)
    rows = _rows(tmp_path / "r")
    assert summary["n_evaluations"] == 8 == len(rows)
    assert all(r["constraint.gap_max"] is not None for r in rows)
