"""``archgym export-optuna RUN_DIR… --storage FILE``: runs as studies of an Optuna journal storage,
so ``optuna-dashboard FILE`` browses them — history, Pareto fronts, parameter importances, slices —
with the ecosystem's dashboard instead of one written here.

One study per run. Each evaluation becomes a trial:

* **parameters** with the distributions of the run's design space (read from ``run.json``:
  reals and integers keep their bounds and log scale, categoricals and ordinals become
  categorical choices); a conditional parameter that was inactive is absent from the trial, as
  Optuna's own conditional search spaces leave it;
* **values** in each objective's direction: a scalar reward is maximised; a multi-objective run's
  component is exported as its metric with Optuna's ``minimize`` where the env minimises that
  metric (its reward column is the metric negated), else as the reward, maximised;
* **infeasible evaluations** as ``FAIL`` trials, their parameters and error kept;
* **metrics, outcome-constraint violations, fidelity, cost, step and backend** as user attributes;
* start and completion times on the run's clock (the simulated one for ``--simulate-time`` runs),
  so the dashboard's timeline is the run's.

Only files are read; the run directories are never modified.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from archgym.records import CONSTRAINT, METRIC, PARAM, REWARD, RUN_META
from archgym.report.doc import read_json
from archgym.report.run import read_rows

__all__ = ["export_optuna", "study_name"]


def study_name(meta: dict[str, Any], run_dir: Path) -> str:
    """The study a run becomes: what the run is, and the directory it came from."""
    return f"{meta.get('env_id')} · {meta.get('agent')} · seed {meta.get('seed')} ({run_dir.name})"


def export_optuna(run_dirs: Sequence[str | Path], storage: str | Path) -> list[dict[str, Any]]:
    """Write each run in ``run_dirs`` as one study into the Optuna journal file ``storage``
    (created if absent; studies already in it are kept) and return, per run, the study's name
    and its numbers of trials and failed trials. A study of the same name already in the file
    is an error, not a silent second copy."""
    if not run_dirs:
        raise ValueError("run_dirs: no run directory given; legal values: one or more run directories")
    dirs = [Path(d) for d in run_dirs]
    for d in dirs:
        if not (d / RUN_META).exists():
            raise ValueError(f"run_dirs: {d} is not a run directory ({RUN_META} missing)")
    target = Path(storage)
    if target.exists() and not target.is_file():
        raise ValueError(f"storage: {target} is not a file; legal values: a journal file path")
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    target.parent.mkdir(parents=True, exist_ok=True)
    store = JournalStorage(JournalFileBackend(str(target)))
    known = {s.study_name for s in optuna.get_all_study_summaries(store)}
    plans = []
    for d in dirs:  # every name checked before anything is written: an error leaves the file as it was
        meta = read_json(d / RUN_META)
        name = study_name(meta, d)
        if name in known:
            raise ValueError(f"storage: {target} already holds a study named {name!r}; choose another file")
        known.add(name)
        plans.append((d, meta, name))
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" line per run
    try:
        return [_export_run(optuna, store, d, meta, name) for d, meta, name in plans]
    finally:
        optuna.logging.set_verbosity(verbosity)


def _export_run(optuna: Any, store: Any, run_dir: Path, meta: dict[str, Any], name: str) -> dict[str, Any]:
    layout = meta.get("layout") or {}
    distributions = {p["name"]: _distribution(optuna, p) for p in layout.get("parameters", [])}
    rows = read_rows(run_dir)
    components = _components(layout.get("objectives"), rows)
    study = optuna.create_study(
        storage=store, study_name=name, directions=[direction for _, _, direction in components]
    )
    summary = read_json(run_dir / "summary.json", missing_ok=True)
    for key, value in {
        "env_id": meta.get("env_id"),
        "agent": meta.get("agent"),
        "seed": meta.get("seed"),
        "run_dir": str(run_dir.resolve()),
        "objectives": [label for _, label, _ in components],
        "optimal_reward": summary.get("optimal_reward"),
    }.items():
        study.set_user_attr(key, value)
    started = meta.get("started")
    trials = [_trial(optuna, row, distributions, components, started) for row in rows]
    study.add_trials(trials)
    failed = sum(t.state == optuna.trial.TrialState.FAIL for t in trials)
    return {"study": name, "run_dir": str(run_dir), "trials": len(trials), "failed": failed}


def _distribution(optuna: Any, param: dict[str, Any]) -> Any:
    kind = param["type"]
    if kind == "real":
        return optuna.distributions.FloatDistribution(param["low"], param["high"], log=param["log"])
    if kind == "integer":
        return optuna.distributions.IntDistribution(param["low"], param["high"], log=param["log"])
    return optuna.distributions.CategoricalDistribution(param["values"])  # categorical, ordinal


def _components(objectives: list[str] | None, rows: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(column read, name shown, Optuna direction) per objective. A reward component that is its
    metric negated on every feasible row is exported as the metric, minimised."""
    if objectives is None:
        return [("reward", "reward", "maximize")]
    out = []
    feasible = [r for r in rows if r.get("feasible")]
    for name in objectives:
        reward, metric = REWARD + name, METRIC + name
        pairs = [(r.get(reward), r.get(metric)) for r in feasible]
        negated = bool(pairs) and all(
            a is not None and b is not None and math.isclose(a, -b, rel_tol=1e-12, abs_tol=1e-300)
            for a, b in pairs
        )
        out.append((metric, name, "minimize") if negated else (reward, name, "maximize"))
    return out


def _trial(
    optuna: Any,
    row: dict[str, Any],
    distributions: dict[str, Any],
    components: list[tuple[str, str, str]],
    started: float | None,
) -> Any:
    params = {
        name: row[PARAM + name]
        for name in distributions
        if row.get(PARAM + name) is not None  # an inactive conditional parameter: absent, as in Optuna
    }
    values = [row.get(column) for column, _, _ in components]
    ok = bool(row.get("feasible")) and all(v is not None and math.isfinite(v) for v in values)
    attrs: dict[str, Any] = {
        "step": row.get("step"),
        "backend": row.get("backend"),
        "eval_time_s": row.get("eval_time_s"),
    }
    for key, value in row.items():
        if key.startswith((METRIC, CONSTRAINT)) and value is not None:
            attrs[key] = value
    for key in ("fidelity", "cost", "worker", "error"):
        if row.get(key) is not None:
            attrs[key] = row[key]
    trial = optuna.trial.create_trial(
        state=optuna.trial.TrialState.COMPLETE if ok else optuna.trial.TrialState.FAIL,
        values=[float(v) for v in values] if ok else None,
        params=params,
        distributions={name: distributions[name] for name in params},
        user_attrs=attrs,
    )
    trial.datetime_start, trial.datetime_complete = _times(row, started)
    return trial


def _times(row: dict[str, Any], started: float | None) -> tuple[dt.datetime, dt.datetime]:
    """Start and completion on the run's clock where the records have it, else the wall clock's
    completion timestamp less the evaluation's time."""
    start_s, finish_s = row.get("start_s"), row.get("finish_s")
    if started is not None and start_s is not None and finish_s is not None:
        origin = dt.datetime.fromtimestamp(float(started), tz=dt.UTC)
        return origin + dt.timedelta(seconds=start_s), origin + dt.timedelta(seconds=finish_s)
    done = row.get("timestamp")
    if not isinstance(done, dt.datetime):
        done = dt.datetime.fromtimestamp(float(started or 0.0), tz=dt.UTC)
    return done - dt.timedelta(seconds=float(row.get("eval_time_s") or 0.0)), done
