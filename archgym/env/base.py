"""The environment base class every archgym problem derives from.

A :class:`DesignEnv` subclass declares *what* a problem is — its design space, its metrics with
units, its objective, and optionally a fidelity — and implements one method,
:meth:`DesignEnv.evaluate`, which turns a design into metrics. The base class turns that into
Gymnasium semantics shared by every problem:

* one ``step(action)`` = one evaluation of one design; an episode of ``episode_length``
  evaluations (1 by default) ends with ``terminated=True``;
* the reward is computed from the metrics by the declared objective (higher is better, always);
* ``info`` carries ``design``, ``metrics``, ``feasible``, ``eval_time_s``, ``backend`` (and
  ``fidelity`` where the env has one, ``error`` on failure);
* a design outside the space is a ``ValueError`` naming the parameter and its legal values; any
  exception raised by :meth:`evaluate` becomes an infeasible evaluation with the declared
  penalty reward, so a crashing simulator never ends a run.

Example:
    >>> class Sphere(DesignEnv):
    ...     def __init__(self):
    ...         super().__init__(
    ...             design_space=DesignSpace([Real("x", -1, 1)]),
    ...             metrics={"f": "1"},
    ...             objective=Objectives([Objective("f", "min")], penalty=-10.0),
    ...         )
    ...     def evaluate(self, design, context):
    ...         return {"f": design["x"] ** 2}
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from archgym.env import arguments, backends
from archgym.env.checkpoints import CheckpointStore
from archgym.spaces import (
    OUTCOME_VIOLATION,
    Design,
    DesignSpace,
    ObjectiveSpec,
    OutcomeConstraint,
    Parameter,
    Reward,
    merge_outcome_constraints,
)

Backend = str
"""A backend name: ``"simulator"`` (the env's own :meth:`DesignEnv.evaluate`) or a registered one
(``"proxy"``, ``"table"``, …; see :mod:`archgym.env.backends`)."""
TIME_UNIT = "s"
"""Unit of wall-clock metrics: they vary between identical evaluations, so they are kept out of
the observation and masked by :func:`archgym.check_env`'s determinism checks."""

__all__ = [
    "CHECKPOINT_MISSING",
    "CONTINUED_FROM",
    "Backend",
    "DesignEnv",
    "EvalContext",
    "Fidelity",
    "InfeasibleDesign",
]

CONTINUED_FROM = "continued_from"
"""Metric of an env with a continuable fidelity: the fidelity the evaluation resumed from (its
checkpoint's), 0 where it trained from scratch. The loop charges only the increment."""
CHECKPOINT_MISSING = "checkpoint_missing"
"""Metric of an env with a continuable fidelity: 1 where the evaluation was asked to continue but
found no checkpoint (another worker's machine, a copied run directory) and so trained from
scratch, else 0."""


class InfeasibleDesign(Exception):
    """Raised by :meth:`DesignEnv.evaluate` for an evaluation that ran but is not a valid result
    (non-convergence, a violated physical limit). ``metrics`` keeps what was measured."""

    def __init__(self, message: str, metrics: Mapping[str, float] | None = None) -> None:
        super().__init__(message)
        self.metrics = dict(metrics or {})


@dataclass(frozen=True)
class Fidelity:
    """A per-evaluation fidelity knob (training epochs, simulation steps, …).

    Chosen through ``env.reset(options={"fidelity": value})``; recorded with every evaluation.
    ``cost`` of an evaluation at fidelity ``v`` is ``v / high`` full evaluations.

    ``continuable``: an evaluation at ``v`` can resume one of the same design at a lower ``u``
    from its checkpoint (training whose lower fidelities are prefixes of the full run), and then
    costs ``(v - u) / high`` (see :mod:`archgym.env.checkpoints`). ``levels``: the only legal
    values, lowest first, ending at ``high`` (a fidelity of discrete levels, such as the backend
    ladder proxy → simulator, where each level's value is its cost).
    """

    name: str
    low: float
    high: float
    default: float
    integer: bool = False
    continuable: bool = False
    levels: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not self.low <= self.default <= self.high:
            raise ValueError(f"Fidelity {self.name!r}: need low <= default <= high")
        if self.levels is not None:
            levels = tuple(float(v) for v in self.levels)
            if (
                not levels
                or list(levels) != sorted(set(levels))
                or levels[0] != self.low
                or levels[-1] != self.high
                or self.default not in levels
            ):
                raise ValueError(
                    f"Fidelity {self.name!r}: levels must rise strictly from low to high and hold "
                    f"the default, got {self.levels!r}"
                )
            object.__setattr__(self, "levels", levels)

    def validate(self, value: Any) -> float | int:
        ok = isinstance(value, int | float | np.number) and not isinstance(value, bool)
        if ok and self.integer:
            ok = float(value).is_integer()
        if ok and self.levels is not None:
            ok = float(value) in self.levels
        if not ok or not self.low <= value <= self.high:
            kind = "integer" if self.integer else "real"
            legal = list(self.levels) if self.levels is not None else f"{kind} in [{self.low}, {self.high}]"
            raise ValueError(f"fidelity {self.name!r}: {value!r} is not legal; legal values: {legal}")
        return int(value) if self.integer else float(value)

    def cost(self, value: float, continued_from: float | None = None) -> float:
        """Full evaluations an evaluation at ``value`` costs; resumed from ``continued_from``
        (a continuable fidelity), only the increment."""
        start = float(continued_from) if continued_from and self.continuable else 0.0
        return max(float(value) - start, 0.0) / float(self.high)


class EvalContext:
    """What :meth:`DesignEnv.evaluate` gets besides the design.

    ``workdir`` is a fresh private directory, created on first access and deleted after the
    evaluation, so simulators that write files never share mutable state across parallel runs.

    Continuation (envs with a continuable fidelity): ``checkpoints`` is the run's
    :class:`~archgym.env.checkpoints.CheckpointStore` (None: no run directory, nothing is kept)
    and ``continue_from`` the lower fidelity this design was evaluated at before, whose checkpoint
    the evaluation should resume (None: train from scratch). The env calls :meth:`resume_state`
    and :meth:`keep_state`; the base records what happened (``continued_from``,
    ``checkpoint_missing``).
    """

    def __init__(
        self,
        *,
        fidelity: float | int | None,
        rng: np.random.Generator,
        step: int,
        continue_from: float | int | None = None,
        checkpoints: CheckpointStore | None = None,
    ):
        self.fidelity = fidelity
        self.rng = rng
        self.step = step
        self.continue_from = continue_from
        self.checkpoints = checkpoints
        self.continued_from: float | int | None = None
        """Set by :meth:`resume_state` when a checkpoint was found."""
        self.checkpoint_missing = False
        """Set by :meth:`resume_state` when one was asked for but not found."""
        self._workdir: Path | None = None

    def resume_state(self, design: Design) -> dict[str, Any] | None:
        """The state ``design``'s evaluation at ``continue_from`` kept, or None: not asked to
        continue, or the checkpoint is missing (then :attr:`checkpoint_missing` is set, and the
        env trains from scratch)."""
        if self.continue_from is None:
            return None
        state = None if self.checkpoints is None else self.checkpoints.load(design, self.continue_from)
        if state is None:
            self.checkpoint_missing = True
            return None
        self.continued_from = self.continue_from
        return state

    def keep_state(self, design: Design, state: Mapping[str, Any]) -> None:
        """Keep ``state`` as ``design``'s checkpoint at this evaluation's fidelity, for a later
        evaluation to continue (nothing is kept without a checkpoint store)."""
        if self.checkpoints is not None and self.fidelity is not None:
            self.checkpoints.save(design, self.fidelity, state)

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="archgym-eval-"))
        return self._workdir

    def cleanup(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


class DesignEnv(gym.Env[np.ndarray, dict[str, Any]]):
    """Base class of archgym problems; subclasses implement :meth:`evaluate`.

    Args:
        design_space: the parameters an agent chooses.
        metrics: metric name → unit, in the order the observation carries them.
        objective: how metrics become the reward (and the infeasible penalty).
        fidelity: the env's fidelity knob, if it has one.
        episode_length: evaluations per episode (1: one-shot design problems; more for
            sequence problems an RL agent solves step by step).
        backend: the label ``info["backend"]`` carries while the env answers itself (default
            ``"simulator"``).

    Every subclass's constructor gets, with no code of its own:

    * **Backends.** ``gymnasium.make(ID, backend=NAME, **options)`` builds the env as usual, then
      answers its evaluations with the registered backend ``NAME`` — a learned proxy
      (``backend="proxy", model=PATH, trust_model=True``), a lookup table, a third-party one —
      keeping the spaces and the objective; ``info["backend"]`` and every record say ``NAME``
      (see :mod:`archgym.env.backends`). :meth:`evaluate_on` evaluates a design on any backend of
      the same instance.
    * **Checked arguments.** A misspelt keyword is a ``ValueError`` that names it, suggests the
      closest legal one and lists them all; the arguments declared in :attr:`arguments` are
      validated like design parameters. :attr:`constructor_kwargs` holds what the env was
      built with, defaults filled in.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 - Gymnasium's convention
    optimal_reward: float | None = None
    """Best achievable reward where it is known (analytic problems): lets reports show regret."""
    reference_point: np.ndarray | None = None
    """Hypervolume reference point in reward units (multi-objective envs)."""
    test_kwargs: dict[str, Any] | None = None
    """Constructor arguments that turn this env into its *test* counterpart (e.g. disjoint test
    seeds, as HPO practice demands). When set, a run re-evaluates its best design in that env at
    the end and reports tuned and test results side by side (``summary.json["test"]``)."""

    arguments: ClassVar[tuple[Parameter, ...]] = ()
    """Constructor arguments validated by the base before ``__init__`` runs, declared with the
    design-space parameter types (``Integer("channels", 1, 4096)``, ``Categorical("dataset",
    [...])``); None stays legal where it is the argument's default."""
    simulator_packages: ClassVar[tuple[str, ...]] = ()
    """Distributions behind the env's own :meth:`evaluate` (``("pyamg", "scipy")``): their versions
    are what :meth:`versions` records with every run."""
    constructor_kwargs: dict[str, Any]
    """The arguments this env was constructed with, defaults filled in (set by the base)."""
    statistic_names: tuple[str, ...] = ()
    """Names of the env's *free statistics*: cheap, deterministic numbers of a design computed
    without running the simulator (an analytic cycle count, a parameter count, FLOPs), returned
    by :meth:`statistics`. Records and datasets carry them as ``stat.<name>`` columns, and proxies
    use them as features and for pretraining (FBNetV3): they are what a cost model gets for free.
    Set per instance where they depend on constructor arguments (one per layer of a workload)."""
    statistic_estimates: dict[str, str] = {}  # noqa: RUF012 - read-only default, set per env
    """Metric → the statistic that is its analytic estimate (``{"cycles": "compute_cycles"}``):
    a proxy may model the metric relative to it (``log(cycles / compute_cycles)``)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            init = cls.__dict__["__init__"]
            cls._init_signature = inspect.signature(init)
            cls.__init__ = _with_common_arguments(init)  # type: ignore[method-assign]

    @classmethod
    def complete_kwargs(cls, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """``kwargs`` with this env's constructor defaults filled in: two sets of arguments that
        build the same env compare equal (a proxy's training kwargs against an env's)."""
        return arguments.complete(cls._init_signature, (), kwargs)

    def __init__(
        self,
        *,
        design_space: DesignSpace,
        metrics: Mapping[str, str],
        objective: ObjectiveSpec,
        fidelity: Fidelity | None = None,
        episode_length: int = 1,
        backend: Backend = "simulator",
        outcome_constraints: Sequence[OutcomeConstraint] = (),
    ) -> None:
        missing = [m for m in objective.metrics if m not in metrics]
        if missing:
            raise ValueError(f"objective uses undeclared metric(s) {missing}; declared: {list(metrics)}")
        if episode_length < 1:
            raise ValueError(f"episode_length must be >= 1, got {episode_length}")
        self.design_space = design_space
        self.metric_units = dict(metrics)
        if fidelity is not None and fidelity.continuable:  # where each evaluation started
            clash = [m for m in (CONTINUED_FROM, CHECKPOINT_MISSING) if m in self.metric_units]
            if clash:
                raise ValueError(f"metrics {clash} are the base's own for a continuable fidelity")
            self.metric_units.update({CONTINUED_FROM: fidelity.name, CHECKPOINT_MISSING: "1"})
        self.objective = objective
        self.outcome_constraints: tuple[OutcomeConstraint, ...] = ()
        """Bounds on metrics an evaluation must meet to be feasible (declared by the env, added
        or tightened by the user's ``outcome_constraints=`` at make time)."""
        self.add_outcome_constraints(outcome_constraints)
        self.fidelity = fidelity
        self.episode_length = episode_length
        self.backend: Backend = backend
        self.action_space = design_space.action_space()
        # Wall-clock metrics (unit "s") are not a function of the design, so they stay out of
        # the observation; everything else the last evaluation measured is in it.
        # Nor is where an evaluation resumed from (continuation): a fact of the run, not the design.
        self.observed_metrics = [
            m
            for m, unit in self.metric_units.items()
            if unit != TIME_UNIT and m not in (CONTINUED_FROM, CHECKPOINT_MISSING)
        ]
        self.observation_space = spaces.Box(
            -np.inf, np.inf, shape=(len(self.observed_metrics),), dtype=np.float64
        )
        self.reward_space = objective.reward_space
        self._fidelity_value = fidelity.default if fidelity is not None else None
        self._continue_from: float | int | None = None
        self._checkpoints: CheckpointStore | None = None
        self._steps = 0
        self._last_metrics: dict[str, float] = {}
        self.active_backend: Any = None
        """The evaluator of the backend answering :meth:`step` (None: the env itself)."""
        self._evaluators: dict[str, Any] = {}

    # --- to implement ----------------------------------------------------------------------
    def evaluate(self, design: Design, context: EvalContext) -> Mapping[str, float]:
        """Evaluate one validated design and return its metrics (raw units).

        Raise :class:`InfeasibleDesign` (or any exception) for a failed evaluation.
        """
        raise NotImplementedError

    def statistics(self, design: Design) -> dict[str, float]:
        """The free statistics of a valid ``design``, one value per name in
        :attr:`statistic_names`: deterministic and cheap (no simulator call), so a proxy can
        compute them for every design it serves. None declared: ``{}``."""
        return {}

    def pareto_front(self, n_points: int) -> np.ndarray | None:
        """``n_points`` points of the true Pareto front in reward units, where it is known."""
        return None

    def versions(self) -> dict[str, str]:
        """Versions of what answers this env's evaluations, recorded with every run: the
        :attr:`simulator_packages`, or the active backend's own where it declares them."""
        declared = getattr(self.active_backend, "versions", None)
        if declared is not None:
            return dict(declared())
        found = {}
        for package in self.simulator_packages:
            try:
                found[package] = version(package)
            except PackageNotFoundError:
                found[package] = "not installed"
        return found

    # --- Gymnasium API -----------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; ``options={"fidelity": v}`` sets the fidelity for its evaluations.

        Envs that can continue evaluations (:attr:`continuable`) also take ``"checkpoints"`` (a
        folder where evaluations keep their checkpoints; an absolute path) and ``"continue_from"``
        (a lower fidelity at which this episode's design was evaluated before, with the same
        checkpoint folder: resume from its checkpoint instead of training from scratch)."""
        super().reset(seed=seed)
        options = dict(options or {})
        fidelity_value = options.pop("fidelity", None)
        continue_from = options.pop("continue_from", None)
        checkpoints = options.pop("checkpoints", None)
        if options:
            raise ValueError(
                f"unknown reset option(s) {sorted(options)}; legal options: "
                "['fidelity', 'continue_from', 'checkpoints']"
            )
        if fidelity_value is not None and self.fidelity is None:
            raise ValueError(f"{type(self).__name__} has no fidelity; reset option 'fidelity' is not legal")
        if (continue_from is not None or checkpoints is not None) and not self.continuable:
            raise ValueError(
                f"{type(self).__name__} can't continue evaluations (no continuable fidelity); reset "
                "options 'continue_from' and 'checkpoints' are not legal"
            )
        if self.fidelity is not None:
            self._fidelity_value = (
                self.fidelity.default if fidelity_value is None else self.fidelity.validate(fidelity_value)
            )
        if continue_from is not None:
            assert self.fidelity is not None
            continue_from = self.fidelity.validate(continue_from)
            if not continue_from < self._fidelity_value:  # type: ignore[operator]
                raise ValueError(
                    f"continue_from: {continue_from!r} is not legal; legal values: fidelities below "
                    f"this episode's {self._fidelity_value!r}"
                )
        if checkpoints is not None and not isinstance(checkpoints, str | os.PathLike):
            raise ValueError(f"checkpoints: {checkpoints!r} is not legal; legal values: a folder path")
        self._continue_from = continue_from
        self._checkpoints = None if checkpoints is None else CheckpointStore(checkpoints)
        self._steps = 0
        self._last_metrics = {}
        return self.observe(), {}

    def step(self, action: dict[str, Any]) -> tuple[np.ndarray, Reward, bool, bool, dict[str, Any]]:
        # Values outside the action space raise ValueError naming the parameter. A forbidden
        # combination is a legal action (a product space can't exclude it) but not a legal
        # design: it is an infeasible evaluation, so RL agents can learn to avoid it.
        design = self.design_space.from_action(action, check=False)
        context = EvalContext(
            fidelity=self._fidelity_value,
            rng=self.np_random,
            step=self._steps,
            continue_from=self._continue_from if self._steps == 0 else None,
            checkpoints=self._checkpoints,
        )
        error: str | None = None
        start = time.perf_counter()
        try:
            violated = self.design_space.violated(design)
            if violated:
                raise InfeasibleDesign(
                    "forbidden combination: violates " + "; ".join(repr(c.description) for c in violated)
                )
            evaluate = self.evaluate if self.active_backend is None else self.active_backend.evaluate
            metrics = dict(evaluate(design, context))
        except InfeasibleDesign as exc:
            metrics, error = exc.metrics, str(exc) or "infeasible"
        except (
            Exception,
            SystemExit,
        ) as exc:  # a failing simulator (sys.exit included) is recorded, infeasible
            metrics, error = {}, f"{type(exc).__name__}: {exc}"
        finally:
            context.cleanup()
        eval_time = time.perf_counter() - start
        undeclared = set(metrics) - set(self.metric_units)
        if undeclared:
            raise RuntimeError(
                f"{type(self).__name__}.evaluate returned undeclared metric(s) {sorted(undeclared)}; "
                f"declared: {list(self.metric_units)}"
            )
        if self.continuable:
            metrics[CONTINUED_FROM] = float(context.continued_from or 0)
            metrics[CHECKPOINT_MISSING] = float(context.checkpoint_missing)
        metrics = {m: float(metrics.get(m, math.nan)) for m in self.metric_units}
        violations = self.violations(metrics)
        if error is None and violations:
            broken = [c for c in self.outcome_constraints if not violations[c.name] <= 0]
            if broken:  # NaN (not measured) counts as violated
                error = f"{OUTCOME_VIOLATION}: " + "; ".join(
                    f"{c.describe()} (measured {metrics[c.metric]:g}{_unit(self.metric_units[c.metric])})"
                    for c in broken
                )
        reward: Reward
        if error is None:
            reward = self.objective.reward(metrics)
            finite = math.isfinite(reward) if isinstance(reward, float) else np.all(np.isfinite(reward))
            if not finite:
                error = f"non-finite objective value {reward!r}"
        if error is not None:
            reward = self._penalty()
        self._steps += 1
        self._last_metrics = metrics
        info: dict[str, Any] = {
            "design": dict(design),
            "metrics": dict(metrics),
            "feasible": error is None,
            "eval_time_s": eval_time,
            "backend": self.backend_at(self._fidelity_value),
        }
        if self.fidelity is not None:
            info["fidelity"] = self._fidelity_value
        if violations:
            info["constraints"] = violations
        if error is not None:
            info["error"] = error
        terminated = self._steps >= self.episode_length
        return self.observe(), reward, terminated, False, info

    # --- backends --------------------------------------------------------------------------------
    def use_backend(self, name: Backend, **options: Any) -> None:
        """Answer :meth:`step` with backend ``name`` from now on (what ``gymnasium.make(ID,
        backend=name, **options)`` does); ``"simulator"`` returns to the env's own evaluate and
        its own fidelity."""
        evaluator = None if name == backends.SIMULATOR else self._evaluator(name, options)
        if self.active_backend is None:
            self._own_fidelity = (self.fidelity, self._fidelity_value)
        self.active_backend, self.backend = evaluator, name
        fidelity = getattr(evaluator, "fidelity", None)
        if fidelity is not None:  # the one fidelity a table (say) was made at
            self.fidelity, self._fidelity_value = fidelity, fidelity.default
        elif hasattr(self, "_own_fidelity"):
            self.fidelity, self._fidelity_value = self._own_fidelity

    def use_backend_ladder(self, names: Sequence[Backend], **options: Any) -> None:
        """Answer :meth:`step` with several backends as the levels of a fidelity named
        ``backend``, cheapest first, ending at ``"simulator"`` (what ``gymnasium.make(ID,
        backend=("proxy", "simulator"), **options)`` does): the proxy screens, the simulator
        confirms. Each level's value is its measured cost in simulator evaluations (see
        :class:`~archgym.env.backends.BackendLadder`); ``options`` go to the backends that
        take them. Only for envs without a fidelity of their own."""
        names = backends.check_ladder(names)
        own = self._own_fidelity[0] if self.active_backend is not None else self.fidelity
        if own is not None:
            raise ValueError(
                f"backend: a ladder of backends is the fidelity, but {type(self).__name__} has its own "
                f"({own.name!r}); legal values: a single backend name"
            )
        specs = backends.backend_specs()
        unclaimed = sorted(set(options) - {o for n in names[:-1] for o in specs[n].options})
        if unclaimed:
            raise ValueError(f"backend options {unclaimed} belong to no backend of the ladder {list(names)}")
        evaluators = {
            n: self._evaluator(n, {k: v for k, v in options.items() if k in specs[n].options})
            for n in names[:-1]
        }
        ladder = backends.BackendLadder(self, names, evaluators)
        if self.active_backend is None:
            self._own_fidelity = (self.fidelity, self._fidelity_value)
        self.active_backend, self.backend = ladder, "+".join(names)
        levels = ladder.levels
        self.fidelity = Fidelity("backend", levels[0], levels[-1], levels[-1], levels=levels)
        self._fidelity_value = self.fidelity.default

    def backend_at(self, fidelity: float | int | None) -> Backend:
        """The backend that answers an evaluation at ``fidelity`` (a ladder's level, else the one
        backend :meth:`step` uses)."""
        at = getattr(self.active_backend, "backend_at", None)
        return self.backend if at is None else at(fidelity)

    def evaluate_on(
        self, backend: Backend, design: Design, context: EvalContext | None = None, **options: Any
    ) -> dict[str, float]:
        """The metrics of ``design`` on ``backend`` of this very env instance (``"simulator"``:
        its own :meth:`evaluate`), without stepping or changing what :meth:`step` uses. This is
        the hook for a backend as a fidelity level (proxy → simulator) and for proxy-to-truth
        checks. Each backend is built once per instance and options, then kept. Without a
        ``context``, the evaluation runs at the backend's own fidelity where it has one (a
        table's), else at the env's current one. Failures raise."""
        design = self.design_space.validate(design)
        if backend == backends.SIMULATOR:
            evaluate, fidelity = (
                self.evaluate,
                self._own_fidelity[1] if self.active_backend else self._fidelity_value,
            )
        else:
            evaluator = self._evaluator(backend, options)
            own = getattr(evaluator, "fidelity", None)
            evaluate, fidelity = evaluator.evaluate, own.default if own is not None else self._fidelity_value
        made = context is None
        if context is None:
            context = EvalContext(fidelity=fidelity, rng=self.np_random, step=self._steps)
        try:
            return {m: float(v) for m, v in evaluate(design, context).items()}
        finally:
            if made:
                context.cleanup()

    def _evaluator(self, name: Backend, options: Mapping[str, Any]) -> Any:
        key = f"{name}:{sorted(options.items())!r}"
        if key not in self._evaluators:
            self._evaluators[key] = backends.build(self, name, self.constructor_kwargs, options)
        return self._evaluators[key]

    # --- helpers -----------------------------------------------------------------------------
    def observe(self) -> np.ndarray:
        """The observation: the last evaluation's metrics except wall-clock times (0 before the
        first evaluation and where missing). Sequence envs override this to add the next
        instance's context.
        """
        last = self._last_metrics
        return np.array(
            [v if math.isfinite(v := last.get(m, 0.0)) else 0.0 for m in self.observed_metrics],
            dtype=np.float64,
        )

    def _penalty(self) -> Reward:
        penalty = self.objective.penalty
        return penalty.copy() if isinstance(penalty, np.ndarray) else float(penalty)

    @property
    def n_objectives(self) -> int:
        return self.objective.n_objectives

    def simulated_duration(
        self, design: Mapping[str, Any], fidelity: float | int | None, metrics: Mapping[str, float]
    ) -> float | None:
        """Seconds this evaluation would have taken, for the simulated clock (``--simulate-time``);
        None: not declared (such an env is refused under the simulated clock).

        Override it with what the problem knows — a recorded training time, a cost model. The
        default is the active backend's own ``simulated_duration``, if it has one (a table's
        recorded times, a proxy's measured evaluation time)."""
        hook = getattr(self.active_backend, "simulated_duration", None)
        return None if hook is None else hook(design, fidelity, metrics)

    def declares_duration(self) -> bool:
        """Whether :meth:`simulated_duration` answers (checked before a simulated run starts)."""
        own = type(self).simulated_duration is not DesignEnv.simulated_duration
        return own or hasattr(self.active_backend, "simulated_duration")

    def add_outcome_constraints(self, given: Mapping[str, Any] | Sequence[OutcomeConstraint] | None) -> None:
        """Add constraints, or tighten declared ones (``{"energy": ("<=", 1e6)}`` or
        :class:`OutcomeConstraint` objects); a metric the env does not declare is refused."""
        merged = merge_outcome_constraints(self.outcome_constraints, given)
        for constraint in merged:
            if constraint.metric not in self.metric_units:
                raise ValueError(
                    f"outcome_constraints: metric {constraint.metric!r} is not legal for "
                    f"{type(self).__name__}; legal values: {list(self.metric_units)}"
                )
        names = [c.name for c in merged]
        if len(set(names)) != len(names):
            raise ValueError(f"outcome_constraints: names must differ, got {names}")
        self.outcome_constraints = merged

    def violations(self, metrics: Mapping[str, float]) -> dict[str, float]:
        """Each outcome constraint's signed violation (<= 0 satisfied; NaN: not measured)."""
        return {c.name: c.violation(metrics) for c in self.outcome_constraints}

    @property
    def continuable(self) -> bool:
        """Whether an evaluation can resume one of the same design at a lower fidelity (its
        fidelity is declared ``continuable`` and the env answers itself, not a backend)."""
        return self.fidelity is not None and self.fidelity.continuable and self.active_backend is None

    def fidelity_cost(self, value: float | None, continued_from: float | None = None) -> float:
        """Cost of one evaluation at ``value``, in full-fidelity evaluations; resumed from a
        checkpoint at ``continued_from``, only the increment."""
        if self.fidelity is None or value is None:
            return 1.0
        return self.fidelity.cost(value, continued_from)


def _unit(unit: str) -> str:
    return "" if unit in ("", "1") else f" {unit}"


def _with_common_arguments(init: Any) -> Any:
    """Wrap a subclass ``__init__`` so every env checks its arguments and takes ``backend=`` and
    the registered backends' options, once, in the outermost constructor call. A subclass that
    declares its own ``backend`` parameter still receives the values no registered backend
    claims."""
    signature = inspect.signature(init)
    own_backend = "backend" in signature.parameters
    own_constraints = "outcome_constraints" in signature.parameters  # the base's own __init__

    @functools.wraps(init)
    def __init__(self: DesignEnv, *args: Any, **kwargs: Any) -> None:
        if self.__dict__.get("_constructing"):  # a subclass's super().__init__(…): checked already
            init(self, *args, **kwargs)
            return
        self.__dict__["_constructing"] = True
        try:
            owner = type(self).__name__
            claimed = backends.backend_options()
            backend = kwargs.get("backend", backends.SIMULATOR)
            ladder = backends.check_ladder(backend) if isinstance(backend, list | tuple) else None
            registered = ladder is not None or (
                isinstance(backend, str)
                and (backend == backends.SIMULATOR or backend in backends.backend_specs())
            )
            if not registered and not own_backend:
                legal = [backends.SIMULATOR, *sorted(backends.backend_specs())]
                raise ValueError(
                    f"backend: {backend!r} is not legal for {owner}; legal values: {legal}, or a "
                    "ladder of them as a fidelity (['proxy', 'simulator'])"
                )
            if registered:
                kwargs.pop("backend", None)
            options = {k: kwargs.pop(k) for k in list(kwargs) if k in claimed}
            for option in options:
                if claimed[option] != backend and (ladder is None or claimed[option] not in ladder):
                    raise ValueError(f"{option} is only legal with backend={claimed[option]!r}")
            user_constraints = None if own_constraints else kwargs.pop("outcome_constraints", None)
            arguments.check_names(owner, signature, kwargs, ["backend", "outcome_constraints", *claimed])
            values = arguments.complete(signature, args, kwargs)
            checked = arguments.check_values(owner, type(self).arguments, values, signature)
            kwargs.update({k: v for k, v in checked.items() if k in kwargs})
            values.update(checked)
            init(self, *args, **kwargs)
            self.constructor_kwargs = values
            if user_constraints is not None:
                self.add_outcome_constraints(user_constraints)
            if ladder is not None:
                self.use_backend_ladder(ladder, **options)
            elif registered and backend != backends.SIMULATOR:
                self.use_backend(backend, **options)
        finally:
            del self.__dict__["_constructing"]

    return __init__
