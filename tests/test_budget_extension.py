"""Issue #28 part 4: ``--resume DIR --budget N`` extends a run to N evaluations, and its records
equal an uninterrupted run of N; a finished run is left as it is; a smaller N is refused, and so
is extending an agent that plans from its budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from archgym.cli import main
from archgym.loop import resume, run

SAME = ("step", "batch", "slot", "eval_seed", "reward", "feasible", "param.x1", "param.x2")


def _records(out: Path) -> list[dict[str, Any]]:
    rows = pq.read_table(out / "evaluations.parquet").sort_by("step").to_pylist()
    return [{k: r[k] for k in SAME} for r in rows]


@pytest.mark.parametrize(("agent", "short", "long"), [("random", 12, 30), ("ga", 16, 40)])
def test_an_extended_run_equals_an_uninterrupted_run(
    tmp_path: Path, agent: str, short: int, long: int
) -> None:
    options = {"env": "archgym/Branin-v0", "agent": agent, "seed": 4, "progress": False}
    run(out=tmp_path / "whole", budget=long, **options)
    run(out=tmp_path / "extended", budget=short, **options)
    summary = resume(tmp_path / "extended", budget=long, progress=False)
    assert summary["budget"] == long and summary["n_evaluations"] == long and summary["complete"]
    assert _records(tmp_path / "extended") == _records(tmp_path / "whole")


def test_a_finished_run_is_left_as_it_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    run(env="archgym/Branin-v0", agent="random", budget=5, seed=0, out=out, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != ".lock"}
    assert main(["run", "--resume", str(out), "--no-progress"]) == 0
    assert "is complete (5 evaluations); nothing to resume" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != ".lock"} == before


def test_a_smaller_budget_and_a_budget_planning_agent_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "r"
    run(env="archgym/Branin-v0", agent="random", budget=6, seed=0, out=out, progress=False)
    with pytest.raises(ValueError, match="budget: 4 is smaller than the run's 6"):
        resume(out, budget=4, progress=False)
    rl = tmp_path / "rl"
    run(env="archgym/Branin-v0", agent="rl", budget=4, seed=0, out=rl, progress=False)
    with pytest.raises(ValueError, match="agent 'rl' plans from the run's budget"):
        resume(rl, budget=8, progress=False)
    assert pq.read_table(rl / "evaluations.parquet").num_rows == 4


def test_the_cli_extends_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    run(env="archgym/Branin-v0", agent="random", budget=4, seed=0, out=out, progress=False)
    assert main(["run", "--resume", str(out), "--budget", "9", "--no-progress"]) == 0
    capsys.readouterr()
    assert pq.read_table(out / "evaluations.parquet").num_rows == 9
