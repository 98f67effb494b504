"""The plugin module named by this distribution's ``archgym`` entry point.

``import archgym`` imports this module for every command, so it holds only the agent's spec: a
name, a ``"module:Class"`` string and the hyperparameters. The agent module
(:mod:`archgym_example_agent.es`, and any search library it would import) is imported only when a
run builds the agent; ``archgym agents`` lists it without.
"""

import archgym
from archgym.spaces import Integer, Real

SPEC = archgym.AgentSpec(
    name="one-plus-one",
    entry_point="archgym_example_agent.es:OnePlusOne",
    description="(1+1)-evolution strategy with the one-fifth success rule; any space without free text.",
    hyperparameters=(
        Real("sigma0", 0.001, 1.0, log=True, default=0.2),
        Integer("batch_size", 1, 1024, default=1),
    ),
)


@archgym.hookimpl
def archgym_agents() -> list[archgym.AgentSpec]:
    return [SPEC]
