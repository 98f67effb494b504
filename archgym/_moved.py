"""Old module paths (``archgym.agent``, ``archgym.registry``, …) kept for one release after the
core moved into layered sub-packages (docs/architecture.md)."""

import warnings
from collections.abc import Callable
from types import ModuleType


def forward(old: str, new: ModuleType) -> Callable[[str], object]:
    """A module ``__getattr__`` for the alias ``old``: serves ``new``'s names with a
    DeprecationWarning that points at the importing line."""

    def __getattr__(name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        warnings.warn(
            f"{old} is deprecated and will be removed in the next release; import from {new.__name__}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(new, name)

    return __getattr__
