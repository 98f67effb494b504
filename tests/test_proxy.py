"""Proxy training (figures and baselines), proxy-backed envs, refusals."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pyarrow.parquet as pq
import pytest

import archgym
from archgym import DesignEnv, DesignSpace, Objective, Objectives, Real, loop
from archgym.cli import main
from archgym.data import collect, export
from archgym.proxy import load, train
from archgym.records import PARQUET


@pytest.fixture(scope="module")
def branin_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("proxy")
    collect(env="archgym/Branin-v0", n=160, out=root / "collect", seed=0)
    export([root / "collect"], root / "ds.parquet")
    assert (
        main(
            [
                "proxy",
                "train",
                str(root / "ds.parquet"),
                "--target",
                "value",
                "-o",
                str(root / "m.joblib"),
                "--models",
                "rf,gbm",
            ]
        )
        == 0
    )
    return root / "m.joblib"


def test_train_reports_error_ranking_baselines_and_speedup(branin_model: Path) -> None:
    import json

    card = json.loads(branin_model.with_suffix(".card.json").read_text())
    t = card["targets"]["value"]
    assert t["model"] in ("rf", "gbm") and t["transform"] in ("raw", "log")
    assert {c["kind"] for c in t["candidates"]} == {"rf", "gbm"}
    assert t["n_test"] == 32 and t["n_train"] == 128
    for scores in (t["test"], t["baselines"]["mean"], t["baselines"]["linear"]):
        assert set(scores) == {"rmse", "relative_rmse", "mape", "r2", "kendall_tau"}
    assert t["test"]["rmse"] < t["baselines"]["mean"]["rmse"]
    assert t["test"]["kendall_tau"] > 0.7
    assert math.isclose(
        t["test"]["relative_rmse"] * card["real_eval_time_s"] / card["real_eval_time_s"],
        t["test"]["rmse"] / t["test"]["rmse"] * t["test"]["relative_rmse"],
    )
    assert t["speedup"]["single_row"] > 0 and t["speedup"]["batched"] > 0
    assert card["env_id"] == "archgym/Branin-v0" and card["env_class"].endswith(":Branin")


def test_proxy_env_says_proxy_everywhere(branin_model: Path, tmp_path: Path) -> None:
    env = gym.make("archgym/Branin-v0", backend="proxy", model=str(branin_model), trust_model=True)
    archgym.check_env(env.unwrapped)
    env.reset(seed=0)
    design = {"x1": 1.0, "x2": 2.0}
    _, reward, _, _, info = env.step(env.unwrapped.design_space.to_action(design))
    assert info["backend"] == "proxy" and info["feasible"]
    predicted = load(branin_model, trust=True).predict([design])["value"][0]
    assert math.isclose(reward, -predicted)  # the env's own objective (min value) on the prediction
    summary = loop.run(
        env="archgym/Branin-v0",
        agent="random",
        budget=6,
        seed=0,
        out=tmp_path / "run",
        env_kwargs={"backend": "proxy", "model": str(branin_model), "trust_model": True},
        progress=False,
    )
    assert summary["n_evaluations"] == 6
    assert set(pq.read_table(tmp_path / "run" / PARQUET)["backend"].to_pylist()) == {"proxy"}


def test_refusals(branin_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARCHGYM_TRUST_MODELS", raising=False)
    with pytest.raises(PermissionError, match="refusing to unpickle"):
        gym.make("archgym/Branin-v0", backend="proxy", model=str(branin_model))
    with pytest.raises(PermissionError):
        load(branin_model)
    with pytest.raises(ValueError, match=r"trained for archgym/Branin-v0 .*not for .*Hartmann6"):
        gym.make("archgym/Hartmann6-v0", backend="proxy", model=str(branin_model), trust_model=True)
    with pytest.raises(ValueError, match="needs model=PATH"):
        gym.make("archgym/Branin-v0", backend="proxy")
    with pytest.raises(ValueError, match="backend: 'table' is not legal"):
        gym.make("archgym/Branin-v0", backend="table")
    with pytest.raises(ValueError, match="model is only legal with backend='proxy'"):
        gym.make("archgym/Branin-v0", model=str(branin_model))
    gym.make("archgym/Branin-v0", backend="simulator").close()
    tampered = branin_model.with_name("tampered.joblib")
    tampered.write_bytes(branin_model.read_bytes() + b"x")
    tampered.with_suffix(".card.json").write_text(branin_model.with_suffix(".card.json").read_text())
    with pytest.raises(ValueError, match="SHA-256"):
        load(tampered, trust=True)
    monkeypatch.setenv("ARCHGYM_TRUST_MODELS", "1")
    assert load(branin_model).predict_metrics({"x1": 0.0, "x2": 0.0})["value"] > 0


class _TwoMetrics(DesignEnv):
    """Objective on ``b``; a model of ``a`` alone can't serve it."""

    def __init__(self, backend: str = "simulator") -> None:
        super().__init__(
            design_space=DesignSpace([Real("x", 0.0, 1.0)]),
            metrics={"a": "1", "b": "1"},
            objective=Objectives([Objective("b", "min")], penalty=-10.0),
            backend=backend,
        )

    def evaluate(self, design: dict[str, Any], context: Any) -> dict[str, float]:
        return {"a": design["x"], "b": 1.0 + design["x"] ** 2}


def test_own_backend_parameter_and_uncovered_objective(tmp_path: Path) -> None:
    # a subclass's own backend parameter receives the labels no registered backend claims
    assert _TwoMetrics(backend="custom").backend == "custom"
    gym.register("archgym-test/TwoMetrics-v0", entry_point=_TwoMetrics)
    try:
        collect(env="archgym-test/TwoMetrics-v0", n=40, out=tmp_path / "c")
        export([tmp_path / "c"], tmp_path / "ds.parquet")
        card = train(tmp_path / "ds.parquet", ["a"], tmp_path / "a.joblib", kinds=["gbm"])
        assert card["targets"]["a"]["model"] == "gbm"
        slow = train(tmp_path / "ds.parquet", ["a"], tmp_path / "slow.joblib", max_predict_s=1e-9)
        assert not any(c["fast_enough"] for c in slow["targets"]["a"]["candidates"])  # the fastest is taken
        with pytest.raises(ValueError, match=r"objective needs metric\(s\) \['b'\]"):
            gym.make(
                "archgym-test/TwoMetrics-v0",
                backend="proxy",
                model=str(tmp_path / "a.joblib"),
                trust_model=True,
            )
        train(tmp_path / "ds.parquet", ["a", "b"], tmp_path / "ab.joblib", kinds=["gbm"])
        env = _TwoMetrics(backend="proxy", model=str(tmp_path / "ab.joblib"), trust_model=True)  # type: ignore[call-arg]
        env.reset(seed=0)
        _, _reward, _, _, info = env.step({"x": np.array([0.5])})
        assert info["backend"] == "proxy" and abs(info["metrics"]["b"] - 1.25) < 0.05
        with pytest.raises(ValueError, match="unknown metric"):
            train(tmp_path / "ds.parquet", ["c"], tmp_path / "c.joblib")
    finally:
        gym.registry.pop("archgym-test/TwoMetrics-v0")


def test_served_float32_path_keeps_precision_for_a_target_with_a_large_offset() -> None:
    from archgym.proxy import _fit_served

    rng = np.random.default_rng(0)
    x = rng.random((600, 3))
    y = 3e8 + 250 * x[:, 0] + 30 * np.sin(6 * x[:, 1])  # spans < 2 decades: no log transform
    for kind in ("rf", "gbm", "et"):
        estimator, served = _fit_served(kind, 0, x[:500], y[:500], "raw")
        exact = estimator.predict(x[500:]) * served.scale + served.centre  # float64 sklearn
        assert np.max(np.abs(served(x[500:]) - exact)) < 1.0  # float32 at 3e8 alone would be off by ~32
