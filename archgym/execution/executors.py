"""Executors: the one seam where evaluations run.

The loop hands an :class:`Executor` a batch of :class:`~archgym.execution.Task` objects and
receives results as they complete. :class:`InProcessExecutor` evaluates in the loop's own
process (the cheapest path); :class:`ProcessExecutor` runs worker processes (``spawn``), each
with its own env instance, one thread for BLAS/torch, and a per-evaluation deadline enforced by
killing the worker. A distributed executor (Dask) implements the same two methods.
"""

from __future__ import annotations

import contextlib
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
from multiprocessing.connection import Connection, wait
from typing import Any

from archgym.execution.evaluation import BoundEnv, EnvRecipe, Task, failed_result
from archgym.search import EvalResult
from archgym.spaces import Reward

__all__ = ["DaskExecutor", "Executor", "InProcessExecutor", "ProcessExecutor"]

_MAX_START_FAILURES = 3
_MEMORY_POLL_S = 0.05  # how often busy workers' resident memory is read when a limit is set
_MB = 2**20
_ONE_THREAD = {
    name: "1"
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
}


class Executor(ABC):
    """Runs tasks and yields ``(task, result)`` pairs in completion order."""

    @abstractmethod
    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[Task, EvalResult]]: ...

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

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[Task, EvalResult]]:
        for task in tasks:
            yield task, self.bound(task)

    def close(self) -> None:
        self.bound.close()


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

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        new = _Worker(self._ctx, self.recipe, self.scratch_root)
        self._workers[self._workers.index(worker)] = new
        return new

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[Task, EvalResult]]:
        queue = deque(tasks)
        while queue or any(w.task is not None for w in self._workers):
            for worker in self._workers:
                if worker.ready and worker.task is None and queue:
                    worker.task = queue.popleft()
                    worker.started = time.perf_counter()
                    worker.conn.send(worker.task)
            busy_or_starting = [w for w in self._workers if w.task is not None or not w.ready]
            for conn in wait([w.conn for w in busy_or_starting], timeout=self._next_wait()):
                worker = next(w for w in self._workers if w.conn is conn)
                yield from self._receive(worker)
            if self.timeout is not None:
                now = time.perf_counter()
                for worker in list(self._workers):
                    if worker.task is not None and now - worker.started > self.timeout:
                        task = worker.task
                        self._replace(worker)
                        error = f"timeout: evaluation exceeded {self.timeout:g} s; worker killed"
                        yield task, failed_result(task, error, self.penalty, now - worker.started)
            if self.max_memory_mb is not None:
                yield from self._enforce_memory(self.max_memory_mb)

    def _enforce_memory(self, limit: float) -> Iterator[tuple[Task, EvalResult]]:
        for worker in list(self._workers):
            if worker.task is None:
                continue
            used = _resident_mb(worker.process.pid)
            if used > limit and not worker.conn.poll():  # a result already sent is received instead
                task, elapsed = worker.task, time.perf_counter() - worker.started
                _kill_descendants(worker.process.pid)
                self._replace(worker)
                error = f"memory limit: worker used {used:.1f} MB > --max-memory-mb {limit:g}; worker killed"
                yield task, failed_result(task, error, self.penalty, elapsed)

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

    def _receive(self, worker: _Worker) -> Iterator[tuple[Task, EvalResult]]:
        try:
            kind, payload = worker.conn.recv()
        except (EOFError, OSError):
            task, elapsed = worker.task, time.perf_counter() - worker.started
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
                error = f"worker process died (exit code {code}) during the evaluation"
                yield task, failed_result(task, error, self.penalty, elapsed)
            return
        if kind == "ready":
            worker.ready = True
            self._start_failures = 0
        elif kind == "init-error":
            raise RuntimeError(f"worker could not build the env: {payload}")
        else:
            task, worker.task = worker.task, None
            assert task is not None
            yield task, payload

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


def _dask_evaluate(recipe: EnvRecipe, task: Task) -> EvalResult:
    """Runs on a Dask worker: one env per recipe per worker process, built on first use."""
    import pickle

    key = pickle.dumps(recipe)
    if key not in _DASK_ENVS:
        pin_threads()
        _DASK_ENVS[key] = BoundEnv.from_recipe(recipe)
    result = _DASK_ENVS[key](task)
    pin_threads()
    return result


class DaskExecutor(Executor):
    """Evaluations as tasks on a Dask distributed cluster (``pip install 'archgym[dask]'``).

    Each worker builds the env once. A Dask task can't be killed, so per-evaluation timeouts need
    :class:`ProcessExecutor`; a worker lost mid-evaluation is recorded as an infeasible result.
    """

    def __init__(self, recipe: EnvRecipe, *, address: str, workers: int, penalty: Reward) -> None:
        self.recipe, self.penalty = recipe, penalty
        self.client, self._resources = dask_client(address, workers)

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[Task, EvalResult]]:
        from distributed import KilledWorker, as_completed
        from distributed.comm.core import CommClosedError

        start = time.perf_counter()
        futures = {self.client.submit(_dask_evaluate, self.recipe, task, pure=False): task for task in tasks}
        for future in as_completed(futures):
            task = futures.pop(future)
            try:
                result = future.result()
            except (KilledWorker, CommClosedError) as exc:  # a lost worker fails the evaluation only;
                error = f"dask: {type(exc).__name__}: {exc}"  # an env that can't be built fails the run
                result = failed_result(task, error, self.penalty, time.perf_counter() - start)
            yield task, result

    def close(self) -> None:
        for resource in self._resources:
            resource.close()
