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
        {"id": "archgym/SOR-v0", "entry_point": "archgym_solvers.sor:SOR"},
        {"id": "archgym/AMG-v0", "entry_point": "archgym_solvers.amg:AMG"},
    ]
