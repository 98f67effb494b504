"""Run summaries: best design, Pareto front and hypervolume, computed from the records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from archgym.records.codec import design_of
from archgym.records.schema import PARQUET, REWARD
from archgym.search import Problem

__all__ = ["summarize"]


def summarize(out: Path, problem: Problem) -> dict[str, Any]:
    """``best_reward``/``best_design`` (single objective: the best feasible evaluation;
    multi-objective: the per-objective best and the Pareto set, with the hypervolume against
    the env's reference point), ``n_evaluations`` and ``n_feasible``.

    Single-objective runs of an env with a fidelity also get ``best_at_full_fidelity`` (reward,
    design, step of the best feasible evaluation at the highest fidelity; None if there is none):
    the best over every fidelity may be a low fidelity's biased value — or a proxy's prediction
    on a backend ladder — which no full evaluation confirmed."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(Path(out) / PARQUET)
    feasible = table.filter(table["feasible"])
    summary: dict[str, Any] = {"n_evaluations": table.num_rows, "n_feasible": feasible.num_rows}
    if problem.n_objectives == 1:
        scored = feasible.filter(pc.is_valid(feasible["reward"]))
        if scored.num_rows == 0:
            return summary | {"best_reward": None, "best_design": None, "best_step": None}
        at = pc.index(scored["reward"], pc.max(scored["reward"])).as_py()
        best = scored.slice(at, 1).to_pylist()[0]
        if problem.fidelity is not None:
            summary["best_at_full_fidelity"] = _best_at(scored, float(problem.fidelity.high))
        return summary | {
            "best_reward": best["reward"],
            "best_design": design_of(best),
            "best_step": best["step"],
        }
    names = [REWARD + n for n in problem.objective_names]
    points = np.column_stack([feasible[n].to_numpy(zero_copy_only=False) for n in names]).astype(np.float64)
    keep = np.all(np.isfinite(points), axis=1)
    rows = feasible.filter(keep).to_pylist() if not keep.all() else None
    return summary | _pareto(feasible if rows is None else None, rows, points[keep], problem.reference_point)


def _best_at(scored: Any, fidelity: float) -> dict[str, Any] | None:
    import pyarrow as pa
    import pyarrow.compute as pc

    values = scored["fidelity"].to_numpy(zero_copy_only=False).astype(np.float64)  # null: NaN
    at_fidelity = scored.filter(pa.array(np.isclose(values, fidelity, rtol=1e-9, atol=0.0)))
    if at_fidelity.num_rows == 0:
        return None
    at = pc.index(at_fidelity["reward"], pc.max(at_fidelity["reward"])).as_py()
    best = at_fidelity.slice(at, 1).to_pylist()[0]
    return {"reward": best["reward"], "design": design_of(best), "step": best["step"]}


def _pareto(
    table: Any, rows: list[dict[str, Any]] | None, points: np.ndarray, reference: np.ndarray | None
) -> dict[str, Any]:
    import moocore

    if len(points) == 0:
        return {"best_reward": None, "best_design": None, "pareto_front": [], "hypervolume": None}
    mask = moocore.is_nondominated(points, maximise=True, keep_weakly=False)
    if rows is None:
        rows = table.filter(mask).to_pylist()
        front_points = points[mask]
    else:
        rows = [r for r, m in zip(rows, mask, strict=True) if m]
        front_points = points[mask]
    front = [
        {"design": design_of(r), "reward": p.tolist(), "step": r["step"]}
        for r, p in zip(rows, front_points, strict=True)
    ]
    hypervolume = None
    if reference is not None:
        inside = points[np.all(points > np.asarray(reference), axis=1)]
        hypervolume = float(moocore.hypervolume(inside, ref=reference, maximise=True)) if len(inside) else 0.0
    return {
        "best_reward": points.max(axis=0).tolist(),  # the ideal point reached: per-objective best
        "best_design": None,  # no single best design with several objectives: see pareto_front
        "pareto_front": front,
        "hypervolume": hypervolume,
        "reference_point": None if reference is None else np.asarray(reference).tolist(),
    }
