"""Plugin discovery: entry points → pluggy → ``gymnasium.register``.

Every plugin (built-in or third-party) is loaded on its own, so one that fails to import,
returns a malformed registration or claims an id that is already taken is reported by name and
listed in :attr:`Registry.broken`, while the others keep working.
"""

from __future__ import annotations

import math
import os
import time
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
from archgym.plugins.extras import CheckedEntryPoint, MissingExtra, missing_modules, needs
from archgym.search import AgentResolver, AgentSpec

__all__ = ["AgentSpec", "EnvInfo", "PluginInfo", "PluginWarning", "Registry", "get_registry", "load_plugins"]

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

_INFO_KEYS = {"doc", "eval_cost", "extra", "requires", "lean_backends"}
"""Keys of an env item that archgym keeps (``archgym envs --details``, missing extras) and
Gymnasium never sees."""


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


@dataclass(frozen=True)
class EnvInfo:
    """What ``archgym envs`` shows of an env beyond what building it tells: its plugin, doc page,
    typical cost per evaluation, and the extra (and modules) it needs."""

    plugin: str
    doc: str | None = None
    eval_cost: str | None = None
    extra: str | None = None
    requires: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()  # modules of ``requires`` absent when the plugins were loaded
    lean_backends: tuple[str, ...] = ()  # backends it runs on without ``requires``

    @property
    def install_hint(self) -> str | None:
        """``needs pip install 'archgym[x]' (missing: …)`` where a module is missing, else None."""
        return needs(self.extra, self.missing, self.lean_backends) if self.missing else None


@dataclass
class Registry:
    """What the plugins contributed. ``broken`` maps plugin name → reason."""

    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)
    agents: dict[str, AgentSpec] = field(default_factory=dict)
    resolvers: dict[str, AgentResolver] = field(default_factory=dict)
    """Library prefix → resolver of the names ``<prefix>.<anything>`` no plugin registered."""
    backends: dict[str, BackendSpec] = field(default_factory=dict)
    env_plugins: dict[str, str] = field(default_factory=dict)
    env_info: dict[str, EnvInfo] = field(default_factory=dict)

    def agent_install_hint(self, spec: AgentSpec) -> str | None:
        """``needs pip install 'archgym[x]' (missing: …)`` for an agent whose modules are
        missing, else None: listed, but not buildable."""
        missing = missing_modules(spec.requires)
        return needs(spec.extra, missing) if missing else None

    def agent(self, name: str) -> AgentSpec:
        """The spec registered as ``name``, matched case-insensitively: every registered name is
        lowercase (``AgentSpec`` enforces it), so ``--agent Optuna.TPE`` finds ``optuna.tpe``.
        A name no plugin registered whose prefix has a resolver (``nevergrad.NGOptRW``) is built by
        it, each time: resolved specs are not listed."""
        if not isinstance(name, str):
            raise ValueError(f"unknown agent {name!r}; available: {sorted(self.agents)}")
        spec = self.agents.get(name.lower())
        if spec is not None:
            missing = missing_modules(spec.requires)
            if missing:
                raise MissingExtra(f"agent {spec.name!r} {needs(spec.extra, missing)}")
            return spec
        prefix, dot, _ = name.lower().partition(".")
        resolver = self.resolvers.get(prefix) if dot else None
        if resolver is None:
            import difflib  # only on the error path: importing it costs `import archgym` ~10 ms

            close = difflib.get_close_matches(name.lower(), list(self.agents), n=3, cutoff=0.6)
            hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
            more = "".join(f", or {p}.<name> ({r.description})" for p, r in sorted(self.resolvers.items()))
            raise ValueError(f"unknown agent {name!r}{hint}; available: {sorted(self.agents)}{more}")
        missing = missing_modules(resolver.requires)
        if missing:
            raise MissingExtra(f"agent {name!r} {needs(resolver.extra, missing)}")
        try:
            return resolver.resolve(name)
        except ImportError as exc:
            raise ValueError(f"agent {name!r}: the {prefix!r} library is not installed ({exc})") from None


_registry: Registry | None = None


def get_registry() -> Registry:
    """The registry built when ``archgym`` was imported."""
    return _registry if _registry is not None else load_plugins()


def load_plugins(eps: Iterable[EntryPoint] | None = None) -> Registry:
    """Load plugins from the ``archgym`` entry-point group and register their envs.

    Built-in plugins (the ``archgym`` distribution) load first, then the others by name, so a
    built-in agent name, env id or backend name is reserved whatever a third-party plugin is
    called: a plugin that claims one is the one marked broken. A plugin that raises anything at
    import or in a hook — ``SystemExit`` and ``KeyboardInterrupt`` included — is marked broken
    and the others keep working (an ``os._exit`` can't be caught in-process). A plugin that takes
    longer than :func:`import_warn_seconds` to import is named in a warning.

    Idempotent: envs already registered by an earlier call keep their registration.
    """
    global _registry
    registry = Registry()
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    found = entry_points(group=hookspecs.PROJECT) if eps is None else eps
    eps = sorted(found, key=lambda e: (_distribution(e) != BUILTIN_DISTRIBUTION, e.name))
    threshold = import_warn_seconds()
    for ep in eps:
        _load_one(pm, ep, registry, threshold)
    _registry = registry
    return registry


IMPORT_WARN_ENV = "ARCHGYM_PLUGIN_IMPORT_WARN_S"
DEFAULT_IMPORT_WARN_S = 1.0


def import_warn_seconds() -> float:
    """Import time above which a plugin is named in a warning: ``ARCHGYM_PLUGIN_IMPORT_WARN_S``
    (seconds), default 1. Every command and every worker process pays a plugin's import."""
    text = os.environ.get(IMPORT_WARN_ENV)
    if text is None:
        return DEFAULT_IMPORT_WARN_S
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        warnings.warn(
            f"{IMPORT_WARN_ENV}={text!r} is not legal; legal values: a number of seconds > 0 "
            f"(using {DEFAULT_IMPORT_WARN_S})",
            PluginWarning,
            stacklevel=3,
        )
        return DEFAULT_IMPORT_WARN_S
    return value


def _distribution(ep: EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else "?"


def _owner(registry: Registry, kind: str, name: str) -> str:
    """``plugin 'agents' (archgym)``: who registered ``name`` (an agent, backend or env id)."""
    for plugin in registry.plugins.values():
        if name in getattr(plugin, kind):
            return f"plugin {plugin.name!r} ({plugin.distribution})"
    return "another registration"


def _load_one(pm: pluggy.PluginManager, ep: EntryPoint, registry: Registry, threshold: float) -> None:
    dist = _distribution(ep)
    version = ep.dist.version if ep.dist is not None else "?"
    name = ep.name
    if name in registry.plugins or name in registry.broken:
        _broken(registry, f"{name}@{dist}", f"plugin name {name!r} is already used")
        return
    owned = {env_id: gymnasium.registry.get(env_id) for env_id in registry.env_plugins}
    try:
        started = time.perf_counter()
        module = ep.load()
        took = time.perf_counter() - started
        if took > threshold:
            warnings.warn(
                f"archgym plugin {name!r} ({dist}) took {took:.1f} s to import (threshold {threshold:g} s, "
                f"{IMPORT_WARN_ENV}): every archgym command and worker process pays it",
                PluginWarning,
                stacklevel=3,
            )
        _check_untouched(registry, owned)
        pm.register(module, name=name)
        pm.check_pending()  # a misspelt hook name is an error, not a silently empty plugin
        env_items = _call(pm, "archgym_envs", name)
        agent_items = _call(pm, "archgym_agents", name)
        registrations, infos = [], {}
        for item in env_items:
            reg, about = _env_registration(item, dist, name)
            registrations.append(reg)
            infos[reg["id"]] = about
        agents = [_agent_spec(item) for item in agent_items if not isinstance(item, AgentResolver)]
        resolvers = [item for item in agent_items if isinstance(item, AgentResolver)]
        backend_specs = [_backend_spec(item) for item in _call(pm, "archgym_backends", name)]
        _check_untouched(registry, owned)
        seen: set[str] = set()
        for reg in registrations:
            owner = registry.env_plugins.get(reg["id"])
            if reg["id"] in seen or owner is not None or _registered_elsewhere(reg):
                by = f" by {_owner(registry, 'envs', reg['id'])}" if owner else ""
                raise ValueError(f"env id {reg['id']!r} is already registered{by}")
            seen.add(reg["id"])
        for agent in agents:
            if agent.name in registry.agents or agent.name in seen:
                by = f" by {_owner(registry, 'agents', agent.name)}" if agent.name in registry.agents else ""
                raise ValueError(f"agent name {agent.name!r} is already registered{by}")
            seen.add(agent.name)
        prefixes = [resolver.prefix for resolver in resolvers]
        for prefix in prefixes:
            if prefix in registry.resolvers or prefixes.count(prefix) > 1:
                raise ValueError(f"agent prefix {prefix!r} already has a resolver")
        added = []
        try:
            for backend in backend_specs:
                if backend.name in registry.backends:
                    by = _owner(registry, "backends", backend.name)
                    raise ValueError(f"backend name {backend.name!r} is already registered by {by}")
                fresh = backend.name not in env_backend_specs()
                register_backend(backend)  # refuses a name or option another backend holds
                if fresh:
                    added.append(backend.name)
        except Exception:
            for backend_name in added:
                unregister_backend(backend_name)
            raise
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        _restore(owned)
        if pm.get_plugin(name) is not None:
            pm.unregister(name=name)
        _broken(registry, name, f"{type(exc).__name__}: {exc}")
        return
    info = PluginInfo(name=name, distribution=dist, version=version)
    for reg in registrations:
        about = infos[reg["id"]]
        if about.missing:  # listed, and making it says what to install
            entry = CheckedEntryPoint(
                reg["entry_point"], reg["id"], about.extra, about.requires, about.lean_backends
            )
            reg = {**reg, "entry_point": entry}
        current = gymnasium.registry.get(reg["id"])
        if current is not None and current.entry_point != reg["entry_point"]:
            del gymnasium.registry[reg["id"]]  # our own, registered while its extra was (not) missing
        if reg["id"] not in gymnasium.registry:
            gymnasium.register(**reg)
        registry.env_plugins[reg["id"]] = name
        registry.env_info[reg["id"]] = about
        info.envs.append(reg["id"])
    for agent in agents:
        registry.agents[agent.name] = agent
        info.agents.append(agent.name)
    for resolver in resolvers:
        registry.resolvers[resolver.prefix] = resolver
    for backend in backend_specs:
        registry.backends[backend.name] = backend
        info.backends.append(backend.name)
    registry.plugins[name] = info


def _check_untouched(registry: Registry, owned: Mapping[str, Any]) -> None:
    """Refuse a plugin that re-registered another plugin's env id behind the hook's back (a
    ``gymnasium.register`` call at import): it would run its own code under a built-in's name."""
    for env_id, spec in owned.items():
        if gymnasium.registry.get(env_id) is not spec:
            raise ValueError(
                f"re-registered env id {env_id!r} of {_owner(registry, 'envs', env_id)} "
                "with gymnasium.register (env ids belong to the plugin that registered them)"
            )


def _restore(owned: Mapping[str, Any]) -> None:
    for env_id, spec in owned.items():
        if spec is not None:
            gymnasium.registry[env_id] = spec


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


def _env_registration(item: Any, dist: str, plugin: str) -> tuple[dict[str, Any], EnvInfo]:
    if isinstance(item, EnvSpec):
        item = {k: v for k, v in asdict(item).items() if k in _REGISTER_KEYS}
    if not isinstance(item, Mapping):
        raise TypeError(f"an env registration must be a dict or EnvSpec, got {item!r}")
    unknown = set(item) - _REGISTER_KEYS - _INFO_KEYS
    if unknown:
        legal = sorted(_REGISTER_KEYS | _INFO_KEYS)
        raise ValueError(f"unknown registration key(s) {sorted(unknown)}; legal: {legal}")
    info = _env_info(item, plugin)
    item = {k: v for k, v in item.items() if k not in _INFO_KEYS}
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
    return dict(item), info


def _env_info(item: Mapping[str, Any], plugin: str) -> EnvInfo:
    texts = {key: item.get(key) for key in ("doc", "eval_cost", "extra")}
    for key, value in texts.items():
        if value is not None and not (isinstance(value, str) and value.strip()):
            raise ValueError(f"env {item.get('id')!r}: {key} must be a non-empty string, got {value!r}")
    names: dict[str, tuple[str, ...]] = {}
    for key, what in (("requires", "module names"), ("lean_backends", "backend names")):
        value = item.get(key, ())
        if isinstance(value, str) or not all(isinstance(m, str) and m for m in value):
            raise ValueError(f"env {item.get('id')!r}: {key} must be a list of {what}, got {value!r}")
        names[key] = tuple(value)
    missing = tuple(missing_modules(names["requires"]))
    return EnvInfo(plugin=plugin, **texts, **names, missing=missing)


def _backend_spec(item: Any) -> BackendSpec:
    if not isinstance(item, BackendSpec):
        raise TypeError(f"archgym_backends() must return BackendSpec items, got {item!r}")
    return item


def _agent_spec(item: Any) -> AgentSpec:
    if not isinstance(item, AgentSpec):
        raise TypeError(f"archgym_agents() must return AgentSpec or AgentResolver items, got {item!r}")
    return item


def _registered_elsewhere(reg: Mapping[str, Any]) -> bool:
    """True if Gymnasium knows the id with a different entry point (not an earlier load of ours,
    which may have wrapped it while its extra was missing)."""
    existing = gymnasium.registry.get(reg["id"])
    if existing is None:
        return False
    entry = existing.entry_point
    if isinstance(entry, CheckedEntryPoint):
        entry = entry.entry_point
    return bool(entry != reg["entry_point"])


def _broken(registry: Registry, name: str, reason: str) -> None:
    registry.broken[name] = reason
    warnings.warn(f"archgym plugin {name!r} is broken and was skipped: {reason}", PluginWarning, stacklevel=4)
