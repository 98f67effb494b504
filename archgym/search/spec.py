"""How to build an agent without importing it: its name, entry point and hyperparameters.

The spec is what plugins return from ``archgym_agents()``, what ``archgym agents`` lists and what
campaigns sample settings from; the agent class is imported only when a run builds it.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archgym.entrypoints import check_entry_point, load_entry_point
from archgym.spaces import DesignSpace, Parameter

__all__ = ["AGENT_NAME_RULE", "AgentResolver", "AgentSpec"]

_AGENT_NAME = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*")
_PREFIX = re.compile(r"[a-z][a-z0-9_-]*")
AGENT_NAME_RULE = (
    "lowercase letters, digits, '_' and '-', starting with a letter, with a dotted library prefix "
    "for adapters of other libraries (e.g. 'random', 'optuna.tpe')"
)


@dataclass(frozen=True)
class AgentSpec:
    """How to build an agent, without importing it.

    Args:
        name: the name used on the command line (``--agent NAME``): one rule across the suite,
            :data:`AGENT_NAME_RULE`, so names sort and read alike and a lookup can ignore case.
        entry_point: ``"package.module:Class"``.
        description: one line, shown by ``archgym agents``.
        hyperparameters: typed, with defaults and legal ranges.
        extra: the ``archgym[extra]`` that installs its library, for a lean install's message.
        requires: top-level modules it imports when built (``("torch", "botorch")``): where
            one is missing the agent is listed, marked "needs pip install 'archgym[extra]'",
            and asking for it fails with that message instead of an import error.
    """

    name: str
    entry_point: str
    description: str
    hyperparameters: tuple[Parameter, ...] = ()
    extra: str | None = None
    requires: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "hyperparameters", tuple(self.hyperparameters))
        object.__setattr__(self, "requires", tuple(self.requires))
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"AgentSpec name must be a non-empty string, got {self.name!r}")
        if not _AGENT_NAME.fullmatch(self.name):
            raise ValueError(f"AgentSpec name {self.name!r} is not legal; legal: {AGENT_NAME_RULE}")
        check_entry_point(self.entry_point)
        if self.hyperparameters:
            DesignSpace(self.hyperparameters)  # validates names and conditions

    def hyperparameter_space(self) -> DesignSpace | None:
        return DesignSpace(self.hyperparameters) if self.hyperparameters else None

    def resolve(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overridden by ``params``, validated; errors name the hyperparameter."""
        space = self.hyperparameter_space()
        if space is None:
            if params:
                raise ValueError(f"agent {self.name!r} takes no hyperparameters, got {sorted(params)}")
            return {}
        unknown = set(params) - set(space.names)
        if unknown:
            raise ValueError(
                f"agent {self.name!r}: unknown hyperparameter(s) {sorted(unknown)}; legal: {space.names}"
            )
        merged = space.default() | dict(params)
        try:
            for name, value in params.items():  # command-line values arrive as text
                if isinstance(value, str):
                    merged[name] = space[name].parse(value)
            return space.validate(merged)
        except ValueError as exc:
            raise ValueError(f"agent {self.name!r}: {exc}") from None

    def load(self) -> type:
        return load_entry_point(self.entry_point)

    def incompatibility(self, problem: Any, params: Mapping[str, Any] | None = None) -> str | None:
        """Why this agent can't search ``problem`` with ``params`` (resolved with the defaults;
        None: at its best setting), or None if it can. An agent class whose ``incompatibility``
        takes only the problem (written before hyperparameters were passed) is asked that."""
        cls = self.load()
        check = cls.incompatibility
        if params is None:
            return check(problem)  # type: ignore[no-any-return]
        resolved = self.resolve(params)
        if "hyperparameters" in inspect.signature(check).parameters:
            return check(problem, hyperparameters=resolved)  # type: ignore[no-any-return]
        return check(problem)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class AgentResolver:
    """Agents named ``<prefix>.<anything>``, built on demand: a library with hundreds of
    optimizers (Nevergrad's registry) is reachable by name without listing each one, and listing
    agents still imports no library.

    Args:
        prefix: the library prefix, e.g. ``"nevergrad"`` (the first part of the agent-name rule).
        entry_point: ``"package.module:function"``; ``function(name)`` gets the name as asked
            (any case) and returns its :class:`AgentSpec` (named ``<prefix>.<lowercase name>``),
            or raises ``ValueError`` naming the legal names. Called only for a name with this
            prefix that no plugin registered.
        description: one line, shown in ``archgym agents``' footer.
        extra: as for :class:`AgentSpec`; the specs it resolves inherit it.
        requires: as for :class:`AgentSpec`; the specs it resolves inherit them.
    """

    prefix: str
    entry_point: str
    description: str
    extra: str | None = None
    requires: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str) or not _PREFIX.fullmatch(self.prefix):
            raise ValueError(
                f"AgentResolver prefix {self.prefix!r} is not legal; legal: lowercase letters, digits, "
                "'_' and '-', starting with a letter (a library prefix such as 'nevergrad')"
            )
        check_entry_point(self.entry_point)
        object.__setattr__(self, "requires", tuple(self.requires))

    def resolve(self, name: str) -> AgentSpec:
        """The spec of ``name`` (``<prefix>.<rest>``, any case)."""
        spec = load_entry_point(self.entry_point)(name)
        if not isinstance(spec, AgentSpec) or spec.name != name.lower():
            raise ValueError(
                f"agent resolver {self.prefix!r} returned {spec!r} for {name!r}; "
                f"legal: an AgentSpec named {name.lower()!r}"
            )
        if self.extra is not None and spec.extra is None:
            spec = dataclasses.replace(spec, extra=self.extra, requires=self.requires)
        return spec
