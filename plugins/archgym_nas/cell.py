"""The NAS-Bench-201 cell: 4 nodes, 6 edges, 5 operations, and its standard string form.

Pure Python (no torch) so the space can be listed, validated and converted cheaply.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""The five operations of NAS-Bench-201, in the benchmark's order."""

EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
"""(to, from) node pairs in the order of the cell string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""

EDGE_NAMES: tuple[str, ...] = tuple(f"edge_{j}_{i}" for j, i in EDGES)
"""Design-parameter names: ``edge_<to>_<from>``."""


def cell_string(ops: Sequence[str] | Mapping[str, Any]) -> str:
    """The standard NAS-Bench-201 string of a cell given its six edge ops (or a design)."""
    if isinstance(ops, Mapping):
        ops = [ops[name] for name in EDGE_NAMES]
    ops = list(ops)
    if len(ops) != len(EDGES) or any(op not in OPS for op in ops):
        raise ValueError(f"a cell needs 6 ops from {list(OPS)}, got {ops}")
    nodes = []
    for j in (1, 2, 3):
        parts = [f"{op}~{i}" for (to, i), op in zip(EDGES, ops, strict=True) if to == j]
        nodes.append("|" + "|".join(parts) + "|")
    return "+".join(nodes)


def parse_cell_string(text: str) -> tuple[str, ...]:
    """The six edge ops of a NAS-Bench-201 cell string; ``ValueError`` says what is wrong."""
    nodes = text.strip().split("+")
    if len(nodes) != 3:
        raise ValueError(f"cell string {text!r} must have 3 '+'-separated nodes")
    ops: dict[tuple[int, int], str] = {}
    for j, node in enumerate(nodes, start=1):
        if not (node.startswith("|") and node.endswith("|")):
            raise ValueError(f"cell string {text!r}: node {node!r} must be enclosed in '|'")
        parts = node[1:-1].split("|")
        if len(parts) != j:
            raise ValueError(f"cell string {text!r}: node {j} needs {j} inputs, got {len(parts)}")
        for i, part in enumerate(parts):
            op, sep, src = part.partition("~")
            if sep != "~" or src != str(i):
                raise ValueError(f"cell string {text!r}: expected '<op>~{i}', got {part!r}")
            if op not in OPS:
                raise ValueError(f"cell string {text!r}: unknown op {op!r}; legal ops: {list(OPS)}")
            ops[(j, i)] = op
    return tuple(ops[e] for e in EDGES)


def is_connected(ops: Sequence[str]) -> bool:
    """Whether some path of non-``none`` edges leads from the input (node 0) to the output (node 3).

    A disconnected cell outputs zeros whatever its input, so the network's prediction is constant.
    """
    reach = {0}
    for (j, i), op in zip(EDGES, ops, strict=True):  # EDGES is in topological order
        if op != "none" and i in reach:
            reach.add(j)
    return 3 in reach


def all_cells() -> list[tuple[str, ...]]:
    """All 5**6 = 15,625 cells of the space."""
    return list(itertools.product(OPS, repeat=len(EDGES)))


def cell_index(ops: Sequence[str]) -> int:
    """The position of a cell in :func:`all_cells` (base-5 digits, first edge most significant)."""
    index = 0
    for op in ops:
        index = index * len(OPS) + _OP_INDEX[op]
    return index


_OP_INDEX = {op: i for i, op in enumerate(OPS)}
