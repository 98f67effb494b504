"""pymoo's algorithms as archgym agents: ``pymoo.ga``, ``pymoo.de`` (single-objective),
``pymoo.nsga2`` (single and multi), ``pymoo.nsga3``, ``pymoo.moead``, ``pymoo.smsemoa`` and
``pymoo.agemoea`` (multi-objective).

Each agent drives one pymoo algorithm through pymoo's ask-and-tell interface
(``algorithm.setup(problem, seed=…)``, ``pop = algorithm.ask()``, ``algorithm.tell(infills=pop)``):

* **Space**: pymoo searches a box of reals. The box is the design space's own unit hypercube
  (:func:`archgym_agents.translate.unit_design`: a real's position in its (log) range, an
  integer's or a choice's equal-width bin), the encoding the built-in BO and evolutionary agents
  use. Conditional parameters are decoded and dropped when inactive.
* **Generations**: pymoo asks a whole population (the first) or offspring batch at a time; the
  agent's ``batch_size`` is that size, so the loop asks for one generation per round, and the
  generation is told to pymoo once all its designs are told (a final, partial one never is).
* **Objectives**: pymoo minimizes ``F = -reward`` (archgym rewards are higher-is-better), a vector
  for multi-objective envs.
* **Outcome constraints** (:class:`archgym.OutcomeConstraint`) are pymoo inequality constraints:
  ``G`` holds each one's violation (:meth:`archgym.search.Problem.relative_violations`:
  signed, <= 0 satisfied, relative to its bound as pymoo's guide advises), so pymoo's constraint
  domination (its ``CV``, the mean of the positive parts) ranks designs that only violated them
  by how far they are from feasible. Such a design is told its objectives from its metrics (its
  recorded reward is the env's penalty), where they are known.
* **Failures** use the same mechanism. Without outcome constraints every problem but MOEA/D's
  declares one inequality constraint, ``G = 0`` for a feasible evaluation and ``G = 1`` for a
  failed one (infeasible, or a reward that is not finite); with them, a failed evaluation (a
  crash, a metric not measured) is ``G = +inf`` in every column, behind every design that was
  measured. Either way pymoo ranks it behind every feasible design whatever its ``F`` (held at
  ``+inf``, never read by the survival of these algorithms, which splits infeasible individuals
  off first).
  **MOEA/D supports no constraints** (pymoo's MOEA/D ignores ``G``): its failed evaluations, and
  designs that violated an outcome constraint, are told as ``F = +inf`` on every objective, which
  its decomposition ranks behind every finite design, so they never replace a neighbour. That is
  the one case where a value stands for a failure, and where violations are not used.
* **Forbidden combinations** (Python predicates, which pymoo can't express): a design that breaks
  one is not evaluated; pymoo is told it with ``G = 1`` (a violated constraint, as above) and the
  agent fills the slot with the next legal design of the generation, or, when a generation has
  none left, tells it and asks the next (at most ``MAX_FORBIDDEN_TRIES`` generations), then a
  uniformly random legal design (told to nobody: pymoo learns only of its own individuals).
* **Reference directions** (NSGA-III, MOEA/D) come from the number of objectives: Das–Dennis
  directions with the partitions of Deb & Jain (2014) — 12 for 2 and 3 objectives, 8 for 4, 6 for
  5, 4 for 6 and 7 — and Riesz s-energy directions (``energy``, seeded) for 8 or more;
  ``n_partitions`` > 0 overrides the Das–Dennis partitions.
* **Reproducibility**: pymoo draws from a ``numpy`` generator seeded with the run's seed in
  ``setup``, so the same seed repeats exactly (NSGA-III gets a copy of its tournament that
  passes that generator where pymoo 0.6.2's forgets it, see :func:`_comp_by_cv_then_random`),
  and a run reproduces ``pymoo.optimize.minimize(problem, algorithm, ("n_eval", N), seed=seed)``
  on the same box (tested for GA and NSGA-II against a plain unconstrained problem: the failure
  constraint changes no comparison while every evaluation succeeds).
* **Resume and warm start** (``tell_history``): pymoo's ask-and-tell has no way to add
  individuals it did not create to a running population, so recorded evaluations are not told to
  the algorithm; a resumed run replays its journal exactly instead (the agent is deterministic).

pymoo is imported only when an agent is built, so ``archgym agents`` lists these without it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from archgym.search import Agent, AgentSpec, EvalResult, Problem
from archgym.spaces import Design, Integer, Parameter, Real
from archgym_agents.translate import forbidden_rules, unit_bounds, unit_design

if TYPE_CHECKING:
    from pymoo.core.algorithm import Algorithm
    from pymoo.core.population import Population

__all__ = [
    "AGEMOEA",
    "DE",
    "GA",
    "MAX_FORBIDDEN_TRIES",
    "MOEAD",
    "NSGA2",
    "NSGA3",
    "SMSEMOA",
    "SPECS",
    "PymooAgent",
    "reference_directions",
]

MAX_FORBIDDEN_TRIES = 20
"""Generations asked in a row without a legal design before a random legal design is used."""

_PARTITIONS = {2: 12, 3: 12, 4: 8, 5: 6, 6: 4, 7: 4}


def _pop(default: int = 100, low: int = 2) -> Parameter:
    return Integer("pop_size", low, 100_000, default=default)


def _spec(name: str, cls: str, description: str, *params: Parameter) -> AgentSpec:
    return AgentSpec(
        name=name,
        entry_point=f"archgym_agents.pymoo_algorithms:{cls}",
        description=description,
        hyperparameters=params,
    )


_REF = Integer("n_partitions", 0, 100, default=0)  # 0: from the number of objectives

GA_SPEC = _spec(
    "pymoo.ga", "GA", "pymoo GA: genetic algorithm (SBX, polynomial mutation); single-objective.", _pop()
)
DE_SPEC = _spec(
    "pymoo.de",
    "DE",
    "pymoo DE: differential evolution (pymoo's DE/best/1/bin; cr 0.5, not pymoo's 0.2); single-objective.",
    _pop(),
    Real("cr", 0.0, 1.0, default=0.5),  # crossover rate,
)
NSGA2_SPEC = _spec(
    "pymoo.nsga2", "NSGA2", "pymoo NSGA-II: non-dominated sorting GA; multi- (and single-) objective.", _pop()
)
NSGA3_SPEC = _spec(
    "pymoo.nsga3",
    "NSGA3",
    "pymoo NSGA-III: reference-direction NSGA for many objectives.",
    _pop(0, low=0),  # 0: the number of reference directions
    _REF,
)
MOEAD_SPEC = _spec(
    "pymoo.moead",
    "MOEAD",
    "pymoo MOEA/D: decomposition into scalar subproblems (no constraints); multi-objective.",
    _REF,
    Integer("n_neighbors", 2, 1000, default=20),
)
SMSEMOA_SPEC = _spec(
    "pymoo.smsemoa", "SMSEMOA", "pymoo SMS-EMOA: hypervolume-contribution selection; multi-objective.", _pop()
)
AGEMOEA_SPEC = _spec(
    "pymoo.agemoea", "AGEMOEA", "pymoo AGE-MOEA: adaptive geometry estimation; multi-objective.", _pop()
)
SPECS = [GA_SPEC, DE_SPEC, NSGA2_SPEC, NSGA3_SPEC, MOEAD_SPEC, SMSEMOA_SPEC, AGEMOEA_SPEC]


def reference_directions(n_objectives: int, n_partitions: int, seed: int) -> np.ndarray:
    """Reference directions for ``n_objectives`` (see the module docstring)."""
    from pymoo.util.ref_dirs import get_reference_directions

    if n_partitions > 0 or n_objectives in _PARTITIONS:
        return get_reference_directions(
            "das-dennis", n_objectives, n_partitions=n_partitions or _PARTITIONS[n_objectives]
        )
    return get_reference_directions("energy", n_objectives, 15 * n_objectives, seed=seed)


class PymooAgent(Agent):
    """One pymoo algorithm driven by ask-and-tell (see the module docstring). Subclasses set
    ``SPEC`` and build the algorithm in :meth:`make_algorithm` from ``self.options``."""

    SPEC: ClassVar[AgentSpec]
    single_objective = False
    multi_objective = True
    constrained: ClassVar[bool] = True
    """Whether the algorithm honours pymoo constraints (outcome constraints and failures told in
    ``G``)."""

    def __init__(self, problem: Problem, *, seed: int, **hyperparameters: Any) -> None:
        super().__init__(problem, seed=seed)
        self.options = self.SPEC.resolve(hyperparameters)
        self.n_objectives = problem.n_objectives
        n_outcome = len(problem.outcome_constraints)
        self.n_constraints = (n_outcome or 1) if self.constrained else 0
        self._failed_g = np.inf if n_outcome else 1.0  # behind every measured violation
        self.algorithm = self.make_algorithm()
        self.algorithm.setup(self._pymoo_problem(), seed=seed, verbose=False)
        self._generation: Population | None = None
        self._infills: Any = None  # what pymoo asked: the generation, or MOEA/D's one Individual
        self._designs: list[Design | None] = []  # per individual of the generation; None: forbidden
        self._next = 0  # next individual of the generation to hand out
        self._results: dict[int, EvalResult] = {}
        self._handed: list[int] = []  # individuals of the last ask, in order
        self.batch_size = self._peek()

    def make_algorithm(self) -> Algorithm:
        raise NotImplementedError

    def _pymoo_problem(self) -> Any:
        from pymoo.core.problem import Problem as PymooProblem

        lower, upper = unit_bounds(self.space)
        return PymooProblem(
            n_var=len(lower),
            n_obj=self.n_objectives,
            n_ieq_constr=self.n_constraints,
            xl=lower,
            xu=upper,
        )

    # --- generations --------------------------------------------------------------------------
    def _peek(self) -> int:
        """Ask pymoo for the next generation (if none is open) and return the number of its
        designs left to hand out (at least 1)."""
        if self._generation is None:
            self._open()
        return max(1, sum(d is not None for d in self._designs[self._next :]))

    def _open(self) -> None:
        from pymoo.core.individual import Individual
        from pymoo.core.population import Population

        for _ in range(MAX_FORBIDDEN_TRIES):
            asked = self.algorithm.ask()
            self._infills = asked  # MOEA/D asks (and is told) one Individual at a time
            self._generation = Population.create(asked) if isinstance(asked, Individual) else asked
            self._designs, self._next, self._results = [], 0, {}
            for x in self._generation.get("X"):
                design = unit_design(self.space, x)
                self._designs.append(None if forbidden_rules(self.space, design) else design)
            if any(d is not None for d in self._designs):
                return
            self._close()  # a generation of forbidden designs only: tell it and ask again

    def _close(self) -> None:
        """Tell pymoo the open generation: every individual told, forbidden ones as violated."""
        from pymoo.core.evaluator import Evaluator
        from pymoo.problems.static import StaticProblem

        assert self._generation is not None
        n = len(self._generation)
        F = np.full((n, self.n_objectives), np.inf)
        G = np.full((n, self.n_constraints), self._failed_g)
        for i in range(n):
            result = self._results.get(i)
            if result is not None:
                F[i], G[i] = self.told(result)
        static = StaticProblem(self.algorithm.problem, F=F, **({"G": G} if self.constrained else {}))
        Evaluator().eval(static, self._generation)
        self.algorithm.tell(infills=self._infills)
        self._generation = None

    def told(self, result: EvalResult) -> tuple[np.ndarray, np.ndarray]:
        """``F`` and ``G`` of one evaluation. Feasible: ``-reward`` and the (satisfied) violations
        (``G = 0`` without outcome constraints). Only outcome constraints violated: the objectives
        from the metrics (``+inf`` where unknown) and the violations. Failed (an error, a metric
        not measured, a reward that is not finite; for MOEA/D anything infeasible): ``F = +inf``
        and ``G`` at the failure value."""
        failed = np.full(self.n_objectives, np.inf), np.full(self.n_constraints, self._failed_g)
        values = self.values_of(result)
        if not self.constrained:
            return (failed[0] if values is None else np.asarray(values)), failed[1]
        violations = self.problem.relative_violations(result)
        if violations is None or (values is None and (result.feasible or not violations.size)):
            return failed
        G = violations if violations.size else np.zeros(self.n_constraints)
        if values is None:  # only outcome constraints violated: its objectives, where known
            reward = self.problem.objective_value(result)
            F = (
                np.full(self.n_objectives, np.inf)
                if reward is None
                else -np.atleast_1d(np.asarray(reward, dtype=np.float64))
            )
            return (F if F.size == self.n_objectives else failed[0]), G
        return np.asarray(values), G

    def values_of(self, result: EvalResult) -> list[float] | None:
        """``F`` of one evaluation (``-reward``), or None for a failed one: infeasible, or a reward
        that is not finite."""
        if not result.feasible:
            return None
        values = [-float(v) for v in np.atleast_1d(np.asarray(result.reward, dtype=np.float64))]
        if len(values) != self.n_objectives or not all(math.isfinite(v) for v in values):
            return None
        return values

    # --- ask/tell -----------------------------------------------------------------------------
    def _ask(self, n: int) -> list[Design]:
        self._peek()
        designs: list[Design] = []
        self._handed = []
        while len(designs) < n and self._next < len(self._designs):
            design = self._designs[self._next]
            if design is not None:
                designs.append(design)
                self._handed.append(self._next)
            self._next += 1
        if not designs:  # only forbidden ones were left: fill with a random legal design
            designs.append(self.space.sample(self.rng))
            self._handed.append(-1)
        return designs

    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None:
        handed, self._handed = self._handed, []
        if not handed:  # evaluations this agent did not ask for: pymoo can't take them
            return
        for index, result in zip(handed, results, strict=True):
            if index >= 0:
                self._results[index] = result
        remaining = [i for i in range(self._next, len(self._designs)) if self._designs[i] is not None]
        if not remaining:
            self._close()
        self.batch_size = self._peek()  # the next generation's size

    def tell_history(self, designs: Sequence[Design], results: Sequence[EvalResult]) -> None:
        """pymoo can't add individuals it did not create to a running population: the
        evaluations are ignored (a resumed run replays exactly instead)."""
        self._handed = []
        super().tell_history(designs, results)


class GA(PymooAgent):
    """``pymoo.ga``: pymoo's ``GA``."""

    SPEC = GA_SPEC
    single_objective, multi_objective = True, False

    def make_algorithm(self) -> Algorithm:
        from pymoo.algorithms.soo.nonconvex.ga import GA as PymooGA

        return PymooGA(pop_size=self.options["pop_size"])


class DE(PymooAgent):
    """``pymoo.de``: pymoo's ``DE``."""

    SPEC = DE_SPEC
    single_objective, multi_objective = True, False

    def make_algorithm(self) -> Algorithm:
        from pymoo.algorithms.soo.nonconvex.de import DE as PymooDE

        return PymooDE(pop_size=self.options["pop_size"], CR=self.options["cr"])


class NSGA2(PymooAgent):
    """``pymoo.nsga2``: pymoo's ``NSGA2``."""

    SPEC = NSGA2_SPEC
    single_objective = True

    def make_algorithm(self) -> Algorithm:
        from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2

        return PymooNSGA2(pop_size=self.options["pop_size"])


class NSGA3(PymooAgent):
    """``pymoo.nsga3``: pymoo's ``NSGA3``; population: ``pop_size``, or (0) the number of
    reference directions."""

    SPEC = NSGA3_SPEC

    def make_algorithm(self) -> Algorithm:
        from pymoo.algorithms.moo.nsga3 import NSGA3 as PymooNSGA3
        from pymoo.operators.selection.tournament import TournamentSelection

        ref_dirs = reference_directions(self.n_objectives, self.options["n_partitions"], self.seed)
        selection = TournamentSelection(func_comp=_comp_by_cv_then_random)
        return PymooNSGA3(ref_dirs=ref_dirs, pop_size=self.options["pop_size"] or None, selection=selection)


def _comp_by_cv_then_random(pop: Any, P: np.ndarray, random_state: Any = None, **kwargs: Any) -> np.ndarray:
    """NSGA-III's tournament (pymoo 0.6.2 ``nsga3.comp_by_cv_then_random``) with its tie between
    two equally infeasible individuals broken by the algorithm's seeded generator: pymoo's own
    calls ``compare(..., return_random_if_equal=True)`` without it, which draws from an unseeded
    generator, so NSGA-III runs with failed evaluations would not repeat under a seed."""
    from pymoo.operators.selection.tournament import compare

    S = np.full(P.shape[0], np.nan)
    for i in range(P.shape[0]):
        a, b = P[i, 0], P[i, 1]
        if pop[a].CV > 0.0 or pop[b].CV > 0.0:
            S[i] = compare(
                a,
                pop[a].CV,
                b,
                pop[b].CV,
                method="smaller_is_better",
                return_random_if_equal=True,
                random_state=random_state,
            )
        else:
            S[i] = random_state.choice([a, b])
    return S[:, None].astype(int)


class MOEAD(PymooAgent):
    """``pymoo.moead``: pymoo's ``MOEAD`` (no constraints: failures are ``F = +inf``)."""

    SPEC = MOEAD_SPEC
    constrained = False

    def make_algorithm(self) -> Algorithm:
        from pymoo.algorithms.moo.moead import MOEAD as PymooMOEAD

        ref_dirs = reference_directions(self.n_objectives, self.options["n_partitions"], self.seed)
        return PymooMOEAD(ref_dirs=ref_dirs, n_neighbors=min(self.options["n_neighbors"], len(ref_dirs)))


class SMSEMOA(PymooAgent):
    """``pymoo.smsemoa``: pymoo's ``SMSEMOA``."""

    SPEC = SMSEMOA_SPEC

    def make_algorithm(self) -> Algorithm:
        from pymoo.algorithms.moo.sms import SMSEMOA as PymooSMSEMOA

        return PymooSMSEMOA(pop_size=self.options["pop_size"])


class AGEMOEA(PymooAgent):
    """``pymoo.agemoea``: pymoo's ``AGEMOEA``."""

    SPEC = AGEMOEA_SPEC

    def make_algorithm(self) -> Algorithm:
        from pymoo.algorithms.moo.age import AGEMOEA as PymooAGEMOEA

        return PymooAGEMOEA(pop_size=self.options["pop_size"])
