"""Numbers and paths are validated where they enter (issue #20): every numeric or path option of every
subcommand, found by walking the CLI's parser, is either accepted or refused with one clean line on
stderr, a non-zero exit and nothing written; RunConfig applies the same checks to code callers."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import pytest

from archgym import cli, loop
from archgym.env import parse_scalarize
from archgym.execution.evaluation import resolve_spec
from archgym.loop import RunConfig

BAD_VALUES = ["nan", "inf", "-inf", "-1", "0", str(10**30), ""]
PATH_WORDS = ("out", "resume", "dir", "file", "path", "model", "dataset", "campaign", "directory", "input")

# A valid invocation per subcommand, OPTION values swapped in by the walk. run and dataset
# export/collect are real (tiny) runs; bench, report and proxy train name inputs that don't exist,
# so a value their parser accepts ends in a one-line "not found" error instead of a slow campaign
# or model fit (their own tests cover those).
BASES: dict[tuple[str, ...], list[str]] = {
    ("run",): [
        "--env=archgym/Branin-v0",
        "--agent=random",
        "--budget=3",
        "--seed=0",
        "--out=OUT/run",
        "--no-progress",
    ],
    ("dataset", "export"): ["RUNDIR", "--out=OUT/data.csv"],
    ("dataset", "collect"): ["--env=archgym/Branin-v0", "--n=3", "--out=OUT/collect", "--no-progress"],
    ("bench",): ["OUT/missing.toml", "--out=OUT/bench", "--no-progress"],
    ("report",): ["OUT/missing-campaign"],
    ("show",): ["OUT/missing-run"],
    ("compare",): ["OUT/missing-run", "--out=OUT/cmp"],
    ("proxy", "train"): ["OUT/missing.parquet", "--target=y", "--out=OUT/model.joblib"],
    ("export-optuna",): ["RUNDIR", "--storage=OUT/journal.log"],
    ("proxy", "curve"): ["OUT/missing.parquet", "--target=y", "--plot=OUT/curve.png"],
}


def _subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    found: dict[tuple[str, ...], Any] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(_subcommands(sub, (*path, name)))
    if not found and path:
        found[path] = parser
    return found


def _checked_options() -> list[tuple[tuple[str, ...], argparse.Action, str]]:
    """(subcommand, option, kind) for every numeric or path-like option: found automatically."""
    cases = []
    for path, parser in _subcommands(cli.build_parser()).items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction) or action.nargs == 0:
                continue
            kind = getattr(action.type, "kind", None)
            if action.type in (int, float):
                kind = action.type.__name__
            names = " ".join([action.dest, str(action.metavar or "")]).lower()
            if kind is None and any(word in names for word in PATH_WORDS):
                kind = "path"
            if kind is not None:
                cases.append((path, action, kind))
    return cases


CASES = _checked_options()


def test_the_walk_finds_the_options() -> None:
    found = {(p, a.option_strings[-1] if a.option_strings else a.dest) for p, a, _ in CASES}
    for expected in [
        (("run",), "--budget"),
        (("run",), "--seed"),
        (("run",), "--workers"),
        (("run",), "--timeout"),
        (("run",), "--cost-budget"),
        (("run",), "--out"),
        (("run",), "--resume"),
        (("dataset", "collect"), "--n"),
        (("bench",), "--workers"),
        (("proxy", "train"), "--test-fraction"),
        (("proxy", "train"), "--max-predict-ms"),
        (("proxy", "train"), "--pretrain"),
        (("report",), "directory"),
    ]:
        assert expected in found
    assert {p for p, _, _ in CASES} <= set(BASES), "a new subcommand needs a base command here"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("base") / "run"
    loop.run(env="archgym/Branin-v0", agent="random", budget=3, seed=0, out=out, progress=False)
    return out


def _argv(path: tuple[str, ...], action: argparse.Action, value: str, tmp: Path, run_dir: Path) -> list[str]:
    base = [a.replace("OUT", str(tmp)).replace("RUNDIR", str(run_dir)) for a in BASES[path]]
    if action.option_strings:
        flags = set(action.option_strings)
        base = [a for a in base if a.split("=", 1)[0] not in flags]
        if action.dest == "resume":  # --resume takes the place of the run's other options
            base = ["--no-progress"]
        return [*path, *base, f"{action.option_strings[-1]}={value}"]
    options = [a for a in base if a.startswith("-")]
    positionals = [a for a in base if not a.startswith("-")]
    names = [a.dest for a in _subcommands(cli.build_parser())[path]._actions if not a.option_strings]
    positionals[names.index(action.dest)] = value
    return [*path, *options, "--", *positionals]  # "--": a value such as "-1" is not read as an option


@pytest.mark.parametrize("value", BAD_VALUES, ids=lambda v: v or "empty")
@pytest.mark.parametrize(
    "path, action, kind",
    CASES,
    ids=[f"{' '.join(p)} {a.option_strings[-1] if a.option_strings else a.dest}" for p, a, _ in CASES],
)
def test_every_number_and_path_is_accepted_or_refused_in_one_line(
    path: tuple[str, ...],
    action: argparse.Action,
    kind: str,
    value: str,
    tmp_path: Path,
    run_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # a path value such as "nan" lands here
    argv = _argv(path, action, value, tmp_path, run_dir)
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse refuses usage mistakes by exiting
        code = exc.code if isinstance(exc.code, int) else 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code == 0:
        return
    assert len(err.strip().splitlines()) == 1, err
    try:
        if callable(action.type):
            action.type(value)
    except (argparse.ArgumentTypeError, ValueError):  # refused where it enters: names option, legal values
        name = action.option_strings[-1] if action.option_strings else (action.metavar or action.dest)
        assert str(name) in err and "legal values" in err, err
    if kind != "path" and path == ("run",):
        assert not list(tmp_path.rglob("run.json")), "a refused value must write nothing"


@pytest.mark.parametrize(
    "extra",
    [
        ["--timeout=nan"],
        ["--timeout=inf"],
        ["--cost-budget=nan"],
        ["--seed=100000000000000000000000"],
        ["--scalarize=weighted:nan,1"],
        ["--scalarize=weighted:0,0"],
        ["--env=nomod:x/Y-v0"],
        ["--dask=tcp://127.0.0.1:1"],
        ["--out="],
    ],
    ids=lambda e: e[0],
)
def test_issue_inputs_are_one_line_errors(
    extra: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["run", *BASES[("run",)], *extra]
    argv = [a.replace("OUT", str(tmp_path)) for a in argv]
    flags = [e.split("=", 1)[0] for e in extra]
    argv = ["run", *[a for a in argv[1:] if a.split("=", 1)[0] not in flags], *extra]
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert flags[0].lstrip("-") in err or "--" + flags[0].lstrip("-") in err, err
    assert not list(tmp_path.rglob("*.json")) and not list(tmp_path.rglob("*.jsonl"))


# --- code callers: RunConfig, parse_scalarize, resolve_spec -----------------------------------------
GOOD = {"env": "archgym/Branin-v0", "agent": "random", "budget": 3, "seed": 0}


@pytest.mark.parametrize(
    "field, value",
    [
        ("budget", 0),
        ("budget", -1),
        ("budget", 2.5),
        ("budget", 3.0),
        ("budget", True),
        ("budget", 10**10),
        ("budget", "3"),
        ("seed", -1),
        ("seed", 2**32),
        ("seed", 10**23),
        ("seed", 1.0),
        ("seed", math.nan),
        ("workers", 0),
        ("workers", 1025),
        ("workers", 2.0),
        ("timeout", math.nan),
        ("timeout", math.inf),
        ("timeout", -math.inf),
        ("timeout", 0),
        ("timeout", -1.0),
        ("timeout", 1e30),
        ("timeout", "5"),
        ("cost_budget", math.nan),
        ("cost_budget", math.inf),
        ("cost_budget", 0.0),
        ("cost_budget", -2),
        ("scalarize", "weighted:nan,1"),
        ("scalarize", "chebyshev:inf,1"),
        ("scalarize", "weighted:0,0"),
        ("scalarize", "weighted:-1,2"),
        ("env", ""),
        ("agent", None),
    ],
)
def test_run_config_refuses_illegal_values(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field.replace("_", ".") if field != "scalarize" else "scalarize"):
        RunConfig(**{**GOOD, field: value})


def test_run_config_accepts_legal_values_and_normalises_integers() -> None:
    import numpy as np

    config = RunConfig(
        **{**GOOD, "seed": np.int64(2**32 - 1), "budget": 10**9, "workers": 1024, "timeout": 2}
    )
    assert type(config.seed) is int and config.seed == 2**32 - 1
    assert config.timeout == 2.0 and isinstance(config.timeout, float)
    RunConfig(**{**GOOD, "cost_budget": 0.5, "scalarize": "weighted:0,1"})


def test_loop_run_refuses_before_writing(tmp_path: Path) -> None:
    for bad in ({"seed": 10**23}, {"timeout": math.inf}, {"scalarize": "weighted:nan,1"}):
        with pytest.raises(ValueError):
            loop.run(**{**GOOD, **bad}, out=tmp_path / "x", progress=False)  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()


def test_resume_of_a_corrupt_run_json_is_a_value_error(run_dir: Path, tmp_path: Path) -> None:
    import json
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    meta = json.loads((copy / "run.json").read_text())
    meta["config"]["seed"] = 10**23
    (copy / "run.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="seed"):
        loop.resume(copy, progress=False)


def test_parse_scalarize_and_resolve_spec() -> None:
    assert parse_scalarize("weighted:0.5,0.5") == {"method": "weighted", "weights": [0.5, 0.5]}
    for text in ("weighted:nan,1", "weighted:inf,1", "chebyshev:0,0"):
        with pytest.raises(ValueError, match="--scalarize"):
            parse_scalarize(text)
    with pytest.raises(ValueError, match="'nomod'"):
        resolve_spec("nomod:x/Y-v0")
