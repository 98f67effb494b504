"""A (1+1)-evolution strategy with the one-fifth success rule, over any design space.

The parent is a point ``x`` of the design space's unit hypercube (``DesignSpace.to_unit``); a
child is ``clip(x + sigma * N(0, I), 0, 1)`` decoded by ``DesignSpace.from_unit``. One strategy
thus covers reals (linear or log scale), integers, ordinals and categoricals, and a conditional
parameter is simply dropped while its condition is off. A child replaces the parent when it ranks
at least as high (ties too, so the search drifts across plateaus). The step size ``sigma`` grows
by ``exp(1/3)`` after a success and shrinks by ``exp(-1/12)`` after a failure: it settles where
about one child in five succeeds, the one-fifth success rule.

How the agent meets each part of the ask/tell contract:

* **ask**: children of the current parent (random designs until there is one). A child that
  decodes to the parent, to a design still being evaluated or to a forbidden combination is drawn
  again, with the step doubled every five tries; after 20 tries a random legal design is asked
  instead. No evaluation is spent on a design whose result is known or coming.
* **tell**: results rank by ``(feasible, reward)``: every feasible result above every infeasible
  one, and an infeasible result's reward (the env's penalty) is never compared. A failed
  evaluation is information, "not here", not a number to fit. An infeasible parent is replaced by
  any child, so a run that starts in an infeasible region walks out of it.
* **concurrent asks**: a child is compared with whatever the parent is when it is told, so under
  ``--schedule async`` each worker gets a new child as soon as it is free.
* **seeding**: every random draw comes from ``self.rng``, which the base class seeds from the
  run's seed. The same seed and the same results give the same designs, which is what lets the
  loop resume a killed run by replaying the agent.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from archgym.search import Agent, EvalResult, Problem
from archgym.spaces import Design, DesignKey, Text, design_key
from archgym_example_agent.plugin import SPEC

GROW, SHRINK = math.exp(1 / 3), math.exp(-1 / 12)
SIGMA_MIN, SIGMA_MAX = 1e-6, 1.0
TRIES = 20


def rank(result: EvalResult) -> tuple[bool, float]:
    """Feasible above infeasible, then by reward; an infeasible result's reward is never read."""
    reward = float(np.asarray(result.reward, dtype=np.float64).reshape(-1)[0])
    if result.feasible and math.isfinite(reward):
        return (True, reward)
    return (False, 0.0)


class OnePlusOne(Agent):
    """(1+1)-ES with the one-fifth success rule on the unit encoding (see the module docstring).

    Args:
        sigma0: the initial step size, as a fraction of each parameter's unit range.
        batch_size: children per ``ask``; each is compared with the parent as it is told.
    """

    single_objective = True
    multi_objective = False
    concurrent_asks = True

    @classmethod
    def incompatibility(cls, problem: Problem) -> str | None:
        why = super().incompatibility(problem)
        if why is not None:
            return why
        text = [p.name for p in problem.design_space if isinstance(p, Text)]
        return f"free-text parameters {text} have no unit-hypercube encoding" if text else None

    def __init__(self, problem: Problem, *, seed: int, **hyperparameters: Any) -> None:
        super().__init__(problem, seed=seed)
        hp = SPEC.resolve(hyperparameters)  # defaults, legal values and errors: the spec's
        self.sigma: float = hp["sigma0"]
        self.batch_size = hp["batch_size"]
        self.parent: np.ndarray | None = None  # unit encoding, inactive parameters included
        self.parent_key: DesignKey | None = None
        self.parent_rank: tuple[bool, float] = (False, 0.0)
        self._asked: dict[DesignKey, tuple[np.ndarray, bool]] = {}  # in flight: (encoding, is a child)
        self.stats = {"children": 0, "successes": 0, "random": 0}

    def _ask(self, n: int) -> list[Design]:
        taken = {design_key(d) for d in self.pending}
        if self.parent_key is not None:
            taken.add(self.parent_key)
        designs = []
        for _ in range(n):
            x, design, is_child = self._propose(taken)
            key = design_key(design)
            taken.add(key)
            self._asked[key] = (x, is_child)
            designs.append(design)
        return designs

    def _propose(self, taken: set[DesignKey]) -> tuple[np.ndarray, Design, bool]:
        if self.parent is not None:
            for attempt in range(TRIES):
                step = self.sigma * 2.0 ** (attempt // 5)
                x = np.clip(self.parent + step * self.rng.standard_normal(self.parent.size), 0.0, 1.0)
                design = self.space.from_unit(x, check=False)
                if design_key(design) not in taken and not self.space.violated(design):
                    return x, design, True
        self.stats["random"] += 1
        design = self.space.sample(self.rng)
        return self.space.to_unit(design), design, False

    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None:
        for design, result in zip(designs, results, strict=True):
            key = design_key(design)
            # A design told without being asked (a resumed run, a warm start) competes as it is.
            x, is_child = self._asked.pop(key, None) or (self.space.to_unit(design), False)
            better = self.parent is None or rank(result) >= self.parent_rank
            if is_child:
                self.stats["children"] += 1
                self.stats["successes"] += better
                self.sigma = min(max(self.sigma * (GROW if better else SHRINK), SIGMA_MIN), SIGMA_MAX)
            if better:
                self.parent, self.parent_key, self.parent_rank = x, key, rank(result)

    def finish(self, out: Path) -> dict[str, Any]:
        """Figures for ``summary.json``: the final step size and how the children fared."""
        return {"sigma": self.sigma, **{f"n_{name}": count for name, count in self.stats.items()}}
