"""The plugin module named by this distribution's ``archgym`` entry point.

It only returns registration dicts: entry points are strings, so listing the envs (which
``import archgym`` does for every installed plugin) does not import :mod:`archgym_example.envs`.
Ids use this plugin's own namespace, ``example/``; ``archgym/`` is reserved for built-ins and a
plugin that uses it is reported as broken.
"""

from typing import Any

import archgym


@archgym.hookimpl
def archgym_envs() -> list[dict[str, Any]]:
    return [
        {
            "id": "example/Knapsack-v0",
            "entry_point": "archgym_example.envs:Knapsack",
            "kwargs": {"n_items": 8, "instance_seed": 0},
        },
        {
            "id": "example/KnapsackDesign-v0",
            "entry_point": "archgym_example.envs:KnapsackDesign",
            "kwargs": {"n_items": 8, "instance_seed": 0},
        },
    ]


@archgym.hookimpl
def archgym_backends() -> list[archgym.BackendSpec]:
    """A backend any DesignEnv can use: ``gymnasium.make(ID, backend="noisy", noise_sd=2.0)``."""
    return [
        archgym.BackendSpec(
            name="noisy",
            entry_point="archgym_example.backends:noisy",
            description="the env's own metrics with Gaussian measurement noise (noise_sd=…)",
            options=("noise_sd",),
        )
    ]
