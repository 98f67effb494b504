"""Registers the agent-hyperparameter envs; imports no training library."""

from typing import Any

import archgym


@archgym.hookimpl
def archgym_envs() -> list[dict[str, Any]]:
    return [
        {
            "id": "archgym/MORLHyper-v0",
            "entry_point": "archgym_hpo.morl:MORLHyper",
            "doc": "docs/env-morlhyper.md",
            "eval_cost": "≈1-3 s (Pareto Q-learning, 10,000 steps × 2 seeds; Envelope Q-learning: more)",
            "extra": "morl",
            "requires": ("torch", "morl_baselines", "mo_gymnasium"),
        },
        {
            "id": "archgym/RLHyper-v0",
            "entry_point": "archgym_hpo.rl:RLHyper",
            "doc": "docs/env-rlhyper.md",
            "eval_cost": "≈1 s at the default 1,024 steps; 3-5 s at 4,096 (stable-baselines3, one thread)",
            "extra": "rl",
            "requires": ("torch", "stable_baselines3"),
        },
    ]
