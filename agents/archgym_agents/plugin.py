"""Registers the built-in agents: every module of this package that declares ``SPECS`` at its
top (and ``RESOLVERS``: library prefixes whose names are built on demand, ``nevergrad.<Name>``).
Each imports its search library (DEAP, pyribs, BoTorch, stable-baselines3, Optuna, …) only
inside the agent, so listing agents stays light — and a new agent module registers itself by
declaring ``SPECS``, with no list here to edit."""

import dataclasses
import importlib
import pkgutil

import archgym
import archgym_agents as package
from archgym import AgentSpec
from archgym.search import AgentResolver

_FIRST = ("random_search", "grid", "evolutionary", "aco", "mapelites", "bo", "rl")  # listing order

EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "bo": ("bo", ("torch", "botorch")),
    "rl": ("rl", ("torch", "stable_baselines3")),
    "reinforce": ("rl", ("torch",)),
    "mapelites": ("qd", ("ribs",)),
    "optuna_samplers": ("adapters", ("optuna",)),
    "nevergrad_optimizers": ("adapters", ("nevergrad",)),
    "pymoo_algorithms": ("adapters", ("pymoo",)),
    "smac_facades": ("adapters", ("smac",)),
    "smac_multifidelity": ("adapters", ("smac",)),
}
"""Module → (the ``archgym[extra]`` that installs its library, the modules it imports when an
agent is built). The other modules (random, grid, ga, nsga2, aco, rea, local_search, asha, …)
need only the core install."""


def _modules() -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name != "plugin")
    return [*[n for n in _FIRST if n in names], *[n for n in names if n not in _FIRST]]


@archgym.hookimpl
def archgym_agents() -> list[AgentSpec | AgentResolver]:
    specs: list[AgentSpec | AgentResolver] = []
    for name in _modules():
        module = importlib.import_module(f"archgym_agents.{name}")
        extra, requires = EXTRAS.get(name, (None, ()))
        specs += [
            dataclasses.replace(spec, extra=extra, requires=requires) if extra else spec
            for spec in getattr(module, "SPECS", [])
        ]
        specs += [
            dataclasses.replace(resolver, extra=extra, requires=requires) if extra else resolver
            for resolver in getattr(module, "RESOLVERS", [])
        ]
    return specs
