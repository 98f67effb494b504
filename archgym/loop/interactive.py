"""Driving an agent that owns its interaction (RL): it runs on the fully wrapped env, whose
every ``step`` the recording wrapper journals and counts against the budget."""

from __future__ import annotations

import contextlib
import time
import warnings
from typing import Any

import gymnasium as gym

from archgym.env import codec_for
from archgym.execution import Completed, Task
from archgym.loop.recorder import Recorder
from archgym.loop.resume import Replay
from archgym.records import result_from_step
from archgym.search import BudgetExhausted, InteractiveAgent

__all__ = ["RecordingEnv", "drive_interactive"]


def drive_interactive(
    agent: InteractiveAgent, agent_name: str, env: gym.Env[Any, Any], recorder: Recorder, replay: Replay
) -> None:
    budget = recorder.ledger.budget
    if replay:
        warnings.warn(
            f"agent {agent_name!r} owns its interaction and can't be resumed exactly; "
            f"it continues for the {budget - len(replay)} evaluations left",
            stacklevel=3,
        )
        for result in replay.results():
            recorder.count(result)
    recording = RecordingEnv(env, recorder, first_step=replay.next_step())
    with contextlib.suppress(BudgetExhausted):
        agent.run(recording, budget - len(replay))


class RecordingEnv(gym.Wrapper[Any, Any, Any, Any]):
    """The fully wrapped env an interactive agent runs on: records and counts every step, and
    raises :class:`~archgym.search.BudgetExhausted` past the budget."""

    def __init__(self, env: gym.Env[Any, Any], recorder: Recorder, first_step: int) -> None:
        super().__init__(env)
        self._recorder, self._step = recorder, first_step
        self._codec = codec_for(env)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        ledger = self._recorder.ledger
        if self._step >= ledger.budget or ledger.cost_spent():
            raise BudgetExhausted(f"budget of {ledger.budget} evaluations spent")
        started = time.perf_counter()
        obs, reward, terminated, truncated, info = self.env.step(action)
        finished = time.perf_counter()
        design = info.get("design") or self._codec.from_action(action)
        result = result_from_step(design, reward, info)
        task = Task(index=self._step, design=design, fidelity=result.fidelity, seed=None)
        self._recorder.record(Completed(task, result, 0, started, finished), batch=self._step, slot=0)
        self._step += 1
        return obs, reward, terminated, truncated, info
