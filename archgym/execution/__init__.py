"""Floor 4 — execution: one evaluation as a picklable task, and the executors that run tasks in
the loop's process, in worker processes (timeouts, crashes, memory) or on a Dask cluster.

The executor seam is where a new way of running evaluations plugs in; it knows nothing of agents
or records beyond the result of one evaluation.
"""

from archgym.execution.evaluation import (
    BoundEnv,
    EnvRecipe,
    Task,
    eval_seed,
    evaluate_task,
    failed_result,
    resolve_spec,
)
from archgym.execution.executors import (
    Completed,
    DaskExecutor,
    Executor,
    InProcessExecutor,
    ProcessExecutor,
    SimulatedExecutor,
    dask_client,
    pin_threads,
    simulated_duration,
    spawn_pool,
    worker_start,
)
from archgym.execution.scratch import EvaluationDirectory, remove_run_scratch, run_scratch_root

__all__ = [
    "BoundEnv",
    "Completed",
    "DaskExecutor",
    "EnvRecipe",
    "EvaluationDirectory",
    "Executor",
    "InProcessExecutor",
    "ProcessExecutor",
    "SimulatedExecutor",
    "Task",
    "dask_client",
    "eval_seed",
    "evaluate_task",
    "failed_result",
    "pin_threads",
    "remove_run_scratch",
    "resolve_spec",
    "run_scratch_root",
    "simulated_duration",
    "spawn_pool",
    "worker_start",
]
