"""Regularized evolution (REA; Real et al., AAAI 2019), as NAS-Bench-201 runs it as a baseline.

The population is the ``population`` most recently evaluated designs — a queue, so every design
dies of old age however good it is (the "aging" that regularizes the search):

1. the first ``population`` designs are uniformly random legal ones;
2. each later design is a *child*: ``sample_size`` members drawn uniformly without replacement,
   the best of them (feasible first, then by reward) the parent, the child the parent with one
   active parameter mutated (:class:`archgym_agents.moves.Moves`: another choice of a categorical,
   a neighbouring ordinal or integer value, a Gaussian step of ``step`` on a real's unit encoding);
3. every evaluated child joins the queue and the oldest member leaves.

Defaults are NAS-Bench-201's (population 10, sample size 3). Departures from the paper, both for
benchmark budgets: a child that repeats an evaluated design or breaks a forbidden combination is
mutated again (up to 20 times), then replaced by a random legal new design — an evaluation is
never spent on a known result; and ``batch_size`` children may be bred from one population for
parallel workers (1, the default, is the sequential algorithm). Resume (``tell_history``) needs
no replay: the population is the last ``population`` evaluations, whoever proposed them.

    archgym run --env archgym/NASBench201-v0 --env-kwarg backend=table --agent rea --budget 100 \\
        --seed 0 --out runs/rea
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from archgym.search import Agent, AgentSpec, EvalResult, Problem
from archgym.spaces import Design, DesignKey, Integer, Real, design_key
from archgym_agents.moves import Moves, rank_key

SPEC = AgentSpec(
    name="rea",
    entry_point="archgym_agents.rea:RegularizedEvolution",
    description="Regularized evolution (Real et al. 2019; NAS-Bench-201's REA): tournament parents, "
    "one-parameter mutation, oldest member dies; any space.",
    hyperparameters=(
        Integer("population", 2, 100_000, default=10),
        Integer("sample_size", 1, 100_000, default=3),
        Real("step", 0.001, 1.0, default=0.1),
        Integer("batch_size", 1, 1024, default=1),
    ),
)
SPECS = [SPEC]

MUTATION_TRIES = 20


class RegularizedEvolution(Agent):
    """Regularized (aging) evolution; single-objective (see the module docstring).

    Args:
        population: members kept (the most recent evaluations).
        sample_size: members drawn per tournament (at most ``population``); 1 is a random walk
            from random members, ``population`` always mutates the best member.
        step: size of a real's mutation (standard deviation on its unit encoding).
        batch_size: children per ``ask``.
    """

    single_objective = True
    multi_objective = False

    def __init__(self, problem: Problem, *, seed: int, **hyperparameters: Any) -> None:
        super().__init__(problem, seed=seed)
        hp = SPEC.resolve(hyperparameters)
        if hp["sample_size"] > hp["population"]:
            raise ValueError(
                f"sample_size: {hp['sample_size']} is not legal for rea; legal values: integers in "
                f"[1, population={hp['population']}]"
            )
        self.population_size, self.sample_size = hp["population"], hp["sample_size"]
        self.batch_size = hp["batch_size"]
        self.moves = Moves(self.space, step=hp["step"])
        # each member: (encoding, design, rank key); the oldest on the left
        self.population: deque[tuple[np.ndarray, Design, tuple[bool, float]]] = deque(
            maxlen=self.population_size
        )
        self._seen: set[DesignKey] = set()
        self._asked: dict[DesignKey, np.ndarray] = {}  # encodings of the children asked (carried genes)
        self.stats = {"random": 0, "children": 0, "replaced": 0}

    def _ask(self, n: int) -> list[Design]:
        designs: list[Design] = []
        taken = set(self._seen)
        for _ in range(n):
            if len(self.population) < self.population_size:
                design = self.moves.random_new(self.rng, taken)
                x = self.moves.encode(design)
                self.stats["random"] += 1
            else:
                x, design = self._child(taken)
            taken.add(design_key(design))
            self._asked[design_key(design)] = x
            designs.append(design)
        return designs

    def _child(self, taken: set[DesignKey]) -> tuple[np.ndarray, Design]:
        members = list(self.population)
        drawn = self.rng.choice(len(members), size=self.sample_size, replace=False)
        parent = max((members[int(i)] for i in drawn), key=lambda m: m[2])
        x = parent[0]
        for _ in range(MUTATION_TRIES):
            x = self.moves.mutate(x, self.rng)
            design = self.moves.decode(x)
            if self.moves.legal_new(design, taken):
                self.stats["children"] += 1
                return x, design
        self.stats["replaced"] += 1
        design = self.moves.random_new(self.rng, taken)
        return self.moves.encode(design), design

    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None:
        for design, result in zip(designs, results, strict=True):
            key = design_key(design)
            carried = self._asked.pop(key, None)
            x = self.moves.encode(design, carried)
            self.population.append((x, design, rank_key(result)))  # the oldest leaves (maxlen)
            self._seen.add(key)

    def finish(self, out: Path) -> dict[str, Any]:
        return {"population": len(self.population), **{f"n_{k}": v for k, v in self.stats.items()}}
