"""RLHyper: the hyperparameters of a stable-baselines3 agent on a Gymnasium control task.

One evaluation trains PPO (or A2C) once per tuning seed and measures the mean return of the
deterministic policy over evaluation episodes on a separately seeded copy of the task. Follows
Eimer et al., "Hyperparameters in Reinforcement Learning and How To Tune Them" (ICML 2023): tuning
seeds and test seeds are disjoint (see :mod:`archgym_hpo.seeds`). See docs/env-rlhyper.md.

Training steps as a continuable fidelity (``max_train_steps=M``): the fidelity ``train_steps``
then spans 64–M (default M), and an evaluation keeps, per seed, the complete training state —
policy and optimizer state dicts, step counters, the rollout's last observation, the task's
state through its wrappers, the global torch and numpy generators SB3 samples from — as tensors
and numbers (a checkpoint, :class:`archgym.env.CheckpointStore`). A promoted design resumes from
it and trains only the remaining steps. The hyperparameters are constants (no schedule depends
on the total), so training to a is a prefix of training to b, and continuing equals training
directly to b.
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
from archgym.env import CONTINUED_FROM
from archgym_hpo.seeds import SEED_ARGUMENTS, seeds_for

ALGORITHMS = ("PPO", "A2C")
TASKS: dict[str, float] = {
    # task → infeasible penalty: the lowest possible mean return of an episode
    "CartPole-v1": 0.0,
    "Acrobot-v1": -500.0,
    "Pendulum-v1": -3300.0,  # 200 steps × at most 16.27 cost per step
}
TRAIN_STEPS = (64, 1_000_000)
DEFAULT_TRAIN_STEPS = 1024
SIMULATED_STEP_S = 1e-3
"""Seconds per training step of one seed on one CPU thread (PPO on CartPole, the order measured
here), for the simulated clock's cost model under ``max_train_steps``."""
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
        max_train_steps: None (default): the fidelity ``train_steps`` spans 64–1 000 000 with
            default ``train_steps`` and every evaluation trains from scratch. M: it spans 64–M,
            default M (``train_steps`` must then be left at 1024 or equal M), and is continuable:
            a promotion resumes from the lower fidelity's checkpoint (see the module docstring).

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
        Integer("max_train_steps", *TRAIN_STEPS),
    )
    simulator_packages = ("stable-baselines3", "gymnasium", "torch")

    def __init__(
        self,
        *,
        algorithm: str = "PPO",
        task: str = "CartPole-v1",
        train_steps: int = DEFAULT_TRAIN_STEPS,
        n_seeds: int = 1,
        n_test_seeds: int = 3,
        seed_set: str = "tune",
        eval_episodes: int = 3,
        max_train_steps: int | None = None,
    ) -> None:
        self.seeds = seeds_for(seed_set, n_seeds, n_test_seeds)
        self.algorithm, self.task, self.seed_set = algorithm, task, seed_set
        self.eval_episodes, self.max_train_steps = eval_episodes, max_train_steps
        if max_train_steps is None:
            fidelity = Fidelity("train_steps", *TRAIN_STEPS, int(train_steps), integer=True)
        else:
            if train_steps not in (DEFAULT_TRAIN_STEPS, max_train_steps):
                raise ValueError(
                    f"train_steps: {train_steps!r} is not legal with max_train_steps="
                    f"{max_train_steps}; legal values: {DEFAULT_TRAIN_STEPS} (its default) or "
                    f"{max_train_steps} (the fidelity's default is then max_train_steps)"
                )
            fidelity = Fidelity(
                "train_steps",
                TRAIN_STEPS[0],
                max_train_steps,
                max_train_steps,
                integer=True,
                continuable=True,
            )
        super().__init__(
            design_space=_design_space(algorithm),
            metrics={"mean_return": "return", "return_std": "return", "train_time_s": "s"},
            objective=Objectives([Objective("mean_return", "max")], penalty=TASKS[task]),
            fidelity=fidelity,
        )
        self.test_kwargs = {"seed_set": "test"} if seed_set == "tune" else None

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        import stable_baselines3  # noqa: F401 - imported before the clock starts
        import torch

        torch.set_num_threads(1)  # parallel workers each train on one core
        steps = int(context.fidelity if context.fidelity is not None else self.fidelity.default)
        start = time.perf_counter()
        if self.max_train_steps is None:
            returns = [self._train_one(design, steps, seed) for seed in self.seeds]
        else:  # continuable: one checkpoint holds every seed's training state
            saved = context.resume_state(design)
            states = saved.get("seeds") if saved is not None else None
            usable = (
                saved is not None
                and saved.get("format") == STATE_FORMAT
                and isinstance(states, dict)
                and set(states) == {str(seed) for seed in self.seeds}
            )
            if saved is not None and not usable:  # another recipe's or other seeds': retrain
                context.continued_from, context.checkpoint_missing, states = None, True, None
            kept: dict[str, Any] = {}
            returns = []
            for seed in self.seeds:
                state = None if states is None else states[str(seed)]
                mean, kept[str(seed)] = self._train_one_continuable(design, steps, seed, state)
                returns.append(mean)
            context.keep_state(design, {"format": STATE_FORMAT, "seeds": kept})
        train_time = time.perf_counter() - start
        return {
            "mean_return": float(np.mean(returns)),
            "return_std": float(np.std(returns)),
            "train_time_s": train_time,
        }

    def simulated_duration(
        self, design: Mapping[str, Any], fidelity: Any, metrics: Mapping[str, float]
    ) -> float | None:
        """With ``max_train_steps`` (the multi-fidelity form), for the simulated clock: a cost
        model — the steps this evaluation trained (from its checkpoint's on) × seeds at
        :data:`SIMULATED_STEP_S` — so asynchronous runs on it are exactly reproducible (measured
        times are not). Without it, the backend's duration where it declares one (else none)."""
        if self.max_train_steps is None or self.active_backend is not None:
            return super().simulated_duration(design, fidelity, metrics)
        if fidelity is None:
            return None
        trained = float(fidelity) - float(metrics.get(CONTINUED_FROM) or 0.0)
        return trained * len(self.seeds) * SIMULATED_STEP_S

    def declares_duration(self) -> bool:
        own = self.max_train_steps is not None and self.active_backend is None
        return own or hasattr(self.active_backend, "simulated_duration")

    def _train_one_continuable(
        self, design: Mapping[str, Any], steps: int, seed: int, state: Mapping[str, Any] | None
    ) -> tuple[float, dict[str, Any]]:
        """Train seed ``seed`` to ``steps`` (from ``state`` where given); its mean evaluation
        return and the training state to keep."""
        from stable_baselines3.common.evaluation import evaluate_policy

        model, eval_env = self._model(design, seed)
        try:
            if state is None:
                model.learn(total_timesteps=steps)
            else:
                _restore(model, state)
                model.learn(total_timesteps=steps - model.num_timesteps, reset_num_timesteps=False)
            kept = _capture(model)
            eval_env.reset(seed=EVAL_SEED_OFFSET + seed)
            mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=self.eval_episodes, deterministic=True)
        finally:
            model.get_env().close()
            eval_env.close()
        return float(mean), kept

    def _model(self, design: Mapping[str, Any], seed: int) -> tuple[Any, Any]:
        import gymnasium as gym
        from stable_baselines3 import A2C, PPO
        from stable_baselines3.common.logger import Logger
        from stable_baselines3.common.monitor import Monitor

        hyper = {k: float(v) if isinstance(v, float) else int(v) for k, v in design.items()}
        cls = PPO if self.algorithm == "PPO" else A2C
        model = cls("MlpPolicy", gym.make(self.task), seed=seed, device="cpu", verbose=0, **hyper)
        model.set_logger(Logger(folder=None, output_formats=[]))
        return model, Monitor(gym.make(self.task))

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


STATE_FORMAT = "archgym-sb3-training/1"
_SIMPLE = (bool, int, float, str, type(None))


def _layers(model: Any) -> list[Any]:
    """The training task's wrapper chain, outermost (SB3's Monitor) to the unwrapped env."""
    env = model.get_env().envs[0]
    layers = [env]
    while hasattr(env, "env"):
        env = env.env
        layers.append(env)
    return layers


def _plain(value: Any) -> Any:
    """``value`` as something ``torch.load(weights_only=True)`` reads back: numbers, strings,
    tensors, lists and dicts of them; None where it is none of these (not captured)."""
    import torch

    if isinstance(value, _SIMPLE):
        return {"v": value}
    if isinstance(value, np.ndarray | np.generic) and value.dtype.kind in "biuf":
        return {"a": torch.from_numpy(np.array(value, copy=True)), "shape": list(np.shape(value))}
    if isinstance(value, list) and all(isinstance(v, int | float) for v in value):
        return {"l": list(value)}
    return None


def _unplain(saved: Mapping[str, Any]) -> Any:
    if "v" in saved:
        return saved["v"]
    if "l" in saved:
        return list(saved["l"])
    array = saved["a"].numpy()
    return array[()] if saved["shape"] == [] else array


def _capture(model: Any) -> dict[str, Any]:
    """Everything training goes on from, as tensors and numbers (see the module docstring)."""
    import torch

    layers = []
    for layer in _layers(model):
        fields = {k: p for k, v in vars(layer).items() if (p := _plain(v)) is not None}
        generator = getattr(layer, "_np_random", None)
        layers.append(
            {"fields": fields, "np_random": None if generator is None else generator.bit_generator.state}
        )
    numpy_state = np.random.get_state()
    return {
        "policy": model.policy.state_dict(),
        "optimizer": model.policy.optimizer.state_dict(),
        "num_timesteps": int(model.num_timesteps),
        "n_updates": int(model._n_updates),
        "episode_num": int(model._episode_num),
        "last_obs": torch.from_numpy(np.array(model._last_obs, copy=True)),
        "last_episode_starts": torch.from_numpy(np.array(model._last_episode_starts, copy=True)),
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": {
            "keys": torch.from_numpy(numpy_state[1].astype(np.int64)),
            "pos": int(numpy_state[2]),
            "has_gauss": int(numpy_state[3]),
            "cached_gaussian": float(numpy_state[4]),
        },
        "layers": layers,
    }


def _restore(model: Any, state: Mapping[str, Any]) -> None:
    """Put a freshly built model (same hyperparameters and seed) where :func:`_capture` was."""
    import torch

    model.policy.load_state_dict(state["policy"])
    model.policy.optimizer.load_state_dict(state["optimizer"])
    model.num_timesteps = int(state["num_timesteps"])
    model._n_updates, model._episode_num = int(state["n_updates"]), int(state["episode_num"])
    model._last_obs = state["last_obs"].numpy().copy()
    model._last_episode_starts = state["last_episode_starts"].numpy().copy()
    layers = _layers(model)
    if len(layers) != len(state["layers"]):
        raise ValueError("checkpoint: made for another wrapper chain of the task")
    for layer, saved in zip(layers, state["layers"], strict=True):
        for name, value in saved["fields"].items():
            setattr(layer, name, _unplain(value))
        if saved["np_random"] is not None:
            generator = np.random.Generator(getattr(np.random, saved["np_random"]["bit_generator"])())
            generator.bit_generator.state = saved["np_random"]
            layer._np_random = generator
    torch.set_rng_state(state["torch_rng"])
    rng = state["numpy_rng"]
    np.random.set_state(
        (
            "MT19937",
            rng["keys"].numpy().astype(np.uint32),
            rng["pos"],
            rng["has_gauss"],
            rng["cached_gaussian"],
        )
    )
