"""Design spaces: one declaration, every encoding an agent needs.

A :class:`DesignSpace` is an ordered list of typed parameters (integer, real, categorical,
ordinal), optional activation conditions and forbidden combinations. From it come

* the *named* Gymnasium action space (a ``Dict``) that a :class:`~archgym.env.DesignEnv` accepts,
* the unit-hypercube encoding used by Bayesian and evolutionary agents,
* the ``MultiDiscrete``/``Box`` view used by stable-baselines3,
* sampling that respects conditions and constraints, and validation with errors that name the
  parameter and its legal values.

A *design* is a plain ``dict`` mapping the names of the **active** parameters to Python values
(``int``, ``float`` or the categorical/ordinal value itself). Inactive conditional parameters are
absent from the design.

Example:
    >>> space = DesignSpace([
    ...     Real("lr", 1e-4, 1e-1, log=True),
    ...     Categorical("solver", ["sa", "rs"]),
    ...     Integer("presmooth", 1, 4, condition=Condition("solver", ["sa"])),
    ... ])
    >>> design = space.sample(np.random.default_rng(0))
    >>> space.from_unit(space.to_unit(design)) == design
    True
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces

Design = dict[str, Any]
DesignKey = tuple[tuple[str, Any], ...]


def design_key(design: Design) -> DesignKey:
    """A hashable, order-independent key of a design (its parameters sorted by name): the one way
    agents and samplers tell whether a design was seen before."""
    return tuple(sorted(design.items()))


__all__ = [
    "Categorical",
    "Condition",
    "Constraint",
    "Design",
    "DesignKey",
    "DesignSpace",
    "Integer",
    "Ordinal",
    "Parameter",
    "Real",
    "Text",
    "design_key",
]


@dataclass(frozen=True)
class Condition:
    """Activates a parameter only while ``parent`` takes one of ``values``."""

    parent: str
    values: tuple[Hashable, ...]

    def __init__(self, parent: str, values: Sequence[Hashable]) -> None:
        object.__setattr__(self, "parent", parent)
        object.__setattr__(self, "values", tuple(values))

    def holds(self, design: Mapping[str, Any]) -> bool:
        return self.parent in design and design[self.parent] in self.values


@dataclass(frozen=True)
class Constraint:
    """A forbidden-combination rule: ``allowed(design)`` must be true for a legal design.

    ``description`` is what the error message shows, e.g. ``"batch_size <= n_steps"``. The
    predicate sees only active parameters; use a module-level function so spaces stay picklable.
    """

    description: str
    allowed: Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True, kw_only=True)
class Parameter:
    """Common part of all parameter types. Not instantiated directly."""

    name: str
    condition: Condition | None = None

    # --- per-type behaviour, overridden below -------------------------------------------------
    @property
    def is_discrete(self) -> bool:
        return True

    @property
    def n_values(self) -> int:
        """Number of discrete values (only for discrete parameters)."""
        raise NotImplementedError

    def legal_values(self) -> str:
        raise NotImplementedError

    def validate(self, value: Any) -> Any:
        """Return ``value`` as the canonical Python type or raise ``ValueError``."""
        raise NotImplementedError

    def default_value(self) -> Any:
        raise NotImplementedError

    def to_unit(self, value: Any) -> float:
        raise NotImplementedError

    def from_unit(self, u: float) -> Any:
        raise NotImplementedError

    def parse(self, text: str) -> Any:
        """A value from its command-line spelling (``"8"``, ``"0.5"``, ``"rbf"``, ``"true"``)."""
        try:
            return self.validate(json.loads(text))
        except (ValueError, TypeError):
            return self.validate(text)

    def _error(self, value: Any) -> ValueError:
        return ValueError(
            f"parameter {self.name!r}: {value!r} is out of the design space; "
            f"legal values: {self.legal_values()}"
        )


class _IndexedParameter(Parameter):
    """A parameter with finitely many values, encoded by their index."""

    def values_list(self) -> list[Any]:
        raise NotImplementedError

    def index(self, value: Any) -> int:
        raise NotImplementedError

    def value_at(self, index: int) -> Any:
        """The value with index ``index`` (``0 <= index < n_values``)."""
        return self.values_list()[index]

    @property
    def n_values(self) -> int:
        return len(self.values_list())

    def to_unit(self, value: Any) -> float:
        # The centre of the value's bin, so decoding is exact and every bin is equally wide.
        return (self.index(value) + 0.5) / self.n_values

    def from_unit(self, u: float) -> Any:
        i = min(int(np.clip(u, 0.0, 1.0) * self.n_values), self.n_values - 1)
        return self.value_at(i)


@dataclass(frozen=True, kw_only=True)
class _IntegerFields:
    low: int
    high: int
    log: bool = False
    default: int | None = None


@dataclass(frozen=True)
class Integer(_IntegerFields, _IndexedParameter):
    """Integers ``low..high`` inclusive; ``log=True`` spaces the unit encoding logarithmically."""

    def __init__(
        self,
        name: str,
        low: int,
        high: int,
        *,
        log: bool = False,
        default: int | None = None,
        condition: Condition | None = None,
    ) -> None:
        if int(low) != low or int(high) != high or low > high:
            raise ValueError(f"Integer {name!r}: need integer bounds low <= high, got {low}, {high}")
        if log and low < 1:
            raise ValueError(f"Integer {name!r}: log=True needs low >= 1, got {low}")
        for key, val in dict(
            name=name, low=int(low), high=int(high), log=log, default=default, condition=condition
        ).items():
            object.__setattr__(self, key, val)
        if default is not None:
            object.__setattr__(self, "default", self.validate(default))

    def values_list(self) -> list[int]:
        return list(range(self.low, self.high + 1))

    def value_at(self, index: int) -> int:
        return self.low + index  # no list: integer ranges can be huge

    @property
    def n_values(self) -> int:
        return self.high - self.low + 1

    def legal_values(self) -> str:
        return f"integers in [{self.low}, {self.high}]"

    def validate(self, value: Any) -> int:
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer | float):
            raise self._error(value)
        if isinstance(value, float) and not value.is_integer():
            raise self._error(value)
        if not self.low <= value <= self.high:
            raise self._error(value)
        return int(value)

    def index(self, value: Any) -> int:
        return self.validate(value) - self.low

    def default_value(self) -> int:
        if self.default is not None:
            return self.default
        if self.log:
            return round(math.sqrt(self.low * self.high))
        return (self.low + self.high) // 2

    def to_unit(self, value: Any) -> float:
        if not self.log:
            return super().to_unit(value)
        lo, hi = math.log(self.low - 0.5 if self.low > 1 else 0.5), math.log(self.high + 0.5)
        return (math.log(self.validate(value)) - lo) / (hi - lo)

    def from_unit(self, u: float) -> int:
        if not self.log:
            return super().from_unit(u)
        lo, hi = math.log(self.low - 0.5 if self.low > 1 else 0.5), math.log(self.high + 0.5)
        value = round(math.exp(lo + float(np.clip(u, 0.0, 1.0)) * (hi - lo)))
        return min(max(value, self.low), self.high)


@dataclass(frozen=True, kw_only=True)
class _RealFields:
    low: float
    high: float
    log: bool = False
    default: float | None = None


@dataclass(frozen=True)
class Real(_RealFields, Parameter):
    """Reals in ``[low, high]``; ``log=True`` encodes (and samples) on a log scale."""

    def __init__(
        self,
        name: str,
        low: float,
        high: float,
        *,
        log: bool = False,
        default: float | None = None,
        condition: Condition | None = None,
    ) -> None:
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"Real {name!r}: need finite bounds low < high, got {low}, {high}")
        if log and low <= 0:
            raise ValueError(f"Real {name!r}: log=True needs low > 0, got {low}")
        for key, val in dict(
            name=name, low=float(low), high=float(high), log=log, default=default, condition=condition
        ).items():
            object.__setattr__(self, key, val)
        if default is not None:
            object.__setattr__(self, "default", self.validate(default))

    @property
    def is_discrete(self) -> bool:
        return False

    @property
    def n_values(self) -> int:
        raise TypeError(f"Real parameter {self.name!r} has no finite number of values")

    def legal_values(self) -> str:
        scale = ", log scale" if self.log else ""
        return f"reals in [{self.low}, {self.high}]{scale}"

    def validate(self, value: Any) -> float:
        if isinstance(value, bool | np.bool_ | np.complexfloating) or not isinstance(
            value, int | float | np.number
        ):
            raise self._error(value)
        try:
            value = float(value)
        except (OverflowError, TypeError):  # an int beyond float range (10**400), a complex numpy scalar
            raise self._error(value) from None
        if not (self.low <= value <= self.high):  # also rejects NaN
            raise self._error(value)
        return value

    def default_value(self) -> float:
        if self.default is not None:
            return self.default
        return math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2

    def to_unit(self, value: Any) -> float:
        value = self.validate(value)
        if self.log:
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (value - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float:
        u = float(np.clip(u, 0.0, 1.0))
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            value = math.exp(lo + u * (hi - lo))
        else:
            value = self.low + u * (self.high - self.low)
        return min(max(value, self.low), self.high)


def _check_choices(kind: str, name: str, values: Sequence[Any]) -> tuple[Any, ...]:
    values = tuple(values)
    if not values:
        raise ValueError(f"{kind} {name!r}: needs at least one value")
    if len(set(values)) != len(values):
        raise ValueError(f"{kind} {name!r}: values must be distinct, got {values}")
    kinds = {
        "str"
        if isinstance(v, str)
        else "bool"
        if isinstance(v, bool)
        else "number"
        if isinstance(v, int | float)
        else "other"
        for v in values
    }
    if len(kinds) != 1 or "other" in kinds:
        raise ValueError(
            f"{kind} {name!r}: values must be all strings, all numbers or all booleans "
            f"(one column type in the records), got {values}"
        )
    return values


class _ChoiceParameter(_IndexedParameter):
    """Categorical and ordinal parameters: a finite tuple of values of one kind."""

    def _options(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def _init_choices(
        self, field_name: str, name: str, values: Sequence[Any], default: Any, condition: Condition | None
    ) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, field_name, _check_choices(type(self).__name__, name, values))
        object.__setattr__(self, "condition", condition)
        object.__setattr__(self, "default", None if default is None else self.validate(default))

    def values_list(self) -> list[Any]:
        return list(self._options())

    def legal_values(self) -> str:
        return f"one of {list(self._options())}"

    def validate(self, value: Any) -> Any:
        if isinstance(value, np.generic):
            value = value.item()
        for option in self._options():  # 1 == 1.0 is the same number, but True is never 1
            if value == option and isinstance(value, bool) == isinstance(option, bool):
                return option
        raise self._error(value)

    def index(self, value: Any) -> int:
        return self._options().index(self.validate(value))


@dataclass(frozen=True, kw_only=True)
class _ChoiceFields:
    choices: tuple[Any, ...]
    default: Any = None


@dataclass(frozen=True)
class Categorical(_ChoiceFields, _ChoiceParameter):
    """An unordered choice; agents must not assume any distance between choices."""

    def __init__(
        self, name: str, choices: Sequence[Any], *, default: Any = None, condition: Condition | None = None
    ) -> None:
        self._init_choices("choices", name, choices, default, condition)

    def _options(self) -> tuple[Any, ...]:
        return self.choices

    def default_value(self) -> Any:
        return self.choices[0] if self.default is None else self.default


@dataclass(frozen=True, kw_only=True)
class _OrdinalFields:
    values: tuple[Any, ...]
    default: Any = None


@dataclass(frozen=True)
class Ordinal(_OrdinalFields, _ChoiceParameter):
    """An ordered set of values, e.g. powers of two; neighbours in the list are 'close'."""

    def __init__(
        self, name: str, values: Sequence[Any], *, default: Any = None, condition: Condition | None = None
    ) -> None:
        self._init_choices("values", name, values, default, condition)

    def _options(self) -> tuple[Any, ...]:
        return self.values

    def default_value(self) -> Any:
        return self.values[len(self.values) // 2] if self.default is None else self.default


@dataclass(frozen=True, kw_only=True)
class _TextFields:
    default: str = ""


@dataclass(frozen=True)
class Text(_TextFields, Parameter):
    """A free-form string option, for agent hyperparameters such as ``measures="x1,x2"``.

    It has no encoding, so it is never part of an env's design space.
    """

    def __init__(self, name: str, *, default: str = "", condition: Condition | None = None) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "condition", condition)
        object.__setattr__(self, "default", self.validate(default))

    def legal_values(self) -> str:
        return "a string"

    def parse(self, text: str) -> str:
        return text

    def validate(self, value: Any) -> str:
        if not isinstance(value, str):
            raise self._error(value)
        return value

    def default_value(self) -> str:
        return self.default

    def to_unit(self, value: Any) -> float:
        raise TypeError(f"Text parameter {self.name!r} has no numeric encoding")

    def from_unit(self, u: float) -> str:
        raise TypeError(f"Text parameter {self.name!r} has no numeric encoding")


@dataclass(frozen=True)
class DesignSpace:
    """An ordered collection of parameters with conditions and forbidden combinations.

    Parents of conditional parameters must be declared before their children, so a design can
    be decoded in one left-to-right pass.
    """

    parameters: tuple[Parameter, ...]
    constraints: tuple[Constraint, ...] = field(default=())

    def __init__(self, parameters: Sequence[Parameter], constraints: Sequence[Constraint] = ()) -> None:
        params = tuple(parameters)
        if not params:
            raise ValueError("a DesignSpace needs at least one parameter")
        seen: dict[str, Parameter] = {}
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"not a Parameter: {p!r}")
            if p.name in seen:
                raise ValueError(f"duplicate parameter name {p.name!r}")
            if p.condition is not None:
                parent = seen.get(p.condition.parent)
                if parent is None:
                    raise ValueError(
                        f"parameter {p.name!r}: condition parent {p.condition.parent!r} must be "
                        f"declared before it; declared so far: {list(seen)}"
                    )
                for v in p.condition.values:
                    parent.validate(v)
            seen[p.name] = p
        object.__setattr__(self, "parameters", params)
        object.__setattr__(self, "constraints", tuple(constraints))

    # --- collection protocol ----------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    def __len__(self) -> int:
        return len(self.parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.parameters)

    def __getitem__(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(f"no parameter {name!r}; parameters: {self.names}")

    @property
    def is_discrete(self) -> bool:
        return all(p.is_discrete for p in self.parameters)

    @property
    def size(self) -> int | None:
        """Number of designs ignoring conditions and constraints; None if any parameter is real."""
        if not self.is_discrete:
            return None
        return math.prod(p.n_values for p in self.parameters)

    # --- validation ---------------------------------------------------------------------------
    def active(self, design: Mapping[str, Any]) -> list[Parameter]:
        """The parameters active for ``design`` (conditions evaluated on its values)."""
        return [p for p in self.parameters if p.condition is None or p.condition.holds(design)]

    def validate(self, design: Mapping[str, Any], *, check: bool = True) -> Design:
        """Canonical copy of ``design`` or ``ValueError`` naming the offending parameter.

        Values given for inactive conditional parameters are dropped: agents that work on
        fixed-length vectors always carry them. ``check=False`` skips the forbidden-combination
        rules (each parameter is still checked).
        """
        if not isinstance(design, Mapping):
            raise ValueError(f"a design is a mapping of parameter name to value, got {design!r}")
        unknown = set(design) - set(self.names)
        if unknown:
            raise ValueError(f"unknown parameter(s) {sorted(unknown)}; legal parameters: {self.names}")
        out: Design = {}
        for p in self.parameters:
            if p.condition is not None and not p.condition.holds(out):
                continue
            if p.name not in design:
                raise ValueError(f"parameter {p.name!r} is missing; legal values: {p.legal_values()}")
            out[p.name] = p.validate(design[p.name])
        if check:
            self._check_constraints(out)
        return out

    def violated(self, design: Mapping[str, Any]) -> list[Constraint]:
        return [c for c in self.constraints if not c.allowed(design)]

    def _check_constraints(self, design: Mapping[str, Any]) -> None:
        bad = self.violated(design)
        if bad:
            raise ValueError(
                f"design {dict(design)} is a forbidden combination: violates "
                + "; ".join(repr(c.description) for c in bad)
            )

    def contains(self, design: Mapping[str, Any]) -> bool:
        try:
            self.validate(design)
        except (ValueError, TypeError):
            return False
        return True

    def default(self) -> Design:
        """Every active parameter at its default (must satisfy the constraints)."""
        design: Design = {}
        for p in self.parameters:
            if p.condition is None or p.condition.holds(design):
                design[p.name] = p.default_value()
        return self.validate(design)

    # --- sampling -----------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, *, max_tries: int = 1000) -> Design:
        """A uniformly random legal design (uniform in the unit encoding, rejection for
        forbidden combinations)."""
        for _ in range(max_tries):
            design = self.from_unit(rng.random(len(self.parameters)), check=False)
            if not self.violated(design):
                return design
        raise RuntimeError(
            f"no legal design found in {max_tries} samples; constraints: "
            f"{[c.description for c in self.constraints]}"
        )

    # --- unit hypercube -------------------------------------------------------------------------
    def to_unit(self, design: Mapping[str, Any]) -> np.ndarray:
        """Encode to ``[0, 1]^d``; inactive parameters sit at 0.5 (ignored when decoding)."""
        design = self.validate(design)
        return np.array(
            [p.to_unit(design[p.name]) if p.name in design else 0.5 for p in self.parameters],
            dtype=np.float64,
        )

    def from_unit(self, x: Sequence[float] | np.ndarray, *, check: bool = True) -> Design:
        """Decode a point of ``[0, 1]^d`` (values outside are clipped)."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (len(self.parameters),):
            raise ValueError(f"expected a vector of length {len(self.parameters)}, got {x.shape}")
        design: Design = {}
        for p, u in zip(self.parameters, x, strict=True):
            if p.condition is None or p.condition.holds(design):
                design[p.name] = p.from_unit(float(u))
        if check:
            self._check_constraints(design)
        return design

    # --- named Gymnasium action space -------------------------------------------------------
    def action_space(self, seed: int | None = None) -> spaces.Dict:
        """The named action space: ``Discrete(n, start=low)`` for integers (the value itself),
        ``Discrete(n)`` indices for categorical and ordinal parameters, and a 1-element ``Box``
        for reals. Every parameter is present; inactive ones are ignored."""
        subspaces: dict[str, spaces.Space[Any]] = {}
        for p in self.parameters:
            if isinstance(p, Integer):
                subspaces[p.name] = spaces.Discrete(p.n_values, start=p.low)
            elif isinstance(p, Real):
                subspaces[p.name] = spaces.Box(p.low, p.high, shape=(1,), dtype=np.float64)
            else:
                subspaces[p.name] = spaces.Discrete(p.n_values)
        return spaces.Dict(subspaces, seed=seed)

    def to_action(self, design: Mapping[str, Any], *, check: bool = True) -> dict[str, Any]:
        """A design as an element of :meth:`action_space` (inactive parameters at defaults)."""
        design = self.validate(design, check=check)
        action: dict[str, Any] = {}
        for p in self.parameters:
            value = design.get(p.name, p.default_value())
            if isinstance(p, Integer):
                action[p.name] = np.int64(value)
            elif isinstance(p, Real):
                action[p.name] = np.array([value], dtype=np.float64)
            else:
                action[p.name] = np.int64(p.index(value))  # type: ignore[attr-defined]
        return action

    def from_action(self, action: Mapping[str, Any], *, check: bool = True) -> Design:
        """Decode an element of :meth:`action_space`; out-of-space entries raise ``ValueError``,
        as do forbidden combinations unless ``check=False``."""
        if not isinstance(action, Mapping):
            raise ValueError(f"action must be a dict keyed by parameter name {self.names}, got {action!r}")
        missing = [p.name for p in self.parameters if p.name not in action]
        design: Design = {}
        for p in self.parameters:
            if p.condition is not None and not p.condition.holds(design):
                continue
            if p.name in missing:
                raise ValueError(f"parameter {p.name!r} is missing; legal values: {p.legal_values()}")
            raw = action[p.name]
            if isinstance(p, Real):
                try:
                    arr = np.asarray(raw, dtype=np.float64).reshape(-1)
                except (TypeError, ValueError):
                    raise p._error(raw) from None
                if arr.size != 1:
                    raise ValueError(f"parameter {p.name!r}: expected one value, got {raw!r}")
                design[p.name] = p.validate(float(arr[0]))
            elif isinstance(p, Integer):
                design[p.name] = p.validate(_scalar(raw))
            else:
                index = _scalar(raw)
                values = p.values_list()  # type: ignore[attr-defined]
                if isinstance(index, bool) or not isinstance(index, int) or not (0 <= index < len(values)):
                    raise ValueError(
                        f"parameter {p.name!r}: action {raw!r} is not an index in "
                        f"[0, {len(values) - 1}] into {p.legal_values()}"
                    )
                design[p.name] = values[index]
        unknown = set(action) - set(self.names)
        if unknown:
            raise ValueError(f"unknown parameter(s) {sorted(unknown)}; legal parameters: {self.names}")
        if check:
            self._check_constraints(design)
        return design

    # --- stable-baselines3 view -------------------------------------------------------------
    def flat_space(self) -> spaces.MultiDiscrete | spaces.Box:
        """``MultiDiscrete`` when every parameter is discrete, else ``Box(-1, 1, (d,))``:
        the flat action spaces stable-baselines3 supports."""
        if self.is_discrete:
            return spaces.MultiDiscrete([p.n_values for p in self.parameters])
        return spaces.Box(-1.0, 1.0, shape=(len(self.parameters),), dtype=np.float32)

    def from_flat(self, action: np.ndarray, *, check: bool = True) -> Design:
        action = np.asarray(action)
        if action.shape != (len(self.parameters),):
            raise ValueError(f"expected a vector of length {len(self.parameters)}, got {action.shape}")
        if not self.is_discrete:
            x = (np.clip(action.astype(np.float64), -1.0, 1.0) + 1.0) / 2.0
            return self.from_unit(x, check=check)
        # MultiDiscrete entries are indices into each parameter's values (not unit bins, which a
        # log-scaled integer does not map to one-to-one).
        design: Design = {}
        for p, i in zip(self.parameters, action, strict=True):
            if p.condition is None or p.condition.holds(design):
                index = int(np.clip(int(i), 0, p.n_values - 1))
                design[p.name] = p.value_at(index)  # type: ignore[attr-defined]
        if check:
            self._check_constraints(design)
        return design

    def to_flat(self, design: Mapping[str, Any]) -> np.ndarray:
        if not self.is_discrete:
            return (self.to_unit(design) * 2.0 - 1.0).astype(np.float32)
        design = self.validate(design)
        return np.array(
            [
                p.index(design.get(p.name, p.default_value()))  # type: ignore[attr-defined]
                for p in self.parameters
            ],
            dtype=np.int64,
        )


def _scalar(raw: Any) -> Any:
    """Unwrap numpy scalars and one-element arrays to Python scalars."""
    if isinstance(raw, np.ndarray):
        if raw.size != 1:
            return raw
        raw = raw.reshape(-1)[0]
    if isinstance(raw, np.generic):
        return raw.item()
    return raw
