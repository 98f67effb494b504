"""Asynchronous successive halving: ``asha`` (Li et al., 2020, "A System for Massively Parallel
Hyperparameter Tuning") and its multi-objective form ``mo_asha`` (Schmucker et al., 2021,
"Multi-objective Asynchronous Successive Halving"), for envs with a fidelity.

Whenever asked, the agent looks at its rungs (:mod:`archgym_agents.rungs`) from the second
highest down: if rung k holds a configuration among its top ⌊n_k/η⌋ that was not promoted yet,
that configuration is proposed at rung k+1 (``Proposal(design, fidelity=rung)``); otherwise a new
random configuration is proposed at the lowest rung. No rung waits for the rest of its bracket,
so every worker stays busy: under ``--schedule async`` the agent is asked whenever a worker is
free (``concurrent_asks``) and promotes as results arrive. Under synchronous scheduling it is asked
``batch_size`` designs at a time and promotes from what was told so far.

``mo_asha`` ranks a rung by NSGA-II's order (non-dominated sorting, then crowding distance within
a front), the ranking Schmucker et al. evaluate MO-ASHA with; ``asha`` by reward.

Why native, not a library: ASHA's promotion rule is a few lines over the rung tables, and the
libraries that ship it (Syne Tune, Ray Tune) do so as schedulers that own trial execution, not as
ask/tell; Syne Tune would also bring xgboost and a 350 MB nccl wheel for this. SMAC 2.4's
successive-halving intensifier waits for a whole stage before promoting (``smac.hyperband``).

Failed or infeasible evaluations stay members of their rung (they count towards n_k, as a
finished trial does in ASHA) but rank below every feasible one and are never promoted: information,
not a number to fit. Ties keep the order results arrived in, so a run is deterministic given its
seed and the order of its results (exactly reproducible under the simulated clock).

Resume (``tell_history``): each recorded evaluation is placed in the rung of its recorded
fidelity; a configuration recorded at a higher rung counts as promoted from the lower ones.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from archgym.search import Agent, AgentSpec, EvalResult, Problem, Proposal
from archgym.spaces import Design, DesignKey, Integer, design_key
from archgym_agents.rungs import fidelity_incompatibility, ladder, nearest_rung

__all__ = ["SPECS", "Asha", "MoAsha"]


def _params() -> tuple[Integer, ...]:
    return (
        Integer("batch_size", 1, 1024, default=1),
        Integer("eta", 2, 10, default=3),
        Integer("n_rungs", 0, 30, default=0),  # 0: every η-spaced level in the env's fidelity range
    )


ASHA_SPEC = AgentSpec(
    name="asha",
    entry_point="archgym_agents.asha:Asha",
    description="Asynchronous successive halving (ASHA): random configurations promoted rung by "
    "rung as results arrive; needs a fidelity; single-objective.",
    hyperparameters=_params(),
)
MO_ASHA_SPEC = AgentSpec(
    name="mo_asha",
    entry_point="archgym_agents.asha:MoAsha",
    description="Multi-objective ASHA: rungs ranked by non-dominated sorting and crowding distance; "
    "needs a fidelity; multi-objective.",
    hyperparameters=_params(),
)
SPECS = [ASHA_SPEC, MO_ASHA_SPEC]


class Asha(Agent):
    """ASHA over random configurations (see the module docstring).

    Args:
        batch_size: designs per ``ask`` under synchronous scheduling.
        eta: promotion factor η: the top 1/η of a rung may go on, at η times the fidelity.
        n_rungs: at most this many rungs, the top ones (0: all that fit the env's range).
    """

    SPEC: ClassVar[AgentSpec] = ASHA_SPEC
    single_objective = True
    multi_objective = False
    concurrent_asks = True  # promotions read only what has been told; any pending design may finish

    @classmethod
    def incompatibility(cls, problem: Problem) -> str | None:
        return super().incompatibility(problem) or fidelity_incompatibility(problem)

    def __init__(self, problem: Problem, *, seed: int, **hyperparameters: Any) -> None:
        super().__init__(problem, seed=seed)
        options = self.SPEC.resolve(hyperparameters)
        self.batch_size = options["batch_size"]
        self.eta = options["eta"]
        self.n_rungs = options["n_rungs"]
        if problem.fidelity is None:
            raise ValueError(f"agent {self.SPEC.name!r}: {fidelity_incompatibility(problem)}")
        self.rungs = ladder(problem.fidelity, self.eta, self.n_rungs)
        self._configs: list[Design] = []
        self._results: list[dict[int, np.ndarray]] = [{} for _ in self.rungs]  # rung -> config -> value
        self._promoted: list[set[int]] = [set() for _ in self.rungs]
        self._asked: dict[DesignKey, deque[tuple[int, int]]] = {}  # design -> (config, rung), oldest first

    # --- ask --------------------------------------------------------------------------------
    def _ask(self, n: int) -> list[Proposal]:
        return [self._next() for _ in range(n)]

    def _next(self) -> Proposal:
        for rung in range(len(self.rungs) - 2, -1, -1):
            config = self._promotable(rung)
            if config is not None:
                self._promoted[rung].add(config)
                return self._propose(config, rung + 1)
        self._configs.append(self.space.sample(self.rng))
        return self._propose(len(self._configs) - 1, 0)

    def _promotable(self, rung: int) -> int | None:
        """The best configuration of ``rung``'s top ⌊n/η⌋ not promoted yet (None: there is none)."""
        members = self._results[rung]
        top = len(members) // self.eta
        if top == 0:
            return None
        ids = list(members)
        for i in self._order(np.array([members[c] for c in ids]))[:top]:
            if ids[i] not in self._promoted[rung] and bool(np.all(np.isfinite(members[ids[i]]))):
                return ids[i]
        return None

    def _order(self, values: np.ndarray) -> list[int]:
        """Indices of ``values`` (one row per configuration) best first; ties in arrival order."""
        return sorted(range(len(values)), key=lambda i: -float(values[i, 0]))

    def _propose(self, config: int, rung: int) -> Proposal:
        design = self._configs[config]
        self._asked.setdefault(design_key(design), deque()).append((config, rung))
        return Proposal(design=dict(design), fidelity=self.rungs[rung])

    # --- tell -------------------------------------------------------------------------------
    def _value(self, result: EvalResult) -> np.ndarray:
        """The result as a row to rank, higher better; -inf everywhere for a failed evaluation."""
        width = self.problem.n_objectives
        reward = np.asarray(result.reward, dtype=np.float64).reshape(-1)
        if not result.feasible or reward.size != width or not np.all(np.isfinite(reward)):
            return np.full(width, -np.inf)
        return reward

    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None:
        for design, result in zip(designs, results, strict=True):
            queue = self._asked.get(design_key(design))
            if queue:
                config, rung = queue.popleft()
            else:  # not asked by this agent (tell_history): file it by its recorded fidelity
                found = self._place(design, result)
                if found is None:
                    continue
                config, rung = found
            self._results[rung][config] = self._value(result)

    def _place(self, design: Design, result: EvalResult) -> tuple[int, int] | None:
        fidelity = result.fidelity if result.fidelity is not None else self.rungs[-1]
        rung = nearest_rung(self.rungs, fidelity)
        if rung is None:
            return None
        key = design_key(design)
        for config in range(len(self._configs) - 1, -1, -1):  # a known configuration, newest first
            if design_key(self._configs[config]) == key and config not in self._results[rung]:
                break
        else:
            self._configs.append(dict(design))
            config = len(self._configs) - 1
        for lower in range(rung):
            self._promoted[lower].add(config)
        return config, rung

    def tell_history(self, designs: Sequence[Design], results: Sequence[EvalResult]) -> None:
        """Place recorded evaluations in the rungs of their fidelities (pending asks are dropped)."""
        self._asked = {}
        super().tell_history(designs, results)


class MoAsha(Asha):
    """MO-ASHA: ASHA whose rungs are ranked by non-dominated sorting, then crowding distance."""

    SPEC = MO_ASHA_SPEC
    single_objective = False
    multi_objective = True

    def _order(self, values: np.ndarray) -> list[int]:
        order: list[int] = []
        for front in _fronts(values):
            distance = _crowding(values[front])
            order += [front[i] for i in sorted(range(len(front)), key=lambda i: -distance[i])]
        return order


def _fronts(values: np.ndarray) -> list[list[int]]:
    """Non-dominated sorting (maximising every column): fronts of indices, each in input order."""
    left = list(range(len(values)))
    fronts = []
    while left:
        rows = values[left]
        dominated = [bool(np.any(np.all(rows >= row, axis=1) & np.any(rows > row, axis=1))) for row in rows]
        front = [i for i, d in zip(left, dominated, strict=True) if not d]
        if not front:  # rows that are all -inf or NaN: one last front
            front = list(left)
        fronts.append(front)
        left = [i for i in left if i not in set(front)]
    return fronts


def _crowding(values: np.ndarray) -> np.ndarray:
    """NSGA-II's crowding distance of each row within its front (ends: infinite)."""
    n = len(values)
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for column in values.T:
        order = np.argsort(column, kind="stable")
        span = column[order[-1]] - column[order[0]]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span > 0 and np.isfinite(span):
            distance[order[1:-1]] += (column[order[2:]] - column[order[:-2]]) / span
    return distance
