"""Registers the built-in agents: every module of this package that declares ``SPECS`` at its
top. Each imports its search library (DEAP, pyribs, BoTorch, stable-baselines3, Optuna, …) only
inside the agent, so listing agents stays light — and a new agent module registers itself by
declaring ``SPECS``, with no list here to edit."""

import importlib
import pkgutil

import archgym
import archgym_agents as package
from archgym import AgentSpec

_FIRST = ("random_search", "grid", "evolutionary", "aco", "mapelites", "bo", "rl")  # listing order


def _modules() -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name != "plugin")
    return [*[n for n in _FIRST if n in names], *[n for n in names if n not in _FIRST]]


@archgym.hookimpl
def archgym_agents() -> list[AgentSpec]:
    specs: list[AgentSpec] = []
    for name in _modules():
        specs += getattr(importlib.import_module(f"archgym_agents.{name}"), "SPECS", [])
    return specs
