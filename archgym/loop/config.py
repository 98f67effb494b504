"""What defines a run: stored in ``run.json`` so ``--resume`` needs only the directory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from archgym.search import Agent, InteractiveAgent, Problem

__all__ = ["SUMMARY", "AgentFactory", "RunConfig"]

SUMMARY = "summary.json"
AgentFactory = Callable[[Problem, int], Agent | InteractiveAgent]


@dataclass(frozen=True)
class RunConfig:
    """What defines a run; stored in ``run.json`` so ``--resume`` needs only the directory."""

    env: str
    agent: str
    budget: int
    seed: int
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    agent_params: dict[str, Any] = field(default_factory=dict)
    workers: int = 1
    timeout: float | None = None
    scalarize: str | None = None
    cost_budget: float | None = None

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise ValueError(f"budget must be >= 1 evaluation, got {self.budget}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout}")
        if self.cost_budget is not None and self.cost_budget <= 0:
            raise ValueError(f"cost_budget must be > 0, got {self.cost_budget}")
