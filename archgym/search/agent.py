"""The agent API: ask/tell, so agents hold only search logic.

The core loop (:mod:`archgym.loop`) owns budget, seeding, workers, timeouts, failures, records
and progress. An :class:`Agent` proposes designs (``ask``) and learns from their results
(``tell``); an :class:`InteractiveAgent` (RL) instead runs on the fully wrapped env, whose every
``step`` the loop records and counts against the budget.

Order is enforced as in pyribs: ``tell`` must answer the designs of the preceding ``ask``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from archgym.env import Fidelity
from archgym.spaces import OUTCOME_VIOLATION, Design, DesignSpace, ObjectiveSpec, OutcomeConstraint, Reward

__all__ = [
    "Agent",
    "AskTellAdapter",
    "EvalResult",
    "InteractiveAgent",
    "Problem",
    "Proposal",
]


@dataclass(frozen=True)
class EvalResult:
    """The outcome of one evaluation, as an agent sees it.

    ``reward`` is a float (or a vector for multi-objective problems); for an infeasible
    evaluation it is the env's penalty (NaN for plain envs without one). Agents should treat
    ``feasible=False`` as information, not as a number to fit.
    """

    design: Design
    reward: Reward
    metrics: dict[str, float]
    feasible: bool
    eval_time_s: float
    error: str | None = None
    fidelity: float | int | None = None
    backend: str = "simulator"
    constraints: dict[str, float] = field(default_factory=dict)
    """Each outcome constraint's signed violation, by name (<= 0 satisfied; NaN: not measured):
    how far from feasible, where ``feasible`` only says whether."""


@dataclass(frozen=True)
class Proposal:
    """A design with the fidelity to evaluate it at (multi-fidelity agents)."""

    design: Design
    fidelity: float | int | None = None


@dataclass(frozen=True)
class Problem:
    """What an agent may know about the env it searches."""

    env_id: str
    design_space: DesignSpace
    n_objectives: int
    objective_names: tuple[str, ...] = ("reward",)
    fidelity: Fidelity | None = None
    reference_point: np.ndarray | None = None
    metric_names: tuple[str, ...] = field(default_factory=tuple)
    penalty: Reward | None = None
    """Reward of an infeasible evaluation (None for plain envs, whose failures score NaN)."""
    optimal_reward: float | None = None
    """Best achievable reward where the env knows it (analytic problems)."""
    outcome_constraints: tuple[OutcomeConstraint, ...] = ()
    """Bounds on metrics a feasible evaluation meets (:class:`~archgym.spaces.OutcomeConstraint`)."""
    objective: ObjectiveSpec | None = None
    """How metrics become the reward (DesignEnvs; None for plain envs, or when the run scalarizes
    the env's objectives): lets a constraint-aware agent score a design that violated an outcome
    constraint — its recorded reward is the penalty — from its measured metrics."""

    def objective_value(self, result: EvalResult) -> Reward | None:
        """The reward ``result``'s metrics earn before any outcome constraint is applied; None where
        it can't be known (no objective, an evaluation that failed, a metric not measured)."""
        if result.feasible:
            return result.reward
        if self.objective is None or not (result.error or "").startswith(OUTCOME_VIOLATION):
            return None
        try:
            value = self.objective.reward(result.metrics)
        except (KeyError, ValueError):
            return None
        return value if bool(np.all(np.isfinite(value))) else None

    def relative_violations(self, result: EvalResult) -> np.ndarray | None:
        """``result``'s outcome-constraint violations, in the order of :attr:`outcome_constraints`,
        each relative to its bound (``v / |bound|``; the raw violation where the bound is 0), so
        constraints in different units weigh alike when summed (Deb 2000 normalises them so;
        pymoo's guide advises the same). Signed like the records: <= 0 satisfied.

        None where the violations say nothing: an evaluation that failed for another reason (a
        crash, a timeout) or did not measure a constrained metric (NaN). A feasible evaluation, or
        one that only violated outcome constraints, gets its vector (empty without constraints)."""
        if not result.feasible and not (result.error or "").startswith(OUTCOME_VIOLATION):
            return None
        values = []
        for constraint in self.outcome_constraints:
            v = float(result.constraints.get(constraint.name, math.nan))
            if not math.isfinite(v):
                return None
            values.append(v / abs(constraint.bound) if constraint.bound else v)
        return np.asarray(values, dtype=np.float64)


class _AgentBase:
    """Compatibility declarations shared by both agent kinds."""

    single_objective: ClassVar[bool] = True
    multi_objective: ClassVar[bool] = False
    plans_from_budget: ClassVar[bool] = False
    """Whether what the agent proposes depends on the run's budget (an RL agent sizes its
    rollouts from it; a Hyperband brackets it): such a run can't be extended to a larger budget
    by ``--resume DIR --budget N``, since its records would differ from a run of N."""

    @classmethod
    def incompatibility(
        cls, problem: Problem, hyperparameters: Mapping[str, Any] | None = None
    ) -> str | None:
        """Why this agent can't search ``problem`` (None if it can). Checked before the first
        evaluation; subclasses add their own limits (e.g. discrete spaces only).

        ``hyperparameters`` are the resolved settings of the run being built (None: judge the
        agent at its best setting), so a limit that one setting brings — grid's
        ``max_designs``, rl's ``algorithm="dqn"`` — is told before any evaluation and named,
        and the "agents that can" hint lists only agents whose defaults can. Call it through
        :meth:`archgym.AgentSpec.incompatibility`, which also serves subclasses written
        before this argument existed."""
        if problem.n_objectives > 1 and not cls.multi_objective:
            return f"it is single-objective and the env has {problem.n_objectives} objectives"
        if problem.n_objectives == 1 and not cls.single_objective:
            return "it needs a multi-objective env"
        return None


class Agent(_AgentBase, ABC):
    """Ask/tell agent. Subclasses implement :meth:`_ask` and :meth:`_tell`.

    Args:
        problem: the design space and objectives.
        seed: all randomness of the agent derives from it, so runs are reproducible.

    A subclass takes its hyperparameters as keyword arguments and resolves them with its
    :class:`~archgym.AgentSpec` (``SPEC.resolve(hyperparameters)``): the spec is the one place
    that states their defaults and legal values.
    """

    batch_size: int = 1
    """Designs per ``ask``: the loop asks this many (never more than the budget left), whatever
    the number of workers, so results don't depend on the worker count."""

    concurrent_asks: ClassVar[bool] = False
    """Whether the agent may be asked again while designs it proposed are still being evaluated,
    and then told each of them as it finishes (asynchronous scheduling, ``--schedule async``):
    its ``_tell`` takes any of its pending designs, and its ``_ask`` may read :attr:`pending`
    (BO fantasises over them). An agent that can't — a generation or an emitter batch must be
    told whole — is asked a new batch only once its last one is told, so under asynchronous
    scheduling it still runs, batch by batch."""

    def __init__(self, problem: Problem, *, seed: int) -> None:
        self.problem = problem
        self.space = problem.design_space
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._pending: list[Design] = []

    @property
    def pending(self) -> list[Design]:
        """Designs asked for and not yet told (being evaluated), oldest first."""
        return list(self._pending)

    def ask(self, n: int) -> list[Design | Proposal]:
        """Up to ``n`` designs to evaluate next."""
        if self._pending and not self.concurrent_asks:
            raise RuntimeError("ask() called twice: tell() the results of the previous ask() first")
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        proposals = list(self._ask(n))
        if not 1 <= len(proposals) <= n:
            raise RuntimeError(f"{type(self).__name__}._ask({n}) returned {len(proposals)} designs")
        self._pending += [p.design if isinstance(p, Proposal) else p for p in proposals]
        return proposals

    def tell(self, designs: Sequence[Design], results: Sequence[EvalResult]) -> None:
        """The results of the designs from the preceding :meth:`ask`, in the same order — or,
        for an agent with :attr:`concurrent_asks`, of any of its pending designs."""
        if not self._pending:
            raise RuntimeError("tell() called without a preceding ask()")
        if len(results) != len(designs) or (not self.concurrent_asks and len(designs) != len(self._pending)):
            raise ValueError(
                f"tell() needs the {len(self._pending)} designs of the last ask() and one result each, "
                f"got {len(designs)} designs and {len(results)} results"
            )
        if self.concurrent_asks:
            for design in designs:
                self._pending.pop(self._pending_index(design))
        else:
            self._pending = []
        self._tell(list(designs), list(results))

    def _pending_index(self, design: Design) -> int:
        """Where ``design`` is among the pending ones: the same object first, else an equal one."""
        for i, candidate in enumerate(self._pending):
            if candidate is design:
                return i
        for i, candidate in enumerate(self._pending):
            if candidate == design:
                return i
        raise ValueError(f"tell() got a design that is not pending (not asked, or told already): {design!r}")

    def tell_history(self, designs: Sequence[Design], results: Sequence[EvalResult]) -> None:
        """Learn from evaluations this agent did not ask for (resuming a run it can't replay
        exactly, or warm-starting from a dataset)."""
        self._pending = []
        self._tell(list(designs), list(results))

    @abstractmethod
    def _ask(self, n: int) -> Sequence[Design | Proposal]: ...

    @abstractmethod
    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None: ...

    def finish(self, out: Path) -> dict[str, Any]:
        """Called once when the run ends: may write artifacts into ``out`` (an archive, a
        plot) and returns agent-specific figures for ``summary.json`` (e.g. a QD score)."""
        return {}


class InteractiveAgent(_AgentBase, ABC):
    """An agent that must own the interaction (RL). It gets the fully wrapped env: every step is
    one recorded evaluation counted against the budget; when the budget is spent the env raises
    :class:`archgym.search.BudgetExhausted`, which ends :meth:`run` cleanly."""

    plans_from_budget = True  # run(env, budget) is told the budget

    def __init__(self, problem: Problem, *, seed: int) -> None:
        self.problem = problem
        self.seed = seed

    @abstractmethod
    def run(self, env: gym.Env[Any, Any], budget: int) -> None: ...

    def finish(self, out: Path) -> dict[str, Any]:
        """As :meth:`Agent.finish`."""
        return {}


class AskTellAdapter(Agent):
    """Drive envs with an outside ask/tell optimizer (Optuna's ``study.ask``/``study.tell``,
    Nevergrad, …) through the same loop, budget and records.

    Args:
        ask: returns ``(token, design)``; the token is handed back to ``tell``.
        tell: receives ``(token, result)``.

    Example (Optuna)::

        def ask():
            trial = study.ask()
            return trial, {"x1": trial.suggest_float("x1", -5, 10), ...}
        agent = AskTellAdapter(problem, seed=0, ask=ask,
                               tell=lambda trial, r: study.tell(trial, r.reward))
    """

    single_objective = True
    multi_objective = True

    def __init__(
        self,
        problem: Problem,
        *,
        seed: int,
        ask: Callable[[], tuple[Any, Design]],
        tell: Callable[[Any, EvalResult], None],
        batch_size: int = 1,
    ) -> None:
        super().__init__(problem, seed=seed)
        self._outside_ask, self._outside_tell = ask, tell
        self.batch_size = batch_size
        self._tokens: list[Any] = []

    def _ask(self, n: int) -> list[Design]:
        pairs = [self._outside_ask() for _ in range(n)]
        self._tokens = [token for token, _ in pairs]
        return [design for _, design in pairs]

    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None:
        tokens = self._tokens if len(self._tokens) == len(results) else [None] * len(results)
        for token, result in zip(tokens, results, strict=True):
            self._outside_tell(token, result)
        self._tokens = []
