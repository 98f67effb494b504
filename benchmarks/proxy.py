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
   both values; on SystolicArray, a small campaign of random, ga and bo on the proxy validated on
   the simulator (proxy vs real values, the agents' ranking τ); ``--curve``: the learning curve,
5. ``NAS``: FBNetV3-style pretraining of a NAS-Bench-201 accuracy predictor on free statistics
   (Kendall τ on the rest of the table at 50, 100, 200 training cells, with and without).

The proxies use the env's free statistics (the card's "statistics"); each target is printed beside
the same selection without them. SystolicArray's accuracy goals (issue #30): relative RMSE <= 5 %,
MAPE <= 3 %, Kendall τ >= 0.98.

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
        "accuracy": {"relative_rmse": 0.05, "mape": 0.03, "kendall_tau": 0.98},
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
    # a collection of n designs, and (SystolicArray, --n-extra) a second Sobol sequence (seed + 1)
    # so that n + extra designs leave n training designs after the test split; both resume
    parts = [("collect", n, args.seed)]
    if name == "SystolicArray" and args.n_extra > 0:
        parts.append(("collect-extra", args.n_extra, args.seed + 1))
    for folder, size, seed in parts:
        if args.no_collect:  # use what the (possibly killed) collection holds
            print(f"\n== {conf['id']} {conf['kwargs']}: using the existing collection in {root / folder}")
            continue
        summary = dataset.collect(
            env=conf["id"],
            n=size,
            out=root / folder,
            seed=seed,
            workers=args.workers,
            env_kwargs=conf["kwargs"],
            progress=False,
        )
        print(
            f"\n== {conf['id']} {conf['kwargs']}: {summary['n_evaluations']} designs collected in {folder} "
            f"({summary['n_feasible']} feasible), {time.perf_counter() - start:.0f} s this call"
        )
    sources = [root / folder for folder, _, _ in parts if (root / folder).exists()]
    card = dataset.export(sources, root / "dataset.parquet")
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
        concentration = t.get("error_concentration")
        if concentration and "accuracy" in conf:  # what sets the relative RMSE
            print(
                f"  what dominates the relative RMSE: the worst 1 % of test rows carry "
                f"{concentration['top_1pct_share'] * 100:.0f} % of the squared error (relative RMSE without "
                f"them {concentration['relative_rmse_without_top_1pct'] * 100:.2f} %); the worst rows:"
            )
            for row in concentration["largest"]:
                estimate = "" if row["estimate"] is None else f", analytic estimate {row['estimate']:.6g}"
                print(
                    f"    true {row['true']:.6g}, predicted {row['predicted']:.6g}{estimate}: "
                    f"{json.dumps(row['design'])}"
                )
            if t.get("estimate"):
                e = t["estimate"]["test"]
                print(
                    f"  the analytic estimate ({t['estimate']['statistic']}) alone: relative RMSE "
                    f"{e['relative_rmse'] * 100:.2f} %, MAPE {e['mape'] * 100:.2f} %, "
                    f"tau {e['kendall_tau']:.4f}"
                )
        if not tau >= TAU_MIN:
            missed.append(f"{name}.{target}: Kendall tau {tau:.4f} < {TAU_MIN}")
        for base, won in t["clear_win"].items():
            if not won:
                missed.append(f"{name}.{target}: no clear win over the {base} baseline")
        for figure, bound in conf.get("accuracy", {}).items():  # the accuracy goals
            value = t["test"][figure]
            if not (value >= bound if figure == "kendall_tau" else value <= bound):
                missed.append(f"{name}.{target}: {figure} {value:.4f} misses {bound}")
        if conf["speedup_required"] and not t["speedup"]["single_row"] >= SPEEDUP_MIN:
            missed.append(
                f"{name}.{target}: single-row speedup {t['speedup']['single_row']:.0f}x < {SPEEDUP_MIN:.0f}x"
            )

    if args.curve:
        curve = proxy.learning_curve(root / "dataset.parquet", conf["targets"][0], seed=args.seed)
        print(proxy.format_curve(curve))
        proxy.plot_curve(curve, root / "curve.png")
    if args.campaign_budget > 0 and name == "SystolicArray":
        proxy_to_truth(conf, model, root, args)
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


def proxy_to_truth(conf: dict[str, Any], model: Path, root: Path, args: argparse.Namespace) -> None:
    """A small campaign of random, ga and bo on the proxy-backed env, each run's best design
    validated on the simulator (``validate_on``): proxy vs real values and the ranking τ."""
    import pyarrow.parquet as pq

    from archgym.campaign import VALIDATION_TABLE, agreement, parse_campaign, run_campaign

    campaign = parse_campaign(
        {
            "name": "proxy-to-truth",
            "budget": args.campaign_budget,
            "tuning_seeds": list(range(args.campaign_seeds)),
            "envs": [
                {
                    "id": conf["id"],
                    "kwargs": {**conf["kwargs"], "backend": "proxy", "model": str(model.resolve())},
                    "validate_on": "simulator",
                }
            ],
            "agents": [{"name": "random"}, {"name": "ga"}, {"name": "bo"}],
        }
    )
    out = root / "proxy-to-truth"
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    run_campaign(campaign, out, workers=0, progress=False, trust_model=True)
    check = agreement(pq.read_table(out / VALIDATION_TABLE).to_pylist())
    print(
        f"proxy-to-truth campaign ({args.campaign_seeds} seeds x random, ga, bo, budget "
        f"{args.campaign_budget}, {time.perf_counter() - start:.0f} s; report: archgym report {out})"
    )
    print(f"{'run':<40}{'proxy':>14}{'real':>14}{'gap':>12}{'regret gap':>12}")
    for r in check["runs"]:
        print(
            f"{r['run_key']:<40}{r['proxy_reward']:>14.6g}{r['real_reward']:>14.6g}{r['gap']:>12.4g}"
            f"{r['regret_gap']:>12.4g}"
        )
    medians = ", ".join(
        f"{a}: proxy {m['proxy_median']:.6g} / real {m['real_median']:.6g}"
        for a, m in check["agents"].items()
    )
    print(f"agents (median): {medians}")
    print(
        f"Kendall tau, agents' ranking proxy vs truth: {check['agent_rank_tau']:.3f}; "
        f"runs: {check['run_rank_tau']:.3f}"
    )


def bench_nas(args: argparse.Namespace) -> list[str]:
    """FBNetV3-style pretraining on the NAS-Bench-201 table: Kendall τ on the rest of the table of an
    accuracy predictor trained on 50, 100, 200 cells, with and without pretraining on free
    statistics (params, FLOPs, SynFlow, op counts) of sampled cells, over ``--nas-seeds`` seeds.
    Returns the requirements it missed (goal: with pretraining at 100 cells >= without at 200)."""
    import warnings

    import numpy as np
    from scipy.stats import kendalltau
    from sklearn.exceptions import ConvergenceWarning

    from archgym_nas import table
    from archgym_nas.cell import EDGE_NAMES, all_cells

    env = gym.make("archgym/NASBench201-v0").unwrapped
    truth = table.load()._seed_means["val_accuracy"]  # the table's seed-mean validation accuracy
    designs = [dict(zip(EDGE_NAMES, ops, strict=True)) for ops in all_cells()]
    plain = proxy.Encoder(env.design_space)
    with_stats = proxy.Encoder(env.design_space, env, env.statistic_names)
    x_plain, x_stats = plain(designs), with_stats(designs)
    sizes = (50, 100, 200)
    taus: dict[tuple[str, int], list[float]] = {}
    start = time.perf_counter()
    for seed in range(args.nas_seeds):
        pretrained = proxy.Pretrained(plain, env, args.nas_pretrain, seed)
        for n in sizes:
            rng = np.random.default_rng(1000 + seed)
            idx = rng.choice(len(designs), n, replace=False)
            rest = np.setdiff1d(np.arange(len(designs)), idx)
            t = (truth[idx] - truth[idx].mean()) / (truth[idx].std() or 1.0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                fits = {
                    "mlp": proxy.fit_estimator("mlp", seed, x_plain[idx], t).predict(x_plain[rest]),
                    "mlp+pretraining": pretrained.fine_tune(x_plain[idx], t, seed).predict(x_plain[rest]),
                    "gbm": proxy.fit_estimator("gbm", seed, x_plain[idx], t).predict(x_plain[rest]),
                    "gbm+statistics": proxy.fit_estimator("gbm", seed, x_stats[idx], t).predict(
                        x_stats[rest]
                    ),
                }
            for name, pred in fits.items():
                taus.setdefault((name, n), []).append(float(kendalltau(truth[rest], pred).statistic))
    print(
        f"\n== NAS-Bench-201 table (digits), val_accuracy predictor: Kendall tau on the rest of the table, "
        f"mean ± sd over {args.nas_seeds} seeds; pretraining on {args.nas_pretrain} sampled cells' "
        f"statistics {list(env.statistic_names)} ({time.perf_counter() - start:.0f} s)"
    )
    names = ("mlp", "mlp+pretraining", "gbm", "gbm+statistics")
    print(f"{'cells':>6}" + "".join(f"{n:>20}" for n in names))
    for n in sizes:
        cells = [f"{np.mean(taus[(m, n)]):.3f} ± {np.std(taus[(m, n)]):.3f}" for m in names]
        print(f"{n:>6}" + "".join(f"{c:>20}" for c in cells))
    with_at_100 = float(np.mean(taus[("mlp+pretraining", 100)]))
    without_at_200 = max(float(np.mean(taus[(m, 200)])) for m in ("mlp", "gbm"))
    print(
        f"pretraining at 100 cells: tau {with_at_100:.3f}; without (best of mlp, gbm on the encoding) "
        f"at 200: "
        f"{without_at_200:.3f}"
    )
    if not with_at_100 >= without_at_200:
        return [
            f"NAS: pretraining at 100 cells (tau {with_at_100:.3f}) < without at 200 ({without_at_200:.3f})"
        ]
    return []


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
    parser.add_argument(
        "--n-extra",
        type=int,
        default=500,
        help="SystolicArray: designs of a second Sobol sequence (seed + 1), so that --n training "
        "designs remain after the 20 %% test split (default 500; 0: none)",
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
        "--envs", default="SystolicArray,SOR,NAS", help="comma-separated subset of SystolicArray,SOR,NAS"
    )
    parser.add_argument("--curve", action="store_true", help="also print and plot each env's learning curve")
    parser.add_argument(
        "--campaign-budget",
        type=int,
        default=20,
        help="budget of the proxy-to-truth campaign on the SystolicArray proxy (0: skip)",
    )
    parser.add_argument("--campaign-seeds", type=int, default=2, help="seeds of the proxy-to-truth campaign")
    parser.add_argument("--nas-seeds", type=int, default=10, help="seeds of the NAS pretraining study")
    parser.add_argument(
        "--nas-pretrain", type=int, default=4000, help="sampled cells the NAS predictor pretrains on"
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
        missed += bench_nas(args) if name == "NAS" else bench_env(name, ENVS[name], args)
    print("\nrequirements:", "all met" if not missed else "MISSED:\n  " + "\n  ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
