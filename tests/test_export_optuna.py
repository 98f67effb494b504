"""Issue #28 part 5: ``archgym export-optuna`` — runs round-trip through Optuna's own API: one
study per run, its trials, parameters with their distributions, values in each objective's
direction, infeasible evaluations as failed trials, metrics as user attributes."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pyarrow.parquet as pq
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

import archgym.testing  # noqa: F401  (registers the archgym-testing envs)
from archgym.cli import main
from archgym.loop import run
from archgym.records import PARQUET
from archgym.report import export_optuna


def _rows(out: Path) -> list[dict]:
    return sorted(pq.read_table(out / PARQUET).to_pylist(), key=lambda r: r["step"])


def _studies(storage: Path) -> dict[str, optuna.Study]:
    store = JournalStorage(JournalFileBackend(str(storage)))
    return {
        s.study_name: optuna.load_study(study_name=s.study_name, storage=store)
        for s in optuna.get_all_study_summaries(store)
    }


def test_mixed_conditional_and_failed_runs_round_trip(tmp_path: Path) -> None:
    mixed, faulty = tmp_path / "mixed", tmp_path / "faulty"
    run(env="archgym/MixedConditional-v0", agent="random", budget=30, seed=1, out=mixed, progress=False)
    run(
        env="archgym-testing/Faulty-v0",
        agent="random",
        budget=20,
        seed=0,
        out=faulty,
        progress=False,
        env_kwargs={"fail_below": 0.3, "hang_above": 2.0},
    )
    storage = tmp_path / "journal.log"
    before = {p: p.read_bytes() for d in (mixed, faulty) for p in d.iterdir() if p.is_file()}
    exported = export_optuna([mixed, faulty], storage)
    assert [e["trials"] for e in exported] == [30, 20]
    studies = _studies(storage)
    assert set(studies) == {e["study"] for e in exported}
    assert all(p.read_bytes() == b for p, b in before.items())  # the runs were only read

    study = studies[exported[0]["study"]]
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert study.user_attrs["agent"] == "random" and study.user_attrs["seed"] == 1
    trials = sorted(study.trials, key=lambda t: t.user_attrs["step"])
    for trial, row in zip(trials, _rows(mixed), strict=True):
        active = {k[len("param.") :]: v for k, v in row.items() if k.startswith("param.") and v is not None}
        assert trial.params == active  # inactive conditional parameters are absent, as in Optuna
        assert trial.state == TrialState.COMPLETE and trial.value == row["reward"]
        assert trial.user_attrs["metric.value"] == row["metric.value"]
    kinds = {name: type(d).__name__ for t in trials for name, d in t.distributions.items()}
    assert kinds == {
        "x": "FloatDistribution",
        "n": "IntDistribution",
        "kernel": "CategoricalDistribution",
        "gamma": "FloatDistribution",
        "degree": "IntDistribution",
        "width": "CategoricalDistribution",
    }
    assert next(t.distributions["gamma"] for t in trials if "gamma" in t.params).log
    assert study.best_value == max(r["reward"] for r in _rows(mixed))

    failing = studies[exported[1]["study"]].trials
    rows = _rows(faulty)
    assert sum(not r["feasible"] for r in rows) == exported[1]["failed"] > 0
    for trial in failing:
        row = rows[trial.user_attrs["step"]]
        assert (trial.state == TrialState.FAIL) == (not row["feasible"])
        if not row["feasible"]:
            assert trial.values is None and trial.user_attrs["error"] == row["error"]
            assert trial.params["x"] == row["param.x"]


def test_multi_objective_values_are_metrics_in_their_direction(tmp_path: Path) -> None:
    out = tmp_path / "dtlz2"
    run(env="archgym/DTLZ2-v0", agent="random", budget=15, seed=0, out=out, progress=False)
    storage = tmp_path / "mo.log"
    [exported] = export_optuna([out], storage)
    study = _studies(storage)[exported["study"]]
    objectives = study.user_attrs["objectives"]
    assert len(objectives) == len(study.directions) >= 2
    rows = _rows(out)
    for name, direction in zip(objectives, study.directions, strict=True):
        minimised = all(math.isclose(r[f"reward.{name}"], -r[f"metric.{name}"]) for r in rows)
        assert direction == (
            optuna.study.StudyDirection.MINIMIZE if minimised else optuna.study.StudyDirection.MAXIMIZE
        )
    for trial in study.trials:
        row = rows[trial.user_attrs["step"]]
        expected = [
            row[f"metric.{n}"] if d == optuna.study.StudyDirection.MINIMIZE else row[f"reward.{n}"]
            for n, d in zip(objectives, study.directions, strict=True)
        ]
        assert trial.values == pytest.approx(expected)
    assert len(study.best_trials) >= 1  # Optuna computes the Pareto front from the exported values


def test_cli_refuses_a_second_copy_and_bad_directories(tmp_path: Path, capsys) -> None:
    out = tmp_path / "b"
    run(env="archgym/Branin-v0", agent="random", budget=5, seed=0, out=out, progress=False)
    storage = tmp_path / "j.log"
    assert main(["export-optuna", str(out), "--storage", str(storage)]) == 0
    assert "optuna-dashboard" in capsys.readouterr().out
    size = storage.stat().st_size
    assert main(["export-optuna", str(out), "--storage", str(storage)]) == 2
    assert "already holds a study" in capsys.readouterr().err and storage.stat().st_size == size
    assert main(["export-optuna", str(tmp_path), "--storage", str(tmp_path / "k.log")]) == 2
    assert "not a run directory" in capsys.readouterr().err
