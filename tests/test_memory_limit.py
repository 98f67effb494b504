"""A per-evaluation memory limit (issue #20): the loop watches each worker's resident memory and
kills one that goes over; that evaluation is recorded infeasible and the run goes on."""

from __future__ import annotations

import json
import math
import multiprocessing as mp
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import archgym.testing  # noqa: F401 - registers archgym-testing/Faulty-v0
from archgym import cli, loop

FAULTY = "archgym-testing/Faulty-v0"
# No crashes, no hangs; designs with x > 0.6 allocate 600 MB.
KWARGS = {"fail_below": 0.0, "hang_above": 1.0, "allocate_mb_above": 0.6, "allocate_mb": 600}


def _records(out: Path) -> list[dict[str, Any]]:
    return pq.read_table(out / "evaluations.parquet").to_pylist()


def test_an_evaluation_over_the_memory_limit_is_killed_and_the_run_goes_on(tmp_path: Path) -> None:
    summary = loop.run(
        env=FAULTY,
        agent="random",
        budget=6,
        seed=1,
        out=tmp_path / "r",
        env_kwargs=KWARGS,
        workers=1,
        max_memory_mb=300,
        progress=False,
    )
    rows = _records(tmp_path / "r")
    assert summary["n_evaluations"] == 6 == len(rows) and summary["complete"]
    assert summary["max_memory_mb"] == 300
    big = [r for r in rows if r["param.x"] > 0.6]
    small = [r for r in rows if r["param.x"] <= 0.6]
    assert big and small, [r["param.x"] for r in rows]
    for r in big:
        assert not r["feasible"] and r["reward"] == -10.0
        assert r["error"].startswith("memory limit: worker used ")
        assert r["error"].endswith("MB > --max-memory-mb 300; worker killed")
        assert float(r["error"].split()[4]) > 300
    assert all(r["feasible"] and not r["error"] for r in small)
    assert json.loads((tmp_path / "r" / "run.json").read_text())["config"]["max_memory_mb"] == 300
    assert not mp.active_children()  # no worker left behind


def test_the_memory_limit_is_refused_with_dask_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--max-memory-mb needs local worker processes"):
        loop.run(
            env=FAULTY, agent="random", budget=2, seed=0, out=tmp_path / "r", dask="local", max_memory_mb=100
        )
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, 0, 1e30, "100", True])
def test_illegal_memory_limits_are_refused(value: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"max_memory_mb: .*legal values: finite numbers > 0 MB"):
        loop.run(env=FAULTY, agent="random", budget=2, seed=0, out=tmp_path / "r", max_memory_mb=value)
    assert not (tmp_path / "r").exists()


def test_the_cli_flag_reaches_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    code = cli.main(
        [
            "run",
            f"--env=archgym.testing:{FAULTY}",
            "--agent=random",
            "--budget=2",
            "--seed=0",
            f"--out={out}",
            "--env-kwarg=fail_below=0",
            "--env-kwarg=hang_above=1",
            "--max-memory-mb=2000",
            "--no-progress",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert json.loads((out / "run.json").read_text())["config"]["max_memory_mb"] == 2000
    assert json.loads((out / "summary.json").read_text())["max_memory_mb"] == 2000
    assert all(r["feasible"] for r in _records(out))


def test_a_bad_cli_value_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(
            ["run", "--env=x", "--agent=random", "--budget=1", f"--out={tmp_path}/r", "--max-memory-mb=nan"]
        )
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--max-memory-mb" in err and "legal values" in err
