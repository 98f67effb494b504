"""Registers the agent-hyperparameter envs; imports no training library."""

from typing import Any

import archgym


@archgym.hookimpl
def archgym_envs() -> list[dict[str, Any]]:
    return [
        {"id": "archgym/MORLHyper-v0", "entry_point": "archgym_hpo.morl:MORLHyper"},
        {"id": "archgym/RLHyper-v0", "entry_point": "archgym_hpo.rl:RLHyper"},
    ]
