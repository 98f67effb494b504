"""Registers the NAS-Bench-201 env; imports nothing heavy (torch loads when the env trains)."""

from typing import Any

import archgym


@archgym.hookimpl
def archgym_envs() -> list[dict[str, Any]]:
    return [{"id": "archgym/NASBench201-v0", "entry_point": "archgym_nas.env:NASBench201"}]
