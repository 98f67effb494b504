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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from archgym.entrypoints import load_entry_point

__all__ = ["CheckedEntryPoint", "MissingExtra", "missing_modules", "needs"]


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


def needs(extra: str | None, missing: Sequence[str]) -> str:
    """``needs pip install 'archgym[solvers]' (missing: pyamg)``: what to install, and why."""
    how = f"pip install 'archgym[{extra}]'" if extra else f"the module(s) {', '.join(missing)}"
    return f"needs {how} (missing: {', '.join(missing)})"


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

    def __call__(self, **kwargs: Any) -> Any:
        missing = missing_modules(self.requires)
        if missing:
            raise MissingExtra(f"{self.env_id} {needs(self.extra, missing)}")
        return load_entry_point(self.entry_point)(**kwargs)
