"""Registers the mlsysim-based envs; imports nothing heavy (mlsysim loads when an env is made)."""

from typing import Any

import archgym


@archgym.hookimpl
def archgym_envs() -> list[dict[str, Any]]:
    # disable_env_checker: the multi-objective variant's reward is a vector, which Gymnasium's
    # passive checker warns about; archgym.check_env checks both forms.
    common = {
        "entry_point": "archgym_mlsys.training:LLMTraining",
        "doc": "docs/env-llmtraining.md",
        "eval_cost": "~3 ms (mlsysim's analytical models; its import takes ~3.5 s once per process)",
        "extra": "mlsys",
        "requires": ("mlsysim",),
    }
    return [
        {"id": "archgym/LLMTraining-v0", **common},
        {
            "id": "archgym/LLMTrainingMO-v0",
            **common,
            "kwargs": {"objective": "time_memory"},
            "disable_env_checker": True,
        },
    ]
