"""Registers the analytic problems through the same hook a third-party plugin uses."""

from typing import Any

import archgym


@archgym.hookimpl
def archgym_envs() -> list[dict[str, Any]]:
    module = "archgym_analytic.problems"
    return [
        {"id": "archgym/Branin-v0", "entry_point": f"{module}:Branin"},
        {"id": "archgym/Hartmann6-v0", "entry_point": f"{module}:Hartmann6"},
        {"id": "archgym/MixedConditional-v0", "entry_point": f"{module}:MixedConditional"},
        # Gymnasium's passive checker warns on vector rewards; archgym.check_env checks them.
        {"id": "archgym/DTLZ2-v0", "entry_point": f"{module}:DTLZ2", "disable_env_checker": True},
        {
            "id": "archgym/ConstrainedGramacy-v0",
            "entry_point": "archgym_analytic.constrained:ConstrainedGramacy",
        },
        # multi-fidelity counterparts (fidelity s in [min_fidelity, 1]; s = 1 is the problem above)
        {"id": "archgym/BraninMF-v0", "entry_point": "archgym_analytic.multifidelity:BraninMF"},
        {"id": "archgym/Hartmann6MF-v0", "entry_point": "archgym_analytic.multifidelity:Hartmann6MF"},
        {
            "id": "archgym/DTLZ2MF-v0",
            "entry_point": "archgym_analytic.multifidelity:DTLZ2MF",
            "disable_env_checker": True,
        },
    ]
