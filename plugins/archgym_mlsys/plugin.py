"""Registers the mlsysim-based envs; imports nothing heavy (mlsysim loads when an env is made)."""

from typing import Any

import archgym


@archgym.hookimpl
def archgym_envs() -> list[dict[str, Any]]:
    return []
