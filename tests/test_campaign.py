"""Campaigns: file checks, expansion, kill + rerun, Dask, tables and the report's figures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from archgym.campaign import (
    best_so_far,
    evaluations_to_targets,
    load_campaign,
    parse_campaign,
    run_campaign,
    runs_on_test_seeds,
    runs_on_tuning_seeds,
)
from archgym.report import FIGURES, write_report

SLEEP = "archgym.testing:archgym-testing/Sleep-v0"
TINY = """
name = "tiny"
budget = {budget}
workers = 2
tuning_seeds = [0, 1]
test_seeds = [10, 11]

[[envs]]
id = "{env}"
kwargs = {kwargs}
targets = [-0.5, -0.01]

[[envs]]
id = "archgym/DTLZ2-v0"

[[agents]]
name = "random"

[[agents]]
name = "ga"
grid = {{ population = [4, 6] }}

[[agents]]
name = "nsga2"

[[agents]]
name = "mapelites"
"""


def _campaign_file(
    tmp_path: Path, *, env: str = "archgym/Branin-v0", kwargs: str = "{}", budget: int = 12
) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY.format(env=env, kwargs=kwargs, budget=budget))
    return path


def _per_run(directory: Path) -> dict[str, list]:
    """Design and reward columns of every evaluation, keyed by run, in step order."""
    table = pq.read_table(directory / "evaluations.parquet").to_pandas()
    cols = [c for c in table.columns if c.startswith(("param.", "reward"))]
    return {
        key: group.sort_values("step")[cols].dropna(axis=1, how="all").to_numpy().tolist()
        for key, group in table.groupby("run_key")
    }


# --- the file -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "change, message",
    [
        ({"budget": 0}, "budget must be an integer >= 1"),
        ({"test_seeds": [1, 5]}, "must be disjoint; both hold [1]"),
        ({"colour": "red"}, "unknown key(s) ['colour']"),
        ({"envs": [{"id": "archgym/Nope-v0"}]}, "envs[0]"),
        ({"agents": [{"name": "ga", "grid": {"popsize": [4]}}]}, "unknown hyperparameter(s) ['popsize']"),
        ({"agents": [{"name": "ga", "grid": {"population": [-1]}}]}, "population"),
        (
            {"agents": [{"name": "ga", "sample": 2, "ranges": {"nope": [0, 1]}}]},
            "has no hyperparameter 'nope'",
        ),
        ({"agents": [{"name": "nobody"}]}, "nobody"),
        ({"workers": -1}, "workers must be an integer >= 0"),
    ],
)
def test_bad_campaign_files_are_refused_naming_the_entry(change: dict, message: str) -> None:
    raw = {
        "budget": 5,
        "tuning_seeds": [0, 1],
        "test_seeds": [2],
        "envs": [{"id": "archgym/Branin-v0"}],
        "agents": [{"name": "random"}],
    } | change
    with pytest.raises(ValueError) as info:
        parse_campaign(raw, source="c.toml")
    assert "c.toml" in str(info.value) and message in str(info.value)


def test_settings_are_defaults_then_grid_then_sobol_samples() -> None:
    campaign = parse_campaign(
        {
            "budget": 5,
            "tuning_seeds": [0, 1],
            "test_seeds": [7],
            "envs": [{"id": "archgym/Branin-v0"}],
            "agents": [
                {"name": "ga", "grid": {"population": [8, 12], "indpb": [0.0, 0.3]}},
                {"name": "aco", "sample": 3, "ranges": {"rho": [0.05, 0.5], "ants": [4, 12]}},
            ],
        }
    )
    ga, aco = campaign.agents
    # the grid point equal to the defaults (population 8, indpb 0.0) is not run twice
    assert ga.settings == (
        {},
        {"population": 8, "indpb": 0.3},
        {"population": 12, "indpb": 0.0},
        {"population": 12, "indpb": 0.3},
    )
    assert aco.settings[0] == {} and len(aco.settings) == 4
    for setting in aco.settings[1:]:
        assert 0.05 <= setting["rho"] <= 0.5
        assert isinstance(setting["ants"], int) and 4 <= setting["ants"] <= 12
    runs = runs_on_tuning_seeds(campaign, [(campaign.envs[0], a) for a in campaign.agents])
    assert len(runs) == (4 + 4) * 2 and len({r.key for r in runs}) == len(runs)


def test_test_stage_takes_each_agents_best_setting_by_tuning_median() -> None:
    finals = {}
    # setting 2 has the best median, setting 1 the best maximum, setting 3 one lucky seed among failures
    campaign = parse_campaign(
        {
            "budget": 5,
            "tuning_seeds": [0, 1, 2],
            "test_seeds": [7, 8],
            "envs": [{"id": "archgym/Branin-v0"}],
            "agents": [{"name": "ga", "grid": {"population": [4, 12, 20]}}],
        }
    )
    pairs = [(campaign.envs[0], campaign.agents[0])]
    nan = float("nan")
    by_setting = {0: [1, 2, 3], 1: [0, 0, 9], 2: [2, 3, 4], 3: [nan, 99, nan]}
    for spec in runs_on_tuning_seeds(campaign, pairs):
        finals[spec.key] = by_setting[spec.setting][spec.seed]
    chosen = runs_on_test_seeds(campaign, pairs, finals)
    assert [(r.stage, r.setting, r.seed) for r in chosen] == [("test", 2, 7), ("test", 2, 8)]
    assert chosen[0].agent_params == campaign.agents[0].settings[2]


@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.booleans()), max_size=30))
def test_best_so_far_is_the_running_max_of_feasible_rewards(evals: list[tuple[float, bool]]) -> None:
    rewards = np.array([r for r, _ in evals], dtype=float)
    feasible = np.array([f for _, f in evals], dtype=bool)
    curve = best_so_far(rewards, feasible)
    for i in range(len(evals)):
        seen = rewards[: i + 1][feasible[: i + 1]]
        assert (np.isnan(curve[i]) and len(seen) == 0) or curve[i] == seen.max()
    targets = [float(np.nanmedian(curve))] if len(curve) and not np.all(np.isnan(curve)) else []
    for target, hit in zip(targets, evaluations_to_targets(curve, targets), strict=True):
        assert hit is not None and curve[hit - 1] >= target and not np.any(curve[: hit - 1] >= target)


# --- running ------------------------------------------------------------------------------------
def test_kill_then_rerun_repeats_no_finished_run_and_equals_an_uninterrupted_one(tmp_path: Path) -> None:
    path = _campaign_file(tmp_path, env=SLEEP, kwargs="{ delay_s = 0.03 }", budget=10)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "archgym.cli", "bench", str(path), "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("runs/**/summary.json"))) < 4:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p: p.stat().st_mtime_ns for p in out.glob("runs/**/summary.json")}
    assert len(finished) >= 4 and not (out / "runs.parquet").exists(), "the kill came too late to test"
    result = run_campaign(load_campaign(path), out, progress=False)
    assert result["already_finished"] >= len(finished)
    assert all(p.stat().st_mtime_ns == t for p, t in finished.items()), "a finished run was repeated"
    runs = pq.read_table(out / "runs.parquet").to_pandas()
    assert len(runs) == result["runs"] == len(list(out.glob("runs/**/summary.json")))
    assert (runs.n_evaluations == 10).all()
    reference = run_campaign(load_campaign(path), tmp_path / "whole", workers=0, progress=False)
    assert reference["runs"] == result["runs"]
    assert _per_run(out) == _per_run(tmp_path / "whole")


def test_dask_local_cluster_gives_the_local_results(tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed")
    path = _campaign_file(tmp_path)
    local = run_campaign(load_campaign(path), tmp_path / "local", progress=False)
    dask = run_campaign(load_campaign(path), tmp_path / "dask", dask="local", progress=False)
    assert local["runs"] == dask["runs"] > 0
    assert "ga on DTLZ2-v0: it is single-objective and the env has 2 objectives" in dask["skipped_pairs"]
    assert _per_run(tmp_path / "local") == _per_run(tmp_path / "dask")


def test_a_changed_campaign_file_does_not_mix_into_an_old_directory(tmp_path: Path) -> None:
    run_campaign(load_campaign(_campaign_file(tmp_path, budget=4)), tmp_path / "c", workers=0, progress=False)
    again = run_campaign(
        load_campaign(_campaign_file(tmp_path, budget=4)), tmp_path / "c", workers=1, progress=False
    )  # how runs execute may change: nothing is rerun
    assert again["already_finished"] == again["runs"]
    with pytest.raises(ValueError, match="different definition"):
        run_campaign(
            load_campaign(_campaign_file(tmp_path, budget=5)), tmp_path / "c", workers=0, progress=False
        )


def test_tables_and_report_have_every_figure(tmp_path: Path) -> None:
    import matplotlib.image as mpimg

    out = tmp_path / "c"
    run_campaign(load_campaign(_campaign_file(tmp_path)), out, workers=0, progress=False)
    runs = pq.read_table(out / "runs.parquet").to_pandas()
    # 2 tuning seeds x (random, ga x 3 settings, mapelites on Branin; random, nsga2 on DTLZ2) + test seeds
    assert (runs.stage == "tuning").sum() == 2 * (1 + 3 + 1 + 1 + 1)
    assert (runs.stage == "test").sum() == 2 * 5
    branin = runs[runs.env_label == "Branin-v0"]
    assert branin.hypervolume.isna().all() and np.allclose(branin.final, branin.best_reward)
    assert runs[runs.env_label == "DTLZ2-v0"].hypervolume.notna().all()
    assert runs[runs.agent == "mapelites"].qd_score.notna().all()
    for row in branin.itertuples():
        curve = pq.read_table(out / row.run_dir / "evaluations.parquet").to_pandas().reward.cummax()
        for target, hit in zip(row.targets, row.evaluations_to_target, strict=True):
            assert (hit is None and curve.max() < target) or curve.iloc[int(hit) - 1] >= target
    evaluations = pq.read_table(out / "evaluations.parquet")
    assert evaluations.num_rows == runs.n_evaluations.sum()

    report = write_report(out)
    figures = report.parent / "figures"
    expected = [*FIGURES, "archive_Branin-v0.png"]
    for name in expected:
        image = mpimg.imread(figures / name)
        assert image.shape[0] > 100 and image.shape[1] > 100 and image.std() > 0.01, name
    text = report.read_text()
    assert all(f"figures/{name}" in text for name in expected)
    assert "Friedman" in text and "| Branin-v0 | ga |" in text
    assert (report.parent / "report.html").read_text().count("<img") == len(expected)


def test_a_single_run_evaluates_on_dask_through_the_loops_executor_seam(tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed")
    from archgym import loop

    kwargs = {
        "env": SLEEP,
        "agent": "random",
        "budget": 16,
        "seed": 3,
        "env_kwargs": {"delay_s": 0.01},
        "progress": False,
    }
    local = loop.run(out=tmp_path / "local", **kwargs)
    dask = loop.run(out=tmp_path / "dask", workers=2, dask="local", **kwargs)
    assert dask["best_reward"] == local["best_reward"] and dask["n_evaluations"] == 16

    def records(d: Path) -> list:
        table = pq.read_table(d / "evaluations.parquet").to_pandas()
        return table[["step", "param.x", "param.y", "reward", "eval_seed"]].values.tolist()

    assert records(tmp_path / "dask") == records(tmp_path / "local")
    with pytest.raises(ValueError, match="--timeout needs local worker processes"):
        loop.run(out=tmp_path / "t", timeout=5.0, dask="local", **kwargs)


def test_report_survives_runs_without_a_feasible_evaluation(tmp_path: Path) -> None:
    path = tmp_path / "faulty.toml"
    path.write_text("""
budget = 4
tuning_seeds = [0, 1]
test_seeds = [5]
[[envs]]
id = "archgym.testing:archgym-testing/Faulty-v0"
kwargs = { fail_below = 1.1 }   # every evaluation raises
[[envs]]
id = "archgym/Branin-v0"
[[agents]]
name = "random"
[[agents]]
name = "ga"
[[agents]]
name = "aco"
""")
    out = tmp_path / "c"
    run_campaign(load_campaign(path), out, workers=0, progress=False)
    runs = pq.read_table(out / "runs.parquet").to_pandas()
    faulty = runs[runs.env_label == "Faulty-v0"]
    assert faulty.final.isna().all() and (faulty.n_feasible == 0).all()
    report = write_report(out)
    assert all((report.parent / "figures" / name).stat().st_size > 1000 for name in FIGURES)
    assert "| Faulty-v0 | random |" in report.read_text()


def test_a_run_that_raises_is_reported_and_the_others_finish(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("""
budget = 6
tuning_seeds = [0]
test_seeds = [1]
[[envs]]
id = "archgym/Hartmann6-v0"
[[agents]]
name = "random"
[[agents]]
name = "grid"
params = { max_designs = 10 }   # 5 points per axis in 6-D: the grid agent refuses at start
""")
    out = tmp_path / "c"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "archgym.cli",
            "bench",
            str(path),
            "--out",
            str(out),
            "--workers",
            "0",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "run(s) failed" in result.stderr
    failed = json.loads(result.stdout)["failed_runs"]
    assert set(failed) == {"tuning/Hartmann6-v0/grid/s0/seed0", "test/Hartmann6-v0/grid/s0/seed1"}
    assert all("max_designs" in error for error in failed.values())
    runs = pq.read_table(out / "runs.parquet").to_pandas()
    assert sorted(runs.agent) == ["random", "random"] and (runs.n_evaluations == 6).all()


def test_an_evaluation_that_kills_its_process_is_recorded_and_every_run_finishes(tmp_path: Path) -> None:
    path = tmp_path / "dying.toml"
    path.write_text("""
budget = 6
workers = 2
tuning_seeds = [0, 1]
test_seeds = [2]
[[envs]]
id = "archgym.testing:archgym-testing/Faulty-v0"
kwargs = { fail_below = 0.0, die_at_or_above = 0.6 }   # such designs end the evaluating process
[[envs]]
id = "archgym/Branin-v0"
[[agents]]
name = "random"
""")
    out = tmp_path / "c"
    result = run_campaign(load_campaign(path), out, progress=False)
    assert result["failed_runs"] == {}
    runs = pq.read_table(out / "runs.parquet").to_pandas()
    assert len(runs) == 6 and (runs.n_evaluations == 6).all()
    evals = pq.read_table(out / "evaluations.parquet").to_pandas()
    assert not evals.duplicated(["run_key", "step"]).any()  # resumed runs repeated no evaluation
    faulty = evals[evals.run_key.str.contains("Faulty")]
    died = faulty[faulty["param.x"] >= 0.6]
    assert len(died) > 0 and not died.feasible.any()
    assert died.error.str.contains("worker process died").all()
    assert faulty[faulty["param.x"] < 0.6].feasible.all()


def test_a_run_stopped_by_a_signal_is_resumed_by_the_next_campaign_pass(tmp_path: Path) -> None:
    """A run stopped by SIGTERM (a pool shutting down) writes summary.json with complete=false:
    rerunning the campaign must resume it, not take it as finished."""
    raw = {
        "budget": 4,
        "workers": 0,
        "tuning_seeds": [0],
        "envs": [{"id": "archgym/Branin-v0"}],
        "agents": [{"name": "random"}],
    }
    out = tmp_path / "c"
    run_campaign(parse_campaign(raw), out, progress=False)
    [summary_path] = (out / "runs").rglob("summary.json")
    stopped = json.loads(summary_path.read_text()) | {
        "complete": False,
        "stopped_by": "SIGTERM",
        "n_evaluations": 0,
    }
    summary_path.write_text(json.dumps(stopped))
    run_campaign(parse_campaign(raw), out, progress=False)
    resumed = json.loads(summary_path.read_text())
    assert resumed["complete"] is True and resumed["n_evaluations"] == 4
    assert pq.read_table(out / "runs.parquet").to_pandas().n_evaluations.tolist() == [4]
