"""Overhead of the evaluation loop, and the speedup of parallel workers.

Prints (1) the per-evaluation overhead of loop + Gymnasium wrappers + records on a null env,
in µs and as a ratio to a bare call of the same evaluation (goal: ≤ 50 µs), and (2) the
speedup of ``--workers 2`` over ``--workers 1`` on a 50 ms evaluation (goal: ≥ 1.8×). Both
baselines are measured in the same run, on the same machine.

    python benchmarks/overhead.py [--evals 5000] [--slow-evals 40]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import archgym.testing
from archgym.env import EvalContext
from archgym.loop import run
from archgym.testing import ConstantAgent


def bare_call_us(n: int) -> float:
    env = archgym.testing.NullEnv()
    design = env.design_space.default()
    ctx = EvalContext(fidelity=None, rng=np.random.default_rng(0), step=0)
    start = time.perf_counter()
    for _ in range(n):
        env.evaluate(design, ctx)
    return (time.perf_counter() - start) / n * 1e6


def loop_s(n: int, out: Path) -> float:
    start = time.perf_counter()
    run(
        env="archgym.testing:archgym-testing/Null-v0",
        agent=ConstantAgent,
        budget=n,
        seed=0,
        out=out,
        progress=False,
    )
    return time.perf_counter() - start


def marginal_loop_us(n: int, root: Path) -> float:
    """Per-evaluation cost as the slope between n and 2n evaluations: excludes the fixed cost
    of building the env, writing run.json and the final Parquet/summary."""
    loop_s(200, root / "warm-up")
    small, large = loop_s(n, root / "small"), loop_s(2 * n, root / "large")
    return (large - small) / n * 1e6


def slow_run_s(n: int, workers: int, out: Path) -> float:
    start = time.perf_counter()
    run(
        env="archgym.testing:archgym-testing/Sleep-v0",
        env_kwargs={"delay_s": 0.05},
        agent="random",
        agent_params={"batch_size": 8},
        budget=n,
        seed=0,
        out=out,
        workers=workers,
        progress=False,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evals", type=int, default=5000, help="evaluations for the overhead figure")
    parser.add_argument("--slow-evals", type=int, default=40, help="50 ms evaluations for the speedup")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bare = bare_call_us(args.evals)
        looped = marginal_loop_us(args.evals, root)
        overhead = looped - bare
        print(f"null env: bare evaluate() {bare:.2f} µs; through loop+wrappers+records {looped:.1f} µs")
        print(
            f"per-evaluation overhead: {overhead:.1f} µs (goal <= 50 µs); ratio loop/bare: "
            f"{looped / bare:.0f}x"
        )
        n = args.slow_evals
        one, two = slow_run_s(n, 1, root / "w1"), slow_run_s(n, 2, root / "w2")
        one_2n, two_2n = slow_run_s(2 * n, 1, root / "w1b"), slow_run_s(2 * n, 2, root / "w2b")
        print(
            f"50 ms evaluations x{n}: 1 worker {one:.2f} s, 2 workers {two:.2f} s "
            f"(incl. worker start-up): speedup {one / two:.2f}x"
        )
        steady_one, steady_two = (one_2n - one) / n, (two_2n - two) / n
        print(
            f"steady state (slope {n}->{2 * n} evaluations): 1 worker {steady_one * 1e3:.1f} ms/eval, "
            f"2 workers {steady_two * 1e3:.1f} ms/eval: speedup {steady_one / steady_two:.2f}x "
            "(goal >= 1.8x)"
        )


if __name__ == "__main__":
    main()
