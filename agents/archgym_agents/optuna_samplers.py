"""Optuna's samplers as archgym agents: ``optuna.tpe``, ``optuna.gp``, ``optuna.cmaes``,
``optuna.nsga2``, ``optuna.nsga3``, ``optuna.qmc`` and ``optuna.random``.

Each agent drives one in-memory Optuna study through Optuna's own ask/tell interface, so it
searches exactly as the sampler does under ``study.optimize``:

* **Space**: :mod:`archgym_agents.translate` suggests the parameters define-by-run, in the
  design space's declared order; a conditional parameter whose condition does not hold is not
  suggested at all. With batch size 1 and the run's seed passed to the sampler unchanged, a run
  reproduces ``optuna.create_study(sampler=S(seed=seed), direction="maximize").optimize(f)``
  exactly, ``f`` suggesting the same parameters in the same order.
* **Objectives**: archgym rewards are higher-is-better, so every objective is maximized; a
  multi-objective env gets the reward vector with one ``"maximize"`` direction per objective.
  Single-objective samplers (``optuna.cmaes``) declare it, and ``--scalarize`` serves them on
  multi-objective envs.
* **Failures**: an infeasible evaluation (``feasible=False``, or a non-finite reward) is told as
  a failed trial (``TrialState.FAIL``, the error in the trial's ``archgym.error`` user attribute),
  never as its penalty value: the sampler treats it as missing information, not as a number
  to fit.
* **Forbidden combinations** (``Constraint`` rules, which Optuna can't express): a proposed design
  that breaks one is told as a failed trial naming the rule (user attribute
  ``archgym.forbidden``) and Optuna is asked again, at most ``MAX_FORBIDDEN_TRIES`` times per
  design, or until it proposes the same forbidden design twice (GP: its model ignores failed
  trials, so it proposes the same point again); then the slot gets a uniformly random legal
  design, enqueued so that Optuna's history holds the design that is evaluated. A forbidden
  design costs no evaluation, as with the built-in agents (which sample legal designs only).
* **Outcome constraints**: each evaluation's violations (``EvalResult.constraints``) are stored
  with ``Trial.set_constraint`` before the trial is told (:meth:`OptunaAgent.constraint_values`),
  where Optuna 5's constrained samplers read them; a design that only violated constraints is
  told its objective values, computed from its metrics, not a failure.
* **Resume and warm start** (:meth:`~archgym.search.Agent.tell_history`): trials asked but never
  evaluated are closed as failed (``archgym.abandoned``), and each recorded evaluation is added to
  the study as a finished trial (``study.add_trial``).
* **Batches** (``batch_size`` > 1): ``n`` trials are asked before any is told (TPE's
  ``constant_liar`` then keeps them apart).
* **Quiet**: Optuna's log lines and routine warnings (experimental arguments, independent
  sampling of parameters a sampler can't model) are silenced inside the agent's calls only.
  CMA-ES and GP model the parameters present in every trial; categorical parameters (CMA-ES) and
  conditional ones are sampled by their independent sampler (a seeded ``RandomSampler``) — the
  agents accept such spaces, as Optuna does.

Optuna is imported only when an agent is built, so ``archgym agents`` lists these without it.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from archgym.search import Agent, AgentSpec, EvalResult, Problem
from archgym.spaces import Categorical, Design, DesignKey, Integer, Parameter, Real, design_key
from archgym_agents.translate import forbidden_rules, optuna_params, optuna_suggest

if TYPE_CHECKING:
    from optuna.samplers import BaseSampler
    from optuna.study import Study
    from optuna.trial import Trial

__all__ = [
    "MAX_FORBIDDEN_TRIES",
    "NSGAII",
    "NSGAIII",
    "SPECS",
    "CmaEs",
    "GaussianProcess",
    "OptunaAgent",
    "QuasiMonteCarlo",
    "Random",
    "TreeParzen",
]

MAX_FORBIDDEN_TRIES = 20
"""Proposals asked of Optuna per design before a forbidden-combination streak is broken by a
random legal design (sooner if Optuna proposes the same forbidden design twice)."""

_BOOL = [False, True]


def _batch() -> Parameter:
    return Integer("batch_size", 1, 1024, default=1)


def _spec(name: str, cls: str, description: str, *params: Parameter) -> AgentSpec:
    return AgentSpec(
        name=name,
        entry_point=f"archgym_agents.optuna_samplers:{cls}",
        description=description,
        hyperparameters=(_batch(), *params),
    )


_EVOLUTION = (
    Integer("population_size", 2, 100_000, default=50),
    Real("mutation_prob", 0.0, 1.0, default=0.0),  # 0: Optuna's default, 1 / number of parameters
    Real("crossover_prob", 0.0, 1.0, default=0.9),
    Real("swapping_prob", 0.0, 1.0, default=0.5),
)

TPE_SPEC = _spec(
    "optuna.tpe",
    "TreeParzen",
    "Optuna TPESampler: tree-structured Parzen estimator; any space, single- and multi-objective.",
    Integer("n_startup_trials", 0, 100_000, default=10),
    Integer("n_ei_candidates", 1, 100_000, default=24),
    # "auto": Optuna 5's default, multivariate TPE for one objective and independent for several
    Categorical("multivariate", ["auto", "true", "false"], default="auto"),
    Categorical("constant_liar", _BOOL, default=True),  # Optuna 5's default
)
GP_SPEC = _spec(
    "optuna.gp",
    "GaussianProcess",
    "Optuna GPSampler: Gaussian-process BO (log-EI / log-EHVI) for small budgets; "
    "single- and multi-objective.",
    Integer("n_startup_trials", 0, 100_000, default=10),
    Categorical("deterministic_objective", _BOOL, default=False),
)
CMAES_SPEC = _spec(
    "optuna.cmaes",
    "CmaEs",
    "Optuna CmaEsSampler: CMA-ES for continuous and integer spaces; single-objective.",
    Integer("n_startup_trials", 0, 100_000, default=1),
    Integer("popsize", 0, 100_000, default=0),  # 0: CMA-ES's default, 4 + 3 ln(d)
    Categorical("use_separable_cma", _BOOL, default=False),
    Categorical("with_margin", _BOOL, default=False),
    Categorical("lr_adapt", _BOOL, default=False),
)
NSGA2_SPEC = _spec(
    "optuna.nsga2",
    "NSGAII",
    "Optuna NSGAIISampler: NSGA-II evolutionary search; multi-objective (single too).",
    *_EVOLUTION,
)
NSGA3_SPEC = _spec(
    "optuna.nsga3",
    "NSGAIII",
    "Optuna NSGAIIISampler: NSGA-III (reference points) for many objectives.",
    *_EVOLUTION,
    Integer("dividing_parameter", 1, 100, default=3),
)
QMC_SPEC = _spec(
    "optuna.qmc",
    "QuasiMonteCarlo",
    "Optuna QMCSampler: Sobol or Halton low-discrepancy points (space-filling baseline).",
    Categorical("qmc_type", ["sobol", "halton"], default="sobol"),
    Categorical("scramble", _BOOL, default=False),
)
RANDOM_SPEC = _spec(
    "optuna.random",
    "Random",
    "Optuna RandomSampler: independent uniform sampling (Optuna's baseline).",
)
SPECS = [TPE_SPEC, GP_SPEC, CMAES_SPEC, NSGA2_SPEC, NSGA3_SPEC, QMC_SPEC, RANDOM_SPEC]


class _AgentCalls(logging.Filter):
    """Drops Optuna's log records below ERROR while one of the agents' own calls runs: the
    per-trial lines (``Trial 3 finished …``) would otherwise flood a run's output. A filter on
    Optuna's handlers, switched by a counter, costs nothing per call — changing Optuna's
    verbosity and back (``optuna.logging.set_verbosity``) clears every logger's cache, twice per
    ask and per tell, and was most of the adapters' overhead."""

    depth = 0

    def filter(self, record: logging.LogRecord) -> bool:
        return self.depth == 0 or record.levelno >= logging.ERROR


_AGENT_CALLS = _AgentCalls()


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence Optuna's log lines (below ERROR) and routine warnings for the agent's own calls;
    the caller's own Optuna calls log as they are configured to."""
    import optuna

    for handler in logging.getLogger("optuna").handlers:  # Optuna's own handler (and any added)
        if _AGENT_CALLS not in handler.filters:
            handler.addFilter(_AGENT_CALLS)
    _AGENT_CALLS.depth += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module=r"optuna\.")
            yield
    finally:
        _AGENT_CALLS.depth -= 1


class OptunaAgent(Agent):
    """One Optuna study, in memory, driven by ask/tell (see the module docstring).

    Subclasses set ``SPEC`` and build their sampler in :meth:`make_sampler` from ``self.options``
    (the resolved hyperparameters other than ``batch_size``).
    """

    SPEC: ClassVar[AgentSpec]
    single_objective = True
    multi_objective = True
    concurrent_asks = True  # each design keeps its trial: told as it finishes (--schedule async)

    def __init__(self, problem: Problem, *, seed: int, **hyperparameters: Any) -> None:
        super().__init__(problem, seed=seed)
        options = self.SPEC.resolve(hyperparameters)
        self.batch_size = options.pop("batch_size")
        self.options = options
        self.n_objectives = problem.n_objectives
        self._trials: list[tuple[Design, Trial]] = []  # asked, not yet told: (design, its trial)
        with _quiet():
            self.study = self._create_study()

    def _create_study(self) -> Study:
        import optuna

        return optuna.create_study(sampler=self.make_sampler(), directions=["maximize"] * self.n_objectives)

    def make_sampler(self) -> BaseSampler:
        """The sampler, seeded with the run's seed unchanged."""
        raise NotImplementedError

    # --- ask --------------------------------------------------------------------------------
    def _ask(self, n: int) -> list[Design]:
        designs = []
        with _quiet():
            for _ in range(n):
                trial, design = self._ask_one()
                self._trials.append((design, trial))
                designs.append(design)
        return designs

    def _ask_one(self) -> tuple[Trial, Design]:
        from optuna.trial import TrialState

        refused: set[DesignKey] = set()
        for _ in range(MAX_FORBIDDEN_TRIES):
            trial = self.study.ask()
            design = optuna_suggest(trial, self.space)
            rules = forbidden_rules(self.space, design)
            if not rules:
                return trial, design
            trial.set_user_attr("archgym.forbidden", "; ".join(rules))
            self.study.tell(trial, state=TrialState.FAIL)
            key = design_key(design)
            if key in refused:  # a sampler deterministic given its finished trials (GP) is stuck
                break
            refused.add(key)
        legal = self.space.sample(self.rng)  # constraints respected
        self.study.enqueue_trial(optuna_params(self.space, legal)[0])
        trial = self.study.ask()
        return trial, optuna_suggest(trial, self.space)

    # --- tell -------------------------------------------------------------------------------
    def values_of(self, result: EvalResult) -> list[float] | None:
        """The objective values to tell (all maximized), or None for a failed trial: an error, or
        a reward that is not finite. A design that only violated outcome constraints is told its
        objective values (from its metrics) with the violations: Optuna's constrained samplers
        learn how far from feasible it was, instead of a failure."""
        reward = self.problem.objective_value(result)
        if reward is None:
            return None
        values = [float(v) for v in np.atleast_1d(np.asarray(reward, dtype=np.float64))]
        if len(values) != self.n_objectives or not all(math.isfinite(v) for v in values):
            return None
        return values

    def constraint_values(self, result: EvalResult) -> dict[str, float]:
        """Outcome constraints of one evaluation, name → signed violation (≤ 0 satisfied), stored
        on the trial with ``Trial.set_constraint`` before it is told, where Optuna 5's samplers
        (TPE, GP, NSGA-II/III) read them. A metric not measured (NaN) counts as violated
        without bound (Optuna refuses NaN)."""
        return {name: math.inf if math.isnan(v) else float(v) for name, v in result.constraints.items()}

    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None:
        with _quiet():
            for design, result in zip(designs, results, strict=True):
                trial = self._trial_of(design)
                if trial is None:  # an evaluation this agent did not ask for (tell_history)
                    self._add_finished(design, result)
                else:
                    self._tell_one(trial, result)

    def _trial_of(self, design: Design) -> Trial | None:
        """The trial asked for ``design`` (the same object first, else an equal design), taken off
        the pending ones; None if it was not asked."""
        for match in (lambda d: d is design, lambda d: d == design):
            for i, (asked, trial) in enumerate(self._trials):
                if match(asked):
                    del self._trials[i]
                    return trial
        return None

    def _tell_one(self, trial: Trial, result: EvalResult) -> None:
        from optuna.trial import TrialState

        for name, value in self.constraint_values(result).items():
            trial.set_constraint(name, value)
        values = self.values_of(result)
        if values is None:
            trial.set_user_attr("archgym.error", result.error or "infeasible")
            self.study.tell(trial, state=TrialState.FAIL)
        else:
            self.study.tell(trial, values)

    def _add_finished(self, design: Design, result: EvalResult) -> None:
        from optuna.trial import TrialState, create_trial

        params, distributions = optuna_params(self.space, design)
        values = self.values_of(result)
        attrs = {} if values is not None else {"archgym.error": result.error or "infeasible"}
        self.study.add_trial(
            create_trial(
                state=TrialState.COMPLETE if values is not None else TrialState.FAIL,
                values=values,
                params=params,
                distributions=distributions,
                user_attrs=attrs,
                constraints=self.constraint_values(result) or None,
            )
        )

    def tell_history(self, designs: Sequence[Design], results: Sequence[EvalResult]) -> None:
        """Learn from evaluations this agent did not ask for (a resumed run that did not replay
        exactly, a warm start): trials asked but never told are closed as failed
        (``archgym.abandoned``), then each evaluation becomes a finished trial of the study."""
        from optuna.trial import TrialState

        with _quiet():
            for _, trial in self._trials:
                trial.set_user_attr("archgym.abandoned", True)
                self.study.tell(trial, state=TrialState.FAIL)
        self._trials = []
        super().tell_history(designs, results)


class TreeParzen(OptunaAgent):
    """``optuna.tpe``: Optuna's ``TPESampler``."""

    SPEC = TPE_SPEC

    def make_sampler(self) -> BaseSampler:
        from optuna.samplers import TPESampler

        options = dict(self.options)
        options["multivariate"] = {"auto": None, "true": True, "false": False}[options["multivariate"]]
        return TPESampler(seed=self.seed, **options)


class GaussianProcess(OptunaAgent):
    """``optuna.gp``: Optuna's ``GPSampler`` (needs torch, installed with the suite)."""

    SPEC = GP_SPEC

    def make_sampler(self) -> BaseSampler:
        from optuna.samplers import GPSampler

        return GPSampler(seed=self.seed, warn_independent_sampling=False, **self.options)


class CmaEs(OptunaAgent):
    """``optuna.cmaes``: Optuna's ``CmaEsSampler`` (needs ``cmaes``); single-objective.

    Categorical and conditional parameters are sampled by its independent sampler, as Optuna
    does: CMA-ES adapts a Gaussian over the parameters every trial has.
    """

    SPEC = CMAES_SPEC
    multi_objective = False
    _EXCLUSIVE = ("use_separable_cma", "with_margin", "lr_adapt")

    def __init__(self, problem: Problem, *, seed: int, **hyperparameters: Any) -> None:
        options = CMAES_SPEC.resolve(hyperparameters)
        chosen = [name for name in self._EXCLUSIVE if options[name]]
        if len(chosen) > 1:
            raise ValueError(
                f"agent 'optuna.cmaes': {' and '.join(chosen)} can't be combined; legal: at most one "
                f"of {', '.join(self._EXCLUSIVE)} true"
            )
        super().__init__(problem, seed=seed, **hyperparameters)

    def make_sampler(self) -> BaseSampler:
        from optuna.samplers import CmaEsSampler

        options = dict(self.options)
        popsize = options.pop("popsize") or None
        return CmaEsSampler(seed=self.seed, popsize=popsize, warn_independent_sampling=False, **options)


def _evolution_options(options: dict[str, Any]) -> dict[str, Any]:
    out = dict(options)
    out["mutation_prob"] = out["mutation_prob"] or None
    return out


class NSGAII(OptunaAgent):
    """``optuna.nsga2``: Optuna's ``NSGAIISampler``."""

    SPEC = NSGA2_SPEC

    def make_sampler(self) -> BaseSampler:
        from optuna.samplers import NSGAIISampler

        return NSGAIISampler(seed=self.seed, **_evolution_options(self.options))


class NSGAIII(OptunaAgent):
    """``optuna.nsga3``: Optuna's ``NSGAIIISampler``."""

    SPEC = NSGA3_SPEC

    def make_sampler(self) -> BaseSampler:
        from optuna.samplers import NSGAIIISampler

        return NSGAIIISampler(seed=self.seed, **_evolution_options(self.options))


class QuasiMonteCarlo(OptunaAgent):
    """``optuna.qmc``: Optuna's ``QMCSampler`` (categorical parameters sampled independently)."""

    SPEC = QMC_SPEC

    def make_sampler(self) -> BaseSampler:
        from optuna.samplers import QMCSampler

        return QMCSampler(seed=self.seed, warn_independent_sampling=False, **self.options)


class Random(OptunaAgent):
    """``optuna.random``: Optuna's ``RandomSampler``."""

    SPEC = RANDOM_SPEC

    def make_sampler(self) -> BaseSampler:
        from optuna.samplers import RandomSampler

        return RandomSampler(seed=self.seed)
