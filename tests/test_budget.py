"""Issue #23 part 2, budget semantics: a cost budget counts full-fidelity evaluations (fidelity v
costs v / highest), ``budget`` may be omitted with a cost or time budget, the first limit
reached stops the run, and every record carries its cost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from archgym.cli import main
from archgym.loop import RunConfig, run
from archgym.records import PARQUET
from archgym.search import Agent, EvalResult, Problem, Proposal
from archgym.spaces import Design

SLEEP = "archgym.testing:archgym-testing/Sleep-v0"  # fidelity "steps" 1..10, default 10


class HalfFidelity(Agent):
    """Proposes random designs at fidelity 5 of 10: each costs half a full evaluation."""

    batch_size = 3

    def __init__(self, problem: Problem, *, seed: int) -> None:
        super().__init__(problem, seed=seed)

    def _ask(self, n: int) -> list[Proposal]:
        return [Proposal(self.space.sample(self.rng), fidelity=5) for _ in range(n)]

    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None:
        pass


def _rows(out: Path) -> list[dict[str, Any]]:
    return pq.read_table(out / PARQUET).to_pylist()


def _run(out: Path, **kwargs: Any) -> dict[str, Any]:
    options = {"env": SLEEP, "env_kwargs": {"delay_s": 0.0}, "agent": "random", "seed": 0, "progress": False}
    return run(out=out, **(options | kwargs))


def test_a_cost_budget_alone_stops_the_run_and_records_each_cost(tmp_path: Path) -> None:
    summary = _run(tmp_path / "r", budget=None, cost_budget=5.0)
    rows = _rows(tmp_path / "r")
    assert summary["budget"] is None and summary["n_evaluations"] == 5 == len(rows)
    assert summary["cost"] == 5.0 and all(r["cost"] == 1.0 for r in rows)


def test_lower_fidelities_cost_their_share_of_a_full_evaluation(tmp_path: Path) -> None:
    summary = _run(tmp_path / "r", agent=HalfFidelity, budget=None, cost_budget=3.0)
    rows = _rows(tmp_path / "r")
    assert all(r["fidelity"] == 5 and r["cost"] == 0.5 for r in rows)
    assert summary["cost"] == pytest.approx(0.5 * len(rows)) and summary["cost"] >= 3.0
    assert len(rows) <= 6 + HalfFidelity.batch_size - 1  # overshoot: less than one batch


@pytest.mark.parametrize(("budget", "cost_budget", "evaluations"), [(3, 10.0, 3), (10, 2.0, 2)])
def test_the_first_limit_reached_stops_the_run(
    tmp_path: Path, budget: int, cost_budget: float, evaluations: int
) -> None:
    assert _run(tmp_path / "r", budget=budget, cost_budget=cost_budget)["n_evaluations"] == evaluations


def test_a_time_budget_alone_stops_a_simulated_run(tmp_path: Path) -> None:
    summary = run(
        env="archgym/Branin-v0",
        agent="random",
        budget=None,
        seed=0,
        out=tmp_path / "r",
        simulate_time=True,
        workers=2,
        time_budget_s=300.0,
        progress=False,
    )
    assert 4 <= summary["n_evaluations"] <= 30 and summary["clock_s"] >= 300.0


def test_no_limit_at_all_is_refused() -> None:
    with pytest.raises(ValueError, match="budget: None is not legal without cost_budget or time_budget_s"):
        RunConfig(env=SLEEP, agent="random", budget=None, seed=0)


def test_the_cli_takes_a_cost_budget_without_budget(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["run", "--env", SLEEP, "--env-kwarg", "delay_s=0", "--agent", "random", "--no-progress"]
    assert main([*argv, "--cost-budget", "4", "--out", str(tmp_path / "r")]) == 0
    assert json.loads(capsys.readouterr().out)["n_evaluations"] == 4
    assert main([*argv, "--out", str(tmp_path / "s")]) == 2
    assert "run needs --budget" in capsys.readouterr().err
