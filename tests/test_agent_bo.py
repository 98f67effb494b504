"""The ``bo`` agent (BoTorch) through the one loop: budget, reproducibility, hyperparameters, mixed
and conditional spaces, forbidden combinations, multi-objective, and infeasible evaluations kept
out of the GP's targets."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

import archgym.testing  # noqa: F401  (registers archgym-testing/Faulty-v0)
from archgym.loop import run
from archgym.search import EvalResult, Problem
from archgym.spaces import Categorical, Constraint, DesignSpace, Real, Text

# isort: split
# after archgym: importing an agent module first would load the plugins in the middle of it
from archgym_agents.bo import BayesianOptimization, default_sampling

FAULTY = "archgym.testing:archgym-testing/Faulty-v0"
# Small acquisition effort: these tests check behaviour, benchmarks/bo_iteration.py checks speed.
FAST: dict[str, Any] = {"num_restarts": 2, "raw_samples": 64}


def _rows(out: Path) -> list[dict[str, Any]]:
    return sorted(pq.read_table(out / "evaluations.parquet").to_pylist(), key=lambda r: r["step"])


def _columns(rows: list[dict[str, Any]], prefixes: tuple[str, ...] = ("param.", "reward")) -> list[dict]:
    return [{k: v for k, v in r.items() if k.startswith(prefixes)} for r in rows]


def _capture(**params: Any) -> tuple[list[BayesianOptimization], Any]:
    built: list[BayesianOptimization] = []

    def factory(problem: Problem, *, seed: int) -> BayesianOptimization:
        built.append(BayesianOptimization(problem, seed=seed, **params))
        return built[-1]

    return built, factory


def test_budget_reproducibility_and_hyperparameters_change_behaviour(tmp_path: Path) -> None:
    def go(name: str, budget: int = 8, **params: Any) -> list[dict[str, Any]]:
        summary = run(
            env="archgym/Branin-v0",
            agent="bo",
            agent_params=FAST | {"n_init": 5} | params,
            budget=budget,
            seed=3,
            out=tmp_path / name,
            progress=False,
        )
        assert summary["n_evaluations"] == budget
        assert summary["agent_summary"]["n_model_based"] == budget - summary["agent_summary"]["n_initial"]
        return _rows(tmp_path / name)

    a, b = go("a"), go("b")
    assert len(a) == 8 and [r["step"] for r in a] == list(range(8))
    assert _columns(a) == _columns(b)  # same seed, same designs and rewards
    # the first 5 (Sobol) designs are shared; the model-based ones depend on the hyperparameters
    qlogei = go("qlogei", acquisition="qlogei")
    assert _columns(qlogei)[:5] == _columns(a)[:5] and _columns(qlogei) != _columns(a)
    batched = go("batched", batch_size=2)
    assert [r["batch"] for r in batched] == [0, 0, 1, 1, 2, 3, 3, 4]  # 5 Sobol points, then q=2
    assert _columns(batched)[:5] == _columns(a)[:5] and _columns(batched) != _columns(a)
    assert _columns(go("n_init", budget=7, n_init=7))[5:7] != _columns(a)[5:7]


def test_bad_hyperparameter_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="acquisition"):
        run(
            env="archgym/Branin-v0",
            agent="bo",
            agent_params={"acquisition": "ucb"},
            budget=2,
            seed=0,
            out=tmp_path / "r",
            progress=False,
        )
    problem = Problem(env_id="t", design_space=DesignSpace([Real("x", 0.0, 1.0)]), n_objectives=1)
    with pytest.raises(ValueError, match=r"output_warping.*winsorize"):
        BayesianOptimization(problem, seed=0, output_warping="copula")


def test_infeasible_evaluations_are_imputed_not_fed_as_penalties(tmp_path: Path) -> None:
    built, factory = _capture(n_init=6, output_warping="none", **FAST)
    run(
        env=FAULTY,
        env_kwargs={"hang_above": 1.0},
        agent=factory,
        budget=12,
        seed=2,
        out=tmp_path / "f",
        progress=False,
    )
    rows = _rows(tmp_path / "f")
    infeasible = [r for r in rows if not r["feasible"]]
    feasible = [r["reward"] for r in rows if r["feasible"]]
    assert infeasible and all(r["reward"] == -10.0 for r in infeasible)  # the env's penalty
    agent = built[0]
    assert agent.stats["model_based"] == 6 and agent.last_training_data is not None
    X, Y = agent.training_data()
    assert X.shape == (12, 1) and Y.shape == (12, 1)
    assert not np.any(Y == -10.0) and np.all(np.isfinite(Y))
    crashed = X[:, 0] < 0.2
    assert np.all(Y[crashed, 0] == min(feasible))  # imputed with the worst feasible reward
    assert np.allclose(Y[~crashed, 0], X[~crashed, 0])  # feasible rewards kept as observed
    # the targets the last GP was actually fitted on carry no penalty either
    _, fitted_Y = agent.last_training_data
    assert fitted_Y.min() >= min(feasible) and len(fitted_Y) == 11
    mean, std = agent.target_scale  # the GP's targets are standardised by the agent
    targets = agent.model.train_targets.numpy() * std[0] + mean[0]
    assert float(targets.min()) == pytest.approx(min(feasible))


def test_one_objective_gp_is_fitted_on_winsorized_rewards() -> None:
    space = DesignSpace([Real("x", 0.0, 1.0)])
    problem = Problem(env_id="t", design_space=space, n_objectives=1)
    rewards = [1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, -50.0]  # one broken design far below the rest
    fitted = {}
    for warping in ("winsorize", "none"):
        agent = BayesianOptimization(problem, seed=0, n_init=len(rewards), output_warping=warping, **FAST)
        designs = agent.ask(len(rewards))
        agent.tell(
            designs,
            [
                EvalResult(design=d, reward=r, metrics={}, feasible=True, eval_time_s=0.0)
                for d, r in zip(designs, rewards, strict=True)
            ],
        )
        agent.ask(1)
        fitted[warping] = agent.last_training_data[1][:, 0]
    q1, q3 = np.percentile(rewards, [25, 75])
    fence = q1 - 1.5 * (q3 - q1)
    assert fitted["none"].tolist() == rewards
    assert fitted["winsorize"][:-1].tolist() == rewards[:-1]  # the good side keeps its magnitudes
    assert fitted["winsorize"][-1] == pytest.approx(fence) and fence > -50.0


def test_mixed_conditional_space_proposes_legal_values_only(tmp_path: Path) -> None:
    built, factory = _capture(n_init=7, **FAST)
    run(
        env="archgym/MixedConditional-v0",
        agent=factory,
        budget=10,
        seed=1,
        out=tmp_path / "m",
        progress=False,
    )  # the loop rejects any illegal or forbidden design
    agent = built[0]
    assert type(agent.model).__name__ == "MixedSingleTaskGP"  # a categorical kernel for `kernel`
    assert agent.stats["model_based"] == 3
    rows = _rows(tmp_path / "m")
    for r in rows:
        assert isinstance(r["param.n"], int) and r["param.width"] in (1, 2, 4, 8, 16, 32, 64)
        assert r["param.n"] * r["param.width"] <= 160
        assert (r["param.gamma"] is not None) == (r["param.kernel"] == "rbf")
        assert (r["param.degree"] is not None) == (r["param.kernel"] == "poly")
    assert len({tuple(sorted(_columns([r], ("param.",))[0].items())) for r in rows}) == len(rows)


def test_small_discrete_space_is_enumerated_without_repeats(tmp_path: Path) -> None:
    built, factory = _capture(n_init=5, **FAST)
    run(
        env="archgym/Hartmann6-v0",
        env_kwargs={"levels": 3},
        agent=factory,
        budget=9,
        seed=0,
        out=tmp_path / "d",
        progress=False,
    )
    assert built[0]._layout.enumerable and built[0].stats["model_based"] == 4
    designs = [tuple(r.values()) for r in _columns(_rows(tmp_path / "d"), ("param.",))]
    assert len(set(designs)) == 9
    assert all(v in (0.0, 0.5, 1.0) for d in designs for v in d)


def _sum_at_most_half(design: dict[str, Any]) -> bool:
    return design["x"] + design["y"] <= 0.5


def test_forbidden_proposals_are_replaced_by_legal_ones() -> None:
    space = DesignSpace(
        [Real("x", 0.0, 1.0), Real("y", 0.0, 1.0)],
        constraints=[Constraint("x + y <= 0.5", _sum_at_most_half)],
    )
    agent = BayesianOptimization(
        Problem(env_id="t", design_space=space, n_objectives=1), seed=0, n_init=4, **FAST
    )
    for _ in range(8):  # the reward grows towards the forbidden region, so the optimum lies in it
        designs = agent.ask(1)
        for d in designs:
            space.validate(d)  # raises on a forbidden combination
        agent.tell(
            designs,
            [
                EvalResult(design=d, reward=d["x"] + 2 * d["y"], metrics={}, feasible=True, eval_time_s=0.0)
                for d in designs
            ],
        )
    assert agent.stats["replaced"] >= 1


def test_multi_objective_uses_hypervolume_improvement(tmp_path: Path) -> None:
    built, factory = _capture(n_init=6, **FAST)
    summary = run(
        env="archgym/DTLZ2-v0", agent=factory, budget=9, seed=0, out=tmp_path / "mo", progress=False
    )
    agent = built[0]
    assert summary["n_evaluations"] == 9 and summary["hypervolume"] is not None
    assert agent.stats["model_based"] == 3
    assert agent.reference_point.tolist() == [-1.1, -1.1]  # "auto": the env's declared reference
    assert agent.last_training_data[1].shape == (8, 2)
    built, factory = _capture(n_init=6, reference_point="inferred", **FAST)
    run(env="archgym/DTLZ2-v0", agent=factory, budget=7, seed=0, out=tmp_path / "inferred", progress=False)
    Y = agent.last_training_data[1][:6]  # the same 6 Sobol designs: the ref lies beyond the nadir
    front = np.array([y for y in Y if not any(np.all(o >= y) and np.any(o > y) for o in Y)])
    assert np.all(built[0].reference_point < front.min(axis=0))
    assert not np.allclose(built[0].reference_point, [-1.1, -1.1])


def test_text_parameters_are_refused() -> None:
    space = DesignSpace([Real("x", 0.0, 1.0), Text("note")])
    why = BayesianOptimization.incompatibility(Problem(env_id="t", design_space=space, n_objectives=1))
    assert why is not None and "note" in why


def test_categorical_only_space_starts_acquisition_from_rounded_points() -> None:
    """A continuous relaxation looks flat to a categorical kernel: starting from it, BoTorch warns
    and picks its starting points at random."""
    from botorch.exceptions.warnings import BadInitialCandidatesWarning

    ops = ["a", "b", "c", "d", "e"]
    space = DesignSpace([Categorical(f"edge{i}", ops) for i in range(6)])  # 15,625 designs: not enumerated
    agent = BayesianOptimization(
        Problem(env_id="t", design_space=space, n_objectives=1), seed=0, n_init=8, **FAST
    )
    assert not agent._layout.enumerable
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            designs = agent.ask(8 if agent.stats["initial"] == 0 else 1)
            agent.tell(
                designs,
                [
                    EvalResult(
                        design=d,
                        reward=sum(v == "a" for v in d.values()),
                        metrics={},
                        feasible=True,
                        eval_time_s=0.0,
                    )
                    for d in designs
                ],
            )
    assert agent.stats["model_based"] == 2
    assert not [w for w in caught if issubclass(w.category, BadInitialCandidatesWarning)]


def test_the_sobol_sequence_keeps_going_past_64_points() -> None:
    """Spaces where most designs are forbidden draw many initial points: the sequence doubles its
    blocks (scipy refuses a block that leaves it unbalanced) and is the same prefix throughout."""
    from scipy.stats import qmc

    space = DesignSpace([Real("a", 0.0, 1.0), Real("b", 0.0, 1.0)])
    agent = BayesianOptimization(Problem(env_id="t", design_space=space, n_objectives=1), seed=3)
    drawn = np.array([agent._next_sobol() for _ in range(300)])
    expected = qmc.Sobol(2, scramble=True, rng=np.random.default_rng(3)).random_base2(9)[:300]
    np.testing.assert_array_equal(drawn, expected)


@pytest.mark.parametrize("categorical", [False, True])
def test_multi_objective_defaults_observed_front_on_real_spaces_and_fewer_samples(categorical: bool) -> None:
    """Several objectives: ``auto`` is log-EHVI against the observed front on a real space (the
    noisy form with categoricals), with the several-objective raw and MC sample counts."""
    params = [Real("x", 0.0, 1.0), Real("y", 0.0, 1.0)]
    if categorical:
        params.append(Categorical("c", ["a", "b", "c"]))
    space = DesignSpace(params)
    problem = Problem(env_id="t", design_space=space, n_objectives=2)
    built: list[Any] = []

    class Recording(BayesianOptimization):
        def _acquisition_function(self, *args: Any, **kwargs: Any) -> Any:
            built.append(super()._acquisition_function(*args, **kwargs))
            return built[-1]

    agent = Recording(problem, seed=0, n_init=5)
    assert (agent.raw_samples, agent.mc_samples) == default_sampling(2) != default_sampling(1)
    for _ in range(6):
        designs = agent.ask(1)
        rewards = [np.array([d["x"], 1.0 - d["x"] * d["y"]]) for d in designs]
        agent.tell(
            designs,
            [
                EvalResult(design=d, reward=r, metrics={}, feasible=True, eval_time_s=0.0)
                for d, r in zip(designs, rewards, strict=True)
            ],
        )
    noisy = type(built[-1]).__name__ == "qLogNoisyExpectedHypervolumeImprovement"
    assert noisy == categorical
    assert noisy or type(built[-1]).__name__ == "qLogExpectedHypervolumeImprovement"
    assert built[-1].sampler.sample_shape[0] == default_sampling(2)[1]
    one = BayesianOptimization(Problem(env_id="t", design_space=space, n_objectives=1), seed=0)
    assert (one.raw_samples, one.mc_samples) == default_sampling(1)


@pytest.mark.parametrize("name", ["raw_samples", "mc_samples"])
def test_too_few_samples_are_refused_naming_the_parameter(name: str) -> None:
    problem = Problem(env_id="t", design_space=DesignSpace([Real("x", 0.0, 1.0)]), n_objectives=1)
    with pytest.raises(ValueError, match=rf"{name}=3 .*legal values: 0 \(default\) or 16"):
        BayesianOptimization(problem, seed=0, **{name: 3})
    assert getattr(BayesianOptimization(problem, seed=0, **{name: 16}), name) == 16
