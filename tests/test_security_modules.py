"""A file never decides which code runs (house rule 7): an env named ``module:id`` in a run.json
or a campaign file imports its module only when it is archgym's or a plugin's, already imported,
or the caller trusts modules (``ARCHGYM_TRUST_MODULES=1``)."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from archgym.campaign import load_campaign
from archgym.loop import resume, run


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An importable module with a side effect: it writes a file when imported."""
    marker = tmp_path / "imported.txt"
    package = tmp_path / "site"
    package.mkdir()
    (package / "planted_module.py").write_text(
        textwrap.dedent(f"""
        import pathlib
        pathlib.Path({str(marker)!r}).write_text("code ran")
        """)
    )
    monkeypatch.syspath_prepend(str(package))
    monkeypatch.delenv("ARCHGYM_TRUST_MODULES", raising=False)
    sys.modules.pop("planted_module", None)
    return marker


def _run_naming(tmp_path: Path, env: str) -> Path:
    out = tmp_path / "r"
    run(env="archgym/Branin-v0", agent="random", budget=3, seed=0, out=out, progress=False)
    meta = json.loads((out / "run.json").read_text())
    meta["config"]["env"] = env
    (out / "run.json").write_text(json.dumps(meta))
    (out / "summary.json").unlink()
    return out


def test_a_run_json_naming_a_module_imports_nothing(tmp_path: Path, planted: Path) -> None:
    out = _run_naming(tmp_path, "planted_module:archgym/Branin-v0")
    with pytest.raises(ValueError, match=r"run\.json: env 'planted_module:…' would import module"):
        resume(out, progress=False)
    assert not planted.exists()


def test_the_caller_may_trust_modules(tmp_path: Path, planted: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _run_naming(tmp_path, "planted_module:archgym/Branin-v0")
    monkeypatch.setenv("ARCHGYM_TRUST_MODULES", "1")
    assert resume(out, progress=False)["n_evaluations"] == 3
    assert planted.read_text() == "code ran"


def test_a_campaign_file_naming_a_module_imports_nothing(tmp_path: Path, planted: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        'budget = 3\ntuning_seeds = [0]\n[[envs]]\nid = "planted_module:archgym/Branin-v0"\n'
        '[[agents]]\nname = "random"\n'
    )
    with pytest.raises(ValueError, match="would import module 'planted_module', named in a file"):
        load_campaign(path)
    assert not planted.exists()


def test_archgym_and_plugin_modules_named_in_files_still_work(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        'budget = 3\ntuning_seeds = [0]\n[[envs]]\nid = "archgym.testing:archgym-testing/Null-v0"\n'
        '[[envs]]\nid = "archgym_analytic.problems:archgym/Branin-v0"\n[[agents]]\nname = "random"\n'
    )
    assert len(load_campaign(path).envs) == 2
