"""Faults inside an evaluation are recorded, infeasible evaluations: the run goes on."""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pyarrow.parquet as pq

import archgym  # noqa: F401 - registers the built-in envs
from archgym import DesignEnv, DesignSpace, EvalContext, Objective, Objectives, Real
from archgym.loop import run


class _ExitsBelow(DesignEnv):
    """Calls ``sys.exit(3)`` for x < 0.5, as a simulator wrapper that exits on bad input does."""

    def __init__(self) -> None:
        super().__init__(
            design_space=DesignSpace([Real("x", 0.0, 1.0)]),
            metrics={"value": "1"},
            objective=Objectives([Objective("value", "max")], penalty=-1.0),
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        if design["x"] < 0.5:
            sys.exit(3)
        return {"value": design["x"]}


class _PlainNaN(gym.Env[np.ndarray, np.ndarray]):
    """A plain Gymnasium env whose reward is NaN for a > 0.5 (and says nothing about feasibility)."""

    def __init__(self) -> None:
        self.action_space = gym.spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float64)
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float64)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.zeros(1), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        a = float(np.asarray(action).reshape(-1)[0])
        return np.zeros(1), math.nan if a > 0.5 else a, True, False, {}


def _records(out: Path) -> list[dict[str, Any]]:
    return pq.read_table(out / "evaluations.parquet").to_pylist()


def test_sys_exit_in_evaluate_is_an_infeasible_evaluation_and_the_run_goes_on(tmp_path: Path) -> None:
    gym.register("archgym-test/ExitsBelow-v0", entry_point=_ExitsBelow)
    try:
        summary = run(
            env="archgym-test/ExitsBelow-v0",
            agent="random",
            budget=12,
            seed=0,
            out=tmp_path / "r",
            progress=False,
        )
    finally:
        del gym.registry["archgym-test/ExitsBelow-v0"]
    rows = _records(tmp_path / "r")
    assert summary["n_evaluations"] == 12 == len(rows)
    exited = [r for r in rows if r["param.x"] < 0.5]
    assert exited and all(
        not r["feasible"] and r["error"] == "SystemExit: 3" and r["reward"] == -1.0 for r in exited
    )
    assert all(r["feasible"] for r in rows if r["param.x"] >= 0.5)


def test_a_plain_envs_nan_reward_is_recorded_infeasible_with_the_reason(tmp_path: Path) -> None:
    gym.register("archgym-test/PlainNaN-v0", entry_point=_PlainNaN, disable_env_checker=True)
    try:
        summary = run(
            env="archgym-test/PlainNaN-v0",
            agent="random",
            budget=12,
            seed=1,
            out=tmp_path / "p",
            progress=False,
        )
    finally:
        del gym.registry["archgym-test/PlainNaN-v0"]
    rows = _records(tmp_path / "p")
    nan_rows = [r for r in rows if r["param.a[0]"] > 0.5]
    assert nan_rows and all(not r["feasible"] and r["error"] == "non-finite reward nan" for r in nan_rows)
    assert all(r["feasible"] for r in rows if r["param.a[0]"] <= 0.5)
    assert summary["best_reward"] is not None and summary["best_reward"] <= 0.5


def test_killed_hung_and_finished_workers_leave_no_temporary_files(tmp_path: Path, monkeypatch: Any) -> None:
    """Each evaluation writes into its work dir; hung ones are killed on the timeout and some kill
    their own process. Afterwards the temporary directory holds nothing of the run."""
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", None)
    faults = {"fail_below": 0.1, "hang_above": 0.6, "hang_s": 30.0, "die_at_or_above": 0.85}
    run(
        env="archgym.testing:archgym-testing/Faulty-v0",
        agent="random",
        budget=12,
        seed=0,
        out=tmp_path / "r",
        env_kwargs=faults,
        workers=2,
        timeout=1.0,
        progress=False,
    )
    errors = [r["error"] or "" for r in _records(tmp_path / "r")]
    assert any(e.startswith("timeout") for e in errors) and any(
        e.startswith("worker process died") for e in errors
    )
    assert list(scratch.iterdir()) == []
