"""The solver-parameter envs: SOR over a sequence of linear systems, and pyamg's AMG parameters."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import scipy.sparse as sparse
import scipy.sparse.linalg as spla
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archgym
from archgym.loop import run
from archgym_solvers.amg import AMG, MAX_CYCLE_WORK
from archgym_solvers.sor import SOR, laplacian_min_eigenvalue, omega_star, sor_sweep

TIMING = {"solve_time", "setup_time", "total_time"}


def step(env: Any, design: dict[str, Any], *, seed: int = 0, check: bool = True, **reset: Any) -> tuple:
    env.reset(seed=seed, **reset)
    _, reward, terminated, _, info = env.step(env.design_space.to_action(design, check=check))
    return reward, terminated, info


def untimed(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if k not in TIMING}


# --- SOR -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "cap"), [(16, 150), (32, 250), (64, 350)])
def test_plain_poisson_iterations_are_minimised_at_the_analytic_omega(n: int, cap: int) -> None:
    """Over ω on a 0.01 grid, the iteration count is smallest within 0.02 of Young's ω*.

    The cap only bounds the cost of the far-from-optimal ω (they are infeasible, with the
    documented penalty); the optimum needs well under the cap.
    """
    env = SOR(n=n, sequence="constant", max_iterations=cap)
    iterations = {}
    for k in range(1, 200):
        reward, _, info = step(env, {"omega": k / 100}, seed=k)
        if info["feasible"]:
            assert reward == -info["metrics"]["iterations"]
            iterations[k / 100] = info["metrics"]["iterations"]
        else:
            assert reward == -(cap + 1) and info["metrics"]["iterations"] == cap
    best = min(iterations.values())
    argmins = [w for w, its in iterations.items() if its == best]
    assert best <= 0.7 * cap  # the optimum is well inside the cap
    assert all(abs(w - omega_star(n)) <= 0.02 for w in argmins), (omega_star(n), argmins, best)


def test_sor_sweep_is_the_sor_update() -> None:
    """One sweep is x <- x + (D/ω + L)^-1 (b - A x), checked against a triangular solve."""
    A = sparse.csr_array(sparse.csr_matrix(np.eye(9) * 0.3) + _poisson(3))
    rng = np.random.default_rng(0)
    b, x = rng.standard_normal(9), rng.standard_normal(9)
    omega = 1.37
    lower = sparse.csr_matrix(sparse.diags(A.diagonal()) / omega + sparse.tril(A, -1))
    expected = x + spla.spsolve_triangular(lower, b - A @ x, lower=True)
    sor_sweep(A, x, b, omega)
    np.testing.assert_allclose(x, expected, rtol=1e-12, atol=1e-12)


def _poisson(n: int) -> sparse.csr_array:
    from pyamg import gallery

    return sparse.csr_array(gallery.poisson((n, n), format="csr"))


def test_ssor_pcg_matches_cg_with_an_explicit_ssor_preconditioner() -> None:
    """SSOR-PCG with pyamg's sweeps takes the same iterations as CG with the assembled SSOR
    matrix M = (D/ω + L) (D/ω)^-1 (D/ω + U) applied by triangular solves."""
    env = SOR(n=8, solver="ssor_pcg", sequence="constant", shift=0.05)
    A, b = env.system(0)
    omega = 1.3
    d = sparse.diags(A.diagonal() / omega)
    lower = sparse.csr_matrix(d + sparse.tril(A, -1))
    upper = sparse.csr_matrix(d + sparse.triu(A, 1))

    def apply(r: np.ndarray) -> np.ndarray:
        y = spla.spsolve_triangular(lower, r, lower=True)
        return spla.spsolve_triangular(upper, d @ y, lower=False)

    count = 0

    def callback(_: np.ndarray) -> None:
        nonlocal count
        count += 1

    spla.cg(
        A,
        b,
        rtol=env.tol,
        atol=0.0,
        maxiter=1000,
        callback=callback,
        M=spla.LinearOperator(A.shape, matvec=apply, dtype=np.float64),
    )
    _, _, info = step(env, {"omega": omega})
    assert info["feasible"] and info["metrics"]["iterations"] == count
    assert info["metrics"]["residual"] <= env.tol
    # and it needs far fewer iterations than plain SOR at the same ω
    _, _, sor_info = step(SOR(n=8, sequence="constant", shift=0.05), {"omega": omega})
    assert count < sor_info["metrics"]["iterations"]


def test_iteration_cap_is_infeasible_with_a_penalty_below_every_feasible_reward() -> None:
    env = SOR(n=16, sequence="constant", max_iterations=100)
    reward, terminated, info = step(env, {"omega": 1.0})
    assert terminated and not info["feasible"]
    assert reward == env.objective.penalty == -101.0
    assert "did not reach tol" in info["error"] and info["metrics"]["converged"] == 0.0
    assert info["metrics"]["iterations"] == 100 and info["metrics"]["residual"] > env.tol
    feasible_reward, _, feasible = step(env, {"omega": 1.69})
    assert feasible["feasible"] and reward < feasible_reward


def test_reset_draws_instances_and_the_plain_poisson_sequence_is_deterministic() -> None:
    env = SOR(n=12)
    rewards = {}
    for seed in range(6):
        reward, _, info = step(env, {"omega": 1.5}, seed=seed)
        rewards[seed] = (reward, info["metrics"]["instance"], info["metrics"]["shift"])
        again, _, info2 = step(env, {"omega": 1.5}, seed=seed)
        assert again == reward and untimed(info2["metrics"]) == untimed(info["metrics"])
    assert len({instance for _, instance, _ in rewards.values()}) == 6  # varied instances
    low, high = env.shift_range
    assert all(low <= shift <= high for _, _, shift in rewards.values())

    plain = SOR(n=12, sequence="constant")
    results = {step(plain, {"omega": 1.5}, seed=seed)[0] for seed in range(4)}
    assert len(results) == 1  # zero shift, one right-hand side: the same system whatever the seed
    _, _, info = step(plain, {"omega": 1.5})
    assert info["metrics"]["shift"] == 0.0 and info["metrics"]["instance"] == 0.0


def test_an_episode_walks_the_sequence_in_order_and_observes_the_next_context() -> None:
    env = SOR(n=10, sequence_length=20, episode_length=4)
    obs, _ = env.reset(seed=0, options={"instance": 5})
    assert list(obs[:3]) == [0.0, 0.0, 0.0] and tuple(obs[3:]) == env.context(5)
    for t in range(5, 9):
        obs, _, terminated, _, info = env.step({"omega": np.array([1.4])})
        assert info["metrics"]["instance"] == t and (info["metrics"]["shift"], 1.0, 0.0) == env.context(t)
        assert obs[0] == info["metrics"]["iterations"] and obs[2] == 1.0
        assert tuple(obs[3:]) == env.context(t + 1)
        assert terminated == (t == 8)
    # the sequence depends only on its seed
    assert SOR(n=10, sequence_length=20).context(7) == env.context(7)
    assert SOR(n=10, sequence_length=20, sequence_seed=1).context(7) != env.context(7)
    # a seeded reset starts somewhere a whole episode fits
    starts = set()
    for seed in range(30):
        env.reset(seed=seed)
        starts.add(env._start)
    assert starts <= set(range(17)) and len(starts) > 5
    with pytest.raises(ValueError, match=r"'instance'.*\[0, 16\]"):
        env.reset(options={"instance": 17})


def test_anisotropy_sequence_varies_the_diffusion_tensor() -> None:
    env = SOR(n=10, sequence="anisotropy", epsilon_range=(0.05, 0.5))
    contexts = [env.context(t) for t in range(10)]
    assert all(
        shift == 0.0 and 0.05 <= eps <= 0.5 and 0 <= theta <= math.pi / 2 for shift, eps, theta in contexts
    )
    A0, _ = env.system(0)
    A1, _ = env.system(1)
    assert (A0 != A1).nnz > 0 and abs(A0 - A0.T).max() < 1e-12
    _, _, info = step(env, {"omega": 1.5}, options={"instance": 1})
    assert info["feasible"] and info["metrics"]["epsilon"] == contexts[1][1]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n": 1}, "n"),
        ({"n": 10**30}, "n"),
        ({"n": 16.5}, "n"),
        ({"tol": 0.0}, "tol"),
        ({"tol": True}, "tol"),
        ({"max_iterations": 0}, "max_iterations"),
        ({"max_iterations": 2**63}, "max_iterations"),
        ({"solver": "jacobi"}, "solver"),
        ({"sequence": "heat"}, "sequence"),
        ({"shift_range": (-1.0, 0.5)}, "shift_range"),
        ({"shift_range": (0.5,)}, "shift_range"),
        ({"shift": -1.0}, "shift"),
        ({"shift": math.inf}, "shift"),
        ({"shift_beta": (0.0, 1.0)}, "shift_beta"),
        ({"epsilon_range": (0.0, 1.0)}, "epsilon_range"),
        ({"sequence_length": 10**12}, "sequence_length"),
        ({"sequence_seed": -1}, "sequence_seed"),
        ({"sequence_seed": 2**64}, "sequence_seed"),
        ({"episode_length": 10, "sequence_length": 5}, "episode_length"),
        ({"objective": "flops"}, "objective"),
    ],
)
def test_sor_bad_arguments_name_the_argument(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=f"^SOR: {name}: .* is not legal; legal values: "):
        SOR(**kwargs)


def test_sor_declared_arguments_give_their_legal_values_and_canonical_types() -> None:
    with pytest.raises(ValueError, match=r"^SOR: n: 1 is not legal; legal values: integers in \[2, 2048\]$"):
        SOR(n=1)
    with pytest.raises(
        ValueError, match=r"^SOR: solver: 'jacobi' is not legal; legal values: one of \['sor'"
    ):
        SOR(solver="jacobi")
    with pytest.raises(ValueError, match=r"^SOR: episode_length: 10 .*integers in \[1, 5\]"):
        SOR(episode_length=10, sequence_length=5)
    env = SOR(n=np.int64(12), tol=1e-6, max_iterations=50.0, sequence_seed=np.uint32(3))
    assert (env.n, env.max_iterations, env.sequence_seed) == (12, 50, 3)
    assert all(type(v) is int for v in (env.n, env.max_iterations, env.sequence_seed))
    assert env.constructor_kwargs["n"] == 12 and env.tol == 1e-6


def test_solver_versions_are_the_simulator_packages() -> None:
    from importlib.metadata import version

    import pyamg
    import scipy

    expected = {"pyamg": pyamg.__version__, "scipy": scipy.__version__}
    assert expected == {"pyamg": version("pyamg"), "scipy": version("scipy")}
    assert SOR(n=8).versions() == expected
    assert AMG(n=8).versions() == expected


def test_shift_range_is_checked_against_positive_definiteness() -> None:
    lam = laplacian_min_eigenvalue(10)
    SOR(n=10, shift_range=(-0.9 * lam, 0.2))
    with pytest.raises(ValueError, match="shift_range"):
        SOR(n=10, shift_range=(-1.01 * lam, 0.2))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    omega=st.floats(0.01, 1.99),
    seed=st.integers(0, 2**31 - 1),
    solver=st.sampled_from(["sor", "ssor_pcg"]),
    sequence=st.sampled_from(["shift", "anisotropy"]),
)
def test_every_omega_either_converges_or_is_capped(
    omega: float, seed: int, solver: str, sequence: str
) -> None:
    env = SOR(n=10, solver=solver, sequence=sequence, max_iterations=400)
    reward, terminated, info = step(env, {"omega": omega}, seed=seed)
    metrics = info["metrics"]
    assert terminated and 1 <= metrics["iterations"] <= 400
    if info["feasible"]:
        assert metrics["residual"] <= env.tol and reward == -metrics["iterations"] >= -400
    else:
        assert reward == -401.0 and metrics["iterations"] == 400 and metrics["residual"] > env.tol


def test_sor_time_objective() -> None:
    env = SOR(n=10, objective="time")
    reward, _, info = step(env, {"omega": 1.5})
    assert reward == -info["metrics"]["solve_time"] < 0 and env.objective.penalty == -1e6


# --- AMG -----------------------------------------------------------------------------------------


SMALL_AMG = {"n": 16}


def test_amg_default_design_converges_and_work_is_iterations_times_cycle_work() -> None:
    env = AMG(**SMALL_AMG)
    reward, _, info = step(env, env.design_space.default())
    m = info["metrics"]
    assert info["feasible"], info
    assert m["residual"] <= env.tol and m["converged"] == 1.0 and m["levels"] >= 2
    assert m["work"] == pytest.approx(m["iterations"] * m["cycle_work"]) and reward == -m["work"]
    assert m["operator_complexity"] >= 1.0 and m["grid_complexity"] >= 1.0
    assert m["total_time"] == pytest.approx(m["setup_time"] + m["solve_time"])


def test_amg_cycle_work_extends_pyamg_cycle_complexity() -> None:
    """pyamg's cycle complexity counts 2·nnz per level visit (one pre-, one post-sweep) and nnz for
    the coarse solve; ours counts (pre + post)·sweep cost + 1 (the residual) per visit, the coarse
    solver's real cost (10 sweeps for a relaxation coarse solver), and +1 WU per iteration. With
    (1, 1) SOR sweeps the two are related exactly, with k coarse solves per cycle."""
    import pyamg

    A, _ = AMG(n=32).system()
    ml = pyamg.ruge_stuben_solver(A, max_coarse=10, coarse_solver="gauss_seidel")
    nnz0, nnz_coarse, last = ml.levels[0].A.nnz, ml.levels[-1].A.nnz, len(ml.levels) - 1
    assert last >= 3
    design = {"smoother": "sor", "presweeps": 1, "postsweeps": 1, "coarse_solver": "gauss_seidel"}
    for cycle, k in (("V", 1), ("W", 2 ** (last - 1)), ("F", last)):
        flops = ml.cycle_complexity(cycle) * nnz0
        expected = 1.5 * (flops - k * nnz_coarse) + 10 * k * nnz_coarse
        assert AMG._cycle_work(ml, {**design, "cycle": cycle}) == pytest.approx(expected / nnz0 + 1.0)
    # three pre- and post-sweeps of symmetric Gauss-Seidel cost 12 mat-vecs + 1 residual per visit
    heavy = AMG._cycle_work(
        ml, {**design, "smoother": "gauss_seidel", "presweeps": 3, "postsweeps": 3, "cycle": "V"}
    )
    assert heavy == pytest.approx(
        13 / 3 * (AMG._cycle_work(ml, {**design, "cycle": "V"}) - 1.0 - 10 * nnz_coarse / nnz0)
        + 10 * nnz_coarse / nnz0
        + 1.0
    )


def test_amg_is_deterministic_and_leaves_numpys_global_state_alone() -> None:
    env = AMG(**SMALL_AMG)
    design = {
        "solver": "rs",
        "rs_theta": 0.3,
        "rs_splitting": "PMIS",
        "smoother": "chebyshev",
        "presweeps": 1,
        "postsweeps": 1,
        "cycle": "V",
        "max_levels": 10,
        "max_coarse": 10,
        "coarse_solver": "splu",
        "accel": "cg",
    }
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    r1, _, i1 = step(env, design, seed=1)
    assert np.array_equal(np.random.get_state()[1], before)
    r2, _, i2 = step(env, design, seed=2)
    assert r1 == r2 and untimed(i1["metrics"]) == untimed(i2["metrics"])
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(env.design_space.to_action(design))
    assert obs.shape == env.observation_space.shape == (len(env.metric_units) - len(TIMING),)


def test_amg_dense_coarse_solver_on_a_large_coarse_grid_is_refused() -> None:
    env = AMG(n=32, dense_coarse_limit=100)
    design = {
        **env.design_space.default(),
        "solver": "rs",
        "rs_theta": 0.25,
        "rs_splitting": "RS",
        "max_levels": 2,
        "coarse_solver": "pinv",
    }
    design.pop("sa_theta"), design.pop("sa_prolongation")
    reward, _, info = step(env, design)
    assert not info["feasible"] and "dense_coarse_limit=100" in info["error"]
    assert reward == env.objective.penalty == -MAX_CYCLE_WORK * 101
    assert info["metrics"]["coarse_size"] > 100 and info["metrics"]["levels"] == 2


def test_amg_forbidden_amli_and_pyamg_rejections_are_infeasible(monkeypatch: pytest.MonkeyPatch) -> None:
    env = AMG(**SMALL_AMG)
    amli_cg = {**env.design_space.default(), "cycle": "AMLI", "accel": "cg"}
    reward, _, info = step(env, amli_cg, check=False)
    assert not info["feasible"] and "AMLI" in info["error"] and reward == env.objective.penalty
    # AMLI under FGMRES is allowed and converges
    assert step(env, {**amli_cg, "accel": "fgmres"})[2]["feasible"]

    import pyamg

    def reject(*args: Any, **kwargs: Any) -> None:
        raise ValueError("unsupported combination")

    monkeypatch.setattr(pyamg, "smoothed_aggregation_solver", reject)
    reward, _, info = step(env, env.design_space.default())
    assert not info["feasible"] and info["error"] == "pyamg: ValueError: unsupported combination"
    assert reward == env.objective.penalty


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_any_amg_design_is_a_normal_evaluation(seed: int) -> None:
    """Sampled designs never raise: feasible ones meet the tolerance, the rest carry the penalty."""
    env = _small_amg()
    design = env.design_space.sample(np.random.default_rng(seed))
    reward, terminated, info = step(env, design, seed=seed % 1000)
    m = info["metrics"]
    assert terminated and info["design"] == design
    if info["feasible"]:
        assert m["residual"] <= env.tol and m["iterations"] <= env.max_iterations
        assert reward == -m["work"] > env.objective.penalty
        assert m["cycle_work"] <= MAX_CYCLE_WORK
    else:
        assert reward == env.objective.penalty and info["error"]


_AMG_CACHE: dict[str, AMG] = {}


def _small_amg() -> AMG:
    return _AMG_CACHE.setdefault("small", AMG(n=16, max_iterations=60))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"problem": "anisotropic", "n": 16},
        {"problem": "anisotropic", "n": 16, "discretization": "FE", "objective": "time"},
        {"problem": "poisson", "dim": 3, "n": 8, "objective": "setup_solve"},
    ],
)
def test_amg_variants_pass_check_env(kwargs: dict[str, Any]) -> None:
    env = gym.make("archgym/AMG-v0", disable_env_checker=True, **kwargs)
    archgym.check_env(env)
    space = env.unwrapped.design_space
    env.reset(seed=0)
    _, reward, _, _, info = env.step(space.to_action(space.default()))
    assert info["feasible"], info
    if kwargs.get("objective") == "setup_solve":
        assert isinstance(reward, np.ndarray) and reward.shape == (2,)
        assert np.all(reward > env.unwrapped.reference_point)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"solver": "ssor_pcg", "n": 12},
        {"sequence": "anisotropy", "n": 12, "episode_length": 3},
        {"sequence": "constant", "n": 12, "objective": "time"},
    ],
)
def test_sor_variants_pass_check_env(kwargs: dict[str, Any]) -> None:
    env = gym.make("archgym/SOR-v0", **kwargs)
    archgym.check_env(env)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"problem": "helmholtz"}, "problem"),
        ({"dim": 3, "problem": "anisotropic"}, "dim"),
        ({"dim": 3, "discretization": "FE"}, "dim"),
        ({"dim": 4}, "dim"),
        ({"n": 2}, "n"),
        ({"n": 10**30}, "n"),
        ({"epsilon": 0.0}, "epsilon"),
        ({"epsilon": 1.5}, "epsilon"),
        ({"theta": math.nan}, "theta"),
        ({"theta": math.inf}, "theta"),
        ({"tol": 1.0}, "tol"),
        ({"max_iterations": 0}, "max_iterations"),
        ({"max_iterations": 10**30}, "max_iterations"),
        ({"dense_coarse_limit": 0}, "dense_coarse_limit"),
        ({"dense_coarse_limit": 10**30}, "dense_coarse_limit"),
        ({"rhs_seed": -1}, "rhs_seed"),
        ({"rhs_seed": 2**32}, "rhs_seed"),
        ({"objective": "flops"}, "objective"),
        ({"discretization": "FV"}, "discretization"),
    ],
)
def test_amg_bad_arguments_name_the_argument(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=f"^AMG: {name}: .* legal values: "):
        AMG(**kwargs)


def test_amg_declared_arguments_give_their_legal_values() -> None:
    with pytest.raises(ValueError, match=r"^AMG: problem: 'helmholtz' is not legal; legal values: one of \["):
        AMG(problem="helmholtz")
    with pytest.raises(ValueError, match=r"^AMG: n: 2 is not legal; legal values: integers in \[4, 4096\]$"):
        AMG(n=2)
    with pytest.raises(ValueError, match=r"^AMG: dim: 3 is not legal with .*3 with problem='poisson'"):
        AMG(dim=3, problem="anisotropic")


# --- through the loop -----------------------------------------------------------------------------


def test_sor_and_amg_run_through_the_loop(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    summary = run(
        env="archgym/SOR-v0",
        agent="random",
        budget=6,
        seed=0,
        out=tmp_path / "sor",
        env_kwargs={"n": 12, "sequence": "constant"},
        progress=False,
    )
    rows = pq.read_table(tmp_path / "sor" / "evaluations.parquet").to_pylist()
    assert len(rows) == 6 and {"metric.iterations", "metric.shift", "metric.instance"} <= set(rows[0])
    assert summary["best_reward"] == max(r["reward"] for r in rows if r["feasible"])
    assert json.loads(rows[0]["versions"])["pyamg"]

    run(
        env="archgym/AMG-v0",
        agent="random",
        budget=4,
        seed=0,
        out=tmp_path / "amg",
        env_kwargs={"n": 16},
        progress=False,
    )
    rows = pq.read_table(tmp_path / "amg" / "evaluations.parquet").to_pylist()
    assert len(rows) == 4 and "metric.work" in rows[0] and "param.solver" in rows[0]
