"""Registers the mlsysim-based envs; imports nothing heavy (mlsysim loads when an env is made)."""

from typing import Any

import archgym


@archgym.hookimpl
def archgym_envs() -> list[dict[str, Any]]:
    # disable_env_checker: the multi-objective variant's reward is a vector, which Gymnasium's
    # passive checker warns about; archgym.check_env checks both forms.
    entry = "archgym_mlsys.training:LLMTraining"
    return [
        {"id": "archgym/LLMTraining-v0", "entry_point": entry},
        {
            "id": "archgym/LLMTrainingMO-v0",
            "entry_point": entry,
            "kwargs": {"objective": "time_memory"},
            "disable_env_checker": True,
        },
    ]
