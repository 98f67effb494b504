"""Cost of archgym/SOR-v0's kernel and of one evaluation.

Prints (1) the time of one SOR sweep (pyamg's compiled ``amg_core.sor_gauss_seidel``, called
exactly as the env calls it) against one sparse matrix–vector product (SciPy CSR ``A @ x``) on the
same 128×128 and 256×256 Poisson matrices, as a ratio (goal: ≤ 5), with SciPy's sparse triangular
solve (the textbook way to apply ``(D/ω + L)^-1``) as a reference; and (2) the time of one
evaluation (``reset`` + ``step``) of the env at its default size for a few ω, median over seeds.
Both baselines are measured in the same run, on the same machine; every time is the minimum over
repeats, so other load on the machine inflates it least.

    python benchmarks/sor.py [--repeats 7] [--seeds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sparse
import scipy.sparse.linalg as spla
from pyamg import amg_core, gallery

from archgym_solvers.sor import SOR, omega_star


def best_time(fn: Callable[[], object], *, number: int, repeats: int) -> float:
    """Seconds per call: the minimum over ``repeats`` of the mean of ``number`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def kernel_ratios(repeats: int) -> None:
    print("one SOR sweep vs one sparse mat-vec (same Poisson matrix, CSR, float64)")
    print(f"{'grid':>9} {'unknowns':>9} {'SpMV µs':>9} {'sweep µs':>9} {'ratio':>6} {'tri-solve/SpMV':>15}")
    for n in (128, 256):
        A = sparse.csr_array(gallery.poisson((n, n), format="csr"))
        size = A.shape[0]
        rng = np.random.default_rng(0)
        x, b = rng.standard_normal(size), rng.standard_normal(size)
        indptr, indices, data = A.indptr, A.indices, A.data
        number = max(20, 2_000_000 // A.nnz)
        spmv = best_time(lambda: A @ x, number=number, repeats=repeats)  # noqa: B023
        sweep = best_time(
            lambda: amg_core.sor_gauss_seidel(indptr, indices, data, x, b, 0, size, 1, 1.5),  # noqa: B023
            number=number,
            repeats=repeats,
        )
        lower = sparse.csr_matrix(sparse.diags(A.diagonal() / 1.5) + sparse.tril(A, -1))
        tri = best_time(
            lambda: spla.spsolve_triangular(lower, b, lower=True),  # noqa: B023
            number=3,
            repeats=max(2, repeats // 2),
        )
        print(
            f"{n:>4}×{n:<4} {size:>9} {spmv * 1e6:>9.1f} {sweep * 1e6:>9.1f} {sweep / spmv:>6.2f} "
            f"{tri / spmv:>15.1f}"
        )
    print("goal: sweep/SpMV ratio <= 5\n")


def evaluation_times(seeds: int) -> None:
    env = SOR()
    print(
        f"one evaluation of archgym/SOR-v0 at the default size (n={env.n}: {env.n**2} unknowns, "
        f"sequence={env.sequence!r}, tol={env.tol:g}), median over {seeds} seeds"
    )
    print(f"{'solver':>9} {'omega':>7} {'iterations':>11} {'eval ms':>9} {'µs/iteration':>13}")
    for solver in ("sor", "ssor_pcg"):
        env = SOR(solver=solver)
        for omega in (1.0, 1.5, round(omega_star(env.n), 4)):
            times, iterations = [], []
            for seed in range(seeds):
                env.reset(seed=seed)
                start = time.perf_counter()
                _, _, _, _, info = env.step({"omega": np.array([omega])})
                times.append(time.perf_counter() - start)
                iterations.append(info["metrics"]["iterations"])
            t, its = statistics.median(times), statistics.median(iterations)
            print(f"{solver:>9} {omega:>7} {its:>11.0f} {t * 1e3:>9.2f} {t / its * 1e6:>13.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timing repeats (the minimum is kept)")
    parser.add_argument("--seeds", type=int, default=5, help="instances per evaluation figure")
    args = parser.parse_args()
    kernel_ratios(args.repeats)
    evaluation_times(args.seeds)


if __name__ == "__main__":
    main()
