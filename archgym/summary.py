"""Run summaries: best design, Pareto front and hypervolume, computed from the records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from archgym.agent import Problem
from archgym.records import PARAM, PARQUET, REWARD

__all__ = ["summarize"]


def summarize(out: Path, env: gym.Env[Any, Any], problem: Problem) -> dict[str, Any]:
    """``best_reward``/``best_design`` (single objective: the best feasible evaluation;
    multi-objective: the per-objective best and the Pareto set, with the hypervolume against
    the env's reference point), ``n_evaluations`` and ``n_feasible``."""
    import pyarrow.parquet as pq

    rows = pq.read_table(Path(out) / PARQUET).to_pylist()
    feasible = [r for r in rows if r["feasible"]]
    summary: dict[str, Any] = {"n_evaluations": len(rows), "n_feasible": len(feasible)}
    if problem.n_objectives == 1:
        scored = [r for r in feasible if r["reward"] is not None]
        best = max(scored, key=lambda r: r["reward"], default=None)
        summary["best_reward"] = None if best is None else best["reward"]
        summary["best_design"] = None if best is None else _design(best)
        summary["best_step"] = None if best is None else best["step"]
        return summary
    names = [REWARD + n for n in problem.objective_names]
    scored = [r for r in feasible if all(r[n] is not None for n in names)]
    summary.update(_pareto(scored, names, problem.reference_point))
    return summary


def _pareto(rows: list[dict[str, Any]], names: list[str], reference: np.ndarray | None) -> dict[str, Any]:
    import moocore

    if not rows:
        return {"best_reward": None, "best_design": None, "pareto_front": [], "hypervolume": None}
    points = np.array([[r[n] for n in names] for r in rows], dtype=np.float64)
    mask = moocore.is_nondominated(points, maximise=True, keep_weakly=False)
    front = [{"design": _design(r), "reward": points[i].tolist(), "step": r["step"]}
             for i, r in enumerate(rows) if mask[i]]
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


def _design(row: dict[str, Any]) -> dict[str, Any]:
    return {k[len(PARAM):]: v for k, v in row.items() if k.startswith(PARAM) and v is not None}



