"""The record schema: the one place that says which columns a record has and how they are typed.

One row per evaluation. Per-evaluation fields go to ``journal.jsonl`` (see
:mod:`archgym.records.journal`); run-constant provenance lives once in ``run.json``;
:func:`archgym.records.consolidate` joins both into ``evaluations.parquet`` with this schema — the
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
constraint.<name>  one column per outcome constraint: its signed violation (<= 0 satisfied)
stat.<name>        one column per free statistic the env declares (computed without the
                   simulator; null in records written before the env declared it)
versions (JSON)    package, plugin and simulator versions
=================  =====================================================================
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from archgym.search import EvalResult
from archgym.spaces import Categorical, Condition, DesignSpace, Integer, Ordinal, Real

__all__ = [
    "COLUMNS",
    "CONSTRAINT",
    "JOURNAL",
    "LOOP_COLUMNS",
    "METRIC",
    "OPTIONAL_COLUMNS",
    "PARAM",
    "PARQUET",
    "REWARD",
    "RUN_CONSTANT_COLUMNS",
    "RUN_META",
    "STAT",
    "RecordLayout",
    "layout_from_meta",
    "layout_to_meta",
    "run_constants",
]

JOURNAL = "journal.jsonl"
RUN_META = "run.json"
PARQUET = "evaluations.parquet"

PARAM, METRIC, REWARD, CONSTRAINT, STAT = "param.", "metric.", "reward.", "constraint.", "stat."

COLUMNS: dict[str, str] = {
    "run_id": "string",
    "env_id": "string",
    "env_version": "int64",
    "env_kwargs": "string",
    "agent": "string",
    "agent_params": "string",
    "seed": "int64",
    "step": "int64",
    "batch": "int64",
    "slot": "int64",
    "worker": "int64",
    "start_s": "float64",
    "finish_s": "float64",
    "eval_seed": "int64",
    "fidelity": "float64",
    "cost": "float64",
    "backend": "string",
    "feasible": "bool",
    "error": "string",
    "eval_time_s": "float64",
    "timestamp": "timestamp",
}
"""The fixed columns, in schema order, with their Arrow types; the reward, ``param.*`` and
``metric.*`` columns follow, then ``versions``."""
RUN_CONSTANT_COLUMNS = (
    "run_id",
    "env_id",
    "env_version",
    "env_kwargs",
    "agent",
    "agent_params",
    "seed",
    "versions",
)
"""Columns that are the same for every row of a run: stored once in ``run.json``."""
JSON_COLUMNS = ("env_kwargs", "agent_params", "versions")
"""Columns holding a mapping, stored as canonical JSON text."""
LOOP_COLUMNS = ("batch", "slot", "worker", "start_s", "finish_s")
"""How the loop scheduled an evaluation — its batch and place in it, the worker that ran it, and
when it started and finished (seconds since the run began, on the real or the simulated clock):
in every run's records, not needed to use a dataset."""
OPTIONAL_COLUMNS = ("worker", "start_s", "finish_s", "cost")
"""Loop columns that records written before they existed lack (read as null)."""


def run_constants(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The run-constant column values, from a ``run.json`` (the JSON columns as canonical text)."""
    return {
        c: json.dumps(meta[c], sort_keys=True) if c in JSON_COLUMNS else meta[c] for c in RUN_CONSTANT_COLUMNS
    }


@dataclass(frozen=True)
class RecordLayout:
    """Column names and types of a run's records, from its design space, metrics, objectives."""

    design_space: DesignSpace
    metric_names: tuple[str, ...]
    objective_names: tuple[str, ...] | None  # None: scalar reward
    constraint_names: tuple[str, ...] = ()  # outcome constraints: a constraint.<name> column each
    statistic_names: tuple[str, ...] = ()  # the env's free statistics: a stat.<name> column each

    @functools.cached_property
    def param_columns(self) -> tuple[tuple[str, str], ...]:
        """(parameter, its column) pairs: reading a row's design costs one lookup per parameter."""
        return tuple((name, PARAM + name) for name in self.design_space.names)

    @functools.cached_property
    def metric_columns(self) -> tuple[tuple[str, str], ...]:
        return tuple((name, METRIC + name) for name in self.metric_names)

    @functools.cached_property
    def constraint_columns(self) -> tuple[tuple[str, str], ...]:
        return tuple((name, CONSTRAINT + name) for name in self.constraint_names)

    @functools.cached_property
    def statistic_columns(self) -> tuple[tuple[str, str], ...]:
        return tuple((name, STAT + name) for name in self.statistic_names)

    def row(
        self,
        *,
        step: int,
        batch: int,
        slot: int,
        eval_seed: int | None,
        result: EvalResult,
        timestamp: float,
        worker: int | None = None,
        start_s: float | None = None,
        finish_s: float | None = None,
        cost: float | None = None,
        statistics: Mapping[str, float] | None = None,
    ) -> dict[str, Any]:
        """One record row; ``statistics``: the design's free statistics (null where not given)."""
        row: dict[str, Any] = {
            "step": step,
            "batch": batch,
            "slot": slot,
            "worker": worker,
            "start_s": start_s,
            "finish_s": finish_s,
            "eval_seed": eval_seed,
            "fidelity": result.fidelity,
            "cost": cost,
            "backend": result.backend,
            "feasible": result.feasible,
            "error": result.error,
            "eval_time_s": result.eval_time_s,
            "timestamp": timestamp,
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
        for name in self.constraint_names:
            row[CONSTRAINT + name] = _finite_or_none(result.constraints.get(name, math.nan))
        for name in self.statistic_names:
            row[STAT + name] = _finite_or_none(float((statistics or {}).get(name, math.nan)))
        return row

    def arrow_schema(self) -> Any:
        import pyarrow as pa

        types = {"timestamp": pa.timestamp("us", tz="UTC"), "bool": pa.bool_()}
        fields = [(name, types.get(kind) or getattr(pa, kind)()) for name, kind in COLUMNS.items()]
        if self.objective_names is None:
            fields.append(("reward", pa.float64()))
        else:
            fields += [(REWARD + n, pa.float64()) for n in self.objective_names]
        fields += [(PARAM + p.name, _arrow_type(p)) for p in self.design_space]
        fields += [(METRIC + m, pa.float64()) for m in self.metric_names]
        fields += [(CONSTRAINT + c, pa.float64()) for c in self.constraint_names]
        fields += [(STAT + s, pa.float64()) for s in self.statistic_names]
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


def layout_to_meta(layout: RecordLayout) -> dict[str, Any]:
    """The layout, as stored in ``run.json`` (parameter definitions included, for dataset cards)."""
    return {
        "parameters": [_describe_param(p) for p in layout.design_space],
        "metrics": list(layout.metric_names),
        "objectives": None if layout.objective_names is None else list(layout.objective_names),
        "constraints": list(layout.constraint_names),
        "statistics": list(layout.statistic_names),
    }


def layout_from_meta(meta: Mapping[str, Any]) -> RecordLayout:
    """The layout a ``run.json`` (or dataset card) stores, rebuilt."""
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
        constraint_names=tuple(meta["layout"].get("constraints") or ()),  # older runs: none
        statistic_names=tuple(meta["layout"].get("statistics") or ()),  # older runs: none
    )


def _describe_param(p: Any) -> dict[str, Any]:
    cond = None if p.condition is None else [p.condition.parent, list(p.condition.values)]
    if isinstance(p, Integer | Real):
        kind = "integer" if isinstance(p, Integer) else "real"
        return {"name": p.name, "type": kind, "low": p.low, "high": p.high, "log": p.log, "condition": cond}
    kind = "categorical" if isinstance(p, Categorical) else "ordinal"
    return {"name": p.name, "type": kind, "values": p.values_list(), "condition": cond}
