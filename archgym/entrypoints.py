"""``"package.module:attr"`` strings: how specs (envs, agents, backends) name code without
importing it, so listing what is installed stays light."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["check_entry_point", "load_entry_point"]


def load_entry_point(entry_point: str) -> Any:
    """Import ``"package.module:attr"`` (the format Gymnasium and our specs use)."""
    check_entry_point(entry_point)
    module_name, attr = entry_point.split(":")
    return getattr(importlib.import_module(module_name), attr)


def check_entry_point(entry_point: Any) -> None:
    """Refuse anything but a ``'package.module:attr'`` string."""
    if not isinstance(entry_point, str) or entry_point.count(":") != 1:
        raise ValueError(f"entry_point must be a 'package.module:Class' string, got {entry_point!r}")
