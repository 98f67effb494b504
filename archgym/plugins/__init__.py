"""Floor 3 — plugins: the hook specifications (the plugin contract) and the registry that loads
every entry point of the ``archgym`` group, built-ins exactly like third-party packages."""

from archgym.entrypoints import load_entry_point
from archgym.env import BackendSpec
from archgym.plugins.extras import MissingExtra
from archgym.plugins.hookspecs import PROJECT, hookimpl, hookspec
from archgym.plugins.registry import (
    AgentSpec,
    EnvInfo,
    PluginInfo,
    PluginWarning,
    Registry,
    get_registry,
    load_plugins,
)

__all__ = [
    "PROJECT",
    "AgentSpec",
    "BackendSpec",
    "EnvInfo",
    "MissingExtra",
    "PluginInfo",
    "PluginWarning",
    "Registry",
    "get_registry",
    "hookimpl",
    "hookspec",
    "load_entry_point",
    "load_plugins",
]
