"""Optional dependencies: an env or agent whose extra is not installed is still listed, marked
"needs pip install 'archgym[x]'", and using it fails with that message.

A lean ``pip install archgym`` brings the core, the analytic problems and the light agents; each
family of problems and agents names the extra that brings its libraries (``extra="solvers"``)
and the top-level modules it needs (``requires=("pyamg",)``). Whether those modules are present
is asked of the import system without importing them, so listing stays as light as before.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archgym.entrypoints import load_entry_point

__all__ = ["CheckedEntryPoint", "MissingExtra", "lean_backend_chosen", "missing_modules", "needs"]


class MissingExtra(ImportError):
    """An env or agent whose optional dependencies are not installed."""


def missing_modules(requires: Iterable[str]) -> list[str]:
    """The modules of ``requires`` that can't be imported here (looked up, not imported). A
    module set to ``None`` in ``sys.modules`` counts as missing, as ``import`` treats it."""
    missing = []
    for name in requires:
        top = name.partition(".")[0]
        if top in sys.modules:
            if sys.modules[top] is None:
                missing.append(name)
            continue
        try:
            found = importlib.util.find_spec(top) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def needs(extra: str | None, missing: Sequence[str], lean_backends: Sequence[str] = ()) -> str:
    """``needs pip install 'archgym[solvers]' (missing: pyamg)``: what to install, and why (and the
    backends that run without it, ``lean_backends``)."""
    how = f"pip install 'archgym[{extra}]'" if extra else f"the module(s) {', '.join(missing)}"
    without = "".join(f"; backend={b!r} runs without them" for b in lean_backends)
    return f"needs {how} (missing: {', '.join(missing)}{without})"


def lean_backend_chosen(kwargs: Mapping[str, Any], lean_backends: Sequence[str]) -> bool:
    """Whether the ``backend`` argument of an env's constructor names only backends that run
    without the env's own libraries (a ladder such as ``["table", "simulator"]`` still needs them)."""
    chosen = kwargs.get("backend")
    names = [chosen] if isinstance(chosen, str) else list(chosen) if isinstance(chosen, list | tuple) else []
    return bool(names) and all(name in lean_backends for name in names)


@dataclass(frozen=True)
class CheckedEntryPoint:
    """An env's entry point that first checks its extra's modules, so ``gymnasium.make`` of an
    env whose libraries are absent fails at once with the install command, not with an import
    error deep in a simulator on the first step. Equal by value, so loading the plugins again
    recognises its own registration."""

    entry_point: str
    env_id: str
    extra: str | None
    requires: tuple[str, ...]
    lean_backends: tuple[str, ...] = ()
    """Backends the env runs on without ``requires`` (NASBench201's ``table``): made with one of
    them, the env is built whether or not its own libraries are installed."""

    def __call__(self, **kwargs: Any) -> Any:
        missing = [] if lean_backend_chosen(kwargs, self.lean_backends) else missing_modules(self.requires)
        if missing:
            raise MissingExtra(f"{self.env_id} {needs(self.extra, missing, self.lean_backends)}")
        return load_entry_point(self.entry_point)(**kwargs)
