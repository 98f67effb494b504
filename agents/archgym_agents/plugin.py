"""Registers the built-in agents. Each agent module declares ``SPECS`` at its top and imports
its search library (DEAP, pyribs, BoTorch, stable-baselines3, Optuna) only inside the agent, so listing
agents stays light."""

import archgym
from archgym import AgentSpec
from archgym_agents import aco, bo, evolutionary, grid, mapelites, optuna_samplers, random_search, rl

_MODULES = (random_search, grid, evolutionary, aco, mapelites, bo, rl, optuna_samplers)


@archgym.hookimpl
def archgym_agents() -> list[AgentSpec]:
    return [spec for module in _MODULES for spec in module.SPECS]
