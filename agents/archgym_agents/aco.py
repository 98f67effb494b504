"""Ant colony optimisation over discrete design spaces (reals binned).

One pheromone vector per parameter, over its *options*: the values of a categorical, ordinal or
integer parameter, or ``bins`` equal bins of the unit encoding of a real (log-spaced for
``log=True``) or of an integer with more than ``bins`` values. An ant picks each active parameter's
option with probability ∝ pheromone^alpha — a binned option then yields a value drawn uniformly
inside its bin, so reals are searched to full precision, but learnt only to bin resolution.
Inactive conditional parameters are skipped; an ant that forms a forbidden combination is redrawn,
and so (by default) is one that repeats an evaluated design.

After each colony (batch) is told, pheromone evaporates by ``rho``; the colony's ``n_best``
feasible ants deposit ``q`` times their rank weight (n_best, …, 1)/n_best, and the best design so
far deposits ``elite * q``. Deposits come from ranks, so the reward's scale never matters, and
infeasible ants deposit nothing. On ordered parameters (all but categoricals) a deposit spills
onto neighbouring options, decaying by ``spread`` per step. Pheromone never falls below
``tau_min`` (as in MAX-MIN ant systems), so no option is ever ruled out.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from archgym.search import Agent, AgentSpec, EvalResult, Problem
from archgym.spaces import Categorical, Design, DesignKey, Integer, Real, design_key
from archgym_agents.moves import Options

SPEC = AgentSpec(
    name="aco",
    entry_point="archgym_agents.aco:AntColony",
    description="Ant colony optimisation (elitist, rank-based) for discrete spaces; reals binned.",
    hyperparameters=(
        Integer("ants", 1, 1024, default=10),
        Real("rho", 0.0, 1.0, default=0.2),
        Real("alpha", 0.0, 10.0, default=2.0),
        Real("q", 0.0, 100.0, default=1.0),
        Integer("n_best", 1, 1024, default=3),
        Real("elite", 0.0, 100.0, default=1.0),
        Real("tau_min", 0.0, 1.0, default=0.05),
        Integer("bins", 2, 1000, default=16),
        Real("spread", 0.0, 1.0, default=0.3),
        Categorical("duplicates", ["redraw", "allow"], default="redraw"),
    ),
)
SPECS = [SPEC]


class AntColony(Agent):
    """Elitist rank-based ant colony optimisation with a pheromone floor. Single-objective.

    Args:
        ants: designs per colony (the batch size); the pheromone is updated after each colony.
        rho: evaporation rate per colony (0: pheromone only accumulates; 1: only the last colony
            counts).
        alpha: pheromone exponent (0: uniform random sampling; larger: greedier).
        q: deposit of the colony's best ant, relative to the initial pheromone 1; the k-th best of
            the ``n_best`` deposits ``q * (n_best - k + 1) / n_best``.
        n_best: how many of each colony's feasible ants deposit.
        elite: the best design so far deposits ``elite * q`` after every colony (0: off).
        tau_min: pheromone floor, relative to the initial pheromone 1.
        bins: options of a real parameter (and of an integer with more values than this).
        spread: on ordered parameters a deposit also reaches the option ``d`` steps away,
            multiplied by ``spread ** d`` (0: only the option itself; for smooth objectives).
        duplicates: ``"redraw"`` redraws (up to 100 times) an ant whose design was already
            evaluated or proposed — right for deterministic envs; ``"allow"`` lets noisy envs
            re-evaluate.
    """

    single_objective = True
    multi_objective = False
    max_redraws = 100

    def __init__(self, problem: Problem, *, seed: int, **hyperparameters: Any) -> None:
        super().__init__(problem, seed=seed)
        hp = SPEC.resolve(hyperparameters)
        self.batch_size = hp["ants"]
        self.rho, self.alpha, self.q, self.n_best = hp["rho"], hp["alpha"], hp["q"], hp["n_best"]
        self.elite, self.tau_min = hp["elite"], hp["tau_min"]
        self.options = [Options(p, hp["bins"]) for p in self.space]
        self.pheromone = [np.ones(o.n) for o in self.options]
        self.best: tuple[float, Design] | None = None
        self.colonies = 0
        self.spread = hp["spread"]
        self.redraw = hp["duplicates"] == "redraw"
        self.seen: set[DesignKey] = set()

    # --- ants -------------------------------------------------------------------------------
    def _ask(self, n: int) -> list[Design]:
        probabilities = [self._probabilities(tau) for tau in self.pheromone]
        colony = []
        for _ in range(n):
            for _ in range(self.max_redraws if self.redraw else 1):
                design = self._ant(probabilities)
                if design_key(design) not in self.seen:
                    break
            self.seen.add(design_key(design))
            colony.append(design)
        return colony

    def _ant(self, probabilities: list[np.ndarray], max_tries: int = 1000) -> Design:
        for _ in range(max_tries):
            design: Design = {}
            for p, opts, prob in zip(self.space, self.options, probabilities, strict=True):
                if p.condition is not None and not p.condition.holds(design):
                    continue
                design[p.name] = opts.value(int(self.rng.choice(opts.n, p=prob)), self.rng)
            if not self.space.violated(design):
                return design
        return self.space.sample(self.rng)  # the colony insists on forbidden combinations

    def _probabilities(self, tau: np.ndarray) -> np.ndarray:
        top = tau.max()
        if not top > 0:  # no pheromone at all (tau_min=0 and full evaporation): uniform
            return np.full(len(tau), 1.0 / len(tau))
        weights = (tau / top) ** self.alpha  # scaled first, so large alpha can't overflow
        return weights / weights.sum()

    # --- pheromone --------------------------------------------------------------------------
    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None:
        self.seen.update(design_key(d) for d in designs)  # also designs told but not asked (resume)
        scored = [
            (float(r.reward), d)
            for d, r in zip(designs, results, strict=True)
            if r.feasible and math.isfinite(float(r.reward))
        ]
        scored.sort(key=lambda pair: pair[0], reverse=True)
        if scored and (self.best is None or scored[0][0] > self.best[0]):
            self.best = scored[0]
        for tau in self.pheromone:
            tau *= 1.0 - self.rho
        top = scored[: self.n_best]
        for rank, (_, design) in enumerate(top):
            self._deposit(design, self.q * (self.n_best - rank) / self.n_best)
        if self.best is not None and self.elite > 0:
            self._deposit(self.best[1], self.elite * self.q)
        for tau in self.pheromone:
            np.maximum(tau, self.tau_min, out=tau)
        self.colonies += 1

    def _deposit(self, design: Design, amount: float) -> None:
        for p, opts, tau in zip(self.space, self.options, self.pheromone, strict=True):
            if p.name not in design:
                continue
            j = opts.option(design[p.name])
            if opts.ordered and self.spread > 0:
                tau += amount * self.spread ** np.abs(np.arange(opts.n) - j)
            else:
                tau[j] += amount

    def finish(self, out: Path) -> dict[str, Any]:
        """The most probable option per parameter (what the colony converged to)."""
        favourite = {}
        for p, opts, tau in zip(self.space, self.options, self.pheromone, strict=True):
            j = int(np.argmax(tau))
            favourite[p.name] = f"bin {j}/{opts.n}" if opts.binned else opts.value(j, self.rng)
        return {"colonies": self.colonies, "pheromone_favourites": favourite}
