"""Tabulate NAS-Bench-201 on the live env: ``python -m archgym_nas.tabulate [--workers W]``.

Trains one representative of every isomorphism class (:func:`archgym_nas.table.isomorphism_key`)
for every table seed at the live env's default configuration and fidelity, in worker processes,
appending one JSON line per result to a shard. It is resumable at the granularity of one
training: rerun it and it skips what the shards already hold, so the table can be built over
several sessions (``--minutes`` stops it cleanly). Classes are visited in a fixed shuffled order
with both seeds together, so a partial table is a random sample with seed pairs.

When every class has every seed, ``--consolidate`` writes the shipped table (one row per cell,
per-cell parameter count / FLOPs / SynFlow) and its provenance card, including the measured
seed-to-seed Spearman correlation.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import os
import platform
import random
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

from archgym.execution import spawn_pool
from archgym_nas.cell import EDGE_NAMES, all_cells, cell_string
from archgym_nas.table import (
    SEEDS,
    STATIC_METRICS,
    TABLE_DIR,
    TABLE_NAME,
    TRAINED_METRICS,
    isomorphism_key,
    read_shards,
    trainable_classes,
)

ORDER_SEED = 20201
_ENV: Any = None


def _env() -> Any:
    global _ENV
    if _ENV is None:
        import torch

        torch.set_num_threads(1)
        from archgym_nas.env import NASBench201

        _ENV = NASBench201()
    return _ENV


def train_one(key: str, ops: tuple[str, ...], seed: int) -> dict[str, Any]:
    """What the live env returns for ``reset(seed=seed)`` followed by one step on ``ops``."""
    import torch

    env = _env()
    env.reset(seed=seed)
    _, _, _, _, info = env.step(env.design_space.to_action(dict(zip(EDGE_NAMES, ops, strict=True))))
    row = {
        "key": key,
        "cell": cell_string(ops),
        "seed": seed,
        "error": info.get("error"),
        "torch": torch.__version__,
        "host": platform.machine(),
    }
    row.update((m, info["metrics"][m]) for m in (*TRAINED_METRICS, *STATIC_METRICS))
    return row


def static_one(ops: tuple[str, ...]) -> dict[str, float]:
    """Parameter count, MFLOPs and SynFlow of one cell (no training)."""
    env = _env()
    data = env._load()
    return dict(zip(STATIC_METRICS, env._static_metrics(ops, env._build(ops, data), data), strict=True))


def work_items(
    done: set[tuple[str, int]], seeds: tuple[int, ...]
) -> Iterator[tuple[str, tuple[str, ...], int]]:
    """(class, representative, seed) not yet in ``done``, classes in a fixed shuffled order with
    their seeds together, so any prefix is a random sample of whole classes."""
    classes = sorted(trainable_classes().items())
    random.Random(ORDER_SEED).shuffle(classes)
    for key, ops in classes:
        for seed in seeds:
            if (key, seed) not in done:
                yield key, ops, seed


def tabulate(
    directory: Path,
    workers: int,
    minutes: float | None,
    seeds: tuple[int, ...],
    max_trainings: int | None = None,
) -> int:
    """Train what is missing (at most ``max_trainings``, for at most ``minutes`` of submitting);
    returns how many results were written."""
    from tqdm import tqdm

    shards = directory / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    done = {(r["key"], r["seed"]) for r in read_shards(directory) if r.get("error") is None}
    todo = list(work_items(done, seeds))[:max_trainings]
    total = len(trainable_classes()) * len(seeds)
    print(f"{len(done):,} of {total:,} trainings in the shards; {len(todo):,} to go, {workers} worker(s)")
    if not todo and len(done) >= total:
        print("every class has every seed: write the table with --consolidate")
    deadline = time.monotonic() + 60 * minutes if minutes else None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    shard = shards / f"{stamp}-{os.getpid()}.jsonl"
    written = 0
    queue = iter(todo)
    with (
        spawn_pool(workers) as pool,
        open(shard, "a", buffering=1) as out,
        tqdm(total=len(todo), unit="training", mininterval=30, file=sys.stdout) as bar,
    ):
        pending: set[Future[dict[str, Any]]] = set()

        def submit() -> None:
            if deadline is not None and time.monotonic() > deadline:
                return
            item = next(queue, None)
            if item is not None:
                pending.add(pool.submit(train_one, *item))

        for _ in range(2 * workers):
            submit()
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                out.write(json.dumps(future.result()) + "\n")
                os.fsync(out.fileno())
                written += 1
                bar.update()
                submit()
    if not shard.stat().st_size:
        shard.unlink()
    return written


def consolidate(directory: Path, workers: int, seeds: tuple[int, ...]) -> Path:
    """Write the shipped table and card; refuses unless every class has every seed."""
    rows = {(r["key"], r["seed"]): r for r in read_shards(directory) if r.get("error") is None}
    missing = [(k, s) for k in trainable_classes() for s in seeds if (k, s) not in rows]
    if missing:
        raise SystemExit(
            f"cannot consolidate: {len(missing):,} of {len(trainable_classes()) * len(seeds):,} "
            "trainings are missing; run `python -m archgym_nas.tabulate` first"
        )
    with spawn_pool(workers) as pool:
        # the representatives' static metrics came with their training; the other cells need them
        known = {
            r["cell"]: {m: r[m] for m in STATIC_METRICS}
            for r in rows.values()
            if all(m in r for m in STATIC_METRICS)
        }
        todo = [c for c in all_cells() if cell_string(c) not in known]
        known.update(zip(map(cell_string, todo), pool.map(static_one, todo, chunksize=64), strict=True))
        statics = [known[cell_string(c)] for c in all_cells()]
    return write_table(directory, rows, statics, seeds, _env())


def write_table(
    directory: Path,
    rows: Mapping[tuple[str, int], Mapping[str, Any]],
    statics: Sequence[Mapping[str, float]],
    seeds: tuple[int, ...],
    env: Any,
) -> Path:
    """One row per cell (``metric@seed`` columns from its class's training, static metrics of its
    own), and the provenance card with the measured seed-to-seed Spearman correlation."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    import sklearn
    import torch
    from scipy.stats import spearmanr

    from archgym_nas.env import LEARNING_RATE, MOMENTUM, WEIGHT_DECAY

    cells = all_cells()
    trained = trainable_classes()
    n_classes = env._load().n_classes
    chance = {
        "val_accuracy": 100.0 / n_classes,
        "test_accuracy": 100.0 / n_classes,
        "train_loss": float(np.log(n_classes)),
        "train_time_s": 0.0,
    }  # what the live env answers
    keys = [isomorphism_key(c) for c in cells]
    columns: dict[str, list[Any]] = {
        "cell_index": list(range(len(cells))),
        "cell": [cell_string(c) for c in cells],
        "key": keys,
        # the cell that was trained for this cell's class (None: disconnected, nothing trained)
        "representative": [cell_string(trained[k]) if k in trained else None for k in keys],
    }
    for metric in TRAINED_METRICS:
        for seed in seeds:
            columns[f"{metric}@{seed}"] = [
                rows[(k, seed)][metric] if k in trained else chance[metric] for k in keys
            ]
    for metric in STATIC_METRICS:
        columns[metric] = [s[metric] for s in statics]
    path = directory / f"{TABLE_NAME}.parquet"
    pq.write_table(pa.table(columns), path, compression="zstd")
    val = np.array([[rows[(k, s)]["val_accuracy"] for s in seeds] for k in trained])
    pairs = list(itertools.combinations(range(len(seeds)), 2))
    rho = float(np.mean([spearmanr(val[:, a], val[:, b]).statistic for a, b in pairs])) if pairs else math.nan
    shard_files = sorted((directory / "shards").glob("*.jsonl"))
    card = {
        "env_id": "archgym/NASBench201-v0",
        "env_kwargs": {
            "channels": env.channels,
            "n_cells": env.n_cells,
            "dataset": env.dataset,
            "resolution": env.resolution,
            "max_train": env.max_train,
            "batch_size": env.batch_size,
        },
        "fidelity": {"epochs": int(env.fidelity.default)},
        "recipe": f"SGD, Nesterov momentum {MOMENTUM}, lr {LEARNING_RATE} cosine-annealed per step to 0, "
        f"weight decay {WEIGHT_DECAY}, batch {env.batch_size}, cross-entropy, precise BN "
        "statistics after training",
        "dataset": f"{env.dataset} at {env.resolution}x{env.resolution} (fixed split, see archgym_nas.data)",
        "params_range": [min(columns["params"]), max(columns["params"])],
        "seeds": list(seeds),
        "seed_meaning": "seed s = the live env's reset(seed=s) then one step on the class's "
        "representative (column 'representative')",
        "isomorphism": "NAS-Bench-201 to_unique_str(consider_zero=True); one training per class",
        "classes": len(set(keys)),
        "trained_classes": len(trained),
        "seed_to_seed_spearman_val_accuracy": rho,  # mean over seed pairs
        "versions": {
            "torch": torch.__version__,
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        },
        "trained_with_torch": sorted({r.get("torch", "?") for r in rows.values()}),
        "trained_on": sorted({r.get("host", "?") for r in rows.values()}),
        "shards": {p.name: sum(1 for _ in p.open()) for p in shard_files},  # names start with a UTC stamp
        "date": dt.date.today().isoformat(),
    }
    (directory / f"{TABLE_NAME}.card.json").write_text(json.dumps(card, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m archgym_nas.tabulate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--dir", type=Path, default=TABLE_DIR, help="table folder (default: shipped)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--minutes", type=float, default=None, help="stop submitting after this long")
    parser.add_argument("--max-trainings", type=int, default=None, help="stop after this many trainings")
    parser.add_argument("--consolidate", action="store_true", help="write the table from complete shards")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    if args.max_trainings is not None and args.max_trainings < 1:
        parser.error(f"--max-trainings must be >= 1, got {args.max_trainings}")
    if args.consolidate:
        print(consolidate(args.dir, args.workers, SEEDS))
    else:
        print(f"wrote {tabulate(args.dir, args.workers, args.minutes, SEEDS, args.max_trainings):,} results")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
