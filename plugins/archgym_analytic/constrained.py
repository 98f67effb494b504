"""Constrained test problems with known constrained optima: cheap, exact checks of what agents do
with outcome constraints (:class:`archgym.OutcomeConstraint`).

Gramacy et al. (2016), "Modeling an augmented Lagrangian for blackbox constrained optimization",
Technometrics 58(1): minimise ``x1 + x2`` over the unit square subject to
``1.5 - x1 - 2 x2 - 0.5 sin(2π(x1² - 2 x2)) <= 0`` and ``x1² + x2² <= 1.5``; optimum ≈ 0.5998 at
(0.1954, 0.4044), as BoTorch's ``ConstrainedGramacy`` states it (written here in numpy, since the
analytic problems must not need torch).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from archgym import DesignEnv, DesignSpace, EvalContext, Objective, Objectives, OutcomeConstraint, Real
from archgym_analytic.problems import SimulatedCost


class ConstrainedGramacy(SimulatedCost, DesignEnv):
    """Minimise ``value = x1 + x2`` subject to two outcome constraints on measured metrics:
    ``gap <= 0`` (``constraint.gap_max``) and ``radius2 <= 1.5`` (``constraint.radius2_max``).
    Reward: ``-value``; optimum -0.5998 (a feasible evaluation can't beat it). A violating design
    is infeasible with the penalty -2.0 (worse than any design's -value >= -2)."""

    optimal_reward = -0.5998

    def __init__(self) -> None:
        super().__init__(
            design_space=DesignSpace([Real("x1", 0.0, 1.0), Real("x2", 0.0, 1.0)]),
            metrics={"value": "1", "gap": "1", "radius2": "1"},
            objective=Objectives([Objective("value", "min")], penalty=-2.0),
            outcome_constraints=(
                OutcomeConstraint("gap", "<=", 0.0),
                OutcomeConstraint("radius2", "<=", 1.5),
            ),
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        x1, x2 = float(design["x1"]), float(design["x2"])
        gap = 1.5 - x1 - 2.0 * x2 - 0.5 * math.sin(2.0 * math.pi * (x1 * x1 - 2.0 * x2))
        return {"value": x1 + x2, "gap": gap, "radius2": x1 * x1 + x2 * x2}
