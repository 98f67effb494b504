"""The free statistics of designs (``stat.<name>`` columns, :attr:`archgym.env.DesignEnv.statistic_names`),
computed by the env instance of the process that holds it.

The loop computes them in its own process, from the env it built for the run — never in a
worker — so a design whose evaluation failed, hung or killed its worker still gets them, and
they are the same whichever worker (or how many workers) ran the evaluation. Dataset exports
compute them the same way for records written before the run recorded them.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["FreeStatistics"]


class FreeStatistics:
    """``env.statistics(design)`` as floats, one per name in ``names`` (a name the env does not
    return is left out: its column is null). A design whose statistics can't be computed —
    ``statistics()`` raises, or returns something that is not a mapping of numbers — gets none:
    a statistic is a convenience, never a reason to lose a record. The first such failure is
    reported (a warning naming ``source``, the design and the error); later ones are not."""

    def __init__(self, env: Any, names: Sequence[str], source: str) -> None:
        self.env, self.names, self.source = env, tuple(names), source
        self.failures = 0

    def __call__(self, design: Mapping[str, Any]) -> dict[str, float]:
        if not self.names:
            return {}
        try:
            stats = self.env.statistics(design)
            return {name: float(stats[name]) for name in self.names if name in stats}
        except Exception as exc:  # the env's own code: anything it raises leaves the columns null
            self.failures += 1
            if self.failures == 1:
                warnings.warn(
                    f"{self.source}: free statistics of design {dict(design)!r} could not be computed "
                    f"({type(exc).__name__}: {exc}); its stat.* columns are null (further failures "
                    "are not reported)",
                    UserWarning,
                    stacklevel=2,
                )
            return {}
