"""The tabular backend of ``archgym/NASBench201-v0``: metrics looked up instead of trained.

``gymnasium.make("archgym/NASBench201-v0", backend="table", table_dir=None)`` selects it: the
plugin registers :func:`table_backend` through the ``archgym_backends()`` hook, as any third-party
backend would. Answering an evaluation imports neither torch nor scikit-learn.

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from archgym import DesignEnv, EvalContext, Fidelity
from archgym_nas.cell import EDGE_NAMES, EDGES, all_cells, cell_index, is_connected

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
        out = {m: float(a[index]) for m, a in self._seed_means.items()}
        out.update((m, float(a[index])) for m, a in self.static.items())
        return out

    @functools.cached_property
    def _seed_means(self) -> dict[str, np.ndarray]:
        return {m: a.mean(axis=1) for m, a in self.trained.items()}


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
    data = path.read_bytes()  # read once: hashed, then parsed
    digest = hashlib.sha256(data).hexdigest()
    card = json.loads((directory / f"{TABLE_NAME}.card.json").read_text())
    seeds = tuple(card["seeds"])
    names = ["cell_index", *(f"{m}@{s}" for m in TRAINED_METRICS for s in seeds), *STATIC_METRICS]
    frame = _read_columns(data, names)
    n = len(frame["cell_index"])
    order = np.argsort(frame["cell_index"])
    if n != len(all_cells()) or not np.array_equal(frame["cell_index"][order], np.arange(n)):
        raise ValueError(f"{path}: expected one row per cell (15,625), got {n}")
    trained = {
        m: np.asarray([frame[f"{m}@{s}"] for s in seeds], dtype=np.float64).T[order] for m in TRAINED_METRICS
    }
    static = {m: np.asarray(frame[m], dtype=np.float64)[order] for m in STATIC_METRICS}
    _CACHE[directory] = table = Table(trained, static, seeds, card, digest)
    return table


def _read_columns(data: bytes, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The numeric columns ``names`` of a Parquet file's bytes as NumPy arrays.

    Reads through ``ParquetFile`` and DLPack rather than ``pq.read_table`` and ``to_numpy``:
    those import ``pyarrow.dataset`` and pandas (~0.3 s of a cold start) for nothing here. DLPack
    refuses a column with nulls, which a complete table has none of."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    read = pq.ParquetFile(pa.BufferReader(data)).read(columns=list(names))
    return {name: np.from_dlpack(read.column(name).combine_chunks()) for name in names}


# --- the backend ------------------------------------------------------------------------------------
class TableBackend:
    """Answers ``archgym/NASBench201-v0``'s evaluations from a :class:`Table`.

    Each evaluation draws the table seed from the env's RNG (``context.rng``), so ``reset(seed=…)``
    decides which seed's training answers, as it decides live training's seed. :attr:`fidelity`
    is the one the table was made at; :meth:`versions` names the table, not this machine's torch.
    """

    def __init__(self, table: Table) -> None:
        self.table = table
        epochs = int(table.card["fidelity"]["epochs"])
        self.fidelity = Fidelity("epochs", epochs, epochs, epochs, integer=True)
        self.last_lookup: tuple[int, int] | None = None
        """(cell index, seed index) of the last evaluation (None before one, or if it failed)."""

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        self.last_lookup = None
        index = cell_index(tuple(design[name] for name in EDGE_NAMES))
        seed_index = int(context.rng.integers(len(self.table.seeds)))  # seed noise, as live training has
        self.last_lookup = (index, seed_index)
        return self.table.lookup(index, seed_index)

    def last_answer(self) -> dict[str, Any] | None:
        """The table seed that answered the last evaluation and the cell's mean over seeds."""
        if self.last_lookup is None:
            return None
        index, seed_index = self.last_lookup
        return {"seed": self.table.seeds[seed_index], "mean": self.table.mean(index)}

    def versions(self) -> dict[str, str]:
        """The table that answered: its date, a SHA-256 prefix and the torch it was trained with."""
        card = self.table.card
        return {
            "nas-table": f"{card['date']} sha256:{self.table.sha256[:16]} (trained with torch "
            f"{', '.join(card['trained_with_torch'])})"
        }


def table_backend(
    env: DesignEnv, constructor_kwargs: Mapping[str, Any], *, table_dir: str | Path | None = None
) -> TableBackend:
    """The ``"table"`` backend's factory: ``gymnasium.make("archgym/NASBench201-v0",
    backend="table", table_dir=None)``.

    Refuses any env but NAS-Bench-201's, and constructor arguments other than those the table was
    made with (it holds one configuration). ``table_dir``: the table's folder (default: the shipped
    one); an incomplete table is an :class:`IncompleteTable` saying how far tabulation has got."""
    from archgym_nas.env import NASBench201

    if not isinstance(env, NASBench201):
        raise ValueError(
            f"backend: 'table' is not legal for {type(env).__name__}: the NAS-Bench-201 table "
            "serves only archgym/NASBench201-v0"
        )
    if env.schedule_epochs is not None:
        raise ValueError(
            f"schedule_epochs: {env.schedule_epochs!r} is not legal with backend='table'; the table "
            "holds complete runs of each length (legal values: None)"
        )
    made = load(Path(table_dir) if table_dir else TABLE_DIR)
    for name, tabulated in made.card["env_kwargs"].items():
        value = constructor_kwargs.get(name)
        if value is None:  # a None default stands for what the env resolved it to (resolution)
            value = getattr(env, name, None)
        if value != tabulated:
            raise ValueError(
                f"{name}: {value!r} is not legal with backend='table'; the table was made "
                f"with {name}={tabulated!r}"
            )
    return TableBackend(made)
