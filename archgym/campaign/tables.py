"""A campaign's results as two Parquet tables, so any analysis can be redone from files:
``runs.parquet`` (one row per run) and ``evaluations.parquet`` (every evaluation of every run,
with the run's identity in front)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from archgym.records import PARQUET

if TYPE_CHECKING:
    from archgym.campaign.runs import Campaign, RunSpec

__all__ = ["EVALUATIONS_TABLE", "RUNS_TABLE", "best_so_far", "final_of", "write_tables"]

RUNS_TABLE = "runs.parquet"
EVALUATIONS_TABLE = "evaluations.parquet"


def final_of(summary: Mapping[str, Any]) -> float:
    """One number per run, higher is better: hypervolume for multi-objective envs, else the
    best reward."""
    value = summary.get("hypervolume", summary.get("best_reward"))
    return float(value) if value is not None else math.nan


def best_so_far(rewards: np.ndarray, feasible: np.ndarray) -> np.ndarray:
    """Running maximum of the feasible rewards (NaN until the first feasible evaluation)."""
    values = np.where(feasible & np.isfinite(rewards), rewards, -np.inf)
    running = np.maximum.accumulate(values) if len(values) else values
    return np.where(np.isneginf(running), np.nan, running)


def evaluations_to_targets(curve: np.ndarray, targets: Sequence[float]) -> list[int | None]:
    """For each target, the number of evaluations until the best-so-far first reached it."""
    out: list[int | None] = []
    for target in targets:
        hit = np.flatnonzero(np.nan_to_num(curve, nan=-np.inf) >= target)
        out.append(int(hit[0]) + 1 if len(hit) else None)
    return out


def write_tables(
    out: Path, campaign: Campaign, specs: Sequence[RunSpec], summaries: Mapping[str, Mapping[str, Any]]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from archgym.data import scrub_env_kwargs
    from archgym.loop import stored_kwargs

    targets = {e.name: e.targets for e in campaign.envs}
    rows, tables = [], []
    for spec in specs:
        summary = summaries[spec.key]
        run_dir = out / "runs" / spec.key
        table = scrub_env_kwargs(pq.read_table(run_dir / PARQUET), str(run_dir / PARQUET))
        env_targets = targets.get(spec.env_label, ())
        single = "reward" in table.column_names
        if single:
            curve = best_so_far(
                np.asarray(table["reward"].to_numpy(zero_copy_only=False), dtype=float),
                np.asarray(table["feasible"].to_numpy(zero_copy_only=False), dtype=bool),
            )
            reached = evaluations_to_targets(curve, env_targets)
        else:
            reached = [None] * len(env_targets)
        agent_summary = summary.get("agent_summary") or {}
        where = f"{run_dir / 'summary.json'}"
        rows.append(
            {
                "run_key": spec.key,
                "stage": spec.stage,
                "env": spec.env,
                "env_label": spec.env_label,
                "env_kwargs": json.dumps(stored_kwargs(spec.env_kwargs), sort_keys=True),
                "agent": spec.agent,
                "setting": spec.setting,
                "agent_params": json.dumps(spec.agent_params, sort_keys=True),
                "seed": spec.seed,
                "budget": spec.budget,
                "final": final_of(summary),
                "best_reward": _float(summary.get("best_reward"), f"{where}: best_reward"),
                "hypervolume": _float(summary.get("hypervolume"), f"{where}: hypervolume"),
                "optimal_reward": _float(summary.get("optimal_reward"), f"{where}: optimal_reward"),
                "reference_front_hypervolume": _float(
                    summary.get("reference_front_hypervolume"), f"{where}: reference_front_hypervolume"
                ),
                "qd_score": _float(agent_summary.get("qd_score"), f"{where}: agent_summary.qd_score"),
                "n_evaluations": summary.get("n_evaluations"),
                "n_feasible": summary.get("n_feasible"),
                "wall_time_s": summary.get("wall_time_s"),
                "targets": list(env_targets),
                "evaluations_to_target": reached,
                "run_dir": str(Path("runs") / spec.key),
            }
        )
        # the records already carry run_id, env_id, agent, agent_params and seed
        ident = {
            "run_key": spec.key,
            "stage": spec.stage,
            "env_label": spec.env_label,
            "setting": spec.setting,
        }
        for i, (name, value) in enumerate(ident.items()):
            table = table.add_column(i, name, pa.array([value] * table.num_rows))
        tables.append(table.replace_schema_metadata(None))
    pq.write_table(pa.Table.from_pylist(rows), out / RUNS_TABLE)
    pq.write_table(_concat(tables), out / EVALUATIONS_TABLE)


def _concat(tables: list[Any]) -> Any:
    """One table from the runs' records: columns merged by name (null where a run lacks one); a
    column two envs type differently (an int parameter here, a string one there) becomes text."""
    import pyarrow as pa

    types: dict[str, set[Any]] = {}
    for table in tables:
        for field in table.schema:
            if not pa.types.is_null(field.type):
                types.setdefault(field.name, set()).add(field.type)
    clash = {name for name, kinds in types.items() if len(kinds) > 1}
    if clash:
        as_text = [
            pa.schema([pa.field(f.name, pa.string()) if f.name in clash else f for f in t.schema])
            for t in tables
        ]
        tables = [t.cast(schema) for t, schema in zip(tables, as_text, strict=True)]
    return pa.concat_tables(tables, promote_options="permissive")


def _float(value: Any, what: str) -> float:
    """A number of a run's summary; NaN for None and for a vector (a multi-objective run's best
    reward per objective: the table's column holds scalars); anything else is an error naming it."""
    if value is None or isinstance(value, list | tuple):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: {value!r} is not a number") from None
