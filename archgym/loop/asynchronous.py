"""The asynchronous driver: whenever a worker is free the agent is asked for a design for it,
and each result is recorded and told as it finishes — no worker waits for a batch.

Why opt-in: under real time the records then depend on completion order (which design finished
first), so runs with different worker counts or machine loads differ; batch-synchronous
scheduling (:mod:`archgym.loop.driver`) keeps "results don't depend on the worker count". On
the simulated clock completion order depends only on the declared durations, so asynchronous
runs are exactly reproducible there.
"""

from __future__ import annotations

from archgym.execution import Completed
from archgym.loop.config import evaluation_limit
from archgym.loop.driver import AskTellDriver
from archgym.loop.resume import Replay
from archgym.search import EvalResult, Proposal
from archgym.spaces import Design

__all__ = ["AsyncDriver"]


class AsyncDriver(AskTellDriver):
    """Asks when a worker is free, tells each result as it finishes.

    An agent with ``concurrent_asks`` is asked for as many designs as there are free workers and
    told each result alone (its ``pending`` lists what is still running). Any other agent is
    asked for a batch once its previous batch is told whole, and its batch's evaluations start
    as workers free up.

    Resume keeps every finished evaluation: the agent is told all recorded ones (it can't be
    replayed — the order it saw results in depended on timing) and the evaluations left run.
    """

    def drive(self, replay: Replay) -> None:
        limit = evaluation_limit(self.config)
        batch = 0
        free = replay.free_steps(limit)
        if replay:
            steps = sorted(replay.rows)
            results = [replay.result(s) for s in steps]
            self.agent.tell_history([r.design for r in results if r], [r for r in results if r])
            for result in results:
                if result is not None:
                    self.recorder.count(result)
            batch = replay.last_batch(-1) + 1
        asked: dict[int, tuple[Design, int, int]] = {}  # index -> (design as asked, batch, slot)
        group: dict[int, list[tuple[int, Design, EvalResult | None]]] = {}  # batches told whole
        executor, agent = self.executor, self.agent
        while True:
            while free and self.may_continue() and self._may_ask():
                n = executor.idle if agent.concurrent_asks else agent.batch_size
                proposals = agent.ask(self.recorder.ledger.affordable(min(max(n, 1), len(free))))
                tasks = []
                for slot, proposal in enumerate(proposals):
                    index = free.popleft()
                    design = proposal.design if isinstance(proposal, Proposal) else proposal
                    asked[index] = (design, batch, slot)
                    tasks.append(self.task(index, proposal))
                if not agent.concurrent_asks:
                    group[batch] = [(t.index, asked[t.index][0], None) for t in tasks]
                executor.submit(tasks)
                batch += 1
            if not executor.outstanding:
                return
            self._finished(executor.next_completed(), asked, group)

    def _may_ask(self) -> bool:
        """A worker is free (a concurrent agent), or the agent's last batch is told (any other)."""
        if self.agent.concurrent_asks:
            return self.executor.idle > 0
        return not self.agent.pending

    def _finished(
        self,
        done: Completed,
        asked: dict[int, tuple[Design, int, int]],
        group: dict[int, list[tuple[int, Design, EvalResult | None]]],
    ) -> None:
        design, batch, slot = asked.pop(done.task.index)
        self.recorder.record(done, batch, slot)
        if self.agent.concurrent_asks:
            self.agent.tell([design], [done.result])
            return
        members = group[batch]
        members[slot] = (done.task.index, design, done.result)
        if all(result is not None for _, _, result in members):
            del group[batch]
            self.agent.tell([d for _, d, _ in members], [r for _, _, r in members])  # type: ignore[misc]
