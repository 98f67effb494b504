"""Proxy-to-truth checks: a campaign on a proxy backend re-evaluates each run's best design on
the real backend, so a comparison of agents made on the proxy can be checked against the truth.

An ``[[envs]]`` entry with ``validate_on = "simulator"`` (or any registered backend) has, after
its runs, every run's best design evaluated there through the backend seam
(:meth:`archgym.env.DesignEnv.evaluate_on`) on the env built on its own simulator — no proxy
model is loaded for it. The results go to ``validation.parquet`` (one row per run; runs already
validated are not evaluated again, so a resumed campaign repeats nothing), and ``archgym report``
shows, per run, the proxy's value beside the real one and the regret gap, and, per env, Kendall's
τ between the agents' ranking on the proxy and on the truth.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archgym.campaign.runs import Campaign, RunSpec

__all__ = ["VALIDATION_TABLE", "agreement", "kwargs_backend", "validate_runs", "validation_backends"]

VALIDATION_TABLE = "validation.parquet"


def validation_backends() -> list[str]:
    """Backends a campaign may validate on: the simulator and every registered one."""
    from archgym.env import SIMULATOR, backend_specs

    return [SIMULATOR, *backend_specs()]


def kwargs_backend(kwargs: Mapping[str, Any]) -> str:
    """The backend env kwargs select (``"simulator"`` where they name none)."""
    backend = kwargs.get("backend", "simulator") if isinstance(kwargs, Mapping) else "simulator"
    return backend if isinstance(backend, str) else "ladder"


def validate_runs(
    out: Path, campaign: Campaign, specs: Sequence[RunSpec], summaries: Mapping[str, Mapping[str, Any]]
) -> int:
    """Re-evaluate the best design of every single-objective run whose env declares
    ``validate_on``; append the results to ``out/validation.parquet``. Returns the rows held."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    targets = {e.name: e.validate_on for e in campaign.envs if e.validate_on}
    if not targets:
        return 0
    path = out / VALIDATION_TABLE
    rows = pq.read_table(path).to_pylist() if path.exists() else []
    done = {r["run_key"] for r in rows}
    envs: dict[str, Any] = {}
    try:
        for spec in specs:
            backend = targets.get(spec.env_label)
            summary = summaries[spec.key]
            design = summary.get("best_design")
            if not backend or spec.key in done or not isinstance(design, Mapping):
                continue
            proxy = summary.get("best_reward")
            if not isinstance(proxy, int | float):  # multi-objective runs: no scalar to check
                continue
            if spec.env_label not in envs:
                envs[spec.env_label] = _env_on_simulator(spec.env, spec.env_kwargs)
            rows.append(_validate(envs[spec.env_label], spec, dict(design), float(proxy), backend))
    finally:
        for env in envs.values():
            env.close()
    if rows:
        pq.write_table(pa.Table.from_pylist(rows), path)
    return len(rows)


def _env_on_simulator(env_id: str, kwargs: Mapping[str, Any]) -> Any:
    import gymnasium as gym

    from archgym.loop import simulator_kwargs

    return gym.make(env_id, **simulator_kwargs(kwargs))


def _validate(env: Any, spec: RunSpec, design: dict[str, Any], proxy: float, backend: str) -> dict[str, Any]:
    """One run's best design on ``backend``: its real reward (the env's own objective and outcome
    constraints applied to the real metrics), or the error that made it infeasible."""
    inner = env.unwrapped
    real, error, metrics = math.nan, None, {}
    try:
        env.reset(seed=spec.seed)
        metrics = inner.evaluate_on(backend, design)
        violated = [c.name for c in inner.outcome_constraints if not inner.violations(metrics)[c.name] <= 0]
        if violated:
            error = f"outcome constraint(s) violated on {backend}: {violated}"
        else:
            real = float(inner.objective.reward({m: metrics.get(m, math.nan) for m in inner.metric_units}))
            if not math.isfinite(real):
                error = f"non-finite objective value on {backend}"
    except Exception as exc:  # a failing real evaluation is a recorded infeasible result
        error = f"{type(exc).__name__}: {exc}"
    return {
        "run_key": spec.key,
        "stage": spec.stage,
        "env_label": spec.env_label,
        "agent": spec.agent,
        "seed": spec.seed,
        "design": json.dumps(design, sort_keys=True, default=str),
        "backend": kwargs_backend(spec.env_kwargs),
        "validated_on": backend,
        "proxy_reward": proxy,
        "real_reward": real,
        "real_feasible": error is None,
        "error": error,
        "real_metrics": json.dumps({k: float(v) for k, v in metrics.items()}, sort_keys=True),
    }


def agreement(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What validation says about one env's runs: per run, the proxy's value, the real value and
    the regret gap (the run's regret on the truth minus its regret on the proxy, each against the
    best of these runs there: > 0 where the proxy flattered it); per agent, the median of each;
    and Kendall's τ between the agents' ranking on the proxy and on the truth (and between the
    runs' rankings). An infeasible real result counts as the worst."""
    import numpy as np
    from scipy.stats import kendalltau

    proxy = np.array([float(r["proxy_reward"]) for r in rows])
    real = np.array([float(r["real_reward"]) if r["real_feasible"] else -math.inf for r in rows])
    finite = real[np.isfinite(real)]
    worst = float(finite.min()) if len(finite) else math.nan
    real_or_worst = np.where(np.isfinite(real), real, worst)
    best_proxy, best_real = float(proxy.max()), float(real_or_worst.max()) if len(rows) else math.nan
    runs = [
        {
            "run_key": r["run_key"],
            "agent": r["agent"],
            "proxy_reward": float(p),
            "real_reward": float(q) if f else math.nan,
            "real_feasible": bool(f),
            "gap": float(p - q) if f else math.nan,
            "regret_gap": float((best_real - q) - (best_proxy - p)) if f else math.nan,
        }
        for r, p, q, f in zip(rows, proxy, real_or_worst, np.isfinite(real), strict=True)
    ]
    agents = sorted({r["agent"] for r in rows})
    medians = {
        a: (
            float(np.median([p for r, p in zip(rows, proxy, strict=True) if r["agent"] == a])),
            float(np.median([q for r, q in zip(rows, real_or_worst, strict=True) if r["agent"] == a])),
        )
        for a in agents
    }

    def tau(x: Sequence[float], y: Sequence[float]) -> float:
        if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
            return math.nan
        return float(kendalltau(x, y).statistic)

    return {
        "runs": runs,
        "agents": {a: {"proxy_median": m[0], "real_median": m[1]} for a, m in medians.items()},
        "agent_rank_tau": tau([m[0] for m in medians.values()], [m[1] for m in medians.values()]),
        "run_rank_tau": tau(list(proxy), list(real_or_worst)),
    }
