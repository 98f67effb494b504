"""``archgym/SystolicArray-v0``: systolic-array design on SCALE-Sim (cycle-level simulator).

SCALE-Sim (Samajdar et al., ISPASS 2020; v3: Raj et al. 2025) is called in-process through its
Python objects (``scale_config``, ``topologies``, ``simulator``): no config file is written and
its report CSVs go to the evaluation's private ``context.workdir``, so parallel workers never
collide. It runs in USER bandwidth mode (in CALC mode the SRAM sizes have no effect on cycles).
Metrics are read from SCALE-Sim's per-layer report objects (the numbers it writes to
COMPUTE_REPORT.csv, BANDWIDTH_REPORT.csv and DETAILED_ACCESS_REPORT.csv). The one estimate,
``area_estimate_mm2``, is computed from published per-component figures (see ``AREA_*``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from archgym import (
    Categorical,
    DesignEnv,
    DesignSpace,
    EvalContext,
    Objective,
    Objectives,
    Ordinal,
    Target,
    TargetSpec,
)
from archgym_accelerators.workloads import Layer, load_layers

__all__ = ["AREA_PE_UM2", "AREA_SRAM_BIT_UM2", "SystolicArray", "area_estimate_mm2", "scalesim_config"]

ARRAY_DIMS = (8, 16, 32, 64, 128)
"""PE rows/columns. Below 8 SCALE-Sim's per-cycle Python loop runs for minutes (1×1 for much
longer), so small arrays are left out of the space."""
SRAM_KB = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
BANDWIDTHS = (1, 2, 4, 8, 16, 32, 64, 128)
DATAFLOWS = ("os", "ws", "is")  # SCALE-Sim silently runs an unknown dataflow as 'os'

AREA_PE_UM2 = 282.0 + 137.0
"""One PE: an 8-bit multiplier (282 µm²) and a 32-bit adder (137 µm²), 45 nm, from M. Horowitz,
"Computing's energy problem (and what we can do about it)", ISSCC 2014."""
AREA_SRAM_BIT_UM2 = 0.346
"""One 6T SRAM bit cell, 45 nm: 0.346 µm² (K. Mistry et al., IEDM 2007). Cell area only, no
periphery: the SRAM term is a lower bound."""

LATENCY_PENALTY = -1e12
AREA_PENALTY = -1e3
TARGET_PENALTY = -1e3
OBJECTIVES = ("latency", "latency_area", "targets")

WORD_BYTES = 1  # SCALE-Sim 3.0 hard-codes 1-byte words, so a KB of SRAM holds 1024 words

STATISTICS = (
    "compute_cycles",
    "pe_count",
    "sram_kb_total",
    "mapping_efficiency",
    "dram_traffic",
    "dram_to_compute",
    "worst_layer_dram_to_compute",
    "memory_bound_cycles",
    "prefill_cycles",
    "final_drain_cycles",
    "stall_estimate",
    "analytic_cycles",
)
LAYER_STATISTICS = (
    "compute_cycles",
    "analytic_cycles",
    "ifmap_lag",
    "ifmap_reuse_lag",
    "filter_lag",
    "ofmap_lag",
    "dram_to_compute",
    "ifmap_over_sram",
    "filter_over_sram",
)
"""The env's free statistics, then these per layer (``compute_cycles.<layer>`` …): see
:meth:`SystolicArray.statistics` and :func:`layer_cost`."""


def area_estimate_mm2(design: Mapping[str, Any]) -> float:
    """PE-array plus SRAM-cell area (mm²) of a design, from the published figures above."""
    pes = design["array_rows"] * design["array_cols"]
    sram_bits = 8 * 1024 * (design["ifmap_sram_kb"] + design["filter_sram_kb"] + design["ofmap_sram_kb"])
    return (pes * AREA_PE_UM2 + sram_bits * AREA_SRAM_BIT_UM2) * 1e-6


def scalesim_config(design: Mapping[str, Any], run_name: str = "archgym") -> Any:
    """A SCALE-Sim ``scale_config`` for a design, in USER bandwidth mode.

    SCALE-Sim 3.0 takes the DRAM→SRAM bandwidth of the ifmap and filter buffers from the
    ``[layout]`` section (``IfmapSRAMBankBandwidth``, ``FilterSRAMBankBandwidth``) and that of
    the ofmap buffer from ``Bandwidth``; all three are set to ``dram_bandwidth`` (words/cycle),
    with one bank each and no custom layout — the same as a config file with those values.
    """
    from scalesim.scale_config import scale_config

    config = scale_config()
    config.run_name = run_name
    config.array_rows = int(design["array_rows"])
    config.array_cols = int(design["array_cols"])
    config.ifmap_sz_kb = int(design["ifmap_sram_kb"])
    config.filter_sz_kb = int(design["filter_sram_kb"])
    config.ofmap_sz_kb = int(design["ofmap_sram_kb"])
    config.df = str(design["dataflow"])
    config.use_user_bandwidth = True
    bandwidth = int(design["dram_bandwidth"])
    config.bandwidths = [bandwidth]
    config.ifmap_sram_bank_bandwidth = config.filter_sram_bank_bandwidth = bandwidth
    config.ifmap_sram_bank_num = config.filter_sram_bank_num = 1
    config.using_ifmap_custom_layout = config.using_filter_custom_layout = False
    config.sparsity_support = False
    config.use_ramulator_trace = False
    config.valid_conf_flag = True
    return config


def scalesim_topology(layers: tuple[Layer, ...]) -> Any:
    """SCALE-Sim ``topologies`` holding ``layers``, built as its CSV reader builds them."""
    from scalesim.topology_utils import topologies

    topology = topologies()
    for layer in layers:
        # [name, ifmap h, ifmap w, filter h, filter w, channels, filters, stride h, stride w, N, M]
        topology.append_topo_arrays(
            layer.name,
            [
                layer.name,
                layer.ifmap_h,
                layer.ifmap_w,
                layer.filter_h,
                layer.filter_w,
                layer.channels,
                layer.filters,
                layer.stride,
                layer.stride,
                1,
                1,
            ],
        )
    topology.num_layers = len(layers)
    topology.topo_load_flag = True
    return topology


def layer_operands(layer: Layer) -> tuple[int, int, int]:
    """SCALE-Sim's GEMM view of a layer: (ofmap pixels, conv window size, filters), the shapes of
    its ifmap operand matrix (pixels × window) and filter operand matrix (window × filters)."""
    return layer.ofmap_h * layer.ofmap_w, layer.filter_h * layer.filter_w * layer.channels, layer.filters


def compute_cycles(layer: Layer, rows: int, cols: int, dataflow: str) -> int:
    """Cycles the array computes ``layer`` for when memory never stalls: SCALE-Sim's compute model
    (``scalesim.compute.systolic_compute_{os,ws,is}``), without building its demand matrices.

    The dataflow maps the GEMM onto the array as (Sr, Sc, T): output stationary
    (pixels, filters, window), weight stationary (window, filters, pixels), input stationary
    (window, pixels, filters). The work folds into ⌈Sr/rows⌉ × ⌈Sc/cols⌉ folds; each fold streams T
    operands plus the pipeline fill and drain (rows + cols − 2), and the stationary dataflows
    (ws, is) first load their stationary operand (rows more cycles); SCALE-Sim counts one cycle
    less per layer (its last cycle index, not the count)."""
    pixels, window, filters = layer_operands(layer)
    sr, sc, t = {
        "os": (pixels, filters, window),
        "ws": (window, filters, pixels),
        "is": (window, pixels, filters),
    }[dataflow]
    per_fold = t + rows + cols - 2 + (0 if dataflow == "os" else rows)
    return math.ceil(sr / rows) * math.ceil(sc / cols) * per_fold - 1


def dram_traffic(
    layer: Layer, rows: int, cols: int, dataflow: str, sram: Mapping[str, int]
) -> tuple[int, int, int]:
    """Estimated DRAM words (ifmap reads, filter reads, ofmap writes) of ``layer``: SCALE-Sim
    streams the im2col ifmap operand (pixels × window words), the filter operand and the ofmap.
    An operand streamed again for every fold of the other dimension is read once if it fits in
    half its (double-buffered) SRAM, else once per fold; ws and is write partial ofmaps once per
    fold of the conv window. Not exact: SCALE-Sim's read buffers keep what they hold across folds,
    which this ignores."""
    pixels, window, filters = layer_operands(layer)
    im2col, weights, ofmap = pixels * window, window * filters, pixels * filters
    if dataflow == "os":
        again = {"ifmap": math.ceil(filters / cols), "filter": math.ceil(pixels / rows)}
        filter_fold = window * cols
        return (
            im2col * (again["ifmap"] if im2col > sram["ifmap"] / 2 else 1),
            weights * (again["filter"] if filter_fold > sram["filter"] / 2 else 1),
            ofmap,
        )
    window_folds = math.ceil(window / rows)
    if dataflow == "ws":
        return (
            im2col * (math.ceil(filters / cols) if im2col > sram["ifmap"] / 2 else 1),
            weights,
            ofmap * window_folds,
        )
    return (
        im2col,
        weights * (math.ceil(pixels / cols) if weights > sram["filter"] / 2 else 1),
        ofmap * window_folds,
    )


FOLDS_WALKED = 512
"""Folds :func:`layer_cost` walks one by one; a layer with more (a large layer on a small array)
has its remaining col folds extrapolated from the lag's growth over the last walked half (each
col fold repeats the same walk), so the statistics stay within about a millisecond."""
READ_BUFFER_SETS = 100
"""SCALE-Sim's read buffers hash their prefetch stream into 100 sets of ⌈SRAM words / 100⌉ words
(``scalesim.memory.read_buffer.prepare_hashed_buffer``): the unit its prefetches move by."""


class LayerCost(NamedTuple):
    """One layer's cycles as SCALE-Sim counts them, from its cost structure (see :func:`layer_cost`).

    SCALE-Sim reports a layer's cycles from the first DRAM read to the last DRAM write:
    ``prefill`` (filling the ifmap and filter SRAMs' active halves before the first compute
    cycle), the array's ``compute`` cycles, memory stall cycles, and ``final_drain`` (writing the
    ofmap buffer's last contents back). The first three terms are exact; the stall is the largest
    of three lags, each an estimate: how far the ifmap's and the filter's prefetch streams run
    behind the array's demand, and the ofmap's write-back behind its production (negative: slack).
    ``ifmap_reuse_lag``: the ifmap's lag were every word the stream holds twice found resident
    (a lower bound, the same as ``ifmap_lag`` but for a stationary ifmap, ``is``).
    """

    compute: int
    prefill: int
    final_drain: int
    ifmap_lag: float
    filter_lag: float
    ofmap_lag: float
    ifmap_reuse_lag: float

    @property
    def stall(self) -> float:
        return max(0.0, self.ifmap_lag, self.filter_lag, self.ofmap_lag)

    @property
    def cycles(self) -> float:
        return self.compute + self.prefill + self.final_drain + self.stall


class _ReadBuffer:
    """SCALE-Sim's double-buffered read SRAM (``scalesim.memory.read_buffer``) at the granularity
    of its hashed sets ("lines"), without its addresses.

    SCALE-Sim splits the SRAM into an active half and a prefetch half; the operand's prefetch
    stream is hashed into lines of ``eps`` words, a ring of ``n`` lines of which ``active`` are
    resident. A demanded word outside that window makes the window advance by ``step`` lines, one
    prefetch of the prefetch half per step, again and again until the line is in the window
    (walking backwards means going round the whole ring). Each prefetch is chained on the previous
    one's completion (never on the demand), so the k-th completes at ``k * period`` and the array
    stalls by as much as it demands it earlier; ``lag`` is the largest such shortfall. SCALE-Sim
    finds a word wherever the window holds any copy of it (the im2col ifmap holds most words
    several times); lines here are positions, so :func:`layer_cost` says which walks copies
    spare."""

    __slots__ = (
        "active",
        "active_words",
        "eps",
        "lag",
        "n",
        "period",
        "prefetches",
        "scale",
        "start",
        "step",
    )

    def __init__(self, kb: int, valid: int, stream: int, bandwidth: int) -> None:
        words = 1024 * kb // WORD_BYTES
        self.eps = eps = -(-words // READ_BUFFER_SETS)
        self.active_words = active = -(-words // 2)
        prefetch = words - active
        self.n = n = valid // eps + 1
        self.active = min(n, -(-active // eps))
        self.step = min(n - self.active, -(-prefetch // eps))
        self.scale = valid / stream  # the stream's padding (-1 entries) is not hashed
        self.start = self.prefetches = 0
        self.period = -(-prefetch // bandwidth) + 1  # request lines, then one cycle of latency
        self.lag = -math.inf

    def line(self, position: float) -> int:
        return int(position * self.scale) // self.eps

    def need(self, line: int, row: float) -> int:
        """Bring ``line`` into the window at compute row ``row``; its offset in the window."""
        offset = (line - self.start) % self.n
        if offset >= self.active:
            k = -(-(offset - self.active + 1) // self.step)
            self.start = (self.start + k * self.step) % self.n
            self.prefetches += k
            offset -= k * self.step
            self.lag = max(self.lag, self.prefetches * self.period - row)
        return offset

    def up(self, first: int, last: int, row: float, span: float) -> None:
        """Lines ``first``..``last`` demanded in order, evenly over ``span`` rows from ``row``."""
        if self.step <= 0:  # the whole operand is resident
            return
        offset = self.need(first, row)
        beyond = offset + last - first - self.active + 1
        if beyond > 0:
            k = -(-beyond // self.step)
            per_line = span / max(last - first, 1)
            first_row = row + per_line * (self.active - offset)
            last_row = row + per_line * (self.active - offset + (k - 1) * self.step)
            self.lag = max(
                self.lag,
                (self.prefetches + 1) * self.period - first_row,
                (self.prefetches + k) * self.period - last_row,
            )
            self.prefetches += k
            self.start = (self.start + k * self.step) % self.n

    def down(self, first: int, last: int, row: float) -> None:
        """Lines ``last`` down to ``first`` demanded at ``row`` (a stationary operand loads its
        fold's rows flipped, the last row first)."""
        if self.step <= 0:
            return
        line, offset = last, self.need(last, row)
        while line - offset > first:  # lines below the window: round the ring
            line -= offset + 1
            offset = self.need(line, row)


def _diagonal_start(d: int, m_rows: int, n_cols: int) -> int:
    """Elements before anti-diagonal ``d`` of an ``m_rows`` × ``n_cols`` matrix: SCALE-Sim
    flattens a streamed operand's prefetch matrix (its folds stacked) diagonal by diagonal."""
    short, long = min(m_rows, n_cols), max(m_rows, n_cols)
    k = min(d, short)
    before = k * (k + 1) // 2 + short * min(max(d - short, 0), long - short)
    if d > long:
        j = min(d, m_rows + n_cols - 1)
        before += (j - long) * (m_rows + n_cols - 1) - (j * (j - 1) // 2 - long * (long - 1) // 2)
    return before


def layer_cost(
    layer: Layer, rows: int, cols: int, dataflow: str, sram_kb: Mapping[str, int], bandwidth: int
) -> LayerCost:
    """SCALE-Sim's cycles for ``layer`` from its cost structure, without its simulation (tens of
    µs): see :class:`LayerCost`. ``sram_kb``: KB of the ``ifmap``, ``filter`` and ``ofmap`` SRAMs.

    The array works through the folds (col folds outer, row folds inner; :func:`compute_cycles`).
    A streamed operand (both in ``os``; the ifmap in ``ws``, the filter in ``is``) is demanded
    one anti-diagonal of its fold per cycle, in the order its prefetch stream holds it; the
    stationary one (the filter in ``ws``, the ifmap in ``is``) is loaded in the fold's first
    ``rows`` cycles, last row first. :class:`_ReadBuffer` follows each operand's window over its
    stream fold by fold. The stationary ifmap's rows (conv-window positions) walk downwards, and
    a row below the window costs a trip round the ring, unless its words are also in the next
    pixel fold's block, just ahead: true of a fold's first pixel (whose words are the furthest
    back) for window rows from ``shared`` up (the output rows between two folds' first pixels,
    times stride × filter width × channels); those rows are taken as found, the rest as walked —
    all of them found where the window holds two pixel folds' blocks, the rows fold more than once
    and the block is not the first (the previous block, resident, holds copies of the rest).
    The ofmap buffer writes back its inactive half at ``bandwidth`` while the array fills the
    other: its lag is the write-back of all but the last half beyond the compute."""
    pixels, window, filters = layer_operands(layer)
    if dataflow == "os":
        sr, sc, t = pixels, filters, window
    elif dataflow == "ws":
        sr, sc, t = window, filters, pixels
    else:
        sr, sc, t = window, pixels, filters
    row_folds, col_folds = -(-sr // rows), -(-sc // cols)
    per_fold = t + rows + cols - 2 + (0 if dataflow == "os" else rows)
    compute = row_folds * col_folds * per_fold - 1
    # prefetch matrices (folds stacked, padded): streamed ones are flattened by anti-diagonals
    if dataflow == "os":
        ifmap_shape, filter_shape = (row_folds * window, rows), (col_folds * window, cols)
    elif dataflow == "ws":
        ifmap_shape, filter_shape = (row_folds * pixels, rows), (col_folds * window, cols)
    else:
        ifmap_shape, filter_shape = (col_folds * window, cols), (row_folds * filters, rows)
    ifmap_words, filter_words = ifmap_shape[0] * ifmap_shape[1], filter_shape[0] * filter_shape[1]
    ifmap = _ReadBuffer(sram_kb["ifmap"], pixels * window, ifmap_words, bandwidth)
    reuse = (
        _ReadBuffer(sram_kb["ifmap"], pixels * window, ifmap_words, bandwidth) if dataflow == "is" else ifmap
    )
    weights = _ReadBuffer(sram_kb["filter"], window * filters, filter_words, bandwidth)
    if dataflow == "is":  # the im2col ifmap holds input words more than once
        ahead = -(-cols // layer.ofmap_w)  # output rows from a fold's first pixel to the next fold
        shared = ahead * layer.stride * layer.filter_w * layer.channels
        resident = row_folds > 1 and 2 * window * cols <= ifmap.active * ifmap.eps
    if ifmap.step > 0 or weights.step > 0:
        row = 0
        buffers = list({id(b): b for b in (ifmap, weights, reuse)}.values())
        walked = min(col_folds, max(2, FOLDS_WALKED // row_folds))
        middle = walked // 2
        for fc in range(walked):
            if fc == middle:
                lags = [b.lag for b in buffers]
            for fr in range(row_folds):
                used_rows = min(rows, sr - fr * rows)
                if dataflow == "os":
                    _stream(ifmap, ifmap_shape, fr * window, row, window)
                    _stream(weights, filter_shape, fc * window, row, window)
                elif dataflow == "ws":
                    _stream(ifmap, ifmap_shape, fr * pixels, row + rows, pixels)
                    first = (fc * window + fr * rows) * cols
                    weights.down(weights.line(first), weights.line(first + used_rows * cols - 1), row)
                else:
                    first = (fc * window + fr * rows) * cols
                    last = ifmap.line(first + used_rows * cols - 1)
                    # window rows from `shared` up are found in the next pixel fold's block
                    top = fr * rows + used_rows
                    cut = top if fc == col_folds - 1 else min(max(fr * rows, shared), top)
                    if resident and fc > 0:  # the previous block, in the window, holds the rest
                        cut = fr * rows
                    if cut < top and ifmap.step > 0:
                        ifmap.need(last, row)
                    if cut > fr * rows:
                        ifmap.down(ifmap.line(first), ifmap.line(first + (cut - fr * rows) * cols - 1), row)
                    reuse.up(reuse.line(first), last, row, 1)
                    _stream(weights, filter_shape, fr * filters, row + rows, filters)
                row += per_fold
        for buffer, lag in zip(buffers, lags, strict=True):  # the col folds not walked, as the last ones
            if col_folds > walked and lag > -math.inf:
                buffer.lag += max(0.0, (buffer.lag - lag) / (walked - middle)) * (col_folds - walked)
    ofmap_words = 1024 * sram_kb["ofmap"] // WORD_BYTES
    drain = ofmap_words - -(-ofmap_words // 2)  # the write buffer's inactive half
    written = pixels * filters * (1 if dataflow == "os" else -(-window // rows))  # partial sums
    # each read buffer first fills its active half (or the whole stream, if shorter)
    first_fill = max(min(ifmap.active_words, ifmap_words), min(weights.active_words, filter_words))
    prefill = -(-first_fill // bandwidth)
    return LayerCost(
        compute=compute,
        prefill=prefill,
        final_drain=-(-min(written, drain) // bandwidth) - 1,
        ifmap_lag=max(ifmap.lag, -compute),
        filter_lag=max(weights.lag, -compute),
        ofmap_lag=(written - drain) / bandwidth - compute,
        ifmap_reuse_lag=max(reuse.lag, -compute),
    )


def _stream(buffer: _ReadBuffer, shape: tuple[int, int], first_diagonal: int, row: int, height: int) -> None:
    """A streamed fold: anti-diagonals ``first_diagonal`` … ``+ height + cols - 2`` of the prefetch
    matrix, one per cycle from ``row``."""
    if buffer.step <= 0:
        return
    m_rows, n_cols = shape
    last_diagonal = first_diagonal + height + n_cols - 2
    buffer.up(
        buffer.line(_diagonal_start(first_diagonal, m_rows, n_cols)),
        buffer.line(_diagonal_start(last_diagonal + 1, m_rows, n_cols) - 1),
        row,
        height + n_cols - 1,
    )


class SystolicArray(DesignEnv):
    """Systolic-array accelerator design on SCALE-Sim: minimise the cycles of a DNN layer set.

    Design: ``array_rows`` × ``array_cols`` PEs, ``dataflow`` (os/ws/is), ifmap/filter/ofmap
    SRAM sizes (KB; 1-byte words) and ``dram_bandwidth`` (words/cycle, SCALE-Sim's USER mode).

    Args:
        workload: a shipped layer set (``"tiny_cnn"``, ``"lenet5"``, ``"resnet20"``) or a path to
            a SCALE-Sim conv topology CSV (see :mod:`archgym_accelerators.workloads`).
        objective: ``"latency"`` (min ``cycles``), ``"latency_area"`` (two objectives: min
            ``cycles``, min ``area_estimate_mm2``) or ``"targets"`` (ArchGym-style targets).
        targets: for ``objective="targets"``: metric → bound (meaning ``<=``) or metric →
            ``[op, bound]`` with op ``"<="`` or ``">="``, e.g. ``{"cycles": 6000}``.

    Penalty (infeasible evaluations): -1e12 (latency); (-1e12, -1e3) (latency_area); -1e3
    (targets). Evaluation time grows with the simulated cycles: ``tiny_cnn`` takes 0.1-1 s,
    ``lenet5`` 1-4 s, ``resnet20`` 15-60 s per design here.
    """

    # workload (a name or a path) and targets (a mapping, given with objective="targets" only)
    # are checked in __init__
    arguments = (Categorical("objective", OBJECTIVES),)
    simulator_packages = ("scalesim",)

    def __init__(
        self,
        workload: str = "tiny_cnn",
        objective: str = "latency",
        targets: Mapping[str, Any] | None = None,
    ) -> None:
        self.layers = load_layers(workload)
        self.workload = str(workload)
        space = DesignSpace(
            [
                Ordinal("array_rows", ARRAY_DIMS, default=32),
                Ordinal("array_cols", ARRAY_DIMS, default=32),
                Categorical("dataflow", DATAFLOWS, default="ws"),
                Ordinal("ifmap_sram_kb", SRAM_KB, default=64),
                Ordinal("filter_sram_kb", SRAM_KB, default=64),
                Ordinal("ofmap_sram_kb", SRAM_KB, default=64),
                Ordinal("dram_bandwidth", BANDWIDTHS, default=16),
            ]
        )
        metrics = {
            "cycles": "cycles",
            "array_cycles": "cycles",
            "stall_cycles": "cycles",
            "utilization_pct": "%",
            "mapping_efficiency_pct": "%",
            "compute_utilization_pct": "%",
            "sram_ifmap_reads": "words",
            "sram_filter_reads": "words",
            "sram_ofmap_writes": "words",
            "dram_ifmap_reads": "words",
            "dram_filter_reads": "words",
            "dram_ofmap_writes": "words",
            "avg_sram_bandwidth": "words/cycle",
            "avg_dram_bandwidth": "words/cycle",
            "area_estimate_mm2": "mm^2",
        } | {f"cycles.{layer.name}": "cycles" for layer in self.layers}
        super().__init__(
            design_space=space, metrics=metrics, objective=_objective(objective, targets, metrics)
        )
        self.total_macs = sum(layer.macs for layer in self.layers)
        self.statistic_names = (
            *STATISTICS,
            *(f"{stat}.{layer.name}" for stat in LAYER_STATISTICS for layer in self.layers),
        )
        self._layer_keys = [
            (layer, tuple(f"{stat}.{layer.name}" for stat in LAYER_STATISTICS)) for layer in self.layers
        ]
        self.statistic_estimates = {"cycles": "analytic_cycles", "array_cycles": "compute_cycles"} | {
            f"cycles.{layer.name}": f"analytic_cycles.{layer.name}" for layer in self.layers
        }
        if objective == "latency_area":
            # hypervolume reference: one MAC per cycle, and the largest area in the space
            largest = {
                "array_rows": ARRAY_DIMS[-1],
                "array_cols": ARRAY_DIMS[-1],
                "ifmap_sram_kb": SRAM_KB[-1],
                "filter_sram_kb": SRAM_KB[-1],
                "ofmap_sram_kb": SRAM_KB[-1],
            }
            self.reference_point = np.array([-float(self.total_macs), -area_estimate_mm2(largest)])

    def statistics(self, design: Mapping[str, Any]) -> dict[str, float]:
        """Free statistics of a design (no SCALE-Sim call; ~0.1 ms): SCALE-Sim's compute cycles
        per layer and in total (:func:`compute_cycles`, exact), PEs, SRAM, how memory-bound the
        design is (:func:`dram_traffic`, an estimate: ``dram_traffic`` in words,
        ``dram_to_compute`` the cycles moving it at ``dram_bandwidth`` over the compute cycles,
        per layer and its worst layer, ``memory_bound_cycles`` the sum over layers of the larger
        of the two), and SCALE-Sim's cost structure (:func:`layer_cost`): ``prefill_cycles`` and
        ``final_drain_cycles`` (exact where no ofmap write-back ran during the layer), per layer
        the ifmap, filter and ofmap lags behind the array (``*_lag.<layer>``; > 0: stalls), their
        largest as ``stall_estimate``, and ``analytic_cycles`` (per layer and in total): compute
        + prefill + stalls + final drain, SCALE-Sim's ``cycles`` where the stall estimate is
        right. Per layer: see :data:`LAYER_STATISTICS`."""
        rows, cols, flow = int(design["array_rows"]), int(design["array_cols"]), str(design["dataflow"])
        bandwidth = int(design["dram_bandwidth"])
        kb = {k: int(design[f"{k}_sram_kb"]) for k in ("ifmap", "filter", "ofmap")}
        sram = {k: 1024 * v // WORD_BYTES for k, v in kb.items()}
        total = traffic = bound = worst = prefill = drain = stall = analytic = 0.0
        out: dict[str, float] = {}
        for layer, keys in self._layer_keys:
            cost = layer_cost(layer, rows, cols, flow, kb, bandwidth)
            cycles, layer_stall = cost.compute, cost.stall
            layer_cycles = cycles + cost.prefill + cost.final_drain + layer_stall
            words = sum(dram_traffic(layer, rows, cols, flow, sram))
            pixels, window, filters = layer_operands(layer)
            ratio = words / bandwidth / cycles
            worst = max(worst, ratio)
            bound += max(cycles, words / bandwidth)
            prefill += cost.prefill
            drain += cost.final_drain
            stall += layer_stall
            analytic += layer_cycles
            total += cycles
            traffic += words
            out.update(  # in LAYER_STATISTICS' order
                zip(
                    keys,
                    (
                        float(cycles),
                        float(layer_cycles),
                        cost.ifmap_lag,
                        cost.ifmap_reuse_lag,
                        cost.filter_lag,
                        cost.ofmap_lag,
                        ratio,
                        pixels * window / sram["ifmap"],
                        window * filters / sram["filter"],
                    ),
                    strict=True,
                )
            )
        pes = rows * cols
        return {
            "compute_cycles": total,
            "pe_count": float(pes),
            "sram_kb_total": float(sum(kb.values())),
            "mapping_efficiency": self.total_macs / (total * pes),
            "dram_traffic": traffic,
            "dram_to_compute": traffic / bandwidth / total,
            "worst_layer_dram_to_compute": worst,
            "memory_bound_cycles": bound,
            "prefill_cycles": prefill,
            "final_drain_cycles": drain,
            "stall_estimate": stall,
            "analytic_cycles": analytic,
        } | out

    def simulate(self, design: Mapping[str, Any], workdir: str) -> list[Any]:
        """Run SCALE-Sim on the layer set; its reports go to ``workdir``. Returns its per-layer
        ``single_layer_sim`` objects."""
        from scalesim.layout_utils import layouts
        from scalesim.simulator import simulator

        sim = simulator()
        sim.set_params(
            config_obj=scalesim_config(design),
            topo_obj=scalesim_topology(self.layers),
            layout_obj=layouts(),
            top_path=workdir,
            verbosity=False,
            save_trace=False,
        )
        with warnings.catch_warnings():
            # SCALE-Sim 3.0 calls int() on one-element arrays (deprecated since NumPy 1.25, an
            # error from NumPy 2.4: hence archgym's numpy<2.4 pin); keep that noise out of runs.
            warnings.filterwarnings("ignore", "Conversion of an array with ndim > 0", DeprecationWarning)
            sim.run()
        return sim.single_layer_sim_object_list

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        per_layer = self.simulate(design, str(context.workdir))
        return summarize(per_layer, design, [layer.name for layer in self.layers])


def summarize(per_layer: list[Any], design: Mapping[str, Any], names: list[str]) -> dict[str, float]:
    """Whole-workload metrics from SCALE-Sim's per-layer report items.

    Cycles and traffic are sums over layers (SCALE-Sim runs the layers one after another).
    Percentages are weighted by each layer's array cycles, which for ``utilization_pct`` is
    SCALE-Sim's own definition applied to the whole workload: MACs / (cycles × PEs).
    Bandwidths are total traffic over total cycles (SRAM: over array cycles).
    """
    total = dict.fromkeys(("cycles", "array_cycles", "stall_cycles", "util", "mapping", "compute"), 0.0)
    traffic = dict.fromkeys(
        (
            "sram_ifmap_reads",
            "sram_filter_reads",
            "sram_ofmap_writes",
            "dram_ifmap_reads",
            "dram_filter_reads",
            "dram_ofmap_writes",
        ),
        0.0,
    )
    metrics: dict[str, float] = {}
    for name, layer in zip(names, per_layer, strict=True):
        items = layer.get_compute_report_items()
        overall, array_cycles, stalls, util, mapping, compute = (float(x) for x in items)
        detail = layer.get_detail_report_items()
        # detail: [start, stop, count] for ifmap/filter/ofmap SRAM, then for ifmap/filter/ofmap DRAM
        for key, value in zip(traffic, detail[2::3], strict=True):
            traffic[key] += float(value)
        total["cycles"] += overall
        total["array_cycles"] += array_cycles
        total["stall_cycles"] += stalls
        total["util"] += util * array_cycles
        total["mapping"] += mapping * array_cycles
        total["compute"] += compute * array_cycles
        metrics[f"cycles.{name}"] = overall
    array_cycles = total["array_cycles"]
    sram = traffic["sram_ifmap_reads"] + traffic["sram_filter_reads"] + traffic["sram_ofmap_writes"]
    dram = traffic["dram_ifmap_reads"] + traffic["dram_filter_reads"] + traffic["dram_ofmap_writes"]
    return {
        "cycles": total["cycles"],
        "array_cycles": array_cycles,
        "stall_cycles": total["stall_cycles"],
        "utilization_pct": total["util"] / array_cycles,
        "mapping_efficiency_pct": total["mapping"] / array_cycles,
        "compute_utilization_pct": total["compute"] / array_cycles,
        **traffic,
        "avg_sram_bandwidth": sram / array_cycles,
        "avg_dram_bandwidth": dram / total["cycles"],
        "area_estimate_mm2": area_estimate_mm2(design),
    } | metrics


def _objective(objective: str, targets: Mapping[str, Any] | None, metrics: Mapping[str, str]) -> Any:
    if (targets is not None) != (objective == "targets"):
        raise ValueError(
            "targets: give targets exactly when objective='targets' "
            f"(got objective={objective!r}, targets={targets!r})"
        )
    if objective == "latency":
        return Objectives([Objective("cycles", "min", (LATENCY_PENALTY, 0.0))], penalty=LATENCY_PENALTY)
    if objective == "latency_area":
        return Objectives(
            [
                Objective("cycles", "min", (LATENCY_PENALTY, 0.0)),
                Objective("area_estimate_mm2", "min", (AREA_PENALTY, 0.0)),
            ],
            penalty=[LATENCY_PENALTY, AREA_PENALTY],
        )
    return TargetSpec(parse_targets(targets, metrics), penalty=TARGET_PENALTY)


def parse_targets(targets: Any, metrics: Mapping[str, str]) -> list[Target]:
    """``{"cycles": 6000}`` or ``{"cycles": ["<=", 6000]}`` → :class:`archgym.Target` list."""
    legal = "a non-empty mapping metric -> bound or metric -> [op, bound], op '<=' or '>='"
    if not isinstance(targets, Mapping) or not targets:
        raise ValueError(f"targets: {targets!r} is not legal; legal values: {legal}")
    parsed = []
    for metric, spec in targets.items():
        if metric not in metrics:
            raise ValueError(f"targets: unknown metric {metric!r}; legal metrics: {list(metrics)}")
        if isinstance(spec, int | float) and not isinstance(spec, bool):
            op, bound = "<=", spec
        elif isinstance(spec, list | tuple) and len(spec) == 2:
            op, bound = spec
        else:
            op, bound = None, None
        number = isinstance(bound, int | float) and not isinstance(bound, bool)
        if op not in ("<=", ">=") or not number or bound == 0:
            raise ValueError(f"targets: {metric!r}: {spec!r} is not legal; legal values: {legal}, bound != 0")
        parsed.append(Target(metric, op, float(bound)))
    return parsed
