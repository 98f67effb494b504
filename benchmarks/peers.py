"""Peer comparisons: archgym's adapters of other optimization libraries beside the library itself
and beside the built-in agents, in one benchmark (issue #21).

The suite's claim is that an adapter *is* the peer optimizer, run under archgym's loop, budget,
seeds and records. Two things have to hold for that, and this script measures both:

1. **Overhead** (``--skip-overhead`` leaves it out). The time of one ask+tell cycle through the
   archgym adapter (``agent.ask(1)`` / ``agent.tell``: translation of the design space,
   forbidden-rule check, quieted logging) against Optuna's own loop on the same problem:
   ``study.ask(fixed distributions)`` / ``study.tell``, with the same sampler (built by the
   adapter's own ``make_sampler``, so the options are identical), the same seed and the same
   number of trials. The objective (Hartmann-6) is evaluated outside the timed part, so only the
   optimizer's side is compared. The two loops run in lockstep, in CPU time, each trial's time
   the fastest of ``--overhead-repeats``: on a shared machine, wall-clock noise dwarfs 50 µs.
   Prints µs per cycle for each, the ratio and the excess in µs (goal: adapter <= 1.1 x native
   + 50 µs), and whether both proposed the same designs (batch size 1 and parameters in the
   space's order should reproduce Optuna exactly). Every Optuna adapter is measured;
   ``optuna.gp`` over fewer trials (``--overhead-gp-trials``), since each of its asks fits a GP.
2. **Search quality** (``--skip-runs`` leaves it out). Every selected agent that fits a problem,
   over ``--seeds`` seeds, through ``archgym.loop.run`` in-process (one process per run from a
   pool of ``--jobs`` processes, torch on one thread each):

   ============  ==================================  =========  ===============================
   key           env                                 budget     best = ...
   ============  ==================================  =========  ===============================
   hartmann6     archgym/Hartmann6-v0                60         best reward (regret: optimum -)
   branin        archgym/Branin-v0                   30         best reward (-value; regret)
   dtlz2         archgym/DTLZ2-v0                    100        hypervolume, reference point
                                                                f = (1.1, 1.1) (the env's);
                                                                gap to the true front's
   nas201        archgym/NASBench201-v0,             100        best validation accuracy (%)
                 backend="table"                                (regret: to the table's largest)
   ============  ==================================  =========  ===============================

   "best" and the hypervolume are the run's ``summary.json`` figures (``best_reward``;
   ``hypervolume``, computed with moocore against the env's reference point), and the optimum is
   what the summary states (``optimal_reward``; ``reference_front_hypervolume``, the hypervolume
   of 2,000 points of DTLZ2's true front). The NAS table declares no optimum, so its regret is
   taken to the largest validation accuracy an evaluation can return (the best cell at its best
   table seed). Wall time is the summary's ``wall_time_s``: the search itself (asks, tells,
   evaluations, records), not process start-up or the import of the agent's library.

   Agents: by default every registered agent, the built-ins and every library's adapters, so a
   new peer library is compared as soon as its plugin registers it; ``--agents`` takes names,
   shell patterns (``'optuna.*'``) and the word ``builtin`` (every name without a library prefix).
   Each runs its defaults, except that an adapter told how many evaluations to plan for
   (Nevergrad's ``budget``, SMAC's ``n_trials``) is told the run's budget. An agent that can't
   search a problem (its class's ``incompatibility``) is skipped and named: single-objective
   agents are not run on DTLZ2 (``--scalarize`` would serve them, but a scalarized best is not a
   hypervolume), and the multi-objective-only ones run only there.

   Each finished run is appended to ``<out>/runs.jsonl`` (one line per problem, budget, agent and
   seed) as soon as it ends, so an interrupted benchmark, run again with the same ``--out``,
   runs only what is missing; a failed run is recorded with its error and retried next time.
   Runs are ordered seed by seed, so a partial file already covers every agent. At the end: one
   table per problem (median over seeds of best, regret or front gap, and wall time).

    python benchmarks/peers.py                          # 10 seeds, every registered agent
    python benchmarks/peers.py --agents builtin 'optuna.*'
    python benchmarks/peers.py --quick                  # 2 seeds: a smoke check
    python benchmarks/peers.py --problems hartmann6 branin --agents bo 'optuna.*' --seeds 20
    python benchmarks/peers.py --skip-runs              # overhead only (seconds)
    python benchmarks/peers.py --out DIR                # default: $TMPDIR/archgym-benchmarks/peers
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import multiprocessing
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

BUILTIN = "builtin"
DEFAULT_AGENTS = ("*",)
OPTUNA_PREFIX = "optuna."
OVERHEAD_GOAL_RATIO, OVERHEAD_GOAL_US = 1.1, 50.0


# --- problems ------------------------------------------------------------------------------------
def _nas_table_optimum() -> float:
    """The largest validation accuracy the NAS-Bench-201 table can answer (any cell, any seed):
    the table backend returns one seed's value per evaluation, so that is the best reward a run
    can reach."""
    from archgym_nas.table import load

    return float(np.max(load().trained["val_accuracy"]))


@dataclass(frozen=True)
class BenchProblem:
    """One problem of the comparison: env, budget, and where its optimum comes from when the run's
    summary does not state one."""

    key: str
    env: str
    budget: int
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    optimum: Callable[[], float] | None = None


PROBLEMS: dict[str, BenchProblem] = {
    p.key: p
    for p in (
        BenchProblem("hartmann6", "archgym/Hartmann6-v0", 60),
        BenchProblem("branin", "archgym/Branin-v0", 30),
        BenchProblem("dtlz2", "archgym/DTLZ2-v0", 100),
        BenchProblem("nas201", "archgym/NASBench201-v0", 100, {"backend": "table"}, _nas_table_optimum),
    )
}


def problem_of_bench(problem: BenchProblem) -> Any:
    """The archgym ``Problem`` an agent would see (design space, objectives), for compatibility."""
    import gymnasium as gym

    from archgym.search import problem_of

    env = gym.make(problem.env, **problem.env_kwargs)
    try:
        return problem_of(env, problem.env)
    finally:
        env.close()


# --- agents --------------------------------------------------------------------------------------
def select_agents(patterns: Iterable[str]) -> list[str]:
    """Registered agent names matching ``patterns`` (shell patterns, case-insensitive; ``builtin``:
    every name without a library prefix), in registry order, each once. A pattern that matches
    nothing is an error, so a typo or a missing library is not a silently smaller benchmark."""
    from archgym.plugins import get_registry

    names = sorted(get_registry().agents)
    chosen: list[str] = []
    for pattern in patterns:
        if pattern == BUILTIN:
            found = [n for n in names if "." not in n]
        else:
            found = [n for n in names if fnmatch.fnmatchcase(n, pattern.lower())]
        if not found:
            sys.exit(f"--agents: {pattern!r} matches no registered agent; registered: {', '.join(names)}")
        chosen += [n for n in found if n not in chosen]
    return chosen


def incompatibility(agent: str, problem: Any) -> str | None:
    """Why ``agent`` can't search ``problem`` (its class says), or None."""
    from archgym.plugins import get_registry

    return get_registry().agent(agent).load().incompatibility(problem)


# --- one run (in a pool worker) ------------------------------------------------------------------
PLANNING_BUDGET = ("budget", "n_trials")
"""Hyperparameters through which an adapter is told how many evaluations to plan for (Nevergrad's
``budget``, SMAC's ``n_trials``): set to the run's budget, as the library's own loop would be."""


def agent_params(agent: str, budget: int) -> dict[str, Any]:
    """The agent's defaults, except a planning budget (:data:`PLANNING_BUDGET`), which is the run's."""
    from archgym.plugins import get_registry

    space = get_registry().agent(agent).hyperparameter_space()
    names = space.names if space is not None else []
    return {name: budget for name in PLANNING_BUDGET if name in names}


@dataclass(frozen=True)
class Job:
    problem: str
    agent: str
    seed: int
    budget: int
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def key(self) -> str:
        params = ",".join(f"{k}={v}" for k, v in self.params)
        return f"{self.problem}@{self.budget}|{self.agent}{f'({params})' if params else ''}|{self.seed}"

    @classmethod
    def of(cls, problem: BenchProblem, agent: str, seed: int) -> Job:
        params = tuple(sorted(agent_params(agent, problem.budget).items()))
        return cls(problem.key, agent, seed, problem.budget, params)


def _worker_init() -> None:
    """One thread per worker process: two runs share the two cores instead of fighting over them."""
    os.environ.setdefault("WANDB_MODE", "disabled")
    import torch

    torch.set_num_threads(1)


def run_job(job: Job, scratch: str) -> dict[str, Any]:
    """Run one (problem, agent, seed) through ``archgym.loop.run`` in a fresh directory, keep the
    figures of its summary, and delete its records (thousands of runs would fill the disk)."""
    from archgym.loop import run

    problem = PROBLEMS[job.problem]
    out = Path(tempfile.mkdtemp(prefix="run-", dir=scratch))
    row: dict[str, Any] = {"key": job.key, "problem": job.problem, "budget": job.budget}
    row |= {"agent": job.agent, "agent_params": dict(job.params), "seed": job.seed}
    start = time.perf_counter()
    try:
        summary = run(
            env=problem.env,
            agent=job.agent,
            budget=job.budget,
            seed=job.seed,
            out=out / "run",
            env_kwargs=problem.env_kwargs,
            agent_params=dict(job.params),
            progress=False,
        )
    except Exception as exc:  # recorded, shown in the table, retried by the next invocation
        return row | {"error": f"{type(exc).__name__}: {exc}"[:500], "total_s": time.perf_counter() - start}
    finally:
        shutil.rmtree(out, ignore_errors=True)
    multi = summary.get("hypervolume") is not None or "reference_front_hypervolume" in summary
    return row | {
        "best": summary["hypervolume"] if multi else summary["best_reward"],
        "optimum": summary.get("reference_front_hypervolume") if multi else summary.get("optimal_reward"),
        "measure": "hypervolume" if multi else "best_reward",
        "n_evaluations": summary["n_evaluations"],
        "n_feasible": summary["n_feasible"],
        "wall_s": summary["wall_time_s"],
        "total_s": time.perf_counter() - start,
    }


# --- checkpoints ---------------------------------------------------------------------------------
def read_checkpoint(path: Path) -> dict[str, dict[str, Any]]:
    """Rows of ``runs.jsonl`` by key, the last line of a key winning; a torn last line (the
    benchmark was killed while appending) is ignored."""
    rows: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        rows[row["key"]] = row
    return rows


def append_checkpoint(path: Path, row: dict[str, Any]) -> None:
    """One line per finished run, flushed and synced, so a kill loses at most the runs in flight."""
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def run_all(jobs: list[Job], out: Path, n_jobs: int) -> dict[str, dict[str, Any]]:
    """Run the jobs not yet in the checkpoint, ``n_jobs`` at a time; returns every row."""
    path = out / "runs.jsonl"
    rows = read_checkpoint(path)
    todo = [j for j in jobs if j.key not in rows or "error" in rows[j.key]]
    print(f"runs: {len(jobs)} in all, {len(jobs) - len(todo)} in {path} already, {len(todo)} to run")
    if not todo:
        return rows
    scratch = out / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    done = 0
    # spawn, not fork: this process may have run torch and Optuna already (the overhead part)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=context, initializer=_worker_init) as pool:
        pending: dict[Future[dict[str, Any]], Job] = {}
        queue = list(todo)
        while queue or pending:
            while queue and len(pending) < 2 * n_jobs:  # a short queue: Ctrl-C leaves little in flight
                job = queue.pop(0)
                pending[pool.submit(run_job, job, str(scratch))] = job
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                job = pending.pop(future)
                row = future.result()
                append_checkpoint(path, row)
                rows[row["key"]] = row
                done += 1
                elapsed = time.perf_counter() - started
                eta = elapsed / done * (len(todo) - done)
                status = row.get("error") or f"best {row['best']:.5g}, {row['wall_s']:.1f} s"
                print(
                    f"  [{done}/{len(todo)}, {elapsed / 60:.1f} min, ~{eta / 60:.0f} min left] "
                    f"{job.problem} {job.agent} seed {job.seed}: {status}",
                    flush=True,
                )
    return rows


# --- the table -----------------------------------------------------------------------------------
def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def print_tables(
    problems: list[BenchProblem],
    agents: list[str],
    rows: dict[str, dict[str, Any]],
    seeds: list[int],
    skipped: dict[str, list[str]],
) -> None:
    """Per problem, one line per agent: seeds done, median best (and range), median regret or
    front gap, median wall time; agents sorted best first."""
    for problem in problems:
        optimum_fallback = problem.optimum() if problem.optimum is not None else None
        lines = []
        for agent in agents:
            runs = [rows.get(Job.of(problem, agent, s).key) for s in seeds]
            ok = [r for r in runs if r is not None and "error" not in r]
            errors = [r["error"] for r in runs if r is not None and "error" in r]
            if not ok and not errors:
                continue
            best = [r["best"] if r["best"] is not None else float("nan") for r in ok]
            optimum = next((r["optimum"] for r in ok if r.get("optimum") is not None), optimum_fallback)
            regret = [optimum - b for b in best] if optimum is not None else []
            med = statistics.median(best) if best else None
            lines.append(
                (
                    -(med if med is not None else -np.inf),
                    agent,
                    f"{len(ok)}/{len(seeds)}",
                    _fmt(med),
                    f"[{_fmt(min(best))}, {_fmt(max(best))}]" if best else "",
                    _fmt(statistics.median(regret)) if regret else "-",
                    _fmt(statistics.median(r["wall_s"] for r in ok), 3) if ok else "-",
                    f"{len(errors)} failed: {errors[0][:80]}" if errors else "",
                )
            )
        multi = any(r.get("measure") == "hypervolume" for r in rows.values() if r["problem"] == problem.key)
        measure, gap = ("hypervolume", "front gap") if multi else ("best", "regret")
        print(f"\n{problem.key}: {problem.env} {problem.env_kwargs or ''} @ {problem.budget} evaluations")
        if multi:
            print(
                "  hypervolume against the env's reference point; front gap: the true front's minus the run's"
            )
        if problem.optimum is not None:
            print(
                f"  regret against {_fmt(optimum_fallback, 6)}, the largest reward an evaluation can return"
            )
        header = ("agent", "seeds", f"median {measure}", "range", f"median {gap}", "median wall s", "")
        table = [header] + [line[1:] for line in sorted(lines)]
        widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
        for r in table:
            print("  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if skipped.get(problem.key):
            print(f"  skipped (can't search it): {', '.join(skipped[problem.key])}")


# --- overhead ------------------------------------------------------------------------------------
def _hartmann6() -> tuple[Any, Callable[[dict[str, Any]], float]]:
    """Hartmann-6's archgym problem and its objective as a plain function of a design (the env's
    own ``evaluate``), so both loops tell the same values."""
    import gymnasium as gym

    from archgym import EvalContext
    from archgym.search import problem_of

    env = gym.make("archgym/Hartmann6-v0")
    inner = env.unwrapped
    rng = np.random.default_rng(0)

    def objective(design: dict[str, Any]) -> float:
        return float(inner.evaluate(design, EvalContext(fidelity=None, rng=rng, step=0))["value"])

    return problem_of(env, "archgym/Hartmann6-v0"), objective


def _lockstep(
    agent: Any, sampler: Any, objective: Callable[[dict[str, Any]], float], n: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """``n`` trials of the adapter (``agent.ask(1)`` + ``agent.tell``) and of Optuna's own loop
    (``study.ask(fixed distributions)`` + ``study.tell``, the study created outside the timing,
    as the adapter's is) in lockstep, which goes first alternating from trial to trial, so a
    burst of load elsewhere on the machine falls on both. The objective is evaluated outside the
    timed parts. Returns each trial's seconds, adapter and native, and whether both proposed the
    same designs. Times are this process's CPU time, so the load of other processes on a shared
    machine (which perturbs wall-clock timings far more than a 50 µs goal) counts only through
    the caches they disturb."""
    import optuna
    from optuna.distributions import FloatDistribution

    from archgym.search import EvalResult

    clock = time.process_time  # CPU time: what other processes on a shared machine take is not ours
    space = agent.space
    distributions = {p.name: FloatDistribution(p.low, p.high, log=p.log) for p in space.parameters}
    study = optuna.create_study(sampler=sampler, direction="maximize")
    adapter_s, native_s = np.zeros(n), np.zeros(n)
    same = True

    def adapter_cycle(i: int) -> dict[str, Any]:
        t0 = clock()
        (design,) = agent.ask(1)
        adapter_s[i] += clock() - t0
        result = EvalResult(
            design=design, reward=objective(design), metrics={}, feasible=True, eval_time_s=0.0
        )
        t0 = clock()
        agent.tell([design], [result])
        adapter_s[i] += clock() - t0
        return dict(design)

    def native_cycle(i: int) -> dict[str, Any]:
        t0 = clock()
        trial = study.ask(distributions)
        native_s[i] += clock() - t0
        design = dict(trial.params)
        value = objective(design)
        t0 = clock()
        study.tell(trial, value)
        native_s[i] += clock() - t0
        return design

    for i in range(n):
        if i % 2:
            native, adapted = native_cycle(i), adapter_cycle(i)
        else:
            adapted, native = adapter_cycle(i), native_cycle(i)
        same = same and adapted == native
    return adapter_s, native_s, same


def measure_overhead(agents: list[str], trials: int, gp_trials: int, repeats: int, seed: int) -> None:
    """Print, per Optuna adapter, µs per ask+tell cycle through archgym and through Optuna, their
    ratio and the excess. Each trial does the same work in every repeat (same seed, same
    designs), so its time is taken as the fastest of ``repeats`` — the one least disturbed by the
    rest of the machine — and the per-trial minima are averaged."""
    import warnings

    import optuna
    import torch

    from archgym.plugins import get_registry

    torch.set_num_threads(1)  # as in the runs; GPSampler fits with torch
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no per-trial INFO lines on either side
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    problem, objective = _hartmann6()
    registry = get_registry()
    print(
        f"\noverhead: Hartmann-6 (6 reals), seed {seed}, one thread, CPU time, adapter and Optuna in "
        f"lockstep; per trial the fastest of {repeats} repeats; goal <= {OVERHEAD_GOAL_RATIO}x native + "
        f"{OVERHEAD_GOAL_US:.0f} µs; load average {os.getloadavg()[0]:.1f}"
    )
    header = ("agent", "trials", "native µs", "adapter µs", "ratio", "excess µs", "goal", "same designs")
    table: list[tuple[str, ...]] = [header]
    for name in agents:
        cls = registry.agent(name).load()
        n = gp_trials if name == "optuna.gp" else trials
        adapter_runs, native_runs, same = [], [], True
        for _ in range(repeats):
            sampler = cls(problem, seed=seed).make_sampler()  # the adapter's own sampler, built afresh
            adapter_s, native_s, same_here = _lockstep(cls(problem, seed=seed), sampler, objective, n)
            adapter_runs.append(adapter_s)
            native_runs.append(native_s)
            same = same and same_here
        adapter_us = 1e6 * float(np.mean(np.min(adapter_runs, axis=0)))
        native_us = 1e6 * float(np.mean(np.min(native_runs, axis=0)))
        met = adapter_us <= OVERHEAD_GOAL_RATIO * native_us + OVERHEAD_GOAL_US
        table.append(
            (
                name,
                str(n),
                f"{native_us:.0f}",
                f"{adapter_us:.0f}",
                f"{adapter_us / native_us:.3f}",
                f"{adapter_us - native_us:+.0f}",
                "met" if met else "MISSED",
                "yes" if same else "no",
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        print(
            "  "
            + "  ".join(
                c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )


# --- main ----------------------------------------------------------------------------------------
def _cpu_model() -> str:
    """The CPU's model name where Linux says it (wall times only compare on the same machine)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "CPU model unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds per (problem, agent): 0 .. N-1")
    parser.add_argument("--quick", action="store_true", help="2 seeds, fewer overhead trials: a smoke check")
    parser.add_argument("--problems", nargs="+", choices=sorted(PROBLEMS), default=list(PROBLEMS))
    parser.add_argument(
        "--agents", nargs="+", default=list(DEFAULT_AGENTS), help="names, patterns, 'builtin'"
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel runs")
    default_out = Path(tempfile.gettempdir()) / "archgym-benchmarks" / "peers"
    parser.add_argument("--out", type=Path, default=default_out, help="checkpoints (runs.jsonl)")
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-runs", action="store_true")
    parser.add_argument(
        "--report-only", action="store_true", help="print the tables from --out's checkpoints, run nothing"
    )
    parser.add_argument("--overhead-trials", type=int, default=300)
    parser.add_argument("--overhead-gp-trials", type=int, default=40)
    parser.add_argument("--overhead-repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = min(args.seeds, 2)
        args.overhead_trials, args.overhead_gp_trials, args.overhead_repeats = 100, 20, 2

    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(
        f"machine: {_cpu_model()}, {os.cpu_count()} cores (using {len(os.sched_getaffinity(0))}); "
        f"{args.jobs} parallel runs; load average {os.getloadavg()[0]:.1f} (other processes slow wall times)"
    )
    agents = select_agents(args.agents)
    print(f"agents: {', '.join(agents)}")

    optuna_agents = [a for a in agents if a.startswith(OPTUNA_PREFIX)]
    if not args.skip_overhead and not args.report_only:
        if optuna_agents:
            measure_overhead(
                optuna_agents, args.overhead_trials, args.overhead_gp_trials, args.overhead_repeats, 0
            )
        else:
            print("\noverhead: no optuna.* agent selected")
    if args.skip_runs:
        return 0

    problems = [PROBLEMS[k] for k in args.problems]
    seeds = list(range(args.seeds))
    jobs: list[Job] = []
    skipped: dict[str, list[str]] = {}
    fits: dict[str, list[str]] = {}
    for problem in problems:
        spec = problem_of_bench(problem)
        for agent in agents:
            why = incompatibility(agent, spec)
            if why is None:
                fits.setdefault(problem.key, []).append(agent)
            else:
                skipped.setdefault(problem.key, []).append(agent)
    for seed in seeds:  # seed-major: a partial checkpoint already covers every agent
        for problem in problems:
            jobs += [Job.of(problem, agent, seed) for agent in fits.get(problem.key, [])]
    print(f"problems: {', '.join(f'{p.key} @{p.budget}' for p in problems)}; seeds 0..{args.seeds - 1}")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.report_only:
        rows = read_checkpoint(args.out / "runs.jsonl")
        print(f"runs: {sum(j.key in rows for j in jobs)} of {len(jobs)} in {args.out / 'runs.jsonl'}")
    else:
        rows = run_all(jobs, args.out, args.jobs)
        print(f"runs took {(time.perf_counter() - started) / 60:.1f} min here")
    print_tables(problems, agents, rows, seeds, skipped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
