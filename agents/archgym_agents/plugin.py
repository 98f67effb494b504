"""Registers the built-in agents (specs only: listing them imports no agent library)."""

import archgym
from archgym import AgentSpec, Integer


@archgym.hookimpl
def archgym_agents() -> list[AgentSpec]:
    return [
        AgentSpec(
            name="random",
            entry_point="archgym_agents.random_search:RandomSearch",
            description="Uniform random search over the design space (the baseline).",
            hyperparameters=(Integer("batch_size", 1, 1024, default=8),),
        ),
    ]
