"""Finishing a run: ``summary.json`` from the records, with the provenance, the known optimum
(so reports compute regret from files alone) and, where the env has a test mode, the best
design re-evaluated on it."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from archgym.execution import BoundEnv, EnvRecipe, Task, eval_seed
from archgym.loop.config import SUMMARY, evaluation_limit
from archgym.loop.ledger import Ledger
from archgym.loop.setup import RunSetup, stored_kwargs
from archgym.records import PARQUET, summarize
from archgym.spaces import Design

__all__ = ["FRONT_POINTS", "known_optimum", "write_summary"]

FRONT_POINTS = 2000
"""Points of a known Pareto front whose hypervolume stands for a multi-objective env's optimum."""


def write_summary(
    setup: RunSetup, ledger: Ledger, *, wall_time: float, resumed: bool, stopped_by: str | None = None
) -> dict[str, Any]:
    """Write ``summary.json``. ``stopped_by`` names the signal (``"SIGTERM"``/``"SIGINT"``) that
    stopped the run early: the summary is then marked ``"complete": false`` with its figures
    computed from what was recorded, and the best design is not re-evaluated in test mode (a
    stopped run evaluates nothing more); ``archgym run --resume`` completes it."""
    config = setup.config
    summary = summarize(setup.out, setup.problem)
    summary.update(known_optimum(setup))
    summary.update(
        {
            "run_id": setup.meta["run_id"],
            "env_id": setup.env_id,
            "env_kwargs": setup.meta["env_kwargs"],
            "agent": config.agent,
            "agent_params": setup.meta["agent_params"],
            "seed": config.seed,
            "budget": config.budget,
            "workers": config.workers,
            "timeout": config.timeout,
            "max_memory_mb": config.max_memory_mb,
            "scalarize": config.scalarize,
            "cost_budget": config.cost_budget,
            "cost": ledger.cost,
            "schedule": config.schedule,
            "clock": "simulated" if config.simulate_time else "real",
            "time_budget_s": config.time_budget_s,
            "clock_s": _last_finish(setup.out),
            "order": ORDER[config.schedule, config.simulate_time],
            "versions": setup.meta["versions"],
            "wall_time_s": wall_time,
            "resumed": resumed,
            "complete": stopped_by is None,
            "stopped_by": stopped_by,
            "agent_summary": setup.agent.finish(setup.out),
        }
    )
    test = None if stopped_by is not None else _test_best(setup, ledger, summary.get("best_design"))
    if test is not None:
        summary["test"] = test
    (setup.out / SUMMARY).write_text(json.dumps(summary, indent=2, default=_json_safe))
    return summary


ORDER = {
    ("sync", False): "batch-synchronous: records don't depend on the worker count",
    ("sync", True): "batch-synchronous on the simulated clock: exactly reproducible",
    ("async", False): "asynchronous in real time: records depend on completion order, which timing decides",
    ("async", True): "asynchronous on the simulated clock: exactly reproducible (declared durations)",
}
"""What the summary says about how the records' order arose (and so what repeats exactly)."""


def _last_finish(out: Any) -> float | None:
    """Seconds on the run's clock (real or simulated) when its last evaluation finished."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    path = out / PARQUET
    if not path.exists() or "finish_s" not in pq.read_schema(path).names:
        return None
    value = pc.max(pq.read_table(path, columns=["finish_s"])["finish_s"]).as_py()
    return None if value is None else float(value)


def known_optimum(setup: RunSetup) -> dict[str, Any]:
    """What the env knows of its optimum, in reward units: ``optimal_reward`` (single objective)
    or ``reference_front_hypervolume``, the hypervolume of :data:`FRONT_POINTS` points of its true
    Pareto front against its reference point (several objectives). None where it declares none."""
    problem = setup.problem
    if problem.n_objectives == 1:
        return {"optimal_reward": problem.optimal_reward}
    pareto_front = getattr(setup.env.unwrapped, "pareto_front", None)  # DesignEnvs declare one
    front = None if pareto_front is None else pareto_front(FRONT_POINTS)
    if front is None or problem.reference_point is None:
        return {"reference_front_hypervolume": None}
    import moocore

    volume = moocore.hypervolume(np.asarray(front), ref=problem.reference_point, maximise=True)
    return {"reference_front_hypervolume": float(volume)}


def _test_best(setup: RunSetup, ledger: Ledger, best_design: Design | None) -> dict[str, Any] | None:
    """Re-evaluate the best design in the env's test mode (``DesignEnv.test_kwargs``, e.g.
    disjoint test seeds), so tuned and test performance are reported side by side."""
    test_kwargs = getattr(setup.env.unwrapped, "test_kwargs", None)
    if not test_kwargs or best_design is None:
        return None
    base = setup.recipe
    recipe = EnvRecipe(base.spec, {**base.kwargs, **test_kwargs}, base.scalarize)
    env = recipe.make()
    try:
        task = Task(
            index=-1,
            design=best_design,
            fidelity=None,
            seed=eval_seed(setup.config.seed, evaluation_limit(setup.config)),
        )
        result = BoundEnv(env)(task)
    finally:
        env.close()
    return {
        "env_kwargs": stored_kwargs({**base.kwargs, **test_kwargs}),
        "design": best_design,
        "tuned_reward": ledger.best,
        "test_reward": result.reward,
        "feasible": result.feasible,
        "metrics": result.metrics,
        "error": result.error,
    }


def _json_safe(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
