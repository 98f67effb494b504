"""Plugin discovery: entry points → pluggy → ``gymnasium.register``.

Every plugin (built-in or third-party) is loaded on its own, so one that fails to import,
returns a malformed registration or claims an id that is already taken is reported by name and
listed in :attr:`Registry.broken`, while the others keep working.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import gymnasium
import pluggy
from gymnasium.envs.registration import EnvSpec

from archgym.entrypoints import check_entry_point
from archgym.env import BackendSpec, register_backend, unregister_backend
from archgym.env import backend_specs as env_backend_specs
from archgym.plugins import hookspecs
from archgym.search import AgentSpec

__all__ = ["AgentSpec", "PluginInfo", "PluginWarning", "Registry", "get_registry", "load_plugins"]

BUILTIN_DISTRIBUTION = "archgym"
_REGISTER_KEYS = {
    "id",
    "entry_point",
    "reward_threshold",
    "nondeterministic",
    "max_episode_steps",
    "order_enforce",
    "disable_env_checker",
    "additional_wrappers",
    "vector_entry_point",
    "kwargs",
}


class PluginWarning(UserWarning):
    """A plugin could not be loaded or registered; the others still work."""


@dataclass
class PluginInfo:
    name: str
    distribution: str
    version: str
    envs: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    backends: list[str] = field(default_factory=list)


@dataclass
class Registry:
    """What the plugins contributed. ``broken`` maps plugin name → reason."""

    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)
    agents: dict[str, AgentSpec] = field(default_factory=dict)
    backends: dict[str, BackendSpec] = field(default_factory=dict)
    env_plugins: dict[str, str] = field(default_factory=dict)

    def agent(self, name: str) -> AgentSpec:
        try:
            return self.agents[name]
        except KeyError:
            raise ValueError(f"unknown agent {name!r}; available: {sorted(self.agents)}") from None


_registry: Registry | None = None


def get_registry() -> Registry:
    """The registry built when ``archgym`` was imported."""
    return _registry if _registry is not None else load_plugins()


def load_plugins(eps: Iterable[EntryPoint] | None = None) -> Registry:
    """Load plugins from the ``archgym`` entry-point group and register their envs.

    Idempotent: envs already registered by an earlier call keep their registration.
    """
    global _registry
    registry = Registry()
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    eps = sorted(entry_points(group=hookspecs.PROJECT) if eps is None else eps, key=lambda e: e.name)
    for ep in eps:
        _load_one(pm, ep, registry)
    _registry = registry
    return registry


def _load_one(pm: pluggy.PluginManager, ep: EntryPoint, registry: Registry) -> None:
    dist = ep.dist.name if ep.dist is not None else "?"
    version = ep.dist.version if ep.dist is not None else "?"
    name = ep.name
    if name in registry.plugins or name in registry.broken:
        _broken(registry, f"{name}@{dist}", f"plugin name {name!r} is already used")
        return
    try:
        module = ep.load()
        pm.register(module, name=name)
        pm.check_pending()  # a misspelt hook name is an error, not a silently empty plugin
        env_items = _call(pm, "archgym_envs", name)
        agent_items = _call(pm, "archgym_agents", name)
        registrations = [_env_registration(item, dist) for item in env_items]
        agents = [_agent_spec(item) for item in agent_items]
        backend_specs = [_backend_spec(item) for item in _call(pm, "archgym_backends", name)]
        seen: set[str] = set()
        for reg in registrations:
            owner = registry.env_plugins.get(reg["id"])
            if reg["id"] in seen or owner is not None or _registered_elsewhere(reg):
                raise ValueError(
                    f"env id {reg['id']!r} is already registered" + (f" by plugin {owner!r}" if owner else "")
                )
            seen.add(reg["id"])
        for agent in agents:
            if agent.name in registry.agents or agent.name in seen:
                raise ValueError(f"agent name {agent.name!r} is already registered")
            seen.add(agent.name)
        added = []
        try:
            for backend in backend_specs:
                if backend.name in registry.backends:
                    raise ValueError(f"backend name {backend.name!r} is already registered")
                fresh = backend.name not in env_backend_specs()
                register_backend(backend)  # refuses a name or option another backend holds
                if fresh:
                    added.append(backend.name)
        except Exception:
            for backend_name in added:
                unregister_backend(backend_name)
            raise
    except Exception as exc:
        if pm.get_plugin(name) is not None:
            pm.unregister(name=name)
        _broken(registry, name, f"{type(exc).__name__}: {exc}")
        return
    info = PluginInfo(name=name, distribution=dist, version=version)
    for reg in registrations:
        if reg["id"] not in gymnasium.registry:
            gymnasium.register(**reg)
        registry.env_plugins[reg["id"]] = name
        info.envs.append(reg["id"])
    for agent in agents:
        registry.agents[agent.name] = agent
        info.agents.append(agent.name)
    for backend in backend_specs:
        registry.backends[backend.name] = backend
        info.backends.append(backend.name)
    registry.plugins[name] = info


def _call(pm: pluggy.PluginManager, hook_name: str, plugin_name: str) -> list[Any]:
    """Call one plugin's implementation of a hook (so a failure is attributed to it)."""
    hook = getattr(pm.hook, hook_name)
    items: list[Any] = []
    for impl in hook.get_hookimpls():
        if impl.plugin_name == plugin_name:
            result = impl.function()
            if result is None:
                continue
            if isinstance(result, dict | str) or not isinstance(result, Iterable):
                raise TypeError(f"{hook_name}() must return a list, got {type(result).__name__}")
            items.extend(result)
    return items


def _env_registration(item: Any, dist: str) -> dict[str, Any]:
    if isinstance(item, EnvSpec):
        item = {k: v for k, v in asdict(item).items() if k in _REGISTER_KEYS}
    if not isinstance(item, Mapping):
        raise TypeError(f"an env registration must be a dict or EnvSpec, got {item!r}")
    unknown = set(item) - _REGISTER_KEYS
    if unknown:
        raise ValueError(f"unknown registration key(s) {sorted(unknown)}; legal: {sorted(_REGISTER_KEYS)}")
    env_id = item.get("id")
    if not isinstance(env_id, str) or "/" not in env_id:
        raise ValueError(f"env id must be a namespaced string '<namespace>/<Name>-v<N>', got {env_id!r}")
    namespace, _, env_version = gymnasium.envs.registration.parse_env_id(env_id)
    if env_version is None:
        raise ValueError(f"env id {env_id!r} needs a version: '<namespace>/<Name>-v<N>'")
    if (namespace == "archgym") != (dist == BUILTIN_DISTRIBUTION):
        raise ValueError(
            f"env id {env_id!r}: the 'archgym' namespace is for built-ins; "
            "a third-party plugin uses its own namespace"
        )
    check_entry_point(item.get("entry_point"))
    kwargs = item.get("kwargs")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise ValueError(f"env {env_id!r}: kwargs must be a dict, got {kwargs!r}")
    return dict(item)


def _backend_spec(item: Any) -> BackendSpec:
    if not isinstance(item, BackendSpec):
        raise TypeError(f"archgym_backends() must return BackendSpec items, got {item!r}")
    return item


def _agent_spec(item: Any) -> AgentSpec:
    if not isinstance(item, AgentSpec):
        raise TypeError(f"archgym_agents() must return AgentSpec items, got {item!r}")
    return item


def _registered_elsewhere(reg: Mapping[str, Any]) -> bool:
    """True if Gymnasium knows the id with a different entry point (not an earlier load of ours)."""
    existing = gymnasium.registry.get(reg["id"])
    return existing is not None and existing.entry_point != reg["entry_point"]


def _broken(registry: Registry, name: str, reason: str) -> None:
    registry.broken[name] = reason
    warnings.warn(f"archgym plugin {name!r} is broken and was skipped: {reason}", PluginWarning, stacklevel=4)
