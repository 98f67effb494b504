"""The recorder: every result the run holds goes through it — new ones are journaled, replayed
ones only counted — so the ledger and the progress bar always agree with the records."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from archgym.execution import Completed
from archgym.loop.free_statistics import FreeStatistics
from archgym.loop.ledger import Ledger
from archgym.records import Journal, RecordLayout
from archgym.search import EvalResult

__all__ = ["Recorder", "RunClock"]


class RunClock:
    """Seconds since the run began, for the records' ``start_s``/``finish_s``: on the real clock
    (``perf_counter`` since this session began) or on the simulated one (the simulated
    executor's seconds); a resumed run continues from the last finish it recorded."""

    def __init__(self, *, simulated: bool = False, offset: float = 0.0) -> None:
        self.simulated, self.offset = simulated, offset
        self.origin = time.perf_counter()

    def __call__(self, executor_time: float) -> float:
        return self.offset + (executor_time if self.simulated else executor_time - self.origin)


class Recorder:
    """``statistics``: computes each recorded design's free statistics (``stat.*`` columns), in
    this process, after its evaluation — whether it succeeded, failed or was killed."""

    def __init__(
        self,
        out: Path,
        layout: RecordLayout,
        ledger: Ledger,
        bar: Any,
        clock: RunClock | None = None,
        statistics: FreeStatistics | None = None,
    ) -> None:
        self.layout, self.ledger, self.bar = layout, ledger, bar
        self.clock = clock or RunClock()
        self.statistics = statistics
        self.journal = Journal(out)

    def record(self, completed: Completed, batch: int, slot: int) -> None:
        """Journal a new evaluation (one unbuffered write), then count it."""
        task = completed.task
        row = self.layout.row(
            step=task.index,
            batch=batch,
            slot=slot,
            eval_seed=task.seed,
            result=completed.result,
            timestamp=time.time(),
            worker=completed.worker,
            start_s=self.clock(completed.started),
            finish_s=self.clock(completed.finished),
            cost=self.ledger.cost_of(completed.result),
            statistics=None if self.statistics is None else self.statistics(completed.result.design),
        )
        self.journal.append([row])
        self.count(completed.result)

    def count(self, result: EvalResult) -> None:
        """Count a result against the budget and show it, without journaling it (replayed)."""
        if self.ledger.account(result):
            self.bar.set_postfix(best=f"{self.ledger.best:.6g}", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.journal.close()
