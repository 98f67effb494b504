"""Issue #28 part 1: ``archgym show RUN_DIR`` — the data behind what it prints and draws equals
the records (best so far = the cumulative maximum of feasible rewards; regret = optimum − best),
it works on killed runs, and it never touches a run's files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from archgym.cli import main
from archgym.loop import run
from archgym.records import JOURNAL, PARQUET
from archgym.report import show


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}


def test_show_of_a_finished_run(tmp_path: Path) -> None:
    out = tmp_path / "r"
    run(env="archgym/Branin-v0", agent="random", budget=25, seed=2, out=out, progress=False)
    before = _files(out)
    view = show(out, tmp_path / "view", top=3)
    rows = sorted(pq.read_table(out / PARQUET).to_pylist(), key=lambda r: r["step"])
    rewards = np.array([r["reward"] if r["feasible"] else -np.inf for r in rows])
    assert view["best_so_far"] == pytest.approx(np.maximum.accumulate(rewards).tolist())
    summary = json.loads((out / "summary.json").read_text())
    assert view["regret"] == pytest.approx(summary["optimal_reward"] - max(rewards))
    assert [r["reward"] for r in view["top"]] == sorted(rewards, reverse=True)[:3]
    assert Path(view["html"]).is_file() and (tmp_path / "view" / "figures" / "best_so_far.png").is_file()
    assert _files(out) == before and not (out / "show").exists()


def test_show_of_a_killed_run_reads_its_journal_and_writes_nothing_into_it(tmp_path: Path) -> None:
    out = tmp_path / "r"
    run(env="archgym/Hartmann6-v0", agent="random", budget=10, seed=0, out=out, progress=False)
    lines = (out / JOURNAL).read_text().splitlines(keepends=True)
    (out / JOURNAL).write_text("".join(lines[:6]) + lines[6][:20])  # killed mid-write
    for name in (PARQUET, "summary.json"):
        (out / name).unlink()
    before = _files(out)
    view = show(out, tmp_path / "view")
    assert view["n_evaluations"] == 6 and view["regret"] is None
    assert "incomplete" in view["text"] and "regret: unknown" in view["text"]
    assert _files(out) == before


def test_show_of_a_multi_objective_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    run(env="archgym/DTLZ2-v0", agent="random", budget=20, seed=0, out=out, progress=False)
    summary = json.loads((out / "summary.json").read_text())
    assert main(["show", str(out), "--out", str(tmp_path / "view")]) == 0
    printed = capsys.readouterr().out
    assert f"hypervolume: {summary['hypervolume']:.4g}" in printed
    gap = summary["reference_front_hypervolume"] - summary["hypervolume"]
    assert f"hypervolume gap to the true front: {gap:.6g}" in printed
    assert (tmp_path / "view" / "figures" / "pareto_front.png").is_file()


def test_show_refuses_what_is_not_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_show_of_a_map_elites_run_includes_its_archive_heatmap(tmp_path: Path) -> None:
    out = tmp_path / "me"
    run(
        env="archgym/Branin-v0",
        agent="mapelites",
        budget=20,
        seed=0,
        out=out,
        progress=False,
        agent_params={"measures": "x1,x2", "cells": 4},
    )
    view = show(out, tmp_path / "view")
    copied = tmp_path / "view" / "figures" / "archive.png"
    assert copied.read_bytes() == (out / "archive.png").read_bytes()
    assert "figures/archive.png" in Path(view["html"]).read_text()
    plain = tmp_path / "plain"
    run(env="archgym/Branin-v0", agent="random", budget=5, seed=0, out=plain, progress=False)
    show(plain, tmp_path / "view2")
    assert not (tmp_path / "view2" / "figures" / "archive.png").exists()


def test_show_of_a_multi_fidelity_run_gives_the_best_confirmed_at_full_fidelity(tmp_path: Path) -> None:
    out = tmp_path / "mf"
    run(env="archgym/BraninMF-v0", agent="asha", budget=40, seed=0, out=out, progress=False)
    view = show(out, tmp_path / "view")
    rows = pq.read_table(out / PARQUET).to_pylist()
    full = [r["reward"] for r in rows if r["feasible"] and r["fidelity"] == 1.0]
    optimum = json.loads((out / "summary.json").read_text())["optimal_reward"]
    assert full and view["best_at_full_fidelity"] == max(full)
    assert view["regret_at_full_fidelity"] == pytest.approx(optimum - max(full))
    assert view["best_reward"] == max(r["reward"] for r in rows if r["feasible"])  # over every fidelity
    assert "best at full fidelity:" in view["text"]
