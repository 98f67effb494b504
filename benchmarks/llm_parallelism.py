"""Agents against mlsysim's own parallelism optimiser on ``archgym/LLMTraining-v0``.

Prints, for Llama-3-70B on mlsysim's ``Lab_64_H100`` (8 DGX H100, HDR InfiniBand; global batch
256 sequences of 2048 tokens — the env's defaults, or ``--env-kwarg k=v``):

1. the space: legal designs (after the two forbidden-combination rules), how many fit in GPU
   memory, and the best feasible step time, found by evaluating every legal design;
2. the best feasible step time of ``bo``, ``ga``, ``rea`` and ``random`` after ``--budget``
   evaluations (default 100): median and interquartile range over ``--seeds`` seeds (default
   10), the median regret against the optimum, how many seeds hit it, and the median run time;
3. mlsysim's ``ParallelismOptimizer`` pick — at the env's default precision (bf16) without
   recomputation, as it is called by default, and its best over every precision and recompute
   setting the env offers — re-evaluated in the env under the same memory constraint;
4. the per-evaluation time of ``env.step`` beside a direct ``DistributedModel.solve`` +
   ``EconomicsModel.solve`` on the same designs in the same warm process (interleaved, the
   order alternating; medians), and their ratio.

    python benchmarks/llm_parallelism.py [--seeds 10] [--budget 100] [--agents bo,ga,rea,random]
                                         [--env-kwarg llm=Llama3_8B] …

mlsysim states ±15-30 % accuracy for well-calibrated cases: these are optimisation figures on its
model of a cluster, not measurements of one.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from archgym.loop import run
from archgym_mlsys.training import LLMTraining

ENV = "archgym/LLMTraining-v0"
AGENTS = ("bo", "ga", "rea", "random")


def step(env: LLMTraining, design: dict[str, Any]) -> dict[str, Any]:
    env.reset(seed=0)
    return env.step(env.design_space.to_action(design))[4]


def exhaustive(env: LLMTraining) -> tuple[int, int, float, dict[str, Any]]:
    """Legal designs, feasible ones, and the best feasible step time with its design."""
    space = env.design_space
    names = [p.name for p in space.parameters]
    legal = [
        d
        for values in itertools.product(*(p.values_list() for p in space.parameters))
        if not space.violated(d := dict(zip(names, values, strict=True)))
    ]
    best, best_design, feasible = float("inf"), {}, 0
    for design in legal:
        info = step(env, design)
        if info["feasible"]:
            feasible += 1
            if info["metrics"]["step_time_ms"] < best:
                best, best_design = info["metrics"]["step_time_ms"], design
    return len(legal), feasible, best, best_design


def best_feasible(out: Path) -> float:
    """The best feasible step time (ms) a run found (inf if none)."""
    table = pq.read_table(out / "evaluations.parquet", columns=["feasible", "metric.step_time_ms"])
    feasible, times = table["feasible"].to_pylist(), table["metric.step_time_ms"].to_pylist()
    return min((t for ok, t in zip(feasible, times, strict=True) if ok), default=float("inf"))


def agent_runs(
    agent: str, seeds: int, budget: int, kwargs: dict[str, Any]
) -> tuple[list[float], list[float]]:
    bests, walls = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            out = Path(tmp) / f"{agent}-{seed}"
            start = time.perf_counter()
            run(env=ENV, agent=agent, budget=budget, seed=seed, out=out, env_kwargs=kwargs, progress=False)
            walls.append(time.perf_counter() - start)
            bests.append(best_feasible(out))
    return bests, walls


def mlsysim_picks(env: LLMTraining) -> tuple[float, float, str]:
    """Step time of mlsysim's pick at its defaults, and of its best pick over precision x recompute."""
    default = env.mlsysim_pick()
    default_ms = step(env, default)["metrics"]["step_time_ms"] if default else float("inf")
    best, label = float("inf"), "none"
    for precision in env.design_space["precision"].values_list():
        for recompute in env.design_space["recompute"].values_list():
            pick = env.mlsysim_pick(precision=precision, recompute=recompute)
            if pick is None:
                continue
            info = step(env, pick)
            assert info["feasible"], (pick, info.get("error"))  # its filter is the env's constraint
            if info["metrics"]["step_time_ms"] < best:
                best = info["metrics"]["step_time_ms"]
                label = f"tp={pick['tp']} pp={pick['pp']} dp={pick['dp']} {precision} {recompute}"
    return default_ms, best, label


def per_evaluation(env: LLMTraining, repeats: int) -> tuple[float, float]:
    """Median ms of env.step and of the direct mlsysim calls it makes, interleaved."""
    from mlsysim.solvers import DistributedModel, EconomicsModel

    rng = np.random.default_rng(0)
    designs = [env.design_space.sample(rng) for _ in range(repeats)]
    s, problem = env.setup, env.problem

    def env_step(d: dict[str, Any]) -> None:
        env.reset(seed=0)
        env.step(env.design_space.to_action(d))

    def direct(d: dict[str, Any]) -> None:
        micro = problem["global_batch_size"] // (d["dp"] * d["micro_batch_size"])
        result = DistributedModel().solve(
            s.model,
            s.fleet,
            batch_size=problem["global_batch_size"],
            precision=d["precision"],
            efficiency=problem["efficiency"],
            tp_size=d["tp"],
            pp_size=d["pp"],
            microbatch_count=micro,
            gradient_accumulation_steps=micro if d["pp"] == 1 else 1,
            zero_stage=d["zero_stage"],
            activation_recomputation=d["recompute"] == "full",
            overlap_comm=problem["overlap_comm"],
            seq_len=problem["seq_len"],
        )
        step_days = result.step_latency_total.m_as("s") / 86400
        mfu = min(1.0, result.node_profile.mfu * result.scaling_efficiency)
        EconomicsModel().solve(s.fleet, duration_days=step_days, mfu=mfu)

    times: dict[Any, list[float]] = {env_step: [], direct: []}
    for i, d in enumerate(designs):
        # alternate which goes first: the second call on a design finds mlsysim's caches warm
        for call in (env_step, direct) if i % 2 else (direct, env_step):
            start = time.perf_counter()
            call(d)
            times[call].append((time.perf_counter() - start) * 1e3)
    env_ms, direct_ms = times[env_step], times[direct]
    return statistics.median(env_ms), statistics.median(direct_ms)


def _kwargs(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        out[key] = int(value) if value.isdigit() else value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--agents", default=",".join(AGENTS))
    parser.add_argument("--repeats", type=int, default=200, help="designs timed for the per-evaluation time")
    parser.add_argument("--env-kwarg", action="append", default=[], metavar="K=V")
    args = parser.parse_args()
    kwargs = _kwargs(args.env_kwarg)
    env = LLMTraining(**kwargs)
    s = env.setup
    print(
        f"{s.model_name} on {s.cluster_name} ({s.n_gpus} x {s.hardware_name}, {s.memory_gb:.1f} GB each), "
        f"global batch {env.problem['global_batch_size']} x {env.problem['seq_len']} tokens"
    )

    start = time.perf_counter()
    n_legal, n_feasible, optimum, argbest = exhaustive(env)
    print(
        f"space: {env.design_space.size} designs, {n_legal} legal, {n_feasible} fit in memory; "
        f"optimum {optimum:.1f} ms/step at {argbest} (exhaustive, {time.perf_counter() - start:.1f} s)"
    )

    default_ms, swept_ms, label = mlsysim_picks(env)
    header = f"{'agent':<34}{'median best ms':>15}{'IQR':>19}{'regret':>9}{'hit opt':>9}{'run s':>8}"
    print(f"\nbest feasible step time after {args.budget} evaluations, {args.seeds} seeds\n{header}")
    for agent in args.agents.split(","):
        try:
            bests, walls = agent_runs(agent, args.seeds, args.budget, kwargs)
        except Exception as exc:  # a crashing agent is a finding, not the end of the table
            print(f"{agent:<34}crashed: {type(exc).__name__}: {str(exc)[:120]}")
            continue
        q1, med, q3 = np.percentile(bests, [25, 50, 75])
        hits = sum(math_close(b, optimum) for b in bests)
        print(
            f"{agent:<34}{med:>15.1f}{f'[{q1:.1f}, {q3:.1f}]':>19}{med / optimum - 1:>9.1%}"
            f"{f'{hits}/{len(bests)}':>9}{statistics.median(walls):>8.1f}"
        )
    for name, value in [
        ("mlsysim ParallelismOptimizer", default_ms),
        ("  same, best over precision x recompute", swept_ms),
    ]:
        print(f"{name:<34}{value:>15.1f}{'':>19}{value / optimum - 1:>9.1%}{'':>9}{'':>8}")
    print(f"  (its best pick: {label})")

    env_ms, direct_ms = per_evaluation(env, args.repeats)
    print(
        f"\nper evaluation (median of {args.repeats} random legal designs): env.step {env_ms:.2f} ms, "
        f"direct mlsysim calls {direct_ms:.2f} ms, ratio {env_ms / direct_ms:.2f}"
    )


def math_close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * abs(b)


if __name__ == "__main__":
    main()
