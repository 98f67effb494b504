"""Registers the built-in agents: every module of this package that declares ``SPECS`` at its
top (and ``RESOLVERS``: library prefixes whose names are built on demand, ``nevergrad.<Name>``).
Each imports its search library (DEAP, pyribs, BoTorch, stable-baselines3, Optuna, …) only
inside the agent, so listing agents stays light — and a new agent module registers itself by
declaring ``SPECS``, with no list here to edit."""

import importlib
import pkgutil

import archgym
import archgym_agents as package
from archgym import AgentSpec
from archgym.search import AgentResolver

_FIRST = ("random_search", "grid", "evolutionary", "aco", "mapelites", "bo", "rl")  # listing order


def _modules() -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name != "plugin")
    return [*[n for n in _FIRST if n in names], *[n for n in names if n not in _FIRST]]


@archgym.hookimpl
def archgym_agents() -> list[AgentSpec | AgentResolver]:
    specs: list[AgentSpec | AgentResolver] = []
    for name in _modules():
        module = importlib.import_module(f"archgym_agents.{name}")
        specs += [*getattr(module, "SPECS", []), *getattr(module, "RESOLVERS", [])]
    return specs
