"""Proxy cost models on logged evaluations: ArchGym's headline figure, measured.

For ``archgym/SystolicArray-v0`` (SCALE-Sim) and ``archgym/SOR-v0`` (constant sequence: the
design, ω, then determines the iteration count), this script

1. collects a space-filling (Sobol) sample of ``--n`` designs through the core loop (resumable:
   rerunning reuses ``--out``),
2. exports it as a dataset and trains proxies (``archgym.proxy.train``),
3. times ``--real-evals`` real evaluations of dataset designs in this process, then prints per
   target metric: relative RMSE beside ArchGym's 0.61 %, Kendall τ, RMSE against a mean predictor
   and a linear model, and single-row and batched speedups over that real evaluation time,
4. runs ``bo`` on the proxy-backed env, re-evaluates its best design on the real env and prints
   both values.

Requirements (exit status 1 when one is missed): Kendall τ >= 0.9 and a clear win over both
baselines (test RMSE at most half the baseline's) on every target; single-row speedup >= 2,000x
on the accelerator env.

    python benchmarks/proxy.py                      # the required sizes: 2,000 designs per env
    python benchmarks/proxy.py --n 500 --bo-budget 20
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym

import archgym  # noqa: F401 - registers the envs
from archgym import dataset, loop, proxy

TAU_MIN = 0.9
SPEEDUP_MIN = 2000.0
ARCHGYM_RELATIVE_RMSE = 0.0061

ENVS = {
    "SystolicArray": {
        "id": "archgym/SystolicArray-v0",
        "kwargs": {},
        "targets": ["cycles"],
        "speedup_required": True,
    },
    "SOR": {
        "id": "archgym/SOR-v0",
        "kwargs": {"sequence": "constant"},
        "targets": ["iterations"],
        "speedup_required": False,
    },
}


def real_reward(env_id: str, kwargs: dict[str, Any], design: dict[str, Any], seed: int) -> tuple[float, dict]:
    env = gym.make(env_id, **kwargs)
    try:
        env.reset(seed=seed)
        _, reward, _, _, info = env.step(env.unwrapped.design_space.to_action(design))
        return float(reward), info
    finally:
        env.close()


def bench_env(name: str, conf: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """Run one env's part; returns the requirements it missed."""
    root = Path(args.out) / name
    n = args.n if name == "SystolicArray" else args.n_sor
    start = time.perf_counter()
    if args.no_collect:  # use what the (possibly killed) collection holds
        print(f"\n== {conf['id']} {conf['kwargs']}: using the existing collection in {root / 'collect'}")
    else:
        summary = dataset.collect(
            env=conf["id"],
            n=n,
            out=root / "collect",
            seed=args.seed,
            workers=args.workers,
            env_kwargs=conf["kwargs"],
            progress=False,
        )
        print(
            f"\n== {conf['id']} {conf['kwargs']}: {summary['n_evaluations']} designs collected "
            f"({summary['n_feasible']} feasible), {time.perf_counter() - start:.0f} s this call"
        )
    card = dataset.export([root / "collect"], root / "dataset.parquet")
    if card["rows"] < 2000:
        print(f"NOTE: {card['rows']} designs, fewer than the 2,000 the acceptance asks for")
    model = root / "proxy.joblib"
    # the baseline: real evaluations timed here, in this process, beside the proxy's predictions
    # (the loop-recorded times of the collection include whatever load it ran under)
    real_time = time_real_evaluations(conf, root / "dataset.parquet", args.real_evals, args.seed)
    print(
        f"real evaluation: median {real_time * 1e3:.1f} ms over {args.real_evals} dataset designs, "
        "timed in this run"
    )
    start = time.perf_counter()
    # a proxy must be fast to be worth it: on the accelerator env, models too slow for the required
    # speedup over the measured real evaluations are not selected
    limit = real_time / SPEEDUP_MIN if conf["speedup_required"] else None
    pcard = proxy.train(
        root / "dataset.parquet",
        conf["targets"],
        model,
        seed=args.seed,
        max_predict_s=limit,
        real_eval_time_s=real_time,
    )
    print(
        f"dataset {card['rows']} rows, feasibility {card['feasibility_rate']:.3f}; trained in "
        f"{time.perf_counter() - start:.0f} s"
    )
    print(proxy.format_report(pcard))
    missed = []
    for target, t in pcard["targets"].items():
        tau = t["test"]["kendall_tau"]
        rel = t["test"]["relative_rmse"]
        base = t["baselines"]
        print(
            f"  {target}: relative RMSE {rel * 100:.3f} % (ArchGym: {ARCHGYM_RELATIVE_RMSE * 100:.2f} %), "
            f"tau {tau:.4f}, R2 {t['test']['r2']:.4f}, n_test {t['n_test']}; "
            f"RMSE {t['test']['rmse']:.4g} vs mean {base['mean']['rmse']:.4g} / "
            f"linear {base['linear']['rmse']:.4g}; speedup single-row {t['speedup']['single_row']:.0f}x "
            f"({t['predict_time_s']['single_row'] * 1e6:.0f} us vs "
            f"{pcard['real_eval_time_s'] * 1e3:.1f} ms), batched {t['speedup']['batched']:.0f}x"
        )
        if not tau >= TAU_MIN:
            missed.append(f"{name}.{target}: Kendall tau {tau:.4f} < {TAU_MIN}")
        for base, won in t["clear_win"].items():
            if not won:
                missed.append(f"{name}.{target}: no clear win over the {base} baseline")
        if conf["speedup_required"] and not t["speedup"]["single_row"] >= SPEEDUP_MIN:
            missed.append(
                f"{name}.{target}: single-row speedup {t['speedup']['single_row']:.0f}x < {SPEEDUP_MIN:.0f}x"
            )

    if args.bo_budget > 0:
        bo_dir = root / "bo-proxy"
        shutil.rmtree(bo_dir, ignore_errors=True)
        kwargs = {**conf["kwargs"], "backend": "proxy", "model": str(model.resolve()), "trust_model": True}
        start = time.perf_counter()
        bo = loop.run(
            env=conf["id"],
            agent="bo",
            budget=args.bo_budget,
            seed=args.seed,
            out=bo_dir,
            env_kwargs=kwargs,
            progress=False,
        )
        real, info = real_reward(conf["id"], conf["kwargs"], bo["best_design"], args.seed)
        best_real = max((r for r in _rewards(root / "dataset.parquet")), default=float("nan"))
        print(
            f"bo on the proxy env ({args.bo_budget} evaluations, {time.perf_counter() - start:.0f} s): "
            f"best design {json.dumps(bo['best_design'])}\n  proxy reward {bo['best_reward']:.6g}; "
            f"real reward {real:.6g} (feasible {info['feasible']}); "
            f"best real reward in the dataset {best_real:.6g}"
        )
    return missed


def time_real_evaluations(conf: dict[str, Any], path: Path, n: int, seed: int) -> float:
    """Median wall time of one real ``env.step`` over ``n`` feasible designs drawn from the dataset."""
    import numpy as np

    from archgym.data import load_dataset
    from archgym.records import PARAM

    table, _ = load_dataset(path)
    rows = [r for r in table.to_pylist() if r["feasible"]]
    env = gym.make(conf["id"], **conf["kwargs"])
    space = env.unwrapped.design_space
    times = []
    for i in np.random.default_rng(seed).choice(len(rows), size=min(n, len(rows)), replace=False):
        design = {p.name: rows[i][PARAM + p.name] for p in space if rows[i][PARAM + p.name] is not None}
        env.reset(seed=seed)
        start = time.perf_counter()
        env.step(space.to_action(design))
        times.append(time.perf_counter() - start)
    env.close()
    return statistics.median(times)


def _rewards(path: Path) -> list[float]:
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["reward", "feasible"])
    return [
        r
        for r, f in zip(table["reward"].to_pylist(), table["feasible"].to_pylist(), strict=True)
        if f and r is not None
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--n", type=int, default=2000, help="designs to collect on SystolicArray-v0 (default 2000)"
    )
    parser.add_argument("--n-sor", type=int, default=2000, help="designs to collect on SOR-v0 (default 2000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes for collection (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--real-evals",
        type=int,
        default=30,
        help="real evaluations timed as the speedup baseline (default 30)",
    )
    parser.add_argument("--bo-budget", type=int, default=30, help="bo evaluations on the proxy env (0: skip)")
    parser.add_argument(
        "--envs", default="SystolicArray,SOR", help="comma-separated subset of SystolicArray,SOR"
    )
    parser.add_argument(
        "--out", default="runs/proxy-bench", help="work directory (reused: collection resumes)"
    )
    parser.add_argument(
        "--no-collect",
        action="store_true",
        help="don't collect: export and use what --out's collections hold (killed ones too)",
    )
    args = parser.parse_args()
    missed: list[str] = []
    for name in args.envs.split(","):
        missed += bench_env(name, ENVS[name], args)
    print("\nrequirements:", "all met" if not missed else "MISSED:\n  " + "\n  ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
