"""Issue #28 parts 2–3: ``archgym compare`` ranks any set of runs from their files, and
``archgym run --seeds`` runs one directory per seed and prints the comparison."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from archgym.cli import main
from archgym.loop import run
from archgym.report import compare


def _best(out: Path) -> float:
    rows = pq.read_table(out / "evaluations.parquet").to_pylist()
    return max(r["reward"] for r in rows if r["feasible"])


def test_compare_ranks_groups_by_their_median_final(tmp_path: Path) -> None:
    dirs = {}
    for agent in ("random", "ga", "aco"):
        for seed in (0, 1, 2):
            out = tmp_path / f"{agent}-{seed}"
            run(env="archgym/Branin-v0", agent=agent, budget=16, seed=seed, out=out, progress=False)
            dirs.setdefault(agent, []).append(out)
    result = compare([d for ds in dirs.values() for d in ds], tmp_path / "cmp")
    medians = {a: statistics.median(_best(d) for d in ds) for a, ds in dirs.items()}
    order = sorted(medians, key=lambda a: -medians[a])
    for agent, group in result["groups"].items():
        assert group["median"] == pytest.approx(medians[agent])
        assert len(set(medians.values())) == 3  # no ties here: ranks are 1, 2, 3 by median
        assert group["rank"] == order.index(agent) + 1
        curves = [
            np.maximum.accumulate([r["reward"] for r in pq.read_table(d / "evaluations.parquet").to_pylist()])
            for d in dirs[agent]
        ]
        assert group["curve_median"] == pytest.approx(np.median(np.array(curves), axis=0).tolist())
    assert [row[0] for row in result["table"]] == order
    assert Path(result["html"]).is_file()


def test_run_seeds_writes_one_directory_per_seed_and_prints_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--env", "archgym/Branin-v0", "--agent", "random", "--budget", "6", "--no-progress"]
    assert main([*argv, "--seeds", "3-5", "--out", str(tmp_path / "r")]) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["compare", "seed-3", "seed-4", "seed-5"]
    table = [line.split() for line in printed.splitlines()[1:4]]
    assert printed.splitlines()[0].split()[0] == "seed" and sorted(row[0] for row in table) == ["3", "4", "5"]
    for seed in (3, 4, 5):
        assert pq.read_table(tmp_path / "r" / f"seed-{seed}" / "evaluations.parquet").num_rows == 6


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--seeds", "5-3"], "--seeds: '5-3' is not legal"),
        (["--seeds", "1,1"], "empty or repeated"),
        (["--seeds", ""], "--seeds: '' is not legal"),
        (["--seeds", "0-2", "--seed", "4"], "--seed and --seeds are exclusive"),
    ],
)
def test_bad_seed_lists_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    argv = [
        "run",
        "--env",
        "archgym/Branin-v0",
        "--agent",
        "random",
        "--budget",
        "2",
        "--out",
        str(tmp_path / "r"),
    ]
    try:
        code = main([*argv, *extra])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and message in err[-1] and not (tmp_path / "r").exists()
