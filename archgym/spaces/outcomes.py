"""Outcome constraints: bounds on what an evaluation *measures* (energy <= 1 mJ, accuracy >= 0.9).

Not to be confused with :class:`~archgym.spaces.Constraint`, a forbidden combination of *design*
parameters known before evaluating. An outcome constraint is checked after the evaluation: its
signed violation (metric units; <= 0 satisfied) is recorded as ``constraint.<name>``, and an
evaluation violating any is infeasible. Agents see how far a design is from feasible, not only
that it is not (Optuna's ``constraints_func``, BoTorch's constrained acquisition, Deb's rules).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "OPERATORS",
    "OUTCOME_VIOLATION",
    "OutcomeConstraint",
    "merge_outcome_constraints",
    "parse_outcome_constraint",
]

OPERATORS = ("<=", ">=")
OUTCOME_VIOLATION = "outcome constraint violated"
"""How the error of an evaluation that only violated outcome constraints begins."""
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


@dataclass(frozen=True)
class OutcomeConstraint:
    """``metric op bound``, e.g. ``OutcomeConstraint("energy", "<=", 1e6)``.

    Args:
        metric: a metric the env declares.
        op: ``"<="`` (an upper bound) or ``">="`` (a lower bound).
        bound: a finite number, in the metric's unit.
        name: the record column is ``constraint.<name>`` (default: ``<metric>_max`` for an upper
            bound, ``<metric>_min`` for a lower one, so both bounds of a metric can coexist).
    """

    metric: str
    op: str
    bound: float
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not _NAME.fullmatch(self.metric):
            raise ValueError(
                f"outcome constraint metric: {self.metric!r} is not legal; legal values: a metric name"
            )
        if self.op not in OPERATORS:
            raise ValueError(
                f"outcome constraint on {self.metric!r}: operator {self.op!r} is not legal; legal values: "
                f"{', '.join(OPERATORS)}"
            )
        if isinstance(self.bound, bool) or not isinstance(self.bound, int | float):
            raise ValueError(
                f"outcome constraint on {self.metric!r}: bound {self.bound!r} is not legal; legal values: "
                "a finite number"
            )
        bound = float(self.bound)
        if not math.isfinite(bound):
            raise ValueError(
                f"outcome constraint on {self.metric!r}: bound {self.bound!r} is not legal; legal values: "
                "a finite number"
            )
        object.__setattr__(self, "bound", bound)
        name = self.name or f"{self.metric}_{'max' if self.op == '<=' else 'min'}"
        if not _NAME.fullmatch(name):
            raise ValueError(f"outcome constraint name: {name!r} is not legal; legal values: a plain name")
        object.__setattr__(self, "name", name)

    def violation(self, metrics: Mapping[str, float]) -> float:
        """Signed violation in the metric's unit: <= 0 satisfied, > 0 by how much it is not; NaN
        when the evaluation did not measure the metric."""
        value = float(metrics.get(self.metric, math.nan))
        return value - self.bound if self.op == "<=" else self.bound - value

    def tighter_than(self, other: OutcomeConstraint) -> bool:
        """Whether this bound admits no more than ``other`` (same metric and direction)."""
        return self.bound <= other.bound if self.op == "<=" else self.bound >= other.bound

    def describe(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"


def parse_outcome_constraint(text: str) -> OutcomeConstraint:
    """``"energy<=1e6"`` (the CLI's ``--constraint``) as a constraint; a ValueError naming the
    text and the legal form otherwise."""
    match = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(<=|>=)\s*(\S+)\s*", str(text))
    if match is None:
        raise ValueError(f"--constraint: {text!r} is not legal; legal values: METRIC<=BOUND or METRIC>=BOUND")
    metric, op, bound = match.groups()
    try:
        number = float(bound)
    except ValueError:
        raise ValueError(f"--constraint: bound {bound!r} in {text!r} is not a number") from None
    return OutcomeConstraint(metric, op, number)


def _from_spec(key: str, spec: Any) -> OutcomeConstraint:
    if isinstance(spec, OutcomeConstraint):
        return spec
    if isinstance(spec, str):
        return parse_outcome_constraint(f"{key}{spec}" if spec[:2] in OPERATORS else spec)
    if isinstance(spec, Sequence) and len(spec) == 2:
        op, bound = spec
        return OutcomeConstraint(key, op, bound)
    raise ValueError(
        f"outcome_constraints[{key!r}]: {spec!r} is not legal; legal values: (OP, BOUND) with OP in "
        f"{', '.join(OPERATORS)}, e.g. {{'{key}': ('<=', 1.0)}}"
    )


def merge_outcome_constraints(
    declared: Iterable[OutcomeConstraint], given: Mapping[str, Any] | Iterable[OutcomeConstraint] | None
) -> tuple[OutcomeConstraint, ...]:
    """The env's declared constraints with the user's added, or tightened where the user bounds a
    metric the env already bounds in the same direction. Loosening a declared bound is refused:
    the env's own limits (a memory that overflows) stay."""
    merged = {(c.metric, c.op): c for c in declared}
    if given is None:
        return tuple(merged.values())
    if isinstance(given, str):
        given = [given]
    if isinstance(given, Mapping):
        items = [_from_spec(k, v) for k, v in given.items()]
    else:  # OutcomeConstraint objects, or "energy<=1e6" texts (the CLI's, as run.json stores them)
        items = [parse_outcome_constraint(c) if isinstance(c, str) else c for c in given]
    for constraint in items:
        if not isinstance(constraint, OutcomeConstraint):
            raise ValueError(f"outcome_constraints: {constraint!r} is not an OutcomeConstraint")
        key = (constraint.metric, constraint.op)
        if key in merged and not constraint.tighter_than(merged[key]):
            raise ValueError(
                f"outcome_constraints: {constraint.describe()} would loosen the env's own "
                f"{merged[key].describe()}; legal values: bounds at least as tight"
            )
        merged[key] = constraint
    return tuple(merged.values())
