"""The analytic problems. Each documents its optimum and its infeasible penalty.

Formulas: Branin and Hartmann-6 as in Surjanovic & Bingham's Virtual Library of Simulation
Experiments; DTLZ2 as in Deb, Thiele, Laumanns & Zitzler (2002).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from archgym import (
    Categorical,
    Condition,
    Constraint,
    DesignEnv,
    DesignSpace,
    EvalContext,
    Integer,
    Objective,
    Objectives,
    Ordinal,
    Real,
)


class SimulatedCost:
    """The analytic problems' cost model for the simulated clock (``--simulate-time``): an
    evaluation takes ``30 s × (1 + 2u)`` where ``u`` is the mean of the design's unit-cube
    coordinates — 30 s to 90 s, deterministic and design-dependent, as a simulator's run time
    is (a larger array, a finer mesh takes longer). The functions themselves cost nothing; the
    model exists so asynchronous schedulers meet uneven durations, and it is what a simulated
    run of these problems measures time in."""

    design_space: DesignSpace

    def simulated_duration(self, design: Mapping[str, Any], fidelity: Any, metrics: Any) -> float:
        unit = np.asarray(self.design_space.to_unit(design), dtype=np.float64)
        return 30.0 * (1.0 + 2.0 * float(unit.mean())) if unit.size else 30.0


class Branin(SimulatedCost, DesignEnv):
    """Branin-Hoo on x1 ∈ [-5, 10], x2 ∈ [0, 15]; reward = -f.

    Optimum: f = 0.397887 at (-π, 12.275), (π, 2.275) and (9.42478, 2.475), so the best reward
    is -0.397887. Infeasible penalty: -400 (below the worst value, about 308).
    """

    optimal_reward = -0.39788735772973816

    def __init__(self) -> None:
        super().__init__(
            design_space=DesignSpace([Real("x1", -5.0, 10.0), Real("x2", 0.0, 15.0)]),
            metrics={"value": "1"},
            objective=Objectives([Objective("value", "min")], penalty=-400.0),
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        x1, x2 = design["x1"], design["x2"]
        b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
        value = (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10
        return {"value": value}


_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


class Hartmann6(SimulatedCost, DesignEnv):
    """Hartmann-6 on [0, 1]^6, maximised: value = Σ α_i exp(-Σ_j A_ij (x_j - P_ij)²).

    Optimum: value = 3.32237 at (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573).
    Infeasible penalty: 0 (the minimum of the value).
    """

    optimal_reward = 3.322368011391339
    arguments = (Integer("levels", 2, 1000),)

    def __init__(self, levels: int | None = None) -> None:
        """``levels``: make each x an ordinal on ``levels`` evenly spaced values in [0, 1] — the
        discretised variant for agents that need discrete spaces (its optimum is then lower)."""
        if levels is None:
            params = [Real(f"x{i}", 0.0, 1.0) for i in range(1, 7)]
        else:  # int(): a positional levels=5.0 is legal but is not converted by the base class
            grid = [round(v, 12) for v in np.linspace(0.0, 1.0, int(levels))]
            params = [Ordinal(f"x{i}", grid) for i in range(1, 7)]
        super().__init__(
            design_space=DesignSpace(params),
            metrics={"value": "1"},
            objective=Objectives([Objective("value", "max")], penalty=0.0),
        )
        if levels is not None:
            self.optimal_reward = None

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        x = np.array([design[f"x{i}"] for i in range(1, 7)])
        inner = np.sum(_H6_A * (x - _H6_P) ** 2, axis=1)
        return {"value": float(np.sum(_H6_ALPHA * np.exp(-inner)))}


_KERNEL_OFFSET = {"linear": 1.0, "rbf": 0.0, "poly": 0.5}


def _n_times_width_allowed(design: Mapping[str, Any]) -> bool:
    return design["n"] * design["width"] <= 160


class MixedConditional(SimulatedCost, DesignEnv):
    """A mixed integer/real/categorical/ordinal problem with conditional parameters and a
    forbidden combination — the shape of real hyperparameter spaces, with a known optimum.

    value = (x-1)² + (n-3)²/4 + (log2(width)-3)²/2 + kernel term, where the kernel term is
    1 for ``linear``, (log10(gamma)+1)² for ``rbf`` (``gamma`` active only then) and
    0.5 + (degree-3)²/4 for ``poly`` (``degree`` active only then). Forbidden: n·width > 160.
    Optimum: value 0 at x=1, n=3, kernel=rbf, gamma=0.1, width=8; reward = -value.
    Infeasible penalty: -1000.
    """

    optimal_reward = 0.0

    def __init__(self) -> None:
        super().__init__(
            design_space=DesignSpace(
                [
                    Real("x", -5.0, 5.0),
                    Integer("n", 0, 10),
                    Categorical("kernel", ["linear", "rbf", "poly"]),
                    Real("gamma", 1e-3, 10.0, log=True, condition=Condition("kernel", ["rbf"])),
                    Integer("degree", 1, 5, condition=Condition("kernel", ["poly"])),
                    Ordinal("width", [1, 2, 4, 8, 16, 32, 64]),
                ],
                constraints=[Constraint("n * width <= 160", _n_times_width_allowed)],
            ),
            metrics={"value": "1"},
            objective=Objectives([Objective("value", "min")], penalty=-1000.0),
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        value = (design["x"] - 1) ** 2 + (design["n"] - 3) ** 2 / 4
        value += (math.log2(design["width"]) - 3) ** 2 / 2 + _KERNEL_OFFSET[design["kernel"]]
        if design["kernel"] == "rbf":
            value += (math.log10(design["gamma"]) + 1) ** 2
        elif design["kernel"] == "poly":
            value += (design["degree"] - 3) ** 2 / 4
        return {"value": value}


class DTLZ2(SimulatedCost, DesignEnv):
    """DTLZ2 with 6 variables and 2 objectives, both minimised; reward = (-f1, -f2).

    Pareto front: f1² + f2² = 1 with f ≥ 0 (x1 free, x2..x6 = 0.5). Hypervolume reference
    point: f = (1.1, 1.1), i.e. ``reference_point`` = (-1.1, -1.1) in reward units; the front's
    hypervolume against it is 1.21 - π/4 ≈ 0.424602. Infeasible penalty: (-2.25, -2.25), the
    worst reachable value of each objective.
    """

    reference_point = np.array([-1.1, -1.1])
    optimal_hypervolume = 1.21 - math.pi / 4

    def __init__(self) -> None:
        bounds = (-2.25, 0.0)
        super().__init__(
            design_space=DesignSpace([Real(f"x{i}", 0.0, 1.0) for i in range(1, 7)]),
            metrics={"f1": "1", "f2": "1"},
            objective=Objectives(
                [Objective("f1", "min", bounds), Objective("f2", "min", bounds)], penalty=-2.25
            ),
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        x = [design[f"x{i}"] for i in range(1, 7)]
        g = sum((xi - 0.5) ** 2 for xi in x[1:])
        angle = x[0] * math.pi / 2
        return {"f1": (1 + g) * math.cos(angle), "f2": (1 + g) * math.sin(angle)}

    def pareto_front(self, n_points: int) -> np.ndarray:
        angle = np.linspace(0.0, math.pi / 2, n_points)
        return -np.column_stack([np.cos(angle), np.sin(angle)])
