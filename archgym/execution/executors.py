"""Executors: the one seam where evaluations run.

The loop hands an :class:`Executor` a batch of :class:`~archgym.execution.Task` objects and
receives results as they complete. :class:`InProcessExecutor` evaluates in the loop's own
process (the cheapest path); :class:`ProcessExecutor` runs worker processes (``spawn``), each
with its own env instance, one thread for BLAS/torch, and a per-evaluation deadline enforced by
killing the worker. A distributed executor (Dask) implements the same two methods.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import multiprocessing as mp
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from archgym.execution.evaluation import BoundEnv, EnvRecipe, Task, failed_result
from archgym.search import EvalResult
from archgym.spaces import Reward

__all__ = [
    "Completed",
    "DaskExecutor",
    "Executor",
    "InProcessExecutor",
    "ProcessExecutor",
    "SimulatedExecutor",
    "simulated_duration",
]

_MAX_START_FAILURES = 3
_MEMORY_POLL_S = 0.05  # how often busy workers' resident memory is read when a limit is set
_MB = 2**20
_ONE_THREAD = {
    name: "1"
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
}


@dataclass(frozen=True)
class Completed:
    """One finished evaluation: its task and result, the worker that ran it (0-based) and when it
    started and finished, in the executor's clock (``time.perf_counter()`` seconds, or simulated
    seconds for :class:`SimulatedExecutor`)."""

    task: Task
    result: EvalResult
    worker: int
    started: float
    finished: float


class Executor(ABC):
    """Runs tasks on ``slots`` workers and hands back each as it completes.

    Two ways to drive it: :meth:`run` (a batch, results in completion order: batch-synchronous
    scheduling) or :meth:`submit` and :meth:`next_completed` (asynchronous scheduling: submit a
    task whenever :attr:`idle` says a worker is free, take completions one at a time).
    """

    simulated: bool = False
    """True when :attr:`Completed.started`/``finished`` are simulated seconds, not a clock."""

    @property
    @abstractmethod
    def slots(self) -> int:
        """How many evaluations can run at once."""

    @property
    @abstractmethod
    def outstanding(self) -> int:
        """Tasks submitted and not yet handed back by :meth:`next_completed`."""

    @abstractmethod
    def submit(self, tasks: Sequence[Task]) -> None:
        """Queue ``tasks``; they start as workers become free."""

    @abstractmethod
    def next_completed(self) -> Completed:
        """Wait for the next evaluation to finish (in completion order) and return it."""

    @property
    def idle(self) -> int:
        """Workers free for a new task right now."""
        return max(0, self.slots - self.outstanding)

    def run(self, tasks: Sequence[Task]) -> Iterator[Completed]:
        """Evaluate ``tasks``; yield each as it completes."""
        self.submit(tasks)
        while self.outstanding:
            yield self.next_completed()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release workers."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcessExecutor(Executor):
    """Evaluate in this process, one after the other (no timeout possible)."""

    def __init__(self, bound: BoundEnv) -> None:
        self.bound = bound
        self._queue: deque[Task] = deque()

    @property
    def slots(self) -> int:
        return 1

    @property
    def outstanding(self) -> int:
        return len(self._queue)

    def submit(self, tasks: Sequence[Task]) -> None:
        self._queue.extend(tasks)

    def next_completed(self) -> Completed:
        task = self._queue.popleft()
        started = time.perf_counter()
        result = self.bound(task)
        return Completed(task, result, 0, started, time.perf_counter())

    def close(self) -> None:
        self.bound.close()


class SimulatedExecutor(Executor):
    """A simulated clock over ``workers`` virtual workers: each evaluation runs at once, in this
    process, and is given the duration its env declares (:func:`simulated_duration`); it
    completes at its simulated start plus that duration, and completions come back in
    simulated-time order (ties: the earlier task). A task starts when a virtual worker is free,
    at the simulated time the worker became free (or the time it was submitted, if later).

    Why: comparing asynchronous methods over many workers on a tabulated benchmark in seconds,
    exactly reproducibly (Syne Tune's simulator backend) — the order of events depends only on
    the declared durations, never on this machine's speed.
    """

    simulated = True

    def __init__(self, bound: BoundEnv, *, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.bound, self.workers = bound, workers
        self.now = 0.0  # the simulated time: of the last completion handed back
        self._free_at = [0.0] * workers
        self._running: list[tuple[float, int, int, Completed]] = []  # heap: (finish, order, worker, …)
        self._order = 0

    @property
    def slots(self) -> int:
        return self.workers

    @property
    def outstanding(self) -> int:
        return len(self._running)

    def submit(self, tasks: Sequence[Task]) -> None:
        for task in tasks:
            worker = min(range(self.workers), key=lambda w: (self._free_at[w], w))
            started = max(self.now, self._free_at[worker])
            result = self.bound(task)
            finished = started + simulated_duration(self.bound.env, result)
            self._free_at[worker] = finished
            heapq.heappush(
                self._running,
                (finished, self._order, worker, Completed(task, result, worker, started, finished)),
            )
            self._order += 1

    def next_completed(self) -> Completed:
        finished, _, _, completed = heapq.heappop(self._running)
        self.now = finished
        return completed

    def close(self) -> None:
        self.bound.close()


def simulated_duration(env: Any, result: EvalResult) -> float:
    """Seconds the evaluation behind ``result`` would have taken, as its env declares it
    (``env.unwrapped.simulated_duration(design, fidelity, metrics)``); a ValueError naming the
    env if it declares none or gives no finite non-negative number."""
    inner = getattr(env, "unwrapped", env)
    hook = getattr(inner, "simulated_duration", None)
    seconds = None if hook is None else hook(result.design, result.fidelity, result.metrics)
    if seconds is None:
        raise ValueError(
            f"{type(inner).__name__} declares no evaluation duration, so it can't run under the "
            "simulated clock (--simulate-time): give it a simulated_duration(design, fidelity, metrics) "
            "method returning seconds (see docs/running.md), or run it in real time"
        )
    seconds = float(seconds)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(
            f"{type(inner).__name__}.simulated_duration returned {seconds!r}; "
            "legal values: finite seconds >= 0"
        )
    return seconds


def pin_threads() -> None:
    """One compute thread per worker: parallelism comes from workers, not from BLAS/torch
    threads fighting over the same cores."""
    os.environ.update(_ONE_THREAD)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the loop's process dies (even by SIGKILL), so a
    hung simulation never outlives its run."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def worker_start() -> None:
    """Initialiser of any worker process (evaluation workers, campaign pools, table builders):
    one compute thread, and death with the parent."""
    _die_with_parent()
    pin_threads()


def spawn_pool(workers: int) -> Any:
    """A ``concurrent.futures`` pool of ``workers`` spawned processes started by
    :func:`worker_start`: for work that is a whole function call (a campaign's runs, a table's
    trainings) rather than an evaluation of one env."""
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=worker_start)


def _worker_main(conn: Connection, recipe: EnvRecipe, scratch: str) -> None:
    worker_start()
    # Every temporary file or directory this worker makes (evaluation work dirs, a simulator's or
    # a library's own) goes inside its private scratch directory, which the parent removes once
    # the worker has ended: killed on a timeout, dead, or stopped at the end of the run.
    os.environ["TMPDIR"] = scratch
    tempfile.tempdir = scratch
    try:
        bound = BoundEnv.from_recipe(recipe, scratch_root=scratch)
    except Exception as exc:
        conn.send(("init-error", f"{type(exc).__name__}: {exc}"))
        return
    pin_threads()  # the env may have imported torch
    conn.send(("ready", None))
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        conn.send(("result", bound(task)))
        pin_threads()


@contextlib.contextmanager
def _ctrl_c_ignored() -> Iterator[None]:
    """Start a worker process with ``SIGINT`` ignored (an ignored signal stays ignored across
    exec, and Python keeps it so): a terminal's Ctrl-C reaches the whole process group, and only
    the run should answer it — it stops its workers itself — not each worker with a traceback.
    Every start, replacements of killed workers included. Main thread only (elsewhere the worker
    starts with the default); a Ctrl-C in this short window is dropped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is None:  # set outside Python: leave it alone
        yield
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Worker:
    def __init__(self, ctx: Any, recipe: EnvRecipe, scratch_root: str | None) -> None:
        if scratch_root is not None:
            os.makedirs(scratch_root, exist_ok=True)
        self.scratch = tempfile.mkdtemp(prefix="archgym-worker-", dir=scratch_root)
        self.conn, child = ctx.Pipe()
        saved = {k: os.environ.get(k) for k in _ONE_THREAD}
        os.environ.update(_ONE_THREAD)  # read by numpy/torch at import in the child
        try:
            self.process = ctx.Process(target=_worker_main, args=(child, recipe, self.scratch), daemon=True)
            with _ctrl_c_ignored():
                self.process.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        child.close()
        self.ready = False
        self.task: Task | None = None
        self.started = 0.0
        self.index = 0  # its slot in the executor (a replacement takes the same one)

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _resident_mb(pid: int) -> float:
    """Resident memory (MB) of process ``pid`` and all its descendants; 0 once it has gone."""
    import psutil

    try:
        process = psutil.Process(pid)
        processes = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0
    for proc in processes:
        with contextlib.suppress(psutil.Error):  # a child may end while it is being read
            total += proc.memory_info().rss
    return total / _MB


def _kill_descendants(pid: int) -> None:
    """Kill the children of ``pid`` (a simulator the worker started), before the worker itself."""
    import psutil

    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()


class ProcessExecutor(Executor):
    """``workers`` processes; an evaluation past ``timeout`` seconds, or whose worker's resident
    memory (with its children's) exceeds ``max_memory_mb``, is killed and recorded as infeasible,
    and its worker replaced.

    Args:
        recipe: how each worker builds its env.
        workers: number of worker processes.
        timeout: per-evaluation limit in seconds (None: no limit).
        penalty: reward recorded for evaluations that time out or kill their worker.
        max_memory_mb: per-evaluation limit on resident memory in MB (2**20 bytes), read every
            ~50 ms while a worker is busy (None: no limit).
        scratch_root: where the workers' private scratch directories are made (default: the
            temporary directory); the run passes its own, so a resume can remove what a killed
            run left.
    """

    def __init__(
        self,
        recipe: EnvRecipe,
        *,
        workers: int,
        timeout: float | None,
        penalty: Reward,
        max_memory_mb: float | None = None,
        scratch_root: str | os.PathLike[str] | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        if max_memory_mb is not None and not max_memory_mb > 0:
            raise ValueError(f"max_memory_mb must be > 0 MB, got {max_memory_mb}")
        self.recipe, self.timeout, self.penalty = recipe, timeout, penalty
        self.max_memory_mb = max_memory_mb
        self.scratch_root = None if scratch_root is None else os.fspath(scratch_root)
        self._ctx = mp.get_context("spawn")
        self._start_failures = 0
        self._workers = [_Worker(self._ctx, recipe, self.scratch_root) for _ in range(workers)]
        for index, worker in enumerate(self._workers):
            worker.index = index
        self._queue: deque[Task] = deque()
        self._done: deque[Completed] = deque()

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        new = _Worker(self._ctx, self.recipe, self.scratch_root)
        new.index = worker.index
        self._workers[worker.index] = new
        return new

    @property
    def slots(self) -> int:
        return len(self._workers)

    @property
    def outstanding(self) -> int:
        busy = sum(w.task is not None for w in self._workers)
        return len(self._queue) + busy + len(self._done)

    def submit(self, tasks: Sequence[Task]) -> None:
        self._queue.extend(tasks)
        self._dispatch()

    def next_completed(self) -> Completed:
        while not self._done:
            self._step()
        return self._done.popleft()

    def _dispatch(self) -> None:
        for index, worker in enumerate(self._workers):
            if worker.ready and worker.task is None and self._queue:
                worker.task = self._queue.popleft()
                worker.index = index
                worker.started = time.perf_counter()
                worker.conn.send(worker.task)

    def _step(self) -> None:
        """Wait for one event (a result, a worker ready or dead, a deadline, a memory reading)
        and handle it: finished evaluations go to ``_done``."""
        self._dispatch()
        busy_or_starting = [w for w in self._workers if w.task is not None or not w.ready]
        for conn in wait([w.conn for w in busy_or_starting], timeout=self._next_wait()):
            worker = next(w for w in self._workers if w.conn is conn)
            self._receive(worker)
        if self.timeout is not None:
            now = time.perf_counter()
            for worker in list(self._workers):
                if worker.task is not None and now - worker.started > self.timeout:
                    task, started = worker.task, worker.started
                    self._replace(worker)
                    error = f"timeout: evaluation exceeded {self.timeout:g} s; worker killed"
                    self._fail(task, worker, error, started)
        if self.max_memory_mb is not None:
            self._enforce_memory(self.max_memory_mb)
        self._dispatch()

    def _fail(self, task: Task, worker: _Worker, error: str, started: float) -> None:
        now = time.perf_counter()
        result = failed_result(task, error, self.penalty, now - started)
        self._done.append(Completed(task, result, worker.index, started, now))

    def _enforce_memory(self, limit: float) -> None:
        for worker in list(self._workers):
            if worker.task is None:
                continue
            used = _resident_mb(worker.process.pid)
            if used > limit and not worker.conn.poll():  # a result already sent is received instead
                task, started = worker.task, worker.started
                _kill_descendants(worker.process.pid)
                self._replace(worker)
                error = f"memory limit: worker used {used:.1f} MB > --max-memory-mb {limit:g}; worker killed"
                self._fail(task, worker, error, started)

    def _next_wait(self) -> float | None:
        busy = [w for w in self._workers if w.task is not None]
        if not busy:
            return None
        waits = []
        if self.timeout is not None:
            deadline = min(w.started + self.timeout for w in busy)
            waits.append(max(0.0, deadline - time.perf_counter()) + 1e-3)
        if self.max_memory_mb is not None:
            waits.append(_MEMORY_POLL_S)
        return min(waits) if waits else None

    def _receive(self, worker: _Worker) -> None:
        try:
            kind, payload = worker.conn.recv()
        except (EOFError, OSError):
            task, started = worker.task, worker.started
            worker.process.join(timeout=5)
            code = worker.process.exitcode
            if not worker.ready:
                self._start_failures += 1
                if self._start_failures >= _MAX_START_FAILURES:
                    raise RuntimeError(
                        f"worker processes die while starting (exit code {code}, {self._start_failures} "
                        "times): a spawned worker must be able to import the env's module and the "
                        "main script (an env class defined in a script read from stdin can't be)"
                    ) from None
            self._replace(worker)
            if task is not None:
                self._fail(
                    task, worker, f"worker process died (exit code {code}) during the evaluation", started
                )
            return
        if kind == "ready":
            worker.ready = True
            self._start_failures = 0
        elif kind == "init-error":
            raise RuntimeError(f"worker could not build the env: {payload}")
        else:
            task, worker.task = worker.task, None
            assert task is not None
            self._done.append(Completed(task, payload, worker.index, worker.started, time.perf_counter()))

    def close(self) -> None:
        for worker in self._workers:
            if worker.process.is_alive() and worker.task is None and worker.ready:
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
                worker.process.join(timeout=2)
            worker.kill()


DASK_CONNECT_TIMEOUT = "3s"  # an unreachable scheduler is reported this soon, not after Dask's 30 s


def dask_client(address: str, workers: int) -> tuple[Any, tuple[Any, ...]]:
    """A Dask client for ``address`` (``"local"``: a LocalCluster of ``workers`` single-threaded
    processes), and what to close afterwards — the client before its cluster."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise RuntimeError("--dask needs the optional extra: pip install 'archgym[dask]'") from None
    if address == "local":
        cluster = LocalCluster(
            n_workers=max(workers, 1), threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
        return client, (client, cluster)
    try:
        client = Client(address, timeout=DASK_CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:  # unreachable, or not an address
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise ConnectionError(
            f"--dask: can't connect to a Dask scheduler at {address!r} within {DASK_CONNECT_TIMEOUT} "
            f"({reason}); give a reachable scheduler address (tcp://HOST:PORT) or 'local'"
        ) from None
    return client, (client,)


_DASK_ENVS: dict[bytes, BoundEnv] = {}


def _dask_evaluate(recipe: EnvRecipe, task: Task) -> tuple[EvalResult, str, float, float]:
    """Runs on a Dask worker: one env per recipe per worker process, built on first use.
    Returns the result, the worker's address and the evaluation's start and finish (epoch s)."""
    import pickle

    from distributed import get_worker

    key = pickle.dumps(recipe)
    if key not in _DASK_ENVS:
        pin_threads()
        _DASK_ENVS[key] = BoundEnv.from_recipe(recipe)
    started = time.time()
    result = _DASK_ENVS[key](task)
    pin_threads()
    return result, get_worker().address, started, time.time()


class DaskExecutor(Executor):
    """Evaluations as tasks on a Dask distributed cluster (``pip install 'archgym[dask]'``).

    Each worker builds the env once. A Dask task can't be killed, so per-evaluation timeouts need
    :class:`ProcessExecutor`; a worker lost mid-evaluation is recorded as an infeasible result.
    Workers are numbered in the order they first return a result; times are the workers' own
    clocks, moved onto this process's ``perf_counter``.
    """

    def __init__(self, recipe: EnvRecipe, *, address: str, workers: int, penalty: Reward) -> None:
        from distributed import as_completed

        self.recipe, self.penalty, self.workers = recipe, penalty, workers
        self.client, self._resources = dask_client(address, workers)
        self._futures: dict[Any, tuple[Task, float]] = {}
        self._completions = as_completed()
        self._numbers: dict[str, int] = {}
        self._offset = time.perf_counter() - time.time()  # epoch seconds -> perf_counter seconds

    @property
    def slots(self) -> int:
        return max(1, sum(w.get("nthreads", 1) for w in self.client.scheduler_info()["workers"].values()))

    @property
    def outstanding(self) -> int:
        return len(self._futures)

    def submit(self, tasks: Sequence[Task]) -> None:
        for task in tasks:
            future = self.client.submit(_dask_evaluate, self.recipe, task, pure=False)
            self._futures[future] = (task, time.perf_counter())
            self._completions.add(future)

    def next_completed(self) -> Completed:
        from distributed import KilledWorker
        from distributed.comm.core import CommClosedError

        future = next(self._completions)
        task, submitted = self._futures.pop(future)
        try:
            result, address, started, finished = future.result()
        except (KilledWorker, CommClosedError) as exc:  # a lost worker fails the evaluation only;
            error = f"dask: {type(exc).__name__}: {exc}"  # an env that can't be built fails the run
            now = time.perf_counter()
            return Completed(
                task, failed_result(task, error, self.penalty, now - submitted), -1, submitted, now
            )
        number = self._numbers.setdefault(address, len(self._numbers))
        return Completed(task, result, number, started + self._offset, finished + self._offset)

    def close(self) -> None:
        for resource in self._resources:
            resource.close()
