"""Dataset export (killed runs, corrupt/foreign files), space-filling collection and resume."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from archgym import loop
from archgym.cli import main
from archgym.data import SpaceFillingAgent, card_paths, collect, export, load_dataset
from archgym.records import JOURNAL, PARQUET


def _kill(run_dir: Path, keep: int) -> None:
    """Make ``run_dir`` look killed after ``keep`` evaluations: a truncated journal with a torn
    last line, and no consolidated Parquet."""
    lines = (run_dir / JOURNAL).read_text().splitlines(keepends=True)
    (run_dir / JOURNAL).write_text("".join(lines[:keep]) + lines[keep][: len(lines[keep]) // 2])
    (run_dir / PARQUET).unlink()


def test_export_merges_runs_including_a_killed_one(tmp_path: Path) -> None:
    loop.run(env="archgym/Branin-v0", agent="random", budget=12, seed=0, out=tmp_path / "a", progress=False)
    loop.run(env="archgym/Branin-v0", agent="random", budget=10, seed=1, out=tmp_path / "b", progress=False)
    _kill(tmp_path / "b", keep=6)
    out = tmp_path / "ds.parquet"
    card = export([tmp_path / "a", tmp_path / "b"], out)
    table = pq.read_table(out)
    assert table.num_rows == card["rows"] == 18
    assert card["feasible_rows"] == 18 and card["feasibility_rate"] == 1.0
    assert card["env_id"] == "archgym/Branin-v0" and card["metric_units"] == {"value": "1"}
    assert [p["name"] for p in card["parameters"]] == ["x1", "x2"]
    assert {r["seed"]: r["complete"] for r in card["runs"]} == {0: True, 1: False}
    assert card["agents"] == ["random"] and card["backends"] == {"simulator": 18}
    assert "archgym" in card["versions"]
    json_card, md_card = card_paths(out)
    assert json.loads(json_card.read_text())["sha256"] == card["sha256"]
    assert "| x1 | real |" in md_card.read_text()
    # an exported dataset is itself an input (with its card), and CSV works
    again = export([out], tmp_path / "ds.csv")
    assert again["rows"] == 18
    csv_table, meta = load_dataset(tmp_path / "ds.csv")
    assert csv_table.num_rows == 18 and meta["env_id"] == "archgym/Branin-v0"


def test_corrupt_or_foreign_files_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    loop.run(env="archgym/Branin-v0", agent="random", budget=3, seed=0, out=run_dir, progress=False)
    good = tmp_path / "ds.parquet"
    export([run_dir], good)

    corrupt = run_dir / PARQUET
    corrupt.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ValueError, match=r"evaluations\.parquet: not a readable Parquet file"):
        export([run_dir], tmp_path / "x.parquet")

    foreign = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), foreign)
    card_paths(foreign)[0].write_text(card_paths(good)[0].read_text())
    with pytest.raises(ValueError, match=r"foreign\.parquet: not an archgym records/dataset file.*missing"):
        export([foreign], tmp_path / "y.parquet")

    bare = tmp_path / "bare.parquet"
    pq.write_table(pa.table({"a": [1]}), bare)
    assert main(["dataset", "export", str(bare), "-o", str(tmp_path / "z.parquet")]) == 2
    assert "bare.parquet: no dataset card" in capsys.readouterr().err

    with pytest.raises(ValueError, match="differs from the first input"):
        loop.run(
            env="archgym/Hartmann6-v0", agent="random", budget=2, seed=0, out=tmp_path / "h6", progress=False
        )
        export([good, tmp_path / "h6"], tmp_path / "mixed.parquet")


def _designs(path: Path) -> list[dict[str, float]]:
    table = pq.read_table(path / PARQUET)
    return [
        {"x1": a, "x2": b}
        for a, b in zip(table["param.x1"].to_pylist(), table["param.x2"].to_pylist(), strict=True)
    ]


def test_collect_is_space_filling_and_resumes_exactly(tmp_path: Path) -> None:
    full = collect(env="archgym/Branin-v0", n=24, out=tmp_path / "full", seed=3)
    assert full["n_evaluations"] == 24
    killed = tmp_path / "killed"
    collect(env="archgym/Branin-v0", n=24, out=killed, seed=3)
    _kill(killed, keep=9)
    resumed = collect(env="archgym/Branin-v0", n=24, out=killed, seed=3)
    assert resumed["resumed"] and resumed["n_evaluations"] == 24
    assert _designs(killed) == _designs(tmp_path / "full")
    meta = json.loads((killed / "run.json").read_text())
    assert meta["agent"] == "sobol"
    with pytest.raises(ValueError, match="resume it with the same"):
        collect(env="archgym/Branin-v0", n=30, out=killed)


def test_space_filling_agent_respects_conditions_and_forbidden_combinations() -> None:
    import gymnasium as gym

    from archgym.loop import problem_of

    env = gym.make("archgym/MixedConditional-v0")
    problem = problem_of(env, "archgym/MixedConditional-v0")
    for method in ("sobol", "lhs"):
        agent = SpaceFillingAgent(problem, seed=0, method=method)
        designs = agent.ask(16)
        agent.tell(designs, [None] * 16)  # type: ignore[list-item]
        for design in designs:
            assert problem.design_space.contains(design)
    with pytest.raises(ValueError, match="method"):
        SpaceFillingAgent(problem, seed=0, method="grid")
