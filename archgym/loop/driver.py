"""The ask/tell driver: asks the agent for a batch, evaluates it on the executor, records each
result as it completes and tells the agent the whole batch — until the budget is spent."""

from __future__ import annotations

from archgym.execution import Executor, Task, eval_seed
from archgym.loop.config import RunConfig
from archgym.loop.recorder import Recorder
from archgym.loop.resume import Replay
from archgym.search import Agent, EvalResult, Proposal
from archgym.spaces import Design, DesignSpace

__all__ = ["AskTellDriver"]


class AskTellDriver:
    def __init__(
        self,
        agent: Agent,
        executor: Executor,
        recorder: Recorder,
        config: RunConfig,
        design_space: DesignSpace,
    ) -> None:
        self.agent, self.executor, self.recorder = agent, executor, recorder
        self.config, self.design_space = config, design_space

    def drive(self, replay: Replay) -> None:
        budget, step, batch = self.config.budget, 0, 0
        replaying = bool(replay)
        while step < budget and not self.recorder.ledger.cost_spent():
            proposals = self.agent.ask(min(self.agent.batch_size, budget - step))
            tasks = [self.task(step + i, p) for i, p in enumerate(proposals)]
            results: list[EvalResult | None] = [None] * len(tasks)
            if replaying and not replay.replay(tasks, results, self.recorder):
                replay.retell(self.agent, self.config.agent, from_step=step, recorder=self.recorder)
                self._fill_after_divergence(replay, batch)
                return
            self._complete(tasks, results, batch)
            step += len(tasks)
            batch += 1
            replaying = replaying and replay.holds_from(step)

    def task(self, index: int, proposal: Design | Proposal) -> Task:
        """The evaluation of ``proposal`` at position ``index`` of the run (validated: an agent
        proposing a design outside the space is a bug in the agent, named as such)."""
        if isinstance(proposal, Proposal):
            design, fidelity = proposal.design, proposal.fidelity
        else:
            design, fidelity = proposal, None
        try:
            design = self.design_space.validate(design)
        except ValueError as exc:
            raise ValueError(f"agent {self.config.agent!r} proposed an invalid design: {exc}") from None
        return Task(index=index, design=design, fidelity=fidelity, seed=eval_seed(self.config.seed, index))

    def _complete(self, tasks: list[Task], results: list[EvalResult | None], batch: int) -> None:
        """Evaluate the tasks that have no result yet, record each as it completes, then tell the
        agent the whole batch."""
        slot = {task.index: i for i, task in enumerate(tasks)}
        pending = [t for t, r in zip(tasks, results, strict=True) if r is None]
        for task, result in self.executor.run(pending):
            results[slot[task.index]] = result
            self.recorder.record(task, batch, slot[task.index], result)
        self.agent.tell([t.design for t in tasks], results)  # type: ignore[arg-type]

    def _fill_after_divergence(self, replay: Replay, batch: int) -> None:
        """Spend the rest of the budget on the evaluation indices the journal lacks."""
        free = replay.free_steps(self.config.budget)
        batch = replay.last_batch(batch - 1) + 1
        while free and not self.recorder.ledger.cost_spent():
            proposals = self.agent.ask(min(self.agent.batch_size, len(free)))
            tasks = [self.task(free.pop(0), p) for p in proposals]
            self._complete(tasks, [None] * len(tasks), batch)
            batch += 1
