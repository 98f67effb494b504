"""Free statistics: declared by the env, carried as stat.<name> columns, used by proxies."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archgym import DesignEnv, DesignSpace, EvalContext, Objective, Objectives, Real
from archgym.data import collect, export, load_dataset
from archgym.proxy import load, train
from archgym.records import STAT, RecordLayout, layout_from_meta, layout_to_meta, statistics_of
from archgym.search import EvalResult

STAT_ENV = "archgym-test/Stretched-v0"


class Stretched(DesignEnv):
    """A cost spanning four decades whose analytic estimate is known: ``value`` is ``estimate``
    stretched by a smooth factor in [1, 1.3] (as memory stalls stretch compute cycles)."""

    statistic_names = ("estimate", "x1_squared")
    statistic_estimates = {"value": "estimate"}  # noqa: RUF012

    def __init__(self) -> None:
        super().__init__(
            design_space=DesignSpace([Real("x1", 0.0, 1.0), Real("x2", 0.0, 1.0)]),
            metrics={"value": "1"},
            objective=Objectives([Objective("value", "min")], penalty=-1e9),
        )

    def statistics(self, design: Mapping[str, Any]) -> dict[str, float]:
        return {"estimate": 1.0 + 1e4 * design["x1"] ** 4, "x1_squared": design["x1"] ** 2}

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        stretch = 1.0 + 0.15 * (1 + math.sin(6 * design["x2"] + 3 * design["x1"]))
        return {"value": self.statistics(design)["estimate"] * stretch}


@pytest.fixture(scope="module")
def stretched_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gym.register(STAT_ENV, entry_point=Stretched)
    root = tmp_path_factory.mktemp("stats")
    collect(env=STAT_ENV, n=200, out=root / "collect", seed=0)
    export([root / "collect"], root / "ds.parquet")
    yield root / "ds.parquet"
    gym.registry.pop(STAT_ENV, None)


def test_the_base_declares_no_statistics() -> None:
    env = gym.make("archgym/Branin-v0").unwrapped
    assert env.statistic_names == () and env.statistics({"x1": 0.0, "x2": 0.0}) == {}
    assert env.statistic_estimates == {}


def test_export_carries_each_rows_statistics_and_the_card_names_them(stretched_dataset: Path) -> None:
    table, meta = load_dataset(stretched_dataset)
    assert meta["layout"]["statistics"] == ["estimate", "x1_squared"]
    card = json.loads(stretched_dataset.with_suffix(".card.json").read_text())
    assert card["statistic_estimates"] == {"value": "estimate"}
    assert "stat.estimate" in stretched_dataset.with_suffix(".card.md").read_text()
    for row in table.to_pylist()[:20]:
        assert math.isclose(row[STAT + "x1_squared"], row["param.x1"] ** 2)
        assert math.isclose(row[STAT + "estimate"], 1.0 + 1e4 * row["param.x1"] ** 4)


def test_records_without_statistics_read_as_none(tmp_path: Path) -> None:
    layout = RecordLayout(DesignSpace([Real("x", 0, 1)]), ("f",), None, (), ("s",))
    meta = {"layout": layout_to_meta(layout)}
    assert layout_from_meta(meta).statistic_names == ("s",)
    old = {"layout": {k: v for k, v in meta["layout"].items() if k != "statistics"}}
    assert layout_from_meta(old).statistic_names == ()
    result = EvalResult(design={"x": 0.5}, reward=-1.0, metrics={"f": 1.0}, feasible=True, eval_time_s=0.0)
    row = layout.row(
        step=0, batch=0, slot=0, eval_seed=0, result=result, timestamp=0.0, statistics={"s": 2.5}
    )
    assert row["stat.s"] == 2.5 and statistics_of(row, layout) == {"s": 2.5}
    bare = layout.row(step=0, batch=0, slot=0, eval_seed=0, result=result, timestamp=0.0)
    assert bare["stat.s"] is None and math.isnan(statistics_of(bare, layout)["s"])
    assert "stat.s" in layout.arrow_schema().names


def test_a_proxy_with_statistics_beats_the_same_selection_without(
    stretched_dataset: Path, tmp_path: Path
) -> None:
    card = train(stretched_dataset, ["value"], tmp_path / "m.joblib", real_eval_time_s=0.01)
    t = card["targets"]["value"]
    assert card["statistics"]["used"] == ["estimate", "x1_squared"]
    assert {c["transform"] for c in t["candidates"]} == {"log", "ratio"}
    assert t["transform"] == "ratio" and t["anchor"] == "estimate"
    # few rows: the statistics are kept (a small validation split can't tell feature sets apart)
    assert {c["features"] for c in t["candidates"]} == {"parameters+statistics"}
    assert t["features"] == "parameters+statistics"
    assert t["test"]["mape"] < 0.5 * t["without_statistics"]["test"]["mape"]
    assert t["test"]["kendall_tau"] > t["without_statistics"]["test"]["kendall_tau"]
    # the analytic estimate alone, scored on the same test rows, and what sets the RMSE
    assert t["estimate"]["statistic"] == "estimate"
    assert t["test"]["mape"] < t["estimate"]["test"]["mape"]  # the model corrects the estimate
    worst = t["error_concentration"]
    assert 0 < worst["top_1pct_share"] <= worst["top_5pct_share"] <= 1
    errors = [(row["predicted"] - row["true"]) ** 2 for row in worst["largest"]]
    assert errors == sorted(errors, reverse=True) and len(errors) == 5
    assert math.sqrt(errors[0]) <= t["test"]["rmse"] * math.sqrt(t["n_test"])  # one row's share of all
    for row in worst["largest"]:
        assert math.isclose(row["estimate"], 1.0 + 1e4 * row["design"]["x1"] ** 4)
    assert worst["relative_rmse_without_top_1pct"] < t["test"]["relative_rmse"]
    # a model trained on statistics the env no longer declares is refused, naming them
    renamed = Stretched()
    renamed.statistic_names = ("estimate",)
    with pytest.raises(ValueError, match=r"x1_squared.*no longer declares"):
        load(tmp_path / "m.joblib", trust=True, env=renamed)
    # served: the statistics are computed for each design, features and anchor alike
    model = load(tmp_path / "m.joblib", trust=True)
    design = {"x1": 0.8, "x2": 0.3}
    truth = Stretched().evaluate(design, None)["value"]  # type: ignore[arg-type]
    assert abs(model.predict_metrics(design)["value"] / truth - 1) < 0.1
    assert math.isclose(
        model.predict([design])["value"][0], model.predict_metrics(design)["value"], rel_tol=1e-6
    )
    env = gym.make(STAT_ENV, backend="proxy", model=str(tmp_path / "m.joblib"), trust_model=True)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(env.unwrapped.design_space.to_action(design))
    assert info["backend"] == "proxy" and math.isclose(
        -reward, model.predict_metrics(design)["value"], rel_tol=1e-6
    )


def test_statistics_false_uses_none_and_unknown_names_are_refused(
    stretched_dataset: Path, tmp_path: Path
) -> None:
    card = train(stretched_dataset, ["value"], tmp_path / "m.joblib", statistics=False)
    assert card["statistics"]["used"] == [] and "without_statistics" not in card["targets"]["value"]
    assert card["targets"]["value"]["features"] == "parameters"
    assert all(c["transform"] != "ratio" for c in card["targets"]["value"]["candidates"])
    with pytest.raises(ValueError, match=r"statistics.*nope"):
        train(stretched_dataset, ["value"], tmp_path / "m.joblib", statistics=["nope"])


def test_pretraining_is_recorded_and_fine_tunes_an_mlp(stretched_dataset: Path, tmp_path: Path) -> None:
    card = train(
        stretched_dataset, ["value"], tmp_path / "m.joblib", statistics=False, pretrain=300, kinds=["rf"]
    )
    assert card["pretraining"]["designs"] == 300
    assert card["pretraining"]["statistics"] == ["estimate", "x1_squared"]
    assert card["pretraining"]["stage1_r2"] > 0.9
    candidates = card["targets"]["value"]["candidates"]
    assert {c["kind"] for c in candidates} == {"rf", "mlp"}
    assert [c["pretrained"] for c in candidates if c["kind"] == "mlp"] == [True]  # fine-tuned, not fresh
    with pytest.raises(ValueError, match="pretrain"):
        train(stretched_dataset, ["value"], tmp_path / "m.joblib", pretrain=3)


@settings(max_examples=25, deadline=None)
@given(
    rows=st.sampled_from((8, 16, 32, 64, 128)),
    cols=st.sampled_from((8, 16, 32, 64, 128)),
    flow=st.sampled_from(("os", "ws", "is")),
    bandwidth=st.sampled_from((1, 8, 128)),
)
def test_systolic_statistics_are_finite_and_consistent(
    rows: int, cols: int, flow: str, bandwidth: int
) -> None:
    env = _systolic()
    design = {p.name: p.default for p in env.design_space} | {
        "array_rows": rows,
        "array_cols": cols,
        "dataflow": flow,
        "dram_bandwidth": bandwidth,
    }
    stats = env.statistics(design)
    assert set(stats) == set(env.statistic_names)
    assert all(math.isfinite(v) for v in stats.values())
    per_layer = sum(stats[f"compute_cycles.{layer.name}"] for layer in env.layers)
    assert stats["compute_cycles"] == per_layer
    assert stats["pe_count"] == rows * cols
    assert stats["memory_bound_cycles"] >= stats["compute_cycles"]
    assert 0 < stats["mapping_efficiency"] <= 1  # MACs over PE-cycles


_SYSTOLIC: list[Any] = []


def _systolic() -> Any:
    if not _SYSTOLIC:
        _SYSTOLIC.append(gym.make("archgym/SystolicArray-v0").unwrapped)
    return _SYSTOLIC[0]


@pytest.mark.parametrize("flow", ["os", "ws", "is"])
def test_systolic_compute_cycles_are_scalesims_array_cycles_without_stalls(flow: str) -> None:
    env = _systolic()
    design = {p.name: p.default for p in env.design_space} | {
        "array_rows": 16,
        "array_cols": 8,
        "dataflow": flow,
        "dram_bandwidth": 4,
    }
    env.reset(seed=0)
    _, _, _, _, info = env.step(env.design_space.to_action(design))
    m = info["metrics"]
    assert env.statistics(design)["compute_cycles"] == m["array_cycles"] - m["stall_cycles"]


def test_nas_statistics_from_the_table_match_the_live_computation() -> None:
    env = gym.make("archgym/NASBench201-v0").unwrapped
    assert env._table_statistics() is not None  # the shipped table's configuration
    live = gym.make("archgym/NASBench201-v0", batch_size=32).unwrapped  # not the table's: torch
    assert live._table_statistics() is None
    rng = np.random.default_rng(0)
    for _ in range(2):
        design = env.design_space.sample(rng)
        looked_up, computed = env.statistics(design), live.statistics(design)
        assert looked_up.keys() == computed.keys() == set(env.statistic_names)
        for name in looked_up:
            assert math.isclose(looked_up[name], computed[name], rel_tol=1e-6), name


def test_zigzag_spatial_utilization_is_zigzags() -> None:
    env = gym.make("archgym/ZigZag-v0").unwrapped
    design = {p.name: p.default for p in env.design_space if p.condition is None}
    stats = env.statistics(design)
    assert set(stats) == set(env.statistic_names)
    env.reset(seed=0)
    _, _, _, _, info = env.step(env.design_space.to_action(design))
    m = info["metrics"]
    # ZigZag weights layers by their latency, the estimate by their spatial cycles: within 2 %
    estimate = 100 * stats["spatial_utilization_estimate"]
    assert math.isclose(estimate, m["spatial_utilization_pct"], rel_tol=0.02)
    assert stats["spatial_cycles"] <= m["latency_cycles"]


@pytest.mark.parametrize("omega", [0.6, 1.0, 1.5, 1.9])
def test_sor_estimate_follows_youngs_theory(omega: float) -> None:
    env = gym.make("archgym/SOR-v0", sequence="constant", n=16).unwrapped
    stats = env.statistics({"omega": omega})
    assert env.statistic_estimates == {"iterations": "estimated_iterations"}
    env.reset(seed=0)
    _, _, _, _, info = env.step(env.design_space.to_action({"omega": omega}))
    ratio = info["metrics"]["iterations"] / stats["estimated_iterations"]
    assert 0.5 < ratio < 1.5  # the asymptotic rate; the transient differs
    young = 2 / (1 + math.sin(math.pi / 17))  # Young's optimum for Poisson
    assert env.statistics({"omega": young})["sor_spectral_radius"] == pytest.approx(young - 1)
    assert gym.make("archgym/SOR-v0").unwrapped.statistic_names == ()  # a varying sequence: none


def test_with_enough_rows_each_candidate_is_also_tried_without_statistics(
    stretched_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archgym.proxy

    monkeypatch.setattr(archgym.proxy, "ROWS_TO_TRY_WITHOUT", 100)
    card = train(
        stretched_dataset, ["value"], tmp_path / "m.joblib", kinds=["rf"], compare_without_statistics=False
    )
    t = card["targets"]["value"]
    assert sorted((c["transform"], c["features"]) for c in t["candidates"]) == [
        ("log", "parameters"),
        ("log", "parameters+statistics"),
        ("ratio", "parameters"),
        ("ratio", "parameters+statistics"),
    ]
    chosen = min(t["candidates"], key=lambda c: c["validation"]["rmse"])
    assert (t["transform"], t["features"]) == (chosen["transform"], chosen["features"])
    model = load(tmp_path / "m.joblib", trust=True)  # serves the chosen columns
    design = {"x1": 0.7, "x2": 0.1}
    assert math.isclose(
        model.predict([design])["value"][0], model.predict_metrics(design)["value"], rel_tol=1e-6
    )
