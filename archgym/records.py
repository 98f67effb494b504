"""Evaluation records: an append-only journal while running, Parquet at the end.

One row per evaluation. Per-evaluation fields go to ``journal.jsonl`` (one JSON line each,
flushed as each evaluation completes, so a killed run loses at most the evaluations in flight;
a torn last line is ignored). Run-constant provenance lives once in ``run.json``.
:func:`consolidate` joins both into ``evaluations.parquet`` with the documented schema — the
same schema as an exported proxy-cost dataset:

=================  =====================================================================
column             meaning
=================  =====================================================================
run_id             unique per run
env_id, env_version, env_kwargs (JSON)
agent, agent_params (JSON), seed
step               evaluation index in the run (0-based); ``batch``, ``slot`` its ask/tell batch
eval_seed          the seed the env was reset with
fidelity, backend, feasible, error, eval_time_s, timestamp (UTC)
reward             scalar reward (single-objective or scalarized envs)
reward.<metric>    one column per objective (multi-objective envs), higher-is-better:
                   the metric negated where it is minimised
param.<name>       one column per design parameter (null where inactive)
metric.<name>      one column per metric, raw units
versions (JSON)    package, plugin and simulator versions
=================  =====================================================================
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from archgym.agent import EvalResult
from archgym.spaces import Categorical, DesignSpace, Integer, Ordinal, Real

__all__ = ["JOURNAL", "PARQUET", "RUN_META", "Journal", "RecordLayout", "consolidate", "read_journal"]

JOURNAL = "journal.jsonl"
RUN_META = "run.json"
PARQUET = "evaluations.parquet"

PARAM, METRIC, REWARD = "param.", "metric.", "reward."


@dataclass(frozen=True)
class RecordLayout:
    """Column names and types of a run's records, from its design space, metrics, objectives."""

    design_space: DesignSpace
    metric_names: tuple[str, ...]
    objective_names: tuple[str, ...] | None  # None: scalar reward

    def row(self, *, step: int, batch: int, slot: int, eval_seed: int | None, result: EvalResult,
            timestamp: float) -> dict[str, Any]:
        row: dict[str, Any] = {
            "step": step, "batch": batch, "slot": slot, "eval_seed": eval_seed,
            "fidelity": result.fidelity, "backend": result.backend, "feasible": result.feasible,
            "error": result.error, "eval_time_s": result.eval_time_s, "timestamp": timestamp,
        }
        reward = result.reward
        if self.objective_names is None:
            row["reward"] = _finite_or_none(float(reward))
        else:
            for name, value in zip(self.objective_names, np.asarray(reward).reshape(-1), strict=True):
                row[REWARD + name] = _finite_or_none(float(value))
        for name, value in result.design.items():
            row[PARAM + name] = value
        for name in self.metric_names:
            row[METRIC + name] = _finite_or_none(result.metrics.get(name, math.nan))
        return row

    def arrow_schema(self) -> Any:
        import pyarrow as pa

        fields = [
            ("run_id", pa.string()), ("env_id", pa.string()), ("env_version", pa.int64()),
            ("env_kwargs", pa.string()), ("agent", pa.string()), ("agent_params", pa.string()),
            ("seed", pa.int64()), ("step", pa.int64()), ("batch", pa.int64()), ("slot", pa.int64()),
            ("eval_seed", pa.int64()), ("fidelity", pa.float64()), ("backend", pa.string()),
            ("feasible", pa.bool_()), ("error", pa.string()), ("eval_time_s", pa.float64()),
            ("timestamp", pa.timestamp("us", tz="UTC")),
        ]
        if self.objective_names is None:
            fields.append(("reward", pa.float64()))
        else:
            fields += [(REWARD + n, pa.float64()) for n in self.objective_names]
        fields += [(PARAM + p.name, _arrow_type(p)) for p in self.design_space]
        fields += [(METRIC + m, pa.float64()) for m in self.metric_names]
        fields.append(("versions", pa.string()))
        return pa.schema(fields)


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _arrow_type(param: Any) -> Any:
    import pyarrow as pa

    if isinstance(param, Integer):
        return pa.int64()
    if isinstance(param, Real):
        return pa.float64()
    assert isinstance(param, Categorical | Ordinal)
    kinds = {type(v) for v in param.values_list()}  # one kind per parameter: see spaces
    if kinds == {bool}:
        return pa.bool_()
    if kinds == {int}:
        return pa.int64()
    if kinds <= {int, float}:
        return pa.float64()
    return pa.string()


class Journal:
    """Append-only JSON-lines journal. Each :meth:`append` is one unbuffered ``write`` to the
    OS, so the rows survive the process being killed right after it."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / JOURNAL
        _drop_torn_line(self.path)  # a resumed run appends after whole lines only
        self._file = self.path.open("ab", buffering=0)
        self._encode = json.JSONEncoder(default=_json_default).encode

    def append(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._file.write("".join(self._encode(row) + "\n" for row in rows).encode())

    def close(self) -> None:
        os.fsync(self._file.fileno())
        self._file.close()


def _drop_torn_line(path: Path) -> None:
    """Cut a journal back to its last complete line (a kill can leave half a line)."""
    if not path.exists():
        return
    with path.open("rb+") as fh:
        data = fh.read()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            fh.truncate(end)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {value!r}")


def read_journal(directory: Path) -> list[dict[str, Any]]:  # used to resume
    """All complete rows of a run's journal (a torn last line from a kill is skipped)."""
    return list(_iter_journal(Path(directory) / JOURNAL))


def _iter_journal(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                return  # torn write from a killed run
            yield json.loads(line)


def consolidate(directory: Path) -> Path:
    """Write ``evaluations.parquet`` from ``run.json`` and the journal; works on killed runs.

    The journal is parsed by Arrow's JSON reader against the run's schema (a torn last line is
    cut off first), sorted by step and joined with the run-constant columns.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    directory = Path(directory)
    meta = json.loads((directory / RUN_META).read_text())
    constant = {
        "run_id": meta["run_id"], "env_id": meta["env_id"], "env_version": meta["env_version"],
        "env_kwargs": json.dumps(meta["env_kwargs"], sort_keys=True), "agent": meta["agent"],
        "agent_params": json.dumps(meta["agent_params"], sort_keys=True), "seed": meta["seed"],
        "versions": json.dumps(meta["versions"], sort_keys=True),
    }
    schema = layout_from_meta(meta).arrow_schema()
    per_row = pa.schema([
        pa.field(f.name, pa.float64()) if f.name == "timestamp" else f
        for f in schema if f.name not in constant
    ])
    path = directory / JOURNAL
    data = path.read_bytes() if path.exists() else b""
    data = data[: data.rfind(b"\n") + 1]  # drop a torn last line
    if data:
        options = pajson.ParseOptions(explicit_schema=per_row, unexpected_field_behavior="error")
        table = pajson.read_json(io.BytesIO(data), parse_options=options).sort_by("step")
    else:
        table = per_row.empty_table()
    n = table.num_rows
    micros = pc.cast(pc.round(pc.multiply(table["timestamp"], 1e6)), pa.int64())
    columns = {
        f.name: pa.array([constant[f.name]] * n, f.type) if f.name in constant
        else micros.cast(f.type) if f.name == "timestamp"
        else table[f.name]
        for f in schema
    }
    out = directory / PARQUET
    tmp = out.with_suffix(".parquet.tmp")
    pq.write_table(pa.table(columns, schema=schema), tmp)
    tmp.replace(out)
    return out


def read_card(path: Path, *, card_format: str, kind: str) -> dict[str, Any]:
    """A JSON card (dataset or proxy model) checked for its format tag; errors name the file."""
    try:
        card = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(card, dict) or card.get("format") != card_format:
        found = card.get("format") if isinstance(card, dict) else None
        raise ValueError(f"{path}: not an archgym {kind} card (format {found!r})")
    return card


def layout_to_meta(layout: RecordLayout) -> dict[str, Any]:
    """The layout, as stored in ``run.json`` (parameter definitions included, for dataset cards)."""
    return {
        "parameters": [_describe_param(p) for p in layout.design_space],
        "metrics": list(layout.metric_names),
        "objectives": None if layout.objective_names is None else list(layout.objective_names),
    }


def layout_from_meta(meta: Mapping[str, Any]) -> RecordLayout:
    from archgym.spaces import Condition

    params = []
    for d in meta["layout"]["parameters"]:
        cond = None if d["condition"] is None else Condition(d["condition"][0], d["condition"][1])
        kind = d["type"]
        if kind == "integer":
            params.append(Integer(d["name"], d["low"], d["high"], log=d["log"], condition=cond))
        elif kind == "real":
            params.append(Real(d["name"], d["low"], d["high"], log=d["log"], condition=cond))
        elif kind == "categorical":
            params.append(Categorical(d["name"], d["values"], condition=cond))
        else:
            params.append(Ordinal(d["name"], d["values"], condition=cond))
    objectives = meta["layout"]["objectives"]
    return RecordLayout(
        design_space=DesignSpace(params),
        metric_names=tuple(meta["layout"]["metrics"]),
        objective_names=None if objectives is None else tuple(objectives),
    )


def _describe_param(p: Any) -> dict[str, Any]:
    cond = None if p.condition is None else [p.condition.parent, list(p.condition.values)]
    if isinstance(p, Integer | Real):
        kind = "integer" if isinstance(p, Integer) else "real"
        return {"name": p.name, "type": kind, "low": p.low, "high": p.high, "log": p.log,
                "condition": cond}
    kind = "categorical" if isinstance(p, Categorical) else "ordinal"
    return {"name": p.name, "type": kind, "values": p.values_list(), "condition": cond}
