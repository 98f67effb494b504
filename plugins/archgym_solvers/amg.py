"""``archgym/AMG-v0``: algebraic multigrid parameters (pyamg) as a conditional design space.

One evaluation builds a pyamg hierarchy for one matrix from pyamg's gallery with the design's
parameters (setup) and solves ``A x = b`` from ``x0 = 0`` to a relative residual ``tol`` (solve),
recording iterations, complexities, setup and solve time.

Design space: Ruge–Stüben (``rs``: classical strength threshold, C/F splitting) or smoothed
aggregation (``sa``: symmetric strength threshold, prolongation smoother); the pre/post smoother,
its weight (for the weighted smoothers) and sweep counts; the cycle; the maximum number of levels
and coarse-grid size; the coarse solver; Krylov acceleration.

Safety: pyamg rejecting a combination (e.g. AMLI cycles under CG) raises inside the evaluation and
becomes an infeasible evaluation; the solve is capped at ``max_iterations``; a dense coarse solver
(``pinv``, ``lu``, ``cholesky``) on a coarse grid above ``dense_coarse_limit`` unknowns — seconds
to minutes of dense factorisation — is refused as infeasible before it runs; a cycle costing more
than ``MAX_CYCLE_WORK`` work units is infeasible.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from archgym import (
    Categorical,
    Condition,
    Constraint,
    DesignEnv,
    DesignSpace,
    EvalContext,
    InfeasibleDesign,
    Integer,
    Objective,
    Objectives,
    Ordinal,
    Real,
)

__all__ = ["AMG", "MAX_CYCLE_WORK", "TIME_PENALTY"]

PROBLEMS = ("poisson", "anisotropic")
DISCRETIZATIONS = ("FD", "FE")
OBJECTIVES = ("work", "time", "setup_solve")
DENSE_COARSE = ("pinv", "lu", "cholesky")
MAX_CYCLE_WORK = 1000.0
"""Work units per iteration above which a cycle is infeasible (bounds every feasible work)."""
TIME_PENALTY = -1.0e6
"""Reward of an infeasible evaluation under the time objectives (seconds, negated)."""

# cost of one sweep of each smoother, in matrix-vector products of its level's matrix
_SWEEP_COST = {"gauss_seidel": 2.0, "jacobi": 1.0, "sor": 1.0, "richardson": 1.0, "chebyshev": 3.0}
_WEIGHTED = ("jacobi", "sor", "richardson")
_TIMING = ("setup_time", "solve_time", "total_time")


def _amli_accel(design: Mapping[str, Any]) -> bool:
    """pyamg runs AMLI cycles only standalone or under FGMRES."""
    return design["cycle"] != "AMLI" or design["accel"] in ("none", "fgmres")


def _design_space() -> DesignSpace:
    rs, sa = Condition("solver", ["rs"]), Condition("solver", ["sa"])
    return DesignSpace(
        [
            Categorical("solver", ["rs", "sa"], default="sa"),
            Real("rs_theta", 0.0, 0.9, default=0.25, condition=rs),
            Categorical("rs_splitting", ["RS", "PMIS", "CLJP"], condition=rs),
            Real("sa_theta", 0.0, 0.5, default=0.0, condition=sa),
            Categorical("sa_prolongation", ["jacobi", "richardson", "none"], condition=sa),
            Categorical("smoother", list(_SWEEP_COST), default="gauss_seidel"),
            Real("smoother_weight", 0.1, 1.9, default=1.0, condition=Condition("smoother", _WEIGHTED)),
            Integer("presweeps", 1, 3, default=1),
            Integer("postsweeps", 1, 3, default=1),
            Categorical("cycle", ["V", "W", "F", "AMLI"]),
            Integer("max_levels", 2, 10, default=10),
            Ordinal("max_coarse", [10, 50, 200, 1000], default=10),
            Categorical(
                "coarse_solver", ["splu", "pinv", "cholesky", "lu", "gauss_seidel", "jacobi"], default="pinv"
            ),
            Categorical("accel", ["none", "cg", "gmres", "fgmres", "bicgstab"], default="none"),
        ],
        constraints=[Constraint("cycle 'AMLI' only with accel 'none' or 'fgmres'", _amli_accel)],
    )


def _smoothers(design: Mapping[str, Any]) -> tuple[tuple[str, dict[str, Any]], tuple[str, dict[str, Any]]]:
    """pyamg (presmoother, postsmoother) specs; symmetric pairs, so CG sees an SPD preconditioner
    when the sweep counts match."""
    kind = design["smoother"]
    pre: dict[str, Any] = {"iterations": design["presweeps"]}
    post: dict[str, Any] = {"iterations": design["postsweeps"]}
    if kind == "gauss_seidel":
        pre["sweep"] = post["sweep"] = "symmetric"
    elif kind == "sor":
        # forward before, backward after: pyamg's 'symmetric' sweep silently drops omega
        pre.update(omega=design["smoother_weight"], sweep="forward")
        post.update(omega=design["smoother_weight"], sweep="backward")
    elif kind in ("jacobi", "richardson"):  # pyamg scales these weights by 1 / spectral radius
        pre["omega"] = post["omega"] = design["smoother_weight"]
    else:  # chebyshev
        pre["degree"] = post["degree"] = 3
    return (kind, pre), (kind, post)


class AMG(DesignEnv):
    """Tune pyamg's algebraic multigrid on a PDE matrix from pyamg's gallery.

    Objective (``objective``):

    * ``"work"`` (default, machine independent): minimise ``iterations × (cycle work + 1)``, the
      solve's cost in work units (WU: one fine-grid matrix–vector product). Penalty:
      ``-MAX_CYCLE_WORK × (max_iterations + 1)``, below every feasible reward.
    * ``"time"``: minimise setup + solve wall time (s). Penalty ``-1e6``.
    * ``"setup_solve"``: two objectives, (setup time, solve time) in seconds. Penalty ``-1e6`` each.

    Infeasible: pyamg raises for the combination, the solve does not reach ``tol`` (on the true
    residual) within ``max_iterations``, a dense coarse solver meets a coarse grid above
    ``dense_coarse_limit`` unknowns, or a cycle costs more than ``MAX_CYCLE_WORK`` WU.

    Args:
        problem: ``"poisson"`` (``pyamg.gallery.poisson``) or ``"anisotropic"`` (rotated
            anisotropic diffusion, ``pyamg.gallery.diffusion_stencil_2d`` + ``stencil_grid``).
        n: grid points per side.
        dim: 2 or 3 (``poisson`` only).
        discretization: ``"FD"`` or ``"FE"`` (``FE``: 2-D only).
        epsilon: anisotropy of ``"anisotropic"`` (0 < ε <= 1).
        theta: its rotation angle in radians.
        tol: relative residual ``||b - A x|| / ||b||`` to reach.
        max_iterations: cap on multigrid cycles / Krylov iterations.
        dense_coarse_limit: largest coarse grid a dense coarse solver may factor.
        rhs_seed: seed of the (fixed) random right-hand side.
        objective: ``"work"``, ``"time"`` or ``"setup_solve"``.

    The arguments' legal values are declared in :attr:`arguments` (checked by the base class);
    ``dim=3``, which needs ``problem="poisson"`` and ``discretization="FD"``, is checked here.
    """

    arguments = (
        Categorical("problem", PROBLEMS),
        Integer("n", 4, 4096),
        Integer("dim", 2, 3),  # 3: poisson with FD only, checked in __init__
        Categorical("discretization", DISCRETIZATIONS),
        Real("epsilon", 1e-12, 1.0),
        Real("theta", -2 * math.pi, 2 * math.pi),
        Real("tol", 1e-16, 0.99),
        Integer("max_iterations", 1, 100_000),
        Integer("dense_coarse_limit", 1, 50_000),  # a dense 50 000² matrix is 20 GB
        Integer("rhs_seed", 0, 2**32 - 1),  # it also seeds NumPy's legacy generator: below 2**32
        Categorical("objective", OBJECTIVES),
    )
    simulator_packages = ("pyamg", "scipy")

    def __init__(
        self,
        *,
        problem: str = "poisson",
        n: int = 64,
        dim: int = 2,
        discretization: str = "FD",
        epsilon: float = 0.01,
        theta: float = math.pi / 8,
        tol: float = 1e-8,
        max_iterations: int = 100,
        dense_coarse_limit: int = 1000,
        rhs_seed: int = 0,
        objective: str = "work",
    ) -> None:
        if dim == 3 and (problem != "poisson" or discretization != "FD"):
            raise ValueError(
                f"{type(self).__name__}: dim: {dim!r} is not legal with problem={problem!r} and "
                f"discretization={discretization!r}; legal values: 2, or 3 with problem='poisson' "
                "and discretization='FD'"
            )
        self.problem, self.n, self.dim, self.discretization = problem, n, dim, discretization
        self.epsilon, self.theta, self.tol = float(epsilon), float(theta), float(tol)
        self.max_iterations, self.dense_coarse_limit = max_iterations, dense_coarse_limit
        self.rhs_seed = rhs_seed
        self.objective_name = objective

        spec: Objectives
        if objective == "work":
            spec = Objectives([Objective("work", "min")], penalty=-MAX_CYCLE_WORK * (max_iterations + 1))
        elif objective == "time":
            spec = Objectives([Objective("total_time", "min")], penalty=TIME_PENALTY)
        else:
            spec = Objectives(
                [
                    Objective("setup_time", "min", bounds=(-math.inf, 0.0)),
                    Objective("solve_time", "min", bounds=(-math.inf, 0.0)),
                ],
                penalty=TIME_PENALTY,
            )
            self.reference_point = np.array([-10.0, -10.0])
        super().__init__(
            design_space=_design_space(),
            metrics={
                "iterations": "1",
                "work": "WU",
                "cycle_work": "WU",
                "operator_complexity": "1",
                "grid_complexity": "1",
                "levels": "1",
                "coarse_size": "unknowns",
                "residual": "1",
                "converged": "bool",
                "setup_time": "s",
                "solve_time": "s",
                "total_time": "s",
            },
            objective=spec,
        )
        self._observed = [m for m in self.metric_units if m not in _TIMING]
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(len(self._observed),), dtype=np.float64)
        self._system: tuple[Any, np.ndarray] | None = None

    def observe(self) -> np.ndarray:
        """The last evaluation's metrics without the wall times (which are not reproducible)."""
        last = self._last_metrics
        return np.array(
            [v if math.isfinite(v := last.get(m, 0.0)) else 0.0 for m in self._observed], dtype=np.float64
        )

    def system(self) -> tuple[Any, np.ndarray]:
        """The matrix (CSR) and the fixed right-hand side."""
        if self._system is None:
            import scipy.sparse as sparse
            from pyamg import gallery

            if self.problem == "poisson":
                A = gallery.poisson((self.n,) * self.dim, type=self.discretization, format="csr")
            else:
                stencil = gallery.diffusion_stencil_2d(
                    epsilon=self.epsilon, theta=self.theta, type=self.discretization
                )
                A = gallery.stencil_grid(stencil, (self.n, self.n), format="csr")
            A = sparse.csr_array(A, dtype=np.float64)
            A.eliminate_zeros()
            A.sort_indices()
            b = np.random.default_rng(self.rhs_seed).standard_normal(A.shape[0])
            self._system = (A, b)
        return self._system

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        import pyamg

        A, b = self.system()
        A = A.copy()  # pyamg caches estimates on the matrix object (A.rho): keep evaluations independent
        pre, post = _smoothers(design)
        common: dict[str, Any] = {
            "presmoother": pre,
            "postsmoother": post,
            "max_levels": design["max_levels"],
            "max_coarse": design["max_coarse"],
            "coarse_solver": design["coarse_solver"],
        }
        metrics: dict[str, float] = {}
        # pyamg draws from NumPy's global generator (spectral-radius estimates, PMIS/CLJP weights):
        # seed it for reproducible evaluations, and put the caller's state back afterwards.
        global_state = np.random.get_state()
        np.random.seed(self.rhs_seed)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. CG with a non-symmetric cycle: judged by the result
                x, residuals, setup_time, solve_time, cycle_work = self._setup_and_solve(
                    pyamg, A, b, design, common, metrics
                )
        except InfeasibleDesign:
            raise
        except Exception as exc:  # pyamg rejected the combination, or a factorisation failed
            raise InfeasibleDesign(f"pyamg: {type(exc).__name__}: {exc}", metrics) from exc
        finally:
            np.random.set_state(global_state)
        iterations = max(len(residuals) - 1, 0)
        residual = float(np.linalg.norm(b - A @ x) / np.linalg.norm(b))
        converged = bool(residual <= self.tol)
        metrics.update(
            iterations=float(iterations),
            work=iterations * cycle_work,
            residual=residual,
            converged=float(converged),
            solve_time=solve_time,
            total_time=setup_time + solve_time,
        )
        if not converged:
            raise InfeasibleDesign(
                f"relative residual {residual:.3g} above tol={self.tol:g} after {iterations} iterations",
                metrics,
            )
        return metrics

    def _setup_and_solve(
        self,
        pyamg: Any,
        A: Any,
        b: np.ndarray,
        design: Mapping[str, Any],
        common: dict[str, Any],
        metrics: dict[str, float],
    ) -> tuple[np.ndarray, list[float], float, float, float]:
        start = time.perf_counter()
        if design["solver"] == "rs":
            ml = pyamg.ruge_stuben_solver(
                A, strength=("classical", {"theta": design["rs_theta"]}), CF=design["rs_splitting"], **common
            )
        else:
            prolongation = design["sa_prolongation"]
            ml = pyamg.smoothed_aggregation_solver(
                A,
                strength=("symmetric", {"theta": design["sa_theta"]}),
                smooth=None if prolongation == "none" else prolongation,
                **common,
            )
        coarse = ml.levels[-1].A
        metrics.update(
            operator_complexity=ml.operator_complexity(),
            grid_complexity=ml.grid_complexity(),
            levels=float(len(ml.levels)),
            coarse_size=float(coarse.shape[0]),
        )
        if design["coarse_solver"] in DENSE_COARSE and coarse.shape[0] > self.dense_coarse_limit:
            raise InfeasibleDesign(
                f"coarse grid of {coarse.shape[0]} unknowns is above dense_coarse_limit="
                f"{self.dense_coarse_limit} for the dense coarse solver {design['coarse_solver']!r}",
                metrics,
            )
        ml.coarse_solver(coarse, np.zeros(coarse.shape[0]))  # factor now: it is setup work
        setup_time = time.perf_counter() - start
        cycle_work = self._cycle_work(ml, design)
        metrics.update(cycle_work=cycle_work, setup_time=setup_time)
        if cycle_work > MAX_CYCLE_WORK:
            raise InfeasibleDesign(
                f"one cycle costs {cycle_work:.4g} WU, above the cap of {MAX_CYCLE_WORK:g} WU", metrics
            )
        residuals: list[float] = []
        start = time.perf_counter()
        x = ml.solve(
            b,
            x0=np.zeros_like(b),
            tol=self.tol,
            maxiter=self.max_iterations,
            cycle=design["cycle"],
            accel=None if design["accel"] == "none" else design["accel"],
            residuals=residuals,
        )
        return np.ravel(x), residuals, setup_time, time.perf_counter() - start, cycle_work

    @staticmethod
    def _cycle_work(ml: Any, design: Mapping[str, Any]) -> float:
        """Work units (fine-grid mat-vecs) of one iteration: pyamg's cycle-complexity recursion,
        with the real smoothing cost per level visit, a residual per visit, the coarse solve's
        cost, and one fine-grid residual/mat-vec per iteration."""
        nnz = [float(level.A.nnz) for level in ml.levels]
        coarse_n = float(ml.levels[-1].A.shape[0])
        solver = design["coarse_solver"]
        if solver in DENSE_COARSE:
            coarse = coarse_n**2  # dense triangular solves / pinv product
        elif solver == "splu":
            lu = getattr(ml.coarse_solver, "LU", None)
            coarse = float(lu.L.nnz + lu.U.nnz) if lu is not None else nnz[-1]
        else:
            coarse = 10.0 * nnz[-1]  # pyamg's relaxation coarse solvers: 10 sweeps
        per_visit = (design["presweeps"] + design["postsweeps"]) * _SWEEP_COST[design["smoother"]] + 1.0
        last = len(nnz) - 1
        cycle = design["cycle"]

        def v(level: int) -> float:
            return per_visit * nnz[level] + (coarse if level + 1 == last else v(level + 1))

        def w(level: int) -> float:
            return per_visit * nnz[level] + (coarse if level + 1 == last else 2.0 * w(level + 1))

        def f(level: int) -> float:
            return per_visit * nnz[level] + (coarse if level + 1 == last else f(level + 1) + v(level + 1))

        total = coarse if last == 0 else {"V": v, "W": w, "AMLI": w, "F": f}[cycle](0)
        return total / nnz[0] + 1.0
