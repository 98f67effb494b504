"""The ask/tell driver: asks the agent for a batch, evaluates it on the executor, records each
result as it completes and tells the agent the whole batch — until the budget is spent."""

from __future__ import annotations

import time

from archgym.execution import Executor, Task, eval_seed
from archgym.loop.config import RunConfig, evaluation_limit
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
        self.checkpoints: str | None = None
        """The run's checkpoint folder (absolute), where the env can continue evaluations."""

    def drive(self, replay: Replay) -> None:
        budget, step, batch = evaluation_limit(self.config), 0, 0
        replaying = bool(replay)
        while step < budget and self.may_continue():
            proposals = self.agent.ask(
                self.recorder.ledger.affordable(min(self.agent.batch_size, budget - step))
            )
            if replaying:
                replayed = self._replayed(step, proposals, replay)
                if replayed is None:  # the agent asked for something else than it did before
                    replay.retell(self.agent, self.config.agent, from_step=step, recorder=self.recorder)
                    self._fill_after_divergence(replay, batch)
                    return
                tasks, results = replayed
            else:
                tasks = [self.task(step + i, p) for i, p in enumerate(proposals)]
                results = [None] * len(tasks)
            self._complete(tasks, results, batch)
            step += len(tasks)
            batch += 1
            replaying = replaying and replay.holds_from(step)

    def may_continue(self) -> bool:
        """Neither the cost budget nor the time budget (on the run's clock) is spent."""
        if self.recorder.ledger.cost_spent():
            return False
        limit = self.config.time_budget_s
        if limit is None:
            return True
        now = getattr(self.executor, "now", 0.0) if self.executor.simulated else time.perf_counter()
        return self.recorder.clock(now) < limit

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
        seed = eval_seed(self.config.seed, index)
        if self.checkpoints is None:
            return Task(index=index, design=design, fidelity=fidelity, seed=seed)
        resume = self.recorder.ledger.continuation_of(design, fidelity)
        return Task(index, design, fidelity, seed, continue_from=resume, checkpoints=self.checkpoints)

    def _replayed(
        self, step: int, proposals: list[Design | Proposal], replay: Replay
    ) -> tuple[list[Task], list[EvalResult | None]] | None:
        """The batch's tasks, with the recorded result of each one the journal holds (counted,
        not re-evaluated); None if a proposal differs from the recorded design.

        A proposal equal to its recorded design needs no validation (it was validated when it
        was recorded): replaying N evaluations costs little more than reading N journal lines.
        """
        tasks: list[Task] = []
        results: list[EvalResult | None] = []
        for i, proposal in enumerate(proposals):
            index = step + i
            recorded = replay.result(index)
            if recorded is None:
                tasks.append(self.task(index, proposal))
                results.append(None)
                continue
            if isinstance(proposal, Proposal):
                design, fidelity = proposal.design, proposal.fidelity
            else:
                design, fidelity = proposal, None
            if design == recorded.design:
                seed = eval_seed(self.config.seed, index)
                tasks.append(Task(index=index, design=recorded.design, fidelity=fidelity, seed=seed))
            else:  # maybe only its form differs (numpy numbers, inactive parameters): validate
                task = self.task(index, proposal)
                if task.design != recorded.design:
                    return None
                tasks.append(task)
            results.append(recorded)
        for result in results:
            if result is not None:
                self.recorder.count(result)
        return tasks, results

    def _complete(self, tasks: list[Task], results: list[EvalResult | None], batch: int) -> None:
        """Evaluate the tasks that have no result yet, record each as it completes, then tell the
        agent the whole batch."""
        pending = [t for t, r in zip(tasks, results, strict=True) if r is None]
        if pending:  # a replayed batch has nothing to evaluate
            slot = {task.index: i for i, task in enumerate(tasks)}
            for done in self.executor.run(pending):
                results[slot[done.task.index]] = done.result
                self.recorder.record(done, batch, slot[done.task.index])
        self.agent.tell([t.design for t in tasks], results)  # type: ignore[arg-type]

    def _fill_after_divergence(self, replay: Replay, batch: int) -> None:
        """Spend the rest of the budget on the evaluation indices the journal lacks."""
        free = replay.free_steps(evaluation_limit(self.config))
        batch = replay.last_batch(batch - 1) + 1
        while free and self.may_continue():
            proposals = self.agent.ask(self.recorder.ledger.affordable(min(self.agent.batch_size, len(free))))
            tasks = [self.task(free.popleft(), p) for p in proposals]
            self._complete(tasks, [None] * len(tasks), batch)
            batch += 1
