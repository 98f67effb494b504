"""NAS-Bench-201 tabular backend: lookup time, faithfulness to live training, and agents on it.

1. Lookup: median time of one table lookup and of one ``env.step`` with ``backend="table"``
   (required: lookup < 100 µs).
2. Faithfulness: Spearman correlation between the table's validation accuracy (mean over its
   seeds) and fresh live training (a seed the table never used) on ``--cells`` random cells
   (required >= 0.6).
3. Agents: a campaign of ``random``, ``ga``, ``bo`` and ``rl`` on the table backend, ``--seeds``
   seeds at a budget of ``--budget``; prints each agent's median best (required: bo and ga above
   random).

Exits 1 when a requirement is missed — including while the table is still being built
(``python -m archgym_nas.tabulate``), when it prints how far that has got.

    python benchmarks/nas201_table.py [--cells 20] [--seeds 30] [--budget 50] [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
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

LOOKUP_MAX_S = 100e-6
SPEARMAN_MIN = 0.6
FRESH_SEED = 424242
AGENTS = ("random", "ga", "bo", "rl")


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
    lookup, step = lookup_times(tab, kwargs)
    print(f"lookup {lookup * 1e6:.1f} us (required < {LOOKUP_MAX_S * 1e6:.0f}); env.step {step * 1e6:.1f} us")
    if not lookup < LOOKUP_MAX_S:
        missed.append(f"lookup {lookup * 1e6:.1f} us")
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
