"""Campaign throughput: the same campaign run serially, with 1 and 2 local worker processes, and
through a Dask LocalCluster of 2 workers; ratios against the serial run, measured in this run.

The campaign: Branin, Hartmann-6 and DTLZ2 plus a 20 ms-per-evaluation stand-in for a simulator
(``archgym-testing/Sleep-v0``), agents random, ga (3 settings), nsga2, mapelites, budget 40,
3 tuning and 3 test seeds. The analytic runs take milliseconds, so their throughput measures the
campaign machinery (process start, imports, records); the sleeping env measures how well runs
overlap. Every configuration must give identical per-run results.

    python benchmarks/campaign.py [--budget 40] [--delay 0.02]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from archgym.campaign import parse_campaign, run_campaign


def campaign(budget: int, delay: float) -> dict:
    return {
        "name": "throughput",
        "budget": budget,
        "tuning_seeds": [0, 1, 2],
        "test_seeds": [100, 101, 102],
        "envs": [
            {"id": "archgym/Branin-v0"},
            {"id": "archgym/Hartmann6-v0"},
            {"id": "archgym/DTLZ2-v0"},
            {"id": "archgym.testing:archgym-testing/Sleep-v0", "kwargs": {"delay_s": delay}},
        ],
        "agents": [
            {"name": "random"},
            {"name": "ga", "grid": {"population": [4, 16]}},
            {"name": "nsga2"},
            {"name": "mapelites"},
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=40)
    parser.add_argument("--delay", type=float, default=0.02, help="seconds per Sleep-v0 evaluation")
    args = parser.parse_args()
    spec = parse_campaign(campaign(args.budget, args.delay), source="benchmark")
    configs = [
        ("serial (in-process)", 0, None),
        ("1 local worker", 1, None),
        ("2 local workers", 2, None),
        ("Dask LocalCluster, 2 workers", 2, "local"),
    ]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    results, baseline = {}, None
    with tempfile.TemporaryDirectory(prefix="archgym-campaign-bench-") as tmp:
        for label, workers, dask in configs:
            out = Path(tmp) / label.replace(" ", "_")
            start = time.perf_counter()
            summary = run_campaign(spec, out, workers=workers, dask=dask, progress=False)
            wall = time.perf_counter() - start
            runs = pq.read_table(out / "runs.parquet").to_pandas()
            results[label] = runs.set_index("run_key").final.round(12).to_dict()
            baseline = baseline or wall
            n_eval = int(runs.n_evaluations.sum())
            print(
                f"{label:<30} {summary['runs']:>4} runs, {n_eval:>6} evaluations in {wall:6.1f} s: "
                f"{summary['runs'] / wall:6.2f} runs/s, {n_eval / wall:7.0f} evaluations/s, "
                f"speedup vs serial {baseline / wall:.2f}x"
            )
    reference = results[configs[0][0]]
    same = all(r == reference for r in results.values())
    print(f"identical per-run results across configurations: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
