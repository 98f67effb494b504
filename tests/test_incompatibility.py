"""Issue #24 item 5: ``Agent.incompatibility`` sees the run's hyperparameters, so a limit one
setting brings (grid's ``max_designs``, rl's ``algorithm="dqn"``) is refused before any
evaluation with the hyperparameter named, and the "agents that can" hint is right."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest

from archgym.loop import run
from archgym.plugins import get_registry
from archgym.search import AgentSpec, Problem, problem_of


def _problem(env_id: str) -> Problem:
    env = gym.make(env_id)
    try:
        return problem_of(env, env_id)
    finally:
        env.close()


def test_grid_is_judged_with_its_own_max_designs() -> None:
    grid = get_registry().agent("grid")
    hartmann = _problem("archgym/Hartmann6-v0")  # 5 points per real: 15,625 designs
    assert grid.incompatibility(hartmann) is None  # some setting can
    assert grid.incompatibility(hartmann, {}) is None  # the default max_designs (100,000) can
    why = grid.incompatibility(hartmann, {"max_designs": 15_624})
    assert why is not None and why.startswith("max_designs:") and "15625 designs" in why
    assert grid.incompatibility(hartmann, {"max_designs": 15_625}) is None
    assert grid.incompatibility(hartmann, {"max_designs": 100, "points_per_real": 2}) is None


def test_rl_dqn_needs_a_single_discrete_parameter() -> None:
    rl = get_registry().agent("rl")
    branin = _problem("archgym/Branin-v0")
    assert rl.incompatibility(branin, {}) is None
    why = rl.incompatibility(branin, {"algorithm": "dqn"})
    assert why is not None and why.startswith("algorithm: 'dqn'") and "'ppo', 'a2c'" in why


def test_the_run_refuses_before_evaluating_and_hints_agents_that_can(tmp_path: Path) -> None:
    out = tmp_path / "grid"
    with pytest.raises(ValueError, match="max_designs: its grid has 15625 designs") as info:
        run(
            env="archgym/Hartmann6-v0",
            agent="grid",
            budget=5,
            seed=0,
            out=out,
            progress=False,
            agent_params={"max_designs": 100},
        )
    able = str(info.value).split("agents that can: ", 1)[1].split(";")[0].split(", ")
    assert "random" in able and "grid" not in able
    registry, hartmann = get_registry(), _problem("archgym/Hartmann6-v0")
    for name in able:  # each one listed can, at its defaults
        assert registry.agent(name).incompatibility(hartmann, {}) is None, name
    assert not (out / "journal.jsonl").exists()


def test_an_agent_written_before_hyperparameters_were_passed_is_still_asked() -> None:
    """A third-party agent whose ``incompatibility`` takes only the problem keeps working."""
    spec = AgentSpec(name="random", entry_point="archgym_agents.random_search:RandomSearch", description="x")
    calls = []

    class OldStyle:
        @classmethod
        def incompatibility(cls, problem: Problem) -> str | None:
            calls.append(problem.env_id)
            return "old style says no"

    spec_old = AgentSpec(name="old", entry_point="builtins:object", description="x")
    object.__setattr__(spec_old, "load", lambda: OldStyle)
    branin = _problem("archgym/Branin-v0")
    assert spec_old.incompatibility(branin, {}) == "old style says no" and calls == ["archgym/Branin-v0"]
    assert spec.incompatibility(branin, {}) is None
