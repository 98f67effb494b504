"""The recorder: every result the run holds goes through it — new ones are journaled, replayed
ones only counted — so the ledger and the progress bar always agree with the records."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from archgym.execution import Task
from archgym.loop.ledger import Ledger
from archgym.records import Journal, RecordLayout
from archgym.search import EvalResult

__all__ = ["Recorder"]


class Recorder:
    def __init__(self, out: Path, layout: RecordLayout, ledger: Ledger, bar: Any) -> None:
        self.layout, self.ledger, self.bar = layout, ledger, bar
        self.journal = Journal(out)

    def record(self, task: Task, batch: int, slot: int, result: EvalResult) -> None:
        """Journal a new evaluation (one unbuffered write), then count it."""
        row = self.layout.row(
            step=task.index, batch=batch, slot=slot, eval_seed=task.seed, result=result, timestamp=time.time()
        )
        self.journal.append([row])
        self.count(result)

    def count(self, result: EvalResult) -> None:
        """Count a result against the budget and show it, without journaling it (replayed)."""
        if self.ledger.account(result):
            self.bar.set_postfix(best=f"{self.ledger.best:.6g}", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.journal.close()
