"""MAP-Elites with pyribs: an archive of the best design per cell of a behaviour space.

Quality-diversity search: instead of one best design, MAP-Elites keeps the best design (the
*elite*) of every cell of a grid (or CVT) over chosen *measures* — design parameters or metrics
— and mutates elites to fill and improve the cells. The archive, its emitters and the QD score
are pyribs' (``ribs.archives.GridArchive``/``CVTArchive``, ``ribs.emitters.IsoLineEmitter``/
``GaussianEmitter``); this module only maps designs to the unit hypercube and back.

How it searches:

* Solutions live in the unit-hypercube encoding of the design space (``space.to_unit``), the
  emitters' bounds are ``[0, 1]^d``; a solution decodes with ``space.from_unit(x, check=False)``.
  The first ``init`` designs (and every batch while the archive is still empty) are drawn
  uniformly (``space.sample``). Then each of the ``emitters`` emitters proposes ``emitter_batch``
  designs per ask: ``iso_line`` (default; Vassiliades' Iso+LineDD: an elite plus isotropic noise
  of std ``sigma`` plus ``line_sigma`` times a random multiple of its direction to another elite)
  or ``gaussian`` (an elite plus noise of std ``sigma``), in unit-encoding units.
* **Repair of forbidden combinations**: a solution that decodes to a design violating a
  constraint is moved along the segment towards the nearest elite (Euclidean, unit encoding)
  in steps of 1/8 of its length, and the first legal point is used; if none is legal short of
  the elite itself, a uniformly random legal design replaces it. Elites are stored as the
  encoding of the design actually evaluated, so mutations always start from legal designs.
* **Measures**: ``measures="x1,x2"`` names design parameters (their unit encoding, in [0, 1];
  an inactive conditional parameter sits at 0.5) or metrics (raw units; their ranges must be
  given as ``measure_ranges="lo:hi,lo:hi"``, one entry per measure, an entry left empty for a
  design parameter meaning 0:1). Values outside the ranges fall in the edge cells (grid) or the
  nearest cell (CVT). Default: the first two design parameters (one for a 1-D space). A name
  that is both a design parameter and a metric means the design parameter.
* **Cells**: a grid archive has ``cells`` cells per measure, except that a categorical, ordinal
  or (linear) integer design parameter with fewer values gets one cell per value, so coverage
  counts only reachable cells. A CVT archive has ``cvt_cells`` cells whose centroids come from
  k-means with a fixed seed: every run and :func:`archive_stats` use the same tessellation.
* **Objective**: the scalar reward (single-objective only; multi-objective envs need
  ``--scalarize``). Infeasible evaluations (and feasible ones whose reward or measure metrics
  are not finite) are not inserted: they are counted (``n_infeasible``, ``n_unmeasured``).
* **QD score** = Σ over elites of (reward − ``qd_offset``), pyribs' definition. ``qd_offset``
  is a number, or ``"auto"``: the lowest feasible reward of the first batch told with any
  feasible result (the first batch is uniformly random, so the offset is a "typical poor design"
  and roughly comparable across agents; it is fixed from then on). Elites below the offset
  count negatively. To compare runs or agents, use one fixed number for all of them — e.g. the
  env's infeasible penalty when it is documented to lie at or below the worst reward (Hartmann-6:
  0, its minimum) — and fill the same archive from the other agent's evaluations with
  :func:`archive_stats` (or :func:`archive_stats_of_run`) using that number. ``finish`` reports
  the offset it used.

Each ``ask`` returns ``emitters × emitter_batch`` designs (``batch_size``). Defaults were tuned
on Hartmann-6 (measures x1,x2, 10×10 grid, 500 evaluations). The scheduler step is
done here rather than by ``ribs.schedulers.Scheduler``: the scheduler must add *every* asked
solution to the archive with a finite objective, while infeasible designs must stay out; so the
agent asks each emitter, adds the feasible results with ``archive.add`` and tells each emitter
its own feasible results with the archive's ``add_info`` — exactly the scheduler's tell,
restricted to feasible evaluations (it also handles the loop's shorter last batch).

Artifacts (``finish(out)``): ``archive.parquet`` — one row per elite: ``cell`` (archive index),
``measure.<name>``, ``objective`` (the reward), ``evaluation`` (its position among the
evaluations told, = ``step`` in a run that was not resumed) and ``param.<name>`` (the decoded
design; null where inactive) — and, for 1–2 measures, the heatmap ``archive.png``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from archgym.search import Agent, AgentSpec, EvalResult, Problem
from archgym.spaces import Categorical, Design, DesignSpace, Integer, Real, Text

__all__ = ["ARCHIVE_HYPERPARAMETERS", "SPEC", "SPECS", "MapElites", "archive_stats", "archive_stats_of_run"]

SPEC = AgentSpec(
    name="mapelites",
    entry_point="archgym_agents.mapelites:MapElites",
    description="MAP-Elites quality-diversity search (pyribs): best design per cell of chosen measures.",
    hyperparameters=(
        Text("measures", default=""),
        Text("measure_ranges", default=""),
        Categorical("archive", ["grid", "cvt"], default="grid"),
        Integer("cells", 2, 1000, default=10),
        Integer("cvt_cells", 2, 10_000, default=100),
        Categorical("emitter", ["iso_line", "gaussian"], default="iso_line"),
        Real("sigma", 1e-4, 1.0, default=0.1),
        Real("line_sigma", 0.0, 2.0, default=0.2),
        Integer("emitters", 1, 64, default=2),
        Integer("emitter_batch", 1, 1024, default=8),
        Integer("init", 0, 1_000_000, default=0),
        Text("qd_offset", default="auto"),
    ),
)
SPECS = [SPEC]

ARCHIVE_HYPERPARAMETERS = ("measures", "measure_ranges", "archive", "cells", "cvt_cells")
"""The hyperparameters that shape the archive (what :func:`archive_stats` takes besides the offset)."""

_CVT_CENTROID_SEED = 0  # one tessellation for every run, so archives of different runs compare
_CVT_SAMPLES_PER_CELL = 50  # k-means samples per centroid (10k to 100k in all)
_REPAIR_STEPS = 8


# --- measures --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Measures:
    """Behaviour descriptors by name: design parameters (unit encoding) or metrics (raw)."""

    names: tuple[str, ...]
    param_index: tuple[int | None, ...]  # index in the design space, None for a metric
    ranges: tuple[tuple[float, float], ...]

    @classmethod
    def parse(cls, problem: Problem, measures: str, measure_ranges: str) -> Measures:
        space = problem.design_space
        names = [n.strip() for n in measures.split(",") if n.strip()]
        if not names:
            names = space.names[: min(2, len(space))]
        legal = f"design parameters {space.names}, metrics {list(problem.metric_names)}"
        if len(set(names)) != len(names):
            raise ValueError(f"measures: {measures!r} names a measure twice; legal names: {legal}")
        index: list[int | None] = []
        for name in names:
            if name in space.names:
                index.append(space.names.index(name))
            elif name in problem.metric_names:
                index.append(None)
            else:
                raise ValueError(
                    f"measures: {name!r} is neither a design parameter nor a metric of "
                    f"{problem.env_id}; legal names: {legal}"
                )
        ranges = _parse_ranges(names, index, measure_ranges)
        return cls(tuple(names), tuple(index), ranges)

    @property
    def dim(self) -> int:
        return len(self.names)

    def grid_dims(self, space: DesignSpace, cells: int) -> list[int]:
        """``cells`` per measure, except that a discrete design parameter with fewer values
        (and an even encoding: not a log-scaled integer) gets one cell per value over 0:1."""
        dims = []
        for i, lo_hi in zip(self.param_index, self.ranges, strict=True):
            p = None if i is None else space.parameters[i]
            if p is not None and p.is_discrete and not getattr(p, "log", False) and lo_hi == (0.0, 1.0):
                dims.append(min(cells, p.n_values))
            else:
                dims.append(cells)
        return dims

    def of(self, unit: np.ndarray, metrics: Mapping[str, float]) -> np.ndarray | None:
        """The measure vector of an evaluated design (``unit``: its encoding), or None if a
        metric measure is missing or not finite."""
        values = []
        for name, i in zip(self.names, self.param_index, strict=True):
            value = float(unit[i]) if i is not None else float(metrics.get(name, math.nan))
            if not math.isfinite(value):
                return None
            values.append(value)
        return np.array(values, dtype=np.float64)


def _parse_ranges(
    names: list[str], index: list[int | None], measure_ranges: str
) -> tuple[tuple[float, float], ...]:
    metrics = [n for n, i in zip(names, index, strict=True) if i is None]
    example = ",".join("0:1" if i is not None else "LO:HI" for i in index)
    if not measure_ranges.strip():
        if metrics:
            raise ValueError(
                f"measure_ranges is required for metric measures {metrics}: give 'lo:hi' for each "
                f"measure in order, e.g. measure_ranges={example!r} (an entry may be empty for a "
                "design parameter, meaning 0:1)"
            )
        return tuple((0.0, 1.0) for _ in names)
    parts = measure_ranges.split(",")
    if len(parts) != len(names):
        raise ValueError(
            f"measure_ranges: {measure_ranges!r} has {len(parts)} entries for the {len(names)} measures "
            f"{names}; give one 'lo:hi' per measure, e.g. {example!r}"
        )
    ranges = []
    for name, i, part in zip(names, index, parts, strict=True):
        part = part.strip()
        if not part and i is not None:
            ranges.append((0.0, 1.0))
            continue
        lo_hi = part.split(":")
        try:
            lo, hi = (float(v) for v in lo_hi)
        except ValueError:
            lo = hi = math.nan
        if len(lo_hi) != 2 or not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(
                f"measure_ranges: entry {part!r} for measure {name!r} is not 'lo:hi' with finite "
                f"lo < hi, e.g. {example!r}"
            )
        ranges.append((lo, hi))
    return tuple(ranges)


def parse_qd_offset(value: str | float) -> float | None:
    """A ``qd_offset`` hyperparameter: a number, or None for ``"auto"``."""
    if isinstance(value, int | float):
        offset = float(value)
    elif value.strip().lower() == "auto":
        return None
    else:
        try:
            offset = float(value)
        except ValueError:
            offset = math.nan
    if not math.isfinite(offset):
        raise ValueError(f"qd_offset: {value!r} is not legal; legal values: 'auto' or a finite number")
    return offset


# --- the archive -----------------------------------------------------------------------------
class Elites:
    """A pyribs archive over ``measures`` plus the designs its elites came from.

    Solutions are unit encodings of designs; ``evaluation`` (an extra archive field) numbers
    the evaluations added, so an elite's exact design is kept alongside.
    """

    def __init__(
        self,
        space: DesignSpace,
        measures: Measures,
        *,
        kind: str,
        cells: int,
        cvt_cells: int,
        qd_offset: float,
        seed: int = 0,
    ) -> None:
        from ribs.archives import CVTArchive, GridArchive, k_means_centroids

        self.space, self.measures, self.kind, self.qd_offset = space, measures, kind, float(qd_offset)
        common = dict(
            solution_dim=len(space),
            ranges=measures.ranges,
            qd_score_offset=self.qd_offset,
            seed=seed,
            extra_fields={"evaluation": ((), np.int64)},
        )
        if kind == "grid":
            self.archive = GridArchive(dims=measures.grid_dims(space, cells), **common)
        else:  # "cvt" (the spec's only other choice)
            centroids, _ = k_means_centroids(
                centroids=cvt_cells,
                ranges=measures.ranges,
                seed=_CVT_CENTROID_SEED,
                samples=min(100_000, max(10_000, _CVT_SAMPLES_PER_CELL * cvt_cells)),
            )
            self.archive = CVTArchive(centroids=centroids, **common)
        self.designs: list[Design] = []

    def add(
        self, designs: Sequence[Design], units: np.ndarray, objectives: np.ndarray, measures: np.ndarray
    ) -> dict[str, np.ndarray]:
        first = len(self.designs)
        self.designs.extend(designs)
        return self.archive.add(
            solution=units,
            objective=objectives,
            measures=measures,
            evaluation=np.arange(first, first + len(designs), dtype=np.int64),
        )

    def stats(self) -> dict[str, Any]:
        stats = self.archive.stats
        return {
            "qd_score": float(stats.qd_score),
            "coverage": float(stats.coverage),
            "archive_size": int(stats.num_elites),
            "cells": int(self.archive.cells),
            "qd_offset": self.qd_offset,
        }

    def table(self) -> Any:
        """The elites as a pyarrow table (the columns of ``archive.parquet``)."""
        import pyarrow as pa

        data = self.archive.data(["index", "objective", "measures", "evaluation"])
        order = np.argsort(data["index"], kind="stable")
        columns: dict[str, Any] = {"cell": pa.array(data["index"][order].astype(np.int64))}
        for j, name in enumerate(self.measures.names):
            columns[f"measure.{name}"] = pa.array(data["measures"][order, j].astype(np.float64))
        columns["objective"] = pa.array(data["objective"][order].astype(np.float64))
        evaluations = data["evaluation"][order].astype(np.int64)
        columns["evaluation"] = pa.array(evaluations)
        for p in self.space:
            values = [self.designs[e].get(p.name) for e in evaluations]
            columns[f"param.{p.name}"] = pa.array(values, type=_arrow_type(p, pa))
        return pa.table(columns)

    def tick_labels(self) -> list[list[tuple[float, str]] | None]:
        """Per measure, the (position, label) ticks that show a design-parameter measure in the
        env's units instead of the 0–1 encoding the archive works in; None for a metric measure
        (already in its own units)."""
        return [
            None if i is None else _unit_ticks(self.space.parameters[i], *lo_hi)
            for i, lo_hi in zip(self.measures.param_index, self.measures.ranges, strict=True)
        ]

    def heatmap(self, path: Path, title: str) -> bool:
        """Draw the archive (1–2 measures) to ``path`` without any window; False if not drawn."""
        if self.measures.dim not in (1, 2):
            return False
        from matplotlib.figure import Figure
        from ribs.visualize import cvt_archive_heatmap, grid_archive_heatmap

        fig = Figure(figsize=(6.4, 4.8) if self.measures.dim == 2 else (6.4, 2.4))
        ax = fig.add_subplot()
        draw = grid_archive_heatmap if self.kind == "grid" else cvt_archive_heatmap
        draw(self.archive, ax=ax, cbar_kwargs={"label": "reward"})
        axes = [ax.xaxis, ax.yaxis][: self.measures.dim]
        for axis, name, labels in zip(axes, self.measures.names, self.tick_labels(), strict=True):
            axis.set_label_text(name)
            if labels is not None:  # a design parameter: the archive's 0–1 encoding, shown in its units
                axis.set_ticks([u for u, _ in labels], [text for _, text in labels])
        ax.set_title(title)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        return True


def _unit_ticks(param: Any, low: float, high: float) -> list[tuple[float, str]]:
    """Tick positions in the archive's unit encoding, labelled with the parameter's own values:
    every choice of a discrete parameter with few values (at its encoded position), otherwise
    five evenly spaced positions decoded to the value they stand for (log scales included)."""
    if param.is_discrete and param.n_values <= 12:
        marks = [(param.to_unit(v), v) for v in param.values_list()]
        return [(u, str(v)) for u, v in marks if low <= u <= high]
    return [(float(u), f"{param.from_unit(float(u)):.4g}") for u in np.linspace(low, high, 5)]


def _arrow_type(param: Any, pa: Any) -> Any:
    if isinstance(param, Integer):
        return pa.int64()
    if isinstance(param, Real):
        return pa.float64()
    values = param.values_list()
    if all(isinstance(v, str) for v in values):
        return pa.string()
    if all(isinstance(v, bool) for v in values):
        return pa.bool_()
    return pa.int64() if all(isinstance(v, int) for v in values) else pa.float64()


@dataclass
class _Insertable:
    """Evaluations split into what goes in the archive and what is only counted."""

    designs: list[Design]
    units: np.ndarray
    objectives: np.ndarray
    measures: np.ndarray
    positions: list[int]  # index of each insertable evaluation in the batch
    n_infeasible: int
    n_unmeasured: int


def _insertable(
    space: DesignSpace, measures: Measures, designs: Sequence[Design], results: Sequence[EvalResult | float]
) -> _Insertable:
    keep_designs, units, objectives, descriptors, positions = [], [], [], [], []
    n_infeasible = n_unmeasured = 0
    for pos, (design, result) in enumerate(zip(designs, results, strict=True)):
        if isinstance(result, EvalResult):
            feasible, reward, metrics = result.feasible, result.reward, result.metrics
        else:
            feasible, reward, metrics = True, result, {}
        if np.ndim(reward) != 0:
            raise ValueError("MAP-Elites needs a scalar reward; scalarize multi-objective envs")
        reward = float(reward)
        if not feasible or not math.isfinite(reward):
            n_infeasible += 1
            continue
        unit = space.to_unit(design)
        descriptor = measures.of(unit, metrics)
        if descriptor is None:
            n_unmeasured += 1
            continue
        keep_designs.append(space.validate(design, check=False))
        units.append(unit)
        objectives.append(reward)
        descriptors.append(descriptor)
        positions.append(pos)
    d = len(space)
    return _Insertable(
        keep_designs,
        np.array(units).reshape(-1, d),
        np.array(objectives, dtype=np.float64),
        np.array(descriptors).reshape(-1, measures.dim),
        positions,
        n_infeasible,
        n_unmeasured,
    )


# --- public helpers for comparing agents -----------------------------------------------------
def archive_stats(
    designs: Sequence[Design],
    results: Sequence[EvalResult | float],
    problem: Problem,
    *,
    qd_offset: float,
    **archive: Any,
) -> dict[str, Any]:
    """Fill the archive ``mapelites`` would build from arbitrary evaluations (e.g. a random
    search's) and return its figures: ``qd_score``, ``coverage``, ``archive_size``,
    ``n_infeasible``, ``n_unmeasured``, ``cells``, ``qd_offset``.

    ``results`` are :class:`~archgym.EvalResult` objects or plain rewards (then all feasible,
    and only design-parameter measures can be used). ``archive`` takes the agent's hyperparameters
    :data:`ARCHIVE_HYPERPARAMETERS` (``measures``, ``measure_ranges``, ``archive``, ``cells``,
    ``cvt_cells``), with the agent's defaults and legal values; ``qd_offset`` must be a number —
    pass the one the compared MAP-Elites run used (its ``finish`` reports ``qd_offset``), so both
    QD scores subtract the same offset. The CVT centroids are the same in every call and run.
    """
    offset = parse_qd_offset(qd_offset)
    if offset is None:
        raise ValueError("qd_offset: archive_stats needs a number (the offset of the run compared with)")
    other = sorted(set(archive) - set(ARCHIVE_HYPERPARAMETERS))
    if other:
        raise TypeError(
            f"archive_stats: unexpected argument(s) {other}; legal: {list(ARCHIVE_HYPERPARAMETERS)}"
        )
    hp = SPEC.resolve(archive)
    measure_spec = Measures.parse(problem, hp["measures"], hp["measure_ranges"])
    space = problem.design_space
    elites = Elites(
        space,
        measure_spec,
        kind=hp["archive"],
        cells=hp["cells"],
        cvt_cells=hp["cvt_cells"],
        qd_offset=offset,
    )
    batch = _insertable(space, measure_spec, designs, results)
    if batch.designs:
        elites.add(batch.designs, batch.units, batch.objectives, batch.measures)
    return elites.stats() | {"n_infeasible": batch.n_infeasible, "n_unmeasured": batch.n_unmeasured}


def archive_stats_of_run(
    out: str | Path, *, qd_offset: float, problem: Problem | None = None, **archive: Any
) -> dict[str, Any]:
    """:func:`archive_stats` of the evaluations a finished run wrote to ``out`` (its
    ``evaluations.parquet``). ``problem`` defaults to the run's env, rebuilt from ``run.json`` on
    its own simulator: a stored backend and its options are left out (a stored ``trust_model`` is
    dropped with a warning naming the file), so rebuilding an archive never loads a model.
    ``archive`` takes :data:`ARCHIVE_HYPERPARAMETERS`."""
    import json

    import pyarrow.parquet as pq

    from archgym.loop import meta_from_file, simulator_kwargs
    from archgym.records import PARQUET, RUN_META, layout_from_meta, result_from_row

    out = Path(out)
    path = out / RUN_META
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict) or not {"env_id", "layout"} <= set(raw):
        raise ValueError(f"{path}: not an archgym run.json (needs env_id and layout)")
    meta, _ = meta_from_file(raw, str(path))
    if problem is None:
        import gymnasium as gym

        from archgym.search import problem_of

        env = gym.make(meta["env_id"], **simulator_kwargs(meta.get("env_kwargs", {})))
        try:
            problem = problem_of(env, meta["env_id"])
        finally:
            env.close()
    layout = layout_from_meta(meta)
    rows = sorted(pq.read_table(out / PARQUET).to_pylist(), key=lambda r: r["step"])
    results = [result_from_row(row, layout) for row in rows]
    designs = [result.design for result in results]
    return archive_stats(designs, results, problem, qd_offset=qd_offset, **archive)


# --- the agent -------------------------------------------------------------------------------
class MapElites(Agent):
    """MAP-Elites over named measures, with pyribs' archive and emitters (see the module doc).

    Args:
        measures: comma-separated design parameters or metrics (empty: the first two design
            parameters, or the only one).
        measure_ranges: ``lo:hi`` per measure, comma-separated (required for metric measures).
        archive: ``"grid"`` or ``"cvt"``.
        cells: cells per measure of a grid archive.
        cvt_cells: cells of a CVT archive.
        emitter: ``"iso_line"`` (Iso+LineDD) or ``"gaussian"``.
        sigma: the emitters' isotropic noise, in unit-encoding units.
        line_sigma: the ``iso_line`` emitter's step along the direction to another elite.
        emitters, emitter_batch: emitters, and designs each proposes per ask (``batch_size`` is
            their product).
        init: uniformly random designs before the emitters start.
        qd_offset: a number, or ``"auto"`` (the lowest feasible reward of the first batch told
            with any feasible result).

    Example::

        archgym run --env archgym/Hartmann6-v0 --agent mapelites --budget 500 --out runs/me \\
            --agent-param measures=x1,x2 --agent-param cells=10
    """

    single_objective = True
    multi_objective = False

    def __init__(self, problem: Problem, *, seed: int, **hyperparameters: Any) -> None:
        super().__init__(problem, seed=seed)
        hp = SPEC.resolve(hyperparameters)
        self.measures = Measures.parse(problem, hp["measures"], hp["measure_ranges"])
        self._fixed_offset = parse_qd_offset(hp["qd_offset"])
        self.archive_kind, self.cells, self.cvt_cells = hp["archive"], hp["cells"], hp["cvt_cells"]
        self.emitter_kind, self.sigma, self.line_sigma = hp["emitter"], hp["sigma"], hp["line_sigma"]
        emitters = hp["emitters"]
        self.n_emitters, self.emitter_batch = emitters, hp["emitter_batch"]
        self.batch_size = emitters * self.emitter_batch
        self.init = hp["init"]
        self.n_told = 0
        seeds = np.random.SeedSequence(seed).generate_state(1 + emitters)
        self._archive_seed, self._emitter_seeds = int(seeds[0]), [int(s) for s in seeds[1:]]
        self.elites: Elites | None = None
        self._emitters: list[Any] = []
        self._asked: list[tuple[int, Design]] = []  # (emitter number or -1 for uniform, design)
        self.n_infeasible = 0
        self.n_unmeasured = 0
        self.n_repaired = 0  # designs moved out of a forbidden combination

    # --- ask ---------------------------------------------------------------------------------
    def _ask(self, n: int) -> list[Design]:
        if self.elites is None or len(self.elites.archive) == 0 or self.n_told < self.init:
            asked = [(-1, self.space.sample(self.rng)) for _ in range(n)]
        else:
            asked = []
            for e, emitter in enumerate(self._emitters):
                asked += [(e, self._decode(x)) for x in emitter.ask()]
            asked = asked[:n]
        self._asked = asked
        return [design for _, design in asked]

    def _decode(self, x: np.ndarray) -> Design:
        design = self.space.from_unit(x, check=False)
        if not self.space.violated(design):
            return design
        assert self.elites is not None
        self.n_repaired += 1
        solutions = self.elites.archive.data("solution")
        anchor = solutions[np.argmin(np.linalg.norm(solutions - x, axis=1))]
        for step in range(1, _REPAIR_STEPS):
            candidate = self.space.from_unit(x + step / _REPAIR_STEPS * (anchor - x), check=False)
            if not self.space.violated(candidate):
                return candidate
        return self.space.sample(self.rng)

    # --- tell --------------------------------------------------------------------------------
    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None:
        batch = _insertable(self.space, self.measures, designs, results)
        self.n_told += len(designs)
        self.n_infeasible += batch.n_infeasible
        self.n_unmeasured += batch.n_unmeasured
        if not batch.designs:
            return
        if self.elites is None:
            offset = self._fixed_offset
            self._build(float(batch.objectives.min()) if offset is None else offset)
        assert self.elites is not None
        add_info = self.elites.add(batch.designs, batch.units, batch.objectives, batch.measures)
        asked = self._asked if [d for _, d in self._asked] == designs else [(-1, d) for d in designs]
        self._asked = []
        source = np.array([asked[p][0] for p in batch.positions])
        for e, emitter in enumerate(self._emitters):
            mine = source == e
            if mine.any():
                emitter.tell(
                    solution=batch.units[mine],
                    objective=batch.objectives[mine],
                    measures=batch.measures[mine],
                    add_info={k: v[mine] for k, v in add_info.items()},
                )

    def _build(self, offset: float) -> None:
        from ribs.emitters import GaussianEmitter, IsoLineEmitter

        self.elites = Elites(
            self.space,
            self.measures,
            kind=self.archive_kind,
            cells=self.cells,
            cvt_cells=self.cvt_cells,
            qd_offset=offset,
            seed=self._archive_seed,
        )
        archive, d = self.elites.archive, len(self.space)
        common = dict(x0=np.full(d, 0.5), bounds=[(0.0, 1.0)] * d, batch_size=self.emitter_batch)
        if self.emitter_kind == "iso_line":
            self._emitters = [
                IsoLineEmitter(archive, iso_sigma=self.sigma, line_sigma=self.line_sigma, seed=s, **common)
                for s in self._emitter_seeds
            ]
        else:
            self._emitters = [
                GaussianEmitter(archive, sigma=self.sigma, seed=s, **common) for s in self._emitter_seeds
            ]

    # --- artifacts ---------------------------------------------------------------------------
    def finish(self, out: Path) -> dict[str, Any]:
        """Write ``archive.parquet`` (and ``archive.png`` for 1–2 measures); return the QD
        score, coverage, archive size, infeasible count and the offset used."""
        import pyarrow.parquet as pq

        elites = self.elites
        if elites is None:  # nothing feasible was told: an empty archive
            elites = Elites(
                self.space,
                self.measures,
                kind=self.archive_kind,
                cells=self.cells,
                cvt_cells=self.cvt_cells,
                qd_offset=self._fixed_offset or 0.0,
                seed=self._archive_seed,
            )
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        pq.write_table(elites.table(), out / "archive.parquet")
        stats = elites.stats()
        elites.heatmap(
            out / "archive.png",
            f"{self.problem.env_id}: QD score {stats['qd_score']:.4g}, coverage {stats['coverage']:.0%}",
        )
        return stats | {
            "n_infeasible": self.n_infeasible,
            "n_unmeasured": self.n_unmeasured,
            "n_repaired": self.n_repaired,
            "measures": list(self.measures.names),
        }
