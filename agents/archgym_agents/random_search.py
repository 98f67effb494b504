"""Uniform random search: the baseline every other agent must beat."""

from __future__ import annotations

from typing import Any

from archgym.search import Agent, AgentSpec, EvalResult, Problem
from archgym.spaces import Design, Integer

SPEC = AgentSpec(
    name="random",
    entry_point="archgym_agents.random_search:RandomSearch",
    description="Uniform random search over the design space (the baseline).",
    hyperparameters=(Integer("batch_size", 1, 1024, default=8),),
)
SPECS = [SPEC]


class RandomSearch(Agent):
    """Samples the design space uniformly (conditions and constraints respected).

    Args:
        batch_size: designs per ``ask``.
    """

    single_objective = True
    multi_objective = True
    concurrent_asks = True  # learns nothing: any design may be told at any time

    def __init__(self, problem: Problem, *, seed: int, **hyperparameters: Any) -> None:
        super().__init__(problem, seed=seed)
        hp = SPEC.resolve(hyperparameters)
        self.batch_size = hp["batch_size"]

    def _ask(self, n: int) -> list[Design]:
        return [self.space.sample(self.rng) for _ in range(n)]

    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None:
        """Random search learns nothing."""
