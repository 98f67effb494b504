"""The record codec: the one place where an evaluation's step output or a stored record row
becomes the :class:`~archgym.search.EvalResult` agents are told.

The loop (driving and resuming), the interactive recording env, the execution layer, the
MAP-Elites archive rebuild and dataset readers all decode through these functions, so a change to
the record format has one home.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from archgym.records.schema import PARAM, REWARD, RecordLayout
from archgym.search import EvalResult
from archgym.spaces import Design

__all__ = ["design_of", "result_from_row", "result_from_step", "statistics_of"]


def result_from_step(
    design: Design,
    reward: Any,
    info: Mapping[str, Any],
    *,
    fidelity: float | int | None = None,
    eval_time_s: float = 0.0,
) -> EvalResult:
    """An evaluation's result from what ``env.step`` returned. ``fidelity`` and ``eval_time_s``
    stand in where ``info`` lacks them (plain Gymnasium envs report neither). A non-finite reward
    is an infeasible result whatever ``info`` says, with the reason recorded."""
    reward = reward.astype(np.float64, copy=True) if isinstance(reward, np.ndarray) else float(reward)
    feasible, error = bool(info.get("feasible", True)), info.get("error")
    finite = bool(np.all(np.isfinite(reward))) if isinstance(reward, np.ndarray) else math.isfinite(reward)
    if feasible and not finite:  # a plain env's NaN is not a result to fit
        feasible, error = False, f"non-finite reward {reward!r}"
    return EvalResult(
        design=design,
        reward=reward,
        metrics=dict(info.get("metrics", {})),
        feasible=feasible,
        eval_time_s=float(info.get("eval_time_s", eval_time_s)),
        error=error,
        fidelity=info.get("fidelity", fidelity),
        backend=str(info.get("backend", "simulator")),
        constraints={k: float(v) for k, v in info.get("constraints", {}).items()},
    )


def design_of(row: Mapping[str, Any]) -> Design:
    """The design of a record row: its ``param.*`` columns, without the nulls of parameters that
    were inactive (a parameter's legal values never include None)."""
    return {k[len(PARAM) :]: v for k, v in row.items() if k.startswith(PARAM) and v is not None}


def statistics_of(row: Mapping[str, Any], layout: RecordLayout) -> dict[str, float]:
    """The free statistics a record row stores (``stat.*``), NaN where null or absent (records
    written before the env declared them)."""
    return {n: math.nan if (v := row.get(c)) is None else float(v) for n, c in layout.statistic_columns}


def result_from_row(row: Mapping[str, Any], layout: RecordLayout) -> EvalResult:
    """The result a record row (a journal line or a Parquet row) stores; missing or null values
    are NaN, as they were non-finite when recorded."""
    if layout.objective_names is None:
        reward: Any = _nan_if_none(row.get("reward"))
    else:
        reward = np.array([_nan_if_none(row.get(REWARD + n)) for n in layout.objective_names])
    # inline conversions: a resume reads every recorded row through here
    metrics = {m: math.nan if (v := row.get(c)) is None else float(v) for m, c in layout.metric_columns}
    design = {p: v for p, column in layout.param_columns if (v := row.get(column)) is not None}
    constraints = {
        n: math.nan if (v := row.get(c)) is None else float(v) for n, c in layout.constraint_columns
    }
    eval_time_s = row.get("eval_time_s")
    return EvalResult(
        design=design,
        reward=reward,
        metrics=metrics,
        feasible=bool(row["feasible"]),
        eval_time_s=0.0 if eval_time_s is None else float(eval_time_s),
        error=row.get("error"),
        fidelity=row.get("fidelity"),
        backend=row.get("backend") or "simulator",
        constraints=constraints,
    )


def _nan_if_none(value: Any) -> float:
    return math.nan if value is None else float(value)
