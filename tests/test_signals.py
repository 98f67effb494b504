"""Issue #20 part 4: SIGTERM and SIGINT end a run cleanly — real signals to a real ``archgym run``
child process: the journal is consolidated, ``summary.json`` is marked incomplete, the CLI prints
one line naming ``--resume`` and exits 143/130, no worker process is left, and the resumed run
finishes with the full budget."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

from archgym.cli import main
from archgym.loop import run
from archgym.loop.config import SUMMARY
from archgym.loop.runner import RunInterrupted
from archgym.records import JOURNAL, PARQUET

SLEEP = "archgym.testing:archgym-testing/Sleep-v0"
BUDGET = 200


def _journal_rows(out: Path) -> int:
    path = out / JOURNAL
    if not path.exists():
        return 0
    rows = 0
    for line in path.read_text().splitlines():
        try:
            json.loads(line)
        except json.JSONDecodeError:  # a torn last line is not a row
            continue
        rows += 1
    return rows


def _wait_for_rows(proc: subprocess.Popen[str], out: Path, rows: int, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while _journal_rows(out) < rows:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, f"no {rows} journal rows after {deadline_s} s"
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("signum", "workers"),
    [(signal.SIGTERM, 1), (signal.SIGINT, 1), (signal.SIGTERM, 2), (signal.SIGINT, 2)],
    ids=["sigterm", "sigint", "sigterm-workers", "ctrl-c-group-workers"],
)
def test_signal_stops_run_cleanly_and_resume_completes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], signum: signal.Signals, workers: int
) -> None:
    out = tmp_path / "run"
    command = [sys.executable, "-m", "archgym.cli", "run", "--env", SLEEP, "--env-kwarg", "delay_s=0.02"]
    command += ["--agent", "random", "--budget", str(BUDGET), "--seed", "0", "--out", str(out)]
    command += ["--workers", str(workers)]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        _wait_for_rows(proc, out, 5)
        children = psutil.Process(proc.pid).children(recursive=True)
        if workers > 1:  # evaluations run in worker processes
            assert len(children) >= workers, children
        if signum == signal.SIGINT and workers > 1:
            os.killpg(proc.pid, signum)  # a terminal's Ctrl-C: the whole process group, workers too
        else:
            proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:  # pragma: no cover - only when the test fails
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "--resume" in lines[0] and name in lines[0] and str(out) in lines[0], err

    # no worker (nor any other process of the run) outlives it
    _, alive = psutil.wait_procs(children, timeout=2)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], alive
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)

    rows = _journal_rows(out)
    assert 5 <= rows < BUDGET
    assert pq.read_table(out / PARQUET).num_rows == rows
    summary = json.loads((out / SUMMARY).read_text())
    assert summary["complete"] is False and summary["stopped_by"] == name
    assert summary["n_evaluations"] == rows
    assert f"after {rows} of {BUDGET} evaluations" in lines[0]

    assert main(["run", "--resume", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert _journal_rows(out) == BUDGET
    assert pq.read_table(out / PARQUET).num_rows == BUDGET
    summary = json.loads((out / SUMMARY).read_text())
    assert summary["complete"] is True and summary["stopped_by"] is None
    assert summary["n_evaluations"] == BUDGET and summary["resumed"] is True


def test_normal_run_is_complete_and_handlers_are_restored(tmp_path: Path) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    summary = run(env="archgym/Branin-v0", agent="random", budget=4, seed=0, out=tmp_path, progress=False)
    assert summary["complete"] is True and summary["stopped_by"] is None
    assert {s: signal.getsignal(s) for s in before} == before


def test_run_interrupted_carries_exit_code_and_resume_hint(tmp_path: Path) -> None:
    exc = RunInterrupted("SIGTERM", out=tmp_path, n_evaluations=17, budget=50)
    assert isinstance(exc, KeyboardInterrupt) and exc.exit_code == 143
    assert (
        str(exc)
        == f"stopped by SIGTERM after 17 of 50 evaluations; continue with: archgym run --resume {tmp_path}"
    )
    assert RunInterrupted("SIGINT").exit_code == 130


@pytest.mark.parametrize("workers", [0, 2], ids=["in-process", "pool"])
def test_a_signalled_campaign_stops_in_one_line_and_the_same_command_continues_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], workers: int
) -> None:
    """``archgym bench`` on SIGTERM: its runs stop cleanly (pool processes too), it prints one
    line naming the bench command — not ``run --resume`` — and rerunning it finishes."""
    campaign = tmp_path / "c.toml"
    campaign.write_text(
        f'budget = 60\ntuning_seeds = [0]\ntest_seeds = [1, 2]\n[[envs]]\nid = "{SLEEP}"\n'
        'kwargs = { delay_s = 0.02 }\n[[agents]]\nname = "random"\n'
    )
    out = tmp_path / "c"
    command = [sys.executable, "-m", "archgym.cli", "bench", str(campaign), "--out", str(out)]
    command += ["--workers", str(workers), "--no-progress"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 60
        while not any(_journal_rows(j.parent) >= 3 for j in out.glob(f"runs/**/{JOURNAL}")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < end, "no campaign run recorded 3 rows within 60 s"
            time.sleep(0.01)
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:  # pragma: no cover - only when the test fails
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert f"archgym bench {campaign} --out {out}" in lines[0] and "--resume" not in lines[0], err
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], alive
    stopped = [json.loads(p.read_text()) for p in out.glob(f"runs/**/{SUMMARY}")]
    assert all(s["complete"] is False and s["stopped_by"] == "SIGTERM" for s in stopped), stopped

    assert main(["bench", str(campaign), "--out", str(out), "--workers", str(workers), "--no-progress"]) == 0
    capsys.readouterr()
    finished = [json.loads(p.read_text()) for p in out.glob(f"runs/**/{SUMMARY}")]
    assert len(finished) == 3 and all(s["complete"] and s["n_evaluations"] == 60 for s in finished)
