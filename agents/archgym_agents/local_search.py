"""Local search with random restarts (White, Nolen, Ru & Zela, "Exploring the loss landscape in
neural architecture search", UAI 2021 — state of the art on the NAS-Bench tables).

1. ``n_init`` uniformly random legal designs; the best (feasible first, then by reward) is the
   *current* design.
2. Its neighbours — every design one move away, one active parameter changed
   (:class:`archgym_agents.moves.Moves`: any other choice of a categorical, the neighbouring
   values of an ordinal or integer, ``±step`` on a real's unit encoding) — are evaluated in a
   seeded random order. ``move="first"`` (default) moves to the first neighbour better than the
   current design and starts again from there; ``"best"`` evaluates the whole neighbourhood and
   moves to its best, as in the paper's Algorithm 1 — more evaluations per move, fewer wrong
   turns. A neighbour already evaluated is not evaluated again: its known result counts.
3. No neighbour better: a local optimum. If a real parameter is active its step is halved (down
   to ``min_step``) and the search goes on from the same design — a pattern search, so reals are
   refined beyond the first step size; otherwise the search restarts from one random legal
   design (``step`` reset).

Forbidden neighbours are skipped; every proposal is a legal design not evaluated before.
``batch_size`` > 1 proposes that many neighbours at once. Resume (``tell_history``): the
evaluations are taken in order as if proposed, so the current design is the best seen on the
last climb.

    archgym run --env archgym/NASBench201-v0 --env-kwarg backend=table --agent local_search \\
        --budget 100 --seed 0 --out runs/ls
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from archgym.search import Agent, AgentSpec, EvalResult, Problem
from archgym.spaces import Categorical, Design, DesignKey, Integer, Real, design_key
from archgym_agents.moves import Moves, rank_key

SPEC = AgentSpec(
    name="local_search",
    entry_point="archgym_agents.local_search:LocalSearch",
    description="Local search with random restarts (White et al. 2021): best-so-far neighbourhood "
    "climbing, first or best improvement; any space (reals by pattern steps).",
    hyperparameters=(
        Integer("n_init", 1, 100_000, default=10),
        Categorical("move", ["first", "best"], default="first"),
        Real("step", 0.001, 0.5, default=0.1),
        Real("min_step", 0.0001, 0.5, default=0.005),
        Integer("batch_size", 1, 1024, default=1),
    ),
)
SPECS = [SPEC]


class LocalSearch(Agent):
    """Best-so-far neighbourhood search with random restarts; single-objective (see the module
    docstring).

    Args:
        n_init: random designs before the first climb.
        move: ``"first"`` improvement or ``"best"`` of the whole neighbourhood.
        step: a real's move on its unit encoding (halved at each local optimum down to
            ``min_step``); also the long move of a wide integer.
        batch_size: neighbours per ``ask``.
    """

    single_objective = True
    multi_objective = False

    def __init__(self, problem: Problem, *, seed: int, **hyperparameters: Any) -> None:
        super().__init__(problem, seed=seed)
        hp = SPEC.resolve(hyperparameters)
        if hp["min_step"] > hp["step"]:
            raise ValueError(
                f"min_step: {hp['min_step']} is not legal for local_search; legal values: reals in "
                f"[0.0001, step={hp['step']}]"
            )
        self.n_init, self.move, self.batch_size = hp["n_init"], hp["move"], hp["batch_size"]
        self.step0, self.min_step = hp["step"], hp["min_step"]
        self.moves = Moves(self.space, step=self.step0)
        self.has_reals = any(isinstance(p, Real) for p in self.space)
        self.known: dict[DesignKey, tuple[bool, float]] = {}  # every evaluation's rank key
        self.current: tuple[np.ndarray, tuple[bool, float]] | None = None
        self._queue: list[np.ndarray] = []  # neighbours of the current design not yet tried
        self._best_neighbour: tuple[np.ndarray, tuple[bool, float]] | None = None  # move="best"
        self._restart = False  # the next design is a restart's random start
        self._asked: dict[DesignKey, np.ndarray] = {}
        self._x: dict[DesignKey, np.ndarray] = {}  # encodings of the evaluated designs
        self.told = 0
        self.stats = {"moves": 0, "restarts": 0, "step_halvings": 0}

    # --- ask ---------------------------------------------------------------------------------
    def _ask(self, n: int) -> list[Design]:
        designs: list[Design] = []
        taken = set(self.known)
        while len(designs) < n:
            if self.current is None or self._restart:
                if designs and (self._restart or self.told + len(designs) >= self.n_init):
                    break  # the rest of a start or restart waits for these results
                design = self.moves.random_new(self.rng, taken)
                x = self.moves.encode(design)
            else:
                picked = self._next_neighbour(taken)
                if picked is None:
                    if designs:
                        break  # decide on the local optimum once the batch is told
                    self._local_optimum()
                    continue
                x, design = picked
            taken.add(design_key(design))
            self._asked[design_key(design)] = x
            designs.append(design)
        return designs

    def _next_neighbour(self, taken: set[DesignKey]) -> tuple[np.ndarray, Design] | None:
        """The next untried neighbour to evaluate; known ones are judged on their record (and
        may move the search) without an evaluation."""
        while self._queue:  # a move replaces the queue by the new design's neighbourhood
            x = self._queue.pop()
            design = self.moves.decode(x)
            key = design_key(design)
            if key in self.known:
                self._consider(x, self.known[key])
                continue
            if self.moves.legal_new(design, taken):
                return x, design
        return None

    def _local_optimum(self) -> None:
        """No untried neighbour is left: move to the best one (``move="best"``) or shrink the
        reals' step, or restart."""
        assert self.current is not None
        best, self._best_neighbour = self._best_neighbour, None
        if best is not None and best[1] > self.current[1]:
            self._move_to(*best)
            return
        if self.has_reals and self.moves.step / 2 >= self.min_step:
            self.moves.step /= 2
            self.stats["step_halvings"] += 1
            self._neighbourhood()
            return
        self.stats["restarts"] += 1
        self.moves.step = self.step0
        self._restart = True
        self._queue = []

    # --- tell --------------------------------------------------------------------------------
    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None:
        for design, result in zip(designs, results, strict=True):
            key = design_key(design)
            x = self.moves.encode(design, self._asked.pop(key, None))
            score = rank_key(result)
            self.known[key] = score
            self._x[key] = x
            self.told += 1
            if self._restart:
                self._restart = False
                self._move_to(x, score)
            elif self.current is None:
                if self.told >= self.n_init:  # the best of the initial designs starts the climb
                    best = max(self.known, key=lambda k: self.known[k])
                    self._move_to(self._x[best], self.known[best])
            else:
                self._consider(x, score)

    def _consider(self, x: np.ndarray, score: tuple[bool, float]) -> bool:
        """Take a neighbour's result into account; True if the search moved to it."""
        assert self.current is not None
        if score <= self.current[1]:
            return False
        if self.move == "first":
            self._move_to(x, score)
            return True
        if self._best_neighbour is None or score > self._best_neighbour[1]:
            self._best_neighbour = (x, score)
        return False

    def _move_to(self, x: np.ndarray, score: tuple[bool, float]) -> None:
        if self.current is not None:
            self.stats["moves"] += 1
        self.current = (x, score)
        self._best_neighbour = None
        self._neighbourhood()

    def _neighbourhood(self) -> None:
        assert self.current is not None
        queue = self.moves.neighbours(self.current[0])
        self._queue = [queue[int(i)] for i in self.rng.permutation(len(queue))]

    def finish(self, out: Path) -> dict[str, Any]:
        return {"evaluations_told": self.told, **self.stats}
