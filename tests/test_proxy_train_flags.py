"""``archgym proxy train --no-statistics / --pretrain N`` reach ``archgym.proxy.train``: the card
says which free statistics and which pretraining the model used."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pytest

from archgym.cli import main as cli
from archgym.data import collect

SOR_KWARGS = {"sequence": "constant", "n": 8}  # one system: free statistics declared


@pytest.fixture(scope="module")
def sor_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("flags") / "collect"
    collect(env="archgym/SOR-v0", env_kwargs=SOR_KWARGS, n=60, out=out, seed=0)
    return out


def _train(run: Path, model: Path, *flags: str) -> dict:
    argv = ["proxy", "train", str(run), "--target", "iterations", "-o", str(model), "--models", "rf"]
    assert cli([*argv, *flags]) == 0
    return json.loads(model.with_suffix(".card.json").read_text())


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # a 20-design pretraining
def test_the_flags_reach_the_card(sor_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    declared = list(gym.make("archgym/SOR-v0", **SOR_KWARGS).unwrapped.statistic_names)
    default = _train(sor_run, tmp_path / "default.joblib")
    assert default["statistics"]["used"] == declared and default["pretraining"] is None
    plain = _train(sor_run, tmp_path / "plain.joblib", "--no-statistics", "--pretrain", "20")
    assert plain["statistics"]["used"] == []
    assert plain["targets"]["iterations"]["features"] == "parameters"
    assert plain["pretraining"]["designs"] == 20 and plain["pretraining"]["statistics"] == declared
    assert "mlp" in {c["kind"] for c in plain["targets"]["iterations"]["candidates"]}
    capsys.readouterr()


@pytest.mark.parametrize("value", ["5", "9", "-10", "1000001", str(10**30), "2.5", "nan", "many"])
def test_an_illegal_pretrain_is_one_line_naming_the_flag(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli(["proxy", "train", "DS", "--target", "y", "-o", str(tmp_path / "m"), f"--pretrain={value}"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--pretrain" in err
    assert "legal values: 0 (no pretraining) or integers 10 to 1000000" in err
    assert not list(tmp_path.iterdir())
