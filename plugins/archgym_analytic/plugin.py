"""Registers the analytic problems through the same hook a third-party plugin uses."""

from typing import Any

import archgym

_COST = "≈0.05 ms (numpy; no extra needed)"


@archgym.hookimpl
def archgym_envs() -> list[dict[str, Any]]:
    module = "archgym_analytic.problems"
    semantics, mf = "docs/env-semantics.md", "docs/multi-fidelity.md"
    envs = [
        {"id": "archgym/Branin-v0", "entry_point": f"{module}:Branin", "doc": semantics},
        {"id": "archgym/Hartmann6-v0", "entry_point": f"{module}:Hartmann6", "doc": semantics},
        {"id": "archgym/MixedConditional-v0", "entry_point": f"{module}:MixedConditional", "doc": semantics},
        # Gymnasium's passive checker warns on vector rewards; archgym.check_env checks them.
        {
            "id": "archgym/DTLZ2-v0",
            "entry_point": f"{module}:DTLZ2",
            "disable_env_checker": True,
            "doc": semantics,
        },
        {
            "id": "archgym/ConstrainedGramacy-v0",
            "entry_point": "archgym_analytic.constrained:ConstrainedGramacy",
            "doc": "docs/constraints.md",
        },
        # multi-fidelity counterparts (fidelity s in [min_fidelity, 1]; s = 1 is the problem above)
        {"id": "archgym/BraninMF-v0", "entry_point": "archgym_analytic.multifidelity:BraninMF", "doc": mf},
        {
            "id": "archgym/Hartmann6MF-v0",
            "entry_point": "archgym_analytic.multifidelity:Hartmann6MF",
            "doc": mf,
        },
        {
            "id": "archgym/DTLZ2MF-v0",
            "entry_point": "archgym_analytic.multifidelity:DTLZ2MF",
            "disable_env_checker": True,
            "doc": mf,
        },
    ]
    return [env | {"eval_cost": _COST} for env in envs]
