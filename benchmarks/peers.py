"""Peer comparisons: archgym's adapters of other optimization libraries (Optuna, Nevergrad, pymoo,
SMAC3) beside the library's own loop and beside the built-in agents, in one benchmark (issues #21
and #25).

The suite's claim is that an adapter *is* the peer optimizer, run under archgym's loop, budget,
seeds and records. This script measures that claim and what it costs, in three parts:

1. **Overhead** (``--skip-overhead`` leaves it out). CPU time per evaluation of one ask+tell cycle
   through the adapter (``agent.ask(batch_size)`` / ``agent.tell``: translation of the design
   space, forbidden-rule check, quieted logging and warnings) against the library's own ask/tell
   loop on the same problem, in the same process (:class:`NativeLoop`: Optuna's
   ``study.ask``/``tell`` with the adapter's sampler; Nevergrad's ``optimizer.ask``/``tell``;
   pymoo's ``algorithm.ask``/``tell`` with a ``StaticProblem``, a whole generation per cycle;
   SMAC's ``smac.ask``/``tell`` with ``TrialValue``), with the same seed and options. The
   objective (Hartmann-6; DTLZ2, the same six-real space, for multi-objective-only agents) is
   evaluated outside the timed parts. The two loops run in lockstep, each cycle's time the
   fastest of ``--overhead-repeats``: on a shared machine, wall-clock noise dwarfs 50 µs. Prints
   µs per evaluation for each, the ratio and the excess (goal: adapter <= 1.1 x native + 50 µs),
   and whether both proposed the same designs (parity). The model-based adapters (GP, random
   forest) are timed over ``--overhead-model-trials`` evaluations, since each of their asks fits a
   model.
2. **Parity** (``--skip-parity``). Each adapter, on each of ``--seeds`` seeds, through a whole
   ``archgym.loop.run`` (in this process) and through its library's own loop, on part 1's
   Hartmann-6 @60 (DTLZ2 @100 for the multi-objective-only pymoo algorithms): on how many seeds
   every design and reward is the same, in order ("parity yes": all of them), and the two sides'
   median best (hypervolume on DTLZ2) side by side. Checkpointed in ``<out>/parity.jsonl``.
   ``smac.blackbox`` is left out unless ``--parity-agents`` names it (over a minute per run).
3. **Search quality** (``--skip-runs`` leaves it out). Every selected agent that fits a problem,
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
   (Nevergrad's ``budget``, SMAC's ``n_trials``) is told the run's budget, and that a pymoo
   population (``pop_size``, default 100, more than any budget here) is a fifth of the budget,
   five generations (:data:`GENERATIONS`). An agent that can't search a problem (its class's
   ``incompatibility``) is skipped and named: single-objective agents are not run on DTLZ2
   (``--scalarize`` would serve them, but a scalarized best is not a hypervolume), and the
   multi-objective-only ones run only there.

   Each finished run is appended to ``<out>/runs.jsonl`` (one line per problem, budget, agent and
   seed) as soon as it ends, so an interrupted benchmark, run again with the same ``--out``,
   runs only what is missing; a failed run is recorded with its error and retried next time.
   Runs are ordered seed by seed, so a partial file already covers every agent. At the end: one
   table per problem (median over seeds of best, regret or front gap, and wall time).

    python benchmarks/peers.py                          # 10 seeds, every registered agent
    python benchmarks/peers.py --agents builtin 'optuna.*'
    python benchmarks/peers.py --quick                  # 2 seeds: a smoke check
    python benchmarks/peers.py --problems hartmann6 branin --agents bo 'optuna.*' --seeds 20
    python benchmarks/peers.py --skip-runs --skip-parity   # overhead only (minutes)
    python benchmarks/peers.py --out DIR --report-only  # reprint parity and runs from DIR's checkpoints
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
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

BUILTIN = "builtin"
DEFAULT_AGENTS = ("*",)
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


GENERATIONS = 5
"""Generations a population-based adapter (pymoo's ``pop_size``) gets within the run's budget."""


def agent_params(agent: str, budget: int) -> dict[str, Any]:
    """The agent's defaults, except a planning budget (:data:`PLANNING_BUDGET`), which is the run's,
    and a pymoo population (``pop_size``, default 100), which is a fifth of the budget: with its
    default, a budget of 30 to 100 would end inside the first, random generation, and pymoo's
    algorithms would all be random search. (An explicit 0, NSGA-III's "one per reference
    direction", is kept.)"""
    from archgym.plugins import get_registry

    spec = get_registry().agent(agent)
    space = spec.hyperparameter_space()
    names = space.names if space is not None else []
    params = {name: budget for name in PLANNING_BUDGET if name in names}
    if "pop_size" in names and space is not None and space.default()["pop_size"]:
        params["pop_size"] = max(4, budget // GENERATIONS)
    return params


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


# --- each library's own loop ---------------------------------------------------------------------
# The overhead and parity parts drive an adapter (``agent.ask``/``agent.tell``, or a whole
# ``archgym.loop.run``) beside the library's own ask/tell loop, written as the library's users write
# it. Both problems used (Hartmann-6 and DTLZ2) have the same space, six reals x1..x6 in [0, 1], so a
# native loop works on that box and its designs compare with the adapter's as they are.
OVERHEAD_PROBLEMS = {False: "archgym/Hartmann6-v0", True: "archgym/DTLZ2-v0"}  # by multi-objective
BOX = tuple(f"x{i}" for i in range(1, 7))
SMAC_HASH_NOTE = (
    "same process, same hash seed. SMAC's local search (LocalAndSortedRandomSearch) collects its start "
    "points in a set of Configurations, hashed by their repr, so the order, and the run, depends on "
    "PYTHONHASHSEED: the native loop and the adapter differ alike from one process to the next unless "
    "PYTHONHASHSEED is fixed"
)
PYMOO_DE_NOTE = (
    "the adapter's crossover rate `cr` defaults to 0.5, pymoo's DE (its Variant) to CR=0.2, so "
    "pymoo.de at its defaults is not pymoo's DE at its defaults; the native loop here is given CR=0.5"
)
PARITY_SKIP = ("smac.blackbox",)
"""Adapters left out of the parity runs unless ``--parity-agents`` names them: SMAC's GP facade
takes over a minute per run on 2 cores, twice per seed (its overhead lockstep still checks that
it proposes SMAC's own designs)."""
MODEL_BASED = ("optuna.gp", "smac.hpo", "smac.blackbox")
"""Adapters whose every ask fits a model (seconds each): timed over ``--overhead-model-trials``."""


class NativeLoop:
    """One library's ask/tell on the box :data:`BOX`, maximizing the reward(s): ``ask`` returns the
    designs of one cycle (one, or a pymoo generation), ``tell`` takes their rewards."""

    def ask(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def tell(self, rewards: list[Any]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the loop holds (SMAC's output directory)."""


class OptunaLoop(NativeLoop):
    """``study.ask(fixed distributions)`` / ``study.tell``, with the adapter's own sampler (built by
    its ``make_sampler``, so the options are identical)."""

    def __init__(self, cls: type, problem: Any, seed: int, params: dict[str, Any]) -> None:
        import optuna
        from optuna.distributions import FloatDistribution

        sampler = cls(problem, seed=seed, **params).make_sampler()
        self.study = optuna.create_study(sampler=sampler, directions=["maximize"] * problem.n_objectives)
        self.distributions = {n: FloatDistribution(0.0, 1.0) for n in BOX}

    def ask(self) -> list[dict[str, Any]]:
        self.trial = self.study.ask(self.distributions)
        return [dict(self.trial.params)]

    def tell(self, rewards: list[Any]) -> None:
        (reward,) = rewards
        self.study.tell(self.trial, np.asarray(reward, dtype=float).tolist())


class NevergradLoop(NativeLoop):
    """``optimizer.ask()`` / ``optimizer.tell(candidate, loss)`` on an ``ng.p.Dict`` of ``Scalar``s
    seeded through its ``random_state`` (Nevergrad's reproducibility recipe)."""

    def __init__(self, optimizer: str, seed: int, budget: int) -> None:
        import nevergrad as ng

        parametrization = ng.p.Dict(**{n: ng.p.Scalar(lower=0.0, upper=1.0) for n in BOX})
        parametrization.random_state = np.random.RandomState(seed)
        self.optimizer = ng.optimizers.registry[optimizer](parametrization=parametrization, budget=budget)

    def ask(self) -> list[dict[str, Any]]:
        self.candidate = self.optimizer.ask()
        return [dict(self.candidate.value)]

    def tell(self, rewards: list[Any]) -> None:
        (reward,) = rewards
        self.optimizer.tell(self.candidate, -float(reward))


def _pymoo_algorithm(agent: str, params: dict[str, Any], n_objectives: int) -> Any:
    """The pymoo algorithm as a pymoo user builds it (pymoo's defaults; the population and, for
    NSGA-III and MOEA/D, Das–Dennis reference directions with 12 partitions for 2 objectives)."""
    from pymoo.algorithms.moo.age import AGEMOEA
    from pymoo.algorithms.moo.moead import MOEAD
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.algorithms.moo.nsga3 import NSGA3
    from pymoo.algorithms.moo.sms import SMSEMOA
    from pymoo.algorithms.soo.nonconvex.de import DE
    from pymoo.algorithms.soo.nonconvex.ga import GA
    from pymoo.util.ref_dirs import get_reference_directions

    pop = params.get("pop_size", 100)
    if agent in ("pymoo.nsga3", "pymoo.moead"):
        ref_dirs = get_reference_directions("das-dennis", n_objectives, n_partitions=12)
        return NSGA3(ref_dirs=ref_dirs) if agent == "pymoo.nsga3" else MOEAD(ref_dirs=ref_dirs)
    if agent == "pymoo.de":  # the adapter's cr (0.5), not pymoo's own default (CR=0.2): see PYMOO_DE_NOTE
        return DE(pop_size=pop, CR=params["cr"])
    build = {"pymoo.ga": GA, "pymoo.nsga2": NSGA2, "pymoo.smsemoa": SMSEMOA}
    return {**build, "pymoo.agemoea": AGEMOEA}[agent](pop_size=pop)


class PymooLoop(NativeLoop):
    """pymoo's ask-and-tell as its documentation writes it: ``algorithm.setup(problem, seed=…)``,
    ``pop = algorithm.ask()``, ``Evaluator().eval(StaticProblem(problem, F=F), pop)``,
    ``algorithm.tell(infills=pop)`` (MOEA/D asks one individual at a time)."""

    def __init__(self, agent: str, seed: int, params: dict[str, Any], n_objectives: int) -> None:
        from pymoo.core.problem import Problem

        self.problem = Problem(n_var=len(BOX), n_obj=n_objectives, xl=0.0, xu=1.0)
        self.algorithm = _pymoo_algorithm(agent, params, n_objectives)
        self.algorithm.setup(self.problem, seed=seed, verbose=False)
        self.n_objectives = n_objectives

    def ask(self) -> list[dict[str, Any]]:
        from pymoo.core.individual import Individual
        from pymoo.core.population import Population

        self.asked = self.algorithm.ask()
        self.pop = Population.create(self.asked) if isinstance(self.asked, Individual) else self.asked
        return [dict(zip(BOX, map(float, x), strict=True)) for x in self.pop.get("X")]

    def tell(self, rewards: list[Any]) -> None:
        from pymoo.core.evaluator import Evaluator
        from pymoo.problems.static import StaticProblem

        F = -np.asarray(rewards, dtype=float).reshape(len(rewards), self.n_objectives)
        Evaluator().eval(StaticProblem(self.problem, F=F), self.pop)
        self.algorithm.tell(infills=self.asked)


class SmacLoop(NativeLoop):
    """SMAC's ask-and-tell (``smac.ask()`` / ``smac.tell(info, TrialValue(cost))``) on a
    ``ConfigurationSpace({name: (0.0, 1.0)}, seed=seed)``, with ``Scenario(seed=seed,
    deterministic=True, n_trials=…)`` in a temporary output directory. Told with ``save=False``,
    as the adapter does: otherwise every tell rewrites SMAC's run-history files, which would be
    timed on one side only."""

    def __init__(self, facade: str, seed: int, n_trials: int) -> None:
        import smac
        from ConfigSpace import ConfigurationSpace

        self.tmp = tempfile.TemporaryDirectory(prefix="peers-smac-")
        cs = ConfigurationSpace({n: (0.0, 1.0) for n in BOX}, seed=seed)
        scenario = smac.Scenario(
            cs, deterministic=True, n_trials=n_trials, seed=seed, output_directory=Path(self.tmp.name)
        )
        cls = {
            "smac.hpo": smac.HyperparameterOptimizationFacade,
            "smac.blackbox": smac.BlackBoxFacade,
            "smac.random": smac.RandomFacade,
        }[facade]

        def target(config: Any, seed: int = 0) -> float:  # ask/tell never calls it
            raise RuntimeError("not called")

        self.smac = cls(scenario, target, overwrite=True, logging_level=False)

    def ask(self) -> list[dict[str, Any]]:
        self.info = self.smac.ask()
        return [{n: float(v) for n, v in dict(self.info.config).items()}]

    def tell(self, rewards: list[Any]) -> None:
        from smac.runhistory import TrialValue

        (reward,) = rewards
        self.smac.tell(self.info, TrialValue(cost=-float(reward)), save=False)

    def close(self) -> None:
        self.tmp.cleanup()


def native_loop(agent: str, problem: Any, seed: int, params: dict[str, Any]) -> NativeLoop:
    """The library's own loop for ``agent`` (its options: ``params``, as the adapter gets them)."""
    from archgym.plugins import get_registry

    library = agent.split(".", 1)[0]
    if library == "optuna":
        return OptunaLoop(get_registry().agent(agent).load(), problem, seed, params)
    if library == "nevergrad":
        optimizer = get_registry().agent(agent).hyperparameter_space()["optimizer"].default_value()
        return NevergradLoop(optimizer, seed, params["budget"])
    if library == "pymoo":  # every option resolved, defaults included (pymoo.de's cr)
        options = get_registry().agent(agent).resolve(params)
        return PymooLoop(agent, seed, options, problem.n_objectives)
    return SmacLoop(agent, seed, params["n_trials"])


def native_agents(agents: list[str]) -> list[str]:
    """The selected adapters that have a native loop here (SMAC's multi-fidelity agents need a
    fidelity, which neither overhead problem has)."""
    from archgym.plugins import get_registry

    libraries = ("optuna.", "nevergrad.", "pymoo.", "smac.hpo", "smac.blackbox", "smac.random")
    registry = get_registry()
    chosen = []
    for agent in agents:
        if agent.startswith(libraries) and _problem_for(agent, registry) is not None:
            chosen.append(agent)
    return chosen


_PROBLEM_CACHE: dict[str, Any] = {}


def _archgym_problem(env_id: str) -> Any:
    if env_id not in _PROBLEM_CACHE:
        import gymnasium as gym

        from archgym.search import problem_of

        env = gym.make(env_id)
        try:
            _PROBLEM_CACHE[env_id] = problem_of(env, env_id)
        finally:
            env.close()
    return _PROBLEM_CACHE[env_id]


def _problem_for(agent: str, registry: Any = None) -> str | None:
    """Hartmann-6 for an agent that searches one objective, else DTLZ2 (None: neither)."""
    from archgym.plugins import get_registry

    cls = (registry or get_registry()).agent(agent).load()
    for env_id in OVERHEAD_PROBLEMS.values():
        if cls.incompatibility(_archgym_problem(env_id)) is None:
            return env_id
    return None


class Objective:
    """An env's reward as a plain function of a design (reset, then one step), so the adapter and
    the native loop are told the same values; evaluated outside every timed part."""

    def __init__(self, env_id: str) -> None:
        import gymnasium as gym

        import archgym  # noqa: F401  (registers the archgym/ envs)

        self.env = gym.make(env_id)
        self.space = self.env.unwrapped.design_space

    def __call__(self, design: dict[str, Any]) -> Any:
        self.env.reset(seed=0)
        reward = self.env.step(self.space.to_action(design))[1]
        return np.asarray(reward, dtype=float) if np.ndim(reward) else float(reward)


@dataclass
class Lockstep:
    """Per cycle: the adapter's and the native loop's seconds (CPU) and evaluations, and whether
    both proposed the same designs throughout; each side's rewards, in order."""

    adapter_s: np.ndarray
    native_s: np.ndarray
    evaluations: np.ndarray
    same: bool
    adapter_rewards: list[Any]
    native_rewards: list[Any]


def lockstep(agent: str, seed: int, n: int, objective: Objective, params: dict[str, Any]) -> Lockstep:
    """``n`` evaluations (rounded up to a whole cycle) of the adapter (``agent.ask(batch_size)`` +
    ``agent.tell``) and of the library's own loop in lockstep, both built outside the timing;
    which goes first alternates from cycle to cycle, so a burst of load elsewhere on the machine
    falls on both. The objective is evaluated outside the timed parts. Times are this process's
    CPU time: what other processes take on a shared machine (which perturbs wall-clock timings
    far more than a 50 µs goal) counts only through the caches they disturb."""
    from archgym.plugins import get_registry
    from archgym.search import EvalResult

    clock = time.process_time
    problem = _archgym_problem(_problem_for(agent) or "")
    adapter = get_registry().agent(agent).load()(problem, seed=seed, **params)
    native = native_loop(agent, problem, seed, params)
    adapter_s: list[float] = []
    native_s: list[float] = []
    evaluations: list[int] = []
    adapter_rewards: list[Any] = []
    native_rewards: list[Any] = []
    same = True

    def adapter_cycle() -> list[dict[str, Any]]:
        t0 = clock()
        designs = adapter.ask(adapter.batch_size)
        seconds = clock() - t0
        rewards = [objective(d) for d in designs]
        results = [
            EvalResult(design=d, reward=r, metrics={}, feasible=True, eval_time_s=0.0)
            for d, r in zip(designs, rewards, strict=True)
        ]
        t0 = clock()
        adapter.tell(designs, results)
        adapter_s.append(seconds + clock() - t0)
        adapter_rewards.extend(rewards)
        return [dict(d) for d in designs]

    def native_cycle() -> list[dict[str, Any]]:
        t0 = clock()
        designs = native.ask()
        seconds = clock() - t0
        rewards = [objective(d) for d in designs]
        t0 = clock()
        native.tell(rewards)
        native_s.append(seconds + clock() - t0)
        native_rewards.extend(rewards)
        return designs

    try:
        while sum(evaluations) < n:
            if len(evaluations) % 2:
                theirs, ours = native_cycle(), adapter_cycle()
            else:
                ours, theirs = adapter_cycle(), native_cycle()
            same = same and ours == theirs
            evaluations.append(len(ours))
    finally:
        native.close()
        with tempfile.TemporaryDirectory() as scratch:
            adapter.finish(Path(scratch))  # SMAC's agents remove their output directory
    return Lockstep(
        np.array(adapter_s), np.array(native_s), np.array(evaluations), same, adapter_rewards, native_rewards
    )


def measure_overhead(agents: list[str], trials: int, model_trials: int, repeats: int, seed: int) -> None:
    """Print, per adapter, µs per evaluation of its ask+tell through archgym and through the
    library's own loop, their ratio and the excess, and whether both proposed the same designs.
    Each cycle does the same work in every repeat (same seed, same designs), so its time is the
    fastest of ``repeats`` — the one least disturbed by the rest of the machine — and the
    per-cycle minima are summed over the evaluations."""
    import optuna
    import torch

    torch.set_num_threads(1)  # as in the runs; GPSampler and SMAC's GP fit with torch or numpy
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no per-trial INFO lines on either side
    print(
        f"\noverhead: Hartmann-6 (6 reals; DTLZ2, same space, for multi-objective-only agents), seed "
        f"{seed}, one thread, CPU time per evaluation, adapter (agent.ask/tell) and the library's own "
        f"ask/tell in lockstep; per cycle the fastest of {repeats} repeats; goal <= "
        f"{OVERHEAD_GOAL_RATIO}x native + {OVERHEAD_GOAL_US:.0f} µs; load average {os.getloadavg()[0]:.1f}"
    )
    header = ("agent", "problem", "evals", "native µs", "adapter µs", "ratio", "excess µs", "goal", "parity")
    table: list[tuple[str, ...]] = [header]
    for name in agents:
        env_id = _problem_for(name) or ""
        n = model_trials if name in MODEL_BASED else trials
        objective = Objective(env_id)
        params = agent_params(name, n)
        runs = [lockstep(name, seed, n, objective, params) for _ in range(repeats)]
        evaluations = int(runs[0].evaluations.sum())
        adapter_us = 1e6 * float(np.min([r.adapter_s for r in runs], axis=0).sum()) / evaluations
        native_us = 1e6 * float(np.min([r.native_s for r in runs], axis=0).sum()) / evaluations
        met = adapter_us <= OVERHEAD_GOAL_RATIO * native_us + OVERHEAD_GOAL_US
        table.append(
            (
                name,
                env_id.split("/")[-1].removesuffix("-v0"),
                str(evaluations),
                f"{native_us:,.0f}",
                f"{adapter_us:,.0f}",
                f"{adapter_us / native_us:.3f}",
                f"{adapter_us - native_us:+,.0f}",
                "met" if met else "MISSED",
                "yes" if all(r.same for r in runs) else "no",
            )
        )
    _print_table(table)
    print("  parity: the adapter proposed exactly the native loop's designs, in order, in every repeat")


def _print_table(table: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        cells = [c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        print("  " + "  ".join(cells).rstrip())


# --- parity: a whole archgym run against the library's own loop, over seeds ----------------------
def _hypervolume(rewards: list[Any], reference: Any) -> float:
    """Hypervolume of reward vectors (maximized) against ``reference``, with moocore, counting
    the points that dominate the reference point (as the run summary does)."""
    import moocore

    points = np.asarray(rewards, dtype=float)
    inside = points[np.all(points > np.asarray(reference, dtype=float), axis=1)]
    return float(moocore.hypervolume(inside, ref=reference, maximise=True)) if len(inside) else 0.0


def parity_job(agent: str, seed: int, budget: int, out: Path) -> dict[str, Any]:
    """One seed of ``agent`` through ``archgym.loop.run`` (in this process) and through the
    library's own loop, with the same options and seed on the same problem: whether every
    evaluated design and reward is the same, in order, and each side's best (hypervolume for
    DTLZ2) and wall time."""
    import pyarrow.parquet as pq

    from archgym.loop import run

    env_id = _problem_for(agent) or ""
    problem = _archgym_problem(env_id)
    params = agent_params(agent, budget)
    run_dir = Path(tempfile.mkdtemp(prefix="parity-", dir=out))
    try:
        start = time.perf_counter()
        run(
            env=env_id,
            agent=agent,
            budget=budget,
            seed=seed,
            out=run_dir,
            agent_params=params,
            progress=False,
        )
        ours_s = time.perf_counter() - start
        table = pq.read_table(run_dir / "evaluations.parquet").sort_by("step").to_pylist()
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    ours = [{n: row[f"param.{n}"] for n in BOX} for row in table]
    reward_columns = [c for c in (table[0] if table else {}) if c == "reward" or c.startswith("reward.")]
    ours_rewards = [[row[c] for c in reward_columns] for row in table]
    objective = Objective(env_id)
    start = time.perf_counter()
    native, theirs, rewards = native_loop(agent, problem, seed, params), [], []
    try:
        while len(theirs) < budget:
            designs = native.ask()[: budget - len(theirs)]  # a last, partial generation is never told
            values = [objective(d) for d in designs]
            theirs += designs
            rewards += values
            if len(theirs) < budget:
                native.tell(values)
    finally:
        native.close()
    native_s = time.perf_counter() - start
    theirs_rewards = [np.atleast_1d(r).tolist() for r in rewards]
    multi = problem.n_objectives > 1
    best = (lambda r: _hypervolume(r, problem.reference_point)) if multi else (lambda r: float(np.max(r)))
    return {
        "key": f"{env_id}@{budget}|{agent}|{seed}",
        "agent": agent,
        "env": env_id,
        "seed": seed,
        "same": ours == theirs and ours_rewards == theirs_rewards,
        "first_difference": next(
            (i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b), None
        ),
        "n": len(ours),
        "best": best(ours_rewards),
        "native_best": best(theirs_rewards),
        "measure": "hypervolume" if multi else "best reward",
        "wall_s": ours_s,
        "native_wall_s": native_s,
    }


def parity_budget(agent: str) -> tuple[str, int]:
    """The problem and budget of ``agent``'s parity runs: part 1's Hartmann-6 @60, or DTLZ2 @100
    for an agent that searches only several objectives."""
    env_id = _problem_for(agent) or ""
    key = "hartmann6" if env_id == OVERHEAD_PROBLEMS[False] else "dtlz2"
    return env_id, PROBLEMS[key].budget


def run_parity(agents: list[str], seeds: list[int], out: Path, run_missing: bool) -> None:
    """Each adapter on each seed through archgym and through its library's own loop (checkpointed
    in ``<out>/parity.jsonl`` like the runs), then the table: on how many seeds the two are the
    same run, and their median results side by side."""
    path = out / "parity.jsonl"
    rows = read_checkpoint(path)
    keys = {(a, s): "{}@{}|{}|{}".format(*parity_budget(a), a, s) for a in agents for s in seeds}
    todo = [(a, s) for s in seeds for a in agents if keys[a, s] not in rows or "error" in rows[keys[a, s]]]
    print(
        f"\nparity: {len(keys)} pairs of runs, {len(keys) - len(todo)} in {path} already, {len(todo)} to run"
    )
    if run_missing and todo:
        scratch = out / "scratch"
        scratch.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        for done, (agent, seed) in enumerate(todo, 1):
            try:
                row = parity_job(agent, seed, parity_budget(agent)[1], scratch)
            except Exception as exc:  # recorded, shown, retried by the next invocation
                row = {
                    "key": keys[agent, seed],
                    "agent": agent,
                    "seed": seed,
                    "error": f"{type(exc).__name__}: {exc}"[:500],
                }
            append_checkpoint(path, row)
            rows[row["key"]] = row
            status = (
                row.get("error")
                or f"{'same' if row['same'] else 'DIFFERENT'}, {row['best']:.5g} vs {row['native_best']:.5g}"
            )
            print(
                f"  [{done}/{len(todo)}, {(time.perf_counter() - started) / 60:.1f} min] "
                f"{agent} seed {seed}: {status}",
                flush=True,
            )
    print_parity(agents, seeds, keys, rows)


def print_parity(
    agents: list[str], seeds: list[int], keys: dict[tuple[str, int], str], rows: dict[str, dict[str, Any]]
) -> None:
    print(
        "\nparity: each adapter through archgym.loop.run and through its library's own ask/tell loop, same "
        "seed, options and problem;\n  'same runs': every design and reward identical, in order; medians "
        "over seeds side by side (best reward; hypervolume on DTLZ2)"
    )
    header = (
        "agent",
        "problem",
        "same runs",
        "parity",
        "archgym median",
        "native median",
        "archgym s",
        "native s",
        "",
    )
    table: list[tuple[str, ...]] = [header]
    for agent in agents:
        found = [rows[keys[agent, s]] for s in seeds if keys[agent, s] in rows]
        ok = [r for r in found if "error" not in r]
        errors = [r["error"] for r in found if "error" in r]
        if not ok:
            if errors:
                table.append((agent, "", "", "", "", "", "", "", f"failed: {errors[0][:80]}"))
            continue
        same = sum(r["same"] for r in ok)
        differences = sorted(r["first_difference"] for r in ok if r["first_difference"] is not None)
        note = f"first difference at evaluation {differences[0]}" if differences else ""
        table.append(
            (
                agent,
                "{}@{}".format(ok[0]["env"].split("/")[-1].removesuffix("-v0"), ok[0]["n"]),
                f"{same}/{len(ok)}",
                "yes" if same == len(ok) else "no",
                _fmt(statistics.median(r["best"] for r in ok), 5),
                _fmt(statistics.median(r["native_best"] for r in ok), 5),
                _fmt(statistics.median(r["wall_s"] for r in ok), 3),
                _fmt(statistics.median(r["native_wall_s"] for r in ok), 3),
                note + (f"; {len(errors)} failed" if errors else ""),
            )
        )
    _print_table(table)
    if any(a.startswith("smac.") for a in agents):
        print(f"  smac.*: {SMAC_HASH_NOTE}")
    if "pymoo.de" in agents:
        print(f"  pymoo.de: {PYMOO_DE_NOTE}")


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
    parser.add_argument("--skip-parity", action="store_true")
    parser.add_argument("--skip-runs", action="store_true")
    parser.add_argument(
        "--report-only", action="store_true", help="print the tables from --out's checkpoints, run nothing"
    )
    parser.add_argument("--overhead-trials", type=int, default=300)
    parser.add_argument(
        "--overhead-model-trials",
        "--overhead-gp-trials",
        type=int,
        default=40,
        help=f"evaluations timed for the model-based adapters ({', '.join(MODEL_BASED)})",
    )
    parser.add_argument("--overhead-repeats", type=int, default=3)
    parser.add_argument(
        "--parity-agents",
        nargs="+",
        default=[],
        help=f"adapters compared with their library's own loop over seeds (default: every selected "
        f"adapter but {', '.join(PARITY_SKIP)})",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = min(args.seeds, 2)
        args.overhead_trials, args.overhead_model_trials, args.overhead_repeats = 100, 20, 2

    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(
        f"machine: {_cpu_model()}, {os.cpu_count()} cores (using {len(os.sched_getaffinity(0))}); "
        f"{args.jobs} parallel runs; load average {os.getloadavg()[0]:.1f} (other processes slow wall times)"
    )
    agents = select_agents(args.agents)
    print(f"agents: {', '.join(agents)}")
    warnings.filterwarnings(
        "ignore"
    )  # the libraries' own loops warn as they please; the adapters quiet theirs
    args.out.mkdir(parents=True, exist_ok=True)

    adapters = native_agents(agents)
    if not args.skip_overhead and not args.report_only:
        if adapters:
            measure_overhead(
                adapters, args.overhead_trials, args.overhead_model_trials, args.overhead_repeats, 0
            )
        else:
            print("\noverhead: no adapter of another library selected")
    parity = [a for a in adapters if args.parity_agents or a not in PARITY_SKIP]
    if args.parity_agents:
        parity = [a for a in parity if any(fnmatch.fnmatchcase(a, p.lower()) for p in args.parity_agents)]
    if not args.skip_parity and parity:
        run_parity(parity, list(range(args.seeds)), args.out, run_missing=not args.report_only)
        left = [a for a in adapters if a not in parity]
        if left:
            print(f"  not compared here (--parity-agents names them): {', '.join(left)}")
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
