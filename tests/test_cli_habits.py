"""Issue #29 part 2 and 3: "did you mean" for agents, ``archgym envs --details`` for every
registered env, and envs and agents whose extra is not installed — listed, marked with the
install command, and refused with it (the module hidden from import here, no second venv)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator

import gymnasium as gym
import pytest

from archgym.cli import main
from archgym.plugins import MissingExtra, get_registry, load_plugins
from archgym.plugins.extras import lean_backend_chosen
from archgym.search import problem_of

ENV_IDS = sorted(get_registry().env_plugins)


def test_a_misspelt_agent_gets_did_you_mean(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "--env", "archgym/Branin-v0", "--agent", "rando", "--budget", "2", "--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "unknown agent 'rando' (did you mean 'random'" in err and err.count("\n") == 1
    with pytest.raises(ValueError, match="did you mean 'nsga2'"):
        get_registry().agent("nsga")


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_envs_details_of_every_registered_env(env_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["envs", "--details", env_id, "--json"]) == 0
    details = json.loads(capsys.readouterr().out)
    assert details["id"] == env_id and details["plugin"] == get_registry().env_plugins[env_id]
    assert details["doc"] and details["eval_cost"], "every built-in env declares its page and cost"
    env = gym.make(env_id)
    try:
        inner = env.unwrapped
        space = problem_of(env, env_id).design_space
        assert list(details["parameters"]) == list(space.names)
        names = [a["name"] for a in details["arguments"]]
        declared = {p.name: p.legal_values() for p in type(inner).arguments}
        for argument in details["arguments"]:  # every declared argument shows its legal values
            if argument["name"] in declared:
                assert argument["legal"] == declared[argument["name"]]
        assert set(inner.constructor_kwargs) <= set(names) and names[-2:] == [
            "backend",
            "outcome_constraints",
        ]
        defaults = {a["name"]: a["default"] for a in details["arguments"]}
        for name, value in type(inner).complete_kwargs({}).items():
            assert json.loads(json.dumps(value, default=str)) == defaults[name]
        fidelity = problem_of(env, env_id).fidelity
        assert (details["fidelity"] is None) == (fidelity is None)
    finally:
        env.close()
    assert main(["envs", "--details", env_id]) == 0
    text = capsys.readouterr().out
    assert f"doc: {details['doc']}" in text and "constructor arguments" in text


def test_envs_details_of_an_unknown_id_hints_the_namespace(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["envs", "--details", "Branin-v0"]) == 2
    assert "did you mean 'archgym/Branin-v0'?" in capsys.readouterr().err


def _without(monkeypatch: pytest.MonkeyPatch, modules: tuple[str, ...]) -> Iterator[None]:
    """``modules`` hidden from import, the plugins loaded again as a lean install would load
    them; restored afterwards."""
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)
    load_plugins()
    yield
    monkeypatch.undo()
    load_plugins()


@pytest.fixture
def hidden(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """scalesim (the accelerators extra) and botorch (the bo extra) hidden."""
    yield from _without(monkeypatch, ("scalesim", "botorch"))


def test_a_missing_extra_is_listed_and_refused_with_its_install_command(
    hidden: None, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    needs_acc = "needs pip install 'archgym[accelerators]' (missing: scalesim)"
    needs_bo = "needs pip install 'archgym[bo]' (missing: botorch)"
    assert main(["envs"]) == 0
    listing = capsys.readouterr().out
    assert f"archgym/SystolicArray-v0  [accelerators]  {needs_acc}" in listing
    assert "archgym/ZigZag-v0  [accelerators]  objectives" in listing  # its own module is there
    with pytest.raises(
        MissingExtra, match=r"archgym/SystolicArray-v0 needs pip install 'archgym\[accelerators\]'"
    ):
        gym.make("archgym/SystolicArray-v0")
    assert main(["envs", "--details", "archgym/SystolicArray-v0"]) == 0
    assert needs_acc in capsys.readouterr().out

    assert main(["agents"]) == 0
    listing = capsys.readouterr().out
    assert f"[{needs_bo}]" in next(line for line in listing.splitlines() if line.startswith("bo:"))
    assert "[needs" not in next(line for line in listing.splitlines() if line.startswith("ga:"))
    for argv in (
        ["--env", "archgym/Branin-v0", "--agent", "bo"],
        ["--env", "archgym/SystolicArray-v0", "--agent", "random"],
    ):
        assert main(["run", *argv, "--budget", "2", "--out", str(tmp_path / argv[3])]) == 2
        err = capsys.readouterr().err
        assert "needs pip install 'archgym[" in err and "Traceback" not in err
    assert (
        main(
            [
                "run",
                "--env",
                "archgym/Branin-v0",
                "--agent",
                "ga",
                "--budget",
                "4",
                "--out",
                str(tmp_path / "ga"),
            ]
        )
        == 0
    )


def test_the_env_is_buildable_again_once_its_extra_is_back(
    hidden: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()
    load_plugins()
    env = gym.make("archgym/SystolicArray-v0")
    env.close()
    assert get_registry().env_info["archgym/SystolicArray-v0"].install_hint is None


@pytest.fixture
def without_torch(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """torch and scikit-learn (the nas extra) hidden."""
    yield from _without(monkeypatch, ("torch", "sklearn"))


def test_the_nas_table_runs_without_the_nas_extra(
    without_torch: None, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The NAS-Bench-201 table answers without training: a lean install runs it; training live
    still says what to install."""
    hint = "needs pip install 'archgym[nas]' (missing: torch, sklearn; backend='table' runs without them)"
    with pytest.raises(MissingExtra, match=re.escape(hint)):
        gym.make("archgym/NASBench201-v0")
    assert main(["envs"]) == 0
    assert hint in capsys.readouterr().out
    env = gym.make("archgym/NASBench201-v0", backend="table")
    try:
        env.reset(seed=0)
        _, _, _, _, info = env.step(env.action_space.sample())
        assert info["backend"] == "table" and 0.0 < info["metrics"]["val_accuracy"] <= 100.0
        assert env.unwrapped.statistics(info["design"])["params"] > 0  # from the table, not torch
    finally:
        env.close()
    out = tmp_path / "lean"
    argv = ["run", "--env", "archgym/NASBench201-v0", "--env-kwarg", "backend=table", "--agent", "random"]
    assert main([*argv, "--budget", "5", "--out", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["n_evaluations"] == 5


def test_only_lean_backends_skip_the_env_libraries() -> None:
    lean = ("table",)
    assert lean_backend_chosen({"backend": "table"}, lean)
    assert lean_backend_chosen({"backend": ["table"]}, lean)
    assert not lean_backend_chosen({}, lean)  # the default backend is the simulator
    assert not lean_backend_chosen({"backend": "simulator"}, lean)
    assert not lean_backend_chosen({"backend": ["table", "simulator"]}, lean)  # a ladder needs both
    assert not lean_backend_chosen({"backend": "table"}, ())
