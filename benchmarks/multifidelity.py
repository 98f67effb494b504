"""Multi-fidelity agents against full-fidelity random search at equal cost (issue 23).

    python benchmarks/multifidelity.py [--seeds 20] [--mo-seeds 10] [--cost 30] [--jobs 2]
                                       [--nas-seeds 5] [--nas-cost 10] [--sor-seeds 20] [--sor-cost 10]
                                       [--results runs/benchmark-multifidelity.json]
                                       [--only h6 dtlz2 nas sor]

Targets (medians over seeds; baselines run in the same invocation):
  h6     archgym/Hartmann6MF-v0 (augmented Hartmann-6, fidelity s in [1/27, 1]), cost budget of
         --cost full evaluations, --seeds seeds: smac.hyperband, asha and smac.bohb each reach a
         lower regret than random at full fidelity; smac.bohb's regret <= smac.hyperband's.
  dtlz2  archgym/DTLZ2MF-v0 (biased low fidelities), same cost, --mo-seeds seeds: mo_asha's
         hypervolume at full fidelity >= random's.
  nas    archgym/NASBench201-v0 trained live with schedule_epochs=12 (epochs 1-12 as a continuable
         fidelity; C = 8, N = 1, 8x8 digits, 300 training images), cost budget --nas-cost full
         evaluations, --nas-seeds seeds: asha's best validation accuracy at 12 epochs >= random's.
         Printed beside it: asha's training time with continuation (measured) and without it (each
         continued evaluation charged its checkpoint chain's measured training time as well: what
         retraining from scratch would have taken).
  sor    archgym/SOR-v0 (Poisson, n = 24, tol 1e-6) with a proxy trained on a 48-point Sobol
         collection, as the backend ladder proxy -> simulator (the proxy's level is its measured
         cost); smac.hyperband over {proxy, simulator} at cost --sor-cost (simulator evaluations)
         against random on the simulator alone at the same cost, --sor-seeds seeds: hyperband's
         best omega (iterations at the simulator) <= random's. Real cost (evaluation seconds and
         run wall time) printed for both.

Equal cost: every run is given ``cost_budget=--cost``; its records are then cut, in step order, at
the last evaluation whose cumulative cost is within the budget (a run may overshoot by part of
its last batch), so each agent is scored on at most the same cost. Scores at full fidelity:
regret = optimum - the best value *evaluated at s = 1* (an agent that never evaluated at full
fidelity scores the penalty 0, i.e. regret 3.32237); hypervolume of the points evaluated at s = 1
only (low-fidelity points are biased, and re-evaluating them would cost more), against DTLZ2's
reference point (-1.1, -1.1). asha and mo_asha run asynchronously on the simulated clock with 4
workers (their own mode: promotions as results arrive); the others batch-synchronously, one
design per batch. Results are checkpointed per (problem, agent, seed) to --results, so an
interrupted benchmark resumes where it stopped; exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

H6, DTLZ2 = "archgym/Hartmann6MF-v0", "archgym/DTLZ2MF-v0"
H6_OPTIMUM = 3.322368011391339
REFERENCE = (-1.1, -1.1)
ASYNC = {"schedule": "async", "simulate_time": True, "workers": 4}
# label -> (agent, agent_params, run options)
H6_AGENTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "random": ("random", {"batch_size": 1}, {}),
    "smac.hyperband": ("smac.hyperband", {}, {}),
    "asha": ("asha", {}, ASYNC),
    "smac.bohb": ("smac.bohb", {}, {}),
}
DTLZ2_AGENTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "random": ("random", {"batch_size": 1}, {}),
    "mo_asha": ("mo_asha", {}, ASYNC),
}
NAS = "archgym/NASBench201-v0"
NAS_KWARGS = {"schedule_epochs": 12, "channels": 8, "n_cells": 1, "resolution": 8, "max_train": 300}
NAS_AGENTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "random": ("random", {"batch_size": 1}, {}),
    "asha": ("asha", {}, ASYNC),
}
SOR = "archgym/SOR-v0"
SOR_KWARGS = {"n": 24, "tol": 1e-6, "sequence": "constant"}
LADDER = ["proxy", "simulator"]
SOR_AGENTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "random": ("random", {"batch_size": 1}, {}),  # the simulator only
    "smac.hyperband": ("smac.hyperband", {}, {}),  # over the ladder proxy -> simulator
    "asha": ("asha", {}, {}),  # over the ladder, synchronously (shown, not a target)
}
PROBLEMS = ("h6", "dtlz2", "nas", "sor")


def job_key(problem: str, label: str, seed: int) -> str:
    return f"{problem}|{label}|{seed}"


def _setting(problem: str, label: str, model: str | None) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(env id, env kwargs, agents) of ``problem``; the SOR ladder needs the proxy ``model``."""
    if problem == "h6":
        return H6, {}, H6_AGENTS
    if problem == "dtlz2":
        return DTLZ2, {}, DTLZ2_AGENTS
    if problem == "nas":
        return NAS, dict(NAS_KWARGS), NAS_AGENTS
    if label == "random":
        return SOR, dict(SOR_KWARGS), SOR_AGENTS
    return SOR, {**SOR_KWARGS, "backend": LADDER, "model": model, "trust_model": True}, SOR_AGENTS


def run_job(problem: str, label: str, seed: int, cost: float, model: str | None = None) -> dict[str, Any]:
    """One run in a temporary directory, scored at full fidelity within ``cost``."""
    import time

    import pyarrow.parquet as pq

    from archgym.loop import run

    env, env_kwargs, agents = _setting(problem, label, model)
    agent, params, options = agents[label]
    with tempfile.TemporaryDirectory(prefix="archgym-mf-bench-") as tmp:
        started = time.perf_counter()
        run(
            env=env,
            env_kwargs=env_kwargs,
            agent=agent,
            agent_params=params,
            budget=None,
            cost_budget=cost,
            seed=seed,
            out=Path(tmp) / "run",
            progress=False,
            **options,
        )
        wall = time.perf_counter() - started
        rows = sorted(
            pq.read_table(Path(tmp) / "run" / "evaluations.parquet").to_pylist(), key=lambda r: r["step"]
        )
    kept, spent = [], 0.0
    for row in rows:
        if spent + row["cost"] > cost + 1e-9:
            break
        spent += row["cost"]
        kept.append(row)
    top = {"nas": NAS_KWARGS["schedule_epochs"]}.get(problem, 1.0)
    full = [
        r for r in kept if r["feasible"] and (r["fidelity"] is None or abs(float(r["fidelity"]) - top) < 1e-9)
    ]
    figures: dict[str, Any] = {"n_evaluations": len(kept), "n_full": len(full), "cost": spent}
    figures["eval_seconds"] = sum(r["eval_time_s"] for r in kept)
    figures["wall_seconds"] = wall
    if problem == "nas":
        figures["val_accuracy"] = max((r["reward"] for r in full), default=0.0)
        figures.update(_training_times(kept))
    elif problem == "sor":
        figures["iterations"] = -max((r["reward"] for r in full), default=-(10_000 + 1.0))
    elif problem == "h6":
        best = max((r["reward"] for r in full), default=0.0)
        figures["regret"] = H6_OPTIMUM - best
    else:
        import moocore
        import numpy as np

        points = np.array([[r["reward.f1"], r["reward.f2"]] for r in full], dtype=np.float64).reshape(-1, 2)
        inside = points[np.all(points > np.array(REFERENCE), axis=1)]
        figures["hypervolume"] = (
            float(moocore.hypervolume(inside, ref=np.array(REFERENCE), maximise=True)) if len(inside) else 0.0
        )
    return figures


def _training_times(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Training seconds a live NAS run spent (measured, ``train_time_s``), and what it would
    have spent without continuation: a continued evaluation retrained from scratch costs its own
    time plus that of the chain of evaluations it continued from (measured as well)."""
    from_scratch: dict[tuple[Any, ...], dict[float, float]] = {}
    spent = without = 0.0
    for row in rows:
        key = tuple(sorted((k, v) for k, v in row.items() if k.startswith("param.")))
        seconds = float(row.get("metric.train_time_s") or 0.0)
        start = float(row.get("metric.continued_from") or 0.0)
        total = seconds + (from_scratch.get(key, {}).get(start, 0.0) if start > 0 else 0.0)
        from_scratch.setdefault(key, {})[float(row["fidelity"])] = total
        spent += seconds
        without += total
    return {"train_seconds": spent, "train_seconds_without_continuation": without}


def _median(results: dict[str, Any], problem: str, label: str, seeds: int, figure: str) -> float:
    return statistics.median(results[job_key(problem, label, s)][figure] for s in range(seeds))


def sor_model(root: Path) -> tuple[str, dict[str, Any]]:
    """The proxy of the SOR target, trained once on a small Sobol collection (kept in ``root``);
    its path and the collection's cost."""
    import time

    from archgym.data import collect, export
    from archgym.proxy import read_card, train

    model = root / "sor-proxy.joblib"
    if not model.exists():
        started = time.perf_counter()
        collect(env=SOR, n=48, out=root / "sor-collect", seed=0, env_kwargs=SOR_KWARGS, progress=False)
        export([root / "sor-collect"], root / "sor-collect.parquet")
        train(root / "sor-collect.parquet", ["iterations"], model, kinds=["rf", "gbm"])
        (root / "sor-proxy.time").write_text(str(time.perf_counter() - started))
    card = read_card(model)
    target = card["targets"]["iterations"]
    return str(model), {
        "collect_and_train_s": float((root / "sor-proxy.time").read_text()),
        "kendall_tau": target["test"]["kendall_tau"],
        "level": target["predict_time_s"]["single_row"] / card["real_eval_time_s"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Multi-fidelity agents vs full-fidelity random at equal cost."
    )
    parser.add_argument("--seeds", type=int, default=20, help="seeds on Hartmann-6 (default 20)")
    parser.add_argument("--mo-seeds", type=int, default=10, help="seeds on DTLZ2 (default 10)")
    parser.add_argument("--cost", type=float, default=30.0, help="cost budget in full evaluations (30)")
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (default 2)")
    parser.add_argument("--results", default="runs/benchmark-multifidelity.json", help="checkpoint file")
    parser.add_argument("--nas-seeds", type=int, default=5, help="seeds on live NAS (default 5)")
    parser.add_argument("--nas-cost", type=float, default=10.0, help="NAS cost budget, full evaluations (10)")
    parser.add_argument("--sor-seeds", type=int, default=20, help="seeds on SOR (default 20)")
    parser.add_argument("--sor-cost", type=float, default=10.0, help="SOR cost budget, simulator runs (10)")
    parser.add_argument("--only", nargs="*", default=list(PROBLEMS), choices=PROBLEMS)
    args = parser.parse_args()

    path = Path(args.results)
    results: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    costs = {"cost": args.cost, "nas_cost": args.nas_cost, "sor_cost": args.sor_cost}
    for name, value in costs.items():
        if results.get(name, value) != value:
            raise SystemExit(f"{path} holds results at {name} {results[name]}; choose another --results")
    results.update(costs)
    cost_of = {"h6": args.cost, "dtlz2": args.cost, "nas": args.nas_cost, "sor": args.sor_cost}
    model, proxy = (None, {})
    if "sor" in args.only:
        model, proxy = sor_model(path.parent / "benchmark-multifidelity-sor")
    plan = [
        (problem, label, seed)
        for problem, agents, seeds in (
            ("h6", H6_AGENTS, args.seeds),
            ("dtlz2", DTLZ2_AGENTS, args.mo_seeds),
            ("nas", NAS_AGENTS, args.nas_seeds),
            ("sor", SOR_AGENTS, args.sor_seeds),
        )
        if problem in args.only
        for label in agents
        for seed in range(seeds)
        if job_key(problem, label, seed) not in results
    ]
    print(f"{len(plan)} runs to do ({path}: {len(results) - len(costs)} done)", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {
            pool.submit(run_job, p, label, s, cost_of[p], model): (p, label, s) for p, label, s in plan
        }
        for future in as_completed(futures):
            results[job_key(*futures[future])] = future.result()
            path.write_text(json.dumps(results, indent=1, sort_keys=True))

    ok = True
    if "h6" in args.only:
        regret = {label: _median(results, "h6", label, args.seeds, "regret") for label in H6_AGENTS}
        print(f"\nHartmann6MF-v0, cost {args.cost:g}, {args.seeds} seeds: median regret at s = 1")
        for label, value in regret.items():
            full = _median(results, "h6", label, args.seeds, "n_full")
            n = _median(results, "h6", label, args.seeds, "n_evaluations")
            print(f"  {label:16s} {value:.4f}   (median {n:.0f} evaluations, {full:.0f} at full fidelity)")
        for label in ("smac.hyperband", "asha", "smac.bohb"):
            passed = regret[label] < regret["random"]
            ok &= passed
            print(f"  {'PASS' if passed else 'FAIL'}  {label} regret < random's")
        passed = regret["smac.bohb"] <= regret["smac.hyperband"]
        ok &= passed
        print(f"  {'PASS' if passed else 'FAIL'}  smac.bohb regret <= smac.hyperband's")
    if "dtlz2" in args.only:
        hv = {label: _median(results, "dtlz2", label, args.mo_seeds, "hypervolume") for label in DTLZ2_AGENTS}
        print(f"\nDTLZ2MF-v0, cost {args.cost:g}, {args.mo_seeds} seeds: median hypervolume of s = 1 points")
        for label, value in hv.items():
            full = _median(results, "dtlz2", label, args.mo_seeds, "n_full")
            print(f"  {label:16s} {value:.4f}   (front: 0.4246; median {full:.0f} points at full fidelity)")
        passed = hv["mo_asha"] >= hv["random"]
        ok &= passed
        print(f"  {'PASS' if passed else 'FAIL'}  mo_asha hypervolume >= random's")
    if "nas" in args.only:
        n = args.nas_seeds
        print(
            f"\nNASBench201-v0 live, epochs 1-12, cost {args.nas_cost:g}, {n} seeds: best val. accuracy at 12"
        )
        acc = {label: _median(results, "nas", label, n, "val_accuracy") for label in NAS_AGENTS}
        for label, value in acc.items():
            full = _median(results, "nas", label, n, "n_full")
            evals = _median(results, "nas", label, n, "n_evaluations")
            train = _median(results, "nas", label, n, "train_seconds")
            print(
                f"  {label:16s} {value:.2f} %   (median {evals:.0f} evaluations, {full:.0f} at 12 epochs; "
                f"training {train:.1f} s)"
            )
        with_c = _median(results, "nas", "asha", n, "train_seconds")
        without = _median(results, "nas", "asha", n, "train_seconds_without_continuation")
        print(
            f"  asha training time: {with_c:.1f} s with continuation, {without:.1f} s without "
            f"(x{without / with_c:.2f})"
        )
        passed = acc["asha"] >= acc["random"]
        ok &= passed
        print(f"  {'PASS' if passed else 'FAIL'}  asha val. accuracy >= random's")
    if "sor" in args.only:
        n = args.sor_seeds
        print(
            f"\nSOR-v0 (Poisson n=24), cost {args.sor_cost:g} simulator runs, {n} seeds: iterations of the "
            "best omega found at the simulator"
        )
        print(
            f"  proxy: collected and trained in {proxy['collect_and_train_s']:.1f} s (once, not counted), "
            f"test Kendall tau {proxy['kendall_tau']:.3f}, level = {proxy['level']:.2e} simulator runs"
        )
        its = {label: _median(results, "sor", label, n, "iterations") for label in SOR_AGENTS}
        for label, value in its.items():
            seconds = _median(results, "sor", label, n, "eval_seconds")
            wall = _median(results, "sor", label, n, "wall_seconds")
            evals = _median(results, "sor", label, n, "n_evaluations")
            full = _median(results, "sor", label, n, "n_full")
            print(
                f"  {label:16s} {value:.1f}   (median {evals:.0f} evaluations, {full:.0f} at the simulator; "
                f"evaluation time {seconds * 1e3:.0f} ms, run wall time {wall:.2f} s)"
            )
        passed = its["smac.hyperband"] <= its["random"]
        ok &= passed
        print(f"  {'PASS' if passed else 'FAIL'}  hyperband on proxy+simulator <= random on the simulator")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
