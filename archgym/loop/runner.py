"""Running and resuming: the public entry points, and the one sequence every run follows —
set up, drive (ask/tell or interactive) while recording, consolidate, summarise."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from archgym.env import CHECKPOINTS, penalty_of
from archgym.execution import (
    BoundEnv,
    DaskExecutor,
    Executor,
    InProcessExecutor,
    ProcessExecutor,
    SimulatedExecutor,
    pin_threads,
    remove_run_scratch,
    run_scratch_root,
)
from archgym.loop.asynchronous import AsyncDriver
from archgym.loop.config import SUMMARY, AgentFactory, RunConfig, evaluation_limit
from archgym.loop.driver import AskTellDriver
from archgym.loop.finish import write_summary
from archgym.loop.interactive import drive_interactive
from archgym.loop.ledger import Ledger
from archgym.loop.progress import progress_bar
from archgym.loop.recorder import Recorder, RunClock
from archgym.loop.resume import Replay
from archgym.loop.setup import RunSetup, meta_from_file, set_up, with_trust
from archgym.plugins import get_registry
from archgym.records import JOURNAL, PARQUET, RUN_CONSTANT_COLUMNS, RUN_META, consolidate
from archgym.search import Agent, InteractiveAgent

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no OS-level lock, one writer is up to the user
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "LOCK",
    "DirectoryLocked",
    "RunInterrupted",
    "StopOnSignals",
    "completed_summary",
    "hold_directory",
    "resume",
    "run",
]

LOCK = ".lock"
"""The lock file a writer holds (``flock``) for as long as it writes a run or campaign directory;
it holds the writer's PID."""

RUN_KEYS = ("config", "layout", *RUN_CONSTANT_COLUMNS)
"""The keys a ``run.json`` needs to be resumed and consolidated."""


class DirectoryLocked(ValueError):
    """Another process is writing this run (or campaign) directory: one writer at a time."""


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by ``SIGTERM`` or ``SIGINT`` (Ctrl-C) before its budget was spent.

    Raised by :func:`run` and :func:`resume` once the run has stopped cleanly: evaluations in
    flight abandoned (worker processes stopped), the journal consolidated into
    ``evaluations.parquet`` and ``summary.json`` written with ``"complete": false`` and
    ``"stopped_by"``. ``resume(out)`` continues it. A :class:`KeyboardInterrupt`, so
    ``except Exception`` never swallows it.

    Attributes: ``signal_name`` (``"SIGTERM"``/``"SIGINT"``), ``signum``, ``out``,
    ``n_evaluations`` (recorded so far), ``budget``, ``summary`` (as written) and
    ``exit_code`` (``128 + signum``: 143 or 130, what the CLI exits with).
    """

    def __init__(
        self,
        signal_name: str,
        *,
        out: Path | None = None,
        n_evaluations: int | None = None,
        budget: int | None = None,
        summary: dict[str, Any] | None = None,
    ) -> None:
        self.signal_name = signal_name
        self.signum = int(getattr(signal, signal_name, signal.SIGINT))
        self.out, self.n_evaluations, self.budget, self.summary = out, n_evaluations, budget, summary
        super().__init__(str(self))

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        if self.out is None:
            return f"stopped by {self.signal_name}"
        if self.n_evaluations is None:  # stopped while setting up: nothing was evaluated
            if self.budget is None:
                return f"stopped by {self.signal_name} while setting up the run; nothing was recorded"
            return (
                f"stopped by {self.signal_name} while setting up the resume; the run is unchanged; "
                f"continue with: archgym run --resume {self.out}"
            )
        of = "" if self.budget is None else f" of {self.budget}"
        return (
            f"stopped by {self.signal_name} after {self.n_evaluations}{of} evaluations; "
            f"continue with: archgym run --resume {self.out}"
        )


class StopOnSignals:
    """For the length of a run (or campaign), in the main thread only: the first
    ``SIGTERM``/``SIGINT`` raises :class:`RunInterrupted` while it is setting up or driving
    evaluations; once it is finishing (consolidating, summarising), signals are noted, not
    raised, so the records always end consistent. The previous handlers come back on exit, so
    a run inside a campaign hands signals back to the campaign when it ends."""

    SIGNALS = ("SIGTERM", "SIGINT")

    def __init__(self) -> None:
        self.stopped_by: str | None = None
        self.finishing = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                signum = getattr(signal, name)
                previous = signal.getsignal(signum)
                if previous is None:  # set outside Python: can't be restored, leave it alone
                    continue
                self._previous[signum] = previous
                signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if self.stopped_by is not None or self.finishing:
            return  # already stopping, or finishing: the records are being completed
        self.stopped_by = name
        raise RunInterrupted(name)

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


@contextlib.contextmanager
def hold_directory(directory: str | Path) -> Iterator[Path]:
    """Hold ``DIR/.lock`` (an exclusive, non-blocking ``flock`` naming this process's PID) while
    the block runs: a second writer is refused at once with :class:`DirectoryLocked` naming the
    directory and the holder's PID. The OS drops the lock when its holder dies, so a killed run
    never leaves a stale one. The directory is created if needed (and removed again if the
    block leaves nothing in it)."""
    directory = Path(directory)
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
                raise DirectoryLocked(
                    f"{directory} is being written by another archgym process (PID {holder}, lock "
                    f"{path}); wait for it to finish or stop it, or choose another directory"
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield directory
        finally:
            if created and [p.name for p in directory.iterdir()] == [LOCK]:
                path.unlink()  # a run refused before writing anything leaves no directory behind
                directory.rmdir()
    finally:
        os.close(fd)  # releases the flock


def run(
    *,
    env: str,
    agent: str | AgentFactory,
    budget: int | None,
    seed: int,
    out: str | Path,
    env_kwargs: Mapping[str, Any] | None = None,
    agent_params: Mapping[str, Any] | None = None,
    workers: int = 1,
    timeout: float | None = None,
    scalarize: str | None = None,
    cost_budget: float | None = None,
    progress: bool | None = None,
    dask: str | None = None,
    isolate: bool = False,
    max_memory_mb: float | None = None,
    schedule: str = "sync",
    simulate_time: bool = False,
    time_budget_s: float | None = None,
) -> dict[str, Any]:
    """Run ``agent`` on ``env`` for ``budget`` evaluations; write records and a summary to ``out``.

    ``dask``: evaluate on a Dask cluster (scheduler address, or ``"local"`` for a LocalCluster of
    ``workers`` processes) instead of local worker processes; like ``workers``, it changes how a
    run executes, never what it computes, so it is not part of the run's stored configuration.
    ``isolate``: evaluate in a worker process even with one worker and no timeout, so an
    evaluation that ends its process (a segfault) is recorded infeasible instead of ending the
    run; not stored either. ``max_memory_mb``: per-evaluation memory limit (MB of resident memory
    of the worker process and its children, watched by the loop); an evaluation over it is killed
    and recorded infeasible, like one past ``timeout``; evaluations then run in worker processes.
    ``schedule``: ``"sync"`` (default: batch-synchronous, records independent of ``workers``) or
    ``"async"`` (a free worker gets the next proposal at once; each result is told as it
    finishes). ``simulate_time``: evaluate at once in this process and order completions by each
    evaluation's declared duration over ``workers`` simulated workers; records carry simulated
    ``start_s``/``finish_s``. ``time_budget_s``: stop asking once that many seconds have passed
    on the run's clock (real or simulated). All three are stored with the run.

    ``agent`` is a registered agent name, or a factory ``(problem, *, seed) -> Agent`` for agents
    built in code: an Agent subclass itself, or e.g. ``lambda problem, seed: AskTellAdapter(...)``
    (called as ``factory(problem, seed=seed)``). Returns the summary dict.

    Options that only the caller may pass (``env_kwargs={"trust_model": True, …}``: unpickle
    the proxy model file) hold for this call and are never stored: ``run.json``, the records and
    the summary leave them out, so a resume must be given trust again (:func:`resume`).
    """
    name = _registered_name(agent) if isinstance(agent, str) else getattr(agent, "__name__", "custom")
    config = RunConfig(
        env=env,
        agent=name,
        budget=budget,
        seed=seed,
        env_kwargs=dict(env_kwargs or {}),
        agent_params=dict(agent_params or {}),
        workers=workers,
        timeout=timeout,
        scalarize=scalarize,
        cost_budget=cost_budget,
        max_memory_mb=max_memory_mb,
        schedule=schedule,
        simulate_time=simulate_time,
        time_budget_s=time_budget_s,
    )
    out = Path(out)
    _check_dask(config, dask)
    with hold_directory(out), StopOnSignals() as signals:
        if (out / RUN_META).exists():
            raise FileExistsError(f"{out} already holds a run; resume it (--resume) or choose another --out")
        for name in (JOURNAL, PARQUET):  # records without run.json: never append to a stray journal
            if (out / name).exists():
                raise FileExistsError(
                    f"{out / name}: {out} holds records but no {RUN_META}; it is not a run this "
                    "command can start or resume: choose another --out (or move the records away)"
                )
        factory = None if isinstance(agent, str) else agent
        try:
            setup = set_up(config, out, factory=factory)
        except RunInterrupted as exc:
            raise RunInterrupted(exc.signal_name, out=out) from None
        _check_clock(setup, dask, isolate)
        return _execute(setup, signals, resumed=False, progress=progress, dask=dask, isolate=isolate)


def _registered_name(agent: str) -> str:
    """The agent's name as registered (``Optuna.TPE`` → ``optuna.tpe``: matched case-insensitively),
    so records and summaries name it one way; an unknown name is left for setup to refuse."""
    try:
        return get_registry().agent(agent).name
    except ValueError:
        return agent


def resume(
    out: str | Path,
    *,
    progress: bool | None = None,
    agent: AgentFactory | None = None,
    dask: str | None = None,
    isolate: bool = False,
    trust_model: bool = False,
    budget: int | None = None,
) -> dict[str, Any]:
    """Continue a killed run from its journal, without re-evaluating finished designs
    (``dask`` and ``isolate`` as in :func:`run`).

    ``budget``: extend the run to this many evaluations (at least its own): the replayed agent
    goes on, and the records equal an uninterrupted run of ``budget`` evaluations — for agents
    whose proposals don't depend on the budget (an agent with ``plans_from_budget`` is refused).
    (``archgym run --resume`` leaves a complete run as it is: :func:`completed_summary`.)

    ``run.json`` never grants trust: a stored ``trust_model`` is dropped with a warning naming the
    file. ``trust_model=True`` (``archgym run --resume DIR --trust-model``) is the caller's own
    opt-in to unpickle the model file the run names (``ARCHGYM_TRUST_MODELS=1`` works too); it
    holds for this call only and is not stored.
    """
    out = Path(out)
    if not (out / RUN_META).exists():
        raise FileNotFoundError(f"{out} holds no run to resume ({RUN_META} missing)")
    if not isinstance(trust_model, bool):
        raise ValueError(f"trust_model: {trust_model!r} is not legal; legal values: True, False")
    with hold_directory(out), StopOnSignals() as signals:
        return _resume(
            out,
            signals,
            progress=progress,
            agent=agent,
            dask=dask,
            isolate=isolate,
            trust_model=trust_model,
            budget=budget,
        )


def completed_summary(out: str | Path) -> dict[str, Any] | None:
    """The summary of the run in ``out`` if it finished the budget its ``run.json`` states
    (``"complete": true``), else None (never run to the end, stopped by a signal, killed, or its
    budget since raised)."""
    try:
        summary = json.loads((Path(out) / SUMMARY).read_text())
        budget = json.loads((Path(out) / RUN_META).read_text())["config"]["budget"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(summary, dict) or summary.get("complete") is not True:
        return None
    return summary if summary.get("budget") == budget else None


def _resume(
    out: Path,
    signals: StopOnSignals,
    *,
    progress: bool | None,
    agent: AgentFactory | None,
    dask: str | None,
    isolate: bool,
    trust_model: bool,
    budget: int | None = None,
) -> dict[str, Any]:
    path = out / RUN_META
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("config"), Mapping):
        raise ValueError(f"{path}: not an archgym run.json (no 'config' object)")
    for key in RUN_KEYS:
        if key not in raw:
            raise ValueError(
                f"{path}: key {key!r} missing; it can't be resumed (not a complete archgym run.json)"
            )
    layout = raw["layout"]
    if not isinstance(layout, Mapping) or not {"parameters", "metrics", "objectives"} <= set(layout):
        raise ValueError(f"{path}: key 'layout' lacks parameters/metrics/objectives; it can't be resumed")
    names = layout.get("statistics") or []  # runs recorded before runs carried statistics: none
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(
            f"{path}: layout 'statistics' is {names!r}; legal values: a list of statistic names; "
            "it can't be resumed"
        )
    meta, dropped = meta_from_file(raw, str(path))
    try:
        config = RunConfig(**meta["config"])
    except TypeError as exc:
        raise ValueError(f"{path}: config is not an archgym run configuration ({exc})") from None
    if trust_model:
        config = dataclasses.replace(config, env_kwargs=with_trust(config.env_kwargs))
    extended = budget is not None and budget != config.budget
    if extended:
        config = _extended(config, budget, path)
    _check_dask(config, dask)
    try:
        setup = set_up(config, out, factory=agent, meta=meta)
    except RunInterrupted as exc:
        raise RunInterrupted(exc.signal_name, out=out, budget=config.budget) from None
    _check_clock(setup, dask, isolate)
    if extended:
        if setup.agent.plans_from_budget:
            raise ValueError(
                f"budget: agent {config.agent!r} plans from the run's budget, so the run can't be "
                f"extended (its records would differ from a run of {budget}); start a new run instead"
            )
        meta["config"]["budget"] = config.budget
        dropped = True  # rewrite run.json below, with the new budget
    if dropped:  # the run's own files say nothing of trust from now on (and hold the budget)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta, indent=2, default=str))
        tmp.replace(path)
    return _execute(setup, signals, resumed=True, progress=progress, dask=dask, isolate=isolate)


def _extended(config: RunConfig, budget: Any, path: Path) -> RunConfig:
    """``config`` with the larger ``budget``; a smaller one, or a run without an evaluation
    budget, is refused."""
    if config.budget is None:
        raise ValueError(f"budget: {path} has no evaluation budget (a cost or time budget ends it)")
    extended = dataclasses.replace(config, budget=budget)  # checks budget's type and range
    if extended.budget is not None and extended.budget < config.budget:
        raise ValueError(
            f"budget: {budget} is smaller than the run's {config.budget}; legal values: integers "
            f"{config.budget} or more (a run's records are never cut)"
        )
    return extended


def _check_dask(config: RunConfig, dask: str | None) -> None:
    if dask is not None and config.timeout is not None:
        raise ValueError(
            "--timeout needs local worker processes (a Dask task can't be killed); drop --timeout or --dask"
        )
    if dask is not None and config.max_memory_mb is not None:
        raise ValueError(
            "--max-memory-mb needs local worker processes (a Dask task can't be killed); "
            "drop --max-memory-mb or --dask"
        )


def _check_clock(setup: RunSetup, dask: str | None, isolate: bool) -> None:
    """The simulated clock evaluates in this process, for envs that declare durations."""
    if not setup.config.simulate_time:
        return
    if dask is not None or isolate:
        raise ValueError(
            "--simulate-time evaluates in this process: drop --dask/--isolate or --simulate-time"
        )
    if isinstance(setup.agent, InteractiveAgent):
        raise ValueError(
            f"agent {setup.config.agent!r} steps the env itself; --simulate-time needs an ask/tell agent"
        )
    inner = setup.env.unwrapped
    declares = getattr(inner, "declares_duration", None)
    if not (declares() if callable(declares) else hasattr(inner, "simulated_duration")):
        raise ValueError(
            f"{setup.config.env} declares no evaluation duration, so it can't run under the simulated "
            "clock (--simulate-time); the NAS table, proxy backends, analytic problems and envs with a "
            "simulated_duration(design, fidelity, metrics) method do (docs/running.md)"
        )


def _execute(
    setup: RunSetup,
    signals: StopOnSignals,
    *,
    resumed: bool,
    progress: bool | None,
    dask: str | None,
    isolate: bool,
) -> dict[str, Any]:
    out, config = setup.out, setup.config
    out.mkdir(parents=True, exist_ok=True)
    if not resumed:
        (out / RUN_META).write_text(json.dumps(setup.meta, indent=2, default=str))
    try:  # before the recorder opens the journal: a repair rewrites it
        replay = (
            Replay.of(out, setup.layout, evaluation_limit(config)) if resumed else Replay({}, setup.layout)
        )
    except RunInterrupted as exc:
        raise RunInterrupted(exc.signal_name, out=out, budget=config.budget) from None
    pin_threads()
    start = time.perf_counter()
    ledger = Ledger(config, setup.env, setup.problem)
    bar = progress_bar(config.budget, progress)
    offset = max((row.get("finish_s") or 0.0 for row in replay.rows.values()), default=0.0)
    clock = RunClock(simulated=config.simulate_time, offset=offset)
    recorder = Recorder(out, setup.layout, ledger, bar, clock, setup.statistics)
    remove_run_scratch(out)  # we hold the lock: whatever is there, a killed run left behind
    try:
        try:
            _drive(setup, recorder, replay, dask=dask, isolate=isolate)
        finally:
            signals.finishing = True  # from here a signal is noted, never raised
    except KeyboardInterrupt as exc:  # SIGTERM/SIGINT by our handler, or Ctrl-C with none installed
        signals.stopped_by = getattr(exc, "signal_name", None) or signals.stopped_by or "SIGINT"
    finally:
        signals.finishing = True
        recorder.close()
        bar.close()
        setup.env.close()
        consolidate(out)
        remove_run_scratch(out)
    stopped_by = signals.stopped_by
    summary = write_summary(
        setup, ledger, wall_time=time.perf_counter() - start, resumed=resumed, stopped_by=stopped_by
    )
    if stopped_by is not None:
        raise RunInterrupted(
            stopped_by,
            out=out,
            n_evaluations=summary["n_evaluations"],
            budget=config.budget,
            summary=summary,
        )
    return summary


def _drive(setup: RunSetup, recorder: Recorder, replay: Replay, *, dask: str | None, isolate: bool) -> None:
    config = setup.config
    if isinstance(setup.agent, InteractiveAgent):
        drive_interactive(setup.agent, config.agent, setup.env, recorder, replay)
    else:
        assert isinstance(setup.agent, Agent)
        kind = AsyncDriver if config.schedule == "async" else AskTellDriver
        with _executor(setup, dask=dask, isolate=isolate) as executor:
            driver = kind(setup.agent, executor, recorder, config, setup.problem.design_space)
            if recorder.ledger.continuable:  # checkpoints live with the run, not in scratch
                driver.checkpoints = str((setup.out / CHECKPOINTS).resolve())
            driver.drive(replay)


def _executor(setup: RunSetup, *, dask: str | None, isolate: bool) -> Executor:
    config = setup.config
    if dask is not None:
        return DaskExecutor(setup.recipe, address=dask, workers=config.workers, penalty=penalty_of(setup.env))
    scratch = run_scratch_root(setup.out)
    if config.simulate_time:
        return SimulatedExecutor(BoundEnv(setup.env, scratch_root=scratch), workers=config.workers)
    if config.workers == 1 and config.timeout is None and config.max_memory_mb is None and not isolate:
        return InProcessExecutor(BoundEnv(setup.env, scratch_root=scratch))
    return ProcessExecutor(
        setup.recipe,
        workers=config.workers,
        timeout=config.timeout,
        penalty=penalty_of(setup.env),
        max_memory_mb=config.max_memory_mb,
        scratch_root=scratch,
    )
