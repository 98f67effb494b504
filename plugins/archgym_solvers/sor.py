"""``archgym/SOR-v0``: the SOR relaxation factor ω over a sequence of related linear systems.

After Khodak, Chow, Balcan & Talwalkar, "Learning to Relax: Setting Solver Parameters Across a
Sequence of Linear System Instances" (ICLR 2024): many related systems ``A_t x = b_t`` are solved
one after another, the solver's parameter ω is chosen for each, and only the iteration count comes
back. One evaluation solves one instance with one ω, from ``x0 = 0`` to a relative residual
``||b - A x|| / ||b|| <= tol``.

Instances (``sequence``):

* ``"shift"`` (default): the 5-point Laplacian plus a diagonal shift, ``A_t = L + c_t I``, with
  ``c_t = low + (high - low) * Beta(a, b)`` — the paper's diagonally shifted systems;
* ``"anisotropy"``: rotated anisotropic diffusion from pyamg's gallery with a varying diffusion
  tensor (anisotropy ε_t log-uniform, angle θ_t uniform);
* ``"constant"``: one fixed system ``L + shift I``; ``shift=0`` (the default) is plain Poisson,
  deterministic, with the analytic optimum ω* = 2 / (1 + sin(π / (n + 1))).

Each instance has a new right-hand side, a radially truncated standard normal as in the paper's
code. Instance ``t`` depends only on ``(sequence_seed, t)``, so every agent sees the same sequence.

The sweep is pyamg's compiled SOR kernel (``amg_core.sor_gauss_seidel``), one call per sweep; the
residual is checked after every sweep (one sparse matrix–vector product), as in the paper.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from archgym import (
    Categorical,
    DesignEnv,
    DesignSpace,
    EvalContext,
    InfeasibleDesign,
    Integer,
    Objective,
    Objectives,
    Real,
)

__all__ = ["SOR", "laplacian_min_eigenvalue", "omega_star", "sor_sweep"]

SEQUENCES = ("shift", "anisotropy", "constant")
SOLVERS = ("sor", "ssor_pcg")
OBJECTIVES = ("iterations", "time")
CONTEXT = ("shift", "epsilon", "theta")
TIME_PENALTY = -1.0e6
"""Reward of an infeasible evaluation under ``objective="time"`` (seconds, negated)."""
MAX_SEQUENCE_LENGTH = 1_000_000
MAX_SHIFT = 1.0e6


def omega_star(n: int) -> float:
    """Young's optimal SOR factor for the 5-point Poisson matrix on an ``n`` × ``n`` grid."""
    return 2.0 / (1.0 + math.sin(math.pi / (n + 1)))


def laplacian_min_eigenvalue(n: int) -> float:
    """Smallest eigenvalue of the 5-point Laplacian (diagonal 4) on an ``n`` × ``n`` grid: a shift
    ``c`` keeps ``L + c I`` positive definite (so SOR converges for every ω in (0, 2)) iff
    ``c > -laplacian_min_eigenvalue(n)``."""
    return 8.0 * math.sin(math.pi / (2 * (n + 1))) ** 2


def sor_sweep(A: Any, x: np.ndarray, b: np.ndarray, omega: float, *, forward: bool = True) -> None:
    """One SOR sweep on ``A x = b`` in place (pyamg's compiled kernel; ``A`` in CSR format)."""
    from pyamg import amg_core

    n = A.shape[0]
    start, stop, step = (0, n, 1) if forward else (n - 1, -1, -1)
    amg_core.sor_gauss_seidel(A.indptr, A.indices, A.data, x, b, start, stop, step, float(omega))


def _pair(owner: str, name: str, value: Any, *, positive: bool = False) -> tuple[float, float]:
    """A ``[low, high]`` constructor argument (a sequence: no single parameter type expresses it)."""
    try:
        low, high = (float(v) for v in value)
        legal = math.isfinite(low) and math.isfinite(high) and low <= high and (low > 0 or not positive)
    except (TypeError, ValueError):
        legal = False
    if not legal:
        text = "a pair [low, high] of finite numbers with low <= high" + (", both > 0" if positive else "")
        raise ValueError(f"{owner}: {name}: {value!r} is not legal; legal values: {text}")
    return low, high


class SOR(DesignEnv):
    """Choose the relaxation factor ω of SOR (or SSOR-preconditioned CG) for each of a sequence
    of related linear systems; reward = -iterations to reach the tolerance.

    One step solves one instance. An episode walks ``episode_length`` consecutive instances of the
    sequence; ``reset(seed=s)`` draws the first one uniformly from the sequence (so the one-step
    episodes of ask/tell agents see varied instances), ``reset(options={"instance": t})`` starts
    at instance ``t``. The observation is the last evaluation's ``iterations``, ``residual`` and
    ``converged`` followed by the *next* instance's context ``(shift, epsilon, theta)``, so
    contextual agents can use it.

    Infeasible (reward = penalty): the iteration cap is reached without meeting the tolerance.
    Penalty: ``-(max_iterations + 1)`` for ``objective="iterations"`` (every feasible reward is
    ``>= -max_iterations``), ``-1e6`` for ``objective="time"``.

    Args:
        n: grid points per side (the system has ``n**2`` unknowns).
        tol: relative residual ``||b - A x|| / ||b||`` to reach, from ``x0 = 0``.
        max_iterations: iteration cap (SOR sweeps, or CG iterations).
        solver: ``"sor"`` (forward SOR sweeps) or ``"ssor_pcg"`` (CG preconditioned by one
            symmetric SOR sweep with the same ω).
        sequence: ``"shift"``, ``"anisotropy"`` or ``"constant"`` (see the module docstring).
        shift: the diagonal shift of the ``"constant"`` sequence (0: plain Poisson).
        shift_range: ``[low, high]`` of the ``"shift"`` sequence's shifts.
        shift_beta: Beta(a, b) shape of the shifts within ``shift_range`` (the paper's
            high-variance setting is (0.5, 1.5), its low-variance one (2, 6)).
        epsilon_range: ``[low, high]`` of the ``"anisotropy"`` sequence's ε (log-uniform, > 0).
        theta_range: ``[low, high]`` of its rotation angle θ in radians (uniform).
        sequence_length: number of instances in the sequence.
        sequence_seed: seed of the sequence's instances (shifts and right-hand sides).
        episode_length: evaluations per episode (1 for ask/tell agents; up to
            ``sequence_length`` for RL agents walking the sequence).
        objective: ``"iterations"`` (machine independent, the default) or ``"time"`` (the
            solve's wall time in seconds).

    The arguments' legal values are declared in :attr:`arguments` (checked by the base class);
    the rules that tie several together (``episode_length <= sequence_length``, shifts above
    ``-laplacian_min_eigenvalue(n)``) and the ``[low, high]`` pairs are checked here.
    """

    arguments = (
        Integer("n", 2, 2048),
        Real("tol", 1e-16, 0.99),
        Integer("max_iterations", 1, 1_000_000),
        Categorical("solver", SOLVERS),
        Categorical("sequence", SEQUENCES),
        # -laplacian_min_eigenvalue(n) >= -2 for every n; the bound at the given n is checked below
        Real("shift", -2.0, MAX_SHIFT),
        Integer("sequence_length", 1, MAX_SEQUENCE_LENGTH),
        Integer("sequence_seed", 0, 2**32 - 1),
        Integer("episode_length", 1, MAX_SEQUENCE_LENGTH),  # and <= sequence_length, checked below
        Categorical("objective", OBJECTIVES),
    )
    simulator_packages = ("pyamg", "scipy")

    def __init__(
        self,
        *,
        n: int = 32,
        tol: float = 1e-8,
        max_iterations: int = 10_000,
        solver: str = "sor",
        sequence: str = "shift",
        shift: float = 0.0,
        shift_range: Sequence[float] = (0.0, 0.6),
        shift_beta: Sequence[float] = (0.5, 1.5),
        epsilon_range: Sequence[float] = (0.01, 1.0),
        theta_range: Sequence[float] = (0.0, math.pi / 2),
        sequence_length: int = 5000,
        sequence_seed: int = 0,
        episode_length: int = 1,
        objective: str = "iterations",
    ) -> None:
        owner = type(self).__name__
        self.n, self.tol, self.max_iterations = n, float(tol), max_iterations
        self.solver, self.sequence, self.objective_name = solver, sequence, objective
        self.sequence_length, self.sequence_seed = sequence_length, sequence_seed
        if episode_length > sequence_length:
            raise ValueError(
                f"{owner}: episode_length: {episode_length!r} is not legal; legal values: integers in "
                f"[1, {sequence_length}] (at most sequence_length)"
            )

        # the shifts must keep every system positive definite, which depends on n
        lam = laplacian_min_eigenvalue(n)
        self.shift_range = _pair(owner, "shift_range", shift_range)
        if self.shift_range[0] <= -lam:
            raise ValueError(
                f"{owner}: shift_range: {list(shift_range)!r} is not legal; legal values: low > {-lam:.6g} "
                f"(minus the smallest Laplacian eigenvalue at n={n}), so every system is "
                "positive definite"
            )
        if not shift > -lam:
            raise ValueError(
                f"{owner}: shift: {shift!r} is not legal; legal values: reals > {-lam:.6g} (minus the "
                f"smallest Laplacian eigenvalue at n={n}) and <= {MAX_SHIFT:g}"
            )
        self.shift = float(shift)
        self.shift_beta = _pair(owner, "shift_beta", shift_beta, positive=True)
        self.epsilon_range = _pair(owner, "epsilon_range", epsilon_range, positive=True)
        self.theta_range = _pair(owner, "theta_range", theta_range)

        if self.objective_name == "iterations":
            objective_spec = Objectives(
                [Objective("iterations", "min")], penalty=-(self.max_iterations + 1.0)
            )
        else:
            objective_spec = Objectives([Objective("solve_time", "min")], penalty=TIME_PENALTY)
        super().__init__(
            design_space=DesignSpace([Real("omega", 0.01, 1.99, default=1.0)]),
            metrics={
                "iterations": "1",
                "solve_time": "s",
                "residual": "1",
                "converged": "bool",
                "instance": "index",
                "shift": "1",
                "epsilon": "1",
                "theta": "rad",
            },
            objective=objective_spec,
            episode_length=episode_length,
        )
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(3 + len(CONTEXT),), dtype=np.float64)
        if self.sequence == "constant":  # one system: its spectrum is known in closed form
            self.statistic_names = ("jacobi_spectral_radius", "sor_spectral_radius", "estimated_iterations")
            if self.solver == "sor":
                self.statistic_estimates = {"iterations": "estimated_iterations"}
        self._start = 0
        self._systems: OrderedDict[int, tuple[Any, np.ndarray]] = OrderedDict()
        self._base: dict[tuple[float, float], Any] = {}

    # --- free statistics -----------------------------------------------------------------------
    def statistics(self, design: Mapping[str, Any]) -> dict[str, float]:
        """For ``sequence="constant"`` (one system, ``L + shift·I``): the Jacobi spectral radius
        ``ρ_J = 4 cos(π/(n+1)) / (4 + shift)`` of the system, SOR's spectral radius at ``omega``
        from Young's theory for consistently ordered matrices (``ω − 1`` above the optimum
        ω* = 2 / (1 + √(1 − ρ_J²)); below, the square of the larger root of
        ``λ^½ = (ωρ_J ± √(ω²ρ_J² − 4(ω − 1))) / 2``), and the sweeps that radius needs to reduce
        the error by ``tol`` — the asymptotic estimate of ``iterations``, exact in rate, not in
        the transient. Other sequences: none (the system changes with the instance)."""
        if self.sequence != "constant":
            return {}
        omega = float(design["omega"])
        rho_j = 4.0 * math.cos(math.pi / (self.n + 1)) / (4.0 + self.shift)
        optimum = 2.0 / (1.0 + math.sqrt(1.0 - rho_j**2))
        if omega >= optimum:
            rho = omega - 1.0
        else:
            rho = ((omega * rho_j + math.sqrt(omega**2 * rho_j**2 - 4.0 * (omega - 1.0))) / 2.0) ** 2
        rho = abs(rho)
        sweeps = math.log(self.tol) / math.log(rho) if 0.0 < rho < 1.0 else float(self.max_iterations)
        return {
            "jacobi_spectral_radius": rho_j,
            "sor_spectral_radius": rho,
            "estimated_iterations": min(max(sweeps, 1.0), float(self.max_iterations)),
        }

    # --- the sequence -------------------------------------------------------------------------
    def _index(self, step: int) -> int:
        if self.sequence == "constant":
            return 0
        return (self._start + step) % self.sequence_length

    def _draw(self, t: int) -> tuple[tuple[float, float, float], np.random.Generator]:
        """Instance ``t``'s context, and the generator its right-hand side is drawn from next."""
        rng = np.random.default_rng([self.sequence_seed, t])
        if self.sequence == "shift":
            low, high = self.shift_range
            return (low + (high - low) * float(rng.beta(*self.shift_beta)), 1.0, 0.0), rng
        if self.sequence == "anisotropy":
            lo, hi = (math.log10(v) for v in self.epsilon_range)
            epsilon = 10.0 ** float(rng.uniform(lo, hi))
            return (0.0, epsilon, float(rng.uniform(*self.theta_range))), rng
        return (self.shift, 1.0, 0.0), rng

    def context(self, t: int) -> tuple[float, float, float]:
        """Instance ``t``'s ``(shift, epsilon, theta)``."""
        return self._draw(t)[0]

    def system(self, t: int) -> tuple[Any, np.ndarray]:
        """Instance ``t``'s matrix (CSR) and right-hand side."""
        cached = self._systems.get(t)
        if cached is not None:
            self._systems.move_to_end(t)
            return cached
        import scipy.sparse as sparse
        from pyamg import gallery

        (shift, epsilon, theta), rng = self._draw(t)
        key = (epsilon, theta)
        base = self._base.get(key)
        if base is None:
            if key == (1.0, 0.0):
                base = gallery.poisson((self.n, self.n), format="csr")
            else:
                stencil = gallery.diffusion_stencil_2d(epsilon=epsilon, theta=theta, type="FD")
                base = gallery.stencil_grid(stencil, (self.n, self.n), format="csr")
            base = sparse.csr_array(base, dtype=np.float64)
            base.eliminate_zeros()
            if self.sequence != "anisotropy":  # one base matrix, reused; anisotropy: one per instance
                self._base[key] = base
        size = base.shape[0]
        A = base + shift * sparse.eye_array(size, format="csr") if shift != 0.0 else base.copy()
        A = sparse.csr_array(A)
        A.sort_indices()
        while True:  # radially truncated standard normal (the paper's right-hand sides)
            b = rng.standard_normal(size)
            if np.linalg.norm(b) <= math.sqrt(size):
                break
        self._systems[t] = (A, b)
        if len(self._systems) > 4:
            self._systems.popitem(last=False)
        return A, b

    # --- Gymnasium API ------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode at a random instance, or at ``options={"instance": t}``."""
        options = dict(options or {})
        instance = options.pop("instance", None)
        last_start = self.sequence_length - self.episode_length
        if instance is not None and (
            isinstance(instance, bool)
            or not isinstance(instance, int | np.integer)
            or not 0 <= instance <= last_start
        ):
            raise ValueError(
                f"reset option 'instance': {instance!r} is not legal; legal values: integers in "
                f"[0, {last_start}] (sequence_length - episode_length)"
            )
        _, info = super().reset(seed=seed, options=options)
        self._start = int(instance) if instance is not None else int(self.np_random.integers(last_start + 1))
        return self.observe(), info

    def observe(self) -> np.ndarray:
        """Last ``iterations, residual, converged``, then the next instance's context."""
        last = self._last_metrics
        own = [
            v if math.isfinite(v := last.get(m, 0.0)) else 0.0
            for m in ("iterations", "residual", "converged")
        ]
        return np.array(own + list(self.context(self._index(self._steps))), dtype=np.float64)

    # --- evaluation ---------------------------------------------------------------------------
    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        t = self._index(context.step)
        A, b = self.system(t)
        omega = float(design["omega"])
        start = time.perf_counter()
        if self.solver == "sor":
            x, iterations = self._sor(A, b, omega)
        else:
            x, iterations = self._ssor_pcg(A, b, omega)
        solve_time = time.perf_counter() - start
        residual = float(np.linalg.norm(b - A @ x) / np.linalg.norm(b))
        converged = residual <= self.tol
        shift, epsilon, theta = self.context(t)
        metrics = {
            "iterations": float(iterations),
            "solve_time": solve_time,
            "residual": residual,
            "converged": float(converged),
            "instance": float(t),
            "shift": shift,
            "epsilon": epsilon,
            "theta": theta,
        }
        if not converged:
            raise InfeasibleDesign(
                f"{self.solver} with omega={omega:g} did not reach tol={self.tol:g} within "
                f"{self.max_iterations} iterations (relative residual {residual:.3g})",
                metrics,
            )
        return metrics

    def _sor(self, A: Any, b: np.ndarray, omega: float) -> tuple[np.ndarray, int]:
        from pyamg import amg_core

        sweep = amg_core.sor_gauss_seidel
        indptr, indices, data = A.indptr, A.indices, A.data
        size = A.shape[0]
        x = np.zeros(size)
        threshold = self.tol * float(np.linalg.norm(b))
        for k in range(1, self.max_iterations + 1):
            sweep(indptr, indices, data, x, b, 0, size, 1, omega)
            r = float(np.linalg.norm(b - A @ x))
            if r <= threshold or not math.isfinite(r):
                return x, k
        return x, self.max_iterations

    def _ssor_pcg(self, A: Any, b: np.ndarray, omega: float) -> tuple[np.ndarray, int]:
        from pyamg import amg_core
        from scipy.sparse.linalg import LinearOperator, cg

        sweep = amg_core.sor_gauss_seidel
        indptr, indices, data = A.indptr, A.indices, A.data
        size = A.shape[0]

        def ssor(r: np.ndarray) -> np.ndarray:
            # one symmetric SOR sweep from z = 0 applies the SSOR preconditioner's inverse (up to
            # the scale ω(2 - ω), which CG does not see)
            r = np.ascontiguousarray(r, dtype=np.float64).ravel()
            z = np.zeros(size)
            sweep(indptr, indices, data, z, r, 0, size, 1, omega)
            sweep(indptr, indices, data, z, r, size - 1, -1, -1, omega)
            return z

        count = 0

        def callback(_: np.ndarray) -> None:
            nonlocal count
            count += 1

        x, _ = cg(
            A,
            b,
            rtol=self.tol,
            atol=0.0,
            maxiter=self.max_iterations,
            M=LinearOperator((size, size), matvec=ssor, dtype=np.float64),
            callback=callback,
        )
        return x, count
