"""Every path formed from data stays inside its root (issue #19, part 3).

Campaign env labels (a TOML file), the fields of a run spec (a campaign file, ``runs.parquet``, a
worker's argument) and the ``runs.parquet`` fields the report joins to paths (``run_key``,
``run_dir``, ``env_label``) are checked: anything that could resolve outside ``--out`` (or the
campaign directory) is refused with a ValueError naming the entry, before anything is written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from archgym.campaign import (
    Campaign,
    RunSpec,
    check_name,
    check_relative_path,
    execute_run,
    iter_specs,
    parse_campaign,
    run_campaign,
)
from archgym.campaign.runs import AgentEntry, EnvEntry
from archgym.cli import main

ILLEGAL_LABELS = ["../../../escaped", "../escaped", "a/b", "/tmp/escaped", ".", "..", "a\\b", "x y", "é"]

CAMPAIGN = """
name = "paths"
budget = 3
workers = 0
tuning_seeds = [0]

[[envs]]
id = "archgym/Branin-v0"
label = {label}

[[agents]]
name = "random"
"""


def _tree(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def _clean_error(rc: int, capsys: pytest.CaptureFixture[str], *needles: str) -> None:
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert "Traceback" not in err and "\n" not in err, err
    for needle in needles:
        assert needle in err, err


# --- campaign files ----------------------------------------------------------------------------
@pytest.mark.parametrize("label", ILLEGAL_LABELS)
def test_a_campaign_label_leading_outside_is_refused_before_anything_is_written(
    label: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text(CAMPAIGN.format(label=f"'{label}'"))
    out = tmp_path / "deep" / "er" / "out"
    before = _tree(tmp_path)
    rc = main(["bench", str(toml), "--out", str(out), "--no-progress"])
    _clean_error(rc, capsys, str(toml), "envs[0].label", repr(label), "is not legal; legal: letters, digits")
    assert _tree(tmp_path) == before  # nothing written, inside --out or outside it
    for ancestor in (out, *out.parents[:4]):
        assert not (ancestor / "escaped").exists()


def test_legal_labels_pass() -> None:
    for label in ("Branin-v0", "branin_small.v2", "a..b"):
        raw = {
            "budget": 2,
            "tuning_seeds": [0],
            "envs": [{"id": "archgym/Branin-v0", "label": label}],
            "agents": [{"name": "random"}],
        }
        assert parse_campaign(raw).envs[0].name == label


def test_a_campaign_built_in_code_is_checked_before_out_is_made(tmp_path: Path) -> None:
    campaign = Campaign(
        name="code",
        envs=(EnvEntry("archgym/Branin-v0", label="../../escaped"),),
        agents=(AgentEntry("random", ({},)),),
        tuning_seeds=(0,),
        test_seeds=(),
        budget=2,
    )
    with pytest.raises(ValueError, match=r"envs\[0\]\.label: '\.\./\.\./escaped' is not legal"):
        run_campaign(campaign, tmp_path / "out", workers=0, progress=False)
    assert _tree(tmp_path) == set()


# --- run specs (runs.parquet rows, worker arguments) -------------------------------------------
SPEC = {
    "stage": "tuning",
    "env": "archgym/Branin-v0",
    "env_label": "Branin-v0",
    "env_kwargs": {},
    "agent": "random",
    "setting": 0,
    "agent_params": {},
    "seed": 0,
    "budget": 2,
}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("env_label", "../../escaped", "run env_label: '../../escaped' is not legal"),
        ("agent", "../../escaped", "run agent: '../../escaped' is not legal"),
        ("stage", "../escaped", "run stage: '../escaped' is not legal"),
        ("seed", "0/../../escaped", "run seed: '0/../../escaped' is not legal"),
        ("setting", True, "run setting: True is not legal"),
    ],
)
def test_a_run_spec_from_a_table_or_a_worker_argument_is_checked(
    field: str, value: object, message: str, tmp_path: Path
) -> None:
    row = {**SPEC, field: value}
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        list(iter_specs([row]))
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        execute_run(row, str(tmp_path / "out"))
    assert _tree(tmp_path) == set()
    assert RunSpec(**SPEC).key == "tuning/Branin-v0/random/s0/seed0"


def test_the_checks_themselves() -> None:
    for bad in ("", ".", "..", "a/b", "/abs", "a\\b", None, 3):
        with pytest.raises(ValueError, match=r"what: .* is not legal"):
            check_name(bad, "what")
    for bad in ("", "/abs", "runs/../x", "runs//x", "runs/./x", "runs/x/", "C:\\x", None):
        with pytest.raises(ValueError, match=r"where: .* is not legal"):
            check_relative_path(bad, "where")
    assert check_relative_path("runs/tuning/B-v0/random/s0/seed0", "where")


# --- the report's reading of runs.parquet ------------------------------------------------------
@pytest.fixture(scope="module")
def campaign_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("paths")
    toml = root / "c.toml"
    toml.write_text(CAMPAIGN.format(label="'Branin'"))
    assert main(["bench", str(toml), "--out", str(root / "out"), "--no-progress"]) == 0
    return root / "out"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("run_key", "../../../escaped"),
        ("run_key", "/etc"),
        ("run_dir", "runs/../../../escaped"),
        ("run_dir", "/tmp"),
        ("env_label", "../../escaped"),
    ],
)
def test_the_report_refuses_runs_table_paths_leading_outside(
    column: str, value: str, campaign_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "campaign"
    shutil.copytree(campaign_dir, directory)
    runs = pq.read_table(directory / "runs.parquet").to_pandas()
    runs[column] = value
    runs.to_parquet(directory / "runs.parquet")
    before = _tree(tmp_path)
    rc = main(["report", str(directory)])
    _clean_error(rc, capsys, str(directory / "runs.parquet"), f"row 0 {column}: {value!r} is not legal")
    assert _tree(tmp_path) == before


def test_the_report_of_an_untampered_campaign_is_written(campaign_dir: Path) -> None:
    assert main(["report", str(campaign_dir)]) == 0
    assert (campaign_dir / "report" / "report.md").is_file()
