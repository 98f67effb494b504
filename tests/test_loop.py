"""The evaluation loop: budget, seeding, workers, failures, timeouts, records, resume."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pyarrow.parquet as pq
import pytest

import archgym
import archgym.testing
from archgym.cli import main as cli
from archgym.loop import build_agent, resume, run
from archgym.records import read_journal
from archgym.search import Agent, AskTellAdapter, EvalResult, Problem, Proposal
from archgym.testing import ConstantAgent, RandomActionsAgent

ANALYTIC = ["archgym/Branin-v0", "archgym/Hartmann6-v0", "archgym/MixedConditional-v0", "archgym/DTLZ2-v0"]
SLEEP = "archgym.testing:archgym-testing/Sleep-v0"
FAULTY = "archgym.testing:archgym-testing/Faulty-v0"


def records(out: Path) -> list[dict]:
    return pq.read_table(out / "evaluations.parquet").to_pylist()


def columns(rows: list[dict], prefixes: tuple[str, ...]) -> list[dict]:
    ordered = sorted(rows, key=lambda r: r["step"])
    return [{k: v for k, v in r.items() if k.startswith(prefixes)} for r in ordered]


@pytest.mark.parametrize("env_id", ANALYTIC)
def test_cli_run_writes_budget_rows_and_best_matches_records(env_id: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    code = cli(
        [
            "run",
            "--env",
            env_id,
            "--agent",
            "random",
            "--budget",
            "23",
            "--seed",
            "4",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    rows = records(out)
    assert len(rows) == 23
    assert sorted(r["step"] for r in rows) == list(range(23))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_evaluations"] == 23
    feasible = [r for r in rows if r["feasible"]]
    reward_columns = [k for k in rows[0] if k == "reward" or k.startswith("reward.")]
    if reward_columns == ["reward"]:
        best = max(feasible, key=lambda r: r["reward"])
        assert summary["best_reward"] == best["reward"]
        assert summary["best_design"] == {
            k[6:]: v for k, v in best.items() if k.startswith("param.") and v is not None
        }
    else:  # multi-objective: the per-objective best, a Pareto set and its hypervolume
        assert summary["best_reward"] == [max(r[c] for r in feasible) for c in reward_columns]
        assert summary["pareto_front"] and summary["hypervolume"] is not None
    for row in rows:
        assert row["env_id"] == env_id and row["agent"] == "random" and row["seed"] == 4
        assert json.loads(row["versions"])["archgym"] == archgym.__version__


def test_same_seed_same_results_and_worker_count_does_not_matter(tmp_path: Path) -> None:
    def rows_of(name: str, **overrides: object) -> list[dict]:
        kwargs = dict(env="archgym/MixedConditional-v0", agent="random", budget=20, seed=7, progress=False)
        run(out=tmp_path / name, **(kwargs | overrides))
        return records(tmp_path / name)

    a, b, c, d = rows_of("a"), rows_of("b"), rows_of("c", workers=2), rows_of("d", seed=8)
    keep = ("param.", "metric.", "reward", "feasible", "eval_seed")
    assert columns(a, keep) == columns(b, keep)
    assert columns(a, ("param.", "reward")) == columns(c, ("param.", "reward"))
    assert a[0]["run_id"] != b[0]["run_id"]
    assert columns(a, ("param.",)) != columns(d, ("param.",))


def test_failures_and_timeouts_are_recorded_and_the_run_finishes(tmp_path: Path) -> None:
    out = tmp_path / "faulty"
    summary = run(
        env=FAULTY,
        env_kwargs={"hang_s": 60},
        agent="random",
        agent_params={"batch_size": 4},
        budget=16,
        seed=1,
        out=out,
        workers=2,
        timeout=1.0,
        progress=False,
    )
    rows = records(out)
    assert len(rows) == 16 and summary["n_evaluations"] == 16
    crashed = [r for r in rows if r["param.x"] < 0.2]
    hung = [r for r in rows if r["param.x"] > 0.8]
    fine = [r for r in rows if 0.2 <= r["param.x"] <= 0.8]
    assert crashed and hung and fine
    for r in crashed:
        assert not r["feasible"] and "simulated crash" in r["error"] and r["reward"] == -10.0
    for r in hung:
        assert not r["feasible"] and "timeout" in r["error"] and r["reward"] == -10.0
    for r in fine:
        assert r["feasible"] and r["error"] is None and r["reward"] == pytest.approx(r["param.x"])
    assert summary["best_reward"] == max(r["reward"] for r in fine)


def _journal_lines(out: Path) -> int:
    path = out / "journal.jsonl"
    return path.read_text().count("\n") if path.exists() else 0


def test_sigkill_then_resume_completes_without_duplicates(tmp_path: Path) -> None:
    out, reference = tmp_path / "killed", tmp_path / "reference"
    argv = [
        sys.executable,
        "-m",
        "archgym.cli",
        "run",
        "--env",
        SLEEP,
        "--env-kwarg",
        "delay_s=0.15",
        "--agent",
        "random",
        "--budget",
        "30",
        "--seed",
        "3",
        "--out",
        str(out),
        "--workers",
        "2",
        "--no-progress",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _journal_lines(out) < 6 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = read_journal(out)
    assert 6 <= len(done) < 30, "the run should have been killed mid-way"
    assert not (out / "summary.json").exists()

    summary = resume(out, progress=False)
    rows = records(out)
    assert summary["n_evaluations"] == 30 and summary["resumed"]
    assert sorted(r["step"] for r in rows) == list(range(30))
    kept = {r["step"]: r for r in rows}
    for row in done:  # every evaluation finished before the kill is kept, not re-run
        assert kept[row["step"]]["timestamp"].timestamp() == pytest.approx(row["timestamp"], abs=1e-5)
    run(
        env=SLEEP,
        env_kwargs={"delay_s": 0.0},
        agent="random",
        budget=30,
        seed=3,
        out=reference,
        progress=False,
    )
    keep = ("param.", "reward")
    assert columns(rows, keep) == columns(records(reference), keep)


def test_resume_of_a_finished_or_missing_run(tmp_path: Path) -> None:
    out = tmp_path / "r"
    run(env="archgym/Branin-v0", agent="random", budget=5, seed=0, out=out, progress=False)
    with pytest.raises(FileExistsError, match="already holds a run"):
        run(env="archgym/Branin-v0", agent="random", budget=5, seed=0, out=out, progress=False)
    assert resume(out, progress=False)["n_evaluations"] == 5  # nothing left: nothing re-evaluated
    assert len(read_journal(out)) == 5
    with pytest.raises(FileNotFoundError, match=r"run\.json"):
        resume(tmp_path / "nothing-here", progress=False)


def test_torn_journal_line_is_ignored(tmp_path: Path) -> None:
    out = tmp_path / "r"
    run(env="archgym/Branin-v0", agent="random", budget=6, seed=0, out=out, progress=False)
    with (out / "journal.jsonl").open("a") as fh:
        fh.write('{"step": 6, "batch"')  # a write cut short by SIGKILL
    assert len(read_journal(out)) == 6
    archgym.records.consolidate(out)
    assert len(records(out)) == 6


class SingleObjectiveOnly(ConstantAgent):
    pass


def test_incompatible_agent_fails_before_evaluating_and_names_alternatives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = archgym.get_registry()
    spec = archgym.AgentSpec(name="constant", entry_point="archgym.testing:ConstantAgent", description="test")
    monkeypatch.setitem(registry.agents, "constant", spec)
    expected = r"agent 'constant' can't search.*agents that can: .*random.*--scalarize"
    with pytest.raises(ValueError, match=expected):
        run(env="archgym/DTLZ2-v0", agent="constant", budget=3, seed=0, out=tmp_path / "x", progress=False)
    assert not (tmp_path / "x" / "journal.jsonl").exists()
    summary = run(
        env="archgym/DTLZ2-v0",
        agent="constant",
        budget=3,
        seed=0,
        out=tmp_path / "y",
        scalarize="chebyshev:0.5,0.5",
        progress=False,
    )
    assert summary["n_evaluations"] == 3 and isinstance(summary["best_reward"], float)


def test_agent_hyperparameters_are_validated_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'batch_size'.*integers in \[1, 1024\]"):
        run(
            env="archgym/Branin-v0",
            agent="random",
            agent_params={"batch_size": 0},
            budget=3,
            seed=0,
            out=tmp_path / "a",
            progress=False,
        )
    with pytest.raises(ValueError, match=r"unknown hyperparameter.*'popsize'.*legal: \['batch_size'\]"):
        run(
            env="archgym/Branin-v0",
            agent="random",
            agent_params={"popsize": 3},
            budget=3,
            seed=0,
            out=tmp_path / "b",
            progress=False,
        )
    with pytest.raises(ValueError, match=r"unknown agent 'nope'; available: .*'random'"):
        run(env="archgym/Branin-v0", agent="nope", budget=3, seed=0, out=tmp_path / "c", progress=False)


def test_ask_tell_order_is_enforced() -> None:
    """For an agent without concurrent asks (a colony is told whole); see test_async.py for those with."""
    env = gym.make("archgym/Branin-v0")
    problem = archgym.loop.problem_of(env, "archgym/Branin-v0")
    agent = build_agent("aco", {}, problem, seed=0)
    assert isinstance(agent, Agent)
    with pytest.raises(RuntimeError, match="without a preceding ask"):
        agent.tell([], [])
    designs = agent.ask(3)
    with pytest.raises(RuntimeError, match="ask\\(\\) called twice"):
        agent.ask(1)
    with pytest.raises(ValueError, match="needs the 3 designs"):
        agent.tell(designs[:2], [])


class CoordinateSearch:
    """A throw-away outside optimizer with its own ask/tell (stands in for Optuna)."""

    def __init__(self) -> None:
        self.best = (0.0, 0.0)
        self.best_value = -math.inf
        self.rng = np.random.default_rng(0)
        self.told: list[float] = []

    def ask(self) -> tuple[int, dict]:
        x1 = float(np.clip(self.best[0] + self.rng.normal(), -5, 10))
        x2 = float(np.clip(self.best[1] + self.rng.normal(), 0, 15))
        return len(self.told), {"x1": x1, "x2": x2}

    def tell(self, token: int, result: EvalResult) -> None:
        assert token == len(self.told)
        self.told.append(result.reward)
        if result.reward > self.best_value:
            self.best_value, self.best = result.reward, (result.design["x1"], result.design["x2"])


def test_ask_tell_adapter_drives_an_outside_optimizer(tmp_path: Path) -> None:
    outside = CoordinateSearch()
    summary = run(
        env="archgym/Branin-v0",
        agent=lambda problem, seed: AskTellAdapter(problem, seed=seed, ask=outside.ask, tell=outside.tell),
        budget=25,
        seed=0,
        out=tmp_path / "o",
        progress=False,
    )
    assert len(outside.told) == 25 and len(records(tmp_path / "o")) == 25
    assert summary["best_reward"] == max(outside.told) == outside.best_value


def test_interactive_agent_runs_on_the_recording_env_until_the_budget(tmp_path: Path) -> None:
    summary = run(
        env="archgym/Hartmann6-v0",
        agent=RandomActionsAgent,
        budget=12,
        seed=0,
        out=tmp_path / "i",
        progress=False,
    )
    rows = records(tmp_path / "i")
    assert len(rows) == 12 == summary["n_evaluations"]
    assert summary["best_reward"] == max(r["reward"] for r in rows)


class MultiFidelity(Agent):
    def _ask(self, n: int) -> list[Proposal]:
        return [Proposal(self.space.sample(self.rng), fidelity=5) for _ in range(n)]

    def _tell(self, designs: list, results: list[EvalResult]) -> None:
        assert all(r.fidelity == 5 for r in results)


def test_cost_budget_counts_fidelity(tmp_path: Path) -> None:
    summary = run(
        env=SLEEP,
        env_kwargs={"delay_s": 0.0},
        agent=MultiFidelity,
        budget=100,
        seed=0,
        out=tmp_path / "f",
        cost_budget=3.0,
        progress=False,
    )
    rows = records(tmp_path / "f")
    assert len(rows) == 6 and all(r["fidelity"] == 5 for r in rows)  # 6 x 5/10 = 3 full evaluations
    assert summary["cost"] == pytest.approx(3.0)


def test_invalid_design_from_an_agent_is_an_error_naming_it(tmp_path: Path) -> None:
    class Broken(ConstantAgent):
        def _ask(self, n: int) -> list:
            return [{"x1": 99.0, "x2": 1.0}]

    with pytest.raises(ValueError, match=r"proposed an invalid design: parameter 'x1'"):
        run(env="archgym/Branin-v0", agent=Broken, budget=2, seed=0, out=tmp_path / "b", progress=False)


def _truncate_run(out: Path, keep: int) -> None:
    """Make a finished run look killed after `keep` evaluations."""
    lines = (out / "journal.jsonl").read_text().splitlines(keepends=True)
    (out / "journal.jsonl").write_text("".join(lines[:keep]))
    (out / "summary.json").unlink()
    (out / "evaluations.parquet").unlink()


class Forgetful(Agent):
    """Not reproducible from its seed: each instance proposes a different sequence."""

    instances = 0

    def __init__(self, problem: Problem, *, seed: int) -> None:
        super().__init__(problem, seed=seed)
        Forgetful.instances += 1
        self.rng = np.random.default_rng(1000 + Forgetful.instances)
        self.batch_size = 3
        self.told = 0

    def _ask(self, n: int) -> list:
        return [self.space.sample(self.rng) for _ in range(n)]

    def _tell(self, designs: list, results: list[EvalResult]) -> None:
        self.told += len(results)


def test_resume_of_an_agent_that_does_not_replay_retells_and_completes(tmp_path: Path) -> None:
    out = tmp_path / "f"
    run(env="archgym/Branin-v0", agent=Forgetful, budget=10, seed=0, out=out, progress=False)
    before = read_journal(out)[:5]
    _truncate_run(out, keep=5)
    with pytest.warns(UserWarning, match="did not replay its recorded designs exactly"):
        summary = resume(out, progress=False, agent=Forgetful)
    rows = records(out)
    assert summary["n_evaluations"] == 10
    assert sorted(r["step"] for r in rows) == list(range(10))
    by_step = {r["step"]: r for r in rows}
    for old in before:  # the recorded evaluations are kept as they were
        assert by_step[old["step"]]["param.x1"] == old["param.x1"]


def test_resume_replays_a_deterministic_agent_exactly(tmp_path: Path) -> None:
    out, reference = tmp_path / "r", tmp_path / "ref"
    run(
        env="archgym/MixedConditional-v0",
        agent="random",
        agent_params={"batch_size": 4},
        budget=11,
        seed=2,
        out=reference,
        progress=False,
    )
    run(
        env="archgym/MixedConditional-v0",
        agent="random",
        agent_params={"batch_size": 4},
        budget=11,
        seed=2,
        out=out,
        progress=False,
    )
    _truncate_run(out, keep=6)  # mid-batch: batch 1 has 2 of its 4 evaluations recorded
    resume(out, progress=False)
    keep = ("param.", "reward", "metric.")
    assert columns(records(out), keep) == columns(records(reference), keep)


class ForgetsAfterFirstBatch(Forgetful):
    """Replays its first batch exactly, then diverges: the resume must not tell it twice."""

    last: ForgetsAfterFirstBatch | None = None

    def __init__(self, problem: Problem, *, seed: int) -> None:
        super().__init__(problem, seed=seed)
        self.first_rng = np.random.default_rng(seed)
        self.asks = 0
        ForgetsAfterFirstBatch.last = self

    def _ask(self, n: int) -> list:
        self.asks += 1
        rng = self.first_rng if self.asks == 1 else self.rng
        return [self.space.sample(rng) for _ in range(n)]


def test_divergence_after_an_exact_batch_tells_each_evaluation_once(tmp_path: Path) -> None:
    out = tmp_path / "h"
    run(env="archgym/Branin-v0", agent=ForgetsAfterFirstBatch, budget=9, seed=0, out=out, progress=False)
    _truncate_run(out, keep=5)  # batch 0 (3 evaluations) replays exactly, batch 1 diverges
    with pytest.warns(UserWarning, match="did not replay"):
        resume(out, progress=False, agent=ForgetsAfterFirstBatch)
    agent = ForgetsAfterFirstBatch.last
    assert agent is not None and agent.told == 9
    assert sorted(r["step"] for r in records(out)) == list(range(9))


def test_workers_that_cannot_start_fail_the_run_instead_of_respawning_forever(tmp_path: Path) -> None:
    script = f"""
import gymnasium as gym
import archgym.testing
from archgym.loop import run

class Local(archgym.testing.NullEnv):  # defined in a script read from stdin: not importable
    pass

gym.register(id="local-test/Local-v0", entry_point=Local)
run(env="local-test/Local-v0", agent="random", budget=4, seed=0, out={str(tmp_path / "w")!r},
    workers=2, progress=False)
"""
    done = subprocess.run(
        [sys.executable, "-"], input=script, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode != 0
    assert "worker processes die while starting" in done.stderr


class NoisyEnv(archgym.testing.NullEnv):
    """Tuning and test 'seeds' give different values, like an RL training with other seeds."""

    def __init__(self, seed_set: str = "tuning") -> None:
        super().__init__()
        self.offset = 0.0 if seed_set == "tuning" else -0.25
        if seed_set == "tuning":
            self.test_kwargs = {"seed_set": "test"}

    def evaluate(self, design, context):
        return {"value": design["x"] + self.offset}


def test_best_design_is_re_evaluated_in_the_env_test_mode(tmp_path: Path) -> None:
    if "local-test/Noisy-v0" not in gym.registry:
        gym.register(id="local-test/Noisy-v0", entry_point=NoisyEnv)
    summary = run(
        env="local-test/Noisy-v0", agent="random", budget=6, seed=0, out=tmp_path / "n", progress=False
    )
    test = summary["test"]
    assert test["env_kwargs"] == {"seed_set": "test"}
    assert test["design"] == summary["best_design"]
    assert test["tuned_reward"] == summary["best_reward"]
    assert test["test_reward"] == pytest.approx(summary["best_reward"] - 0.25)
    written = json.loads((tmp_path / "n" / "summary.json").read_text())
    assert written["test"]["test_reward"] == test["test_reward"]
    plain = run(env="archgym/Branin-v0", agent="random", budget=3, seed=0, out=tmp_path / "b", progress=False)
    assert "test" not in plain


def test_resume_after_a_torn_journal_line_keeps_the_journal_readable(tmp_path: Path) -> None:
    out = tmp_path / "t"
    run(env="archgym/Branin-v0", agent="random", budget=8, seed=0, out=out, progress=False)
    _truncate_run(out, keep=5)
    with (out / "journal.jsonl").open("a") as fh:
        fh.write('{"step": 5, "bat')  # the kill cut this write short
    resume(out, progress=False)
    assert len(read_journal(out)) == 8
    assert sorted(r["step"] for r in records(out)) == list(range(8))
