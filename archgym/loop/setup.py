"""Setting a run up: its env (built from a picklable recipe), problem, agent, record layout and
the provenance stored in ``run.json``."""

from __future__ import annotations

import platform
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import gymnasium as gym

from archgym.env import (
    SIMULATOR,
    DesignEnv,
    backend_options,
    backend_specs,
    caller_only_options,
    parse_scalarize,
    without_caller_only,
)
from archgym.execution import EnvRecipe, resolve_spec
from archgym.loop.config import AgentFactory, RunConfig
from archgym.loop.free_statistics import FreeStatistics
from archgym.plugins import get_registry
from archgym.records import RecordLayout, layout_to_meta
from archgym.search import Agent, InteractiveAgent, Problem, problem_of

__all__ = [
    "RunSetup",
    "build_agent",
    "meta_from_file",
    "set_up",
    "simulator_kwargs",
    "stored_kwargs",
    "versions_of",
    "with_trust",
]


@dataclass
class RunSetup:
    """Everything a run is made of before its first evaluation."""

    config: RunConfig
    out: Path
    recipe: EnvRecipe
    env_id: str
    env: gym.Env[Any, Any]
    problem: Problem
    agent: Agent | InteractiveAgent
    layout: RecordLayout
    meta: dict[str, Any]
    statistics: FreeStatistics | None = None
    """Computes each recorded design's free statistics (None: the records have no ``stat.*``
    columns)."""


def set_up(
    config: RunConfig, out: Path, *, factory: AgentFactory | None, meta: dict[str, Any] | None = None
) -> RunSetup:
    """Build the env, problem and agent of ``config``; ``meta`` is the stored ``run.json`` of a
    resumed run (a new run gets new provenance)."""
    scalarize = None if config.scalarize is None else parse_scalarize(config.scalarize)
    env_id = config.env.partition(":")[2] if ":" in config.env else config.env
    source = None if meta is None else str(out / "run.json")  # a resume: the env named in a file
    recipe = EnvRecipe(resolve_spec(config.env, source=source), dict(config.env_kwargs), scalarize)
    try:
        env = recipe.make()
    except TypeError as exc:
        if "outcome_constraints" in config.env_kwargs and "outcome_constraints" in str(exc):
            raise ValueError(
                f"outcome_constraints (--constraint): {config.env} is a plain Gymnasium env, which "
                "reports no metrics to constrain; only DesignEnvs take outcome constraints"
            ) from None
        raise
    problem = problem_of(env, env_id)
    if factory is not None:
        agent = factory(problem, seed=config.seed)  # type: ignore[call-arg]
    else:
        agent = build_agent(config.agent, config.agent_params, problem, config.seed)
    objective_names = None if problem.n_objectives == 1 else problem.objective_names
    constraint_names = tuple(c.name for c in problem.outcome_constraints)
    statistic_names = _statistic_names(env, meta)
    layout = RecordLayout(
        problem.design_space, problem.metric_names, objective_names, constraint_names, statistic_names
    )
    if meta is None:
        agent_params = (
            {} if factory is not None else get_registry().agent(config.agent).resolve(config.agent_params)
        )
        meta = {
            "run_id": uuid.uuid4().hex,
            "config": {**asdict(config), "env_kwargs": stored_kwargs(config.env_kwargs)},
            "env_id": env_id,
            "env_version": recipe.spec.version if recipe.spec.version is not None else 0,
            "env_kwargs": stored_kwargs(config.env_kwargs),
            "agent": config.agent,
            "agent_params": agent_params,
            "seed": config.seed,
            "versions": versions_of(env, env_id),
            "layout": layout_to_meta(layout),
            "metric_units": dict(getattr(env.unwrapped, "metric_units", {})),
            "started": time.time(),
        }
    return RunSetup(
        config=config,
        out=out,
        recipe=recipe,
        env_id=env_id,
        env=env,
        problem=problem,
        agent=agent,
        layout=layout,
        meta=meta,
        statistics=FreeStatistics(env.unwrapped, statistic_names, env_id) if statistic_names else None,
    )


def _statistic_names(env: gym.Env[Any, Any], meta: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The ``stat.*`` columns of the run's records: the free statistics the env declares, for a
    new run; for a resumed one, those its ``run.json`` names (none for runs recorded before runs
    carried them), so a run's records keep one set of columns whatever the env declares now."""
    if meta is not None:
        return tuple(meta["layout"].get("statistics") or ())
    inner = env.unwrapped
    return tuple(inner.statistic_names) if isinstance(inner, DesignEnv) else ()


# --- what is stored, what is read back ------------------------------------------------------------
def _caller_only() -> set[str]:
    get_registry()  # the backends (and their caller-only options) are registered by the plugins
    return caller_only_options()


def stored_kwargs(env_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``env_kwargs`` as a run stores them (``run.json``, summary, tables, cards): without the
    options that only the current caller may pass (``trust_model``). They are the caller's own
    and hold for this process only, so nothing is said about them."""
    _caller_only()
    return without_caller_only(env_kwargs, None)


def meta_from_file(meta: Mapping[str, Any], source: str) -> tuple[dict[str, Any], bool]:
    """A ``run.json`` (or a dataset card) read from ``source``, with its env kwargs (``env_kwargs``
    and ``config.env_kwargs``) stripped of caller-only options: a file someone else produced
    never grants trust. Dropping one warns, naming ``source``; returns (meta, dropped anything)."""
    out = dict(meta)
    config = dict(out["config"]) if isinstance(out.get("config"), Mapping) else None
    holders = [h for h in (out, config) if h is not None and "env_kwargs" in h]
    for holder in holders:
        if not isinstance(holder["env_kwargs"], Mapping):
            raise ValueError(f"{source}: env_kwargs must be a JSON object, got {holder['env_kwargs']!r}")
    merged: dict[str, Any] = {}
    for holder in holders:
        merged.update(holder["env_kwargs"])
    kept = without_caller_only(merged, source)  # warns once, naming the file
    for holder in holders:
        holder["env_kwargs"] = {k: v for k, v in holder["env_kwargs"].items() if k in kept}
    if config is not None:
        out["config"] = config
    return out, len(kept) != len(merged)


def with_trust(env_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``env_kwargs`` with trust granted by the current caller (``--trust-model``): every
    caller-only option of the backend they select set to True. Kwargs selecting no such backend
    (the simulator) are returned unchanged, so one flag can cover a whole campaign."""
    _caller_only()
    name = env_kwargs.get("backend")
    names = name if isinstance(name, list | tuple) else [name]  # a ladder: every backend in it
    specs = [backend_specs().get(n) for n in names if isinstance(n, str)]
    granted = {option: True for spec in specs if spec is not None for option in spec.caller_only}
    return {**env_kwargs, **granted}


def simulator_kwargs(env_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``env_kwargs`` without a registered backend and the backends' options (model path, trust):
    what builds the env on its own simulator, e.g. to read its spaces or metric units from
    stored records. Commands that only read records build envs with these, so they never load a
    model, whatever trust is given."""
    _caller_only()
    options = backend_options()
    registered = {SIMULATOR, *backend_specs()}
    return {
        k: v
        for k, v in env_kwargs.items()
        if k not in options
        and not (k == "backend" and (isinstance(v, list | tuple) or (isinstance(v, str) and v in registered)))
    }


def versions_of(env: gym.Env[Any, Any], env_id: str) -> dict[str, str]:
    """Package, plugin and simulator versions recorded with every evaluation."""
    found: dict[str, str] = {"python": platform.python_version()}
    for package in ("archgym", "gymnasium", "numpy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "unknown"
    registry = get_registry()
    plugin = registry.plugins.get(registry.env_plugins.get(env_id, ""))
    if plugin is not None:
        found[f"plugin:{plugin.name}"] = f"{plugin.distribution}=={plugin.version}"
    if isinstance(env.unwrapped, DesignEnv):
        found.update(env.unwrapped.versions())
    return found


def build_agent(
    name: str, params: Mapping[str, Any], problem: Problem, seed: int
) -> Agent | InteractiveAgent:
    """Construct a registered agent with validated hyperparameters, or explain why it can't
    search this problem (naming the agents that can, or ``--scalarize``)."""
    registry = get_registry()
    spec = registry.agent(name)
    resolved = spec.resolve(params)
    cls = spec.load()
    why = spec.incompatibility(problem, resolved)
    if why is not None:
        able = [  # at their defaults, and installed
            n
            for n, s in sorted(registry.agents.items())
            if n != spec.name
            and registry.agent_install_hint(s) is None
            and s.incompatibility(problem, {}) is None
        ]
        hint = f"agents that can: {', '.join(able) or 'none installed'}"
        if problem.n_objectives > 1:
            hint += "; or scalarize the env with --scalarize weighted:W1,W2,… / chebyshev:W1,W2,…"
        raise ValueError(f"agent {name!r} can't search {problem.env_id}: {why}; {hint}")
    return cls(problem, seed=seed, **resolved)
