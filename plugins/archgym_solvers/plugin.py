"""Registers the solver-parameter envs through the same hook a third-party plugin uses.

Light on purpose: the entry points are strings, so neither pyamg nor scipy is imported until an
env is made.
"""

from typing import Any

import archgym


@archgym.hookimpl
def archgym_envs() -> list[dict[str, Any]]:
    # Wall-clock metrics (unit "s") are masked by archgym.check_env and kept out of observations,
    # so with their default objectives (iterations, work) both envs are deterministic.
    return [
        {
            "id": "archgym/SOR-v0",
            "entry_point": "archgym_solvers.sor:SOR",
            "doc": "docs/env-sor.md",
            "eval_cost": "≈10 ms at n=32 (scipy; up to ~0.5 s near the divergent ends of ω)",
            "extra": "solvers",
            "requires": ("pyamg",),
        },
        {
            "id": "archgym/AMG-v0",
            "entry_point": "archgym_solvers.amg:AMG",
            "doc": "docs/env-amg.md",
            "eval_cost": "≈0.1 s (pyamg; seconds for the slowest-converging settings)",
            "extra": "solvers",
            "requires": ("pyamg",),
        },
    ]
