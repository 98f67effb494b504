"""The ``archgym`` command line: list envs and agents, run an agent on an env, run and report
campaigns, export and collect datasets, train proxy models."""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from archgym.loop.config import BUDGET_MAX, MEMORY_MAX_MB, SEED_MAX, TIMEOUT_MAX, WORKERS_MAX
from archgym.plugins import MissingExtra

__all__ = ["build_parser", "main"]


def _key_text(text: str) -> tuple[str, str]:
    """``k=v``, ``v`` kept as text: agent hyperparameters are parsed by their declared type."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, raw


def _outcome_constraint(text: str) -> str:
    """``--constraint METRIC<=BOUND``: checked here, kept as text (what run.json stores)."""
    from archgym.spaces import parse_outcome_constraint

    try:
        parse_outcome_constraint(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip()


def _key_value(text: str) -> tuple[str, Any]:
    """``k=v`` with ``v`` read as JSON where it parses (numbers, true/false, lists), else a string:
    env constructors declare no types the CLI could parse by."""
    key, raw = _key_text(text)
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


class _Parser(argparse.ArgumentParser):
    """Usage mistakes as one line on stderr (exit 2), like every other archgym error."""

    def error(self, message: str) -> NoReturn:
        message = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int_option(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer in ``[low, high]``; the message names the legal values."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not an integer; legal values: integers {low} to {high}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{text!r} is out of range; legal values: integers {low} to {high}"
            )
        return value

    parse.kind = "int"  # type: ignore[attr-defined]
    return parse


def _float_option(high: float | None = None, *, below: float | None = None) -> Callable[[str], float]:
    """An argparse type: a finite number ``> 0`` (and ``<= high`` / ``< below``)."""
    legal = "legal values: finite numbers > 0"
    legal += "" if high is None else f" and <= {high:g}"
    legal += "" if below is None else f" and < {below:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number; {legal}") from None
        if (
            not math.isfinite(value)
            or value <= 0
            or (high is not None and value > high)
            or (below is not None and value >= below)
        ):
            raise argparse.ArgumentTypeError(f"{text!r} is not legal; {legal}")
        return value

    parse.kind = "float"  # type: ignore[attr-defined]
    return parse


def _path(text: str) -> str:
    """An argparse type: a file or directory name; an empty one would mean the current directory."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not legal; legal values: a non-empty path")
    if "\0" in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not legal; legal values: a path without NUL bytes")
    return text


_path.kind = "path"  # type: ignore[attr-defined]
_SEED = _int_option(0, SEED_MAX)
PRETRAIN_MIN, PRETRAIN_MAX = 10, 1_000_000
"""Sampled designs ``proxy train --pretrain`` may pretrain on (besides 0, none): fewer can't fit the
first stage's network (``archgym.proxy.Pretrained`` refuses them); every design costs its free
statistics and a row of that network's training."""


def _pretrain(text: str) -> int:
    """An argparse type: 0 (no pretraining) or a number of designs to pretrain on."""
    legal = f"legal values: 0 (no pretraining) or integers {PRETRAIN_MIN} to {PRETRAIN_MAX}"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; {legal}") from None
    if value != 0 and not PRETRAIN_MIN <= value <= PRETRAIN_MAX:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range; {legal}")
    return value


_pretrain.kind = "int"  # type: ignore[attr-defined]
_WORKERS = _int_option(1, WORKERS_MAX)
_TIMEOUT = _float_option(TIMEOUT_MAX)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand; numbers and paths are checked as they are parsed."""
    parser = _Parser(
        prog="archgym",
        description="Design and hyperparameter problems as Gymnasium envs, driven by one loop.",
    )
    parser.add_argument("--version", action="version", version=f"archgym {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    envs = sub.add_parser(
        "envs",
        help="list registered envs (and broken plugins)",
        description="List every registered archgym env with its parameters, "
        "objectives and fidelity, and any plugin that failed to load.",
    )
    envs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    envs.add_argument(
        "--details",
        metavar="ID",
        default=None,
        help="one env in full: constructor arguments (defaults, legal values), fidelity, typical cost "
        "per evaluation, metrics, constraints and its doc page",
    )

    agents = sub.add_parser(
        "agents",
        help="list agents and their hyperparameters",
        description="List every registered agent with its hyperparameters (type, default, legal range).",
    )
    agents.add_argument("--json", action="store_true", help="print JSON instead of a table")

    run = sub.add_parser(
        "run",
        help="run an agent on an env for a budget of evaluations",
        description="Run AGENT on ENV for BUDGET evaluations. Writes OUT/evaluations.parquet (one row "
        "per evaluation), OUT/summary.json (best reward and design, provenance) and a crash-safe "
        "OUT/journal.jsonl; a killed run continues with --resume OUT.",
    )
    run.add_argument(
        "--env", help="env id, e.g. archgym/Branin-v0 (see `archgym envs`); 'module:id' imports module first"
    )
    run.add_argument("--agent", help="agent name (see `archgym agents`)")
    run.add_argument(
        "--budget",
        type=_int_option(1, BUDGET_MAX),
        help="number of evaluations (may be omitted with --cost-budget or --time-budget; with several "
        "limits, the first reached stops the run)",
    )
    run.add_argument(
        "--seed", type=_SEED, default=None, help="seeds the agent and every evaluation (default 0)"
    )
    run.add_argument(
        "--seeds",
        type=_seed_list,
        default=None,
        metavar="A-B|A,B,…",
        help="run once per seed (0-9, or 0,3,7), into OUT/seed-<s>/, then print the comparison table",
    )
    run.add_argument(
        "--jobs",
        type=_int_option(1, 1024),
        default=1,
        metavar="N",
        help="with --seeds: runs side by side in N processes (--workers stays the workers inside a run)",
    )
    run.add_argument("--out", type=_path, help="output directory (must not hold a run already)")
    run.add_argument(
        "--env-kwarg",
        action="append",
        type=_key_value,
        default=[],
        metavar="K=V",
        help="keyword argument for the env constructor (repeatable); V is read as JSON where possible",
    )
    run.add_argument(
        "--constraint",
        action="append",
        type=_outcome_constraint,
        default=[],
        metavar="METRIC<=BOUND",
        help="an outcome constraint (repeatable): METRIC<=BOUND or METRIC>=BOUND, in the metric's "
        "unit; an evaluation violating one is infeasible and its violation is recorded as "
        "constraint.<metric>_max/_min (adds to or tightens the env's own; DesignEnvs only)",
    )
    run.add_argument(
        "--agent-param",
        action="append",
        type=_key_text,
        default=[],
        metavar="K=V",
        help="agent hyperparameter (repeatable), validated against `archgym agents`",
    )
    run.add_argument(
        "--workers",
        type=_WORKERS,
        default=1,
        help="worker processes evaluating each batch in parallel (default 1: in-process). "
        "Results don't depend on it",
    )
    run.add_argument(
        "--timeout",
        type=_TIMEOUT,
        default=None,
        metavar="S",
        help="per-evaluation limit in seconds; a slower evaluation is killed and recorded as "
        "infeasible (runs evaluations in worker processes; ask/tell agents only: an agent "
        "that steps the env itself, such as rl, runs in-process)",
    )
    run.add_argument(
        "--max-memory-mb",
        type=_float_option(MEMORY_MAX_MB),
        default=None,
        metavar="MB",
        help="per-evaluation memory limit: the loop watches each worker's resident memory (with "
        "its child processes') and kills one that uses more than MB megabytes; that evaluation is "
        "recorded as infeasible and the run goes on with a fresh worker (runs evaluations in "
        "worker processes; not with --dask)",
    )
    run.add_argument(
        "--isolate",
        action="store_true",
        help="evaluate in a worker process even with --workers 1: a simulator that kills "
        "its process (segfault, out of memory) is then recorded infeasible and the run goes "
        "on (also with --resume; not stored with the run)",
    )
    run.add_argument(
        "--scalarize",
        default=None,
        metavar="METHOD:W1,W2,…",
        help="turn a multi-objective env into a single-objective one for single-objective "
        "agents: weighted:W1,W2,… or chebyshev:W1,W2,…",
    )
    run.add_argument(
        "--schedule",
        choices=("sync", "async"),
        default="sync",
        help="sync (default): the agent's batches, each told whole, so records don't depend on "
        "--workers; async: a free worker gets the next proposal at once and each result is told "
        "as it finishes (records then depend on completion order)",
    )
    run.add_argument(
        "--simulate-time",
        action="store_true",
        help="evaluate at once in this process and order completions by each evaluation's "
        "declared duration over --workers simulated workers (the NAS table, proxy backends, "
        "analytic problems; exactly reproducible); records carry simulated start_s/finish_s",
    )
    run.add_argument(
        "--time-budget",
        type=_float_option(),
        default=None,
        metavar="S",
        help="also stop asking once S seconds have passed on the run's clock (real, or simulated "
        "with --simulate-time); evaluations already running finish",
    )
    run.add_argument(
        "--cost-budget",
        type=_float_option(),
        default=None,
        metavar="C",
        help="also stop once the evaluations' cost reaches C full-fidelity evaluations (an "
        "evaluation at fidelity v costs v/highest; multi-fidelity agents); --budget may then be omitted",
    )
    run.add_argument(
        "--resume",
        type=_path,
        metavar="DIR",
        default=None,
        help="continue the killed run in DIR from its journal (other options are taken "
        "from DIR/run.json); finished evaluations are not repeated. With --budget N (larger than "
        "the run's), extend a run to N evaluations, as if it had been started with N",
    )
    run.add_argument(
        "--dask",
        default=None,
        metavar="ADDRESS",
        help="evaluate on a Dask cluster (scheduler address, or 'local' for a LocalCluster of "
        "--workers processes) instead of local workers; results don't depend on it. Needs "
        "pip install 'archgym[dask]'",
    )
    run.add_argument(
        "--trust-model",
        action="store_true",
        help="allow the proxy backend to unpickle the model file the run names (unpickling runs "
        "code: only for files you made or trust). Also with --resume; never stored with the run, "
        "so a resume needs it again (or ARCHGYM_TRUST_MODELS=1)",
    )
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    dataset = sub.add_parser(
        "dataset",
        help="export or collect proxy-cost datasets",
        description="Proxy-cost datasets (docs/dataset.md).",
    )
    dsub = dataset.add_subparsers(dest="dataset_command", required=True)
    export = dsub.add_parser(
        "export",
        help="merge the records of runs into one dataset with a card",
        description="Merge the records of RUN_DIRs (killed runs too: their journals are consolidated) "
        "into FILE (.parquet or .csv) with the records schema, and write FILE.card.json / FILE.card.md.",
    )
    export.add_argument(
        "inputs", type=_path, nargs="+", metavar="RUN_DIR", help="run directories (or exported datasets)"
    )
    export.add_argument(
        "-o", "--out", type=_path, required=True, metavar="FILE", help="dataset file (.parquet or .csv)"
    )
    collect = dsub.add_parser(
        "collect",
        help="evaluate a space-filling sample of an env",
        description="Evaluate N designs of a scrambled Sobol (or Latin hypercube) sample through the "
        "core loop into DIR; run it again with the same arguments to resume a killed collection.",
    )
    collect.add_argument("--env", required=True, help="env id, e.g. archgym/SystolicArray-v0")
    collect.add_argument("--n", type=_int_option(1, BUDGET_MAX), required=True, help="number of designs")
    collect.add_argument(
        "--out", type=_path, required=True, metavar="DIR", help="run directory (resumed if it exists)"
    )
    collect.add_argument("--workers", type=_WORKERS, default=1, help="worker processes (default 1)")
    collect.add_argument("--seed", type=_SEED, default=0, help="seeds the sample and every evaluation")
    collect.add_argument("--method", choices=["sobol", "lhs"], default="sobol", help="default sobol")
    collect.add_argument("--timeout", type=_TIMEOUT, default=None, metavar="S", help="per-evaluation limit")
    collect.add_argument(
        "--env-kwarg",
        action="append",
        type=_key_value,
        default=[],
        metavar="K=V",
        help="env constructor argument (repeatable); V is read as JSON where possible",
    )
    collect.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    bench = sub.add_parser(
        "bench",
        help="run a campaign: envs x agents x hyperparameter settings x seeds",
        description="Run the campaign file CAMPAIGN (TOML, docs/campaigns.md) into DIR: every setting of "
        "every agent on the tuning seeds, then each agent's best setting on the test seeds. Finished runs "
        "are skipped and killed ones resumed, so rerunning after a kill repeats nothing. Writes "
        "DIR/runs.parquet and DIR/evaluations.parquet.",
    )
    bench.add_argument("campaign", type=_path, metavar="CAMPAIGN", help="campaign file (.toml)")
    bench.add_argument(
        "--out", type=_path, required=True, metavar="DIR", help="campaign directory (resumed if it exists)"
    )
    bench.add_argument(
        "--workers",
        type=_int_option(0, WORKERS_MAX),
        default=None,
        help="runs executed at once in local worker processes (default: the file's "
        "'workers'; 0: one after the other in this process)",
    )
    bench.add_argument(
        "--dask",
        default=None,
        metavar="ADDRESS",
        help="run on a Dask cluster (scheduler address, or 'local' for a LocalCluster of "
        "--workers processes); needs pip install 'archgym[dask]'",
    )
    bench.add_argument(
        "--trust-model",
        action="store_true",
        help="allow every run whose env uses the proxy backend to unpickle its model file "
        "(unpickling runs code: only for files you made or trust); handed to each run, never "
        "read from the campaign file (which may not set trust_model)",
    )
    bench.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    report = sub.add_parser(
        "report",
        help="figures and tables of a campaign",
        description="Write DIR/report/report.md and report.html with PNG figures: best-so-far and "
        "hypervolume curves, rank over budget, final-performance tables, critical-difference diagram, "
        "ECDFs of normalised regret, MAP-Elites archives and the hyperparameter-lottery view.",
    )
    report.add_argument(
        "directory", type=_path, metavar="DIR", help="a campaign directory written by `archgym bench`"
    )

    comp = sub.add_parser(
        "compare",
        help="several runs side by side",
        description="Group runs by a run.json key and print a final-result table with ranks; write "
        "report.html with the median and IQR best-so-far curves. No campaign file needed.",
    )
    comp.add_argument("run_dirs", type=_path, nargs="+", metavar="RUN_DIR", help="run directories")
    comp.add_argument(
        "--by", default="agent", choices=("agent", "env_id", "seed", "agent_params", "env_kwargs")
    )
    comp.add_argument(
        "--out", type=_path, default=Path("compare"), metavar="DIR", help="where to write the report"
    )

    show = sub.add_parser(
        "show",
        help="what one run found and how it got there",
        description="Print a run's summary, best designs, feasibility, regret against the env's known "
        "optimum and time spent, and write report.html with figures (best so far against evaluations "
        "and time, the Pareto front, a MAP-Elites archive in the env's units, each parameter against the "
        "reward; for a fidelity env, the best confirmed at full fidelity). Works on killed runs; never "
        "modifies the run's records.",
    )
    show.add_argument("run_dir", type=_path, metavar="RUN_DIR", help="a run directory")
    show.add_argument(
        "--out",
        type=_path,
        default=None,
        metavar="DIR",
        help="where to write the report (default RUN_DIR/show)",
    )
    show.add_argument("--top", type=_int_option(1, 1000), default=5, metavar="K", help="best designs listed")

    export = sub.add_parser(
        "export-optuna",
        help="write runs into an Optuna journal storage (browse with optuna-dashboard)",
        description="Write each run as one study into an Optuna journal file: parameters with their "
        "distributions, values in each objective's direction, infeasible evaluations as failed "
        "trials, metrics as user attributes. Then: optuna-dashboard FILE (pip install "
        "optuna-dashboard). The runs are only read.",
    )
    export.add_argument("run_dirs", nargs="+", type=_path, metavar="RUN_DIR", help="run directories")
    export.add_argument(
        "--storage", type=_path, required=True, metavar="FILE", help="the journal file (created if absent)"
    )

    proxy = sub.add_parser("proxy", help="train proxy cost models", description="Proxy cost models.")
    psub = proxy.add_subparsers(dest="proxy_command", required=True)
    train = psub.add_parser(
        "train",
        help="fit proxy models of metrics on a dataset",
        description="Fit, per target metric, random-forest, gradient-boosting and extremely randomised "
        "trees models (log target "
        "where it spans two decades or more; the kind picked by validation RMSE) on DATASET's feasible "
        "rows; report test RMSE, relative RMSE, R2, "
        "Kendall tau against mean and linear baselines, and the speedup over a real evaluation. The env's "
        "free statistics are features (--no-statistics: none), and --pretrain N pretrains on them. Writes "
        "MODEL (a joblib pickle of the fitted models, served through ONNX Runtime) and MODEL.card.json.",
    )
    train.add_argument("dataset", type=_path, metavar="DATASET", help="exported dataset or run directory")
    train.add_argument("--target", nargs="+", required=True, metavar="METRIC", help="metrics to model")
    train.add_argument(
        "-o", "--out", type=_path, required=True, metavar="MODEL", help="model file, e.g. proxy.joblib"
    )
    train.add_argument("--seed", type=_SEED, default=0, help="seeds the split and the models")
    train.add_argument(
        "--test-fraction", type=_float_option(below=1), default=0.2, help="held-out share (default 0.2)"
    )
    train.add_argument(
        "--models", default="rf,gbm,et", help="comma-separated kinds among rf,gbm,et (default: all three)"
    )
    train.add_argument(
        "--max-predict-ms",
        type=_float_option(),
        default=None,
        metavar="MS",
        help="don't select candidates whose single-row prediction takes longer (ms)",
    )
    train.add_argument(
        "--no-statistics",
        action="store_true",
        help="don't use the env's free statistics as features (nor a target's analytic estimate)",
    )
    train.add_argument(
        "--pretrain",
        type=_pretrain,
        default=0,
        metavar="N",
        help="FBNetV3-style pretraining: fit a network on the free statistics of N designs sampled "
        "from the space (no simulator call), and add an mlp candidate fine-tuned from it; 0 (default): "
        f"none; else {PRETRAIN_MIN} to {PRETRAIN_MAX}",
    )
    train.add_argument("--json", action="store_true", help="print the card instead of a table")
    curve = psub.add_parser(
        "curve",
        help="learning curve: proxy test error and tau against training rows",
        description="Train proxies (as `proxy train` does, free statistics included) on growing random "
        "subsets of DATASET's training rows and print test relative RMSE, MAPE, R2 and Kendall tau on one "
        "held-out split; where DATASET holds several agents' runs, also each agent's rows against a "
        "space-filling sample of the same size.",
    )
    curve.add_argument("dataset", type=_path, metavar="DATASET", help="exported dataset or run directory")
    curve.add_argument("--target", required=True, metavar="METRIC", help="the metric to model")
    curve.add_argument(
        "--sizes",
        default="50,100,200,500,1000,2000",
        help="comma-separated training sizes (default 50,100,200,500,1000,2000)",
    )
    curve.add_argument("--seed", type=_SEED, default=0, help="seeds the split, the subsets and the models")
    curve.add_argument("--models", default="rf,gbm,et", help="comma-separated kinds among rf,gbm,et,mlp")
    curve.add_argument("--no-statistics", action="store_true", help="don't use the env's free statistics")
    curve.add_argument("--plot", type=_path, default=None, metavar="PNG", help="also draw the curve here")
    curve.add_argument("--json", action="store_true", help="print the curve as JSON instead of a table")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands = {
        "envs": _envs,
        "agents": _agents,
        "dataset": _dataset,
        "proxy": _proxy,
        "bench": _bench,
        "report": _report,
        "show": _show,
        "compare": _compare,
        "export-optuna": _export_optuna,
    }
    try:
        code = commands.get(args.command, _run)(args)
        sys.stdout.flush()  # here, so a closed pipe is caught below, not at interpreter exit
        return code
    except BrokenPipeError:  # the reader of our output went away (`archgym agents | head`)
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's own flush at exit must not fail
        return 0
    except (
        ValueError,
        FileExistsError,
        FileNotFoundError,
        PermissionError,
        ConnectionError,
        MissingExtra,
    ) as exc:
        print(f"archgym: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # SIGTERM/SIGINT: one line (how to resume), no traceback
        code = getattr(exc, "exit_code", 130)  # a stopped run: RunInterrupted, 143 or 130
        message = " ".join(str(exc).split()) if hasattr(exc, "exit_code") else "interrupted (SIGINT)"
        if args.command == "bench":  # the campaign continues, not the one run that was stopped
            message = (
                f"stopped by {getattr(exc, 'signal_name', 'SIGINT')}; finished runs are kept; continue "
                f"with the same command: archgym bench {args.campaign} --out {args.out}"
            )
        print(f"archgym: {message}", file=sys.stderr)
        return code


def _run(args: argparse.Namespace) -> int:
    from archgym import loop

    progress = False if args.no_progress else None
    if args.resume is not None:
        finished = loop.completed_summary(args.resume)
        if finished is not None and args.budget in (None, finished.get("budget")):
            print(
                f"archgym: {args.resume} is complete ({finished.get('n_evaluations')} evaluations); nothing "
                f"to resume (extend it with --resume {args.resume} --budget N)",
                file=sys.stderr,
            )
            return 0
        summary = loop.resume(
            args.resume,
            progress=progress,
            dask=args.dask,
            isolate=args.isolate,
            trust_model=args.trust_model,
            budget=args.budget,
        )
    else:
        missing = [
            opt
            for opt, value in (
                ("--env", args.env),
                ("--agent", args.agent),
                ("--budget", args.budget if args.cost_budget is None and args.time_budget is None else 0),
                ("--out", args.out),
            )
            if value is None
        ]
        if missing:
            raise ValueError(f"run needs {', '.join(missing)} (or --resume DIR)")
        if args.dask not in (None, "local"):  # an unreachable scheduler fails before OUT is started
            from archgym.execution import dask_client

            for resource in dask_client(args.dask, args.workers)[1]:
                resource.close()
        env_kwargs = dict(args.env_kwarg)
        if args.constraint:  # stored as text in run.json, so a resume rebuilds them
            env_kwargs["outcome_constraints"] = args.constraint
        options = dict(
            env=args.env,
            agent=args.agent,
            budget=args.budget,
            env_kwargs=loop.with_trust(env_kwargs) if args.trust_model else env_kwargs,
            agent_params=dict(args.agent_param),
            workers=args.workers,
            timeout=args.timeout,
            max_memory_mb=args.max_memory_mb,
            scalarize=args.scalarize,
            cost_budget=args.cost_budget,
            dask=args.dask,
            isolate=args.isolate,
            schedule=args.schedule,
            simulate_time=args.simulate_time,
            time_budget_s=args.time_budget,
        )
        if args.seeds is not None:
            return _run_seeds(args, options)
        summary = loop.run(
            env=args.env,
            agent=args.agent,
            budget=args.budget,
            seed=0 if args.seed is None else args.seed,
            out=args.out,
            env_kwargs=options["env_kwargs"],
            agent_params=dict(args.agent_param),
            workers=args.workers,
            timeout=args.timeout,
            max_memory_mb=args.max_memory_mb,
            scalarize=args.scalarize,
            cost_budget=args.cost_budget,
            progress=progress,
            dask=args.dask,
            isolate=args.isolate,
            schedule=args.schedule,
            simulate_time=args.simulate_time,
            time_budget_s=args.time_budget,
        )
    keys = (
        "env_id",
        "agent",
        "n_evaluations",
        "n_feasible",
        "best_reward",
        "best_design",
        "hypervolume",
        "test",
    )
    print(json.dumps({k: summary[k] for k in keys if k in summary}, indent=2, default=str))
    return 0


def _run_seeds(args: argparse.Namespace, options: dict[str, Any]) -> int:
    """``--seeds``: one run per seed into ``OUT/seed-<s>/`` (``--jobs`` side by side), then the
    comparison table of the runs by seed."""
    from archgym import loop
    from archgym.report import compare, format_table

    if args.seed is not None:
        raise ValueError("--seed and --seeds are exclusive: give one seed, or a list of seeds")
    dirs = [Path(args.out) / f"seed-{seed}" for seed in args.seeds]
    calls = [
        functools.partial(loop.run, seed=seed, out=d, progress=False, **options)
        for seed, d in zip(args.seeds, dirs, strict=True)
    ]
    if args.jobs == 1:
        for call in calls:
            call()
    else:
        from archgym.execution import spawn_pool

        with spawn_pool(min(args.jobs, len(calls))) as pool:
            for future in [pool.submit(call) for call in calls]:
                future.result()
    table = compare(dirs, Path(args.out) / "compare", by="seed")
    print(format_table(table["table"], "seed"))
    print(f"report: {table['html']}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from archgym.report import compare, format_table

    result = compare(args.run_dirs, args.out, by=args.by)
    print(format_table(result["table"], args.by))
    print(f"report: {result['html']}")
    return 0


def _export_optuna(args: argparse.Namespace) -> int:
    from archgym.report import export_optuna

    for study in export_optuna(args.run_dirs, args.storage):
        print(f"{study['study']}: {study['trials']} trials ({study['failed']} failed)")
    print(f"browse them with: optuna-dashboard {args.storage}")
    return 0


def _seed_list(text: str) -> list[int]:
    """``--seeds 0-9`` or ``0,3,7``: distinct seeds in order; a one-line error otherwise."""
    legal = "legal values: A-B with A <= B (e.g. 0-9), or distinct seeds A,B,… (e.g. 0,3,7)"
    text = text.strip()
    try:
        if "-" in text and "," not in text:
            low, high = (int(part) for part in text.split("-", 1))
            if low > high:
                raise ValueError
            seeds = list(range(low, high + 1))
        else:
            seeds = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds: {text!r} is not legal; {legal}") from None
    if not seeds or len(set(seeds)) != len(seeds) or len(seeds) > 10_000:
        raise argparse.ArgumentTypeError(f"--seeds: {text!r} is not legal (empty or repeated); {legal}")
    for seed in seeds:
        _SEED(str(seed))
    return seeds


def _bench(args: argparse.Namespace) -> int:
    from archgym.campaign import load_campaign, run_campaign

    if args.workers is not None and args.workers < 0:
        raise ValueError(f"--workers must be >= 0, got {args.workers}")
    campaign = load_campaign(args.campaign)
    result = run_campaign(
        campaign,
        args.out,
        workers=args.workers,
        dask=args.dask,
        progress=False if args.no_progress else None,
        trust_model=args.trust_model,
    )
    print(json.dumps(result, indent=2))
    if result["failed_runs"]:
        print(
            f"archgym: {len(result['failed_runs'])} run(s) failed (listed above; the tables hold the "
            "others); rerun the same command to retry them",
            file=sys.stderr,
        )
        return 1
    return 0


def _show(args: argparse.Namespace) -> int:
    from archgym.report import show

    view = show(args.run_dir, args.out, top=args.top)
    print(view["text"])
    for row in view["top"]:
        params = {k[len("param.") :]: v for k, v in row.items() if k.startswith("param.") and v is not None}
        print(f"  step {row['step']}: reward {row.get('reward')!r} {params}")
    print(f"report: {view['html']}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from archgym.report import write_report

    print(write_report(args.directory))
    return 0


def _dataset(args: argparse.Namespace) -> int:
    from archgym import data

    if args.dataset_command == "export":
        card = data.export(args.inputs, args.out)
        keys = ("env_id", "env_kwargs", "rows", "feasible_rows", "feasibility_rate", "backends", "agents")
        print(json.dumps({"file": args.out, **{k: card[k] for k in keys}}, indent=2, default=str))
        return 0
    summary = data.collect(
        env=args.env,
        n=args.n,
        out=args.out,
        seed=args.seed,
        workers=args.workers,
        env_kwargs=dict(args.env_kwarg),
        method=args.method,
        timeout=args.timeout,
        progress=False if args.no_progress else None,
    )
    keys = ("env_id", "n_evaluations", "n_feasible", "wall_time_s", "resumed")
    print(json.dumps({k: summary[k] for k in keys if k in summary}, indent=2, default=str))
    return 0


def _proxy(args: argparse.Namespace) -> int:
    from archgym import proxy

    if args.proxy_command == "curve":
        return _proxy_curve(args)
    kinds = [k.strip() for k in args.models.split(",") if k.strip()]
    card = proxy.train(
        args.dataset,
        args.target,
        args.out,
        seed=args.seed,
        test_fraction=args.test_fraction,
        kinds=kinds,
        max_predict_s=None if args.max_predict_ms is None else args.max_predict_ms / 1e3,
        statistics=not args.no_statistics,
        pretrain=args.pretrain,
    )
    print(json.dumps(card, indent=2, default=str) if args.json else proxy.format_report(card))
    return 0


def _proxy_curve(args: argparse.Namespace) -> int:
    from archgym import proxy

    try:
        sizes = [int(n) for n in args.sizes.split(",") if n.strip()]
    except ValueError:
        raise ValueError(
            f"--sizes: {args.sizes!r} is not legal; legal values: integers >= 10, comma-separated"
        ) from None
    curve = proxy.learning_curve(
        args.dataset,
        args.target,
        sizes=sizes,
        seed=args.seed,
        kinds=[k.strip() for k in args.models.split(",") if k.strip()],
        statistics=not args.no_statistics,
    )
    if args.plot is not None:
        curve["plot"] = str(proxy.plot_curve(curve, args.plot))
    print(json.dumps(curve, indent=2, default=str) if args.json else proxy.format_curve(curve))
    return 0


def _envs(args: argparse.Namespace) -> int:
    import gymnasium as gym

    from archgym.plugins import get_registry
    from archgym.search import problem_of

    registry = get_registry()
    if args.details is not None:
        from archgym.plugins.details import env_details, format_env_details

        details = env_details(args.details)
        print(json.dumps(details, indent=2, default=str) if args.json else format_env_details(details))
        return 0
    rows = []
    for env_id, plugin in sorted(registry.env_plugins.items()):
        row: dict[str, Any] = {"id": env_id, "plugin": plugin}
        hint = registry.env_info[env_id].install_hint
        if hint is not None:  # listed, not buildable here
            row["install"] = hint
            rows.append(row)
            continue
        try:
            env = gym.make(env_id)
            problem = problem_of(env, env_id)
            row["parameters"] = [f"{p.name}:{type(p).__name__.lower()}" for p in problem.design_space]
            inner = env.unwrapped
            row["objectives"] = inner.objective.describe() if hasattr(inner, "objective") else "reward"
            row["fidelity"] = None if problem.fidelity is None else problem.fidelity.name
            env.close()
        except Exception as exc:  # an env that can't be built is shown, not fatal
            row["error"] = f"{type(exc).__name__}: {exc}"
        rows.append(row)
    if args.json:
        print(json.dumps({"envs": rows, "broken_plugins": registry.broken}, indent=2))
        return 0
    for row in rows:
        if "install" in row:
            print(f"{row['id']}  [{row['plugin']}]  {row['install']}")
            continue
        if "error" in row:
            print(f"{row['id']}  [{row['plugin']}]  ERROR {row['error']}")
            continue
        fidelity = f"  fidelity: {row['fidelity']}" if row["fidelity"] else ""
        print(f"{row['id']}  [{row['plugin']}]  objectives: {row['objectives']}{fidelity}")
        print(f"    parameters: {', '.join(row['parameters'])}")
    for name, reason in registry.broken.items():
        print(f"BROKEN plugin {name}: {reason}")
    return 0


def _agents(args: argparse.Namespace) -> int:
    from archgym.plugins import get_registry

    registry = get_registry()
    rows = []
    for name, spec in sorted(registry.agents.items()):
        params = [
            {
                "name": p.name,
                "type": type(p).__name__.lower(),
                "default": p.default_value(),
                "legal": p.legal_values(),
            }
            for p in spec.hyperparameters
        ]
        row = {"name": name, "description": spec.description, "hyperparameters": params}
        hint = registry.agent_install_hint(spec)
        if hint is not None:
            row["install"] = hint
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    for row in rows:
        mark = f"  [{row['install']}]" if "install" in row else ""
        print(f"{row['name']}: {row['description']}{mark}")
        for p in row["hyperparameters"]:
            print(f"    {p['name']} ({p['type']}, default {p['default']!r}): {p['legal']}")
    for prefix, resolver in sorted(registry.resolvers.items()):  # names resolved at run time, not listed
        print(f"{prefix}.<name>: {resolver.description}")
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("archgym")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


if __name__ == "__main__":
    raise SystemExit(main())
