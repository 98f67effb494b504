"""Trust to unpickle a proxy model comes only from the person at the keyboard (issue #19, part 1).

Every route by which a file someone else produced could switch ``trust_model`` on is fed a REAL
crafted input: a pickle whose ``__reduce__`` touches a marker file, written in place of a real
model trained here, with its card's SHA-256 fixed so that only trust stands between the file and
execution. After each command the marker must not exist, errors must be one clean line (no
traceback) and warnings must name the file that carried ``trust_model``. The positive controls
show the explicit opt-ins (``trust_model=True`` in code, ``--trust-model``,
``ARCHGYM_TRUST_MODELS=1``) still load a real model and run on it.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import pickle
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from archgym import loop
from archgym.cli import main
from archgym.data import collect, export
from archgym.proxy import load
from archgym.records import PARQUET, RUN_META

TRUST_ENV = "ARCHGYM_TRUST_MODELS"
ENV = "archgym/Branin-v0"


class _Evil:
    """Unpickling this touches ``marker`` (and yields None, not a model)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@dataclass(frozen=True)
class Made:
    root: Path
    real: Path  # a real model trained on Branin
    run: Path  # a finished random run on the simulator (16 evaluations)


@dataclass(frozen=True)
class Evil:
    model: Path
    marker: Path

    def kwargs(self, *, trust: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"backend": "proxy", "model": str(self.model)}
        return {**out, "trust_model": True} if trust else out


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    root = tmp_path_factory.mktemp("trust")
    collect(env=ENV, n=30, out=root / "collect", seed=0, progress=False)
    export([root / "collect"], root / "ds.parquet")
    real = root / "real.joblib"
    args = [
        "proxy",
        "train",
        str(root / "ds.parquet"),
        "--target",
        "value",
        "-o",
        str(real),
        "--models",
        "rf",
    ]
    assert main(args) == 0
    loop.run(env=ENV, agent="random", budget=16, seed=0, out=root / "run", progress=False)
    return Made(root, real, root / "run")


@pytest.fixture(autouse=True)
def _no_ambient_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRUST_ENV, raising=False)


@pytest.fixture
def evil(made: Made, tmp_path: Path) -> Iterator[Evil]:
    """A malicious model file with a card copied from the real model, SHA-256 fixed."""
    marker = tmp_path / "PWNED"
    model = tmp_path / "evil.joblib"
    model.write_bytes(pickle.dumps(_Evil(marker)))
    card = json.loads(made.real.with_suffix(".card.json").read_text())
    card["model_file"] = model.name
    card["model_sha256"] = hashlib.sha256(model.read_bytes()).hexdigest()
    model.with_suffix(".card.json").write_text(json.dumps(card))
    yield Evil(model, marker)
    assert not marker.exists(), "the crafted pickle ran"


def _craft_run(src: Path, dst: Path, kwargs: Mapping[str, Any], *, drop_units: bool = False) -> Path:
    """A copy of run ``src`` whose run.json stores ``kwargs`` (as an older or hostile run would)."""
    shutil.copytree(src, dst)
    meta = json.loads((dst / RUN_META).read_text())
    meta["config"]["env_kwargs"] = dict(kwargs)
    meta["env_kwargs"] = dict(kwargs)
    if drop_units:  # as written before run.json kept units: export must build the env to learn them
        meta.pop("metric_units", None)
    (dst / RUN_META).write_text(json.dumps(meta))
    return dst


def _clean_error(rc: int, capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert "Traceback" not in err and "\n" not in err, err
    assert err.startswith("archgym: error: ")
    for needle in needles:
        assert needle in err, err
    return err


def _names(path: Path) -> str:
    return re.escape(str(path))


# --- the crafted input is real ------------------------------------------------------------------
def test_the_crafted_model_runs_code_when_trusted(evil: Evil) -> None:
    with pytest.raises(ValueError, match="not an archgym proxy model"):
        load(evil.model, trust=True)  # SHA-256 matches: only trust stood in the way
    assert evil.marker.exists()
    evil.marker.unlink()  # the fixture checks it is gone: every other test must never create it


# --- run.json ----------------------------------------------------------------------------------
@pytest.mark.parametrize("ambient", [False, True], ids=["no-trust", "ARCHGYM_TRUST_MODELS=1"])
def test_run_json_to_dataset_export_never_unpickles(
    made: Made, evil: Evil, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ambient: bool
) -> None:
    if ambient:  # reading records never builds a proxy env, whatever trust is given
        monkeypatch.setenv(TRUST_ENV, "1")
    run = _craft_run(made.run, tmp_path / "run", evil.kwargs(), drop_units=True)
    with pytest.warns(UserWarning, match=_names(run / RUN_META) + r".*ignoring stored \['trust_model'\]"):
        assert main(["dataset", "export", str(run), "-o", str(tmp_path / "ds.parquet")]) == 0
    card = json.loads((tmp_path / "ds.card.json").read_text())
    assert card["env_kwargs"] == evil.kwargs(trust=False)
    assert set(card["metric_units"].values()) != {"unknown"}  # read from the simulator env
    texts = set(pq.read_table(tmp_path / "ds.parquet")["env_kwargs"].to_pylist())
    assert not any("trust_model" in t for t in texts)


def test_run_json_to_resume_is_refused_cleanly(
    made: Made, evil: Evil, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _craft_run(made.run, tmp_path / "run", evil.kwargs())
    (run / "summary.json").unlink(missing_ok=True)  # a killed run: the CLI leaves complete ones alone
    with pytest.warns(UserWarning, match=_names(run / RUN_META)):
        rc = main(["run", "--resume", str(run), "--no-progress"])
    _clean_error(rc, capsys, "refusing to unpickle", "--trust-model")
    with pytest.warns(UserWarning, match=_names(run / RUN_META)), pytest.raises(PermissionError):
        loop.resume(run, progress=False)


def test_run_json_to_proxy_train_never_unpickles(
    made: Made, evil: Evil, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TRUST_ENV, "1")
    run = _craft_run(made.run, tmp_path / "run", evil.kwargs())
    model = tmp_path / "m.joblib"
    with pytest.warns(UserWarning, match=_names(run / RUN_META)):
        args = ["proxy", "train", str(run), "--target", "value", "-o", str(model), "--models", "rf"]
        assert main(args) == 0
    card = json.loads(model.with_suffix(".card.json").read_text())
    assert "trust_model" not in card["env_kwargs"] and "trust_model" not in card["constructor_kwargs"]


# --- dataset cards -----------------------------------------------------------------------------
def test_dataset_card_to_export_never_unpickles(
    made: Made, evil: Evil, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export([made.run], tmp_path / "in.parquet")
    card_path = tmp_path / "in.card.json"
    card = json.loads(card_path.read_text())
    card["env_kwargs"] = evil.kwargs()
    card["metric_units"] = dict.fromkeys(card["metric_units"], "unknown")  # units from the env
    card_path.write_text(json.dumps(card))
    monkeypatch.setenv(TRUST_ENV, "1")
    with pytest.warns(UserWarning, match=_names(card_path)):
        assert main(["dataset", "export", str(tmp_path / "in.parquet"), "-o", str(tmp_path / "out.csv")]) == 0
    out = json.loads((tmp_path / "out.card.json").read_text())
    assert out["env_kwargs"] == evil.kwargs(trust=False)
    assert set(out["metric_units"].values()) != {"unknown"}


# --- MAP-Elites archive rebuild ----------------------------------------------------------------
def test_run_json_to_mapelites_archive_rebuild_never_unpickles(
    made: Made, evil: Evil, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archgym_agents.mapelites import archive_stats_of_run

    monkeypatch.setenv(TRUST_ENV, "1")
    run = _craft_run(made.run, tmp_path / "run", evil.kwargs())
    with pytest.warns(UserWarning, match=_names(run / RUN_META)):
        stats = archive_stats_of_run(run, qd_offset=0.0, measures="x1,x2", cells=4)
    assert stats == archive_stats_of_run(made.run, qd_offset=0.0, measures="x1,x2", cells=4)


# --- campaign files and tables -----------------------------------------------------------------
CAMPAIGN = """
name = "trust"
budget = 4
workers = 0
tuning_seeds = [0]

[[envs]]
id = "archgym/Branin-v0"
kwargs = {kwargs}

[[agents]]
name = "random"
"""


def _toml(path: Path, kwargs: Mapping[str, Any]) -> Path:
    inline = ", ".join(f"{k} = {json.dumps(v)}" for k, v in kwargs.items())
    path.write_text(CAMPAIGN.format(kwargs="{ " + inline + " }"))
    return path


def test_toml_with_trust_model_is_refused_before_anything_runs(
    evil: Evil, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = _toml(tmp_path / "c.toml", evil.kwargs())
    rc = main(["bench", str(toml), "--out", str(tmp_path / "out"), "--no-progress", "--trust-model"])
    _clean_error(rc, capsys, str(toml), "envs[0].kwargs", "trust_model", "--trust-model")
    assert not (tmp_path / "out").exists()


def test_toml_naming_a_model_needs_the_callers_trust(
    evil: Evil, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = _toml(tmp_path / "c.toml", evil.kwargs(trust=False))
    rc = main(["bench", str(toml), "--out", str(tmp_path / "out"), "--no-progress"])
    _clean_error(rc, capsys, "refusing to unpickle", str(evil.model))


@pytest.fixture(scope="module")
def proxy_campaign(made: Made, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A campaign on the proxy env, run with ``archgym bench --trust-model`` (no ambient trust)."""
    root = tmp_path_factory.mktemp("campaign")
    toml = _toml(root / "c.toml", {"backend": "proxy", "model": str(made.real)})
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(TRUST_ENV, raising=False)
        assert main(["bench", str(toml), "--out", str(root / "out"), "--no-progress", "--trust-model"]) == 0
    return root / "out"


def test_bench_trust_model_flag_runs_a_proxy_campaign_and_stores_no_trust(proxy_campaign: Path) -> None:
    runs = pq.read_table(proxy_campaign / "runs.parquet").to_pylist()
    assert len(runs) == 1 and runs[0]["n_evaluations"] == 4
    evaluations = pq.read_table(proxy_campaign / "evaluations.parquet")
    assert set(evaluations["backend"].to_pylist()) == {"proxy"}
    stored = [
        runs[0]["env_kwargs"],
        (proxy_campaign / "campaign.json").read_text(),
        *evaluations["env_kwargs"].to_pylist(),
        *(p.read_text() for p in (proxy_campaign / "runs").rglob("*.json")),
    ]
    assert all("trust_model" not in text for text in stored)
    assert all('"backend": "proxy"' in text for text in stored[:1])


def test_bench_worker_gets_trust_as_an_argument(made: Made, tmp_path: Path) -> None:
    from archgym.campaign import execute_run

    spec = {
        "stage": "tuning",
        "env": ENV,
        "env_label": "Branin-v0",
        "env_kwargs": {"backend": "proxy", "model": str(made.real)},
        "agent": "random",
        "setting": 0,
        "agent_params": {},
        "seed": 0,
        "budget": 3,
    }
    with pytest.raises(PermissionError, match="refusing to unpickle"):
        execute_run(spec, str(tmp_path / "a"))
    assert execute_run(spec, str(tmp_path / "b"), False, True)["n_evaluations"] == 3


def test_runs_parquet_and_summaries_to_report_never_unpickle(
    proxy_campaign: Path, evil: Evil, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "campaign"
    shutil.copytree(proxy_campaign, directory)
    runs = pq.read_table(directory / "runs.parquet").to_pandas()
    runs["env_kwargs"] = json.dumps(evil.kwargs(), sort_keys=True)
    runs.to_parquet(directory / "runs.parquet")
    for path in (directory / "runs").rglob("*.json"):
        meta = json.loads(path.read_text())
        meta["env_kwargs"] = evil.kwargs()
        if "config" in meta:
            meta["config"]["env_kwargs"] = evil.kwargs()
        path.write_text(json.dumps(meta))
    monkeypatch.setenv(TRUST_ENV, "1")  # the report reads files only: no env is ever built
    assert main(["report", str(directory)]) == 0
    assert (directory / "report" / "report.md").is_file()


# --- the explicit opt-ins still work -----------------------------------------------------------
def test_trust_model_in_code_runs_and_is_never_stored(made: Made, tmp_path: Path) -> None:
    out = tmp_path / "run"
    kwargs = {"backend": "proxy", "model": str(made.real), "trust_model": True}
    summary = loop.run(env=ENV, agent="random", budget=5, seed=0, out=out, env_kwargs=kwargs, progress=False)
    assert summary["n_evaluations"] == 5
    assert set(pq.read_table(out / PARQUET)["backend"].to_pylist()) == {"proxy"}
    meta = json.loads((out / RUN_META).read_text())
    plain = {"backend": "proxy", "model": str(made.real)}
    assert meta["env_kwargs"] == plain and meta["config"]["env_kwargs"] == plain
    assert summary["env_kwargs"] == plain
    assert "trust_model" not in (out / "summary.json").read_text()
    assert "trust_model" not in "".join(pq.read_table(out / PARQUET)["env_kwargs"].to_pylist())
    (out / "summary.json").unlink()
    with pytest.raises(PermissionError, match="refusing to unpickle"):
        loop.resume(out, progress=False)  # trust was this call's, not the run's
    assert loop.resume(out, progress=False, trust_model=True)["n_evaluations"] == 5


def test_trust_model_flag_and_environment_variable(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    model = ["--env-kwarg", "backend=proxy", "--env-kwarg", f"model={made.real}"]
    base = ["run", "--env", ENV, "--agent", "random", "--budget", "4", "--out", str(out), "--no-progress"]
    assert main([*base, *model]) == 2  # no trust: refused
    _clean_error(2, capsys, "refusing to unpickle")
    assert main([*base, *model, "--trust-model"]) == 0
    assert "trust_model" not in (out / RUN_META).read_text()
    (out / "summary.json").unlink()
    _clean_error(main(["run", "--resume", str(out), "--no-progress"]), capsys, "refusing to unpickle")
    assert main(["run", "--resume", str(out), "--no-progress", "--trust-model"]) == 0
    (out / "summary.json").unlink()
    monkeypatch.setenv(TRUST_ENV, "1")
    assert main(["run", "--resume", str(out), "--no-progress"]) == 0
    assert json.loads((out / "summary.json").read_text())["n_evaluations"] == 4
    # --trust-model on a run without a proxy backend grants nothing and changes nothing
    plain = tmp_path / "plain"
    assert (
        main(
            ["run", "--env", ENV, "--agent", "random", "--budget", "2", "--out", str(plain), "--trust-model"]
        )
        == 0
    )
    assert json.loads((plain / RUN_META).read_text())["env_kwargs"] == {}
