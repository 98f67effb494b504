"""Multi-fidelity analytic problems: a cheap, biased low fidelity and an exact full fidelity, with
known optima, so multi-fidelity agents (Hyperband, ASHA, BOHB, MO-ASHA) can be checked exactly.

Each env has one real fidelity knob ``s`` in ``[min_fidelity, 1]`` (default 1, the full
fidelity), chosen per evaluation with ``env.reset(options={"fidelity": s})`` or an agent's
``Proposal(design, fidelity=s)``. At ``s = 1`` each is exactly its single-fidelity counterpart
(:class:`~archgym_analytic.problems.Branin`, ``Hartmann6``, ``DTLZ2``), so the known optimum and
Pareto front hold there.

**Cost model.** An evaluation at ``s`` costs ``s`` full evaluations (``Fidelity.cost``: ``s / 1``),
which is what ``--cost-budget`` counts. Its simulated duration (``--simulate-time``) is the
analytic problems' 30 s × (1 + 2u) (u: mean unit-cube coordinate of the design) times ``s``: the
same design at fidelity ``s`` takes ``s`` times as long, so simulated time and cost agree up to the
design-dependent factor that gives asynchronous schedulers uneven durations.

``min_fidelity`` (default 1/27) keeps the cheapest evaluation from being free (BoTorch's
definitions allow ``s = 0``, whose cost here would be 0); with ``η = 3`` it gives the rungs
1/27, 1/9, 1/3, 1.

Formulas: the augmented Branin and Hartmann-6 of the multi-fidelity BO literature, as BoTorch
states them (``botorch.test_functions.multi_fidelity``), written in numpy so these problems need
no torch; the multi-objective DTLZ2 bias is this package's own, documented on :class:`DTLZ2MF`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from archgym import DesignEnv, DesignSpace, EvalContext, Fidelity, Objective, Objectives, Real
from archgym_analytic.problems import _H6_A, _H6_ALPHA, _H6_P, SimulatedCost

__all__ = ["DEFAULT_MIN_FIDELITY", "DTLZ2MF", "BraninMF", "Hartmann6MF"]

DEFAULT_MIN_FIDELITY = 1.0 / 27.0
"""Lowest fidelity by default: 1/27, so η = 3 gives four rungs (1/27, 1/9, 1/3, 1)."""
_MIN_FIDELITY_ARGUMENT = Real("min_fidelity", 1e-3, 1.0)


def _fidelity(min_fidelity: float) -> Fidelity:
    return Fidelity("s", float(min_fidelity), 1.0, default=1.0)


class FidelityScaledCost(SimulatedCost):
    """The analytic problems' simulated duration times the fidelity ``s`` (see the module)."""

    def simulated_duration(self, design: Mapping[str, Any], fidelity: Any, metrics: Any) -> float:
        full = super().simulated_duration(design, fidelity, metrics)
        return full * (1.0 if fidelity is None else float(fidelity))


def _s(context: EvalContext) -> float:
    return 1.0 if context.fidelity is None else float(context.fidelity)


class BraninMF(FidelityScaledCost, DesignEnv):
    """Augmented Branin on x1 ∈ [-5, 10], x2 ∈ [0, 15] with fidelity s; reward = -B(x, s).

    B(x, s) = (x2 - (b - 0.1(1 - s)) x1² + c x1 - 6)² + 10 (1 - t) cos(x1) + 10, with Branin's
    b = 5.1/(4π²), c = 5/π, t = 1/(8π): a lower fidelity bends the valley (x1²'s weight), so the
    minimisers move with s while the minimum stays 0.397887. At s = 1 it is Branin: optimum
    reward -0.397887 at (-π, 12.275), (π, 2.275), (9.42478, 2.475). Penalty: -400.
    """

    optimal_reward = -0.39788735772973816
    arguments = (_MIN_FIDELITY_ARGUMENT,)

    def __init__(self, min_fidelity: float = DEFAULT_MIN_FIDELITY) -> None:
        super().__init__(
            design_space=DesignSpace([Real("x1", -5.0, 10.0), Real("x2", 0.0, 15.0)]),
            metrics={"value": "1"},
            objective=Objectives([Objective("value", "min")], penalty=-400.0),
            fidelity=_fidelity(min_fidelity),
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        x1, x2, s = design["x1"], design["x2"], _s(context)
        b, c, t = 5.1 / (4 * math.pi**2) - 0.1 * (1 - s), 5 / math.pi, 1 / (8 * math.pi)
        value = (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10
        return {"value": value}


class Hartmann6MF(FidelityScaledCost, DesignEnv):
    """Augmented Hartmann-6 on [0, 1]^6 with fidelity s, maximised.

    value = (α1 - 0.1(1 - s)) exp(-Σ_j A_1j (x_j - P_1j)²) + Σ_{i=2..4} α_i exp(-Σ_j A_ij (x_j - P_ij)²):
    a lower fidelity weakens the first of the four peaks. At s = 1 it is Hartmann-6: optimum
    3.32237 at (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573). Penalty: 0.
    """

    optimal_reward = 3.322368011391339
    arguments = (_MIN_FIDELITY_ARGUMENT,)

    def __init__(self, min_fidelity: float = DEFAULT_MIN_FIDELITY) -> None:
        super().__init__(
            design_space=DesignSpace([Real(f"x{i}", 0.0, 1.0) for i in range(1, 7)]),
            metrics={"value": "1"},
            objective=Objectives([Objective("value", "max")], penalty=0.0),
            fidelity=_fidelity(min_fidelity),
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        x = np.array([design[f"x{i}"] for i in range(1, 7)])
        alpha = _H6_ALPHA.copy()
        alpha[0] -= 0.1 * (1 - _s(context))
        inner = np.sum(_H6_A * (x - _H6_P) ** 2, axis=1)
        return {"value": float(np.sum(alpha * np.exp(-inner)))}


DTLZ2MF_SHIFT = 0.2
"""How far the distance variables' optimum moves at the lowest fidelity: c(s) = 0.5 + 0.2 (1 - s)."""


class DTLZ2MF(FidelityScaledCost, DesignEnv):
    """DTLZ2 (6 variables, 2 objectives, minimised; reward = (-f1, -f2)) with fidelity s and a
    documented bias:

        f1 = (1 + g_s) cos(θ_s),  f2 = (1 + g_s) sin(θ_s),
        g_s = Σ_{j=2..6} (x_j - c(s))²,  c(s) = 0.5 + 0.2 (1 - s),  θ_s = (π/2) x1^(2 - s).

    A lower fidelity moves the distance variables' optimum from 0.5 towards 0.7 (a design that is
    Pareto-optimal at s has g = 5 (0.2 (1 - s))² at full fidelity: 0.19 at s = 1/27) and warps where
    x1 lands on the front, so what looks best cheaply is not quite what is best: promotions must
    correct it. At s = 1 it is DTLZ2: front f1² + f2² = 1 (x1 free, x2..x6 = 0.5), reference point
    (-1.1, -1.1) in reward units, front hypervolume 1.21 - π/4 ≈ 0.424602. Penalty (-3.5, -3.5):
    worse than any fidelity reaches (f ≤ 1 + 5·0.7² = 3.45).
    """

    reference_point = np.array([-1.1, -1.1])
    optimal_hypervolume = 1.21 - math.pi / 4
    arguments = (_MIN_FIDELITY_ARGUMENT,)

    def __init__(self, min_fidelity: float = DEFAULT_MIN_FIDELITY) -> None:
        bounds = (-3.5, 0.0)
        super().__init__(
            design_space=DesignSpace([Real(f"x{i}", 0.0, 1.0) for i in range(1, 7)]),
            metrics={"f1": "1", "f2": "1"},
            objective=Objectives(
                [Objective("f1", "min", bounds), Objective("f2", "min", bounds)], penalty=-3.5
            ),
            fidelity=_fidelity(min_fidelity),
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        s = _s(context)
        x = [design[f"x{i}"] for i in range(1, 7)]
        centre = 0.5 + DTLZ2MF_SHIFT * (1 - s)
        g = sum((xi - centre) ** 2 for xi in x[1:])
        angle = x[0] ** (2 - s) * math.pi / 2
        return {"f1": (1 + g) * math.cos(angle), "f2": (1 + g) * math.sin(angle)}

    def pareto_front(self, n_points: int) -> np.ndarray:
        """DTLZ2's front: the full fidelity's."""
        angle = np.linspace(0.0, math.pi / 2, n_points)
        return -np.column_stack([np.cos(angle), np.sin(angle)])
