"""SMAC3's multi-fidelity optimizers as archgym agents, for envs with a fidelity:
``smac.successive_halving`` and ``smac.hyperband`` (random configurations raced by SMAC's
successive-halving / Hyperband intensifier; Jamieson & Talwalkar 2016, Li et al. 2018) and
``smac.bohb`` (SMAC's ``MultiFidelityFacade``: Hyperband whose new configurations come from a
random-forest model fitted on the highest fidelity with enough results — model-based Hyperband in
the style of BOHB, Falkner et al. 2018, with SMAC's random forest in place of BOHB's KDE).

Each agent drives one SMAC facade through ``ask()``/``tell()``:

* **Fidelity as SMAC's budget.** The scenario's ``min_budget``/``max_budget`` are the lowest rung
  (:func:`archgym_agents.rungs.ladder`) and the env's top fidelity; SMAC's ``TrialInfo.budget``
  (high·η^-k) becomes ``Proposal(design, fidelity)``, rounded for integer fidelities and clipped
  to the env's range, and the trial is told back with its own budget.
* **Synchronous.** SMAC's intensifier compares a stage once every configuration in it is told, so
  these agents are asked batch by batch (``concurrent_asks`` is False). While a stage waits,
  SMAC starts the next bracket, so a batch larger than one keeps workers busy.
* **Space, objective, failures, files, logging**: as in :mod:`archgym_agents.smac_facades` —
  the ConfigSpace of :func:`archgym_agents.translate.configspace_space`, cost ``-reward``, a
  failed or infeasible evaluation told as ``StatusType.CRASHED`` with SMAC's crash cost (ranked
  last by the intensifier, never fitted by the model: the run-history encoder considers
  ``SUCCESS`` trials only), SMAC's output in a private temporary directory removed by
  ``finish()``, its loggers held at ``ERROR`` inside the agent's calls.
* **Budget**: SMAC's Hyperband cycles its brackets for as long as it is asked, so nothing depends
  on the run's budget; ``n_trials`` only sizes ``smac.bohb``'s initial design (a quarter of it, or
  ``n_init`` configurations).
* **Resume** (``tell_history``): each recorded evaluation is told as a trial SMAC did not ask for,
  at the SMAC budget nearest its recorded fidelity.
* **Deterministic** given the seed (SMAC's own generators are seeded with it).
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
from archgym.spaces import Design, Integer
from archgym_agents.rungs import fidelity_incompatibility, ladder, nearest_rung
from archgym_agents.translate import (
    configspace_configuration,
    configspace_design,
    configspace_space,
    forbidden_rules,
)

if TYPE_CHECKING:
    from smac.facade.abstract_facade import AbstractFacade
    from smac.runhistory import TrialInfo

__all__ = ["SPECS", "Bohb", "Hyperband", "SmacMultiFidelity", "SuccessiveHalving"]

MAX_FORBIDDEN_TRIES = 20
"""Proposals asked of SMAC per design before a forbidden streak is broken by a random legal design."""


def _spec(name: str, cls: str, description: str) -> AgentSpec:
    return AgentSpec(
        name=name,
        entry_point=f"archgym_agents.smac_multifidelity:{cls}",
        description=description,
        hyperparameters=(
            Integer("batch_size", 1, 1024, default=1),
            Integer("eta", 2, 10, default=3),
            Integer("n_rungs", 0, 30, default=0),  # 0: every η-spaced level of the env's range
            Integer("n_trials", 1, 10_000_000, default=100),  # sizes smac.bohb's initial design
            Integer("n_init", 0, 100_000, default=0),  # 0: the facade's own initial design size
        ),
    )


SH_SPEC = _spec(
    "smac.successive_halving",
    "SuccessiveHalving",
    "SMAC3 successive halving over random configurations; needs a fidelity; single-objective.",
)
HB_SPEC = _spec(
    "smac.hyperband",
    "Hyperband",
    "SMAC3 Hyperband over random configurations; needs a fidelity; single-objective.",
)
BOHB_SPEC = _spec(
    "smac.bohb",
    "Bohb",
    "SMAC3 multi-fidelity facade: Hyperband with random-forest proposals (BOHB-style); needs a "
    "fidelity; single-objective.",
)
SPECS = [SH_SPEC, HB_SPEC, BOHB_SPEC]


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


class SmacMultiFidelity(Agent):
    """One SMAC multi-fidelity facade driven by ask/tell (see the module docstring)."""

    SPEC: ClassVar[AgentSpec]
    single_objective = True
    multi_objective = False

    @classmethod
    def incompatibility(cls, problem: Problem) -> str | None:
        return super().incompatibility(problem) or fidelity_incompatibility(problem)

    def __init__(self, problem: Problem, *, seed: int, **hyperparameters: Any) -> None:
        super().__init__(problem, seed=seed)
        options = self.SPEC.resolve(hyperparameters)
        self.batch_size = options["batch_size"]
        self.eta = options["eta"]
        self.n_rungs = options["n_rungs"]
        self.n_trials = options["n_trials"]
        self.n_init = options["n_init"]
        if problem.fidelity is None:
            raise ValueError(f"agent {self.SPEC.name!r}: {fidelity_incompatibility(problem)}")
        self.fidelity = problem.fidelity
        self.rungs = ladder(problem.fidelity, self.eta, self.n_rungs)
        high = float(problem.fidelity.high)
        # SMAC's stage budgets: high·η^-k, as many as our rungs (its floor(log) is guarded by 1e-9)
        self.budgets = [high * float(self.eta) ** -k for k in range(len(self.rungs) - 1, -1, -1)]
        self.configspace, self.unexpressed = configspace_space(self.space, seed)
        self._tmp = Path(tempfile.mkdtemp(prefix="archgym-smac-mf-"))
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._tmp, ignore_errors=True)
        with _quiet():
            self.smac = self._make_facade()
        self._trials: list[TrialInfo] = []
        self._trial_seed: int | None = None

    @classmethod
    def facade_class(cls) -> type[AbstractFacade]:
        raise NotImplementedError

    @classmethod
    def intensifier_class(cls) -> type[Any]:
        from smac.intensifier.hyperband import Hyperband as SmacHyperband

        return SmacHyperband

    def _make_facade(self) -> AbstractFacade:
        from smac import Scenario
        from smac.runhistory import StatusType

        facade = self.facade_class()
        scenario = Scenario(
            self.configspace,
            deterministic=True,
            n_trials=self.n_trials,
            seed=self.seed,
            min_budget=self.budgets[0] * (1 - 1e-9),
            max_budget=self.budgets[-1],
            output_directory=self._tmp / "smac3_output",
        )
        encoder = facade.get_runhistory_encoder(scenario)
        extra: dict[str, Any] = {
            "runhistory_encoder": type(encoder)(scenario, considered_states=[StatusType.SUCCESS]),
            "intensifier": self.intensifier_class()(scenario, eta=self.eta, seed=self.seed),
        }
        if self.n_init:
            extra["initial_design"] = facade.get_initial_design(
                scenario, n_configs=self.n_init, max_ratio=1.0
            )
        return facade(scenario, _never_called, overwrite=True, logging_level=False, **extra)

    def fidelity_of(self, budget: float | None) -> float | int:
        """SMAC's budget as a legal fidelity of the env."""
        value = float(self.fidelity.high if budget is None else budget)
        value = min(max(value, float(self.fidelity.low)), float(self.fidelity.high))
        return round(value) if self.fidelity.integer else value

    # --- ask --------------------------------------------------------------------------------
    def _ask(self, n: int) -> list[Proposal]:
        proposals = []
        with _quiet():
            for _ in range(n):
                trial, design = self._ask_one()
                self._trials.append(trial)
                proposals.append(Proposal(design=design, fidelity=self.fidelity_of(trial.budget)))
        return proposals

    def _ask_one(self) -> tuple[TrialInfo, Design]:
        from smac.runhistory import TrialInfo

        trial = None
        for _ in range(MAX_FORBIDDEN_TRIES):
            trial = self.smac.ask()
            self._trial_seed = trial.seed
            design = configspace_design(self.space, trial.config)
            rules = forbidden_rules(self.space, design)
            if not rules:
                return trial, design
            self._tell_crashed(trial, {"archgym.forbidden": "; ".join(rules)})
        legal = self.space.sample(self.rng)  # constraints respected
        config = configspace_configuration(self.configspace, self.space, legal)
        budget = None if trial is None else trial.budget
        return TrialInfo(config, seed=self._trial_seed, budget=budget), legal

    # --- tell -------------------------------------------------------------------------------
    @staticmethod
    def cost_of(result: EvalResult) -> float | None:
        """The cost to tell (``-reward``), or None for a failed evaluation."""
        if not result.feasible:
            return None
        reward = np.asarray(result.reward, dtype=np.float64).reshape(-1)
        if reward.size != 1 or not math.isfinite(float(reward[0])):
            return None
        return -float(reward[0])

    def _tell_crashed(self, trial: TrialInfo, info: dict[str, Any]) -> None:
        from smac.runhistory import StatusType, TrialValue

        value = TrialValue(
            cost=self.smac.scenario.crash_cost, status=StatusType.CRASHED, additional_info=info
        )
        self.smac.tell(trial, value, save=False)

    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None:
        from smac.runhistory import TrialValue

        trials, self._trials = self._trials, []
        if not trials:  # evaluations this agent did not ask for (tell_history)
            trials = [self._unasked(d, r) for d, r in zip(designs, results, strict=True)]
        with _quiet():
            for trial, result in zip(trials, results, strict=True):
                cost = self.cost_of(result)
                if cost is None:
                    self._tell_crashed(trial, {"archgym.error": result.error or "infeasible"})
                else:
                    self.smac.tell(trial, TrialValue(cost=cost, time=result.eval_time_s), save=False)

    def _unasked(self, design: Design, result: EvalResult) -> TrialInfo:
        """A trial SMAC did not ask for, at the SMAC budget of its recorded fidelity."""
        from smac.runhistory import TrialInfo

        rung = nearest_rung(self.rungs, result.fidelity)
        budget = self.budgets[-1 if rung is None and result.fidelity is None else (rung or 0)]
        config = configspace_configuration(self.configspace, self.space, design)
        seed = self.seed if self._trial_seed is None else self._trial_seed
        return TrialInfo(config, seed=seed, budget=budget)

    def tell_history(self, designs: Sequence[Design], results: Sequence[EvalResult]) -> None:
        """Tell recorded evaluations as trials SMAC did not ask for (pending asks are dropped)."""
        self._trials = []
        super().tell_history(designs, results)

    def finish(self, out: Path) -> dict[str, Any]:
        """Remove SMAC's private output directory."""
        self._cleanup()
        return {}


class SuccessiveHalving(SmacMultiFidelity):
    """``smac.successive_halving``: one bracket (all rungs), random configurations."""

    SPEC = SH_SPEC

    @classmethod
    def facade_class(cls) -> type[AbstractFacade]:
        from smac import HyperbandFacade

        return HyperbandFacade

    @classmethod
    def intensifier_class(cls) -> type[Any]:
        from smac.intensifier.successive_halving import SuccessiveHalving as SmacSuccessiveHalving

        return SmacSuccessiveHalving


class Hyperband(SmacMultiFidelity):
    """``smac.hyperband``: ``HyperbandFacade`` (random configurations, Hyperband's brackets)."""

    SPEC = HB_SPEC

    @classmethod
    def facade_class(cls) -> type[AbstractFacade]:
        from smac import HyperbandFacade

        return HyperbandFacade


class Bohb(SmacMultiFidelity):
    """``smac.bohb``: ``MultiFidelityFacade`` (random forest + Hyperband)."""

    SPEC = BOHB_SPEC

    @classmethod
    def facade_class(cls) -> type[AbstractFacade]:
        from smac import MultiFidelityFacade

        return MultiFidelityFacade
