"""Live runs record each design's free statistics (stat.<name> columns), computed by the loop's own
env in its own process: for failed evaluations too, the same for every worker count, kept on
resume; an env whose statistics() raises still has every evaluation recorded."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import pyarrow.parquet as pq
import pytest

from archgym import DesignEnv, DesignSpace, EvalContext, Objective, Objectives, Real
from archgym.data import export, load_dataset
from archgym.loop import resume, run
from archgym.records import STAT, design_of, read_journal
from archgym.testing import RandomActionsAgent

# one system, known in closed form; a tight iteration cap makes slow omegas infeasible
SOR = "archgym/SOR-v0"
SOR_KWARGS = {"sequence": "constant", "n": 8, "tol": 1e-3, "max_iterations": 15}
PICKY = "archgym-test/PickyStatistics-v0"


def records(out: Path) -> list[dict[str, Any]]:
    return sorted(pq.read_table(out / "evaluations.parquet").to_pylist(), key=lambda r: r["step"])


def stat_columns(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k.startswith(STAT)}


def sor_env() -> Any:
    return gym.make(SOR, **SOR_KWARGS).unwrapped


def assert_rows_carry_the_envs_statistics(rows: list[dict[str, Any]]) -> None:
    env = sor_env()
    for row in rows:
        expected = {STAT + k: v for k, v in env.statistics(design_of(row)).items()}
        assert stat_columns(row) == expected


def test_every_row_of_a_live_run_carries_its_designs_statistics_whatever_the_worker_count(
    tmp_path: Path,
) -> None:
    kwargs = dict(env=SOR, env_kwargs=SOR_KWARGS, agent="random", budget=10, seed=3, progress=False)
    run(out=tmp_path / "one", **kwargs)
    run(out=tmp_path / "two", workers=2, agent_params={"batch_size": 4}, **kwargs)
    one, two = records(tmp_path / "one"), records(tmp_path / "two")
    names = list(sor_env().statistic_names)
    assert json.loads((tmp_path / "one" / "run.json").read_text())["layout"]["statistics"] == names
    assert {STAT + n for n in names} <= set(one[0])
    assert {r["feasible"] for r in one} == {True, False}  # infeasible rows have them too
    assert_rows_carry_the_envs_statistics(one)
    assert [stat_columns(r) for r in one] == [stat_columns(r) for r in two]
    assert [design_of(r) for r in one] == [design_of(r) for r in two]


class PickyStatistics(DesignEnv):
    """Its evaluation fails for x < 0.3, and its statistics() raises for x > 0.7 (and returns a
    non-number for 0.6 < x <= 0.7): a statistic is never a reason to lose a record."""

    statistic_names = ("twice_x", "x_squared")

    def __init__(self) -> None:
        super().__init__(
            design_space=DesignSpace([Real("x", 0.0, 1.0)]),
            metrics={"value": "1"},
            objective=Objectives([Objective("value", "max")], penalty=-1.0),
        )

    def statistics(self, design: Mapping[str, Any]) -> dict[str, float]:
        if design["x"] > 0.7:
            raise RuntimeError("no statistics up here")
        if design["x"] > 0.6:
            return {"twice_x": "many", "x_squared": 0.0}  # type: ignore[dict-item]
        return {"twice_x": 2 * design["x"], "x_squared": design["x"] ** 2}

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        if design["x"] < 0.3:
            raise RuntimeError("simulated crash")
        return {"value": design["x"]}


@pytest.fixture
def picky() -> Any:
    gym.register(PICKY, entry_point=PickyStatistics)
    yield PICKY
    gym.registry.pop(PICKY, None)


def _check_picky(rows: list[dict[str, Any]], budget: int) -> None:
    assert len(rows) == budget
    by_kind = {"failed": 0, "null": 0, "computed": 0}
    for row in rows:
        x = row["param.x"]
        if x > 0.6:
            assert stat_columns(row) == {"stat.twice_x": None, "stat.x_squared": None}
            by_kind["null"] += 1
            continue
        assert row["stat.twice_x"] == 2 * x and row["stat.x_squared"] == x**2
        by_kind["failed" if x < 0.3 else "computed"] += 1
        assert row["feasible"] is (x >= 0.3)
    assert all(by_kind.values()), by_kind


def test_an_env_whose_statistics_raise_still_records_every_evaluation(picky: str, tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=r"PickyStatistics.*could not be computed") as caught:
        summary = run(env=picky, agent="random", budget=30, seed=0, out=tmp_path / "p", progress=False)
    assert summary["n_evaluations"] == 30
    assert len([w for w in caught if "could not be computed" in str(w.message)]) == 1  # once per run
    _check_picky(records(tmp_path / "p"), 30)


def test_an_agent_stepping_the_env_itself_gets_statistics_recorded_too(picky: str, tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="could not be computed"):
        run(env=picky, agent=RandomActionsAgent, budget=30, seed=1, out=tmp_path / "i", progress=False)
    _check_picky(records(tmp_path / "i"), 30)


def _truncate(out: Path, keep: int, *, strip_statistics: bool = False) -> None:
    """Make a finished run look killed after ``keep`` evaluations; ``strip_statistics``: and
    recorded before runs carried free statistics (no ``stat.*`` anywhere)."""
    lines = (out / "journal.jsonl").read_text().splitlines()[:keep]
    if strip_statistics:
        rows = [json.loads(line) for line in lines]
        lines = [json.dumps({k: v for k, v in r.items() if not k.startswith(STAT)}) for r in rows]
        meta = json.loads((out / "run.json").read_text())
        del meta["layout"]["statistics"]
        (out / "run.json").write_text(json.dumps(meta))
    (out / "journal.jsonl").write_text("".join(line + "\n" for line in lines))
    (out / "summary.json").unlink()
    (out / "evaluations.parquet").unlink()


def test_resume_keeps_recording_statistics(tmp_path: Path) -> None:
    out = tmp_path / "r"
    run(env=SOR, env_kwargs=SOR_KWARGS, agent="random", budget=8, seed=0, out=out, progress=False)
    whole = records(out)
    _truncate(out, keep=3)
    resume(out, progress=False)
    again = records(out)
    assert len(again) == 8
    assert_rows_carry_the_envs_statistics(again)
    assert [stat_columns(r) for r in again] == [stat_columns(r) for r in whole]


def test_a_run_recorded_without_statistics_resumes_without_them_and_exports_with_them(
    tmp_path: Path,
) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    kwargs = dict(env=SOR, env_kwargs=SOR_KWARGS, agent="random", budget=8, progress=False)
    run(out=old, seed=0, **kwargs)
    _truncate(old, keep=3, strip_statistics=True)
    resume(old, progress=False)
    rows = records(old)
    assert len(rows) == 8 and not any(stat_columns(r) for r in rows)
    assert not any(stat_columns(r) for r in read_journal(old))
    assert "statistics" not in json.loads((old / "run.json").read_text())["layout"]
    # the export computes what the old run lacks, and keeps what the new run recorded
    run(out=new, seed=1, **kwargs)
    journal = (new / "journal.jsonl").read_text().splitlines()
    first = json.loads(journal[0])
    first["stat.estimated_iterations"] = 123.0  # what the records hold is what the dataset holds
    (new / "journal.jsonl").write_text("\n".join([json.dumps(first), *journal[1:]]) + "\n")
    (new / "evaluations.parquet").unlink()
    export([old, new], tmp_path / "ds.parquet")
    table, meta = load_dataset(tmp_path / "ds.parquet")
    assert meta["layout"]["statistics"] == list(sor_env().statistic_names)
    dataset = table.to_pylist()
    from_new = [r for r in dataset if r["seed"] == 1]
    assert [r["stat.estimated_iterations"] for r in from_new if r["step"] == 0] == [123.0]
    assert_rows_carry_the_envs_statistics([r for r in dataset if not (r["seed"] == 1 and r["step"] == 0)])


def test_an_export_computes_what_a_raising_statistics_left_null(picky: str, tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="could not be computed"):
        run(env=picky, agent="random", budget=30, seed=0, out=tmp_path / "p", progress=False)
    with pytest.warns(UserWarning, match="could not be computed"):  # it raises again: still null
        export([tmp_path / "p"], tmp_path / "ds.parquet")
    table, _ = load_dataset(tmp_path / "ds.parquet")
    _check_picky(sorted(table.to_pylist(), key=lambda r: r["step"]), 30)


@pytest.mark.parametrize("stored", ["estimate", [1, 2], {"a": 1}])
def test_a_run_json_with_malformed_statistics_is_refused_on_resume(stored: Any, tmp_path: Path) -> None:
    out = tmp_path / "m"
    run(env=SOR, env_kwargs=SOR_KWARGS, agent="random", budget=4, seed=0, out=out, progress=False)
    _truncate(out, keep=2)
    meta = json.loads((out / "run.json").read_text())
    meta["layout"]["statistics"] = stored
    (out / "run.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"run.json: layout 'statistics'.*legal values"):
        resume(out, progress=False)
    assert len(read_journal(out)) == 2  # nothing touched
