"""DesignEnv semantics, with small envs defined here."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import archgym
from archgym import (
    Categorical,
    Constraint,
    DesignEnv,
    DesignSpace,
    EvalContext,
    Fidelity,
    InfeasibleDesign,
    Integer,
    Objective,
    Objectives,
    Real,
)

PENALTY = -99.0


def _space() -> DesignSpace:
    return DesignSpace(
        [Real("x", -2.0, 2.0), Integer("n", 0, 4), Categorical("mode", ["ok", "boom", "bad", "nan"])],
        constraints=[Constraint("n + x <= 5", lambda d: d["n"] + d["x"] <= 5)],
    )


class Quadratic(DesignEnv):
    """f = x² + n; ``mode`` picks a failure: an exception, an InfeasibleDesign, or NaN."""

    def __init__(self, *, episode_length: int = 1, fidelity: Fidelity | None = None) -> None:
        super().__init__(
            design_space=_space(),
            metrics={"f": "m", "aux": "J"},
            objective=Objectives([Objective("f", "min")], penalty=PENALTY),
            episode_length=episode_length,
            fidelity=fidelity,
            backend="proxy",
        )
        self.calls: list[tuple[dict[str, Any], EvalContext]] = []
        self.workdirs: list[Path] = []

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        self.calls.append((dict(design), context))
        f = design["x"] ** 2 + design["n"]
        if design["mode"] == "boom":
            raise RuntimeError("simulator exploded at step 7")
        if design["mode"] == "bad":
            raise InfeasibleDesign("did not converge", {"aux": 3.5})
        if design["mode"] == "nan":
            f = math.nan
        return {"f": f, "aux": 2.0 * design["n"]}


def _action(env: DesignEnv, **design: Any) -> dict[str, Any]:
    base = {"x": 1.0, "n": 1, "mode": "ok"}
    return env.design_space.to_action({**base, **design}, check=False)


def test_feasible_step_info_and_reward() -> None:
    env = Quadratic()
    obs0, _ = env.reset(seed=0)
    assert np.all(obs0 == 0.0)
    obs, reward, terminated, truncated, info = env.step(_action(env, x=1.5, n=2))
    assert reward == pytest.approx(-(1.5**2 + 2))
    assert terminated is True and truncated is False
    assert set(info) == {"design", "metrics", "feasible", "eval_time_s", "backend"}
    assert info["design"] == {"x": 1.5, "n": 2, "mode": "ok"}
    assert info["metrics"] == {"f": pytest.approx(4.25), "aux": 4.0}
    assert info["feasible"] is True
    assert isinstance(info["eval_time_s"], float) and info["eval_time_s"] >= 0.0
    assert info["backend"] == "proxy"
    assert obs.tolist() == pytest.approx([4.25, 4.0])
    assert env.observation_space.contains(obs)


def test_episode_terminates_after_episode_length_steps() -> None:
    env = Quadratic(episode_length=3)
    env.reset(seed=0)
    flags = [env.step(_action(env))[2] for _ in range(3)]
    assert flags == [False, False, True]
    env.reset()
    assert env.step(_action(env))[2] is False


def test_episode_length_must_be_positive() -> None:
    with pytest.raises(ValueError, match="episode_length"):
        Quadratic(episode_length=0)


def test_exception_in_evaluate_is_an_infeasible_evaluation() -> None:
    env = Quadratic(episode_length=2)
    env.reset(seed=0)
    obs, reward, terminated, _, info = env.step(_action(env, mode="boom"))
    assert info["feasible"] is False
    assert "simulator exploded at step 7" in info["error"]
    assert "RuntimeError" in info["error"]
    assert reward == PENALTY
    assert terminated is False
    assert all(math.isnan(v) for v in info["metrics"].values())
    assert np.all(np.isfinite(obs))
    # the env keeps working
    _, reward, terminated, _, info = env.step(_action(env, x=0.0, n=3))
    assert info["feasible"] is True and "error" not in info
    assert reward == pytest.approx(-3.0)
    assert terminated is True


def test_infeasible_design_keeps_partial_metrics() -> None:
    env = Quadratic()
    env.reset(seed=0)
    _, reward, _, _, info = env.step(_action(env, mode="bad"))
    assert info["feasible"] is False
    assert "did not converge" in info["error"]
    assert info["metrics"]["aux"] == 3.5
    assert math.isnan(info["metrics"]["f"])
    assert reward == PENALTY


def test_non_finite_objective_is_infeasible() -> None:
    env = Quadratic()
    env.reset(seed=0)
    _, reward, _, _, info = env.step(_action(env, mode="nan"))
    assert info["feasible"] is False
    assert "non-finite" in info["error"]
    assert reward == PENALTY


class MissingMetric(DesignEnv):
    def __init__(self) -> None:
        super().__init__(
            design_space=DesignSpace([Real("x", 0.0, 1.0)]),
            metrics={"f": "1", "g": "1"},
            objective=Objectives([Objective("g", "max")], penalty=-1.0),
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        return {"f": design["x"]}


def test_missing_objective_metric_is_infeasible() -> None:
    env = MissingMetric()
    env.reset(seed=0)
    _, reward, _, _, info = env.step({"x": np.array([0.5])})
    assert info["feasible"] is False and reward == -1.0
    assert info["metrics"]["f"] == 0.5


class Undeclared(DesignEnv):
    def __init__(self, *, infeasible: bool = False) -> None:
        super().__init__(
            design_space=DesignSpace([Real("x", 0.0, 1.0)]),
            metrics={"f": "1"},
            objective=Objectives([Objective("f", "max")], penalty=-1.0),
        )
        self.infeasible = infeasible

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        if self.infeasible:
            raise InfeasibleDesign("nope", {"f": 1.0, "latency_typo": 2.0})
        return {"f": 1.0, "latency_typo": 2.0}


@pytest.mark.parametrize("infeasible", [False, True])
def test_undeclared_metric_raises(infeasible: bool) -> None:
    env = Undeclared(infeasible=infeasible)
    env.reset(seed=0)
    with pytest.raises(RuntimeError, match="latency_typo"):
        env.step({"x": np.array([0.5])})


def test_objective_on_undeclared_metric_is_rejected() -> None:
    class Bad(DesignEnv):
        def __init__(self) -> None:
            super().__init__(
                design_space=DesignSpace([Real("x", 0.0, 1.0)]),
                metrics={"f": "1"},
                objective=Objectives([Objective("power", "min")], penalty=0.0),
            )

    with pytest.raises(ValueError, match="power"):
        Bad()


def test_forbidden_combination_is_infeasible_without_evaluating() -> None:
    env = Quadratic()
    env.reset(seed=0)
    action = _action(env, x=2.0, n=4)  # n + x = 6 > 5
    assert env.action_space.contains(action)
    _, reward, terminated, _, info = env.step(action)
    assert info["feasible"] is False
    assert "n + x <= 5" in info["error"]
    assert reward == PENALTY
    assert terminated is True
    assert env.calls == []
    assert info["design"] == {"x": 2.0, "n": 4, "mode": "ok"}


@pytest.mark.parametrize(
    ("name", "value"),
    [("x", np.array([2.5])), ("n", np.int64(5)), ("n", np.int64(-1)), ("mode", np.int64(4))],
)
def test_out_of_space_action_raises_naming_the_parameter(name: str, value: Any) -> None:
    env = Quadratic()
    env.reset(seed=0)
    action = _action(env)
    action[name] = value
    with pytest.raises(ValueError, match=repr(name)):
        env.step(action)
    assert env.calls == []


def _fidelity() -> Fidelity:
    return Fidelity("epochs", 1, 100, 10, integer=True)


def test_fidelity_reaches_info_and_context() -> None:
    env = Quadratic(fidelity=_fidelity(), episode_length=2)
    env.reset(seed=0)
    _, _, _, _, info = env.step(_action(env))
    assert info["fidelity"] == 10
    env.reset(seed=0, options={"fidelity": 37})
    _, _, _, _, info = env.step(_action(env))
    assert info["fidelity"] == 37
    assert env.calls[-1][1].fidelity == 37
    _, _, _, _, info = env.step(_action(env))  # stays for the episode
    assert info["fidelity"] == 37
    env.reset(seed=0)  # back to the default
    _, _, _, _, info = env.step(_action(env))
    assert info["fidelity"] == 10 and env.calls[-1][1].fidelity == 10
    # present on infeasible steps too
    _, _, _, _, info = env.step(_action(env, mode="boom"))
    assert info["fidelity"] == 10 and "error" in info


@pytest.mark.parametrize("value", [0, 101, 2.5, "10", True])
def test_illegal_fidelity_is_rejected(value: Any) -> None:
    env = Quadratic(fidelity=_fidelity())
    with pytest.raises(ValueError, match="'epochs'"):
        env.reset(options={"fidelity": value})


def test_bad_fidelity_declaration_is_rejected() -> None:
    with pytest.raises(ValueError, match="'steps'"):
        Fidelity("steps", 1.0, 10.0, 20.0)


def test_unknown_reset_option_is_rejected() -> None:
    env = Quadratic(fidelity=_fidelity())
    with pytest.raises(ValueError, match="'speed'"):
        env.reset(options={"speed": 3})


def test_fidelity_on_env_without_one_is_rejected() -> None:
    env = Quadratic()
    with pytest.raises(ValueError, match="'fidelity'"):
        env.reset(options={"fidelity": 3})
    _, _, _, _, info = env.step(_action(env))
    assert "fidelity" not in info


class WritesFiles(DesignEnv):
    def __init__(self) -> None:
        super().__init__(
            design_space=DesignSpace([Integer("n", 0, 3)]),
            metrics={"f": "1"},
            objective=Objectives([Objective("f", "max")], penalty=-1.0),
        )
        self.seen: list[tuple[Path, bool, list[str]]] = []

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        workdir = context.workdir
        existing = sorted(p.name for p in workdir.iterdir())
        (workdir / "input.cfg").write_text(f"n={design['n']}\n")
        self.seen.append((workdir, workdir.is_dir(), existing))
        if design["n"] == 3:
            raise OSError("simulator crashed after writing files")
        return {"f": float(len(list(workdir.iterdir())))}


def test_workdir_is_fresh_per_evaluation_and_removed_afterwards() -> None:
    env = WritesFiles()
    env.reset(seed=0)
    rewards = []
    for n in (1, 2, 3):
        _, reward, _, _, _ = env.step({"n": np.int64(n)})
        rewards.append(reward)
        workdir, was_dir, existing = env.seen[-1]
        assert was_dir and existing == []
        assert not workdir.exists()
    dirs = [seen[0] for seen in env.seen]
    assert len(set(dirs)) == 3
    assert rewards == [1.0, 1.0, -1.0]


class Noisy(DesignEnv):
    def __init__(self) -> None:
        super().__init__(
            design_space=DesignSpace([Real("x", 0.0, 1.0)]),
            metrics={"f": "1"},
            objective=Objectives([Objective("f", "max")], penalty=-1.0),
            episode_length=5,
        )

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        return {"f": design["x"] + context.rng.normal()}


def _rewards(env: DesignEnv, seed: int) -> list[float]:
    env.reset(seed=seed)
    return [float(env.step({"x": np.array([0.5])})[1]) for _ in range(5)]


def test_same_seed_same_rewards() -> None:
    first = _rewards(Noisy(), 123)
    assert _rewards(Noisy(), 123) == first
    assert _rewards(Noisy(), 124) != first
    assert len(set(first)) == 5  # the rng advances between evaluations


def test_context_step_counts_evaluations_in_the_episode() -> None:
    env = Quadratic(episode_length=3)
    env.reset(seed=0)
    for _ in range(3):
        env.step(_action(env))
    assert [ctx.step for _, ctx in env.calls] == [0, 1, 2]


class _Timed(DesignEnv):
    """Declares a wall-clock metric (unit "s"), as solvers and simulators do."""

    def __init__(self) -> None:
        super().__init__(
            design_space=DesignSpace([Real("x", 0.0, 1.0)]),
            metrics={"work": "1", "solve_time": "s"},
            objective=Objectives([Objective("work", "min")], penalty=-10.0),
        )

    def evaluate(self, design, context):
        return {"work": design["x"], "solve_time": time.perf_counter() % 1.0}


def test_wall_clock_metrics_stay_out_of_observations_and_checks() -> None:
    env = _Timed()
    assert env.observation_space.shape == (1,)
    env.reset(seed=0)
    obs, _, _, _, info = env.step(env.design_space.to_action({"x": 0.25}))
    assert obs.tolist() == [0.25] and "solve_time" in info["metrics"]
    archgym.check_env(env)  # would fail Gymnasium's determinism check if timings were compared
