"""Multi-fidelity agents against full-fidelity random search at equal cost (issue 23, analytic part).

    python benchmarks/multifidelity.py [--seeds 20] [--mo-seeds 10] [--cost 30] [--jobs 2]
                                       [--results runs/benchmark-multifidelity.json] [--only h6 dtlz2]

Targets (medians over seeds; baselines run in the same invocation):
  h6     archgym/Hartmann6MF-v0 (augmented Hartmann-6, fidelity s in [1/27, 1]), cost budget of
         --cost full evaluations, --seeds seeds: smac.hyperband, asha and smac.bohb each reach a
         lower regret than random at full fidelity; smac.bohb's regret <= smac.hyperband's.
  dtlz2  archgym/DTLZ2MF-v0 (biased low fidelities), same cost, --mo-seeds seeds: mo_asha's
         hypervolume at full fidelity >= random's.

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


def job_key(problem: str, label: str, seed: int) -> str:
    return f"{problem}|{label}|{seed}"


def run_job(problem: str, label: str, seed: int, cost: float) -> dict[str, Any]:
    """One run in a temporary directory, scored at full fidelity within ``cost``."""
    import pyarrow.parquet as pq

    from archgym.loop import run

    env, agents = (H6, H6_AGENTS) if problem == "h6" else (DTLZ2, DTLZ2_AGENTS)
    agent, params, options = agents[label]
    with tempfile.TemporaryDirectory(prefix="archgym-mf-bench-") as tmp:
        run(
            env=env,
            agent=agent,
            agent_params=params,
            budget=None,
            cost_budget=cost,
            seed=seed,
            out=Path(tmp) / "run",
            progress=False,
            **options,
        )
        rows = sorted(
            pq.read_table(Path(tmp) / "run" / "evaluations.parquet").to_pylist(), key=lambda r: r["step"]
        )
    kept, spent = [], 0.0
    for row in rows:
        if spent + row["cost"] > cost + 1e-9:
            break
        spent += row["cost"]
        kept.append(row)
    full = [r for r in kept if r["feasible"] and abs(float(r["fidelity"]) - 1.0) < 1e-9]
    figures: dict[str, Any] = {"n_evaluations": len(kept), "n_full": len(full), "cost": spent}
    if problem == "h6":
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


def _median(results: dict[str, Any], problem: str, label: str, seeds: int, figure: str) -> float:
    return statistics.median(results[job_key(problem, label, s)][figure] for s in range(seeds))


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Multi-fidelity agents vs full-fidelity random at equal cost."
    )
    parser.add_argument("--seeds", type=int, default=20, help="seeds on Hartmann-6 (default 20)")
    parser.add_argument("--mo-seeds", type=int, default=10, help="seeds on DTLZ2 (default 10)")
    parser.add_argument("--cost", type=float, default=30.0, help="cost budget in full evaluations (30)")
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (default 2)")
    parser.add_argument("--results", default="runs/benchmark-multifidelity.json", help="checkpoint file")
    parser.add_argument("--only", nargs="*", default=["h6", "dtlz2"], choices=["h6", "dtlz2"])
    args = parser.parse_args()

    path = Path(args.results)
    results: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    if results.get("cost", args.cost) != args.cost:
        raise SystemExit(f"{path} holds results at cost {results['cost']}; choose another --results")
    results["cost"] = args.cost
    plan = [
        (problem, label, seed)
        for problem, agents, seeds in (("h6", H6_AGENTS, args.seeds), ("dtlz2", DTLZ2_AGENTS, args.mo_seeds))
        if problem in args.only
        for label in agents
        for seed in range(seeds)
        if job_key(problem, label, seed) not in results
    ]
    print(f"{len(plan)} runs to do ({path}: {len(results) - 1} done)", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run_job, p, label, s, args.cost): (p, label, s) for p, label, s in plan}
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
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
