"""The report works from a campaign's files alone: each run's summary records the env's known
optimum, the campaign's tables carry it, and the report reads it there — it never builds an env,
so its figures don't change when the plugin that defined an env is gone."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import gymnasium as gym
import pytest

import archgym  # noqa: F401 - registers the built-in envs
from archgym.campaign import parse_campaign, run_campaign
from archgym.loop import run
from archgym.report import write_report

SLEEP_ID = "archgym-testing/Sleep-v0"


def test_a_single_objective_run_records_the_envs_known_optimum(tmp_path: Path) -> None:
    summary = run(
        env="archgym/Branin-v0", agent="random", budget=4, seed=0, out=tmp_path / "b", progress=False
    )
    assert summary["optimal_reward"] == gym.make("archgym/Branin-v0").unwrapped.optimal_reward
    assert summary["best_reward"] < summary["optimal_reward"]


def test_a_multi_objective_run_records_its_true_fronts_hypervolume(tmp_path: Path) -> None:
    summary = run(
        env="archgym/DTLZ2-v0", agent="random", budget=4, seed=0, out=tmp_path / "d", progress=False
    )
    # DTLZ2's front is the quarter circle f1² + f2² = 1; against (1.1, 1.1) it leaves 1.1² - π/4.
    assert summary["reference_front_hypervolume"] == pytest.approx(1.1**2 - math.pi / 4, rel=2e-3)
    assert summary["hypervolume"] < summary["reference_front_hypervolume"]


def test_a_plain_env_without_an_optimum_records_none(tmp_path: Path) -> None:
    summary = run(
        env="archgym.testing:archgym-testing/Null-v0",
        agent="random",
        budget=2,
        seed=0,
        out=tmp_path / "n",
        progress=False,
    )
    assert summary["optimal_reward"] is None


def test_the_report_is_the_same_with_the_envs_plugin_gone_and_builds_no_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = {
        "name": "files-only",
        "budget": 6,
        "workers": 0,
        "tuning_seeds": [0, 1],
        "test_seeds": [2],
        "envs": [{"id": f"archgym.testing:{SLEEP_ID}", "kwargs": {"delay_s": 0.0}}],
        "agents": [{"name": "random"}, {"name": "grid"}],
    }
    out = tmp_path / "campaign"
    assert run_campaign(parse_campaign(raw), out, progress=False)["failed_runs"] == {}
    with_plugin = write_report(out).read_text()
    # The known optimum (0: SleepEnv's minimum) is the best of the normalisation, although no run
    # reached it: it came from the runs' summaries.
    assert "best 0, worst" in with_plugin

    made: list[str] = []
    monkeypatch.setattr(
        gym, "make", lambda *a, **k: made.append(str(a)) or pytest.fail("report built an env")
    )
    monkeypatch.delitem(gym.registry, SLEEP_ID)
    monkeypatch.setitem(sys.modules, "archgym.testing", None)  # the env's module can't be imported
    without_plugin = write_report(out).read_text()
    assert made == []
    assert without_plugin == with_plugin
