"""The stable-baselines3 agent ``rl``: budget, reproducibility, algorithms, episodes, /tmp."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import pyarrow.parquet as pq
import pytest

import archgym  # noqa: F401 - registers the built-in envs and agents
from archgym import DesignEnv, DesignSpace, EvalContext, Integer, Objective, Objectives, Real
from archgym.loop import run
from archgym_agents.rl import _LearnerReward, auto_batch_size, auto_n_steps

MIXED = "archgym/MixedConditional-v0"
HARTMANN = "archgym/Hartmann6-v0"
SEQ = "archgym-rltest/Sequence-v0"
PICK = "archgym-rltest/PickOne-v0"


class SequenceEnv(DesignEnv):
    """Three evaluations per episode; metrics in the millions (cycle counts) plus the position
    of the evaluation within its episode."""

    def __init__(self) -> None:
        super().__init__(
            design_space=DesignSpace([Integer("k", 0, 4), Real("y", 0.0, 1.0)]),
            metrics={"cycles": "cycles", "position": "1"},
            objective=Objectives([Objective("cycles", "min")], penalty=-1e7),
            episode_length=3,
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        cycles = 1e6 * (1 + (design["k"] - 2) ** 2 + design["y"])
        return {"cycles": cycles, "position": float(context.step)}


class PickOneEnv(DesignEnv):
    """One discrete parameter: the stable-baselines3 view is a single Discrete (DQN's)."""

    def __init__(self) -> None:
        super().__init__(
            design_space=DesignSpace([Integer("k", 0, 9)]),
            metrics={"value": "1"},
            objective=Objectives([Objective("value", "min")], penalty=-100.0),
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        return {"value": float((design["k"] - 7) ** 2)}


for _id, _cls in ((SEQ, SequenceEnv), (PICK, PickOneEnv)):
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_cls)


def records(out: Path) -> list[dict]:
    return sorted(pq.read_table(out / "evaluations.parquet").to_pylist(), key=lambda r: r["step"])


def designs_and_rewards(out: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k.startswith(("param.", "reward"))} for r in records(out)]


def go(tmp_path: Path, name: str, env: str = MIXED, budget: int = 40, seed: int = 0, **kwargs: Any) -> dict:
    return run(env=env, agent="rl", budget=budget, seed=seed, out=tmp_path / name, progress=False, **kwargs)


@pytest.mark.parametrize(
    ("env", "env_kwargs", "budget"),
    [
        (MIXED, {}, 37),  # Box view; the budget ends mid-rollout (n_steps 8): learn() is interrupted
        (HARTMANN, {"levels": 5}, 32),  # MultiDiscrete view; the budget is 4 whole rollouts
    ],
)
def test_runs_exactly_the_budget_and_saves_the_policy(
    env: str, env_kwargs: dict, budget: int, tmp_path: Path
) -> None:
    summary = go(tmp_path, "r", env=env, budget=budget, env_kwargs=env_kwargs)
    rows = records(tmp_path / "r")
    assert [r["step"] for r in rows] == list(range(budget))
    assert summary["n_evaluations"] == budget
    agent = summary["agent_summary"]
    assert agent["algorithm"] == "ppo" and agent["n_steps"] == 8
    assert agent["batch_size"] == 8 and agent["policy_updates"] == budget // 8
    assert agent["interrupted"] == (budget % 8 != 0)
    assert (tmp_path / "r" / "policy.zip").is_file()


def test_same_seed_same_designs_other_seed_or_hyperparameters_differ(tmp_path: Path) -> None:
    go(tmp_path, "a", seed=3)
    go(tmp_path, "b", seed=3)
    go(tmp_path, "c", seed=4)
    go(tmp_path, "d", seed=3, agent_params={"init_std": 0.2, "learning_rate": 0.05})
    first = designs_and_rewards(tmp_path / "a")
    assert first == designs_and_rewards(tmp_path / "b")
    assert first != designs_and_rewards(tmp_path / "c")
    assert first != designs_and_rewards(tmp_path / "d")


def test_a2c_runs_and_differs_from_ppo(tmp_path: Path) -> None:
    summary = go(tmp_path, "a2c", budget=30, agent_params={"algorithm": "a2c"})
    assert summary["n_evaluations"] == 30
    assert summary["agent_summary"]["algorithm"] == "a2c"
    go(tmp_path, "ppo", budget=30)
    assert designs_and_rewards(tmp_path / "a2c") != designs_and_rewards(tmp_path / "ppo")


@pytest.mark.parametrize(
    ("env", "env_kwargs", "view"), [(MIXED, {}, "Box"), (HARTMANN, {"levels": 5}, "MultiDiscrete")]
)
def test_dqn_is_refused_unless_the_view_is_a_single_discrete(
    env: str, env_kwargs: dict, view: str, tmp_path: Path
) -> None:
    legal = "legal choices for this env: 'ppo', 'a2c'"
    with pytest.raises(ValueError, match=rf"algorithm: 'dqn'.*{view}.*{legal}"):
        go(tmp_path, "r", env=env, env_kwargs=env_kwargs, agent_params={"algorithm": "dqn"})
    assert not (tmp_path / "r" / "evaluations.parquet").exists()


@pytest.mark.parametrize(
    ("params", "message"),
    [({"batch_size": 1}, "batch_size: PPO"), ({"n_steps": 8, "batch_size": 16}, "batch_size: 16 is larger")],
)
def test_inconsistent_rollout_settings_are_refused_before_any_evaluation(
    params: dict, message: str, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=message):
        go(tmp_path, "r", agent_params=params)
    assert not (tmp_path / "r" / "evaluations.parquet").exists()


def test_dqn_runs_on_a_single_discrete_parameter(tmp_path: Path) -> None:
    summary = go(tmp_path, "r", env=PICK, budget=40, agent_params={"algorithm": "dqn"})
    assert summary["n_evaluations"] == 40
    assert summary["agent_summary"]["algorithm"] == "dqn"
    assert {r["param.k"] for r in records(tmp_path / "r")} <= set(range(10))


def test_multi_step_episodes_run_their_whole_length(tmp_path: Path) -> None:
    summary = go(tmp_path, "r", env=SEQ, budget=31)
    rows = records(tmp_path / "r")
    assert summary["n_evaluations"] == 31
    # The policy steps through each episode (it sees the metrics of the step before) and SB3
    # resets only when an episode ends: positions cycle 0, 1, 2.
    assert [r["metric.position"] for r in rows] == [float(i % 3) for i in range(31)]
    assert all(math.isfinite(r["reward"]) for r in rows)


def test_multi_objective_envs_are_refused_and_work_scalarized(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"single-objective.*--scalarize"):
        go(tmp_path, "mo", env="archgym/DTLZ2-v0")
    summary = go(tmp_path, "sc", env="archgym/DTLZ2-v0", budget=16, scalarize="weighted:0.5,0.5")
    assert summary["n_evaluations"] == 16


def test_sb3_leaves_no_folder_in_tmp(tmp_path: Path) -> None:
    tmp = Path(tempfile.gettempdir())
    before = set(tmp.glob("SB3-*"))
    go(tmp_path, "ppo", budget=20)
    go(tmp_path, "dqn", env=PICK, budget=20, agent_params={"algorithm": "dqn"})
    assert set(tmp.glob("SB3-*")) == before


def test_learner_reward_standardises_and_ranks_infeasible_below_the_worst() -> None:
    shaped = _LearnerReward(gym.make(PICK))
    assert shaped.transform(-1000.0, feasible=False) == -1.0  # nothing feasible seen yet
    assert [shaped.transform(r, feasible=True) for r in (5e6, 7e6)] == [0.0, 1.0]  # running z-scores
    high, low = shaped.transform(9e6, feasible=True), shaped.transform(4e6, feasible=True)
    assert 0 < high < 5 and -5 < low < 0
    infeasible = shaped.transform(-1e9, feasible=False)
    assert infeasible < shaped.transform(4e6, feasible=True)
    assert infeasible >= -5.0  # clipped: the penalty's size does not matter


@pytest.mark.parametrize("budget", [1, 30, 60, 200, 1000, 10_007, 100_000])
def test_auto_rollouts_give_several_updates_and_whole_minibatches(budget: int) -> None:
    n_steps = auto_n_steps(budget, "ppo")
    batch = auto_batch_size(n_steps)
    assert 8 <= n_steps <= 2048 and n_steps % batch == 0 and 2 <= batch <= 64
    if budget >= 60:
        assert budget // n_steps >= 7
