"""The one space-translation module: an archgym :class:`~archgym.spaces.DesignSpace` to another
optimization library's search space, and that library's values back to a design.

Every adapter (Optuna, Nevergrad, pymoo, SMAC through ConfigSpace, and multi-fidelity adapters)
goes through this module, so a parameter kind means the same thing to every library:

* ``Integer``: an integer range ``[low, high]`` (log-scaled when ``log=True``);
* ``Real``: a float range ``[low, high]`` (log-scaled when ``log=True``);
* ``Categorical``: an unordered choice among the values themselves;
* ``Ordinal``: the *index* ``0..n-1`` of the value, as an integer range, so neighbours in the
  list stay neighbours for the library's model (a categorical would lose the order, and CMA-ES
  could not search it at all).

Two parts:

* **library-neutral** (:func:`dimensions`, :func:`to_library`, :func:`from_library`,
  :func:`design_from_full`, :func:`forbidden_rules`): what every adapter needs, whatever the
  library. A library *without* conditional parameters samples every dimension and hands the full
  assignment to :func:`design_from_full`, which drops the inactive ones
  (``DesignSpace.validate`` does the dropping, so there is one rule for it).
* **per library**, each built on the neutral part:

  - ``optuna_*``: Optuna is define-by-run, so conditions need no translation at all:
    :func:`optuna_suggest` suggests the parameters in the space's declared order and skips a
    parameter whose condition does not hold on the values suggested before it (parents are
    declared before their children, so one pass suffices).
  - ``nevergrad_*``: an ``ng.p.Dict`` of ``Scalar``/``Log`` (integer-cast for integer kinds) and
    ``Choice`` parameters; Nevergrad has no conditions, so every parameter is sampled and
    :func:`design_from_full` drops the inactive ones.
  - ``unit_*`` (pymoo, and any library that searches a box of reals): the design space's own
    unit-hypercube encoding (``DesignSpace.to_unit``/``from_unit``, the one the built-in BO and
    evolutionary agents use): a real's position in its (log) range, an integer's or a choice's
    equal-width bin; inactive parameters are decoded and dropped.
  - ``configspace_*`` (SMAC): ConfigSpace hyperparameters with ``EqualsCondition``/``InCondition``
    for conditions, and forbidden clauses for the rules that can be enumerated
    (:func:`configspace_space`).

Forbidden combinations (:class:`~archgym.spaces.Constraint`) are Python predicates, which Optuna,
Nevergrad and pymoo can't express. Designs come back validated *without* them (``check=False``);
:func:`forbidden_rules` names the rules a design breaks, using the space's own check
(``DesignSpace.violated``), and the adapter decides what to tell its library (the Optuna agents
tell a failed trial naming the rule; see :mod:`archgym_agents.optuna_samplers`). A library that
has forbiddens (ConfigSpace) can translate the rules it can express and leave the rest to this
same check.

Library imports happen inside the functions: importing this module (``archgym agents`` lists the
agents whose modules import it) loads no optimization library.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from archgym.spaces import (
    Categorical,
    Constraint,
    Design,
    DesignSpace,
    Integer,
    Ordinal,
    Parameter,
    Real,
)

if TYPE_CHECKING:
    import nevergrad as ng
    from ConfigSpace import Configuration, ConfigurationSpace
    from optuna.distributions import BaseDistribution
    from optuna.trial import BaseTrial

__all__ = [
    "Dimension",
    "configspace_configuration",
    "configspace_design",
    "configspace_space",
    "design_from_full",
    "dimension",
    "dimensions",
    "forbidden_rules",
    "from_library",
    "full_values",
    "nevergrad_design",
    "nevergrad_parametrization",
    "optuna_distribution",
    "optuna_distributions",
    "optuna_params",
    "optuna_suggest",
    "to_library",
    "unit_bounds",
    "unit_design",
    "unit_vector",
]

Kind = Literal["int", "real", "categorical"]


# --- library-neutral part ---------------------------------------------------------------------


@dataclass(frozen=True)
class Dimension:
    """One parameter as a library sees it.

    ``kind``: ``"int"`` (``low..high`` inclusive, Integer parameters and Ordinal indices),
    ``"real"`` (``[low, high]``) or ``"categorical"`` (``choices``). ``log``: search on a log
    scale. ``conditional``: active only for some values of an earlier parameter (libraries
    without conditions still sample it; :func:`design_from_full` drops it when inactive).
    """

    name: str
    kind: Kind
    low: float = 0
    high: float = 0
    log: bool = False
    choices: tuple[Any, ...] = ()
    conditional: bool = False


def dimension(param: Parameter) -> Dimension:
    """The library view of one parameter (see the module table); ``ValueError`` for kinds with
    no search-space meaning (``Text``, an agent hyperparameter only)."""
    conditional = param.condition is not None
    if isinstance(param, Integer):
        return Dimension(param.name, "int", param.low, param.high, param.log, conditional=conditional)
    if isinstance(param, Real):
        return Dimension(param.name, "real", param.low, param.high, param.log, conditional=conditional)
    if isinstance(param, Ordinal):
        return Dimension(param.name, "int", 0, param.n_values - 1, conditional=conditional)
    if isinstance(param, Categorical):
        return Dimension(param.name, "categorical", choices=param.choices, conditional=conditional)
    raise ValueError(
        f"parameter {param.name!r}: {type(param).__name__} has no search-space translation; "
        "legal kinds: Integer, Real, Categorical, Ordinal"
    )


def dimensions(space: DesignSpace) -> list[Dimension]:
    """Every parameter of ``space``, in its declared order (parents before children)."""
    return [dimension(p) for p in space]


def to_library(param: Parameter, value: Any) -> Any:
    """A design value as the library holds it (an ordinal's index; other kinds unchanged)."""
    if isinstance(param, Ordinal):
        return param.index(value)
    return param.validate(value)


def from_library(param: Parameter, value: Any) -> Any:
    """A library value back to the design value (an ordinal index to its value), validated:
    a value out of the parameter's range is a ``ValueError`` naming it."""
    if isinstance(param, Ordinal):
        index = int(value)
        if index != value or not 0 <= index < param.n_values:
            raise ValueError(
                f"parameter {param.name!r}: {value!r} is not an index in [0, {param.n_values - 1}] "
                f"into {param.legal_values()}"
            )
        return param.value_at(index)
    return param.validate(value)


def design_from_full(space: DesignSpace, values: Mapping[str, Any]) -> Design:
    """A design from library values for every parameter (libraries without conditions): the
    values are converted back (:func:`from_library`) and the inactive parameters dropped by
    ``DesignSpace.validate``. Forbidden combinations are not checked (see
    :func:`forbidden_rules`)."""
    converted = {p.name: from_library(p, values[p.name]) for p in space if p.name in values}
    return space.validate(converted, check=False)


def forbidden_rules(space: DesignSpace, design: Mapping[str, Any]) -> list[str]:
    """The descriptions of the forbidden-combination rules ``design`` breaks (empty if legal)."""
    return [c.description for c in space.violated(design)]


def full_values(space: DesignSpace, design: Mapping[str, Any]) -> dict[str, Any]:
    """Library values for *every* parameter of ``space`` (libraries without conditions need one
    for each): the design's own, and each inactive parameter's default. The inverse of
    :func:`design_from_full` on the active parameters."""
    design = space.validate(design, check=False)
    return {p.name: to_library(p, design.get(p.name, p.default_value())) for p in space}


# --- a box of reals (pymoo): the space's own unit hypercube -------------------------------------


def unit_bounds(space: DesignSpace) -> tuple[np.ndarray, np.ndarray]:
    """``(lower, upper)`` of the box a real-vector library searches: ``[0, 1]`` per parameter, the
    design space's own unit encoding (so real ranges in ``[0, 1]`` are searched unchanged)."""
    return np.zeros(len(space)), np.ones(len(space))


def unit_design(space: DesignSpace, x: Sequence[float] | np.ndarray) -> Design:
    """A point of the box to a design (``DesignSpace.from_unit``: bins for integer and choice
    kinds, inactive parameters dropped); forbidden combinations not checked."""
    return space.from_unit(np.asarray(x, dtype=np.float64), check=False)


def unit_vector(space: DesignSpace, design: Mapping[str, Any]) -> np.ndarray:
    """A design as a point of the box (inactive parameters at 0.5), for telling evaluations the
    library did not ask for."""
    return space.to_unit(space.validate(design, check=False))


# --- Nevergrad ----------------------------------------------------------------------------------


def nevergrad_parametrization(space: DesignSpace, seed: int) -> ng.p.Dict:
    """An ``ng.p.Dict`` with one child per parameter, seeded with ``seed`` (Nevergrad's own
    reproducibility recipe: the parametrization's ``random_state``). Integer kinds are
    integer-cast ``Scalar``/``Log`` (Nevergrad's documented integer), categoricals ``Choice``."""
    import nevergrad as ng

    children: dict[str, Any] = {}
    for dim in dimensions(space):
        if dim.kind == "categorical":
            children[dim.name] = ng.p.Choice(list(dim.choices))
            continue
        if dim.log:
            child = ng.p.Log(lower=float(dim.low), upper=float(dim.high))
        else:
            child = ng.p.Scalar(lower=float(dim.low), upper=float(dim.high))
        children[dim.name] = child.set_integer_casting() if dim.kind == "int" else child
    parametrization = ng.p.Dict(**children)
    parametrization.random_state = np.random.RandomState(seed)
    return parametrization


def nevergrad_design(space: DesignSpace, candidate: ng.p.Parameter) -> Design:
    """A Nevergrad candidate (of :func:`nevergrad_parametrization`) back to a design."""
    return design_from_full(space, candidate.value)


# --- ConfigSpace (SMAC) -------------------------------------------------------------------------

MAX_FORBIDDEN_COMBINATIONS = 4096
"""Joint size of the discrete parameters a rule reads, up to which the rule is enumerated into
ConfigSpace forbidden clauses (see :func:`configspace_space`)."""


def configspace_space(space: DesignSpace, seed: int) -> tuple[ConfigurationSpace, list[Constraint]]:
    """The ConfigSpace of ``space``, seeded, and the forbidden-combination rules it could not
    express (still checked with :func:`forbidden_rules`).

    Hyperparameters follow the module table (``UniformInteger``/``UniformFloat``, log where
    declared, ``Categorical``; ordinals as their index). Conditions become ``EqualsCondition``
    (one value) or ``InCondition``. A rule (a Python predicate) is expressed when it reads only
    unconditional discrete parameters whose joint size is at most
    :data:`MAX_FORBIDDEN_COMBINATIONS` (found by recording what the predicate reads): each
    forbidden combination becomes a ``ForbiddenAndConjunction`` of ``ForbiddenEqualsClause``s, so
    SMAC never proposes it. Other rules are left to the space's own check.
    """
    from ConfigSpace import (
        CategoricalHyperparameter,
        ConfigurationSpace,
        EqualsCondition,
        InCondition,
        UniformFloatHyperparameter,
        UniformIntegerHyperparameter,
    )

    cs = ConfigurationSpace(seed=seed)
    for param in space:
        dim = dimension(param)
        default = to_library(param, param.default_value())
        if dim.kind == "int":
            hp: Any = UniformIntegerHyperparameter(
                dim.name, int(dim.low), int(dim.high), log=dim.log, default_value=int(default)
            )
        elif dim.kind == "real":
            hp = UniformFloatHyperparameter(
                dim.name, float(dim.low), float(dim.high), log=dim.log, default_value=float(default)
            )
        else:
            hp = CategoricalHyperparameter(dim.name, list(dim.choices), default_value=default)
        cs.add(hp)
    for param in space:
        if param.condition is None:
            continue
        parent = space[param.condition.parent]
        values = [to_library(parent, v) for v in param.condition.values]
        child, hp_parent = cs[param.name], cs[parent.name]
        cs.add(
            EqualsCondition(child, hp_parent, values[0])
            if len(values) == 1
            else InCondition(child, hp_parent, values)
        )
    left = [rule for rule in space.constraints if not _add_forbiddens(cs, space, rule)]
    return cs, left


def configspace_design(space: DesignSpace, config: Configuration) -> Design:
    """A configuration back to a design (ConfigSpace holds only the active parameters)."""
    values = dict(config)
    design = {p.name: from_library(p, values[p.name]) for p in space if p.name in values}
    return space.validate(design, check=False)


def configspace_configuration(cs: ConfigurationSpace, space: DesignSpace, design: Mapping[str, Any]) -> Any:
    """A design as a configuration of ``cs`` (telling SMAC about evaluations it did not ask for)."""
    from ConfigSpace import Configuration

    design = space.validate(design, check=False)
    return Configuration(cs, values={p.name: to_library(p, design[p.name]) for p in space.active(design)})


class _Reads(dict):  # type: ignore[type-arg]
    """A design that records which parameters a predicate reads."""

    def __init__(self, design: Mapping[str, Any]) -> None:
        super().__init__(design)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


def _reads(rule: Constraint, designs: Iterator[Design]) -> set[str]:
    names: set[str] = set()
    for design in designs:
        probe = _Reads(design)
        rule.allowed(probe)
        names |= probe.read
    return names


def _add_forbiddens(cs: ConfigurationSpace, space: DesignSpace, rule: Constraint) -> bool:
    """Add ``rule`` to ``cs`` as forbidden clauses if it can be enumerated (see
    :func:`configspace_space`); False (``cs`` unchanged) if not."""
    from ConfigSpace import ForbiddenAndConjunction, ForbiddenEqualsClause

    rng = np.random.default_rng(0)
    samples = (space.from_unit(rng.random(len(space)), check=False) for _ in range(32))
    names = sorted(_reads(rule, itertools.chain([space.default()], samples)), key=space.names.index)
    params = [space[n] for n in names if n in space.names]
    if len(params) != len(names) or not params:
        return False
    if any(p.condition is not None or not p.is_discrete for p in params):
        return False
    if int(np.prod([p.n_values for p in params])) > MAX_FORBIDDEN_COMBINATIONS:
        return False
    base = space.default()
    if not rule.allowed(base):  # ConfigSpace refuses clauses that forbid its default configuration
        return False
    forbidden = []
    for combo in itertools.product(*(p.values_list() for p in params)):  # type: ignore[attr-defined]
        probe = _Reads({**base, **dict(zip(names, combo, strict=True))})
        if not rule.allowed(probe):
            forbidden.append(combo)
        if not probe.read <= set(names):  # reads others on some values: not a function of these
            return False
    clauses = []
    for combo in forbidden:
        equals = [
            ForbiddenEqualsClause(cs[p.name], to_library(p, v)) for p, v in zip(params, combo, strict=True)
        ]
        clauses.append(equals[0] if len(equals) == 1 else ForbiddenAndConjunction(*equals))
    cs.add(clauses)
    return True


# --- Optuna -----------------------------------------------------------------------------------


def optuna_distribution(param: Parameter) -> BaseDistribution:
    """The Optuna distribution of one parameter."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    dim = dimension(param)
    if dim.kind == "int":
        return IntDistribution(int(dim.low), int(dim.high), log=dim.log)
    if dim.kind == "real":
        return FloatDistribution(float(dim.low), float(dim.high), log=dim.log)
    return CategoricalDistribution(dim.choices)


def optuna_distributions(space: DesignSpace, design: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Optuna distributions of ``space`` (of the parameters active in ``design`` if given),
    keyed by name in the space's order."""
    params = space if design is None else space.active(design)
    return {p.name: optuna_distribution(p) for p in params}


def optuna_suggest(trial: BaseTrial, space: DesignSpace) -> Design:
    """Suggest a design on ``trial``, define-by-run: each parameter in the space's declared order,
    skipping those whose condition does not hold on the values suggested so far — exactly what a
    hand-written Optuna objective over the same space would do, so a study driven through an
    adapter matches ``study.optimize`` on it. Forbidden combinations are not checked."""
    design: Design = {}
    for param in space:
        if param.condition is not None and not param.condition.holds(design):
            continue
        dim = dimension(param)
        if dim.kind == "int":
            value: Any = trial.suggest_int(param.name, int(dim.low), int(dim.high), log=dim.log)
        elif dim.kind == "real":
            value = trial.suggest_float(param.name, float(dim.low), float(dim.high), log=dim.log)
        else:
            value = trial.suggest_categorical(param.name, dim.choices)
        design[param.name] = from_library(param, value)
    return space.validate(design, check=False)


def optuna_params(space: DesignSpace, design: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(params, distributions)`` of a design for ``optuna.trial.create_trial`` (telling Optuna
    about evaluations it did not ask for: a resumed run, a warm start)."""
    design = space.validate(design, check=False)
    params = {p.name: to_library(p, design[p.name]) for p in space.active(design)}
    return params, optuna_distributions(space, design)
