"""Issue #22: asynchronous scheduling and the simulated clock — a free worker gets the next
proposal at once, each result is told as it finishes, records carry worker and start/finish
times; on the simulated clock runs are exactly reproducible."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import pyarrow.parquet as pq
import pytest

import archgym
from archgym.loop import RunConfig, problem_of, resume, run
from archgym.plugins import get_registry
from archgym.records import JOURNAL, PARQUET
from archgym.search import Agent, EvalResult

SLEEP = "archgym.testing:archgym-testing/Sleep-v0"
NULL = "archgym.testing:archgym-testing/Null-v0"
SAME = ["step", "worker", "start_s", "finish_s", "fidelity", "reward", "feasible", "param.x1", "param.x2"]


def _rows(out: Path) -> list[dict[str, Any]]:
    return pq.read_table(out / PARQUET).to_pylist()


def _simulated(out: Path, agent: str = "random", env: str = "archgym/Branin-v0", **kwargs: Any) -> dict:
    options: dict[str, Any] = {"budget": 30, "seed": 3, "workers": 4, "schedule": "async"}
    return run(env=env, agent=agent, out=out, simulate_time=True, progress=False, **(options | kwargs))


def test_two_simulated_async_runs_are_identical_except_wall_clock_columns(tmp_path: Path) -> None:
    _simulated(tmp_path / "a")
    _simulated(tmp_path / "b")
    a, b = _rows(tmp_path / "a"), _rows(tmp_path / "b")
    assert [{k: r[k] for k in SAME} for r in a] == [{k: r[k] for k in SAME} for r in b]
    assert [r["timestamp"] for r in a] != [r["timestamp"] for r in b]
    workers = {r["worker"] for r in a}
    assert workers == {0, 1, 2, 3}
    # each worker runs one evaluation at a time, back to back: the simulated clock is consistent
    for w in workers:
        mine = sorted((r["start_s"], r["finish_s"]) for r in a if r["worker"] == w)
        assert all(
            start >= previous_finish - 1e-9 for (_, previous_finish), (start, _) in itertools.pairwise(mine)
        )
    # Branin's documented cost model: 30 s x (1 + 2 u)
    assert all(30.0 <= r["finish_s"] - r["start_s"] <= 90.0 for r in a)


def test_async_orders_evaluations_by_completion_and_sync_waits_for_batches(tmp_path: Path) -> None:
    _simulated(tmp_path / "async")
    sync = _simulated(tmp_path / "sync", schedule="sync", agent_params={"batch_size": 4})
    assert sync["order"].startswith("batch-synchronous on the simulated clock")
    rows = _rows(tmp_path / "sync")
    for batch in {r["batch"] for r in rows} - {0}:
        starts = {r["start_s"] for r in rows if r["batch"] == batch}
        previous_end = max(r["finish_s"] for r in rows if r["batch"] == batch - 1)
        assert starts == {previous_end}  # the whole batch starts when the last of the previous ends
    journal = [json.loads(line) for line in (tmp_path / "async" / JOURNAL).read_text().splitlines()]
    finishes = [r["finish_s"] for r in journal]
    assert finishes == sorted(finishes)  # journaled in completion order
    assert [r["step"] for r in journal] != sorted(r["step"] for r in journal)


def test_async_in_real_time_uses_every_worker_and_completes_the_budget(tmp_path: Path) -> None:
    summary = run(
        env=SLEEP,
        env_kwargs={"delay_s": 0.02, "sigma": 1.0},
        agent="random",
        budget=16,
        seed=0,
        out=tmp_path / "r",
        workers=2,
        schedule="async",
        progress=False,
    )
    rows = _rows(tmp_path / "r")
    assert summary["n_evaluations"] == 16 == len(rows) and summary["schedule"] == "async"
    assert {r["worker"] for r in rows} == {0, 1}
    assert summary["order"].startswith("asynchronous in real time")
    assert all(0 <= r["start_s"] <= r["finish_s"] for r in rows)


def test_an_env_without_a_duration_is_refused_under_the_simulated_clock(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"declares no evaluation duration.*--simulate-time"):
        _simulated(tmp_path / "r", env=NULL)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schedule": "eager"}, "schedule: 'eager' is not legal; legal values: sync, async"),
        ({"simulate_time": 1}, "simulate_time: 1 is not legal"),
        ({"simulate_time": True, "timeout": 5.0}, "--timeout and --max-memory-mb don't apply"),
        ({"time_budget_s": float("nan")}, "time_budget_s: nan is not legal"),
    ],
)
def test_illegal_scheduling_options_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RunConfig(env="archgym/Branin-v0", agent="random", budget=3, seed=0, **kwargs)


def test_the_time_budget_stops_asking_on_the_simulated_clock(tmp_path: Path) -> None:
    summary = _simulated(tmp_path / "r", budget=10_000, time_budget_s=600.0)
    rows = _rows(tmp_path / "r")
    assert 20 < len(rows) < 200  # 4 workers, 30-90 s each, 600 s
    assert max(r["start_s"] for r in rows) < 600.0 <= summary["clock_s"]


def _ask_tell_agents() -> list[str]:
    return sorted(name for name, spec in get_registry().agents.items() if issubclass(spec.load(), Agent))


@pytest.mark.parametrize("agent", _ask_tell_agents())
def test_every_ask_tell_agent_runs_async(tmp_path: Path, agent: str) -> None:
    cls = get_registry().agent(agent).load()
    for env_id in ("archgym/Branin-v0", "archgym/DTLZ2-v0", "archgym/BraninMF-v0", "archgym/DTLZ2MF-v0"):
        problem = problem_of(gym.make(env_id), env_id)
        if cls.incompatibility(problem) is None:
            break
    else:
        pytest.skip(f"{agent} fits neither test env")
    summary = _simulated(tmp_path / "r", agent=agent, env=env_id, budget=12)
    assert summary["n_evaluations"] == 12 and len(_rows(tmp_path / "r")) == 12


def test_a_concurrent_agent_is_asked_again_and_told_each_design_alone() -> None:
    env = gym.make("archgym/Branin-v0")
    agent = get_registry().agent("random").load()(problem_of(env, "archgym/Branin-v0"), seed=0)
    first, second = agent.ask(2), agent.ask(1)
    assert agent.pending == [*first, *second]
    result = EvalResult(design=first[1], reward=1.0, metrics={}, feasible=True, eval_time_s=0.0)
    agent.tell([first[1]], [result])
    assert agent.pending == [first[0], second[0]]
    with pytest.raises(ValueError, match="not pending"):
        agent.tell([first[1]], [result])


def _journal_rows(out: Path) -> list[str]:
    path = out / JOURNAL
    return path.read_text().splitlines() if path.exists() else []


def test_kill_and_resume_of_an_async_run_keeps_every_finished_evaluation(tmp_path: Path) -> None:
    out = tmp_path / "r"
    command = [sys.executable, "-m", "archgym.cli", "run", "--env", SLEEP, "--env-kwarg", "delay_s=0.02"]
    command += ["--env-kwarg", "sigma=1.0", "--agent", "random", "--budget", "40", "--seed", "0"]
    command += ["--out", str(out), "--workers", "2", "--schedule", "async", "--no-progress"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 60
        while len(_journal_rows(out)) < 8:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < end, "no 8 journal rows within 60 s"
            time.sleep(0.005)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    before = [json.loads(line) for line in _journal_rows(out) if line.endswith("}")]
    summary = resume(out, progress=False)
    rows = {r["step"]: r for r in _rows(out)}
    assert summary["n_evaluations"] == 40 == len(rows)
    for row in before:  # every evaluation finished before the kill is kept as it was
        kept = rows[row["step"]]
        assert kept["param.x"] == row["param.x"] and kept["reward"] == row["reward"]
        assert kept["finish_s"] == row["finish_s"] and kept["worker"] == row["worker"]
    resumed = [r for s, r in rows.items() if s not in {b["step"] for b in before}]
    assert min(r["start_s"] for r in resumed) >= max(b["finish_s"] for b in before) - 1e-6  # clock goes on


def test_records_written_before_the_new_columns_still_resume(tmp_path: Path) -> None:
    out = tmp_path / "r"
    run(env="archgym/Branin-v0", agent="random", budget=6, seed=0, out=out, progress=False)
    old = []
    for line in (out / JOURNAL).read_text().splitlines()[:3]:
        row = json.loads(line)
        for column in ("worker", "start_s", "finish_s"):
            del row[column]
        old.append(json.dumps(row))
    (out / JOURNAL).write_text("\n".join(old) + "\n")
    for name in (PARQUET, "summary.json"):
        (out / name).unlink()
    summary = resume(out, progress=False)
    rows = _rows(out)
    assert summary["n_evaluations"] == 6
    assert [r["worker"] for r in rows[:3]] == [None] * 3 and all(r["worker"] == 0 for r in rows[3:])


def test_the_cli_runs_async_on_the_simulated_clock(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from archgym.cli import main

    argv = ["run", "--env", "archgym/Hartmann6-v0", "--agent", "random", "--budget", "9", "--seed", "1"]
    argv += ["--out", str(tmp_path / "r"), "--workers", "3", "--schedule", "async", "--simulate-time"]
    assert main([*argv, "--no-progress"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["n_evaluations"] == 9
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["clock"] == "simulated" and summary["clock_s"] > 0
    assert archgym.__name__ == "archgym"
