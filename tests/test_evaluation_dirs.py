"""Issue #20 part 5: evaluations leave nothing behind. Each runs with a private, empty directory
as its CWD and temporary root (a simulator writing relative paths stays inside it, from every
worker at once); a resume removes what a run killed by SIGKILL left; replacement workers ignore
a terminal's Ctrl-C like the first ones; a signal while a run is still setting up ends it in one
line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from archgym.execution import ProcessExecutor, Task, run_scratch_root
from archgym.execution.evaluation import EnvRecipe, resolve_spec
from archgym.loop import RunInterrupted, resume, run
from archgym.records import JOURNAL, PARQUET
from archgym.testing import ConstantAgent

FAULTY = "archgym.testing:archgym-testing/Faulty-v0"
WRITES_CWD = {"fail_below": 0.0, "hang_above": 1.0, "write_cwd": True}


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private system temporary directory (TMPDIR), and a user CWD, both empty."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", None)
    user = tmp_path / "user"
    user.mkdir()
    monkeypatch.chdir(user)
    return scratch


def _rows(out: Path) -> list[dict[str, Any]]:
    return pq.read_table(out / PARQUET).to_pylist()


@pytest.mark.parametrize("workers", [1, 2], ids=["in-process", "workers"])
def test_relative_writes_stay_in_a_private_cwd_and_are_removed(private_tmp: Path, workers: int) -> None:
    """Every evaluation writes ``faulty-cwd.txt`` relative to its CWD and fails if the file is
    already there: all feasible means each one started in an empty private directory."""
    out = private_tmp.parent / "run"
    summary = run(
        env=FAULTY, agent="random", budget=12, seed=0, out=out, env_kwargs=WRITES_CWD, workers=workers
    )
    rows = _rows(out)
    assert summary["n_evaluations"] == 12 and all(r["feasible"] for r in rows), [r["error"] for r in rows]
    assert list(Path.cwd().iterdir()) == []  # nothing in the user's CWD
    assert list(private_tmp.iterdir()) == []  # nor in the temporary directory
    assert Path.cwd() == private_tmp.parent / "user"  # and the caller's CWD is its own again


def test_the_cwd_of_a_failing_evaluation_is_emptied_too(private_tmp: Path) -> None:
    """Evaluations that raise after writing (x < 0.5) leave nothing for the next one."""
    out = private_tmp.parent / "run"
    run(
        env=FAULTY,
        agent="random",
        budget=16,
        seed=3,
        out=out,
        env_kwargs={**WRITES_CWD, "fail_below": 0.5},
    )
    errors = [r["error"] or "" for r in _rows(out)]
    assert any(e.startswith("RuntimeError: simulated crash") for e in errors)
    assert not any("FileExistsError" in e for e in errors), errors
    assert list(private_tmp.iterdir()) == []


def _journal_rows(out: Path) -> int:
    path = out / JOURNAL
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_a_resume_removes_what_a_killed_run_left(private_tmp: Path) -> None:
    """SIGKILL the loop while its two workers evaluate: the kernel ends the workers, but their
    scratch directories stay; resuming the run removes them and completes it."""
    out = private_tmp.parent / "run"
    kwargs = ["--env-kwarg", "fail_below=0.0", "--env-kwarg", "hang_above=0.0", "--env-kwarg", "hang_s=0.05"]
    command = [sys.executable, "-m", "archgym.cli", "run", "--env", FAULTY, *kwargs, "--agent", "random"]
    command += ["--budget", "40", "--seed", "0", "--out", str(out), "--workers", "2", "--no-progress"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    leftovers = run_scratch_root(out)
    try:
        end = time.monotonic() + 60
        while _journal_rows(out) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < end, "the run recorded nothing within 60 s"
            time.sleep(0.01)
    finally:
        proc.kill()
        proc.communicate()
    assert len(list(leftovers.glob("archgym-worker-*"))) == 2, "a SIGKILLed run leaves its workers' dirs"

    summary = resume(out, progress=False)
    assert summary["n_evaluations"] == 40
    assert not leftovers.exists()
    assert list(private_tmp.iterdir()) == []


def _ignores_sigint(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    raise AssertionError("no SigIgn line")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_replacement_workers_ignore_ctrl_c_too(tmp_path: Path) -> None:
    # the handler this process started with: Python's default, or SIG_IGN where the test run was
    # launched in the background by a shell without job control (POSIX ignores SIGINT there)
    ours = signal.getsignal(signal.SIGINT)
    recipe = EnvRecipe(resolve_spec(FAULTY), {"fail_below": 0.0, "hang_above": 0.5, "hang_s": 30.0})
    executor = ProcessExecutor(recipe, workers=1, timeout=0.5, penalty=-10.0, scratch_root=tmp_path / "s")
    try:
        first = executor._workers[0].process.pid
        assert _ignores_sigint(first)
        results = list(executor.run([Task(0, {"x": 0.9}, None, 0), Task(1, {"x": 0.1}, None, 1)]))
        assert results[0].result.error.startswith("timeout")  # the first worker was killed and replaced
        replacement = executor._workers[0].process.pid
        assert replacement != first and _ignores_sigint(replacement)
        assert signal.getsignal(signal.SIGINT) is ours  # ours is untouched
    finally:
        executor.close()
    assert not (tmp_path / "s").exists() or list((tmp_path / "s").iterdir()) == []


def _signalled_during_setup(problem: Any, *, seed: int) -> ConstantAgent:
    os.kill(os.getpid(), signal.SIGTERM)  # a real signal, while the agent is being built
    time.sleep(1.0)  # the handler raises before this ends
    raise AssertionError("SIGTERM did not stop the setup")


def test_a_signal_while_setting_up_a_run_ends_it_in_one_line(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(RunInterrupted) as stopped:
        run(env=FAULTY, agent=_signalled_during_setup, budget=5, seed=0, out=out, progress=False)
    assert stopped.value.exit_code == 143
    assert str(stopped.value) == "stopped by SIGTERM while setting up the run; nothing was recorded"
    assert not out.exists()  # nothing was recorded, so no directory is left either
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_signal_while_setting_up_a_resume_leaves_the_run_unchanged(private_tmp: Path) -> None:
    out = private_tmp.parent / "run"
    run(env=FAULTY, agent=ConstantAgent, budget=4, seed=0, out=out, progress=False, env_kwargs=WRITES_CWD)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    meta = json.loads((out / "run.json").read_text())
    meta["config"]["budget"] = 8
    (out / "run.json").write_text(json.dumps(meta))
    before["run.json"] = (out / "run.json").read_bytes()
    with pytest.raises(RunInterrupted) as stopped:
        resume(out, progress=False, agent=_signalled_during_setup)
    assert "while setting up the resume; the run is unchanged" in str(stopped.value)
    assert f"archgym run --resume {out}" in str(stopped.value)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
