"""The tabular backend of ``archgym/NASBench201-v0``: metrics looked up instead of trained.

The table is made by :mod:`archgym_nas.tabulate` on the live env at its default configuration and
fidelity. Isomorphic cells (same computation up to renaming; NAS-Bench-201's ``to_unique_str``
with ``consider_zero=True``) are trained once and share their training results; parameter count,
FLOPs and SynFlow are per cell (a dead conv edge still has parameters).

Layout of :data:`TABLE_DIR` (shipped in the wheel):

- ``shards/*.jsonl``: one line per (isomorphism class, seed) trained so far — what the resumable
  script appends to;
- ``nasbench201_digits.parquet`` + ``.card.json``: the consolidated table and its provenance,
  written once every class has every seed.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from archgym_nas.cell import EDGES, all_cells, is_connected

TABLE_DIR = Path(__file__).with_name("table_data")
TABLE_NAME = "nasbench201_digits"
TRAINED_METRICS = ("val_accuracy", "test_accuracy", "train_loss", "train_time_s")
STATIC_METRICS = ("params", "flops", "synflow_log")
SEEDS = (0, 1)
"""Table seeds: seed ``s`` holds what the live env returns for ``reset(seed=s)`` then one step."""


def isomorphism_key(ops: Sequence[str]) -> str:
    """NAS-Bench-201's ``to_unique_str(consider_zero=True)``: the expression the cell computes,
    with ``skip_connect`` folded away, ``none`` (or an input that is zero) as ``#`` and each node's
    inputs sorted — so cells that differ only in the order or naming of equivalent paths share a
    key. The 15,625 cells fall into 6,466 keys, as in the benchmark's paper."""
    nodes = {0: "0"}
    for j in (1, 2, 3):
        terms = []
        for (to, i), op in zip(EDGES, ops, strict=True):
            if to != j:
                continue
            if op == "none" or nodes[i] == "#":
                terms.append("#")
            elif op == "skip_connect":
                terms.append(nodes[i])
            else:
                terms.append(f"({nodes[i]})@{op}")
        nodes[j] = "+".join(sorted(terms))
    return nodes[3]


@functools.cache
def classes() -> dict[str, tuple[str, ...]]:
    """Isomorphism key → representative cell (the first in :func:`all_cells` order); cached, so
    don't mutate it."""
    reps: dict[str, tuple[str, ...]] = {}
    for cell in all_cells():
        reps.setdefault(isomorphism_key(cell), cell)
    return reps


def trainable_classes() -> dict[str, tuple[str, ...]]:
    """The classes that need training: disconnected cells score chance without it."""
    return {k: c for k, c in classes().items() if is_connected(c)}


def read_shards(directory: Path = TABLE_DIR) -> list[dict[str, Any]]:
    """Every complete line of every shard (a torn last line — a killed writer — is skipped)."""
    rows: list[dict[str, Any]] = []
    for path in sorted((directory / "shards").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def progress(directory: Path = TABLE_DIR, seeds: Iterable[int] = SEEDS) -> tuple[int, int]:
    """(classes with every seed trained, classes that need training)."""
    finished = finished_classes(directory, seeds)
    return len(finished), len(trainable_classes())


def finished_classes(directory: Path = TABLE_DIR, seeds: Iterable[int] = SEEDS) -> set[str]:
    """Keys of the trainable classes the shards hold for every seed."""
    seeds = set(seeds)
    done: dict[str, set[int]] = {}
    for row in read_shards(directory):
        if row.get("error") is None:
            done.setdefault(row["key"], set()).add(row["seed"])
    return {k for k in trainable_classes() if seeds <= done.get(k, set())}


def answerable_cells(directory: Path = TABLE_DIR) -> int:
    """How many of the 15,625 cells the shards could answer (disconnected ones need no training)."""
    finished = finished_classes(directory)
    return sum(not is_connected(c) or isomorphism_key(c) in finished for c in all_cells())


class IncompleteTable(FileNotFoundError):
    """The table does not cover the space yet (its consolidated file is not written)."""


@dataclass(frozen=True)
class Table:
    """Per-cell arrays indexed by the cell's position in :func:`all_cells`, for O(1) lookup."""

    trained: dict[str, np.ndarray]  # metric → (15625, n_seeds)
    static: dict[str, np.ndarray]  # metric → (15625,)
    seeds: tuple[int, ...]
    card: dict[str, Any]
    sha256: str  # of the Parquet file: which table answered, recorded with every run

    def lookup(self, index: int, seed_index: int) -> dict[str, float]:
        """The metrics of cell ``index`` as trained with table seed number ``seed_index``."""
        out = {m: float(a[index, seed_index]) for m, a in self.trained.items()}
        out.update((m, float(a[index])) for m, a in self.static.items())
        return out

    def mean(self, index: int) -> dict[str, float]:
        """The metrics of cell ``index`` averaged over the table's seeds."""
        out = {m: float(a[index].mean()) for m, a in self.trained.items()}
        out.update((m, float(a[index])) for m, a in self.static.items())
        return out


_CACHE: dict[Path, Table] = {}


def load(directory: Path = TABLE_DIR) -> Table:
    """The consolidated table; :class:`IncompleteTable` says how far tabulation has got."""
    directory = Path(directory)
    if directory in _CACHE:
        return _CACHE[directory]
    path = directory / f"{TABLE_NAME}.parquet"
    if not path.is_file():
        done, needed = progress(directory)
        step = (
            "write it with `python -m archgym_nas.tabulate --consolidate`"
            if done == needed
            else "finish it with `python -m archgym_nas.tabulate`"
        )
        raise IncompleteTable(
            f"backend='table': the NAS-Bench-201 table is not complete yet — {done:,} of {needed:,} "
            f"trainable isomorphism classes are tabulated for seeds {list(SEEDS)}, answering "
            f"{answerable_cells(directory):,} of {len(all_cells()):,} cells (shards in "
            f"{directory / 'shards'}). {step[0].upper()}{step[1:]}, or use the live env "
            "(backend='simulator')."
        )
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = path.read_bytes()  # read once: hashed, then parsed
    digest = hashlib.sha256(data).hexdigest()
    frame = pq.read_table(pa.BufferReader(data)).to_pydict()
    card = json.loads((directory / f"{TABLE_NAME}.card.json").read_text())
    seeds = tuple(card["seeds"])
    n = len(frame["cell_index"])
    order = np.argsort(np.asarray(frame["cell_index"]))
    if n != len(all_cells()) or not np.array_equal(np.asarray(frame["cell_index"])[order], np.arange(n)):
        raise ValueError(f"{path}: expected one row per cell (15,625), got {n}")
    trained = {
        m: np.asarray([frame[f"{m}@{s}"] for s in seeds], dtype=np.float64).T[order] for m in TRAINED_METRICS
    }
    static = {m: np.asarray(frame[m], dtype=np.float64)[order] for m in STATIC_METRICS}
    _CACHE[directory] = table = Table(trained, static, seeds, card, digest)
    return table
