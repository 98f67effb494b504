"""Nevergrad's optimizers as archgym agents: a curated list (``nevergrad.ngopt``,
``nevergrad.twopointsde``, ``nevergrad.pso``, ``nevergrad.cma``, ``nevergrad.oneplusone``,
``nevergrad.discretelengleroneplusone``, ``nevergrad.randomsearch``, …) and a resolver:
``--agent nevergrad.<RegistryName>`` reaches any of the ~540 optimizers in
``nevergrad.optimizers.registry`` by name (any case), built when asked for and not listed.

Each agent drives one Nevergrad optimizer through its own ``ask()``/``tell()``:

* **Space**: :func:`archgym_agents.translate.nevergrad_parametrization`, an ``ng.p.Dict`` seeded
  with the run's seed through its ``random_state`` (Nevergrad's reproducibility recipe). Nevergrad
  has no conditional parameters: every parameter is sampled and the inactive ones are dropped.
* **Budget**: Nevergrad's optimizers adapt to the budget they are told (NGOpt picks its
  algorithm from it, budget-aware schedules anneal over it). The agent can't know the run's
  budget, so it is a hyperparameter, ``budget`` (default 100; NGOpt needs one); set it to the
  run's ``--budget`` to search as ``optimizer.minimize`` with that budget does. Most optimizers
  keep going past it; samplers of a fixed size (``nevergrad.LHSSearch``,
  ``nevergrad.ScrHammersleySearch``, reached through the resolver) stop with Nevergrad's "Over
  the budget" error, so give them at least the run's budget.
  ``batch_size`` is Nevergrad's ``num_workers`` (candidates asked before any is told).
* **Objectives**: losses are ``-reward``. Single-objective: Nevergrad's multi-objective mode turns
  a loss vector into one hypervolume-based loss, which ``--scalarize`` (or pymoo, Optuna) does in
  the open; multi-objective envs are searched with ``--scalarize``.
* **Failures**: Nevergrad has no notion of a failed evaluation. It takes a non-finite loss and
  clips it to its largest loss, 5e20 (``LossTooLargeWarning``); the agent tells exactly that
  (``inf``, the warning silenced) together with ``constraint_violation=1``, Nevergrad's own
  constraint mechanism, so the failed candidate never becomes the recommendation or enters the
  archive of bests. No penalty value is invented.
* **Outcome constraints** (:class:`archgym.OutcomeConstraint`): a design that only violated them
  is told its loss from its metrics (its recorded reward is the env's penalty; ``inf`` where the
  objective can't be known) with its violations as ``constraint_violation``
  (:meth:`archgym.search.Problem.relative_violations`: relative to each bound, > 0 violated),
  so Nevergrad adds its own penalty and keeps the candidate out of its archive of bests (it never
  becomes the recommendation); a feasible one is told its satisfied violations too (no penalty).
  Nevergrad's penalty (``tell``'s ``penalty_style``) grows with the square roots of the
  violations and with the positive part of the loss, plus a large constant from half its
  ``budget`` on: where losses are <= 0 (rewards >= 0), a violating design is not penalised in the
  first half, only kept out of the bests. A failed evaluation (a crash, a metric not measured)
  stays ``inf`` with violation 1, as above.
* **Forbidden combinations** are registered as a *cheap constraint*
  (``register_cheap_constraint``), Nevergrad's mechanism for them: ``ask()`` resamples until the
  candidate is legal. If Nevergrad gives up (it returns a forbidden candidate after its own
  retries), that candidate is told as failed and the agent asks again, at most
  ``MAX_FORBIDDEN_TRIES`` times; then the slot gets a random legal design, told to Nevergrad as a
  candidate it did not ask for. A forbidden design costs no evaluation.
* **Resume and warm start** (``tell_history``): each recorded evaluation is told as a candidate
  Nevergrad did not ask for (``parametrization.spawn_child``), which every optimizer accepts.
* **Reproducibility**: with the same seed a run repeats exactly; with batch size 1 and
  ``budget`` = the run's budget it reproduces ``optimizer.minimize`` on the same parametrization
  (tested for NGOpt and TwoPointsDE).
* **Quiet**: Nevergrad's warnings (inefficient settings, clipped losses, constraint retries) are
  silenced inside the agent's calls only.

Nevergrad is imported only when an agent is built (or a ``nevergrad.<Name>`` resolved), so
``archgym agents`` lists these without it.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from archgym.search import Agent, AgentResolver, AgentSpec, EvalResult, Problem
from archgym.spaces import Categorical, Design, DesignSpace, Integer, Parameter
from archgym_agents.translate import (
    design_from_full,
    forbidden_rules,
    full_values,
    nevergrad_design,
    nevergrad_parametrization,
)

if TYPE_CHECKING:
    import nevergrad as ng

__all__ = [
    "CURATED",
    "MAX_FORBIDDEN_TRIES",
    "RESOLVERS",
    "SPECS",
    "NevergradAgent",
    "RegistryOptimizer",
    "resolve",
]

MAX_FORBIDDEN_TRIES = 20
"""Asks per design that may return a forbidden candidate before a random legal design is used."""

PREFIX = "nevergrad"

CURATED: dict[str, str] = {
    "NGOpt": "Nevergrad's meta-optimizer: picks an algorithm from the space, budget and batch size.",
    "TwoPointsDE": "differential evolution with two-points crossover (Nevergrad's robust DE).",
    "DE": "differential evolution (Nevergrad's default DE configuration).",
    "PSO": "particle swarm optimization.",
    "CMA": "CMA-ES (the pycma implementation) on the continuous encoding.",
    "DiagonalCMA": "CMA-ES with a diagonal covariance (cheaper for many parameters).",
    "OnePlusOne": "(1+1) evolution strategy with one-fifth-rule step size.",
    "DiscreteOnePlusOne": "(1+1) strategy with discrete mutations (categorical, integer spaces).",
    "DiscreteLenglerOnePlusOne": "(1+1) discrete strategy with Lengler's mutation-rate schedule.",
    "PortfolioDiscreteOnePlusOne": "(1+1) discrete strategy with a portfolio of mutation rates.",
    "RandomSearch": "uniform random search (Nevergrad's baseline).",
    "NGOptRW": "NGOpt's variant tuned on real-world problems.",
    "CauchyOnePlusOne": "(1+1) strategy with heavy-tailed (Cauchy) mutations.",
}
"""The listed Nevergrad optimizers, registry name → what it is; any other registry name is reached
through the ``nevergrad.<Name>`` resolver."""


def _hyperparameters(optimizer: str) -> tuple[Parameter, ...]:
    return (
        Integer("batch_size", 1, 1024, default=1),  # Nevergrad's num_workers
        Integer("budget", 1, 10_000_000, default=100),  # what Nevergrad plans for
        Categorical("optimizer", [optimizer], default=optimizer),  # provenance in the records
    )


def _spec(optimizer: str, description: str, entry_point: str) -> AgentSpec:
    return AgentSpec(
        name=f"{PREFIX}.{optimizer.strip().lower()}",
        entry_point=entry_point,
        description=f"Nevergrad {optimizer}: {description}",
        hyperparameters=_hyperparameters(optimizer),
    )


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence Nevergrad's warnings for the agent's own calls."""
    import nevergrad as ng

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ng.errors.NevergradWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"nevergrad\.")
        warnings.filterwarnings("ignore", category=UserWarning, module=r"(nevergrad|scipy)\.")  # COBYLA's
        warnings.filterwarnings("ignore", module=r"cma\.")  # pycma's InjectionWarning (orphaned solutions)
        yield


class NevergradAgent(Agent):
    """One Nevergrad optimizer driven by ask/tell (see the module docstring). Subclasses name the
    registry entry in ``OPTIMIZER``; :class:`RegistryOptimizer` takes it as a hyperparameter."""

    SPEC: ClassVar[AgentSpec]
    OPTIMIZER: ClassVar[str]
    single_objective = True
    multi_objective = False

    def __init__(self, problem: Problem, *, seed: int, **hyperparameters: Any) -> None:
        super().__init__(problem, seed=seed)
        options = self._spec(hyperparameters).resolve(hyperparameters)
        self.batch_size = options["batch_size"]
        self.budget = options["budget"]
        self.optimizer_name = options["optimizer"]
        with _quiet():
            self.optimizer = self._make_optimizer()
        self._asked: list[ng.p.Parameter] = []

    def _spec(self, hyperparameters: dict[str, Any]) -> AgentSpec:
        return self.SPEC

    def _make_optimizer(self) -> ng.optimizers.base.Optimizer:
        import nevergrad as ng

        space = self.space
        parametrization = nevergrad_parametrization(space, self.seed)
        if space.constraints:
            parametrization.register_cheap_constraint(functools.partial(_legal, space))
        cls = ng.optimizers.registry[self.optimizer_name]
        return cls(parametrization=parametrization, budget=self.budget, num_workers=self.batch_size)

    # --- ask --------------------------------------------------------------------------------
    def _ask(self, n: int) -> list[Design]:
        designs = []
        with _quiet():
            for _ in range(n):
                candidate, design = self._ask_one()
                self._asked.append(candidate)
                designs.append(design)
        return designs

    def _ask_one(self) -> tuple[ng.p.Parameter, Design]:
        for _ in range(MAX_FORBIDDEN_TRIES):
            candidate = self.optimizer.ask()
            design = nevergrad_design(self.space, candidate)
            if not forbidden_rules(self.space, design):
                return candidate, design
            self._tell_failed(candidate)
        legal = self.space.sample(self.rng)  # constraints respected
        return self._child(legal), legal

    def _child(self, design: Design) -> ng.p.Parameter:
        """A candidate Nevergrad did not ask for, holding ``design``."""
        return self.optimizer.parametrization.spawn_child(new_value=full_values(self.space, design))

    # --- tell -------------------------------------------------------------------------------
    def loss_of(self, result: EvalResult) -> float | None:
        """The loss to tell (``-reward``), or None for a failed evaluation: infeasible, or a
        reward that is not finite."""
        if not result.feasible:
            return None
        return _loss(result.reward)

    def _tell_failed(self, candidate: ng.p.Parameter) -> None:
        self.optimizer.tell(candidate, math.inf, constraint_violation=[1.0])

    def _tell_one(self, candidate: ng.p.Parameter, result: EvalResult) -> None:
        """Tell one evaluation: its loss, with its outcome-constraint violations where it has them
        (a design that only violated them: the loss from its metrics); failed: as failed."""
        loss = self.loss_of(result)
        violations = self.problem.relative_violations(result) if self.problem.outcome_constraints else None
        if violations is None:
            if loss is None:
                self._tell_failed(candidate)
            else:
                self.optimizer.tell(candidate, loss)
            return
        if loss is None and result.feasible:  # a reward that is not finite
            self._tell_failed(candidate)
            return
        if loss is None:
            objective = self.problem.objective_value(result)
            loss = _loss(objective) if objective is not None else None
        told = math.inf if loss is None else loss
        self.optimizer.tell(candidate, told, constraint_violation=violations.tolist())

    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None:
        candidates, self._asked = self._asked, []
        if not candidates:  # evaluations this agent did not ask for (tell_history)
            candidates = [self._child(design) for design in designs]
        with _quiet():
            for candidate, result in zip(candidates, results, strict=True):
                self._tell_one(candidate, result)

    def tell_history(self, designs: Sequence[Design], results: Sequence[EvalResult]) -> None:
        """Learn from evaluations this agent did not ask for: each is told as a candidate Nevergrad
        did not ask for (candidates asked but never evaluated are dropped)."""
        self._asked = []
        super().tell_history(designs, results)


def _loss(reward: Any) -> float | None:
    """``-reward`` of a one-objective reward, or None where it is not one finite number."""
    values = np.asarray(reward, dtype=np.float64).reshape(-1)
    if values.size != 1 or not math.isfinite(float(values[0])):
        return None
    return -float(values[0])


def _legal(space: DesignSpace, value: dict[str, Any]) -> bool:
    """The cheap constraint: a candidate's value breaks no forbidden-combination rule (a
    module-level function, so the parametrization stays picklable)."""
    return not forbidden_rules(space, design_from_full(space, value))


class RegistryOptimizer(NevergradAgent):
    """Any optimizer of Nevergrad's registry, named by the ``optimizer`` hyperparameter (what the
    ``nevergrad.<Name>`` resolver builds)."""

    def _spec(self, hyperparameters: dict[str, Any]) -> AgentSpec:
        name = hyperparameters.get("optimizer")
        if not isinstance(name, str):
            raise ValueError(
                "agent 'nevergrad.<name>': parameter 'optimizer' is required; legal values: the names "
                "in nevergrad.optimizers.registry"
            )
        return resolve(f"{PREFIX}.{name}")


def resolve(name: str) -> AgentSpec:
    """The spec of ``nevergrad.<RegistryName>`` (any case): a listed one as listed, any other
    optimizer of Nevergrad's registry built by :class:`RegistryOptimizer`. ``ValueError`` naming
    close registry names if there is none."""
    import difflib

    import nevergrad as ng

    prefix, _, wanted = name.partition(".")
    if prefix.lower() != PREFIX or not wanted:
        raise ValueError(
            f"agent {name!r}: legal: '{PREFIX}.<name>' with a name in nevergrad.optimizers.registry"
        )
    for spec in SPECS:
        if spec.name == name.lower():
            return spec
    registry = sorted(ng.optimizers.registry)
    matches = [n for n in registry if n.strip().lower() == wanted.strip().lower()]
    if not matches:
        close = difflib.get_close_matches(wanted, registry, n=8, cutoff=0.6)
        raise ValueError(
            f"unknown agent {name!r}: no optimizer {wanted!r} in nevergrad.optimizers.registry "
            f"({len(registry)} names; close: {close})"
        )
    exact = [n for n in matches if n == wanted]
    optimizer = (exact or matches)[0]  # case-insensitive; 'PCarola6' and 'pCarola6' both exist
    spec = _spec(
        optimizer, "from Nevergrad's registry.", "archgym_agents.nevergrad_optimizers:RegistryOptimizer"
    )
    return AgentSpec(
        name=name.lower(),
        entry_point=spec.entry_point,
        description=spec.description,
        hyperparameters=(
            *spec.hyperparameters[:2],
            Categorical("optimizer", matches, default=optimizer),
        ),
    )


def _listed(optimizer: str, description: str) -> tuple[AgentSpec, type[NevergradAgent]]:
    cls_name = f"NG{optimizer}"
    spec = _spec(optimizer, description, f"archgym_agents.nevergrad_optimizers:{cls_name}")
    cls = type(
        cls_name, (NevergradAgent,), {"SPEC": spec, "OPTIMIZER": optimizer, "__doc__": spec.description}
    )
    cls.__module__ = __name__
    return spec, cls


SPECS: list[AgentSpec] = []
for _optimizer, _description in CURATED.items():
    _listed_spec, _listed_cls = _listed(_optimizer, _description)
    SPECS.append(_listed_spec)
    globals()[_listed_cls.__name__] = _listed_cls
del _optimizer, _description, _listed_spec, _listed_cls

RESOLVERS = [
    AgentResolver(
        prefix=PREFIX,
        entry_point="archgym_agents.nevergrad_optimizers:resolve",
        description="any optimizer in Nevergrad's registry, by its name (e.g. nevergrad.NGOptRW, "
        "nevergrad.CMAbounded); options: batch_size, budget",
    )
]
