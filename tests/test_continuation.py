"""Continuation: a promoted evaluation resumes from its lower fidelity's checkpoint (kept in the run
directory), pays only the increment, and ends where training directly would have; a missing
checkpoint retrains and says so; checkpoint files are read without unpickling objects."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from archgym.env import CHECKPOINT_MISSING, CONTINUED_FROM, CheckpointStore, Fidelity
from archgym.loop import resume, run
from archgym_nas.env import RESNET_CELL, NASBench201

NAS = "archgym/NASBench201-v0"
TINY = {"channels": 4, "n_cells": 1, "max_train": 128, "resolution": 8, "schedule_epochs": 4}
TIMING = ("train_time_s",)


@pytest.fixture(scope="module")
def env() -> NASBench201:
    return NASBench201(**TINY)


def _step(env: NASBench201, seed: int, options: dict) -> dict:
    env.reset(seed=seed, options=options)
    design = NASBench201.design_from_cell_string(RESNET_CELL)
    _, _, _, _, info = env.step(env.design_space.to_action(design))
    assert info["feasible"], info.get("error")
    return info["metrics"]


def _trained(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k not in (*TIMING, CONTINUED_FROM, CHECKPOINT_MISSING)}


def test_continuing_from_a_to_b_equals_training_to_b_directly(env: NASBench201, tmp_path: Path) -> None:
    store = str(tmp_path / "ckpt")
    low = _step(env, 7, {"fidelity": 1, "checkpoints": store})
    assert low[CONTINUED_FROM] == 0 and low[CHECKPOINT_MISSING] == 0
    # the continuing episode's own seed (99) is not used: the checkpoint's training seed is
    resumed = _step(env, 99, {"fidelity": 3, "checkpoints": store, "continue_from": 1})
    direct = _step(env, 7, {"fidelity": 3})
    assert resumed[CONTINUED_FROM] == 1 and resumed[CHECKPOINT_MISSING] == 0
    assert _trained(resumed) == _trained(direct)
    assert _trained(resumed) != _trained(low)  # two more epochs changed something
    again = _step(env, 5, {"fidelity": 4, "checkpoints": store, "continue_from": 3})
    assert _trained(again) == _trained(_step(env, 7, {"fidelity": 4}))


def test_a_missing_checkpoint_retrains_from_scratch_and_says_so(env: NASBench201, tmp_path: Path) -> None:
    metrics = _step(env, 3, {"fidelity": 2, "checkpoints": str(tmp_path / "empty"), "continue_from": 1})
    assert metrics[CHECKPOINT_MISSING] == 1 and metrics[CONTINUED_FROM] == 0
    assert _trained(metrics) == _trained(_step(env, 3, {"fidelity": 2}))


def test_default_schedule_is_unchanged_and_not_continuable(tmp_path: Path) -> None:
    plain = NASBench201(channels=4, n_cells=1, max_train=64, resolution=8)
    assert plain.fidelity == Fidelity("epochs", 1, 200, 3, integer=True) and not plain.continuable
    assert CONTINUED_FROM not in plain.metric_units
    with pytest.raises(ValueError, match="continue_from"):
        plain.reset(options={"fidelity": 2, "continue_from": 1})
    continuable = NASBench201(**TINY)
    assert continuable.fidelity.high == 4 and continuable.fidelity.default == 4 and continuable.continuable
    assert CONTINUED_FROM not in continuable.observed_metrics  # a fact of the run, not the design
    with pytest.raises(ValueError, match="continue_from"):
        continuable.reset(options={"fidelity": 2, "continue_from": 2})  # not below
    for bad in (float("nan"), 1.5, "1", 10**30):
        with pytest.raises(ValueError, match="legal values"):
            continuable.reset(options={"fidelity": 4, "continue_from": bad})
    with pytest.raises(ValueError, match="checkpoints"):
        continuable.reset(options={"fidelity": 4, "checkpoints": 3})
    with pytest.raises(ValueError, match="schedule_epochs"):
        NASBench201(schedule_epochs=0)
    with pytest.raises(ValueError, match="schedule_epochs"):
        NASBench201(schedule_epochs=12, backend="table")


class _Evil:
    def __reduce__(self) -> tuple:
        return (os.system, ("touch PWNED",))


def test_a_checkpoint_holding_an_object_is_never_unpickled(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = CheckpointStore(tmp_path / "ckpt")
    design = {"a": 1}
    path = store.path(design, 2)
    path.parent.mkdir(parents=True)
    torch.save({"model": _Evil()}, path)  # what a hostile file could hold
    assert store.load(design, 2) is None  # refused by weights_only: treated as missing
    assert not (tmp_path / "PWNED").exists()
    store.save(design, 2, {"w": torch.ones(3), "n": 4, "name": "x"})
    loaded = store.load(design, 2)
    assert loaded is not None and loaded["n"] == 4 and torch.equal(loaded["w"], torch.ones(3))


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.one_of(st.text(max_size=12), st.integers(), st.floats(allow_nan=False)),
        min_size=1,
        max_size=4,
    ),
    st.one_of(st.integers(1, 10**6), st.floats(1e-6, 1e6)),
)
def test_checkpoint_paths_stay_inside_the_run_root(design: dict, fidelity: float) -> None:
    store = CheckpointStore("/tmp/archgym-root-that-is-never-written")
    path = store.path(design, fidelity)
    assert path.is_relative_to(store.root) and path.parent.parent == store.root
    assert store.path(dict(reversed(list(design.items()))), fidelity) == path  # keyed by the design


def test_a_folder_symlinked_out_of_the_root_is_refused(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "root")
    design = {"x": 1}
    inside = store.path(design, 1)
    inside.parent.parent.mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    inside.parent.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="leaves"):
        store.path(design, 1)


def _records(out: Path):
    return pq.read_table(out / "evaluations.parquet").to_pandas().sort_values("step").reset_index(drop=True)


def _nas_run(out: Path, **options) -> object:
    kwargs = {"budget": None, "cost_budget": 2.0, "seed": 1, "progress": False, "env_kwargs": TINY}
    kwargs.update(options)
    run(env=NAS, agent="asha", out=out, **kwargs)
    return _records(out)


@pytest.mark.parametrize("clock", ["sync", "simulated"])
def test_promotions_reuse_checkpoints_reproducibly_and_pay_the_increment(tmp_path: Path, clock: str) -> None:
    options = {"schedule": "async", "simulate_time": True, "workers": 3} if clock == "simulated" else {}
    first = _nas_run(tmp_path / "a", **options)
    second = _nas_run(tmp_path / "b", **options)
    columns = ["step", "fidelity", "reward", "cost", "metric." + CONTINUED_FROM, *first.filter(like="param.")]
    assert first[columns].equals(second[columns])  # same seed, same records
    high = 4
    frame = first.rename(columns=lambda c: c.replace(".", "_"))
    params = [c for c in frame.columns if c.startswith("param_")]
    reached: dict[tuple, float] = {}
    promoted = 0
    for row in frame.itertuples(index=False):
        key = tuple(getattr(row, c) for c in params)
        before = reached.get(key)
        # a promotion resumes from the design's highest fidelity so far, and pays the increment
        assert row.metric_continued_from == (before or 0) and row.metric_checkpoint_missing == 0
        assert row.cost == pytest.approx((row.fidelity - row.metric_continued_from) / high)
        reached[key] = max(before or 0, row.fidelity)
        promoted += before is not None
    assert promoted > 0
    assert (tmp_path / "a" / "checkpoints").is_dir()
    in_flight = options.get("workers", 1)  # evaluations running when the budget was spent finish
    assert frame.cost.sum() - frame.cost.nlargest(in_flight).sum() < 2.0


def test_a_run_extended_without_its_checkpoints_retrains_and_records_it(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(env=NAS, agent="asha", budget=6, seed=2, out=out, env_kwargs=TINY, progress=False)
    before = _records(out)
    for path in sorted((out / "checkpoints").rglob("*.pt")):
        path.unlink()  # a run directory copied without them
    resume(out, budget=14, progress=False)
    after = _records(out)
    assert after.iloc[:6][["step", "reward", "fidelity"]].equals(before[["step", "reward", "fidelity"]])
    seen = {tuple(r) for r in before.filter(like="param.").itertuples(index=False)}
    tail = after.iloc[6:]
    again = [tuple(r) in seen for r in tail.filter(like="param.").itertuples(index=False)]
    assert any(again), "the extension promotes a design evaluated before the checkpoints went"
    promoted = tail[np.array(again)]
    assert (promoted["metric." + CHECKPOINT_MISSING] == 1).all()
    assert (promoted["cost"] == promoted["fidelity"] / 4).all()  # the whole training, paid again


KILLED_RUN = """
import sys
from archgym.loop import run
run(env="archgym/NASBench201-v0", agent="asha", budget=40, seed=3, out=sys.argv[1],
    env_kwargs={tiny!r}, progress=False)
"""


def test_kill_and_resume_loses_no_finished_evaluation(tmp_path: Path) -> None:
    out = tmp_path / "run"
    child = subprocess.Popen([sys.executable, "-c", KILLED_RUN.format(tiny=TINY), str(out)])
    journal = out / "journal.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if journal.exists() and len(journal.read_text().splitlines()) >= 8:
            break
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    finished = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    assert len(finished) >= 8
    resume(out, progress=False)
    after = _records(out)
    assert len(after) == 40
    by_step = after.set_index("step")
    for row in finished:
        assert by_step.loc[row["step"], "reward"] == pytest.approx(row["reward"])
        assert by_step.loc[row["step"], "fidelity"] == row["fidelity"]


def test_worker_processes_share_the_run_directory_s_checkpoints(tmp_path: Path) -> None:
    records = _nas_run(tmp_path / "run", workers=2, cost_budget=1.5)
    promoted = records[records["metric." + CONTINUED_FROM] > 0]
    assert len(promoted) > 0  # promotions found checkpoints written by whichever worker trained them
    assert (records["metric." + CHECKPOINT_MISSING] == 0).all()
