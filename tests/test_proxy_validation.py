"""Proxy-to-truth checks in campaigns: each run's best design re-evaluated on the real backend."""

from __future__ import annotations

import json
import math
from pathlib import Path

import gymnasium as gym
import pyarrow.parquet as pq
import pytest

from archgym.campaign import VALIDATION_TABLE, agreement, parse_campaign, run_campaign
from archgym.data import collect, export
from archgym.proxy import train
from archgym.report import write_report


@pytest.fixture(scope="module")
def branin_proxy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("validation")
    collect(env="archgym/Branin-v0", n=120, out=root / "collect", seed=0)
    export([root / "collect"], root / "ds.parquet")
    train(root / "ds.parquet", ["value"], root / "m.joblib", kinds=["rf"])
    return root / "m.joblib"


def _campaign(model: Path, validate_on: str = "simulator") -> dict:
    return {
        "name": "proxy-check",
        "budget": 12,
        "tuning_seeds": [0, 1],
        "envs": [
            {
                "id": "archgym/Branin-v0",
                "kwargs": {"backend": "proxy", "model": str(model)},
                "validate_on": validate_on,
            }
        ],
        "agents": [{"name": "random"}, {"name": "grid"}],
    }


def test_each_runs_best_design_is_re_evaluated_on_the_simulator(branin_proxy: Path, tmp_path: Path) -> None:
    campaign = parse_campaign(_campaign(branin_proxy))
    summary = run_campaign(campaign, tmp_path / "c", workers=0, progress=False, trust_model=True)
    assert summary["validated_runs"] == 4
    rows = pq.read_table(tmp_path / "c" / VALIDATION_TABLE).to_pylist()
    env = gym.make("archgym/Branin-v0").unwrapped
    runs = pq.read_table(tmp_path / "c" / "runs.parquet").to_pylist()
    proxy_best = {r["run_key"]: r["best_reward"] for r in runs}
    for row in rows:
        assert row["backend"] == "proxy" and row["validated_on"] == "simulator" and row["real_feasible"]
        design = json.loads(row["design"])
        truth = -env.evaluate(design, None)["value"]  # type: ignore[arg-type]  # Branin: min value
        assert math.isclose(row["real_reward"], truth, rel_tol=1e-9)
        assert row["proxy_reward"] == proxy_best[row["run_key"]]
        assert row["proxy_reward"] != row["real_reward"]  # a proxy, not the truth
    # a rerun validates nothing again
    again = run_campaign(campaign, tmp_path / "c", workers=0, progress=False, trust_model=True)
    assert again["validated_runs"] == 4
    report = write_report(tmp_path / "c").read_text()
    assert "Proxy to truth" in report and "agents' ranking tau" in report
    assert (tmp_path / "c" / "report" / "figures" / "proxy_vs_real_Branin-v0.png").is_file()


def test_agreement_ranks_and_gaps() -> None:
    rows = [
        {"run_key": "a0", "agent": "a", "proxy_reward": -1.0, "real_reward": -2.0, "real_feasible": True},
        {"run_key": "b0", "agent": "b", "proxy_reward": -3.0, "real_reward": -3.5, "real_feasible": True},
        {
            "run_key": "c0",
            "agent": "c",
            "proxy_reward": -2.0,
            "real_reward": math.nan,
            "real_feasible": False,
        },
    ]
    check = agreement(rows)
    assert check["runs"][0]["gap"] == 1.0 and check["runs"][0]["regret_gap"] == 0.0
    assert check["runs"][1]["regret_gap"] == (-2.0 + 3.5) - (-1.0 + 3.0)
    assert math.isnan(check["runs"][2]["gap"])  # infeasible on the truth: ranked worst
    assert check["agents"]["c"]["real_median"] == -3.5
    from scipy.stats import kendalltau

    # agents by median: proxy a > c > b; truth a > b = c (c infeasible counts as the worst)
    assert check["agent_rank_tau"] == pytest.approx(kendalltau([-1, -3, -2], [-2, -3.5, -3.5]).statistic)
    assert check["agent_rank_tau"] < 1


def test_validate_on_must_be_a_backend_and_not_the_runs_own(branin_proxy: Path) -> None:
    with pytest.raises(ValueError, match=r"validate_on.*legal values"):
        parse_campaign(_campaign(branin_proxy, "nope"))
    with pytest.raises(ValueError, match=r"validate_on.*already"):
        parse_campaign(_campaign(branin_proxy, "proxy"))
