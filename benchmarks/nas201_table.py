"""NAS-Bench-201 tabular backend: start-up and lookup time, faithfulness to live training, and
agents on it.

0. Cold start: in a fresh ``python -c`` process, ``import archgym`` + ``gymnasium.make(
   "archgym/NASBench201-v0", backend="table")`` + ``reset`` + the first ``step``, timed inside
   the child from before ``import archgym``, and the whole subprocess's wall time; median of 5
   processes (required: in-child time <= 1.0 s, and no torch imported).
1. Lookup: median time of one table lookup and of one ``env.step`` with ``backend="table"``
   (required: lookup < 100 µs, ``env.step`` <= 50 µs).
2. Faithfulness: Spearman correlation between the table's validation accuracy (mean over its
   seeds) and fresh live training (a seed the table never used) on ``--cells`` random cells
   (required >= 0.6).
3. Agents: a campaign of ``random``, ``ga``, ``bo`` and ``rl`` on the table backend, ``--seeds``
   seeds at a budget of ``--budget``; prints each agent's median best (required: bo and ga above
   random).

Exits 1 when a requirement is missed — including while the table is still being built
(``python -m archgym_nas.tabulate``), when it prints how far that has got.

    python benchmarks/nas201_table.py [--cells 20] [--seeds 30] [--budget 50] [--workers 2]
    python benchmarks/nas201_table.py --cold-only   # 0. and 1. only: seconds
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import archgym  # noqa: F401 - registers the envs
from archgym.campaign import parse_campaign, run_campaign
from archgym_nas import table
from archgym_nas.cell import EDGE_NAMES, all_cells, cell_index, is_connected
from archgym_nas.env import NASBench201

COLD_MAX_S = 1.0
COLD_RUNS = 5
LOOKUP_MAX_S = 100e-6
STEP_MAX_S = 50e-6
SPEARMAN_MIN = 0.6
FRESH_SEED = 424242
AGENTS = ("random", "ga", "bo", "rl")


COLD_CHILD = """
import time

start = time.perf_counter()
import archgym
import gymnasium

env = gymnasium.make("archgym/NASBench201-v0", **{kwargs!r})
env.reset(seed=0)
env.step(env.unwrapped.design_space.to_action(env.unwrapped.design_space.default()))
elapsed = time.perf_counter() - start
import json, sys

print(json.dumps({{"s": elapsed, "torch": "torch" in sys.modules, "sklearn": "sklearn" in sys.modules}}))
"""


def cold_start(kwargs: dict, runs: int = COLD_RUNS) -> tuple[float, float, list[str]]:
    """Median over ``runs`` fresh processes of (import archgym + make + reset + first step,
    measured inside the child; the whole subprocess's wall time), and the heavy packages any of
    them imported."""
    inside, outside, heavy = [], [], set()
    for _ in range(runs):
        start = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-c", COLD_CHILD.format(kwargs=kwargs)], capture_output=True, text=True
        )
        outside.append(time.perf_counter() - start)
        if child.returncode != 0:
            raise RuntimeError(f"cold-start child failed:\n{child.stderr}")
        report = json.loads(child.stdout.strip().splitlines()[-1])
        inside.append(report["s"])
        heavy.update(name for name in ("torch", "sklearn") if report[name])
    return statistics.median(inside), statistics.median(outside), sorted(heavy)


def lookup_times(tab: table.Table, kwargs: dict) -> tuple[float, float]:
    cells = all_cells()
    rng = np.random.default_rng(0)
    picks = [cells[i] for i in rng.integers(len(cells), size=2000)]
    times = []
    for ops in picks:
        start = time.perf_counter()
        tab.lookup(cell_index(ops), 0)
        times.append(time.perf_counter() - start)
    env = gym.make("archgym/NASBench201-v0", **kwargs)
    space = env.unwrapped.design_space
    actions = [space.to_action(dict(zip(EDGE_NAMES, ops, strict=True))) for ops in picks[:500]]
    env.reset(seed=0)
    steps = []
    for action in actions:
        start = time.perf_counter()
        env.step(action)
        steps.append(time.perf_counter() - start)
    return statistics.median(times), statistics.median(steps)


def faithfulness(tab: table.Table, n_cells: int) -> float:
    """Spearman between the table (seed mean) and a fresh live training of ``n_cells`` random
    connected cells (disconnected ones score chance in both by construction: free agreement)."""
    from scipy.stats import spearmanr

    rng = np.random.default_rng(FRESH_SEED)
    live = NASBench201()
    cells = all_cells()
    connected = [i for i, ops in enumerate(cells) if is_connected(ops)]
    picks = rng.choice(connected, size=n_cells, replace=False)
    fresh, tabled = [], []
    for i in picks:
        live.reset(seed=FRESH_SEED + int(i))
        info = live.step(live.design_space.to_action(dict(zip(EDGE_NAMES, cells[i], strict=True))))[4]
        fresh.append(info["metrics"]["val_accuracy"])
        tabled.append(tab.mean(int(i))["val_accuracy"])
        print(f"  {info['cell']}: live {fresh[-1]:.2f} %, table {tabled[-1]:.2f} %")
    return float(spearmanr(fresh, tabled).statistic)


def agents(n_seeds: int, budget: int, workers: int, kwargs: dict) -> tuple[dict[str, float], list[str]]:
    """Each agent's median best over ``n_seeds`` runs, and what went wrong (failed runs, or an
    agent with fewer finished runs than seeds)."""
    spec = parse_campaign(
        {
            "name": "nas201-table",
            "budget": budget,
            "workers": workers,
            "tuning_seeds": list(range(n_seeds)),
            "envs": [{"id": "archgym/NASBench201-v0", "kwargs": kwargs}],
            "agents": [{"name": a} for a in AGENTS],
        },
        source="benchmark",
    )
    with tempfile.TemporaryDirectory(prefix="archgym-nas-table-") as tmp:
        result = run_campaign(spec, tmp, progress=False)
        import pandas as pd

        runs = pd.read_parquet(f"{tmp}/runs.parquet") if (Path(tmp) / "runs.parquet").exists() else None
    problems = [f"run {key} failed: {error}" for key, error in result["failed_runs"].items()]
    finished = runs.groupby("agent").final.count().to_dict() if runs is not None else {}
    problems += [
        f"{agent}: {finished.get(agent, 0)} of {n_seeds} runs finished"
        for agent in AGENTS
        if finished.get(agent, 0) != n_seeds
    ]
    medians = runs.groupby("agent").final.median().to_dict() if runs is not None else {}
    return {a: medians.get(a, float("nan")) for a in AGENTS}, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=20, help="random cells trained live (default 20)")
    parser.add_argument("--seeds", type=int, default=30, help="seeds per agent (default 30)")
    parser.add_argument("--budget", type=int, default=50, help="evaluations per run (default 50)")
    parser.add_argument("--workers", type=int, default=2, help="runs at once (default 2)")
    parser.add_argument("--table-dir", default=None, help="another table folder (default: the shipped one)")
    parser.add_argument(
        "--cold-only",
        action="store_true",
        help="measure only the cold start and the lookup/step times (no live training, no agents)",
    )
    args = parser.parse_args()
    kwargs = {"backend": "table"} | ({"table_dir": args.table_dir} if args.table_dir else {})
    try:
        tab = table.load(Path(args.table_dir) if args.table_dir else table.TABLE_DIR)
    except table.IncompleteTable as exc:
        print(f"MISSED: {exc}")
        return 1
    card = tab.card
    print(
        f"table: {card['trained_classes']} trained classes, seeds {card['seeds']}, seed-to-seed "
        f"Spearman {card['seed_to_seed_spearman_val_accuracy']:.3f}, made {card['date']}"
    )
    missed = []
    inside, outside, heavy = cold_start(kwargs)
    print(
        f"cold start (median of {COLD_RUNS} fresh processes): import archgym + make + reset + first step "
        f"{inside:.3f} s (required <= {COLD_MAX_S:.1f}); whole subprocess {outside:.3f} s; "
        f"torch imported: {'torch' in heavy}, sklearn imported: {'sklearn' in heavy}"
    )
    if not inside <= COLD_MAX_S:
        missed.append(f"cold start {inside:.3f} s")
    if heavy:
        missed.append(f"a table-backed env imported {heavy}")
    lookup, step = lookup_times(tab, kwargs)
    print(
        f"lookup {lookup * 1e6:.1f} us (required < {LOOKUP_MAX_S * 1e6:.0f}); "
        f"env.step {step * 1e6:.1f} us (required <= {STEP_MAX_S * 1e6:.0f})"
    )
    if not lookup < LOOKUP_MAX_S:
        missed.append(f"lookup {lookup * 1e6:.1f} us")
    if not step <= STEP_MAX_S:
        missed.append(f"env.step {step * 1e6:.1f} us")
    if args.cold_only:
        print(
            "requirements (cold start, lookup, step):",
            "all met" if not missed else "MISSED: " + "; ".join(missed),
        )
        return 1 if missed else 0
    print(f"fresh live training (seed {FRESH_SEED}+i) vs the table on {args.cells} random cells:")
    rho = faithfulness(tab, args.cells)
    print(f"Spearman(table, live) = {rho:.3f} (required >= {SPEARMAN_MIN})")
    if not rho >= SPEARMAN_MIN:
        missed.append(f"Spearman {rho:.3f}")
    medians, problems = agents(args.seeds, args.budget, args.workers, kwargs)
    missed += problems
    print(
        f"median best validation accuracy over {args.seeds} seeds at budget {args.budget}: "
        + ", ".join(f"{a} {v:.3f}" for a, v in sorted(medians.items()))
    )
    for agent in ("bo", "ga"):
        if not medians[agent] > medians["random"]:
            missed.append(f"{agent} {medians[agent]:.3f} not above random {medians['random']:.3f}")
    print("requirements:", "all met" if not missed else "MISSED: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
