"""Asynchronous scheduling and the simulated clock (issue #22), measured in one run.

1. Throughput: ``--evals`` evaluations (default 200) of a sleep env whose durations are
   log-normal (median 50 ms, sigma 1), random search. Serial (one worker, in this process) against
   two workers scheduled batch-synchronously (batches of 8) and asynchronously. Throughput is
   evaluations per second of the records' own span (first start to last finish: worker start-up
   excluded) and of the whole call (included). Goal: async >= 1.9x serial.
2. Simulated clock: asynchronous random search and GA on the NAS-Bench-201 table, 16 simulated
   workers, 2 simulated hours (``--time-budget 7200``): wall time of each run (goal: < 60 s on a
   2-core machine), evaluations, best validation accuracy; and a second run of each, checked
   identical in the columns the issue names.

    python benchmarks/async_clock.py [--evals 200] [--skip-throughput] [--skip-simulated]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from archgym.loop import run
from archgym.records import PARQUET

SLEEP = "archgym.testing:archgym-testing/Sleep-v0"
NAS = "archgym/NASBench201-v0"
SAME = ["step", "worker", "start_s", "finish_s", "fidelity", "reward", "feasible"]


def throughput(out: Path, evals: int, workers: int, schedule: str) -> tuple[float, float]:
    """(evaluations per second of the records' span, per second of the whole call)."""
    start = time.perf_counter()
    run(
        env=SLEEP,
        env_kwargs={"delay_s": 0.05, "sigma": 1.0},
        agent="random",
        agent_params={"batch_size": 8},
        budget=evals,
        seed=0,
        out=out,
        workers=workers,
        schedule=schedule,
        isolate=workers > 1,
        progress=False,
    )
    wall = time.perf_counter() - start
    table = pq.read_table(out / PARQUET, columns=["start_s", "finish_s"]).to_pydict()
    span = max(table["finish_s"]) - min(table["start_s"])
    return evals / span, evals / wall


def simulated(out: Path, agent: str) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    summary = run(
        env=NAS,
        env_kwargs={"backend": "table"},
        agent=agent,
        budget=1_000_000,
        seed=0,
        out=out,
        workers=16,
        schedule="async",
        simulate_time=True,
        time_budget_s=7200.0,
        progress=False,
    )
    return time.perf_counter() - start, summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--evals", type=int, default=200)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-simulated", action="store_true")
    args = parser.parse_args()
    print(f"python benchmarks/async_clock.py --evals {args.evals}; machine: {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_throughput:
            print(f"\n1. {args.evals} evaluations, log-normal durations (median 50 ms, sigma 1), random")
            serial = throughput(Path(tmp) / "serial", args.evals, 1, "sync")
            header = f"{'evals/s (span)':>15} {'x serial':>9} {'evals/s (call)':>15} {'x serial':>9}"
            print(f"  {'mode':<28} {header}")
            for label, workers, schedule in [
                ("serial, 1 worker", 1, "sync"),
                ("sync batches of 8, 2 workers", 2, "sync"),
                ("async, 2 workers", 2, "async"),
            ]:
                span, call = (
                    serial if workers == 1 else throughput(Path(tmp) / label[:5], args.evals, 2, schedule)
                )
                ratios = f"{span / serial[0]:>8.2f}x {call:>15.1f} {call / serial[1]:>8.2f}x"
                print(f"  {label:<28} {span:>15.1f} {ratios}")
            print("  goal: async >= 1.9x serial (span)")
        if not args.skip_simulated:
            print("\n2. NAS-Bench-201 table, async, 16 simulated workers, 2 simulated hours")
            for agent in ("random", "ga"):
                wall, summary = simulated(Path(tmp) / f"{agent}-1", agent)
                simulated(Path(tmp) / f"{agent}-2", agent)
                first = pq.read_table(Path(tmp) / f"{agent}-1" / PARQUET, columns=SAME).to_pydict()
                second = pq.read_table(Path(tmp) / f"{agent}-2" / PARQUET, columns=SAME).to_pydict()
                print(
                    f"  {agent:<7} wall {wall:6.1f} s (goal < 60 s)  "
                    f"evaluations {summary['n_evaluations']:>6}  "
                    f"simulated {summary['clock_s'] / 3600:.2f} h  best {summary['best_reward']:.3f}  "
                    f"second run identical: {first == second}"
                )


if __name__ == "__main__":
    main()
