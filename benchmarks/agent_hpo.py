"""Tuning Pareto Q-learning with bo, ga and random on MORLHyper-v0: tuning vs test seeds.

For each agent and run seed, one ``archgym.loop.run`` of ``--budget`` evaluations on
``archgym/MORLHyper-v0`` (Pareto Q-learning on deep-sea-treasure; each evaluation trains on the
env's ``--n-seeds`` tuning seeds); at the end the loop re-evaluates the run's best design on the
env's ``--n-test-seeds`` disjoint test seeds (the env's test mode). Prints, per agent, the median
over run seeds of the best normalised hypervolume on the tuning seeds and of that design's
normalised hypervolume on the test seeds, and the median time per evaluation.

Required: ``bo`` and ``ga`` at least as good as ``random`` on the test seeds (medians); the
script exits with status 1 otherwise. Runs execute in ``--jobs`` parallel processes, torch on one
thread each, W&B disabled, every run's records in a temporary directory that is removed.

    python benchmarks/agent_hpo.py [--budget 30] [--seeds 5] [--jobs 2] [--train-steps 4000] [--n-seeds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

os.environ["WANDB_MODE"] = "disabled"
os.environ.setdefault("OMP_NUM_THREADS", "1")

AGENTS = ("bo", "ga", "random")
ENV_ID = "archgym/MORLHyper-v0"


def _one_run(agent: str, seed: int, budget: int, env_kwargs: dict[str, Any]) -> dict[str, Any]:
    import pyarrow.parquet as pq

    import archgym  # noqa: F401 - registers the envs
    from archgym.loop import run

    with tempfile.TemporaryDirectory(prefix="agent-hpo-") as out:
        summary = run(
            env=ENV_ID,
            agent=agent,
            budget=budget,
            seed=seed,
            out=Path(out) / "run",
            env_kwargs=env_kwargs,
            progress=False,
        )
        times = pq.read_table(Path(out) / "run" / "evaluations.parquet").column("eval_time_s").to_pylist()
    test = summary.get("test") or {}
    return {
        "agent": agent,
        "seed": seed,
        "tuned": summary["best_reward"],
        "test": test.get("test_reward", float("nan")),
        "eval_time_s": statistics.median(times),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=30, help="evaluations per run")
    parser.add_argument("--seeds", type=int, default=5, help="run seeds per agent")
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel processes")
    parser.add_argument("--train-steps", type=int, default=4000, help="training steps per tuning seed")
    parser.add_argument("--n-seeds", type=int, default=3, help="tuning seeds per evaluation (K)")
    parser.add_argument("--n-test-seeds", type=int, default=5, help="test seeds of the final re-evaluation")
    args = parser.parse_args(argv)
    env_kwargs = {"train_steps": args.train_steps, "n_seeds": args.n_seeds, "n_test_seeds": args.n_test_seeds}
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [
            pool.submit(_one_run, agent, seed, args.budget, env_kwargs)
            for seed in range(args.seeds)
            for agent in AGENTS
        ]
        results = [f.result() for f in futures]
    wall = time.perf_counter() - start
    print(
        f"{ENV_ID} {env_kwargs}, budget {args.budget}, {args.seeds} run seeds, {args.jobs} jobs, "
        f"wall {wall:.0f} s"
    )
    print(
        f"{'agent':<8} {'tuning HV (median)':>19} {'test HV (median)':>17} {'s / evaluation':>15}"
        "  per-seed test"
    )
    medians: dict[str, float] = {}
    for agent in AGENTS:
        rows = [r for r in results if r["agent"] == agent]
        tuned = statistics.median(r["tuned"] for r in rows)
        medians[agent] = statistics.median(r["test"] for r in rows)
        per_eval = statistics.median(r["eval_time_s"] for r in rows)
        per_seed = " ".join(f"{r['test']:.3f}" for r in rows)
        print(f"{agent:<8} {tuned:>19.4f} {medians[agent]:>17.4f} {per_eval:>15.3f}  {per_seed}")
    failed = [a for a in ("bo", "ga") if not medians[a] >= medians["random"] - 1e-9]
    for agent in failed:
        print(f"FAIL: {agent} median test HV {medians[agent]:.4f} < random {medians['random']:.4f}")
    if not failed:
        print("OK: bo and ga are at least as good as random on the test seeds")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
