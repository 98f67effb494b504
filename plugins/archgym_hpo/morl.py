"""MORLHyper: the hyperparameters of a multi-objective RL agent, scored by hypervolume.

One evaluation trains Pareto Q-learning (morl-baselines; Van Moffaert & Nowé, 2014) — or, as an
option, Envelope Q-learning (Yang et al., 2019) — on an MO-Gymnasium env once per tuning seed,
rolls out every learned policy, and measures the front of their *undiscounted* returns: hypervolume against a
fixed reference point (``REFERENCE_POINTS``), that hypervolume as a fraction of the published true
front's, sparsity and expected utility. Undiscounted, because a discounted hypervolume changes
with γ, which is itself a design parameter. Follows Felten et al., "Hyperparameter Optimization for
Multi-Objective Reinforcement Learning" (2023). See docs/env-morlhyper.md.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from archgym import (
    Categorical,
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

ALGORITHMS: dict[str, tuple[str, ...]] = {
    # algorithm → the MO-Gymnasium envs it supports (Pareto Q-learning is tabular: it needs
    # discrete observations). Every env here publishes its true Pareto front.
    "pql": ("deep-sea-treasure-v0", "deep-sea-treasure-concave-v0", "resource-gathering-v0"),
    "envelope": (
        "deep-sea-treasure-v0",
        "deep-sea-treasure-concave-v0",
        "resource-gathering-v0",
        "minecart-v0",
    ),
}
MO_ENVS = ALGORITHMS["envelope"]
REFERENCE_POINTS: dict[str, tuple[float, ...]] = {
    # (treasure, time): below the worst treasure (0 = none) and the longest path to one (19 steps)
    "deep-sea-treasure-v0": (0.0, -25.0),
    "deep-sea-treasure-concave-v0": (0.0, -25.0),
    # (enemy, gold, gem): one death, no gold, no gem
    "resource-gathering-v0": (-1.0, -1.0, -1.0),
    # (ore 1, ore 2, fuel): morl-baselines' own minecart examples
    "minecart-v0": (0.0, 0.0, -200.0),
}
POLICY_EVAL_EPISODES: dict[str, int] = {
    # rollouts per learned policy: the deep-sea-treasure maps are deterministic, the others not
    "deep-sea-treasure-v0": 1,
    "deep-sea-treasure-concave-v0": 1,
    "resource-gathering-v0": 10,
    "minecart-v0": 1,
}
WEIGHT_PARTITIONS = {2: 49, 3: 9}
"""Das-Dennis partitions of the weight simplex per number of objectives (50 and 55 equally spaced
weight vectors): expected utility averages over them, and Envelope's greedy policies for them
form its measured front. (pymoo's Das-Dennis construction: morl-baselines' own
``equally_spaced_weights`` runs a Riesz-energy optimisation that costs 2–7 s per call.)"""


def _weights(n_objectives: int) -> np.ndarray:
    from pymoo.util.ref_dirs import get_reference_directions

    return get_reference_directions("das-dennis", n_objectives, n_partitions=WEIGHT_PARTITIONS[n_objectives])


OBJECTIVE_MODES = ("hypervolume", "hypervolume_cost")
TRAIN_STEPS = (100, 200_000)
"""Range of the ``train_steps`` fidelity (environment steps of training per seed)."""
COST_REFERENCE_S = 60.0
"""Reference point of the training-time objective in the two-objective variant: an evaluation
whose training takes longer than this adds no hypervolume."""


def _set_quiet_environment() -> None:
    # morl-baselines imports wandb; W&B must never prompt or write files.
    os.environ["WANDB_MODE"] = "disabled"
    os.environ.setdefault("WANDB_SILENT", "true")


def _make_mo_env(env_id: str) -> Any:
    """``mo_gymnasium.make`` without deep-sea-treasure's cosmetic float32-cast warning (its own
    observation-space bounds), which Gymnasium's checker would otherwise report as ours."""
    import mo_gymnasium as mo

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*precision lowered by casting to float32")
        return mo.make(env_id)


def _design_space(algorithm: str) -> DesignSpace:
    epsilon = [
        Real("initial_epsilon", 0.0, 1.0, default=1.0),
        Real("final_epsilon", 0.0, 1.0, default=0.1 if algorithm == "pql" else 0.05),
        Real("epsilon_decay_fraction", 0.01, 1.0, default=0.5),
    ]
    if algorithm == "pql":
        return DesignSpace([Real("gamma", 0.5, 1.0, default=0.99), *epsilon])
    return DesignSpace(
        [
            Real("learning_rate", 1e-5, 1e-2, log=True, default=3e-4),
            Real("gamma", 0.9, 0.999, default=0.98),
            Ordinal("net_width", [32, 64, 128, 256], default=64),
            Integer("net_depth", 1, 4, default=2),
            Ordinal("batch_size", [16, 32, 64, 128, 256], default=64),
            Ordinal("buffer_size", [1000, 10_000, 100_000], default=10_000),
            *epsilon,
            Real("initial_homotopy_lambda", 0.0, 1.0, default=0.0),
            Real("final_homotopy_lambda", 0.0, 1.0, default=1.0),
            Real("homotopy_decay_fraction", 0.01, 1.0, default=0.5),
        ]
    )


class MORLHyper(DesignEnv):
    """Tune Pareto Q-learning (default) or Envelope Q-learning on an MO-Gymnasium env.

    Args:
        algorithm: ``"pql"`` (Pareto Q-learning: γ, initial/final ε, ε-decay fraction) or
            ``"envelope"`` (Envelope Q-learning, Yang et al. 2019: learning rate, γ, network
            width/depth, batch, buffer, ε and homotopy schedules).
        mo_env: the MO-Gymnasium env id; ``ALGORITHMS`` lists those each algorithm supports.
        train_steps: default fidelity — environment steps of training per seed.
        n_seeds: K, the number of tuning seeds each evaluation trains on.
        n_test_seeds: the number of (disjoint) test seeds used in test mode.
        seed_set: ``"tune"`` (tuning seeds) or ``"test"`` (test seeds: the env's test mode).
        objective: ``"hypervolume"`` (reward = normalised hypervolume) or ``"hypervolume_cost"``
            (two objectives: normalised hypervolume, training time).

    Reward: ``hv_fraction``, the mean over seeds of hypervolume / true front's hypervolume, in
    [0, 1]. Infeasible penalty: 0 (``(0, -COST_REFERENCE_S)`` in the two-objective variant).
    """

    arguments = (
        Categorical("algorithm", tuple(ALGORITHMS)),
        Categorical("mo_env", MO_ENVS),  # and one the algorithm supports: checked in __init__
        Integer("train_steps", *TRAIN_STEPS),
        *SEED_ARGUMENTS,
        Categorical("objective", OBJECTIVE_MODES),
    )
    simulator_packages = ("morl-baselines", "mo-gymnasium", "pymoo")

    def __init__(
        self,
        *,
        algorithm: str = "pql",
        mo_env: str = "deep-sea-treasure-v0",
        train_steps: int = 2000,
        n_seeds: int = 2,
        n_test_seeds: int = 5,
        seed_set: str = "tune",
        objective: str = "hypervolume",
    ) -> None:
        if mo_env not in ALGORITHMS[algorithm]:
            raise ValueError(
                f"{type(self).__name__}: mo_env: {mo_env!r} is not legal for algorithm {algorithm!r}; "
                f"legal values: {list(ALGORITHMS[algorithm])}"
            )
        self.seeds = seeds_for(seed_set, n_seeds, n_test_seeds)
        self.algorithm, self.mo_env = algorithm, mo_env
        self.seed_set, self.objective_mode = seed_set, objective
        self.ref_point = np.array(REFERENCE_POINTS[mo_env], dtype=np.float64)
        hv = Objective("hv_fraction", "max", (0.0, 1.0))
        if objective == "hypervolume":
            spec = Objectives([hv], penalty=0.0)
        else:
            cost = Objective("train_time_s", "min", (-COST_REFERENCE_S, 0.0))
            spec = Objectives([hv, cost], penalty=[0.0, -COST_REFERENCE_S])
            self.reference_point = np.array([0.0, -COST_REFERENCE_S])
        super().__init__(
            design_space=_design_space(algorithm),
            metrics={
                "hv_fraction": "1",
                "hv_fraction_std": "1",
                "hypervolume": "1",
                "hypervolume_std": "1",
                "sparsity": "1",
                "expected_utility": "1",
                "front_size": "policies",
                "train_time_s": "s",
            },
            objective=spec,
            fidelity=Fidelity("train_steps", *TRAIN_STEPS, int(train_steps), integer=True),
        )
        self.test_kwargs = {"seed_set": "test"} if seed_set == "tune" else None

    def true_front(self) -> np.ndarray:
        """The published Pareto front of undiscounted returns (γ = 1)."""
        env = _make_mo_env(self.mo_env)
        try:
            return np.array(env.unwrapped.pareto_front(gamma=1.0), dtype=np.float64)
        finally:
            env.close()

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        _set_quiet_environment()
        import mo_gymnasium  # noqa: F401 - imported before the clock starts: not training time
        from morl_baselines.common.performance_indicators import hypervolume
        from morl_baselines.multi_policy.envelope.envelope import Envelope  # noqa: F401
        from morl_baselines.multi_policy.pareto_q_learning.pql import PQL  # noqa: F401

        steps = int(context.fidelity if context.fidelity is not None else self.fidelity.default)
        true_hv = hypervolume(self.ref_point, list(self.true_front()))
        runs, start = [], time.perf_counter()
        for seed in self.seeds:
            runs.append(self._train_one(design, steps, seed))
        train_time = time.perf_counter() - start
        hvs = np.array([r["hypervolume"] for r in runs])
        fractions = hvs / true_hv
        return {
            "hv_fraction": float(fractions.mean()),
            "hv_fraction_std": float(fractions.std()),
            "hypervolume": float(hvs.mean()),
            "hypervolume_std": float(hvs.std()),
            "sparsity": float(np.mean([r["sparsity"] for r in runs])),
            "expected_utility": float(np.mean([r["expected_utility"] for r in runs])),
            "front_size": float(np.mean([r["front_size"] for r in runs])),
            "train_time_s": train_time,
        }

    def _train_one(self, design: Mapping[str, Any], steps: int, seed: int) -> dict[str, float]:
        from morl_baselines.common.pareto import filter_pareto_dominated
        from morl_baselines.common.performance_indicators import (
            expected_utility,
            hypervolume,
            sparsity,
        )

        env, eval_env = _make_mo_env(self.mo_env), _UndiscountedReturn(_make_mo_env(self.mo_env))
        try:
            env.reset(seed=seed)
            eval_env.reset(seed=seed)
            train = self._train_pql if self.algorithm == "pql" else self._train_envelope
            returns = train(design, steps, seed, env, eval_env)
        finally:
            env.close()
            eval_env.close()
        if not np.all(np.isfinite(returns)):
            raise ValueError("training diverged: non-finite returns")
        front = filter_pareto_dominated(returns)
        weights = list(_weights(len(self.ref_point)))
        return {
            "hypervolume": float(hypervolume(self.ref_point, list(front))),
            "sparsity": float(sparsity(list(front))),
            "expected_utility": float(expected_utility(list(front), weights_set=weights)),
            "front_size": float(len(front)),
        }

    def _train_pql(
        self, design: Mapping[str, Any], steps: int, seed: int, env: Any, eval_env: _UndiscountedReturn
    ) -> np.ndarray:
        """Train Pareto Q-learning; roll out each policy of its coverage set from the start."""
        from morl_baselines.multi_policy.pareto_q_learning.pql import PQL

        agent = PQL(
            env,
            self.ref_point,
            gamma=float(design["gamma"]),
            initial_epsilon=float(design["initial_epsilon"]),
            final_epsilon=float(design["final_epsilon"]),
            epsilon_decay_steps=max(1, round(design["epsilon_decay_fraction"] * steps)),
            seed=seed,
            log=False,
        )
        agent.train(total_timesteps=steps, eval_env=eval_env, ref_point=self.ref_point, log_every=None)
        returns = []
        for target in agent.get_local_pcs(state=0):
            episodes = []
            for _ in range(POLICY_EVAL_EPISODES[self.mo_env]):
                agent.track_policy(target, eval_env)
                episodes.append(eval_env.episode_return)
            returns.append(np.mean(episodes, axis=0))
        return np.array(returns, dtype=np.float64)

    def _train_envelope(
        self, design: Mapping[str, Any], steps: int, seed: int, env: Any, eval_env: _UndiscountedReturn
    ) -> np.ndarray:
        """Train Envelope Q-learning; its greedy policies for equally spaced weights form the
        front (``policy_eval`` returns their undiscounted mean return vectors)."""
        import torch
        from morl_baselines.multi_policy.envelope.envelope import Envelope

        torch.set_num_threads(1)  # parallel workers each train on one core
        agent = Envelope(
            env,
            learning_rate=float(design["learning_rate"]),
            gamma=float(design["gamma"]),
            net_arch=[int(design["net_width"])] * int(design["net_depth"]),
            batch_size=int(design["batch_size"]),
            buffer_size=int(design["buffer_size"]),
            initial_epsilon=float(design["initial_epsilon"]),
            final_epsilon=float(design["final_epsilon"]),
            epsilon_decay_steps=max(1, round(design["epsilon_decay_fraction"] * steps)),
            initial_homotopy_lambda=float(design["initial_homotopy_lambda"]),
            final_homotopy_lambda=float(design["final_homotopy_lambda"]),
            homotopy_decay_steps=max(1, round(design["homotopy_decay_fraction"] * steps)),
            learning_starts=min(100, steps // 10),
            seed=seed,
            device="cpu",
            log=False,
        )
        agent.train(total_timesteps=steps, eval_env=None)
        weights = _weights(len(self.ref_point))
        episodes = POLICY_EVAL_EPISODES[self.mo_env]
        return np.array(
            [
                agent.policy_eval(eval_env.env, num_episodes=episodes, weights=w, log=False)[2]
                for w in weights
            ],
            dtype=np.float64,
        )


class _UndiscountedReturn:
    """Sums an episode's raw vector rewards (Pareto Q-learning's own tracker discounts by γ)."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.unwrapped = env.unwrapped
        self.action_space, self.observation_space = env.action_space, env.observation_space
        self.episode_return: np.ndarray = np.zeros(0)

    def reset(self, **kwargs: Any) -> Any:
        self.episode_return = np.zeros(self.unwrapped.reward_space.shape[0])
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.episode_return = self.episode_return + np.asarray(reward, dtype=np.float64)
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        self.env.close()
