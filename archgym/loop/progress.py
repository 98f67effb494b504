"""Progress bars for long work (a run's evaluations, a campaign's runs)."""

from __future__ import annotations

from typing import Any

__all__ = ["progress_bar"]


def progress_bar(
    total: int | None, enabled: bool | None, *, desc: str = "evaluations", unit: str = "eval"
) -> Any:
    """A tqdm bar; ``enabled=None`` shows it on a terminal and hides it in logs and CI."""
    from tqdm.auto import tqdm

    disable = None if enabled is None else not enabled
    return tqdm(total=total, desc=desc, unit=unit, disable=disable, dynamic_ncols=True)
