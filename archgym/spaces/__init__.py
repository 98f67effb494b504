"""Floor 0 — what a design is and what makes one better: parameters, design spaces, objectives.

Everything above builds on these two nouns; nothing here imports another archgym package.
"""

from archgym.spaces.design import (
    Categorical,
    Condition,
    Constraint,
    Design,
    DesignKey,
    DesignSpace,
    Integer,
    Ordinal,
    Parameter,
    Real,
    Text,
    design_key,
)
from archgym.spaces.objectives import Objective, Objectives, ObjectiveSpec, Reward, Target, TargetSpec
from archgym.spaces.outcomes import (
    OUTCOME_VIOLATION,
    OutcomeConstraint,
    merge_outcome_constraints,
    parse_outcome_constraint,
)

__all__ = [
    "OUTCOME_VIOLATION",
    "Categorical",
    "Condition",
    "Constraint",
    "Design",
    "DesignKey",
    "DesignSpace",
    "Integer",
    "Objective",
    "ObjectiveSpec",
    "Objectives",
    "Ordinal",
    "OutcomeConstraint",
    "Parameter",
    "Real",
    "Reward",
    "Target",
    "TargetSpec",
    "Text",
    "design_key",
    "merge_outcome_constraints",
    "parse_outcome_constraint",
]
