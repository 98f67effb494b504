"""The backend seam: what answers an env's evaluations besides its own simulator.

``gymnasium.make(ID, backend=NAME, **options)`` builds the env as usual, then answers its
evaluations with the backend registered as ``NAME`` — a learned proxy (``"proxy"``), a lookup table
(``"table"``), or a third-party one — keeping the env's spaces, objective and records. Backends
are registered by plugins through the ``archgym_backends()`` hook, built-in ones exactly like
third-party ones; the env base class names none of them.

A backend is a factory ``factory(env, constructor_kwargs, **options) -> evaluator``: it receives
the env instance just constructed and its constructor arguments (defaults filled in) explicitly,
and may refuse them (a table made for other arguments). The evaluator has
``evaluate(design, context) -> metrics`` and may have ``versions()`` (what answered, recorded
instead of the simulator's versions) and ``fidelity`` (the one fidelity it answers at).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from archgym.entrypoints import check_entry_point, load_entry_point

if TYPE_CHECKING:
    from archgym.env.base import DesignEnv, EvalContext
    from archgym.spaces import Design

__all__ = [
    "SIMULATOR",
    "BackendEvaluator",
    "BackendLadder",
    "BackendSpec",
    "backend_options",
    "backend_specs",
    "caller_only_options",
    "check_ladder",
    "register_backend",
    "without_caller_only",
]

SIMULATOR = "simulator"
"""The env's own :meth:`~archgym.env.DesignEnv.evaluate`: every env has it, no plugin registers it."""


class BackendEvaluator(Protocol):
    def evaluate(self, design: Design, context: EvalContext) -> Mapping[str, float]: ...


BackendFactory = Callable[..., BackendEvaluator]


@dataclass(frozen=True)
class BackendSpec:
    """How to build a backend without importing it.

    Args:
        name: the value of ``backend=`` that selects it.
        entry_point: ``"package.module:factory"``.
        description: one line, for listings.
        options: the keyword arguments of ``gymnasium.make`` it takes (``model``, ``table_dir``, …);
            every env accepts them, and they are legal only with this backend.
        caller_only: those of ``options`` that grant trust (``trust_model``: unpickling a model
            runs code). They are honoured only when the current caller passes them, and are
            never stored with a run nor taken from any file (run.json, cards, tables, TOML).
    """

    name: str
    entry_point: str
    description: str
    options: tuple[str, ...] = ()
    caller_only: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", tuple(self.options))
        object.__setattr__(self, "caller_only", tuple(self.caller_only))
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"backend name must be an identifier string, got {self.name!r}")
        if self.name == SIMULATOR:
            raise ValueError(f"backend name {SIMULATOR!r} is reserved for the env's own evaluate()")
        check_entry_point(self.entry_point)
        bad = [o for o in self.options if not isinstance(o, str) or not o.isidentifier() or o == "backend"]
        if bad:
            raise ValueError(
                f"backend {self.name!r}: options must be keyword names other than 'backend', got {bad}"
            )

        stray = [o for o in self.caller_only if o not in self.options]
        if stray:
            raise ValueError(f"backend {self.name!r}: caller_only {stray} must be among its options")

    def load(self) -> BackendFactory:
        return load_entry_point(self.entry_point)  # type: ignore[no-any-return]


_specs: dict[str, BackendSpec] = {}


def register_backend(spec: BackendSpec) -> None:
    """Make ``spec`` selectable by ``backend=``; called by the plugin registry for every
    ``archgym_backends()`` item. A name (or an option name) already taken is refused."""
    if not isinstance(spec, BackendSpec):
        raise TypeError(f"archgym_backends() must return BackendSpec items, got {spec!r}")
    existing = _specs.get(spec.name)
    if existing is not None and existing != spec:
        raise ValueError(f"backend name {spec.name!r} is already registered")
    owners = {o: s.name for s in _specs.values() if s.name != spec.name for o in s.options}
    clash = [o for o in spec.options if o in owners]
    if clash:
        raise ValueError(
            f"backend {spec.name!r}: option(s) {clash} already belong to backend {owners[clash[0]]!r}"
        )
    _specs[spec.name] = spec


def unregister_backend(name: str) -> None:
    """Forget a backend (a plugin that turned out broken after registering it)."""
    _specs.pop(name, None)


def backend_specs() -> dict[str, BackendSpec]:
    """The registered backends by name (``"simulator"`` is implicit)."""
    return dict(_specs)


def backend_options() -> dict[str, str]:
    """Option name → the backend it belongs to, over every registered backend."""
    return {option: spec.name for spec in _specs.values() for option in spec.options}


def caller_only_options() -> set[str]:
    """The options, over every registered backend, that only the current caller may pass."""
    return {option for spec in _specs.values() for option in spec.caller_only}


def without_caller_only(kwargs: Mapping[str, Any], source: str | None) -> dict[str, Any]:
    """``kwargs`` without the options that grant trust. Read from ``source`` (a file): a file
    someone else produced must never switch on unpickling, and dropping one warns, naming it.
    ``source=None``: the caller's own kwargs being stored, dropped without a word."""
    dropped = sorted(k for k in kwargs if k in caller_only_options())
    if dropped and source is not None:
        import warnings

        warnings.warn(
            f"{source}: ignoring stored {dropped}: trust is taken only from the current caller "
            "(pass it again, e.g. --trust-model, or set ARCHGYM_TRUST_MODELS=1)",
            UserWarning,
            stacklevel=2,
        )
    return {k: v for k, v in kwargs.items() if k not in dropped}


def build(
    env: DesignEnv, name: str, constructor_kwargs: Mapping[str, Any], options: Mapping[str, Any]
) -> Any:
    """The evaluator of backend ``name`` for ``env`` (an error names the legal backends)."""
    spec = _specs.get(name)
    if spec is None:
        legal = [SIMULATOR, *sorted(_specs)]
        raise ValueError(f"backend: {name!r} is not legal for {type(env).__name__}; legal values: {legal}")
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        raise ValueError(f"backend {name!r}: unknown option(s) {unknown}; legal: {list(spec.options)}")
    return spec.load()(env, dict(constructor_kwargs), **options)


def check_ladder(names: Any) -> tuple[str, ...]:
    """``names`` as a ladder of backends (cheapest first, ending at the simulator), or a
    ValueError naming the legal values."""
    names = tuple(names)
    legal = [SIMULATOR, *sorted(_specs)]
    if (
        len(names) < 2
        or len(set(names)) != len(names)
        or names[-1] != SIMULATOR
        or any(n not in legal for n in names)
    ):
        raise ValueError(
            f"backend: {list(names)!r} is not a legal ladder; legal values: two or more distinct "
            f"backends of {legal}, cheapest first, ending with 'simulator'"
        )
    return names


class BackendLadder:
    """Backends as the levels of a fidelity — a proxy screens, the simulator confirms.

    ``gymnasium.make(ID, backend=("proxy", "simulator"), model=PATH, trust_model=True)`` gives an
    env without a fidelity of its own the fidelity ``backend``, whose levels are the backends,
    cheapest first, ending at the simulator. Each level's value is its cost in full (simulator)
    evaluations, taken from measured times: a lower backend's ``relative_cost()`` (a proxy's
    measured prediction time over the simulator's measured evaluation time, both on its card).
    So ``--cost-budget`` counts real cost, multi-fidelity agents compare designs on the rungs
    proxy → simulator, and every record names the backend that answered it.

    Args:
        env: the env (its own ``evaluate`` is the simulator level).
        names: the backends, lowest level first; the last is ``"simulator"``.
        evaluators: name → the built evaluator of each non-simulator backend.
    """

    def __init__(self, env: DesignEnv, names: tuple[str, ...], evaluators: Mapping[str, Any]) -> None:
        self.env, self.names, self.evaluators = env, names, dict(evaluators)
        costs = []
        for name in names[:-1]:
            relative = getattr(self.evaluators[name], "relative_cost", None)
            cost = None if relative is None else relative()
            if cost is None or not 0 < cost < 1:
                raise ValueError(
                    f"backend: {name!r} can't be a fidelity level: it declares no measured cost below "
                    f"the simulator's (relative_cost() in (0, 1)), got {cost!r}"
                )
            costs.append(float(cost))
        if costs != sorted(set(costs)):
            raise ValueError(f"backend: the levels {list(names)} must cost less and less: measured {costs}")
        self.levels: tuple[float, ...] = (*costs, 1.0)
        """The fidelity's levels (the env makes them its fidelity ``backend``)."""

    def backend_at(self, fidelity: float | None) -> str:
        """The backend that answers at ``fidelity`` (the simulator where none is given)."""
        if fidelity is None:
            return self.names[-1]
        return self.names[min(range(len(self.levels)), key=lambda i: abs(self.levels[i] - float(fidelity)))]

    def evaluate(self, design: Design, context: EvalContext) -> Mapping[str, float]:
        name = self.backend_at(context.fidelity)
        if name == SIMULATOR:
            return self.env.evaluate(design, context)
        return self.evaluators[name].evaluate(design, context)

    def versions(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for name in self.names:
            declared = getattr(self.evaluators.get(name), "versions", None)
            if declared is not None:
                found.update(declared())
        env = self.env
        active, env.active_backend = env.active_backend, None
        try:
            found.update(env.versions())  # the simulator's own packages
        finally:
            env.active_backend = active
        return found

    def simulated_duration(self, design: Design, fidelity: Any, metrics: Mapping[str, float]) -> float | None:
        """The level's cost × the simulator's measured evaluation time (a lower backend's
        ``reference_seconds()``), consistent with the cost; None where none is known."""
        for name in self.names[:-1]:
            reference = getattr(self.evaluators[name], "reference_seconds", None)
            seconds = None if reference is None else reference()
            if seconds is not None:
                level = 1.0 if fidelity is None else float(fidelity)
                return level * float(seconds)
        return None
