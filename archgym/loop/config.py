"""What defines a run: stored in ``run.json`` so ``--resume`` needs only the directory."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from archgym.search import Agent, InteractiveAgent, Problem

__all__ = [
    "BUDGET_MAX",
    "MEMORY_MAX_MB",
    "SCHEDULES",
    "SEED_MAX",
    "SUMMARY",
    "TIMEOUT_MAX",
    "WORKERS_MAX",
    "AgentFactory",
    "RunConfig",
    "check_float",
    "check_int",
    "evaluation_limit",
]

SUMMARY = "summary.json"
SEED_MAX = 2**32 - 1  # numpy seeds with 32-bit words: 0 <= seed < 2**32
BUDGET_MAX = 10**9  # evaluations
WORKERS_MAX = 1024  # processes
TIMEOUT_MAX = 10.0**6  # seconds (~11.6 days); waits take milliseconds in a C int (~24.8 days)
MEMORY_MAX_MB = 10.0**9  # MB per evaluation (a petabyte): larger is a typo, not a limit
SCHEDULES = ("sync", "async")
AgentFactory = Callable[[Problem, int], Agent | InteractiveAgent]


@dataclass(frozen=True)
class RunConfig:
    """What defines a run; stored in ``run.json`` so ``--resume`` needs only the directory."""

    env: str
    agent: str
    budget: int | None
    """Evaluations; None: no limit but the cost or time budget (one of them must be given)."""
    seed: int
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    agent_params: dict[str, Any] = field(default_factory=dict)
    workers: int = 1
    timeout: float | None = None
    scalarize: str | None = None
    cost_budget: float | None = None
    max_memory_mb: float | None = None
    schedule: str = "sync"
    """``"sync"``: batch-synchronous (the agent's batches, told whole; records independent of the
    worker count); ``"async"``: a free worker gets the next proposal at once."""
    simulate_time: bool = False
    """Evaluate at once, in this process, ordering completions by each evaluation's declared
    duration over ``workers`` simulated workers (the simulated clock)."""
    time_budget_s: float | None = None
    """Stop asking for designs once this many seconds have passed on the run's clock (real or
    simulated); evaluations already running finish and are recorded."""

    def __post_init__(self) -> None:
        # Every field is checked where it enters, before anything is written: the CLI, loop.run and
        # loop.resume (a run.json written by hand or by an older version) all get the same errors.
        for name in ("env", "agent"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name}: {value!r} is not legal; legal values: a non-empty string")
        if self.budget is not None:
            object.__setattr__(self, "budget", check_int("budget", self.budget, 1, BUDGET_MAX))
        object.__setattr__(self, "seed", check_int("seed", self.seed, 0, SEED_MAX))
        object.__setattr__(self, "workers", check_int("workers", self.workers, 1, WORKERS_MAX))
        if self.timeout is not None:
            object.__setattr__(
                self, "timeout", check_float("timeout", self.timeout, TIMEOUT_MAX, unit=" seconds")
            )
        if self.max_memory_mb is not None:
            object.__setattr__(
                self,
                "max_memory_mb",
                check_float("max_memory_mb", self.max_memory_mb, MEMORY_MAX_MB, unit=" MB"),
            )
        if self.time_budget_s is not None:
            object.__setattr__(
                self, "time_budget_s", check_float("time_budget_s", self.time_budget_s, unit=" seconds")
            )
        if self.cost_budget is not None:
            object.__setattr__(self, "cost_budget", check_float("cost_budget", self.cost_budget))
        if self.schedule not in SCHEDULES:
            legal = ", ".join(SCHEDULES)
            raise ValueError(f"schedule: {self.schedule!r} is not legal; legal values: {legal}")
        if not isinstance(self.simulate_time, bool):
            raise ValueError(f"simulate_time: {self.simulate_time!r} is not legal; legal values: True, False")
        if self.simulate_time and (self.timeout is not None or self.max_memory_mb is not None):
            raise ValueError(
                "--simulate-time evaluates in this process on a simulated clock: --timeout and "
                "--max-memory-mb don't apply; drop them or --simulate-time"
            )
        if self.budget is None and self.cost_budget is None and self.time_budget_s is None:
            raise ValueError(
                "budget: None is not legal without cost_budget or time_budget_s; legal values: "
                f"integers 1 to {BUDGET_MAX}, or give a cost budget (--cost-budget) or a time budget "
                "(--time-budget)"
            )
        for name in ("env_kwargs", "agent_params"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(f"{name}: {getattr(self, name)!r} is not legal; legal values: a mapping")
        if self.scalarize is not None:
            from archgym.env.wrappers import parse_scalarize

            if not isinstance(self.scalarize, str):
                raise ValueError(
                    f"scalarize: {self.scalarize!r} is not legal; legal values: 'METHOD:W1,W2,…'"
                )
            parse_scalarize(self.scalarize)


def evaluation_limit(config: RunConfig) -> int:
    """The most evaluations the run may make: its budget, or (none given: a cost or time budget
    stops it) the largest budget there is. When several limits are given, the first reached
    stops the run."""
    return BUDGET_MAX if config.budget is None else config.budget


def check_int(name: str, value: Any, low: int, high: int) -> int:
    """``value`` as an ``int`` in ``[low, high]``, else a ValueError naming ``name`` and the legal values
    (bools, floats — also ``3.0`` — and strings are refused: an integer is meant)."""
    legal = f"legal values: integers {low} to {high}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}: {value!r} is not legal (not an integer); {legal}")
    if not low <= int(value) <= high:
        raise ValueError(f"{name}: {value!r} is out of range; {legal}")
    return int(value)


def check_float(name: str, value: Any, high: float | None = None, *, unit: str = "") -> float:
    """``value`` as a finite ``float`` with ``0 < value <= high``, else a ValueError naming ``name``."""
    legal = f"legal values: finite numbers > 0{unit}" + ("" if high is None else f" and <= {high:g}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: {value!r} is not legal (not a number); {legal}")
    number = float(value)
    if not math.isfinite(number) or number <= 0 or (high is not None and number > high):
        raise ValueError(f"{name}: {value!r} is not legal; {legal}")
    return number
