"""Proxy-cost datasets: export logged evaluations into one file with a card, and read them back.

``archgym dataset export RUN_DIR… -o FILE`` merges the records of many runs (killed ones too:
their journals are consolidated first with :func:`archgym.records.consolidate`) into one file with
the records schema (docs/running.md), plus a dataset card (``FILE.card.json`` / ``FILE.card.md``).

Collecting space-filling samples lives in :mod:`archgym.data.sampling`.

Heavy libraries (pyarrow, scipy) are imported inside functions: ``import archgym`` stays light.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archgym.loop import FreeStatistics, hold_directory, meta_from_file, simulator_kwargs, stored_kwargs
from archgym.records import (
    COLUMNS,
    JOURNAL,
    LOOP_COLUMNS,
    METRIC,
    PARAM,
    PARQUET,
    RUN_META,
    STAT,
    consolidate,
    design_of,
    layout_from_meta,
    read_card,
)
from archgym.records.files import parquet_rows
from archgym.records.journal import count_journal_rows

__all__ = [
    "CARD_FORMAT",
    "REQUIRED_COLUMNS",
    "add_statistics",
    "card_paths",
    "export",
    "load_dataset",
    "metric_units",
    "scrub_env_kwargs",
]

CARD_FORMAT = "archgym-dataset"
REQUIRED_COLUMNS = tuple(c for c in (*COLUMNS, "versions") if c not in LOOP_COLUMNS)


def card_paths(path: str | Path) -> tuple[Path, Path]:
    """``FILE.card.json`` and ``FILE.card.md`` beside a dataset file."""
    path = Path(path)
    return path.with_suffix(".card.json"), path.with_suffix(".card.md")


# --- reading -----------------------------------------------------------------------------------
def _read_table(path: Path, layout_meta: Mapping[str, Any] | None = None) -> Any:
    """A Parquet or CSV file as an Arrow table; any failure is a ValueError naming the file."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        if path.suffix == ".csv":
            types = {}
            if layout_meta is not None:
                schema = layout_from_meta({"layout": layout_meta}).arrow_schema()
                types = {f.name: f.type for f in schema}
            return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        kind = "CSV" if path.suffix == ".csv" else "Parquet"
        raise ValueError(f"{path}: not a readable {kind} file ({type(exc).__name__}: {exc})") from None


def _check_columns(path: Path, table: Any, layout_meta: Mapping[str, Any]) -> None:
    names = set(table.column_names)
    wanted = list(REQUIRED_COLUMNS)
    wanted += [PARAM + p["name"] for p in layout_meta["parameters"]]
    wanted += [METRIC + m for m in layout_meta["metrics"]]
    missing = [c for c in wanted if c not in names]
    if missing:
        raise ValueError(
            f"{path}: not an archgym records/dataset file for its declared env: missing column(s) "
            f"{missing[:8]}{' …' if len(missing) > 8 else ''} (has {sorted(names)[:8]}…)"
        )


CARD_KEYS = ("env_id", "env_version", "env_kwargs", "layout")
RUN_KEYS = (*CARD_KEYS, "run_id", "agent", "agent_params", "seed")


def _require(meta: Any, keys: Sequence[str], source: Path) -> None:
    if not isinstance(meta, Mapping):
        raise ValueError(f"{source}: not a JSON object")
    missing = [k for k in keys if k not in meta]
    if missing:
        raise ValueError(f"{source}: lacks {missing}: not written by archgym")
    layout = meta["layout"]
    if not isinstance(layout, Mapping) or not {"parameters", "metrics", "objectives"} <= set(layout):
        raise ValueError(f"{source}: layout lacks parameters/metrics/objectives: not written by archgym")


def _source_meta(path: Path) -> tuple[Path, dict[str, Any], str]:
    """(records file, run.json or dataset card, kind) for a run dir, its Parquet or a dataset.

    The metadata's env kwargs never grant trust: caller-only options (``trust_model``) are
    dropped with a warning naming the file (:func:`archgym.loop.meta_from_file`)."""
    if path.is_dir():
        meta_path = path / RUN_META
        if not meta_path.exists():
            raise ValueError(f"{path}: not a run directory ({RUN_META} missing)")
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{meta_path}: not valid JSON ({exc})") from None
        _require(meta, RUN_KEYS, meta_path)
        meta, _ = meta_from_file(meta, str(meta_path))
        parquet = path / PARQUET
        if _behind(path):  # a killed run: (re)build its Parquet, as its one writer
            with hold_directory(path):  # a live run refuses this, naming its PID
                _catch_up(path)
        return parquet, meta, "run"
    if not path.exists():
        raise ValueError(f"{path}: no such file or run directory")
    if path.name == PARQUET and (path.parent / RUN_META).exists():
        return _source_meta(path.parent)
    card = card_paths(path)[0]
    if not card.exists():
        raise ValueError(
            f"{path}: no dataset card ({card.name}) or {RUN_META} beside it, so its parameter "
            "definitions are unknown"
        )
    meta = read_card(card, card_format=CARD_FORMAT, kind="dataset")
    _require(meta, CARD_KEYS, card)
    meta, _ = meta_from_file(meta, str(card))
    return path, meta, "dataset"


def _behind(run_dir: Path) -> bool:
    """Whether the run's Parquet is missing or older than its journal (a killed or live run)."""
    parquet, journal = run_dir / PARQUET, run_dir / JOURNAL
    if not parquet.exists():
        return True
    return journal.exists() and journal.stat().st_mtime > parquet.stat().st_mtime


def _catch_up(run_dir: Path) -> None:
    """Consolidate a run whose journal went on after its Parquet; never replace records with
    fewer (a truncated journal leaves the Parquet as it is, with a warning)."""
    parquet, journal = run_dir / PARQUET, run_dir / JOURNAL
    if not parquet.exists():
        consolidate(run_dir)
        return
    held, logged = parquet_rows(parquet), count_journal_rows(run_dir)
    if held is None or logged > held:
        consolidate(run_dir)
    elif logged < held:
        warnings.warn(
            f"{journal} holds {logged} rows, fewer than the {held} of {parquet} (truncated?): "
            "exporting the Parquet, left as it is",
            stacklevel=3,
        )


def load_dataset(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """Records of a run dir, its ``evaluations.parquet`` or an exported dataset, with the run.json
    or dataset card describing them (``env_id``, ``env_kwargs``, ``layout``, …)."""
    records, meta, _ = _source_meta(Path(path))
    table = _read_table(records, meta["layout"])
    _check_columns(records, table, meta["layout"])
    return table, meta


# --- export ------------------------------------------------------------------------------------
def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


def metric_units(
    env_id: str, env_kwargs: Mapping[str, Any], *, source: str = "stored env kwargs"
) -> dict[str, str] | None:
    """Metric units from the env itself, for records that don't store them (runs written before
    ``run.json`` kept ``metric_units``). The env is built on its own simulator — a stored backend
    and its options (a model path, trust) are left out — so reading records never loads a model,
    whatever trust is given. An env that can't be built here is reported (a warning naming
    ``source`` and the error) and the units are None ("unknown" in the card)."""
    import gymnasium as gym

    try:
        env = gym.make(env_id, **simulator_kwargs(env_kwargs))
    except Exception as exc:  # plugin not installed here, kwargs it no longer takes, …: reported
        warnings.warn(
            f"{source}: metric units unknown: env {env_id} can't be built here to read them "
            f"({type(exc).__name__}: {exc})",
            UserWarning,
            stacklevel=2,
        )
        return None
    try:
        return dict(getattr(env.unwrapped, "metric_units", {})) or None
    finally:
        env.close()


def _stored_units(meta: Mapping[str, Any]) -> dict[str, str] | None:
    """The units a run.json (``metric_units``) or a dataset card stores, if it knows them all."""
    units = meta.get("metric_units")
    if not isinstance(units, Mapping):
        return None
    known = {m: units.get(m) for m in meta["layout"]["metrics"]}
    if any(not isinstance(u, str) or u == "unknown" for u in known.values()):
        return None
    return known


def env_statistics(env_id: str, env_kwargs: Mapping[str, Any]) -> Any:
    """The env (built on its own simulator, never loading a model) whose :meth:`statistics`
    give a dataset's free statistics; None where it can't be built here."""
    import gymnasium as gym

    try:
        return gym.make(env_id, **simulator_kwargs(env_kwargs)).unwrapped
    except Exception:  # plugin not installed here, kwargs it no longer takes: no statistics
        return None


def add_statistics(
    table: Any, env_id: str, env_kwargs: Mapping[str, Any], *, source: str = "records"
) -> tuple[Any, dict[str, Any]]:
    """``table`` with a ``stat.<name>`` column per free statistic the env declares, and
    ``{"names": …, "estimates": …}``. What the records hold is kept (the loop records each
    design's statistics as it runs); only rows lacking some — records written before runs
    carried them, or before the env declared them — get them computed from their design (they
    are deterministic and cheap), by the same :class:`~archgym.loop.FreeStatistics` the loop
    uses. An env that can't be built here keeps the columns the records hold, with a warning
    naming ``source``."""
    import pyarrow as pa

    held = [c[len(STAT) :] for c in table.column_names if c.startswith(STAT)]
    env = env_statistics(env_id, env_kwargs)
    if env is None:
        if env_id:
            warnings.warn(
                f"{source}: env {env_id} can't be built here: free statistics not computed "
                f"(kept the {len(held)} the records hold)",
                UserWarning,
                stacklevel=2,
            )
        return table, {"names": held, "estimates": {}}
    names = list(env.statistic_names)
    compute = FreeStatistics(env, names, source)
    empty = [None] * table.num_rows
    values = {n: _finite(table[STAT + n].to_pylist()) if n in held else list(empty) for n in names}
    lacking = [i for i in range(table.num_rows) if any(values[n][i] is None for n in names)]
    params = table.select([c for c in table.column_names if c.startswith(PARAM)])
    rows = params.take(pa.array(lacking, pa.int64())).to_pylist()
    for i, row in zip(lacking, rows, strict=True):
        design = design_of(row)
        try:
            design = env.design_space.validate(design) if design else None
        except ValueError:  # a design the space refuses (a forbidden combination): no statistics
            design = None
        stats = _finite(compute(design)) if design is not None else {}
        for n in names:
            if values[n][i] is None:
                values[n][i] = stats.get(n)
    for n in names:
        column = pa.array(values[n], pa.float64())
        if STAT + n in table.column_names:
            table = table.set_column(table.column_names.index(STAT + n), STAT + n, column)
        else:
            table = table.append_column(STAT + n, column)
    env.close()
    return table, {"names": names, "estimates": dict(env.statistic_estimates)}


def _finite(values: Any) -> Any:
    """``values`` (a list, or a mapping's values) with None for anything not a finite number."""
    if isinstance(values, Mapping):
        return {k: v for k, v in zip(values, _finite(list(values.values())), strict=True)}
    return [None if v is None or not math.isfinite(float(v)) else float(v) for v in values]


def scrub_env_kwargs(table: Any, source: str = "records") -> Any:
    """``table`` with its ``env_kwargs`` column (canonical JSON text) stripped of caller-only
    options, so records copied from files never carry trust on (see :func:`_source_meta`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if "env_kwargs" not in table.column_names or not table.num_rows:
        return table
    column = table["env_kwargs"]
    mapping = {}
    for text in pc.unique(column).to_pylist():
        try:
            value = None if text is None else json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source}: env_kwargs column: {text!r} is not JSON ({exc})") from None
        if isinstance(value, Mapping):
            clean = json.dumps(stored_kwargs(value), sort_keys=True)
            if clean != text:
                mapping[text] = clean
    if not mapping:
        return table
    values = [mapping.get(v, v) for v in column.to_pylist()]
    index = table.column_names.index("env_kwargs")
    return table.set_column(index, table.field(index), pa.array(values, column.type))


def export(inputs: Sequence[str | Path], out: str | Path) -> dict[str, Any]:
    """Merge the records of ``inputs`` (run dirs, their Parquet files or exported datasets) into
    ``out`` (``.parquet`` or ``.csv``) and write its card. Returns the card.

    Every input must be the same problem (env id, version, kwargs, parameter definitions): a
    dataset mixes runs, never problems.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = Path(out)
    if out.suffix not in (".parquet", ".csv"):
        raise ValueError(f"-o {out}: legal suffixes are .parquet and .csv")
    if not inputs:
        raise ValueError("export needs at least one run directory or dataset")
    tables, runs, first = [], [], None
    first_meta: Mapping[str, Any] = {}
    first_source = Path()
    versions: dict[str, set[str]] = {}
    for raw in inputs:
        path = Path(raw)
        records, meta, kind = _source_meta(path)
        table = _read_table(records, meta["layout"])
        _check_columns(records, table, meta["layout"])
        source = records.parent / RUN_META if kind == "run" else card_paths(records)[0]
        table = scrub_env_kwargs(table, str(records))
        problem = {
            "env_id": meta["env_id"],
            "env_version": meta["env_version"],
            "env_kwargs": meta["env_kwargs"],
            # the statistics are recomputed below: records with and without them are one problem
            "layout": {k: v for k, v in meta["layout"].items() if k != "statistics"},
        }
        if first is None:
            first, first_meta, first_source = problem, meta, source
        else:
            for key in problem:
                if _canonical(problem[key]) != _canonical(first[key]):
                    raise ValueError(
                        f"{path}: {key} {problem[key]!r} differs from the first input's "
                        f"{first[key]!r}; a dataset holds one problem"
                    )
        foreign = pc.unique(table["env_id"]).to_pylist()
        if foreign and foreign != [meta["env_id"]]:
            raise ValueError(f"{records}: rows of env(s) {foreign}, but its metadata says {meta['env_id']}")
        tables.append(table)
        if kind == "run":
            runs.append(_run_provenance(path, meta, table))
        else:
            runs += meta.get("runs", [])
        for row_versions in pc.unique(table["versions"]).to_pylist():
            for key, value in json.loads(row_versions or "{}").items():
                versions.setdefault(key, set()).add(str(value))
    assert first is not None
    units = _stored_units(first_meta) or metric_units(
        first["env_id"], first["env_kwargs"], source=str(first_source)
    )
    merged = pa.concat_tables(tables, promote_options="default")
    merged, statistics = add_statistics(
        merged, first["env_id"], first["env_kwargs"], source=str(first_source)
    )
    first = {**first, "layout": {**first["layout"], "statistics": list(statistics["names"])}}
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        pacsv.write_csv(merged, out)
    else:
        pq.write_table(merged, out)
    card = _card(out, first, merged, runs, versions, units)
    card["statistic_estimates"] = statistics["estimates"]
    json_path, md_path = card_paths(out)
    json_path.write_text(json.dumps(card, indent=2, default=str))
    md_path.write_text(_card_markdown(card))
    return card


def _run_provenance(path: Path, meta: Mapping[str, Any], table: Any) -> dict[str, Any]:
    import pyarrow.compute as pc

    stamps = table["timestamp"]
    first = pc.min(stamps).as_py() if table.num_rows else None
    last = pc.max(stamps).as_py() if table.num_rows else None
    budget = meta.get("config", {}).get("budget")
    return {
        "run_id": meta["run_id"],
        "dir": str(path),
        "agent": meta["agent"],
        "agent_params": meta["agent_params"],
        "seed": meta["seed"],
        "rows": table.num_rows,
        "feasible": int(pc.sum(table["feasible"]).as_py() or 0),
        "budget": budget,
        "complete": budget is not None and table.num_rows >= budget,
        "started": _iso(meta.get("started")),
        "first_evaluation": None if first is None else first.isoformat(),
        "last_evaluation": None if last is None else last.isoformat(),
    }


def _card(
    out: Path,
    problem: Mapping[str, Any],
    table: Any,
    runs: list[dict[str, Any]],
    versions: Mapping[str, set[str]],
    units: Mapping[str, str] | None,
) -> dict[str, Any]:
    import pyarrow.compute as pc

    n = table.num_rows
    feasible = int(pc.sum(table["feasible"]).as_py() or 0)
    counts = pc.value_counts(table["backend"])
    backends = {
        str(k): int(v) for k, v in zip(counts.field(0).to_pylist(), counts.field(1).to_pylist(), strict=True)
    }
    stamps = [r["first_evaluation"] for r in runs if r.get("first_evaluation")]
    stamps += [r["last_evaluation"] for r in runs if r.get("last_evaluation")]
    return {
        "format": CARD_FORMAT,
        "card_version": 1,
        "file": out.name,
        "sha256": _sha256(out),
        "created": datetime.now(UTC).isoformat(),
        "env_id": problem["env_id"],
        "env_version": problem["env_version"],
        "env_kwargs": problem["env_kwargs"],
        "layout": problem["layout"],
        "parameters": problem["layout"]["parameters"],
        "metric_units": {m: (units or {}).get(m, "unknown") for m in problem["layout"]["metrics"]},
        "versions": {k: sorted(v) for k, v in sorted(versions.items())},
        "rows": n,
        "feasible_rows": feasible,
        "feasibility_rate": feasible / n if n else None,
        "backends": backends,
        "agents": sorted({r["agent"] for r in runs}),
        "seeds": sorted({r["seed"] for r in runs}),
        "dates": {"first": min(stamps, default=None), "last": max(stamps, default=None)},
        "runs": runs,
    }


def _card_markdown(card: Mapping[str, Any]) -> str:
    versions = ", ".join(k + " " + "/".join(v) for k, v in card["versions"].items())
    rate = card["feasibility_rate"]
    rate_text = "n/a" if rate is None else f"{rate:.3f}"
    lines = [
        f"# Dataset card: {card['file']}",
        "",
        f"- env: `{card['env_id']}` v{card['env_version']}, kwargs `{_canonical(card['env_kwargs'])}`",
        f"- versions: {versions}",
        f"- rows: {card['rows']} ({card['feasible_rows']} feasible, rate {rate_text}); "
        f"backends: {card['backends']}",
        f"- agents: {', '.join(card['agents'])}; seeds: {card['seeds']}",
        f"- dates: {card['dates']['first']} to {card['dates']['last']}",
        f"- sha256: `{card['sha256']}`",
        "",
        "## Parameters",
        "",
        "| name | type | domain | condition |",
        "| --- | --- | --- | --- |",
    ]
    for p in card["parameters"]:
        log = " log" if p.get("log") else ""
        domain = p.get("values") if "values" in p else f"[{p['low']}, {p['high']}]{log}"
        lines.append(f"| {p['name']} | {p['type']} | {domain} | {p['condition'] or ''} |")
    lines += ["", "## Metrics", "", "| column | unit |", "| --- | --- |"]
    lines += [f"| metric.{m} | {u} |" for m, u in card["metric_units"].items()]
    stats = card["layout"].get("statistics") or []
    if stats:
        lines += ["", "## Free statistics (computed from the design, no simulator call)", ""]
        lines += [f"- stat.{n}" for n in stats]
    lines += [
        "",
        "## Runs",
        "",
        "| run_id | agent | seed | rows | feasible | complete | started |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r['run_id']} | {r['agent']} | {r['seed']} | {r['rows']} | {r['feasible']} | "
        f"{r['complete']} | {r['started']} |"
        for r in card["runs"]
    ]
    return "\n".join(lines) + "\n"


# --- collect -----------------------------------------------------------------------------------
