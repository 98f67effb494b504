"""Agents compared through the one loop, against the targets of the agents issue.

Prints the median (and range) over seeds of each agent and of its baseline measured in the same
run, checks each target, and exits non-zero when one is missed.

    python benchmarks/agents.py [--seeds 5] [--only NAME ...] [--jobs 2]

Targets (median over seeds):
  h6-bo        Hartmann-6: bo best reward >= 3.0 at 60 evaluations
  h6-ga        Hartmann-6: ga best reward above random at 200
  h6-aco       Hartmann-6 discretised to 11 levels per x: aco above random at 200
  dtlz2-bo     DTLZ2: bo hypervolume >= 85 % of the true front's at 100
  dtlz2-nsga2  DTLZ2: nsga2 hypervolume above random at 300
  h6-qd        Hartmann-6, measures (x1, x2), 10x10 archive: mapelites QD score above the same
               archive filled by random's evaluations at 500
  mixed-rl     MixedConditional: rl best reward above random at 200
  bo-iter      BO iteration time (6-D, 50 observations, one thread) / raw BoTorch (goal <= 1.2)
  h6-gp        Hartmann-6 @60: bo median regret <= Optuna GPSampler's (optuna.gp) at median wall
               time <= 1.0x its; both run in this process, one after the other for each seed
  branin-gp    Branin @30: the same comparison
  dtlz2-small  DTLZ2 @20: bo median hypervolume above random's
  dtlz2-gp     DTLZ2 @100: bo median hypervolume >= GPSampler's at median wall time <= 1.0x its
               (slow: minutes per run; only when named with --only)
  nas          NAS-Bench-201 table (backend="table"), seeds 0..--nas-seeds-1 (default 30): at 100
               evaluations rea, local_search, ga and bo each above random on the mean best
               validation accuracy, one-sided Mann-Whitney U p < 0.05; at 40 each mean above
               random's (the best-so-far at 40 of the same 100-evaluation runs). Medians printed
               (the table's discrete values tie), reinforce beside.

    python benchmarks/agents.py --only nas [--nas-seeds 30]
"""

from __future__ import annotations

import argparse
import atexit
import shutil
import statistics
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

H6, DTLZ2, MIXED = "archgym/Hartmann6-v0", "archgym/DTLZ2-v0", "archgym/MixedConditional-v0"
BRANIN = "archgym/Branin-v0"
NAS = "archgym/NASBench201-v0"
NAS_TESTED = ("rea", "local_search", "ga", "bo")
NAS_BUDGETS = (40, 100)
DTLZ2_FRONT_HV = 1.21 - 3.141592653589793 / 4


@dataclass(frozen=True)
class Job:
    env: str
    agent: str
    budget: int
    seed: int
    env_kwargs: tuple[tuple[str, Any], ...] = ()
    agent_params: tuple[tuple[str, Any], ...] = ()


def run_job(job: Job) -> dict[str, Any]:
    """One run in a fresh directory; returns its summary plus the path of its records. One thread:
    torch's, and the BLAS/OpenMP pools numpy and scipy use (two threads each here): in one full
    run Optuna's GPSampler showed CPU time twice its wall time and wall times that swung with the
    machine's load, an unequal footing for a timed comparison."""
    import torch
    from threadpoolctl import threadpool_limits

    from archgym.loop import run

    torch.set_num_threads(1)
    out = Path(tempfile.mkdtemp(prefix="archgym-bench-"))
    with threadpool_limits(limits=1):
        summary = run(
            env=job.env,
            agent=job.agent,
            budget=job.budget,
            seed=job.seed,
            out=out / "run",
            env_kwargs=dict(job.env_kwargs),
            agent_params=dict(job.agent_params),
            progress=False,
        )
    summary["out"] = str(out / "run")
    return summary


QD_OFFSET = 0.0  # Hartmann-6's minimum (and penalty): the same offset on both sides


def qd_score_of_random(summary: dict[str, Any]) -> float:
    """The QD score of random search's evaluations, filled into the archive MAP-Elites uses."""
    from archgym_agents.mapelites import archive_stats_of_run

    stats = archive_stats_of_run(summary["out"], qd_offset=QD_OFFSET, measures="x1,x2", cells=10)
    return stats["qd_score"]


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    agent: Job
    baseline: Job | None
    score: Callable[[dict[str, Any]], float]
    baseline_score: Callable[[dict[str, Any]], float] | None
    passes: Callable[[float, float | None], bool]


def best(summary: dict[str, Any]) -> float:
    return summary["best_reward"]


def hypervolume(summary: dict[str, Any]) -> float:
    return summary["hypervolume"]


def qd_score(summary: dict[str, Any]) -> float:
    return summary["agent_summary"]["qd_score"]


def targets() -> list[Target]:
    above = lambda agent, baseline: baseline is not None and agent > baseline  # noqa: E731
    return [
        Target(
            "h6-bo",
            "Hartmann-6, bo best reward at 60 (>= 3.0)",
            Job(H6, "bo", 60, 0),
            None,
            best,
            None,
            lambda a, _: a >= 3.0,
        ),
        Target(
            "h6-ga",
            "Hartmann-6, ga vs random best reward at 200",
            Job(H6, "ga", 200, 0),
            Job(H6, "random", 200, 0),
            best,
            best,
            above,
        ),
        Target(
            "h6-aco",
            "Hartmann-6 (11 levels), aco vs random best reward at 200",
            Job(H6, "aco", 200, 0, (("levels", 11),)),
            Job(H6, "random", 200, 0, (("levels", 11),)),
            best,
            best,
            above,
        ),
        Target(
            "dtlz2-bo",
            "DTLZ2, bo hypervolume / true front's at 100 (>= 0.85)",
            Job(DTLZ2, "bo", 100, 0),
            None,
            lambda s: hypervolume(s) / DTLZ2_FRONT_HV,
            None,
            lambda a, _: a >= 0.85,
        ),
        Target(
            "dtlz2-nsga2",
            "DTLZ2, nsga2 vs random hypervolume at 300",
            Job(DTLZ2, "nsga2", 300, 0),
            Job(DTLZ2, "random", 300, 0),
            hypervolume,
            hypervolume,
            above,
        ),
        Target(
            "h6-qd",
            "Hartmann-6 (x1, x2; 10x10), mapelites vs random-filled QD score at 500",
            Job(
                H6,
                "mapelites",
                500,
                0,
                (),
                (("measures", "x1,x2"), ("cells", 10), ("qd_offset", str(QD_OFFSET))),
            ),
            Job(H6, "random", 500, 0),
            qd_score,
            qd_score_of_random,
            above,
        ),
        Target(
            "mixed-rl",
            "MixedConditional, rl vs random best reward at 200",
            Job(MIXED, "rl", 200, 0),
            Job(MIXED, "random", 200, 0),
            best,
            best,
            above,
        ),
    ]


@dataclass(frozen=True)
class PeerTarget:
    """bo against a peer on one problem, run in this process one after the other for each seed
    (so a loaded machine slows both alike): median score (regret, or hypervolume) and, if
    ``timed``, median wall time of the search (the summary's ``wall_time_s``)."""

    name: str
    env: str
    budget: int
    peer: str
    timed: bool
    default: bool = True


PEER_TARGETS = (
    PeerTarget("h6-gp", H6, 60, "optuna.gp", timed=True),
    PeerTarget("branin-gp", BRANIN, 30, "optuna.gp", timed=True),
    PeerTarget("dtlz2-small", DTLZ2, 20, "random", timed=False),
    PeerTarget("dtlz2-gp", DTLZ2, 100, "optuna.gp", timed=True, default=False),
)


def peer_comparison(t: PeerTarget, seeds: range) -> bool:
    """Print bo's and the peer's medians and whether bo meets the target: regret <= the peer's
    (one objective) or hypervolume above / at least the peer's (several), and wall time <= 1.0x."""
    import time

    runs: dict[str, list[tuple[float, float, float]]] = {"bo": [], t.peer: []}
    for seed in seeds:
        for agent in runs:
            cpu = time.process_time()
            summary = run_job(Job(t.env, agent, t.budget, seed))
            cpu = time.process_time() - cpu
            if summary.get("hypervolume") is not None:
                score = summary["hypervolume"]
            else:
                score = summary["optimal_reward"] - summary["best_reward"]
            runs[agent].append((score, summary["wall_time_s"], cpu))
    med = {a: [statistics.median(r[i] for r in v) for i in range(3)] for a, v in runs.items()}
    multi = t.env == DTLZ2
    measure = "hypervolume" if multi else "regret"
    (bo_score, bo_wall, bo_cpu), (peer_score, peer_wall, peer_cpu) = med["bo"], med[t.peer]
    if multi:
        ok = bo_score > peer_score if t.peer == "random" else bo_score >= peer_score
    else:
        ok = bo_score <= peer_score
    line = (
        f"{t.name:12s} {t.env} @{t.budget}, {len(seeds)} seeds: median {measure} bo {bo_score:.4g}, "
        f"{t.peer} {peer_score:.4g}"
    )
    if t.timed:
        ok = ok and bo_wall <= peer_wall
        line += (
            f"; median wall bo {bo_wall:.2f} s, {t.peer} {peer_wall:.2f} s, ratio {bo_wall / peer_wall:.2f} "
            f"(CPU {bo_cpu:.2f} / {peer_cpu:.2f} s, ratio {bo_cpu / peer_cpu:.2f}; goal <= 1.0)"
        )
    print(("PASS " if ok else "MISS ") + line, flush=True)
    return ok


def with_seed(job: Job, seed: int) -> Job:
    return Job(job.env, job.agent, job.budget, seed, job.env_kwargs, job.agent_params)


def main() -> int:
    parser = argparse.ArgumentParser(description="Agents vs their targets (medians over seeds).")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per agent and baseline (default 5)")
    parser.add_argument("--only", nargs="*", default=None, help="target names to run (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (default 2)")
    parser.add_argument("--nas-seeds", type=int, default=30, help="seeds of the NAS-table comparison")
    args = parser.parse_args()
    # Every run's directory (run_job's mkdtemp) lands under one root, removed when this script
    # exits: a full benchmark makes ~1,700 runs. Forked pool workers inherit tempfile.tempdir.
    root = tempfile.mkdtemp(prefix="archgym-bench-")
    tempfile.tempdir = root
    atexit.register(shutil.rmtree, root, True)
    chosen = [t for t in targets() if args.only is None or t.name in args.only]
    run_bo_iter = args.only is None or "bo-iter" in args.only
    run_nas = args.only is None or "nas" in args.only
    seeds = range(args.seeds)
    jobs = {(t.name, "agent", s): with_seed(t.agent, s) for t in chosen for s in seeds}
    jobs |= {(t.name, "baseline", s): with_seed(t.baseline, s) for t in chosen if t.baseline for s in seeds}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        summaries = dict(zip(jobs, pool.map(run_job, jobs.values()), strict=True))
    failed = []
    for t in chosen:
        try:
            ok = report(t, seeds, summaries)
        except Exception as exc:  # one broken target must not hide the others' figures
            print(f"MISS {t.name:12s} {type(exc).__name__}: {exc}", flush=True)
            ok = False
        if not ok:
            failed.append(t.name)
    for peer in PEER_TARGETS:
        chosen_peer = (args.only is None and peer.default) or (args.only and peer.name in args.only)
        if chosen_peer and not peer_comparison(peer, seeds):
            failed.append(peer.name)
    if run_nas and not nas_comparison(args.nas_seeds, args.jobs):
        failed.append("nas")
    if run_bo_iter:
        from bo_iteration import measure  # beside this script, which is on sys.path when run

        timing = measure()
        ok = timing["ratio"] <= 1.2
        print(
            ("PASS " if ok else "MISS ") + f"bo-iter      BO iteration (6-D, 50 obs, 1 thread): agent "
            f"{timing['agent_s']:.3f} s, raw BoTorch {timing['raw_s']:.3f} s, ratio {timing['ratio']:.2f} "
            "(goal <= 1.2)"
        )
        if not ok:
            failed.append("bo-iter")
    print("missed: " + ", ".join(failed) if failed else "all targets met")
    return 1 if failed else 0


def report(t: Target, seeds: range, summaries: dict[tuple[str, str, int], dict[str, Any]]) -> bool:
    """Print one target's medians (agent, baseline, ratio) and whether it is met."""
    scores = [t.score(summaries[(t.name, "agent", s)]) for s in seeds]
    agent_median = statistics.median(scores)
    line = (
        f"{t.name:12s} {t.description}: agent median {agent_median:.4g} "
        f"[{min(scores):.4g}, {max(scores):.4g}]"
    )
    baseline_median = None
    if t.baseline is not None and t.baseline_score is not None:
        base = [t.baseline_score(summaries[(t.name, "baseline", s)]) for s in seeds]
        baseline_median = statistics.median(base)
        line += f"; {t.baseline.agent} median {baseline_median:.4g} [{min(base):.4g}, {max(base):.4g}]"
        # a ratio only means something for positive scores; rewards below zero get a difference
        line += (
            f"; ratio {agent_median / baseline_median:.3g}"
            if baseline_median > 0
            else f"; difference {agent_median - baseline_median:+.4g}"
        )
    ok = t.passes(agent_median, baseline_median)
    print(("PASS " if ok else "MISS ") + line, flush=True)
    return ok


def best_curve(summary: dict[str, Any]) -> Any:
    """The run's best feasible reward after each evaluation (from its records)."""
    import numpy as np
    import pyarrow.parquet as pq

    from archgym.campaign import best_so_far

    rows = pq.read_table(Path(summary["out"]) / "evaluations.parquet", columns=["step", "reward", "feasible"])
    order = np.argsort(rows["step"].to_numpy())
    rewards = rows["reward"].to_numpy().astype(float)[order]
    return best_so_far(rewards, rows["feasible"].to_numpy().astype(bool)[order])


def nas_comparison(n_seeds: int, jobs: int) -> bool:
    """The NAS-table comparison (see the module docstring): prints each agent's mean, median and
    one-sided Mann-Whitney U p-value against random at each budget; True if every goal is met."""
    from scipy.stats import mannwhitneyu

    agents = ("random", *NAS_TESTED, "reinforce")
    table = (("backend", "table"),)
    budget = max(NAS_BUDGETS)
    jobs_ = {(a, s): Job(NAS, a, budget, s, table) for a in agents for s in range(n_seeds)}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        curves = {k: best_curve(s) for k, s in zip(jobs_, pool.map(run_job, jobs_.values()), strict=True)}
    # a smaller budget's best is the same run's best-so-far there: none of these agents plans from
    # the budget (the loop refuses to extend runs of those that do), so a run of 40 asks the same
    bests = {(a, b, s): float(curves[(a, s)][b - 1]) for (a, s) in curves for b in NAS_BUDGETS}
    ok = True
    for budget in NAS_BUDGETS:
        base = [bests[("random", budget, s)] for s in range(n_seeds)]
        base_mean = statistics.mean(base)
        print(
            f"     nas@{budget:<4d} random       mean {base_mean:.3f} median {statistics.median(base):.3f} "
            f"({n_seeds} seeds, best validation accuracy)",
            flush=True,
        )
        for agent in (*NAS_TESTED, "reinforce"):
            vals = [bests[(agent, budget, s)] for s in range(n_seeds)]
            mean = statistics.mean(vals)
            p = float(mannwhitneyu(vals, base, alternative="greater").pvalue)
            met = (p < 0.05) if budget == max(NAS_BUDGETS) else mean > base_mean
            goal = "p < 0.05" if budget == max(NAS_BUDGETS) else "mean above random"
            tested = agent in NAS_TESTED
            ok &= met or not tested
            status = ("PASS " if met else "MISS ") if tested else "     "
            print(
                f"{status}nas@{budget:<4d} {agent:12s} mean {mean:.3f} median {statistics.median(vals):.3f} "
                f"Mann-Whitney p={p:.2g}" + (f" (goal {goal})" if tested else " (printed beside)"),
                flush=True,
            )
    return ok


if __name__ == "__main__":
    raise SystemExit(main())
