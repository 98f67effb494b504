"""Issue #20, data integrity: one writer per run directory, resume checks its journal, and
nothing that reads (or consolidates) a run ever replaces its records with fewer."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from archgym.campaign import parse_campaign, run_campaign
from archgym.cli import main
from archgym.data import export
from archgym.loop import resume, run
from archgym.loop.runner import LOCK, DirectoryLocked, hold_directory
from archgym.records import JOURNAL, PARQUET, RUN_META, consolidate

SLEEP = "archgym.testing:archgym-testing/Sleep-v0"
BRANIN = "archgym/Branin-v0"


def _run(out: Path, budget: int = 6) -> dict:
    return run(env=BRANIN, agent="random", budget=budget, seed=0, out=out, progress=False)


def _lines(out: Path) -> list[str]:
    return (out / JOURNAL).read_text().splitlines(keepends=True)


def _clean_error(rc: int, capsys: pytest.CaptureFixture[str], *needles: str) -> None:
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert "Traceback" not in err and "\n" not in err, err
    for needle in needles:
        assert needle in err, err


# --- one writer per directory -------------------------------------------------------------------
def test_a_second_writer_is_refused_naming_the_holder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "r"
    box: dict = {}

    def first() -> None:
        try:
            box["summary"] = run(
                env=SLEEP,
                agent="random",
                budget=30,
                seed=0,
                out=out,
                env_kwargs={"delay_s": 0.05},
                progress=False,
            )
        except BaseException as exc:  # pragma: no cover - reported below
            box["error"] = exc

    thread = threading.Thread(target=first)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not ((out / JOURNAL).exists() and (out / JOURNAL).stat().st_size) and thread.is_alive():
            assert time.monotonic() < deadline, "the first run wrote no journal row"
            time.sleep(0.01)
        assert thread.is_alive(), "the first run ended too soon to test"
        pid = str(os.getpid())
        with pytest.raises(DirectoryLocked, match=pid) as info:
            run(env=SLEEP, agent="random", budget=5, seed=1, out=out, progress=False)
        assert str(out) in str(info.value)
        with pytest.raises(DirectoryLocked, match=f"PID {pid}"):
            resume(out, progress=False)
        _clean_error(main(["run", "--resume", str(out), "--no-progress"]), capsys, str(out), f"PID {pid}")
        assert (out / LOCK).read_text().strip() == pid
    finally:
        thread.join(60)
    assert "error" not in box, box.get("error")
    assert box["summary"]["n_evaluations"] == 30
    assert pq.read_table(out / PARQUET).num_rows == 30  # the refused writers wrote nothing
    assert resume(out, progress=False)["n_evaluations"] == 30  # the lock went with its holder


def test_a_campaign_directory_has_one_writer(tmp_path: Path) -> None:
    campaign = parse_campaign(
        {
            "name": "one",
            "budget": 3,
            "tuning_seeds": [0],
            "test_seeds": [1],
            "envs": [{"id": BRANIN}],
            "agents": [{"name": "random"}],
        }
    )
    out = tmp_path / "c"
    with hold_directory(out), pytest.raises(DirectoryLocked, match=str(os.getpid())):
        run_campaign(campaign, out, workers=0, progress=False)
    assert not (out / "runs").exists()


def test_a_refused_run_leaves_no_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        run(env=BRANIN, agent="no-such-agent", budget=3, seed=0, out=tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("name", [JOURNAL, PARQUET])
def test_records_without_run_json_are_refused(tmp_path: Path, name: str) -> None:
    out = tmp_path / "stray"
    out.mkdir()
    (out / name).write_text('{"step": 0}\n')
    before = (out / name).read_bytes()
    with pytest.raises(FileExistsError, match=str(out / name)):
        _run(out)
    assert (out / name).read_bytes() == before and not (out / RUN_META).exists()


# --- resume checks its journal ------------------------------------------------------------------
def _killed(tmp_path: Path, keep: int = 4, budget: int = 8) -> Path:
    """A finished run cut back to its first ``keep`` journal rows, as a killed one would be."""
    out = tmp_path / "r"
    _run(out, budget)
    (out / JOURNAL).write_text("".join(_lines(out)[:keep]))
    (out / PARQUET).unlink()
    (out / "summary.json").unlink()
    return out


def test_a_duplicated_line_is_repaired_with_a_warning(tmp_path: Path) -> None:
    out = _killed(tmp_path)
    lines = _lines(out)
    (out / JOURNAL).write_text("".join([*lines[:3], lines[2], lines[3]]))
    with pytest.warns(UserWarning, match=r"dropped 1 duplicated line.*line 4 \(repeats line 3\)"):
        summary = resume(out, progress=False)
    assert summary["n_evaluations"] == 8
    assert pq.read_table(out / PARQUET).num_rows == 8
    steps = [json.loads(line)["step"] for line in _lines(out)]
    assert sorted(steps) == list(range(8))


def _damage(line: str) -> str:
    row = json.loads(line)
    row["reward"] = 12345.0
    return json.dumps(row) + "\n"


def _without_feasible(line: str) -> str:
    row = json.loads(line)
    del row["feasible"]
    return json.dumps(row) + "\n"


def _step(line: str, step: int) -> str:
    return json.dumps({**json.loads(line), "step": step}) + "\n"


@pytest.mark.parametrize(
    ("edit", "line", "needle"),
    [
        (lambda ls: [*ls[:3], _damage(ls[1]), ls[3]], 4, "recorded twice with different content"),
        (lambda ls: [ls[0], _without_feasible(ls[1]), *ls[2:]], 2, "lacks field(s) feasible"),
        (lambda ls: [*ls[:2], "{not json\n", *ls[2:]], 3, "not a JSON journal row"),
        (lambda ls: [*ls[:2], "[1, 2]\n", *ls[2:]], 3, "must be a JSON object"),
        (lambda ls: [ls[0], _step(ls[1], 8), *ls[2:]], 2, "not an integer in [0, 8)"),
        (lambda ls: [ls[0], _step(ls[1], -1), *ls[2:]], 2, "not an integer in [0, 8)"),
    ],
    ids=[
        "conflicting-duplicate",
        "missing-field",
        "garbage",
        "not-an-object",
        "step-past-budget",
        "negative",
    ],
)
def test_a_damaged_journal_is_refused_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, edit, line: int, needle: str
) -> None:
    out = _killed(tmp_path)
    (out / JOURNAL).write_text("".join(edit(_lines(out))))
    before = (out / JOURNAL).read_bytes()
    with pytest.raises(ValueError, match=f"{out / JOURNAL}:{line}: ") as info:
        resume(out, progress=False)
    assert needle in str(info.value)
    assert (out / JOURNAL).read_bytes() == before  # refused before anything was written
    _clean_error(
        main(["run", "--resume", str(out), "--no-progress"]), capsys, f"{out / JOURNAL}:{line}", needle
    )


def test_a_torn_last_line_is_still_just_dropped(tmp_path: Path) -> None:
    out = _killed(tmp_path)
    (out / JOURNAL).write_text("".join(_lines(out)) + '{"step": 4, "bat')
    assert resume(out, progress=False)["n_evaluations"] == 8


@pytest.mark.parametrize("key", ["layout", "run_id", "versions"])
def test_run_json_missing_a_key_is_refused_naming_it(tmp_path: Path, key: str) -> None:
    out = _killed(tmp_path)
    meta = json.loads((out / RUN_META).read_text())
    del meta[key]
    (out / RUN_META).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=f"{out / RUN_META}: key '{key}' missing"):
        resume(out, progress=False)


# --- records are never destroyed ----------------------------------------------------------------
@pytest.mark.parametrize("keep", [0, 3])
def test_export_over_a_damaged_run_keeps_its_records(tmp_path: Path, keep: int) -> None:
    out = tmp_path / "r"
    _run(out, budget=6)
    parquet = (out / PARQUET).read_bytes()
    time.sleep(0.01)
    (out / JOURNAL).write_text("".join(_lines(out)[:keep]))  # emptied or truncated, and newer
    os.utime(out / JOURNAL, (time.time() + 5, time.time() + 5))
    with pytest.warns(UserWarning, match=f"holds {keep} rows, fewer than the 6"):
        export([out], tmp_path / "d.parquet")
    assert (out / PARQUET).read_bytes() == parquet
    assert pq.read_table(tmp_path / "d.parquet").num_rows == 6


def test_export_still_consolidates_a_killed_run(tmp_path: Path) -> None:
    out = _killed(tmp_path, keep=5)
    export([out], tmp_path / "d.parquet")
    assert pq.read_table(out / PARQUET).num_rows == 5


def test_consolidate_never_shrinks_the_records(tmp_path: Path) -> None:
    out = tmp_path / "r"
    _run(out, budget=6)
    parquet = (out / PARQUET).read_bytes()
    (out / JOURNAL).write_text("".join(_lines(out)[:2]))
    with pytest.raises(ValueError, match=r"holds 6 rows but .* only 2"):
        consolidate(out)
    assert (out / PARQUET).read_bytes() == parquet
    assert sorted(p.name for p in out.iterdir() if p.name.endswith(".tmp")) == []


def test_export_of_a_run_being_written_is_refused_naming_the_writer(tmp_path: Path) -> None:
    """Export consolidates a killed run, so it is a writer too: while another holds the run's
    lock (a live run or resume), it is refused, naming the holder's PID, and nothing changes."""
    out = _killed(tmp_path, keep=5)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != LOCK}
    with hold_directory(out), pytest.raises(DirectoryLocked, match=f"PID {os.getpid()}"):
        export([out], tmp_path / "d.parquet")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != LOCK} == before
    assert not (tmp_path / "d.parquet").exists()
    export([out], tmp_path / "d.parquet")  # once the writer has gone
    assert pq.read_table(tmp_path / "d.parquet").num_rows == 5
