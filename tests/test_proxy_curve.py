"""`archgym proxy curve`: test error and tau against training rows, per source agent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archgym.cli import main
from archgym.data import collect, export
from archgym.loop import run
from archgym.proxy import learning_curve


@pytest.fixture(scope="module")
def mixed_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Branin rows of two agents: a Sobol sample and random search."""
    root = tmp_path_factory.mktemp("curve")
    collect(env="archgym/Branin-v0", n=80, out=root / "sobol", seed=0)
    run(env="archgym/Branin-v0", agent="random", budget=80, seed=1, out=root / "random", progress=False)
    export([root / "sobol", root / "random"], root / "ds.parquet")
    return root / "ds.parquet"


def test_curve_scores_growing_subsets_on_one_test_split(mixed_dataset: Path) -> None:
    curve = learning_curve(mixed_dataset, "value", sizes=[20, 60, 1000], kinds=["rf"])
    assert curve["n_test"] == 32 and curve["n_train_pool"] == 128
    # 1000 is more than the pool: the whole pool is the last point instead
    assert [p["n"] for p in curve["curve"]] == [20, 60, 128]
    for p in curve["curve"]:
        assert {"relative_rmse", "mape", "r2", "kendall_tau", "model"} <= set(p)
    assert curve["curve"][-1]["kendall_tau"] > curve["curve"][0]["kendall_tau"]
    agents = {a["agent"] for a in curve["by_agent"]}
    assert agents == {"random", "sobol"}
    for a in curve["by_agent"]:
        assert a["own"]["n"] == a["space_filling"]["n"]


def test_cli_prints_the_table_and_plots(
    mixed_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    png = tmp_path / "curve.png"
    args = ["proxy", "curve", str(mixed_dataset), "--target", "value", "--sizes", "20,40", "--models", "rf"]
    assert main([*args, "--plot", str(png)]) == 0
    text = capsys.readouterr().out
    assert "n train" in text and "s-f tau" in text  # the per-agent table: own rows vs space-filling
    assert png.is_file() and png.stat().st_size > 1000
    assert main([*args, "--json", "--no-statistics"]) == 0
    curve = json.loads(capsys.readouterr().out)
    assert curve["statistics"] == [] and [p["n"] for p in curve["curve"]] == [20, 40]


def test_bad_sizes_and_targets_are_refused(mixed_dataset: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(ValueError, match="sizes"):
        learning_curve(mixed_dataset, "value", sizes=[5])
    with pytest.raises(ValueError, match="target"):
        learning_curve(mixed_dataset, "nope")
    assert main(["proxy", "curve", str(mixed_dataset), "--target", "value", "--sizes", "a,b"]) != 0
    assert "--sizes" in capsys.readouterr().err


def test_curve_table_stays_aligned_for_any_mape() -> None:
    """MAPE has no upper bound (targets near zero): its column must not run into the next."""
    from archgym.proxy import format_curve

    point = {"model": "et/log", "relative_rmse": 0.2, "r2": 0.95, "kendall_tau": 0.87}
    mapes = [0.016, 9.5888, 94.5943, 1e6]
    curve = {
        "target": "value",
        "env_id": "archgym/Hartmann6-v0",
        "n_test": 10,
        "statistics": [],
        "curve": [point | {"n": 50 * (i + 1), "mape": m} for i, m in enumerate(mapes)],
        "by_agent": [],
    }
    header, *rows = format_curve(curve).splitlines()[1:]
    assert all(len(row) == len(header) for row in rows)
    assert [row.split()[3] for row in rows] == ["1.6%", "958.9%", "9459%", "1e+08%"]
