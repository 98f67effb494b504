"""Agent-hyperparameter envs: real short trainings, sensible beats degenerate, seeds disjoint."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import archgym  # noqa: F401 - registers the envs
from archgym.loop import run
from archgym_hpo.seeds import MAX_SEEDS, held_out_seeds, tuning_seeds

os.environ["WANDB_MODE"] = "disabled"

SENSIBLE_PQL = {"gamma": 0.99, "initial_epsilon": 1.0, "final_epsilon": 0.1, "epsilon_decay_fraction": 0.5}
GREEDY_PQL = {"gamma": 0.99, "initial_epsilon": 0.0, "final_epsilon": 0.0, "epsilon_decay_fraction": 0.5}
PPO_DESIGN = {
    "learning_rate": 3e-3,
    "n_steps": 256,
    "batch_size": 64,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_range": 0.2,
    "ent_coef": 0.0,
    "n_epochs": 10,
}


def _step(env_id: str, design: dict[str, Any], **kwargs: Any) -> tuple[Any, dict[str, Any]]:
    env = gym.make(env_id, **kwargs)
    try:
        env.reset(seed=0)
        _, reward, terminated, _, info = env.step(env.unwrapped.design_space.to_action(design, check=False))
        assert terminated
        return reward, info
    finally:
        env.close()


def test_morl_sensible_exploration_beats_none_and_leaves_no_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    good, info = _step("archgym/MORLHyper-v0", SENSIBLE_PQL, train_steps=1000, n_seeds=1)
    assert info["feasible"], info.get("error")
    assert math.isfinite(good) and 0.0 < good <= 1.0
    # no exploration at all: the greedy agent never leaves the first treasure
    bad, _ = _step("archgym/MORLHyper-v0", GREEDY_PQL, train_steps=1000, n_seeds=1)
    assert good > bad
    m = info["metrics"]
    assert m["hypervolume"] == pytest.approx(good * 401.8, rel=1e-6)  # known front's HV vs (0, -25)
    assert m["front_size"] >= 2 and m["expected_utility"] > 0
    assert list(tmp_path.iterdir()) == []  # no wandb/, no logs, nothing in the CWD


def test_morl_true_front_is_the_published_undiscounted_one() -> None:
    env = gym.make("archgym/MORLHyper-v0")
    front = env.unwrapped.true_front()
    assert front.shape == (10, 2) and front[-1].tolist() == [23.7, -19.0]
    env.close()


def test_morl_two_objective_variant_gives_hypervolume_and_cost() -> None:
    reward, info = _step(
        "archgym/MORLHyper-v0", SENSIBLE_PQL, train_steps=300, n_seeds=1, objective="hypervolume_cost"
    )
    assert isinstance(reward, np.ndarray) and reward.shape == (2,) and np.all(np.isfinite(reward))
    assert reward[1] == pytest.approx(-info["metrics"]["train_time_s"])


def test_envelope_option_trains_a_short_real_run() -> None:
    env = gym.make("archgym/MORLHyper-v0", algorithm="envelope", train_steps=150, n_seeds=1)
    space = env.unwrapped.design_space
    assert {
        "learning_rate",
        "net_width",
        "net_depth",
        "batch_size",
        "buffer_size",
        "final_homotopy_lambda",
    } <= set(space.names)
    env.reset(seed=0)
    design = {**space.default(), "net_width": 32, "net_depth": 1, "batch_size": 16}
    _, reward, _, _, info = env.step(space.to_action(design))
    env.close()
    assert info["feasible"], info.get("error")
    assert math.isfinite(reward) and 0.0 <= reward <= 1.0


def test_ppo_sensible_learning_rate_beats_the_bottom_of_the_range() -> None:
    good, info = _step("archgym/RLHyper-v0", PPO_DESIGN, train_steps=2048)
    assert info["feasible"], info.get("error")
    assert math.isfinite(good)
    bad, _ = _step("archgym/RLHyper-v0", {**PPO_DESIGN, "learning_rate": 1e-5}, train_steps=2048)
    assert good > bad


def test_ppo_batch_larger_than_rollout_is_infeasible_without_training() -> None:
    reward, info = _step("archgym/RLHyper-v0", {**PPO_DESIGN, "n_steps": 64, "batch_size": 128})
    assert not info["feasible"] and "batch_size <= n_steps" in info["error"]
    assert reward == 0.0  # CartPole penalty: the lowest possible return


def test_a2c_option_trains_and_sb3_leaves_no_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where SB3 makes SB3-* folders without a logger
    monkeypatch.setattr(tempfile, "tempdir", None)
    design = {
        "learning_rate": 7e-4,
        "n_steps": 5,
        "gamma": 0.99,
        "gae_lambda": 1.0,
        "ent_coef": 0.0,
        "vf_coef": 0.5,
    }
    reward, info = _step("archgym/RLHyper-v0", design, algorithm="A2C", train_steps=200)
    assert info["feasible"], info.get("error")
    assert math.isfinite(reward)
    assert not list(tmp_path.glob("SB3-*"))


@settings(max_examples=50, deadline=None)
@given(k=st.integers(1, MAX_SEEDS), t=st.integers(1, MAX_SEEDS))
def test_tuning_and_test_seeds_never_overlap(k: int, t: int) -> None:
    assert not set(tuning_seeds(k)) & set(held_out_seeds(t))
    assert len(set(tuning_seeds(k))) == k and len(set(held_out_seeds(t))) == t


@pytest.mark.parametrize("env_id", ["archgym/MORLHyper-v0", "archgym/RLHyper-v0"])
def test_test_mode_uses_the_disjoint_test_seeds(env_id: str) -> None:
    tune = gym.make(env_id, n_seeds=3).unwrapped
    assert tune.test_kwargs == {"seed_set": "test"}
    test = gym.make(env_id, n_seeds=3, **tune.test_kwargs).unwrapped
    assert test.test_kwargs is None
    assert not set(tune.seeds) & set(test.seeds)


@pytest.mark.parametrize(
    ("env_id", "kwargs", "name"),
    [
        ("archgym/MORLHyper-v0", {"mo_env": "minecart-v0"}, "mo_env"),  # PQL is tabular
        ("archgym/MORLHyper-v0", {"mo_env": "pong"}, "mo_env"),
        ("archgym/MORLHyper-v0", {"algorithm": "dqn"}, "algorithm"),
        ("archgym/MORLHyper-v0", {"n_seeds": 0}, "n_seeds"),
        ("archgym/MORLHyper-v0", {"seed_set": "train"}, "seed_set"),
        ("archgym/MORLHyper-v0", {"objective": "cost"}, "objective"),
        ("archgym/MORLHyper-v0", {"train_steps": 5}, "train_steps"),
        ("archgym/MORLHyper-v0", {"train_steps": 10**30}, "train_steps"),
        ("archgym/RLHyper-v0", {"task": "Pong-v5"}, "task"),
        ("archgym/RLHyper-v0", {"algorithm": "DQN"}, "algorithm"),
        ("archgym/RLHyper-v0", {"n_test_seeds": MAX_SEEDS + 1}, "n_test_seeds"),
        ("archgym/RLHyper-v0", {"n_seeds": 1.5}, "n_seeds"),
        ("archgym/RLHyper-v0", {"seed_set": "train"}, "seed_set"),
        ("archgym/RLHyper-v0", {"train_steps": 63}, "train_steps"),
        ("archgym/RLHyper-v0", {"eval_episodes": 0}, "eval_episodes"),
        ("archgym/RLHyper-v0", {"eval_episodes": True}, "eval_episodes"),
    ],
)
def test_bad_env_kwargs_name_the_argument(env_id: str, kwargs: dict[str, Any], name: str) -> None:
    owner = env_id.removeprefix("archgym/").removesuffix("-v0")
    with pytest.raises(ValueError, match=f"^{owner}: {name}: .* is not legal.*; legal values: "):
        gym.make(env_id, **kwargs)


def test_declared_arguments_give_their_legal_values() -> None:
    with pytest.raises(ValueError, match=r"^RLHyper: task: 'Pong-v5' is not legal; legal values: one of \["):
        gym.make("archgym/RLHyper-v0", task="Pong-v5")
    with pytest.raises(ValueError, match=rf"^RLHyper: n_test_seeds: .*integers in \[1, {MAX_SEEDS}\]$"):
        gym.make("archgym/RLHyper-v0", n_test_seeds=MAX_SEEDS + 1)
    with pytest.raises(
        ValueError,
        match=r"^MORLHyper: train_steps: 5 is not legal; legal values: integers in \[100, 200000\]$",
    ):
        gym.make("archgym/MORLHyper-v0", train_steps=5)
    with pytest.raises(
        ValueError, match=r"^MORLHyper: mo_env: 'minecart-v0' is not legal for algorithm 'pql'"
    ):
        gym.make("archgym/MORLHyper-v0", mo_env="minecart-v0")
    env = gym.make("archgym/RLHyper-v0", train_steps=2048.0, n_seeds=np.int64(2)).unwrapped
    assert env.fidelity.default == 2048 and env.seeds == [0, 1]


def test_seed_helpers_refuse_counts_that_could_overlap() -> None:
    with pytest.raises(ValueError, match=rf"'n_seeds'.*integers in \[1, {MAX_SEEDS}\]"):
        tuning_seeds(0)
    with pytest.raises(ValueError, match=rf"'n_test_seeds'.*integers in \[1, {MAX_SEEDS}\]"):
        held_out_seeds(MAX_SEEDS + 1)


@pytest.mark.parametrize(
    ("env_id", "packages"),
    [
        ("archgym/RLHyper-v0", ("stable-baselines3", "gymnasium", "torch")),
        ("archgym/MORLHyper-v0", ("morl-baselines", "mo-gymnasium", "pymoo")),
    ],
)
def test_versions_are_the_simulator_packages(env_id: str, packages: tuple[str, ...]) -> None:
    from importlib.metadata import version

    env = gym.make(env_id)
    assert env.unwrapped.versions() == {p: version(p) for p in packages}
    env.close()


def test_run_reports_tuned_and_test_rewards_side_by_side(tmp_path: Path) -> None:
    summary = run(
        env="archgym/MORLHyper-v0",
        agent="random",
        budget=3,
        seed=0,
        out=tmp_path / "r",
        env_kwargs={"train_steps": 300, "n_seeds": 1, "n_test_seeds": 2},
        progress=False,
    )
    test = summary["test"]
    assert test["env_kwargs"]["seed_set"] == "test"
    assert test["tuned_reward"] == summary["best_reward"]
    assert test["feasible"] and 0.0 <= test["test_reward"] <= 1.0


SMALL_PPO = {**PPO_DESIGN, "n_steps": 64, "batch_size": 32, "n_epochs": 2}
SMALL_A2C = {
    "learning_rate": 7e-4,
    "n_steps": 8,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "ent_coef": 0.0,
    "vf_coef": 0.5,
}


@pytest.mark.parametrize(
    ("kwargs", "design"),
    [
        ({"algorithm": "PPO", "task": "CartPole-v1"}, SMALL_PPO),
        ({"algorithm": "A2C", "task": "Pendulum-v1"}, SMALL_A2C),
    ],
)
def test_rl_training_continued_from_a_checkpoint_equals_training_directly(
    tmp_path: Path, kwargs: dict[str, Any], design: dict[str, Any]
) -> None:
    from archgym.env import CheckpointStore

    env = gym.make("archgym/RLHyper-v0", max_train_steps=512, n_seeds=2, eval_episodes=1, **kwargs)
    action = env.unwrapped.design_space.to_action(design)
    resumed_dir, direct_dir = str(tmp_path / "resumed"), str(tmp_path / "direct")

    def metrics(seed: int, **options: Any) -> dict[str, float]:
        env.reset(seed=seed, options=options)
        _, _, _, _, info = env.step(action)
        assert info["feasible"], info.get("error")
        return info["metrics"]

    low = metrics(0, fidelity=200, checkpoints=resumed_dir)  # 200 is no multiple of a rollout
    resumed = metrics(1, fidelity=512, checkpoints=resumed_dir, continue_from=200)
    direct = metrics(0, fidelity=512, checkpoints=direct_dir)
    assert low["continued_from"] == 0 and resumed["continued_from"] == 200 and direct["continued_from"] == 0
    assert resumed["mean_return"] == direct["mean_return"] and resumed["return_std"] == direct["return_std"]
    ends = [CheckpointStore(d).load(design, 512) for d in (resumed_dir, direct_dir)]
    for seed in ("0", "1"):
        a, b = (end["seeds"][seed] for end in ends)  # type: ignore[index]
        assert a["num_timesteps"] == b["num_timesteps"] >= 512
        for name, tensor in a["policy"].items():
            assert torch.equal(tensor, b["policy"][name]), name  # the very same weights
    missing = metrics(0, fidelity=512, checkpoints=str(tmp_path / "none"), continue_from=200)
    assert missing["checkpoint_missing"] == 1 and missing["mean_return"] == direct["mean_return"]


def test_rl_max_train_steps_declares_a_continuable_fidelity() -> None:
    env = gym.make("archgym/RLHyper-v0", max_train_steps=4096).unwrapped
    assert env.fidelity.high == env.fidelity.default == 4096 and env.fidelity.continuable
    assert not gym.make("archgym/RLHyper-v0").unwrapped.continuable  # today's fidelity: unchanged
    assert gym.make("archgym/RLHyper-v0").unwrapped.fidelity.high == 1_000_000
    with pytest.raises(ValueError, match="train_steps"):
        gym.make("archgym/RLHyper-v0", max_train_steps=4096, train_steps=2048)
    with pytest.raises(ValueError, match="max_train_steps"):
        gym.make("archgym/RLHyper-v0", max_train_steps=10)


@pytest.mark.parametrize(
    "options", [{}, {"schedule": "async", "simulate_time": True, "workers": 2}], ids=["sync", "simulated"]
)
def test_asha_on_rl_steps_continues_promotions_reproducibly(tmp_path: Path, options: dict) -> None:
    import pyarrow.parquet as pq

    kwargs = {"max_train_steps": 256, "eval_episodes": 1}
    params = {"eta": 2, "n_rungs": 2}  # rungs 128 and 256 steps

    def once(name: str):
        run(
            env="archgym/RLHyper-v0",
            agent="asha",
            agent_params=params,
            budget=None,
            cost_budget=1.5,
            seed=4,
            out=tmp_path / name,
            env_kwargs=kwargs,
            progress=False,
            **options,
        )
        return pq.read_table(tmp_path / name / "evaluations.parquet").to_pandas().sort_values("step")

    first, second = once("a"), once("b")
    columns = ["fidelity", "reward", "cost", "metric.continued_from", "finish_s"]
    if not options:
        columns.remove("finish_s")  # real time
    assert first[columns].reset_index(drop=True).equals(second[columns].reset_index(drop=True))
    promoted = first[first["fidelity"] == 256]
    assert len(promoted) > 0 and (promoted["metric.continued_from"] == 128).all()
    assert (promoted["cost"] == 0.5).all() and (promoted["metric.checkpoint_missing"] == 0).all()
