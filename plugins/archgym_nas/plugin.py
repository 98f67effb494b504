"""Registers the NAS-Bench-201 env and its ``"table"`` backend; imports nothing heavy (torch
loads when the env trains, the table when an env selects ``backend="table"``)."""

from typing import Any

import archgym


@archgym.hookimpl
def archgym_envs() -> list[dict[str, Any]]:
    return [
        {
            "id": "archgym/NASBench201-v0",
            "entry_point": "archgym_nas.env:NASBench201",
            "doc": "docs/env-nasbench201.md",
            "eval_cost": "≈3 s trained live at 3 epochs (torch, CPU); ≈20 µs with backend='table'",
            "extra": "nas",
            "requires": ("torch", "sklearn"),
            "lean_backends": ("table",),  # the table answers without training: no torch needed
        }
    ]


@archgym.hookimpl
def archgym_backends() -> list[archgym.BackendSpec]:
    """``gymnasium.make("archgym/NASBench201-v0", backend="table", table_dir=None)``: registered
    through the hook exactly as a third-party backend would be."""
    return [
        archgym.BackendSpec(
            name="table",
            entry_point="archgym_nas.table:table_backend",
            description="the NAS-Bench-201 lookup table made by `python -m archgym_nas.tabulate` "
            "(archgym/NASBench201-v0 only; table_dir=PATH, default: the shipped table)",
            options=("table_dir",),
        )
    ]
