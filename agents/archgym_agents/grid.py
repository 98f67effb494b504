"""Grid search: every legal design of a small discrete space, once each.

Real parameters are discretised to ``points_per_real`` evenly spaced values (log-spaced for
``log=True``), every other parameter takes all its values. Conditions shrink the grid (an
inactive parameter does not multiply the count) and forbidden combinations are skipped. The grid
is never materialised: a design is decoded from its index in the grid, so the shuffled order is a
seeded permutation of indices and a budget smaller than the grid is a uniform sample of it
without repeats.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from archgym.search import Agent, AgentSpec, EvalResult, Problem
from archgym.spaces import Categorical, Design, DesignSpace, Integer, Parameter, Real

MAX_DESIGNS_LIMIT = 10_000_000
"""The largest ``max_designs`` allowed: the shuffled order holds one index per design."""

SPEC = AgentSpec(
    name="grid",
    entry_point="archgym_agents.grid:GridSearch",
    description="Exhaustive search of small discrete spaces (reals discretised), shuffled or in order.",
    hyperparameters=(
        Integer("batch_size", 1, 1024, default=8),
        Integer("points_per_real", 2, 1000, default=5),
        Integer("max_designs", 1, MAX_DESIGNS_LIMIT, default=100_000),
        Categorical("order", ["shuffled", "lexicographic"], default="shuffled"),
    ),
)
SPECS = [SPEC]


class _Other:
    """Stands for every value of a condition parent that activates none of its children."""

    def __repr__(self) -> str:
        return "<other>"


_OTHER = _Other()


def real_levels(p: Real, n: int) -> list[float]:
    """``n`` evenly spaced values of ``p`` from ``low`` to ``high`` (geometric for ``log=True``)."""
    values = (np.geomspace if p.log else np.linspace)(p.low, p.high, n)
    values[0], values[-1] = p.low, p.high  # exact endpoints despite rounding
    return [min(max(float(v), p.low), p.high) for v in values]


class Grid:
    """The conditional grid of a design space, indexed ``0 .. size - 1`` in lexicographic order
    (first parameter slowest). Forbidden combinations are *not* removed: the caller skips them.

    Counting and decoding branch only on condition parents, and only on the parent values that
    some condition names (the other values all activate the same children), so the size of a
    huge grid is computed without enumerating it.
    """

    def __init__(self, space: DesignSpace, points_per_real: int) -> None:
        self.space = space
        self.params: tuple[Parameter, ...] = space.parameters
        self.levels: list[Sequence[Any]] = [self._levels(p, points_per_real) for p in self.params]
        named: dict[str, set[Hashable]] = {}
        for p in self.params:
            if p.condition is not None:
                named.setdefault(p.condition.parent, set()).update(p.condition.values)
        # Per parent: the values conditions name that are on the grid, in grid order.
        self.special: dict[str, list[Any]] = {}
        for i, p in enumerate(self.params):
            if p.name in named:
                on_grid = [v for v in named[p.name] if v in self.levels[i]]
                self.special[p.name] = sorted(on_grid, key=self.levels[i].index)
        self._count = cache(self._count_uncached)
        self._cumulative = cache(self._cumulative_uncached)
        self.size: int = self._count(0, ())

    @staticmethod
    def _levels(p: Parameter, points_per_real: int) -> Sequence[Any]:
        if isinstance(p, Real):
            return real_levels(p, points_per_real)
        if isinstance(p, Integer):
            return range(p.low, p.high + 1)  # lazy: integer ranges can be huge
        return p.values_list()  # type: ignore[attr-defined]

    def _signature(self, name: str, value: Any) -> Any:
        return value if value in self.special[name] else _OTHER

    def _active(self, p: Parameter, key: tuple[tuple[str, Any], ...]) -> bool:
        return p.condition is None or p.condition.holds(dict(key))

    def _count_uncached(self, i: int, key: tuple[tuple[str, Any], ...]) -> int:
        """Designs of parameters ``i..`` given the parents' signatures in ``key``."""
        if i == len(self.params):
            return 1
        p = self.params[i]
        if not self._active(p, key):
            return self._count(i + 1, key)
        n = len(self.levels[i])
        if p.name not in self.special:
            return n * self._count(i + 1, key)
        specials = self.special[p.name]
        total = sum(self._count(i + 1, (*key, (p.name, v))) for v in specials)
        if n > len(specials):
            total += (n - len(specials)) * self._count(i + 1, (*key, (p.name, _OTHER)))
        return total

    def _cumulative_uncached(self, i: int, key: tuple[tuple[str, Any], ...]) -> np.ndarray:
        """Cumulative design counts over the values of condition parent ``i``."""
        p, levels = self.params[i], self.levels[i]
        counts = np.full(len(levels), self._count(i + 1, (*key, (p.name, _OTHER))), dtype=np.int64)
        for v in self.special[p.name]:
            counts[levels.index(v)] = self._count(i + 1, (*key, (p.name, v)))
        return np.cumsum(counts)

    def design(self, index: int) -> Design:
        """The design with lexicographic ``index`` (``0 <= index < size``)."""
        if not 0 <= index < self.size:
            raise IndexError(f"grid index {index} out of range [0, {self.size})")
        design: Design = {}
        key: tuple[tuple[str, Any], ...] = ()
        k = int(index)
        for i, p in enumerate(self.params):
            if not self._active(p, key):
                continue
            if p.name not in self.special:
                sub = self._count(i + 1, key)
                j, k = divmod(k, sub)
            else:
                cumulative = self._cumulative(i, key)
                j = int(np.searchsorted(cumulative, k, side="right"))
                k -= int(cumulative[j - 1]) if j > 0 else 0
            value = self.levels[i][j]
            design[p.name] = value
            if p.name in self.special:
                key = (*key, (p.name, self._signature(p.name, value)))
        return design


def _fewest_points_per_real() -> int:
    """The smallest legal ``points_per_real`` (the coarsest grid), as the spec states it."""
    param = next(p for p in SPEC.hyperparameters if p.name == "points_per_real")
    assert isinstance(param, Integer)
    return param.low


class GridSearch(Agent):
    """Evaluates every legal design of the (discretised) grid, in a seeded shuffled order or in
    lexicographic order (first parameter slowest). When the grid is exhausted and budget remains
    it starts again from the beginning (the same order) and warns once.

    Args:
        batch_size: designs per ``ask``.
        points_per_real: evenly spaced values of each real parameter (log-spaced for ``log=True``).
        max_designs: the largest grid accepted (counted before forbidden combinations are skipped).
        order: ``"shuffled"`` (a seeded permutation of the grid) or ``"lexicographic"``.

    Raises ``ValueError`` at construction when the grid has more than ``max_designs`` designs.
    """

    single_objective = True
    multi_objective = True
    concurrent_asks = True  # the order is fixed: asking ahead changes nothing

    def __init__(self, problem: Problem, *, seed: int, **hyperparameters: Any) -> None:
        super().__init__(problem, seed=seed)
        hp = SPEC.resolve(hyperparameters)
        points_per_real, max_designs, order = hp["points_per_real"], hp["max_designs"], hp["order"]
        self.batch_size = hp["batch_size"]
        self.grid = Grid(self.space, points_per_real)
        if self.grid.size > max_designs:
            reals = any(isinstance(p, Real) for p in self.space)
            hint = ", lower points_per_real" if reals else ""
            raise ValueError(
                f"grid search of {problem.env_id}: the grid has {self.grid.size} designs "
                f"(points_per_real={points_per_real}), more than max_designs={max_designs}; raise "
                f"max_designs (at most {MAX_DESIGNS_LIMIT}){hint}, or use a sampling agent"
            )
        self.order = order
        size = self.grid.size
        self._order = (
            self.rng.permutation(size).astype(np.int32 if size < 2**31 else np.int64)
            if order == "shuffled"
            else None
        )
        self._position = 0  # next position in the order
        self._legal_this_pass = 0
        self._passes = 0
        self._warned = False
        self._legal_count: int | None = None  # known once a pass is complete
        self._next = self._advance()  # one design ahead, so a pass's end is known when reached
        if self._next is None:
            raise ValueError(
                f"grid search of {problem.env_id}: every design of the grid is a forbidden combination "
                f"(constraints: {[c.description for c in self.space.constraints]}); "
                "raise points_per_real or use a sampling agent"
            )

    @classmethod
    def incompatibility(
        cls, problem: Problem, hyperparameters: Mapping[str, Any] | None = None
    ) -> str | None:
        why = super().incompatibility(problem)
        if why is not None:
            return why
        if hyperparameters is not None:  # this run's setting: its grid against its max_designs
            points, most = hyperparameters["points_per_real"], hyperparameters["max_designs"]
            size = Grid(problem.design_space, points).size
            if size > most:
                return (
                    f"max_designs: its grid has {size} designs (points_per_real={points}), more than "
                    f"max_designs={most}; raise max_designs (at most {MAX_DESIGNS_LIMIT}) or lower "
                    "points_per_real"
                )
            return None
        fewest = _fewest_points_per_real()
        size = Grid(problem.design_space, fewest).size
        if size > MAX_DESIGNS_LIMIT:
            return (
                f"its grid has {size} designs even with points_per_real={fewest}, more than the largest "
                f"max_designs ({MAX_DESIGNS_LIMIT})"
            )
        return None

    def _ask(self, n: int) -> list[Design]:
        designs: list[Design] = []
        while len(designs) < n:
            if self._next is None:  # the pass is over
                if designs:  # end the batch with the pass: no repeat unless the budget needs it
                    break
                self._start_again()
            assert self._next is not None
            designs.append(self._next)
            self._legal_this_pass += 1
            self._next = self._advance()
        return designs

    def _advance(self) -> Design | None:
        """The next legal design of this pass (forbidden combinations skipped), None at its end."""
        while self._position < self.grid.size:
            index = self._position if self._order is None else int(self._order[self._position])
            self._position += 1
            design = self.grid.design(index)
            if not self.space.violated(design):
                return design
        return None

    def _start_again(self) -> None:
        if not self._warned:
            warnings.warn(
                f"grid search: all {self._legal_this_pass} legal designs of the grid were evaluated; "
                "budget remains, so the grid is searched again from the beginning",
                stacklevel=3,
            )
            self._warned = True
        self._legal_count = self._legal_this_pass
        self._position, self._legal_this_pass = 0, 0
        self._passes += 1
        self._next = self._advance()

    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None:
        """Grid search learns nothing: the order is fixed."""

    def finish(self, out: Path) -> dict[str, Any]:
        """``grid_size`` counts the designs before forbidden combinations are skipped;
        ``legal_designs`` is known (else None) once the grid has been exhausted."""
        legal = self._legal_count
        if legal is None and self._next is None:
            legal = self._legal_this_pass
        return {"grid_size": self.grid.size, "grid_exhausted": legal is not None, "legal_designs": legal}
