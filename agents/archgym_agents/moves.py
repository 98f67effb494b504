"""Local moves over any design space, shared by the mutation- and neighbourhood-based agents
(``rea``, ``local_search``): one design's neighbours and a random mutation of it.

Designs are handled as their unit encoding (``space.to_unit``), a vector over *every* parameter:
inactive conditional parameters keep a carried value there, so a move that switches a condition on
decodes the child to a definite value, and ``space.from_unit`` drops whatever is inactive. A move
changes exactly one *active* parameter, as NAS-Bench-201's mutation changes one operation:

* ``Categorical``: any other choice (all of them are neighbours; a mutation picks one uniformly);
* ``Ordinal`` and ``Integer``: one position up or down (integers with many values also
  ``±round(step·n)`` positions, so a wide range is crossed in a few moves);
* ``Real``: ``±step`` on the unit encoding (the log scale for ``log=True``); a mutation draws a
  Gaussian step of that size instead.

Nothing here checks forbidden combinations or repeats: the agents filter moves through
:meth:`Moves.legal_new`, so every proposal is a legal design not evaluated before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from archgym.search import EvalResult
from archgym.spaces import Categorical, Design, DesignKey, DesignSpace, Integer, Parameter, Real, design_key

__all__ = ["Moves", "Options", "rank_key"]

WIDE_INTEGER = 10
"""Integers with more values than this also get long moves of ``±round(step·n)`` positions."""


class Moves:
    """Neighbourhoods and mutations of designs of ``space`` (see the module docstring).

    Args:
        space: the design space.
        step: the size of a move of a real parameter on its unit encoding (and the fraction of a
            wide integer's range a long move covers).
    """

    def __init__(self, space: DesignSpace, *, step: float) -> None:
        self.space = space
        self.step = step
        self.params: list[Parameter] = list(space)

    # --- encoding ----------------------------------------------------------------------------
    def encode(self, design: Design, carried: np.ndarray | None = None) -> np.ndarray:
        """The unit encoding of ``design``; inactive parameters keep ``carried``'s values (0.5
        without one)."""
        x = self.space.to_unit(design)
        if carried is not None:
            inactive = [i for i, p in enumerate(self.params) if p.name not in design]
            x[inactive] = carried[inactive]
        return x

    def decode(self, x: np.ndarray) -> Design:
        return self.space.from_unit(x, check=False)

    def legal_new(self, design: Design, taken: set[DesignKey]) -> bool:
        """Whether ``design`` breaks no forbidden combination and is not in ``taken``."""
        return design_key(design) not in taken and not self.space.violated(design)

    # --- moves -------------------------------------------------------------------------------
    def _values(self, i: int, u: float) -> list[float]:
        """Unit encodings of parameter ``i`` one move away from ``u``."""
        p = self.params[i]
        if isinstance(p, Real):
            return sorted({float(np.clip(u + s * self.step, 0.0, 1.0)) for s in (-1, 1)} - {u})
        n = p.n_values
        index = p.index(p.from_unit(u))
        if isinstance(p, Categorical):
            targets: Iterable[int] = (j for j in range(n) if j != index)
        else:
            jumps = {1}
            if isinstance(p, Integer) and n > WIDE_INTEGER:
                jumps.add(max(2, round(self.step * n)))
            targets = sorted({index + s * k for k in jumps for s in (-1, 1)} & set(range(n)))
        return [p.to_unit(p.value_at(j)) for j in targets]

    def active(self, x: np.ndarray) -> list[int]:
        """Indices of the parameters active in the design ``x`` decodes to."""
        design = self.decode(x)
        return [i for i, p in enumerate(self.params) if p.name in design]

    def neighbours(self, x: np.ndarray) -> list[np.ndarray]:
        """Every design one move away from ``x`` (one active parameter changed), as encodings;
        distinct designs only, ``x``'s own excluded."""
        out, keys = [], {design_key(self.decode(x))}
        for i in self.active(x):
            for v in self._values(i, float(x[i])):
                y = x.copy()
                y[i] = v
                key = design_key(self.decode(y))
                if key not in keys:
                    keys.add(key)
                    out.append(y)
        return out

    def mutate(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``x`` with one uniformly chosen active parameter moved: a Gaussian step for a real,
        a uniformly chosen neighbouring value otherwise."""
        active = self.active(x)
        y = x.copy()
        i = int(active[rng.integers(len(active))])
        if isinstance(self.params[i], Real):
            y[i] = float(np.clip(x[i] + rng.normal(0.0, self.step), 0.0, 1.0))
        else:
            values = self._values(i, float(x[i]))
            if values:
                y[i] = values[int(rng.integers(len(values)))]
        return y

    def random_new(self, rng: np.random.Generator, taken: set[DesignKey], tries: int = 100) -> Design:
        """A uniformly random legal design not in ``taken`` (a repeat only if ``tries`` samples
        all were)."""
        design = self.space.sample(rng)
        for _ in range(tries - 1):
            if design_key(design) not in taken:
                return design
            design = self.space.sample(rng)
        return design


def rank_key(result: EvalResult) -> tuple[bool, float]:
    """How a single-objective result ranks: every feasible one above every infeasible one, then
    by reward. An infeasible result's penalty is never compared (it is information, not a value)."""
    reward = float(np.asarray(result.reward, dtype=np.float64).reshape(-1)[0])
    if result.feasible and np.isfinite(reward):
        return (True, reward)
    return (False, 0.0)


class Options:
    """The options of one parameter, for agents that choose among a finite set per parameter (ACO,
    REINFORCE): its values, or ``bins`` bins of its unit encoding (reals, wide integers)."""

    def __init__(self, p: Parameter, bins: int) -> None:
        self.p = p
        self.binned = isinstance(p, Real) or (isinstance(p, Integer) and p.n_values > bins)
        self.n = bins if self.binned else p.n_values
        self.ordered = not isinstance(p, Categorical)

    def value(self, j: int, rng: np.random.Generator) -> Any:
        if self.binned:
            return self.p.from_unit((j + rng.random()) / self.n)
        return self.p.value_at(j)  # type: ignore[attr-defined]

    def option(self, value: Any) -> int:
        if self.binned:
            return min(int(self.p.to_unit(value) * self.n), self.n - 1)
        return self.p.index(value)  # type: ignore[attr-defined]
