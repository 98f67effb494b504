"""Resuming a killed run: the evaluations its journal already holds are handed back to the
agent instead of evaluated again — replayed where the agent asks the same designs (it is
deterministic given its seed), re-told where it does not."""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archgym.loop.recorder import Recorder
from archgym.records import (
    CONSTRAINT,
    JOURNAL,
    OPTIONAL_COLUMNS,
    PARAM,
    RUN_CONSTANT_COLUMNS,
    RecordLayout,
    design_of,
    result_from_row,
)
from archgym.records.journal import check_journal
from archgym.search import Agent, EvalResult

__all__ = ["FreeSteps", "Replay"]


class FreeSteps:
    """Evaluation indices still to run, in order: the holes a journal left below its last step,
    then every index from ``start`` up to ``limit`` — counted, not listed, since without an
    evaluation budget the limit is huge."""

    def __init__(self, holes: list[int], start: int, limit: int) -> None:
        self._holes = deque(holes)
        self._next, self._limit = start, limit

    def __len__(self) -> int:
        return len(self._holes) + max(0, self._limit - self._next)

    def __bool__(self) -> bool:
        return len(self) > 0

    def popleft(self) -> int:
        if self._holes:
            return self._holes.popleft()
        if self._next >= self._limit:
            raise IndexError("no evaluation index left")
        self._next += 1
        return self._next - 1


class Replay:
    """The recorded rows of a run, by step (empty for a new run)."""

    def __init__(self, rows: Mapping[int, Mapping[str, Any]], layout: RecordLayout) -> None:
        self.rows = dict(rows)
        self.layout = layout
        self._last = max(self.rows, default=-1)  # holds_from is asked once per batch: keep it O(1)

    @classmethod
    def of(cls, out: Path, layout: RecordLayout, budget: int) -> Replay:
        """The journal of the run in ``out``, checked before anything is replayed
        (:func:`~archgym.records.journal.check_journal`: a damaged journal is refused naming the
        file and line). Exact duplicate lines are dropped from the journal, with a warning."""
        allowed = [n for n in layout.arrow_schema().names if n not in RUN_CONSTANT_COLUMNS]
        # conditional parameters may be absent, and loop columns older records lack
        optional = {n for n in allowed if n.startswith((PARAM, CONSTRAINT))} | set(OPTIONAL_COLUMNS)
        required = [n for n in allowed if n not in optional]
        check = check_journal(out, required=required, allowed=allowed, budget=budget)
        if check.dropped:
            path = out / JOURNAL
            lines = ", ".join(f"{n} (repeats line {first})" for n, first in check.dropped)
            warnings.warn(
                f"{path}: dropped {len(check.dropped)} duplicated line(s) before resuming: line {lines}",
                stacklevel=3,
            )
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(b"".join(check.lines))
            tmp.replace(path)
        return cls(check.rows, layout)

    def __bool__(self) -> bool:
        return bool(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def holds_from(self, step: int) -> bool:
        """True if any recorded evaluation is at ``step`` or later."""
        return step <= self._last

    def result(self, index: int) -> EvalResult | None:
        """The recorded result of evaluation ``index`` (None if the journal lacks it)."""
        row = self.rows.get(index)
        return None if row is None else result_from_row(row, self.layout)

    def retell(self, agent: Agent, agent_name: str, from_step: int, recorder: Recorder) -> None:
        """Tell the agent the recorded evaluations it has not been told (from ``from_step`` on)."""
        warnings.warn(
            f"agent {agent_name!r} did not replay its recorded designs exactly (it is not "
            "deterministic given its seed); re-telling the recorded evaluations instead",
            stacklevel=4,
        )
        rows = [self.rows[s] for s in sorted(self.rows) if s >= from_step]
        results = [result_from_row(r, self.layout) for r in rows]
        agent.tell_history([design_of(r) for r in rows], results)
        for result in results:
            recorder.count(result)

    def free_steps(self, limit: int) -> FreeSteps:
        """The evaluation indices below ``limit`` the journal lacks, in order."""
        return FreeSteps(
            [s for s in range(min(self._last + 1, limit)) if s not in self.rows], self._last + 1, limit
        )

    def last_batch(self, default: int) -> int:
        """The highest batch number recorded (``default`` if higher)."""
        return max([default, *(r["batch"] for r in self.rows.values())])

    def results(self) -> list[EvalResult]:
        return [result_from_row(row, self.layout) for row in self.rows.values()]

    def next_step(self) -> int:
        """The step after the last recorded one."""
        return self._last + 1
