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
  to the env's range, and the trial is told back with its own budget. A fidelity of discrete
  levels (a backend ladder proxy → simulator) gets as many η-spaced SMAC budgets as it has
  levels, and budget k is level k.
* **Synchronous.** SMAC's intensifier compares a stage once every configuration in it is told, so
  these agents are asked batch by batch (``concurrent_asks`` is False). While a stage waits,
  SMAC starts the next bracket, so a batch larger than one keeps workers busy.
* **Space, objective, failures, files, logging**: those of :class:`~archgym_agents.smac_facades.SmacAgent`,
  which these agents extend with their budgets —
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

import math
from typing import TYPE_CHECKING, Any

from archgym.search import AgentSpec, EvalResult, Problem, Proposal
from archgym.spaces import Design, Integer
from archgym_agents.rungs import fidelity_incompatibility, ladder, nearest_rung
from archgym_agents.smac_facades import SmacAgent
from archgym_agents.translate import configspace_configuration

if TYPE_CHECKING:
    from smac.facade.abstract_facade import AbstractFacade
    from smac.runhistory import TrialInfo

__all__ = ["SPECS", "Bohb", "Hyperband", "SmacMultiFidelity", "SuccessiveHalving"]


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


class SmacMultiFidelity(SmacAgent):
    """One SMAC multi-fidelity facade driven by ask/tell (see the module docstring): a
    :class:`SmacAgent` whose trials carry SMAC's budget as the env's fidelity."""

    @classmethod
    def incompatibility(cls, problem: Problem) -> str | None:
        return super().incompatibility(problem) or fidelity_incompatibility(problem)

    def _configure(self, options: dict[str, Any]) -> None:
        problem = self.problem
        if problem.fidelity is None:
            raise ValueError(f"agent {self.SPEC.name!r}: {fidelity_incompatibility(problem)}")
        self.eta, self.n_rungs = options["eta"], options["n_rungs"]
        self.fidelity = problem.fidelity
        self.rungs = ladder(problem.fidelity, self.eta, self.n_rungs)
        high = float(problem.fidelity.high)
        # SMAC's stage budgets: high·η^-k, as many as our rungs (its floor(log) is guarded by 1e-9)
        self.budgets = [high * float(self.eta) ** -k for k in range(len(self.rungs) - 1, -1, -1)]

    @classmethod
    def intensifier_class(cls) -> type[Any]:
        from smac.intensifier.hyperband import Hyperband as SmacHyperband

        return SmacHyperband

    def _scenario_options(self) -> dict[str, Any]:
        return {"min_budget": self.budgets[0] * (1 - 1e-9), "max_budget": self.budgets[-1]}

    def _facade_options(self, scenario: Any) -> dict[str, Any]:
        return {"intensifier": self.intensifier_class()(scenario, eta=self.eta, seed=self.seed)}

    def fidelity_of(self, budget: float | None) -> float | int:
        """SMAC's budget as a legal fidelity of the env (for discrete levels, the rung of the
        same index: SMAC's budgets are η-spaced, the levels are what they are)."""
        if self.fidelity.levels is not None:
            if budget is None:
                return self.rungs[-1]
            index = min(range(len(self.budgets)), key=lambda i: abs(math.log(self.budgets[i] / budget)))
            return self.rungs[index]
        value = float(self.fidelity.high if budget is None else budget)
        value = min(max(value, float(self.fidelity.low)), float(self.fidelity.high))
        return round(value) if self.fidelity.integer else value

    def _proposal(self, trial: TrialInfo, design: Design) -> Proposal:
        return Proposal(design=design, fidelity=self.fidelity_of(trial.budget))

    def _trial_info(self, design: Design, result: EvalResult | None, asked: TrialInfo | None) -> TrialInfo:
        """At the budget of SMAC's last proposal (a forbidden streak), or of the recorded fidelity's
        nearest rung (a recorded evaluation)."""
        from smac.runhistory import TrialInfo

        if result is None:
            budget = None if asked is None else asked.budget
        else:
            rung = nearest_rung(self.rungs, result.fidelity)
            budget = self.budgets[-1 if rung is None and result.fidelity is None else (rung or 0)]
        config = configspace_configuration(self.configspace, self.space, design)
        seed = self.seed if self._trial_seed is None else self._trial_seed
        return TrialInfo(config, seed=seed, budget=budget)


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
