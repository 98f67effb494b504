"""Reinforcement learning with stable-baselines3 (PPO, A2C, DQN) on the fully wrapped env.

The agent owns the interaction: the loop hands it the recording env, whose every ``step`` is one
recorded evaluation counted against the budget; stepping past the budget raises
:class:`archgym.loop.BudgetExhausted`, which ends training (the evaluations already made are the
run's records, so nothing is lost or counted twice).

What the policy sees:

* actions — :class:`archgym.FlatActions`, the stable-baselines3 view of the design space
  (``MultiDiscrete`` for all-discrete spaces, ``Box(-1, 1)`` otherwise; ``Discrete`` for DQN on a
  single discrete parameter);
* observations — the env's own (the last metrics; zeros at an episode's start, so one-evaluation
  envs are a bandit), squashed with ``sign(x)·log1p(|x|)`` so raw metrics such as cycle counts
  don't saturate the network. The squash is stateless, so the same observation always means the
  same thing;
* rewards — the recorded reward is untouched; what the learner gets is standardised by the running
  mean and standard deviation of the feasible rewards seen so far and clipped to ±5, and an
  infeasible evaluation (whose reward is only the env's penalty constant) counts as one standard
  deviation below the worst feasible reward seen — a signal to avoid the design, not a number
  whose size matters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from archgym.search import AgentSpec, InteractiveAgent, Problem
from archgym.spaces import Categorical, Integer, Real

__all__ = ["SPEC", "SPECS", "ReinforcementLearning"]

SPEC = AgentSpec(
    name="rl",
    entry_point="archgym_agents.rl:ReinforcementLearning",
    description="Reinforcement learning with stable-baselines3 (PPO, A2C or DQN) on the env itself.",
    hyperparameters=(
        Categorical("algorithm", ["ppo", "a2c", "dqn"], default="ppo"),
        Real("learning_rate", 0.0, 0.1, default=0.0),
        Integer("n_steps", 0, 4096, default=0),
        Integer("batch_size", 0, 4096, default=0),
        Integer("n_epochs", 1, 100, default=20),
        Real("ent_coef", 0.0, 0.1, default=0.0),
        Real("gamma", 0.0, 1.0, default=0.99),
        Real("init_std", 0.05, 1.0, default=0.5),
        Integer("net_width", 4, 512, default=64),
        Integer("net_depth", 1, 4, default=2),
    ),
)
SPECS = [SPEC]

_REWARD_CLIP = 5.0
_LEARNING_RATE = {"ppo": 1e-2, "a2c": 1e-3, "dqn": 1e-3}


def auto_n_steps(budget: int, algorithm: str) -> int:
    """Rollout length: short enough that several policy updates happen within the budget."""
    if algorithm == "a2c":  # one gradient step per rollout: update often
        return int(np.clip(budget // 25, 4, 256))
    n_steps = int(np.clip(budget // 12, 8, 2048))
    return n_steps - n_steps % 8  # whole minibatches


def auto_batch_size(n_steps: int) -> int:
    """The largest divisor of ``n_steps`` in [4, 64] (whole minibatches), else the whole rollout."""
    divisors = [d for d in range(4, min(64, n_steps) + 1) if n_steps % d == 0]
    return max(divisors) if divisors else n_steps


def _dqn_refusal(problem: Problem) -> str | None:
    """Why DQN can't search ``problem`` (its view must be one Discrete action), or None."""
    space = problem.design_space
    if space.is_discrete and len(space) == 1:
        return None
    return (
        f"algorithm: 'dqn' needs a Discrete action view (a single discrete parameter); the "
        f"stable-baselines3 view of {problem.env_id} is {space.flat_space()}; legal choices for this "
        "env: 'ppo', 'a2c'"
    )


class _SymlogObservation(gym.ObservationWrapper[np.ndarray, Any, np.ndarray]):
    """``sign(x)·log1p(|x|)``: raw metrics of any magnitude in a range a network can use."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        shape = env.observation_space.shape
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=shape, dtype=np.float32)

    def observation(self, observation: Any) -> np.ndarray:
        x = np.nan_to_num(np.asarray(observation, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        return (np.sign(x) * np.log1p(np.abs(x))).astype(np.float32)


class _LearnerReward(gym.Wrapper[Any, Any, Any, Any]):
    """The reward the learner sees (the recorded one is untouched): standardised by the running
    statistics of the feasible rewards, with infeasible evaluations one standard deviation below
    the worst feasible reward seen."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self.n, self.mean, self.m2 = 0, 0.0, 0.0
        self.worst = math.inf

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        shaped = self.transform(float(reward), bool(info.get("feasible", True)))
        return obs, shaped, terminated, truncated, info

    def transform(self, reward: float, feasible: bool) -> float:
        if feasible and math.isfinite(reward):
            self.n += 1
            delta = reward - self.mean
            self.mean += delta / self.n
            self.m2 += delta * (reward - self.mean)
            self.worst = min(self.worst, reward)
            return float(np.clip((reward - self.mean) / self.std, -_REWARD_CLIP, _REWARD_CLIP))
        if self.n == 0:
            return -1.0
        z = (self.worst - self.mean) / self.std - 1.0
        return float(np.clip(z, -_REWARD_CLIP, _REWARD_CLIP))

    @property
    def std(self) -> float:
        if self.n < 2:
            return 1.0
        return max(math.sqrt(self.m2 / self.n), 1e-8 * max(abs(self.mean), 1.0))


class _SingleDiscrete(gym.ActionWrapper[Any, np.ndarray, Any]):
    """``MultiDiscrete([n])`` as ``Discrete(n)``, for DQN."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self.action_space = gym.spaces.Discrete(int(env.action_space.nvec[0]))

    def action(self, action: Any) -> np.ndarray:
        return np.array([int(action)], dtype=np.int64)


class ReinforcementLearning(InteractiveAgent):
    """A stable-baselines3 learner trained on the env for the whole budget; the best design it
    evaluated along the way is the run's result.

    Args:
        algorithm: ``"ppo"``, ``"a2c"`` or ``"dqn"`` (DQN only for a single discrete parameter,
            whose stable-baselines3 view is ``Discrete``).
        learning_rate: Adam (PPO, DQN) / RMSprop (A2C) step size; 0 picks the algorithm's own
            (``_LEARNING_RATE``; PPO's is high, for learning within a few hundred evaluations).
        n_steps: rollout length per policy update (PPO, A2C); 0 picks it from the budget
            (:func:`auto_n_steps`).
        batch_size: minibatch size (PPO, DQN); 0 picks it (PPO: :func:`auto_batch_size` of
            n_steps; DQN: a quarter of the budget, at most 32).
        n_epochs: passes over each rollout (PPO).
        ent_coef: entropy bonus (PPO, A2C).
        gamma: discount (irrelevant for one-evaluation episodes).
        init_std: initial standard deviation of the Gaussian policy on ``Box(-1, 1)`` views.
        net_width, net_depth: hidden layers of the policy and value (or Q) networks.
    """

    single_objective = True
    multi_objective = False

    @classmethod
    def incompatibility(
        cls, problem: Problem, hyperparameters: Mapping[str, Any] | None = None
    ) -> str | None:
        why = super().incompatibility(problem)
        if why is None and hyperparameters is not None and hyperparameters["algorithm"] == "dqn":
            return _dqn_refusal(problem)
        return why

    def __init__(self, problem: Problem, *, seed: int, **hyperparameters: Any) -> None:
        super().__init__(problem, seed=seed)
        hp = SPEC.resolve(hyperparameters)
        algorithm, n_steps, batch_size = hp["algorithm"], hp["n_steps"], hp["batch_size"]
        refusal = _dqn_refusal(problem) if algorithm == "dqn" else None
        if refusal is not None:
            raise ValueError(refusal)
        if algorithm == "ppo":
            if n_steps == 1 or batch_size == 1:
                name = "n_steps" if n_steps == 1 else "batch_size"
                raise ValueError(
                    f"{name}: PPO normalises advantages over minibatches and needs >= 2; "
                    "legal values: 0 (auto) or >= 2"
                )
            if n_steps and batch_size > n_steps:
                raise ValueError(
                    f"batch_size: {batch_size} is larger than n_steps ({n_steps}); "
                    f"legal values: 0 (auto) or 2..{n_steps}"
                )
        self.algorithm = algorithm
        self.learning_rate = hp["learning_rate"] or _LEARNING_RATE[algorithm]
        self.n_steps, self.batch_size, self.n_epochs = n_steps, batch_size, hp["n_epochs"]
        self.ent_coef, self.gamma, self.init_std = hp["ent_coef"], hp["gamma"], hp["init_std"]
        self.net_arch = [hp["net_width"]] * hp["net_depth"]
        self.model: Any = None
        self.settings: dict[str, Any] = {}
        self.interrupted = False

    def _make_model(self, env: gym.Env[Any, Any], budget: int) -> Any:
        from stable_baselines3 import A2C, DQN, PPO
        from stable_baselines3.common.logger import Logger

        # Plain Gymnasium envs may observe a Dict (or Discrete, …): SB3 takes those as they are.
        policy = "MultiInputPolicy" if isinstance(env.observation_space, gym.spaces.Dict) else "MlpPolicy"
        common: dict[str, Any] = {
            "learning_rate": self.learning_rate,
            "gamma": self.gamma,
            "seed": self.seed,
            "verbose": 0,
            "device": "cpu",
        }
        boxed = isinstance(env.action_space, gym.spaces.Box)
        if self.algorithm == "dqn":
            batch = self.batch_size or min(32, max(1, budget // 4))
            starts = max(batch, budget // 10)
            self.settings = {"batch_size": batch, "learning_starts": starts}
            model = DQN(
                policy,
                env,
                batch_size=batch,
                buffer_size=max(budget, 1),
                learning_starts=starts,
                train_freq=1,
                gradient_steps=1,
                target_update_interval=max(1, budget // 20),
                exploration_fraction=0.5,
                exploration_final_eps=0.05,
                policy_kwargs={"net_arch": self.net_arch},
                **common,
            )
        else:
            n_steps = self.n_steps or auto_n_steps(budget, self.algorithm)
            if not self.n_steps and self.batch_size:  # auto rollouts hold whole minibatches
                n_steps = max(1, round(n_steps / self.batch_size)) * self.batch_size
            policy_kwargs: dict[str, Any] = {"net_arch": {"pi": self.net_arch, "vf": self.net_arch}}
            if boxed:
                policy_kwargs["log_std_init"] = math.log(self.init_std)
            if self.algorithm == "ppo":
                batch = self.batch_size or auto_batch_size(n_steps)
                self.settings = {"n_steps": n_steps, "batch_size": batch, "n_epochs": self.n_epochs}
                model = PPO(
                    policy,
                    env,
                    n_steps=n_steps,
                    batch_size=batch,
                    n_epochs=self.n_epochs,
                    ent_coef=self.ent_coef,
                    policy_kwargs=policy_kwargs,
                    **common,
                )
            else:
                self.settings = {"n_steps": n_steps}
                model = A2C(
                    policy,
                    env,
                    n_steps=n_steps,
                    ent_coef=self.ent_coef,
                    policy_kwargs=policy_kwargs,
                    **common,
                )
        # No output formats: without a logger of its own SB3 creates a /tmp/SB3-* folder per learn().
        model.set_logger(Logger(folder=None, output_formats=[]))
        model.action_space.seed(self.seed)
        return model

    def run(self, env: gym.Env[Any, Any], budget: int) -> None:
        import torch

        from archgym.env import FlatActions
        from archgym.search import BudgetExhausted

        torch.set_num_threads(1)
        torch.manual_seed(self.seed)
        wrapped: gym.Env[Any, Any] = FlatActions(env)
        if isinstance(wrapped.observation_space, gym.spaces.Box):
            wrapped = _SymlogObservation(wrapped)
        wrapped = _LearnerReward(wrapped)
        if self.algorithm == "dqn":
            wrapped = _SingleDiscrete(wrapped)
        wrapped.action_space.seed(self.seed)
        self.model = self._make_model(wrapped, budget)
        try:
            # total_timesteps = budget: learning ends exactly at the budget, or the recording env
            # stops it there (a rollout that would run past it, or a cost budget spent early).
            self.model.learn(total_timesteps=budget, progress_bar=False)
        except BudgetExhausted:
            self.interrupted = True

    def finish(self, out: Path) -> dict[str, Any]:
        """Saves the trained policy as ``policy.zip`` (``stable_baselines3.<ALGO>.load``)."""
        if self.model is None:
            return {"algorithm": self.algorithm}
        self.model.save(Path(out) / "policy.zip")
        return {
            "algorithm": self.algorithm,
            **self.settings,
            # PPO counts an update per epoch; report the rollouts trained on (DQN: gradient steps).
            "policy_updates": int(self.model._n_updates) // int(self.settings.get("n_epochs", 1)),
            "timesteps": int(self.model.num_timesteps),
            "interrupted": self.interrupted,  # the budget ended mid-rollout
        }
