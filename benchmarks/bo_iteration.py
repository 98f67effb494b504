"""Cost of one iteration of the ``bo`` agent next to raw BoTorch doing the same work.

One BO iteration = tell ``n_obs`` observations, then ask one design: fit the GP and optimise the
acquisition function. The raw-BoTorch baseline runs the textbook equivalent with the agent's
settings — ``SingleTaskGP`` with a Matern-5/2 ARD kernel (BoTorch's dimension-scaled prior), the
agent's noise prior and floor, targets standardised, ``fit_gpytorch_mll`` with the agent's
options, analytic ``LogExpectedImprovement`` against the best observation, ``optimize_acqf`` with
the same restarts, raw samples and options — on the same data and torch seed, one thread, in the
same process. Goal: agent / raw ≤ 1.2. (The iteration measured is the agent's first model-based
one, which always fits the hyperparameters; later ones refit every ``REFIT_EVERY`` steps.)

    python benchmarks/bo_iteration.py [--n-obs 50] [--dim 6] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Any

import numpy as np

from archgym.search import EvalResult, Problem
from archgym.spaces import DesignSpace, Real

# isort: split
# after archgym: importing an agent module first would load the plugins in the middle of it
from archgym_agents.bo import (
    ACQF_OPTIONS,
    FIT_OPTIONS,
    MIN_NOISE,
    NOISE_PRIOR,
    SPECS,
    BayesianOptimization,
    default_sampling,
)


def _defaults() -> dict[str, Any]:
    """The agent's defaults for one objective (the samples left at 0 resolved as the agent does)."""
    settings = {p.name: p.default for p in SPECS[0].hyperparameters}
    settings["raw_samples"], settings["mc_samples"] = default_sampling(1)
    return settings


def _objective(dim: int) -> Any:
    """Hartmann (d = 3, 4 or 6; maximised) on the unit cube, else Ackley rescaled to it."""
    from botorch.test_functions import Ackley, Hartmann

    if dim in (3, 4, 6):
        return Hartmann(dim=dim, negate=True)
    ackley = Ackley(dim=dim, negate=True)
    lo, hi = ackley.bounds[0], ackley.bounds[1]
    return lambda X: ackley(lo + X * (hi - lo))


def _data(n_obs: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    import torch
    from scipy.stats import qmc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # n_obs need not be a power of 2
        X = qmc.Sobol(dim, scramble=True, rng=np.random.default_rng(seed)).random(n_obs)
    with torch.no_grad():
        y = _objective(dim)(torch.as_tensor(X, dtype=torch.float64)).numpy()
    return X, y


def agent_iteration_s(
    X: np.ndarray, y: np.ndarray, seed: int, settings: dict[str, Any]
) -> tuple[float, float]:
    """CPU and wall seconds for ``tell`` of the observations plus ``ask(1)`` (GP fit + acquisition
    optimisation)."""
    dim = X.shape[1]
    space = DesignSpace([Real(f"x{i + 1}", 0.0, 1.0) for i in range(dim)])
    agent = BayesianOptimization(
        Problem(env_id="bench/bo-iteration", design_space=space, n_objectives=1), seed=seed, **settings
    )
    designs = [space.from_unit(x) for x in X]
    results = [
        EvalResult(design=d, reward=float(v), metrics={}, feasible=True, eval_time_s=0.0)
        for d, v in zip(designs, y, strict=True)
    ]
    cpu, wall = time.process_time(), time.perf_counter()
    agent.tell_history(designs, results)
    agent.ask(1)
    return time.process_time() - cpu, time.perf_counter() - wall


def agent_torch_seed(seed: int) -> int:
    """The torch seed the agent built with ``seed`` uses for its first model-based ask, so the raw
    baseline starts its acquisition optimisation from the same random points (the timings then
    differ by the agent's overhead, not by luckier or unluckier restarts)."""
    return int(np.random.default_rng(seed).integers(2**31 - 1))


def raw_iteration_s(X: np.ndarray, y: np.ndarray, seed: int, settings: dict[str, Any]) -> tuple[float, float]:
    """CPU and wall seconds for the same fit + acquisition optimisation written directly against
    BoTorch."""
    import torch
    from botorch.acquisition.analytic import LogExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
    from botorch.optim import optimize_acqf
    from gpytorch.constraints import GreaterThan
    from gpytorch.likelihoods import GaussianLikelihood
    from gpytorch.mlls import ExactMarginalLogLikelihood
    from gpytorch.priors import GammaPrior

    dim = X.shape[1]
    cpu, wall = time.process_time(), time.perf_counter()
    with torch.random.fork_rng():
        torch.manual_seed(agent_torch_seed(seed))
        tX = torch.as_tensor(X, dtype=torch.float64)
        tY = torch.as_tensor((y - y.mean()) / y.std(), dtype=torch.float64).unsqueeze(-1)
        bounds = torch.stack([torch.zeros(dim, dtype=torch.float64), torch.ones(dim, dtype=torch.float64)])
        model = SingleTaskGP(
            tX,
            tY,
            covar_module=get_covar_module_with_dim_scaled_prior(ard_num_dims=dim, use_rbf_kernel=False),
            likelihood=GaussianLikelihood(
                noise_prior=GammaPrior(*NOISE_PRIOR), noise_constraint=GreaterThan(MIN_NOISE)
            ),
            outcome_transform=None,
        )
        fit_gpytorch_mll(
            ExactMarginalLogLikelihood(model.likelihood, model), optimizer_kwargs={"options": FIT_OPTIONS}
        )
        acqf = LogExpectedImprovement(model, best_f=tY.max())
        optimize_acqf(
            acqf,
            bounds=bounds,
            q=1,
            num_restarts=settings["num_restarts"],
            raw_samples=settings["raw_samples"],
            options=ACQF_OPTIONS,
        )
    return time.process_time() - cpu, time.perf_counter() - wall


def measure(n_obs: int = 50, dim: int = 6, repeats: int = 3) -> dict[str, Any]:
    """Median seconds of one agent BO iteration and of raw BoTorch on the same data and seed (one
    torch thread), and their ratio. Each repeat uses fresh Sobol data; agent and raw alternate so
    machine load affects both alike. ``ratio`` compares CPU time (one thread, so it is the work
    done, unaffected by other processes on a shared machine); ``wall_ratio`` compares wall time."""
    import torch

    torch.set_num_threads(1)
    settings = _defaults()
    warm_X, warm_y = _data(max(n_obs // 2, 8), dim, seed=10_000)
    agent_cpu, agent_wall, raw_cpu, raw_wall = [], [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agent_iteration_s(warm_X, warm_y, 0, settings)  # imports and first-call costs, not timed
        raw_iteration_s(warm_X, warm_y, 0, settings)
        for r in range(repeats):
            X, y = _data(n_obs, dim, seed=r)
            cpu, wall = agent_iteration_s(X, y, r, settings)
            agent_cpu.append(cpu)
            agent_wall.append(wall)
            cpu, wall = raw_iteration_s(X, y, r, settings)
            raw_cpu.append(cpu)
            raw_wall.append(wall)
    med = statistics.median
    return {
        "problem": f"Hartmann-{dim}" if dim in (3, 4, 6) else f"Ackley-{dim}",
        "n_obs": n_obs,
        "dim": dim,
        "repeats": repeats,
        "num_restarts": settings["num_restarts"],
        "raw_samples": settings["raw_samples"],
        "mc_samples": settings["mc_samples"],
        "agent_s": med(agent_cpu),
        "raw_s": med(raw_cpu),
        "ratio": med(agent_cpu) / med(raw_cpu),
        "agent_wall_s": med(agent_wall),
        "raw_wall_s": med(raw_wall),
        "wall_ratio": med(agent_wall) / med(raw_wall),
        "agent_cpu_times_s": agent_cpu,
        "raw_cpu_times_s": raw_cpu,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-obs", type=int, default=50, help="observations told before the ask")
    parser.add_argument("--dim", type=int, default=6, help="problem dimension (Hartmann for 3, 4, 6)")
    parser.add_argument("--repeats", type=int, default=3, help="timed iterations (median reported)")
    args = parser.parse_args(argv)
    m = measure(n_obs=args.n_obs, dim=args.dim, repeats=args.repeats)
    print(
        f"one BO iteration on {m['problem']}, {m['n_obs']} observations, 1 thread "
        f"(num_restarts={m['num_restarts']}, raw_samples={m['raw_samples']}, "
        f"mc_samples={m['mc_samples']}; median of {m['repeats']}):"
    )
    print(f"  bo agent     {m['agent_s']:7.3f} s CPU  {m['agent_wall_s']:7.3f} s wall")
    print(f"  raw BoTorch  {m['raw_s']:7.3f} s CPU  {m['raw_wall_s']:7.3f} s wall")
    print(f"  ratio agent/raw {m['ratio']:.2f} CPU, {m['wall_ratio']:.2f} wall  (goal <= 1.2)")


if __name__ == "__main__":
    main()
