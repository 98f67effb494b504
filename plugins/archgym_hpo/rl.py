"""RLHyper: the hyperparameters of a stable-baselines3 agent on a Gymnasium control task.

One evaluation trains PPO (or A2C) once per tuning seed and measures the mean return of the
deterministic policy over evaluation episodes on a separately seeded copy of the task. Follows
Eimer et al., "Hyperparameters in Reinforcement Learning and How To Tune Them" (ICML 2023): tuning
seeds and test seeds are disjoint (see :mod:`archgym_hpo.seeds`). See docs/env-rlhyper.md.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from archgym import (
    Categorical,
    Constraint,
    DesignEnv,
    DesignSpace,
    EvalContext,
    Fidelity,
    Integer,
    Objective,
    Objectives,
    Ordinal,
    Real,
)
from archgym_hpo.seeds import SEED_ARGUMENTS, seeds_for

ALGORITHMS = ("PPO", "A2C")
TASKS: dict[str, float] = {
    # task → infeasible penalty: the lowest possible mean return of an episode
    "CartPole-v1": 0.0,
    "Acrobot-v1": -500.0,
    "Pendulum-v1": -3300.0,  # 200 steps × at most 16.27 cost per step
}
TRAIN_STEPS = (64, 1_000_000)
"""Range of the ``train_steps`` fidelity (environment steps of training per seed)."""
EVAL_SEED_OFFSET = 10_000
"""Evaluation episodes of training seed s run on a task seeded with ``EVAL_SEED_OFFSET + s``."""


def _batch_fits(design: Mapping[str, Any]) -> bool:
    return design["batch_size"] <= design["n_steps"]


def _design_space(algorithm: str) -> DesignSpace:
    common = [
        Real("learning_rate", 1e-5, 1e-2, log=True, default=3e-4),
        Real("gamma", 0.9, 0.9999, default=0.99),
        Real("gae_lambda", 0.8, 1.0, default=0.95),
        Real("ent_coef", 0.0, 0.05, default=0.0),
    ]
    if algorithm == "A2C":
        return DesignSpace(
            [
                *common[:1],
                Ordinal("n_steps", [5, 8, 16, 32, 64, 128], default=5),
                *common[1:],
                Real("vf_coef", 0.1, 1.0, default=0.5),
            ]
        )
    return DesignSpace(
        [
            *common[:1],
            Ordinal("n_steps", [64, 128, 256, 512, 1024, 2048], default=256),
            Ordinal("batch_size", [16, 32, 64, 128, 256], default=64),
            *common[1:3],
            Real("clip_range", 0.05, 0.4, default=0.2),
            common[3],
            Integer("n_epochs", 1, 20, default=10),
        ],
        constraints=[Constraint("batch_size <= n_steps", _batch_fits)],
    )


class RLHyper(DesignEnv):
    """Tune PPO (default) or A2C on CartPole-v1 (default), Acrobot-v1 or Pendulum-v1.

    Args:
        algorithm: ``"PPO"`` or ``"A2C"``.
        task: the Gymnasium task id, one of ``TASKS``.
        train_steps: default fidelity — environment steps of training per seed.
        n_seeds: K, the number of tuning seeds each evaluation trains on.
        n_test_seeds: the number of (disjoint) test seeds used in test mode.
        seed_set: ``"tune"`` (tuning seeds) or ``"test"`` (test seeds: the env's test mode).
        eval_episodes: episodes of the trained deterministic policy per seed.

    Reward: ``mean_return`` (mean over seeds of the mean evaluation return). Infeasible penalty:
    the task's lowest possible return (``TASKS``); a forbidden combination (``batch_size >
    n_steps``) is infeasible.
    """

    arguments = (
        Categorical("algorithm", ALGORITHMS),
        Categorical("task", tuple(TASKS)),
        Integer("train_steps", *TRAIN_STEPS),
        *SEED_ARGUMENTS,
        Integer("eval_episodes", 1, 1000),
    )
    simulator_packages = ("stable-baselines3", "gymnasium", "torch")

    def __init__(
        self,
        *,
        algorithm: str = "PPO",
        task: str = "CartPole-v1",
        train_steps: int = 1024,
        n_seeds: int = 1,
        n_test_seeds: int = 3,
        seed_set: str = "tune",
        eval_episodes: int = 3,
    ) -> None:
        self.seeds = seeds_for(seed_set, n_seeds, n_test_seeds)
        self.algorithm, self.task, self.seed_set = algorithm, task, seed_set
        self.eval_episodes = eval_episodes
        super().__init__(
            design_space=_design_space(algorithm),
            metrics={"mean_return": "return", "return_std": "return", "train_time_s": "s"},
            objective=Objectives([Objective("mean_return", "max")], penalty=TASKS[task]),
            fidelity=Fidelity("train_steps", *TRAIN_STEPS, int(train_steps), integer=True),
        )
        self.test_kwargs = {"seed_set": "test"} if seed_set == "tune" else None

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        import stable_baselines3  # noqa: F401 - imported before the clock starts
        import torch

        torch.set_num_threads(1)  # parallel workers each train on one core
        steps = int(context.fidelity if context.fidelity is not None else self.fidelity.default)
        start = time.perf_counter()
        returns = [self._train_one(design, steps, seed) for seed in self.seeds]
        train_time = time.perf_counter() - start
        return {
            "mean_return": float(np.mean(returns)),
            "return_std": float(np.std(returns)),
            "train_time_s": train_time,
        }

    def _train_one(self, design: Mapping[str, Any], steps: int, seed: int) -> float:
        import gymnasium as gym
        from stable_baselines3 import A2C, PPO
        from stable_baselines3.common.evaluation import evaluate_policy
        from stable_baselines3.common.logger import Logger
        from stable_baselines3.common.monitor import Monitor

        hyper = {k: float(v) if isinstance(v, float) else int(v) for k, v in design.items()}
        cls = PPO if self.algorithm == "PPO" else A2C
        env, eval_env = gym.make(self.task), Monitor(gym.make(self.task))  # Monitor: no file
        try:
            model = cls("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **hyper)
            # No output formats: without a logger of its own SB3 makes a $TMPDIR/SB3-* folder per learn().
            model.set_logger(Logger(folder=None, output_formats=[]))
            model.learn(total_timesteps=steps)
            eval_env.reset(seed=EVAL_SEED_OFFSET + seed)
            mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=self.eval_episodes, deterministic=True)
        finally:
            env.close()
            eval_env.close()
        return float(mean)
