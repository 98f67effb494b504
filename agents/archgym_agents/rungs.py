"""What the multi-fidelity agents share: the rung ladder of fidelities and the fidelity check.

A *rung* is a fidelity at which configurations are compared; successive halving promotes the top
1/η of one rung to the next. The ladder is built from the env's top fidelity down, by factors of
η, while it stays at or above the env's lowest (as SMAC and Hyperband do), so its top rung is
always the full fidelity: high·η^-k for k = K…0, with K = ⌊log_η(high/low)⌋ (or fewer rungs where
the agent asks for fewer). Integer fidelities are rounded, and rungs that round to the same value
merge. A fidelity of discrete levels (``Fidelity.levels``: a backend ladder proxy → simulator)
has its levels as rungs.
"""

from __future__ import annotations

import math

from archgym.env import Fidelity
from archgym.search import Problem

__all__ = ["NEEDS_FIDELITY", "fidelity_incompatibility", "ladder", "nearest_rung"]

NEEDS_FIDELITY = "it needs an env with a fidelity (this env has none; see docs/multi-fidelity.md)"


def fidelity_incompatibility(problem: Problem) -> str | None:
    """Why a multi-fidelity agent can't search ``problem``: it has no fidelity knob."""
    return NEEDS_FIDELITY if problem.fidelity is None else None


def ladder(fidelity: Fidelity, eta: int, n_rungs: int = 0) -> list[float | int]:
    """The rungs, lowest first, ending at ``fidelity.high``; ``n_rungs`` > 0 keeps at most that
    many (the top ones)."""
    if eta < 2:
        raise ValueError(f"eta: {eta!r} is not legal; legal values: integer >= 2")
    if fidelity.levels is not None:
        return list(fidelity.levels[-n_rungs:] if n_rungs > 0 else fidelity.levels)
    high, low = float(fidelity.high), float(fidelity.low)
    most = math.floor(math.log(high / low) / math.log(eta) + 1e-9) if low > 0 else 0
    if n_rungs > 0:
        most = min(most, n_rungs - 1)
    levels: list[float | int] = []
    for k in range(most, -1, -1):
        value = max(low, high * float(eta) ** -k)
        level: float | int = round(value) if fidelity.integer else value
        if fidelity.integer:
            level = min(max(level, math.ceil(low)), int(high))
        if not levels or level > levels[-1]:
            levels.append(level)
    return levels


def nearest_rung(rungs: list[float | int], value: float | int | None) -> int | None:
    """The rung a recorded fidelity belongs to (None: below the lowest, or no fidelity recorded):
    the highest rung at or below ``value``, with a relative tolerance for real fidelities."""
    if value is None:
        return None
    found = None
    for i, level in enumerate(rungs):
        if float(value) >= float(level) * (1 - 1e-9):
            found = i
    return found
