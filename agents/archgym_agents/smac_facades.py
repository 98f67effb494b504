"""SMAC3's facades as archgym agents: ``smac.hpo`` (random-forest BO, the AutoML literature's HPO
baseline), ``smac.blackbox`` (Gaussian-process BO) and ``smac.random`` (random search).

Each agent drives one SMAC optimizer through its ``ask()``/``tell()`` with ``TrialInfo`` and
``TrialValue``:

* **Space**: :func:`archgym_agents.translate.configspace_space`, a ConfigSpace seeded with the
  run's seed, with ``EqualsCondition``/``InCondition`` for conditional parameters (SMAC models
  them natively) and forbidden clauses for the rules that can be enumerated.
* **Objective**: SMAC minimizes a cost, ``-reward``. Single-objective: SMAC's multi-objective mode
  (ParEGO, mean aggregation) scalarizes internally, which ``--scalarize`` does in the open.
* **Failures** are told as SMAC's own runner tells a crashed target function:
  ``TrialValue(cost=scenario.crash_cost, status=StatusType.CRASHED)`` (``crash_cost`` is
  SMAC's default, ``inf``), the error in ``additional_info``. SMAC keeps the trial in its run
  history (so the configuration is not proposed again), but its models can't fit an infinite cost
  (SMAC 2.4's random forest and GP fail on it), so the agent's run-history encoder (the facade's
  own class) considers ``SUCCESS`` trials only: a failure is information, not a number to fit, and
  no penalty value is invented.
* **Outcome constraints** (:class:`archgym.OutcomeConstraint`): SMAC3 has no notion of a
  constraint on outcomes (its ``TrialValue`` takes costs only), so a design that violated one is
  infeasible like any failure: told as crashed, kept out of the models, its violations unused.
  An agent that uses them: ``bo``, ``ga``, ``optuna.*``, ``pymoo.*``, ``nevergrad.*``
  (docs/constraints.md).
* **Forbidden combinations** SMAC could not be given are checked on each proposal
  (:func:`~archgym_agents.translate.forbidden_rules`); a design that breaks one is told as a
  crashed trial (``additional_info["archgym.forbidden"]``) and SMAC is asked again, at most
  ``MAX_FORBIDDEN_TRIES`` times, then the slot gets a random legal design, told to SMAC as a trial
  it did not ask for (SMAC's warm-start path). A forbidden design costs no evaluation.
* **Budget**: SMAC sizes its initial design from ``n_trials`` (at most a quarter of it); the
  agent can't know the run's budget, so ``n_trials`` is a hyperparameter (default 100, SMAC's).
  ``n_init`` > 0 fixes the number of initial configurations instead (up to ``n_trials``).
* **Deterministic**: SMAC's intensifier re-evaluates a configuration under new seeds when the
  target is noisy (``deterministic=False``); archgym's evaluations take no seed, so the default is
  ``deterministic=True`` (each configuration once).
* **Files**: SMAC writes its run history under ``output_directory``. The agent points it into a
  private ``tempfile.mkdtemp`` directory and tells with ``save=False``; the directory is removed in
  ``finish()`` (and when the agent is collected), so a run leaves no files anywhere, the user's
  working directory included.
* **Quiet**: SMAC's logging is not configured (``logging_level=False``: the user's logging stays as
  it is) and its ``smac`` loggers are held at ``ERROR`` inside the agent's calls only.
* **Reproducibility**: with the same seed a run repeats exactly *within one process*; with batch
  size 1 it reproduces ``smac.optimize()`` on the same configuration space and ``n_trials``
  (tested for the HPO facade). Across processes ``smac.hpo`` and ``smac.blackbox`` depend on
  ``PYTHONHASHSEED``: SMAC's local search returns ``list(set(configurations))``, whose order
  follows string hashing (native SMAC does the same). Set ``PYTHONHASHSEED`` (e.g. ``=0``) before
  starting Python for runs, campaigns and resumes that must repeat; ``smac.random`` is unaffected.
* **Resume and warm start** (``tell_history``): each recorded evaluation is told as a trial SMAC
  did not ask for.

SMAC (and ConfigSpace, dask) is imported only when an agent is built, so ``archgym agents`` lists
these without it.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import warnings
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from archgym.search import Agent, AgentSpec, EvalResult, Problem, Proposal
from archgym.spaces import Categorical, Design, DesignKey, Integer, Parameter, design_key
from archgym_agents.translate import (
    configspace_configuration,
    configspace_design,
    configspace_space,
    forbidden_rules,
)

if TYPE_CHECKING:
    from smac.facade.abstract_facade import AbstractFacade
    from smac.runhistory import TrialInfo

__all__ = [
    "MAX_FORBIDDEN_TRIES",
    "SPECS",
    "BlackBox",
    "HyperparameterOptimization",
    "RandomSearch",
    "SmacAgent",
]

MAX_FORBIDDEN_TRIES = 20
"""Proposals asked of SMAC per design before a forbidden streak is broken by a random legal design."""

_BOOL = [False, True]


def _spec(name: str, cls: str, description: str) -> AgentSpec:
    params: tuple[Parameter, ...] = (
        Integer("batch_size", 1, 1024, default=1),
        Integer("n_trials", 1, 10_000_000, default=100),  # what SMAC plans for (its initial design)
        Integer("n_init", 0, 100_000, default=0),  # 0: the facade's own initial design size
        Categorical("deterministic", _BOOL, default=True),
    )
    return AgentSpec(
        name=name,
        entry_point=f"archgym_agents.smac_facades:{cls}",
        description=description,
        hyperparameters=params,
    )


HPO_SPEC = _spec(
    "smac.hpo",
    "HyperparameterOptimization",
    "SMAC3 HPO facade: random-forest BO (log-EI), conditional spaces; single-objective.",
)
BLACKBOX_SPEC = _spec(
    "smac.blackbox",
    "BlackBox",
    "SMAC3 BlackBox facade: Gaussian-process BO for small budgets; single-objective.",
)
RANDOM_SPEC = _spec(
    "smac.random", "RandomSearch", "SMAC3 Random facade: random search through SMAC; single-objective."
)
SPECS = [HPO_SPEC, BLACKBOX_SPEC, RANDOM_SPEC]


@contextmanager
def _quiet() -> Iterator[None]:
    """Hold SMAC's loggers at ERROR and silence its warnings for the agent's own calls."""
    logger = logging.getLogger("smac")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _never_called(config: Any, seed: int = 0, budget: float = 0.0) -> float:
    """SMAC's facades require a target function; ask/tell never calls it."""
    raise RuntimeError("the archgym loop evaluates designs; SMAC's target function is not used")


class SmacAgent(Agent):
    """One SMAC facade driven by ask/tell (see the module docstring). Subclasses set ``SPEC`` and
    ``facade_class``; the multi-fidelity agents (:mod:`archgym_agents.smac_multifidelity`) add
    their budgets through the hooks ``_configure``, ``_scenario_options``, ``_facade_options``,
    ``_proposal`` and ``_trial_info``."""

    SPEC: ClassVar[AgentSpec]
    single_objective = True
    multi_objective = False

    def __init__(self, problem: Problem, *, seed: int, **hyperparameters: Any) -> None:
        super().__init__(problem, seed=seed)
        options = self.SPEC.resolve(hyperparameters)
        self.batch_size = options["batch_size"]
        self.n_trials = options["n_trials"]
        self.n_init = options["n_init"]
        self.deterministic = options.get("deterministic", True)
        self._configure(options)
        self.configspace, self.unexpressed = configspace_space(self.space, seed)
        self._tmp = Path(tempfile.mkdtemp(prefix="archgym-smac-"))
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._tmp, ignore_errors=True)
        self._trial_seed: int | None = None  # the seed SMAC gave the last trial it asked for
        with _quiet():
            self.smac = self._make_facade()
        self._trials: list[TrialInfo] = []

    @classmethod
    def facade_class(cls) -> type[AbstractFacade]:
        raise NotImplementedError

    # --- hooks (the multi-fidelity agents override them) ---------------------------------------
    def _configure(self, options: dict[str, Any]) -> None:
        """Take a subclass's own hyperparameters, before the facade is built."""

    def _scenario_options(self) -> dict[str, Any]:
        return {}

    def _facade_options(self, scenario: Any) -> dict[str, Any]:
        return {}

    def _proposal(self, trial: TrialInfo, design: Design) -> Design | Proposal:
        """What the loop is asked to evaluate for ``trial``."""
        return design

    def _trial_info(self, design: Design, result: EvalResult | None, asked: TrialInfo | None) -> TrialInfo:
        """A trial SMAC did not ask for: a legal design standing in for a forbidden streak
        (``asked``: SMAC's last proposal), or a recorded evaluation (``result``)."""
        from smac.runhistory import TrialInfo

        return TrialInfo(configspace_configuration(self.configspace, self.space, design), seed=self.seed)

    def _make_facade(self) -> AbstractFacade:
        from smac import Scenario
        from smac.runhistory import StatusType

        facade = self.facade_class()
        scenario = Scenario(
            self.configspace,
            deterministic=self.deterministic,
            n_trials=self.n_trials,
            seed=self.seed,
            output_directory=self._tmp / "smac3_output",
            **self._scenario_options(),
        )
        encoder = facade.get_runhistory_encoder(scenario)  # the facade's class, crashes not fitted
        extra: dict[str, Any] = {
            "runhistory_encoder": type(encoder)(scenario, considered_states=[StatusType.SUCCESS]),
            **self._facade_options(scenario),
        }
        if self.n_init:
            # max_ratio=1: SMAC would otherwise cap n_init at a quarter of n_trials
            extra["initial_design"] = facade.get_initial_design(
                scenario, n_configs=self.n_init, max_ratio=1.0
            )
        return facade(scenario, _never_called, overwrite=True, logging_level=False, **extra)

    # --- ask --------------------------------------------------------------------------------
    def _ask(self, n: int) -> list[Design | Proposal]:
        proposals = []
        with _quiet():
            for _ in range(n):
                trial, design = self._ask_one()
                self._trials.append(trial)
                proposals.append(self._proposal(trial, design))
        return proposals

    def _ask_one(self) -> tuple[TrialInfo, Design]:
        refused: set[DesignKey] = set()
        trial = None
        for _ in range(MAX_FORBIDDEN_TRIES):
            trial = self.smac.ask()
            self._trial_seed = trial.seed
            design = configspace_design(self.space, trial.config)
            rules = forbidden_rules(self.space, design)
            if not rules:
                return trial, design
            self._tell_crashed(trial, {"archgym.forbidden": "; ".join(rules)})
            key = design_key(design)
            if key in refused:
                break
            refused.add(key)
        legal = self.space.sample(self.rng)  # constraints respected
        return self._trial_info(legal, None, trial), legal

    # --- tell -------------------------------------------------------------------------------
    def cost_of(self, result: EvalResult) -> float | None:
        """The cost to tell (``-reward``), or None for a failed evaluation: infeasible, or a
        reward that is not finite."""
        if not result.feasible:
            return None
        reward = np.asarray(result.reward, dtype=np.float64).reshape(-1)
        if reward.size != 1 or not math.isfinite(float(reward[0])):
            return None
        return -float(reward[0])

    def _tell_crashed(self, trial: TrialInfo, info: dict[str, Any]) -> None:
        from smac.runhistory import StatusType, TrialValue

        crash_cost = self.smac.scenario.crash_cost
        self.smac.tell(
            trial, TrialValue(cost=crash_cost, status=StatusType.CRASHED, additional_info=info), save=False
        )

    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None:
        from smac.runhistory import TrialValue

        trials, self._trials = self._trials, []
        if not trials:  # evaluations this agent did not ask for (tell_history)
            trials = [self._trial_info(d, r, None) for d, r in zip(designs, results, strict=True)]
        with _quiet():
            for trial, result in zip(trials, results, strict=True):
                cost = self.cost_of(result)
                if cost is None:
                    self._tell_crashed(trial, {"archgym.error": result.error or "infeasible"})
                else:
                    self.smac.tell(trial, TrialValue(cost=cost, time=result.eval_time_s), save=False)

    def tell_history(self, designs: Sequence[Design], results: Sequence[EvalResult]) -> None:
        """Learn from evaluations this agent did not ask for: each is told as a trial SMAC did not
        ask for (trials asked but never evaluated are dropped)."""
        self._trials = []
        super().tell_history(designs, results)

    def finish(self, out: Path) -> dict[str, Any]:
        """Remove SMAC's private output directory."""
        self._cleanup()
        return {}


class HyperparameterOptimization(SmacAgent):
    """``smac.hpo``: ``HyperparameterOptimizationFacade`` (random forest, log-EI)."""

    SPEC = HPO_SPEC

    @classmethod
    def facade_class(cls) -> type[AbstractFacade]:
        from smac import HyperparameterOptimizationFacade

        return HyperparameterOptimizationFacade


class BlackBox(SmacAgent):
    """``smac.blackbox``: ``BlackBoxFacade`` (Gaussian process, EI)."""

    SPEC = BLACKBOX_SPEC

    @classmethod
    def facade_class(cls) -> type[AbstractFacade]:
        from smac import BlackBoxFacade

        return BlackBoxFacade


class RandomSearch(SmacAgent):
    """``smac.random``: ``RandomFacade``."""

    SPEC = RANDOM_SPEC

    @classmethod
    def facade_class(cls) -> type[AbstractFacade]:
        from smac import RandomFacade

        return RandomFacade
