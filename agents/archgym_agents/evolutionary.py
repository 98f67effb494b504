"""Evolutionary agents on DEAP: a single-objective genetic algorithm (``ga``) and NSGA-II
(``nsga2``) for multi-objective envs.

Both share one type-aware genome (:class:`_Genome`): a gene for *every* parameter of the design
space, inactive conditional ones included — they are carried along (so a child can switch a
condition back on and inherit a sensible value) and dropped when a genome is decoded through the
design space, so conditions hold. Variation, gene by gene type:

* ``Real``: simulated binary crossover (``tools.cxSimulatedBinaryBounded``) and polynomial bounded
  mutation (``tools.mutPolynomialBounded``) on the unit encoding, i.e. on the log scale for
  ``log=True`` reals;
* ``Integer``: uniform crossover; a polynomial step on the value (log scale for ``log=True``),
  rounded, at least ±1, clipped to the bounds;
* ``Ordinal``: uniform crossover; a step of ±k positions (k geometric, mostly 1), within the list;
* ``Categorical``: uniform crossover; random reset to another choice.

A mutated child always changes at least one gene. A child that is a forbidden combination
(``space.violated``) or repeats an evaluated design is mutated again (a few tries), then replaced
by a fresh legal sample — so every proposal is legal and evaluations are rarely wasted.

Infeasible evaluations are never used as numbers. ``constraint_handling="deb"`` (the default) is
Deb's constraint-domination (Deb 2000, "An efficient constraint handling method for genetic
algorithms"): a feasible individual beats every infeasible one; of two that only violated outcome
constraints (:class:`archgym.OutcomeConstraint`), the smaller total violation wins (each violation
relative to its bound, :meth:`archgym.search.Problem.relative_violations`); between feasible ones
the objective decides (NSGA-II: Pareto rank and crowding). An evaluation that failed outright (an
error, a metric not measured) ranks below every other. ``"feasible_first"`` ranks every
infeasible individual alike, below every feasible one. DEAP has no constraint handling of its
own: both live in the fitness class (:func:`_constrained_fitness`), so DEAP's selection operators
apply them unchanged.

Example::

    archgym run --env archgym/Hartmann6-v0 --agent ga --budget 200 --seed 0 --out runs/h6
    archgym run --env archgym/DTLZ2-v0 --agent nsga2 --budget 300 --seed 0 --out runs/dtlz2
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from archgym.search import Agent, AgentSpec, EvalResult, Problem
from archgym.spaces import (
    Categorical,
    Condition,
    Design,
    DesignKey,
    DesignSpace,
    Integer,
    Ordinal,
    Parameter,
    Real,
    design_key,
)

__all__ = ["CONSTRAINT_HANDLING", "NSGA2", "SPECS", "SPEC_BY_NAME", "GeneticAlgorithm"]

CONSTRAINT_HANDLING = ("deb", "feasible_first")
"""Legal values of ``constraint_handling`` (ga, nsga2): Deb's constraint-domination, or every
infeasible individual alike (the behaviour before outcome constraints existed)."""


def _variation(*, cxpb: float, indpb: float) -> tuple[Parameter, ...]:
    """The variation and constraint-handling hyperparameters both agents share, with each agent's
    own defaults."""
    return (
        Real("cxpb", 0.0, 1.0, default=cxpb),
        Real("mutpb", 0.0, 1.0, default=1.0),
        Real("indpb", 0.0, 1.0, default=indpb),
        Real("eta", 1.0, 100.0, default=15.0),
        Categorical("constraint_handling", list(CONSTRAINT_HANDLING), default="deb"),
    )


# ga: one gene mutated per child (indpb=0: the one forced mutation) and crossover on 70 % of
# pairs. With the earlier 0.3 per gene and 0.9, a child of a 6-gene categorical space (the NAS
# table) differed from its parents in about half its genes — a near-random sample, so ga tied
# random at 40 evaluations; one-gene steps, as REA's mutation, let selection accumulate gains.
# Measured over 30 seeds (benchmarks/agents.py --only nas-ga): NAS table mean best 97.88 vs
# random 97.15 at 40; Hartmann-6 at 200 keeps its lead (median 3.27 vs 3.28 before).
# nsga2 keeps the defaults tuned on DTLZ2 (300 evaluations).
_GA_VARIATION = _variation(cxpb=0.7, indpb=0.0)
_NSGA2_VARIATION = _variation(cxpb=0.9, indpb=0.3)


SPECS = [
    AgentSpec(
        name="ga",
        entry_point="archgym_agents.evolutionary:GeneticAlgorithm",
        description="Genetic algorithm (DEAP): type-aware crossover/mutation, Deb's constraint-domination "
        "(or feasibility-first) selection, (mu+lambda) or elitist generational survival.",
        hyperparameters=(
            Integer("population", 4, 1000, default=8),
            *_GA_VARIATION,
            Categorical("selection", ["tournament", "random"], default="tournament"),
            Integer("tournament_size", 2, 100, default=3, condition=Condition("selection", ["tournament"])),
            Categorical("survival", ["plus", "generational"], default="plus"),
        ),
    ),
    AgentSpec(
        name="nsga2",
        entry_point="archgym_agents.evolutionary:NSGA2",
        description="NSGA-II (DEAP) for multi-objective envs: non-dominated sorting and crowding, "
        "Deb's constraint-domination, type-aware variation.",
        hyperparameters=(
            Integer("population", 4, 1000, default=20),  # a multiple of 4 (selTournamentDCD)
            *_NSGA2_VARIATION,
        ),
    ),
]
SPEC_BY_NAME = {spec.name: spec for spec in SPECS}

_REPAIR_TRIES = 20


class _Individual(list):  # type: ignore[type-arg]
    """A genome (one gene per design-space parameter) with a DEAP ``fitness`` attribute."""

    fitness: Any


def _constrained_fitness(n_objectives: int) -> type:
    """A DEAP fitness (every objective maximised) that ranks feasible before infeasible, and
    infeasible ones by their total violation.

    Comparison is ``(True, weighted values)`` for a feasible fitness and ``(False, (-violation,))``
    for an infeasible one, lexicographically, so selection operators built on ``<`` (selBest,
    selTournament) put every feasible individual above every infeasible one and a smaller
    violation above a larger one; ``dominates`` is Deb's constraint domination (feasible dominates
    infeasible; of two infeasible, the smaller violation dominates; of two feasible, Pareto), so
    selNSGA2/selTournamentDCD do the same. ``violation`` is ``inf`` for an evaluation that failed
    outright (and for every infeasible one under feasible-first): those tie, below every other.
    An infeasible fitness carries placeholder values that no comparison ever reads.
    """
    from deap import base

    class ConstrainedFitness(base.Fitness):
        weights = (1.0,) * n_objectives
        feasible = True
        violation = 0.0

        def _key(self) -> tuple[bool, tuple[float, ...]]:
            return (True, self.wvalues) if self.feasible else (False, (-self.violation,))

        def dominates(self, other: Any, obj: slice = slice(None)) -> bool:
            if self.feasible != other.feasible:
                return self.feasible
            if not self.feasible:
                return self.violation < other.violation  # inf < inf: failures are mutually non-dominated
            return bool(super().dominates(other, obj))

        def __hash__(self) -> int:
            return hash(self._key())

        def __eq__(self, other: object) -> bool:
            return isinstance(other, ConstrainedFitness) and self._key() == other._key()

        def __ne__(self, other: object) -> bool:
            return not self.__eq__(other)

        def __lt__(self, other: Any) -> bool:
            return self._key() < other._key()

        def __le__(self, other: Any) -> bool:
            return self._key() <= other._key()

        def __gt__(self, other: Any) -> bool:
            return self._key() > other._key()

        def __ge__(self, other: Any) -> bool:
            return self._key() >= other._key()

        def __deepcopy__(self, memo: dict[int, Any]) -> ConstrainedFitness:
            clone = ConstrainedFitness()
            clone.wvalues, clone.feasible, clone.violation = self.wvalues, self.feasible, self.violation
            return clone

    return ConstrainedFitness


class _Genome:
    """Type-aware genes over every parameter of a design space, and DEAP variation on them.

    Gene values: the unit encoding for ``Real``; the integer itself for ``Integer``; the index
    of the value for ``Ordinal`` and ``Categorical``. DEAP's operators draw from Python's
    ``random`` module; callers run them inside :meth:`_EvolutionaryAgent._deap_random`.
    """

    def __init__(self, space: DesignSpace, *, eta: float, indpb: float) -> None:
        self.space, self.eta, self.indpb = space, eta, indpb
        self.params = list(space.parameters)
        self.real = [i for i, p in enumerate(self.params) if isinstance(p, Real)]
        self.discrete = [i for i, p in enumerate(self.params) if not isinstance(p, Real)]
        for p in self.params:
            if not isinstance(p, Real | Integer | Ordinal | Categorical):
                raise TypeError(f"parameter {p.name!r}: {type(p).__name__} has no genetic encoding")

    # --- encoding ----------------------------------------------------------------------------
    def random_gene(self, i: int, rng: np.random.Generator) -> float | int:
        p = self.params[i]
        if isinstance(p, Real):
            return float(rng.random())
        if isinstance(p, Integer):
            return int(p.from_unit(float(rng.random())))
        return int(rng.integers(p.n_values))  # type: ignore[attr-defined]

    def encode(self, design: Design, rng: np.random.Generator) -> _Individual:
        """Genes of ``design``; parameters it lacks (inactive) get random genes."""
        genes: list[float | int] = []
        for i, p in enumerate(self.params):
            if p.name not in design:
                genes.append(self.random_gene(i, rng))
            elif isinstance(p, Real):
                genes.append(float(p.to_unit(design[p.name])))
            elif isinstance(p, Integer):
                genes.append(int(p.validate(design[p.name])))
            else:
                genes.append(int(p.index(design[p.name])))  # type: ignore[attr-defined]
        return _Individual(genes)

    def decode(self, genes: list[float | int]) -> Design:
        """The design: active parameters only (conditions evaluated), not checked against the
        forbidden combinations."""
        full: Design = {}
        for p, g in zip(self.params, genes, strict=True):
            if isinstance(p, Real):
                full[p.name] = p.from_unit(float(g))
            elif isinstance(p, Integer):
                full[p.name] = int(g)
            else:
                full[p.name] = p.value_at(int(g))  # type: ignore[attr-defined]
        return self.space.validate(full, check=False)

    # --- variation (in place, DEAP style) -------------------------------------------------------
    def mate(self, ind1: _Individual, ind2: _Individual) -> tuple[_Individual, _Individual]:
        """SBX on the real genes, uniform crossover on the others."""
        from deap import tools

        for indices, real in ((self.real, True), (self.discrete, False)):
            if not indices:
                continue
            a, b = [ind1[i] for i in indices], [ind2[i] for i in indices]
            if real:
                tools.cxSimulatedBinaryBounded(a, b, eta=self.eta, low=0.0, up=1.0)
            else:
                tools.cxUniform(a, b, indpb=0.5)
            for i, va, vb in zip(indices, a, b, strict=True):
                ind1[i], ind2[i] = va, vb
        return ind1, ind2

    def mutate(self, ind: _Individual) -> tuple[_Individual]:
        """Each gene mutates with probability ``indpb``; at least one gene always does."""
        chosen = [i for i in range(len(ind)) if random.random() < self.indpb]
        if not chosen:
            chosen = [random.randrange(len(ind))]
        for i in chosen:
            ind[i] = self._mutate_gene(i, ind[i])
        return (ind,)

    def _mutate_gene(self, i: int, gene: float | int) -> float | int:
        from deap import tools

        p = self.params[i]
        if isinstance(p, Real):
            return float(
                tools.mutPolynomialBounded([float(gene)], eta=self.eta, low=0.0, up=1.0, indpb=1.0)[0][0]
            )
        if isinstance(p, Integer):
            if p.low == p.high:
                return gene
            scale = math.log if p.log else float
            low, high, x = scale(p.low), scale(p.high), scale(int(gene))
            y = tools.mutPolynomialBounded([x], eta=self.eta, low=low, up=high, indpb=1.0)[0][0]
            value = round(math.exp(y) if p.log else y)
            if value == gene:  # the step rounded away: move one integer in its direction
                value = int(gene) + (1 if y > x or (y == x and random.random() < 0.5) else -1)
                if not p.low <= value <= p.high:
                    value = 2 * int(gene) - value
            return min(max(int(value), p.low), p.high)
        n = p.n_values  # type: ignore[attr-defined]
        if n == 1:
            return gene
        if isinstance(p, Ordinal):
            k = 1
            while k < n - 1 and random.random() < 0.5:
                k += 1
            step = k if random.random() < 0.5 else -k
            if not 0 <= gene + step < n:
                step = -step
            return min(max(int(gene) + step, 0), n - 1)
        other = random.randrange(n - 1)  # Categorical: any other choice, uniformly
        return other + 1 if other >= gene else other


class _EvolutionaryAgent(Agent):
    """Shared machinery: genome, DEAP random state, ask/tell bookkeeping, repair.

    Ask/tell mapping: the first ``ask`` returns the initial population (``space.sample``);
    each later ``ask`` returns the offspring bred (:meth:`_mating_pool` + variation) from the
    population, and ``tell`` forms the next population (:meth:`_survive`).

    A subclass names its spec (``spec_name``); the hyperparameters are resolved by that spec and
    handed to :meth:`_configure` for the subclass's own ones and checks.

    Asynchronous scheduling (``concurrent_asks``): each result is told alone and survival is
    steady-state (a told child competes with the population at once); until the initial
    population is complete — told or still running — asks sample it at random.
    """

    spec_name: ClassVar[str]
    concurrent_asks = True

    def __init__(self, problem: Problem, *, seed: int, **hyperparameters: Any) -> None:
        super().__init__(problem, seed=seed)
        hp = SPEC_BY_NAME[self.spec_name].resolve(hyperparameters)
        self._configure(hp)
        from deap import base

        self.population_size = self.batch_size = hp["population"]
        self.cxpb, self.mutpb = hp["cxpb"], hp["mutpb"]
        self.constraint_handling: str = hp["constraint_handling"]
        self.genome = _Genome(self.space, eta=hp["eta"], indpb=hp["indpb"])
        self._fitness = _constrained_fitness(problem.n_objectives)
        self.toolbox = base.Toolbox()
        self.toolbox.register("clone", copy.deepcopy)
        self.toolbox.register("mate", self.genome.mate)
        self.toolbox.register("mutate", self.genome.mutate)
        self._random_state = random.Random(seed).getstate()  # DEAP's stream, apart from numpy's
        self.population: list[_Individual] = []
        self._offspring: list[_Individual] | None = None
        self._seen: set[DesignKey] = set()
        self.generation = 0

    @contextmanager
    def _deap_random(self) -> Iterator[None]:
        """Run DEAP operators on this agent's own ``random`` state, leaving the global one as it was."""
        saved = random.getstate()
        random.setstate(self._random_state)
        try:
            yield
        finally:
            self._random_state = random.getstate()
            random.setstate(saved)

    # --- ask ---------------------------------------------------------------------------------------
    def _ask(self, n: int) -> list[Design]:
        filling = self._pending and len(self.population) + len(self._pending) < self.population_size
        if not self.population or filling:  # the initial population (asynchronous: not yet complete)
            designs = []
            for _ in range(n):
                designs.append(self._sample({design_key(d) for d in designs})[1])
            self._offspring = [self.genome.encode(d, self.rng) for d in designs]
            return designs
        with self._deap_random():
            parents = self._mating_pool(n + n % 2)
            children = self._vary([self.toolbox.clone(ind) for ind in parents])[:n]
            designs = []
            batch: set[DesignKey] = set()
            for i, child in enumerate(children):
                children[i], design = self._legal(child, batch)
                batch.add(design_key(design))
                designs.append(design)
        self._offspring = children
        return designs

    def _vary(self, offspring: list[_Individual]) -> list[_Individual]:
        from deap import algorithms

        return list(algorithms.varAnd(offspring, self.toolbox, self.cxpb, self.mutpb))

    def _legal(self, child: _Individual, batch: set[DesignKey]) -> tuple[_Individual, Design]:
        """``child`` if it is legal and new; else a re-mutated child; else a fresh legal sample."""
        fallback: tuple[_Individual, Design] | None = None
        for _ in range(_REPAIR_TRIES):
            design = self.genome.decode(child)
            if not self.space.violated(design):
                key = design_key(design)
                if key not in self._seen and key not in batch:
                    return child, design
                fallback = fallback or (child, design)
            child = self.toolbox.clone(child)
            self.genome.mutate(child)
        novel, design = self._sample(batch)
        if novel or fallback is None:
            return self.genome.encode(design, self.rng), design
        return fallback  # a legal repeat: this small space is nearly exhausted

    def _sample(self, batch: set[DesignKey]) -> tuple[bool, Design]:
        """A legal random design, new if a few tries find one; and whether it is new."""
        for _ in range(_REPAIR_TRIES):
            design = self.space.sample(self.rng)
            key = design_key(design)
            if key not in self._seen and key not in batch:
                return True, design
        return False, design

    # --- tell --------------------------------------------------------------------------------------
    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None:
        genomes, self._offspring = self._offspring, None
        asked = (
            genomes is not None
            and len(genomes) == len(designs)
            and all(
                design_key(self.genome.decode(g)) == design_key(d)
                for g, d in zip(genomes, designs, strict=True)
            )
        )
        if not asked:  # evaluations this agent did not ask for (tell_history)
            genomes = [self.genome.encode(d, self.rng) for d in designs]
        told = []
        for genes, design, result in zip(genomes, designs, results, strict=True):
            ind = _Individual(genes)
            ind.fitness = self._fitness_of(result)
            told.append(ind)
            self._seen.add(design_key(design))
        self.population = self._survive(self.population, told)
        self.generation += 1

    def _fitness_of(self, result: EvalResult) -> Any:
        reward = np.atleast_1d(np.asarray(result.reward, dtype=np.float64))
        fitness = self._fitness()
        n = len(fitness.weights)
        fitness.feasible = bool(result.feasible) and reward.size == n and bool(np.all(np.isfinite(reward)))
        # Infeasible: placeholder values, never compared (the penalty is not a number to fit).
        fitness.values = tuple(float(r) for r in reward) if fitness.feasible else (0.0,) * n
        if not fitness.feasible:
            fitness.violation = self._total_violation(result)
        return fitness

    def _total_violation(self, result: EvalResult) -> float:
        """Deb's total violation of an infeasible evaluation: the sum of its (relative) outcome
        violations; ``inf`` for one that failed outright, and for all under feasible-first."""
        violations = (
            None if self.constraint_handling == "feasible_first" else self.problem.relative_violations(result)
        )
        if violations is None or not violations.size:
            return math.inf
        return float(np.sum(np.maximum(violations, 0.0)))

    # --- subclass hooks -----------------------------------------------------------------------
    def _configure(self, hp: Mapping[str, Any]) -> None:
        """Take the subclass's own hyperparameters from ``hp`` (resolved by its spec) and check
        what the spec can't state; called before the genome and the DEAP toolbox are built."""

    def _mating_pool(self, k: int) -> list[_Individual]:
        raise NotImplementedError

    def _survive(self, population: list[_Individual], told: list[_Individual]) -> list[_Individual]:
        raise NotImplementedError

    def finish(self, out: Path) -> dict[str, Any]:
        feasible = [ind for ind in self.population if ind.fitness.feasible]
        return {
            "generations": self.generation,
            "population": len(self.population),
            "population_feasible": len(feasible),
        }


class GeneticAlgorithm(_EvolutionaryAgent):
    """Single-objective genetic algorithm.

    One generation = one ``ask`` of ``population`` offspring. Parents are picked from the
    population by ``selection`` (``tournament`` of ``tournament_size``, or uniformly at
    ``random``), paired, crossed with probability ``cxpb`` and each child mutated with probability
    ``mutpb`` (DEAP's ``varAnd``); each gene mutates with probability ``indpb`` (0, the default:
    exactly one gene per mutated child); ``eta`` is the
    distribution index of SBX and polynomial mutation (larger: children nearer their parents).
    ``survival``: ``plus`` — the next population is the best ``population`` of parents and
    offspring together ((mu+lambda), elitist); ``generational`` — the offspring replace the
    parents except the best parent (elitism of one). Feasible always ranks above infeasible;
    ``constraint_handling`` ranks the infeasible ones (``deb``: by total violation, failures last;
    ``feasible_first``: all alike). ``tournament_size`` is None unless ``selection`` is
    ``tournament``.
    """

    single_objective = True
    multi_objective = False
    spec_name = "ga"

    def _configure(self, hp: Mapping[str, Any]) -> None:
        self.selection, self.survival = hp["selection"], hp["survival"]
        self.tournament_size: int | None = hp.get("tournament_size")  # active only for tournaments

    def _mating_pool(self, k: int) -> list[_Individual]:
        from deap import tools

        if self.selection == "tournament":
            return list(tools.selTournament(self.population, k, tournsize=self.tournament_size))
        return list(tools.selRandom(self.population, k))

    def _survive(self, population: list[_Individual], told: list[_Individual]) -> list[_Individual]:
        from deap import tools

        mu = self.population_size
        if self.survival == "plus" or not population:
            return list(tools.selBest(population + told, mu))
        survivors = list(tools.selBest(population, 1)) + list(tools.selBest(told, mu - 1))
        if len(survivors) < mu:  # a partial generation (end of budget, resume): keep more parents
            rest = [ind for ind in population if all(ind is not s for s in survivors)]
            survivors += tools.selBest(rest, mu - len(survivors))
        return survivors


class NSGA2(_EvolutionaryAgent):
    """NSGA-II for multi-objective envs (DEAP's ``selNSGA2`` and ``selTournamentDCD``).

    One generation = one ``ask`` of ``population`` offspring: mates are picked by dominance and
    crowding-distance tournaments (``selTournamentDCD``), crossed with probability ``cxpb`` and
    each child mutated with probability ``mutpb`` (type-aware operators shared with ``ga``).
    The next population is ``selNSGA2`` of parents and offspring together (elitist). A feasible
    design dominates every infeasible one, and under ``constraint_handling="deb"`` (the default)
    an infeasible one dominates another of larger total violation, so infeasible designs are sorted
    into fronts by violation (Deb's constraint-domination); ``population`` must be a multiple of 4.
    """

    single_objective = False
    multi_objective = True
    spec_name = "nsga2"

    def _configure(self, hp: Mapping[str, Any]) -> None:
        population = hp["population"]
        if population % 4:  # the spec states the range; a multiple of 4 is beyond what it can say
            raise ValueError(
                f"population: {population} is not legal for nsga2; legal values: a multiple of 4 "
                "(DEAP's selTournamentDCD pairs individuals in fours)"
            )

    def _mating_pool(self, k: int) -> list[_Individual]:
        from deap import tools

        k4 = -(-k // 4) * 4
        pool = list(self.population)
        while len(pool) < k4 or len(pool) % 4:  # only a partial population (budget, resume)
            pool.append(pool[random.randrange(len(self.population))])
        return list(tools.selTournamentDCD(pool, k4))[:k]

    def _survive(self, population: list[_Individual], told: list[_Individual]) -> list[_Individual]:
        from deap import tools

        return list(tools.selNSGA2(population + told, self.population_size))
