"""The `archgym` command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from archgym.cli import main as cli


def test_envs_lists_builtins_with_parameters_and_objectives(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["envs", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    by_id = {row["id"]: row for row in listing["envs"]}
    assert {"archgym/Branin-v0", "archgym/DTLZ2-v0"} <= set(by_id)
    assert by_id["archgym/Branin-v0"]["parameters"] == ["x1:real", "x2:real"]
    assert by_id["archgym/DTLZ2-v0"]["objectives"] == "min f1, min f2"
    assert by_id["archgym/Branin-v0"]["plugin"] == "analytic"
    assert listing["broken_plugins"] == {}
    assert cli(["envs"]) == 0
    assert "archgym/MixedConditional-v0  [analytic]" in capsys.readouterr().out


def test_agents_lists_hyperparameters(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["agents", "--json"]) == 0
    agents = {a["name"]: a for a in json.loads(capsys.readouterr().out)}
    assert agents["random"]["hyperparameters"] == [
        {"name": "batch_size", "type": "integer", "default": 8, "legal": "integers in [1, 1024]"}
    ]


def test_every_run_option_is_explained_by_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "archgym.cli", "run", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for option in (
        "--env",
        "--agent",
        "--budget",
        "--seed",
        "--out",
        "--env-kwarg",
        "--agent-param",
        "--workers",
        "--timeout",
        "--isolate",
        "--scalarize",
        "--cost-budget",
        "--resume",
        "--trust-model",
        "--no-progress",
    ):
        assert option in out
    assert out.count("\n") > 20  # options come with their explanations


def test_bad_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli(
            [
                "run",
                "--env",
                "archgym/Nope-v0",
                "--agent",
                "random",
                "--budget",
                "2",
                "--out",
                str(tmp_path / "a"),
            ]
        )
        == 2
    )
    assert "registered namespaced envs" in capsys.readouterr().err
    assert cli(["run", "--env", "archgym/Branin-v0", "--agent", "random", "--budget", "2"]) == 2
    assert "run needs --out" in capsys.readouterr().err
    assert (
        cli(
            [
                "run",
                "--env",
                "archgym/DTLZ2-v0",
                "--agent",
                "random",
                "--budget",
                "2",
                "--scalarize",
                "sum:1,1",
                "--out",
                str(tmp_path / "b"),
            ]
        )
        == 2
    )
    assert "--scalarize" in capsys.readouterr().err


def test_env_kwargs_and_agent_params_reach_the_run(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert (
        cli(
            [
                "run",
                "--env",
                "archgym.testing:archgym-testing/Sleep-v0",
                "--env-kwarg",
                "delay_s=0",
                "--agent",
                "random",
                "--agent-param",
                "batch_size=3",
                "--budget",
                "7",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["env_kwargs"] == {"delay_s": 0}
    assert summary["agent_params"] == {"batch_size": 3}
    import pyarrow.parquet as pq

    batches = pq.read_table(out / "evaluations.parquet").column("batch").to_pylist()
    assert batches == [0, 0, 0, 1, 1, 1, 2]  # batch_size=3 over 7 evaluations


def test_a_simulator_that_kills_the_run_is_recorded_infeasible_on_resume_with_isolate(tmp_path: Path) -> None:
    out = tmp_path / "r"
    command = [
        sys.executable,
        "-m",
        "archgym.cli",
        "run",
        "--env",
        "archgym.testing:archgym-testing/Faulty-v0",
        "--env-kwarg",
        "fail_below=0",
        "--env-kwarg",
        "die_at_or_above=0.5",
        "--agent",
        "random",
        "--budget",
        "12",
        "--out",
        str(out),
        "--no-progress",
    ]
    died = subprocess.run(command, capture_output=True, text=True)
    assert died.returncode == 70 and not (out / "summary.json").exists()  # in-process: the run died with it
    before = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    resumed = subprocess.run(
        [sys.executable, "-m", "archgym.cli", "run", "--resume", str(out), "--isolate", "--no-progress"],
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    import pyarrow.parquet as pq

    rows = pq.read_table(out / "evaluations.parquet").to_pandas().sort_values("step")
    assert list(rows.step) == list(range(12))
    killers = rows[rows["param.x"] >= 0.5]
    assert len(killers) > 0 and not killers.feasible.any()
    assert killers.error.str.contains("worker process died").all()
    assert rows[rows["param.x"] < 0.5].feasible.all()
    assert rows.reward.iloc[: len(before)].tolist() == [r["reward"] for r in before]  # kept, not redone


def test_cli_habits_version_module_pipe_and_env_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #29 part 2: --version, python -m archgym, a closed pipe, a missing namespace."""
    import subprocess
    import sys

    with pytest.raises(SystemExit) as exit_info:
        cli(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.startswith("archgym ")
    done = subprocess.run([sys.executable, "-m", "archgym", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("archgym ")
    piped = subprocess.run(
        f"{sys.executable} -m archgym agents | head -1", shell=True, capture_output=True, text=True
    )
    assert piped.stdout.count("\n") == 1 and "Traceback" not in piped.stderr and "Broken" not in piped.stderr
    argv = ["run", "--env", "Branin-v0", "--agent", "random", "--budget", "2", "--out", str(tmp_path / "r")]
    assert cli(argv) == 2
    assert "did you mean 'archgym/Branin-v0'?" in capsys.readouterr().err
