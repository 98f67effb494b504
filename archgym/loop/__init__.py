"""Floor 5 — the run: one place for budget, seeding, workers, timeouts, failures, records,
resume and progress, so every agent is compared under the same rules.

Python::

    summary = archgym.loop.run(env="archgym/Branin-v0", agent="random", budget=50, seed=0,
                               out="runs/branin")

CLI: ``archgym run --env archgym/Branin-v0 --agent random --budget 50 --seed 0 --out runs/branin``.

The parts, each its own module: :mod:`~archgym.loop.config` (what defines a run),
:mod:`~archgym.loop.setup` (env, problem, agent, provenance), :mod:`~archgym.loop.ledger`
(budget, cost, best), :mod:`~archgym.loop.recorder` (journal and progress),
:mod:`~archgym.loop.free_statistics` (the records' ``stat.*`` columns),
:mod:`~archgym.loop.driver` (ask/tell), :mod:`~archgym.loop.interactive` (agents that own the
interaction), :mod:`~archgym.loop.resume` (replaying a journal), :mod:`~archgym.loop.finish`
(summary), :mod:`~archgym.loop.runner` (:func:`run`, :func:`resume`).
"""

from archgym.loop.config import SUMMARY, AgentFactory, RunConfig
from archgym.loop.free_statistics import FreeStatistics
from archgym.loop.progress import progress_bar
from archgym.loop.runner import (
    DirectoryLocked,
    RunInterrupted,
    StopOnSignals,
    completed_summary,
    hold_directory,
    resume,
    run,
)
from archgym.loop.setup import (
    build_agent,
    meta_from_file,
    simulator_kwargs,
    stored_kwargs,
    versions_of,
    with_trust,
)
from archgym.search import BudgetExhausted, problem_of

__all__ = [
    "SUMMARY",
    "AgentFactory",
    "BudgetExhausted",
    "DirectoryLocked",
    "FreeStatistics",
    "RunConfig",
    "RunInterrupted",
    "StopOnSignals",
    "build_agent",
    "completed_summary",
    "hold_directory",
    "meta_from_file",
    "problem_of",
    "progress_bar",
    "resume",
    "run",
    "simulator_kwargs",
    "stored_kwargs",
    "versions_of",
    "with_trust",
]
