"""The one space-translation module: an archgym :class:`~archgym.spaces.DesignSpace` to another
optimization library's search space, and that library's values back to a design.

Every adapter (Optuna here; Nevergrad, pymoo and SMAC/ConfigSpace later, and multi-fidelity
adapters) goes through this module, so a parameter kind means the same thing to every library:

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
* **per library** (``optuna_*`` below): Optuna is define-by-run, so conditions need no
  translation at all: :func:`optuna_suggest` suggests the parameters in the space's declared
  order and skips a parameter whose condition does not hold on the values suggested before it
  (parents are declared before their children, so one pass suffices). An adapter for another
  library adds its ``<library>_*`` functions next to these, built on the neutral part.

Forbidden combinations (:class:`~archgym.spaces.Constraint`) are Python predicates, which Optuna
can't express. Designs come back validated *without* them (``check=False``);
:func:`forbidden_rules` names the rules a design breaks, using the space's own check
(``DesignSpace.violated``), and the adapter decides what to tell its library (the Optuna agents
tell a failed trial naming the rule; see :mod:`archgym_agents.optuna_samplers`). A library that
has forbiddens (ConfigSpace) can translate the rules it can express and leave the rest to this
same check.

Library imports happen inside the functions: importing this module (``archgym agents`` lists the
agents whose modules import it) loads no optimization library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from archgym.spaces import Categorical, Design, DesignSpace, Integer, Ordinal, Parameter, Real

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.trial import BaseTrial

__all__ = [
    "Dimension",
    "design_from_full",
    "dimension",
    "dimensions",
    "forbidden_rules",
    "from_library",
    "optuna_distribution",
    "optuna_distributions",
    "optuna_params",
    "optuna_suggest",
    "to_library",
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
