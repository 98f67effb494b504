"""``archgym report DIR``: the figures and tables researchers publish, from a campaign's files.

Everything is computed from ``runs.parquet`` / ``evaluations.parquet`` (and, for MAP-Elites, the
archive images the runs wrote), so a report can be redone — or another analysis written — from
the files alone. Comparisons between agents use the *test* stage (each agent's setting chosen on
the tuning seeds, evaluated on unseen seeds); the hyperparameter-lottery view uses the *tuning*
stage, where every setting ran on every tuning seed. See docs/campaigns.md for how to read each
figure.
"""

from __future__ import annotations

import math
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from archgym.campaign import (
    EVALUATIONS_TABLE,
    RUNS_TABLE,
    VALIDATION_TABLE,
    agreement,
    best_so_far,
    check_name,
    check_relative_path,
)
from archgym.records import REWARD
from archgym.report.doc import Doc, read_json

__all__ = ["FIGURES", "write_report"]

FIGURES = (
    "best_so_far.png",
    "best_over_time.png",
    "hypervolume.png",
    "rank_over_budget.png",
    "critical_difference.png",
    "regret_ecdf.png",
    "lottery.png",
)
"""Figures every report has (MAP-Elites archives, ``archive_<env>.png``, come on top where that
agent ran). A figure whose data the campaign lacks says so on its canvas."""
CHECKPOINTS = 25
KNOWN_OPTIMUM = {False: "optimal_reward", True: "reference_front_hypervolume"}
"""The ``runs.parquet`` column holding an env's known optimum, by whether it is multi-objective."""


def _count(value: Any) -> float:
    """An evaluations-to-target entry: inf where the run never reached the target."""
    return np.inf if value is None or not math.isfinite(float(value)) else float(value)


# --- data ----------------------------------------------------------------------------------------
def _load(directory: Path) -> tuple[Any, Any]:
    import pandas as pd

    for name in (RUNS_TABLE, EVALUATIONS_TABLE):
        if not (directory / name).is_file():
            raise FileNotFoundError(
                f"{directory / name} missing: run `archgym bench CAMPAIGN --out "
                f"{directory}` "
                "first (it writes the tables when the campaign finishes)"
            )
    runs = pd.read_parquet(directory / RUNS_TABLE)
    missing = sorted(set(KNOWN_OPTIMUM.values()) - set(runs.columns))
    if missing:
        raise ValueError(
            f"{directory / RUNS_TABLE} lacks column(s) {missing}: it was written by an archgym "
            "older than 0.2, before runs recorded their env's known optimum; rerun the "
            f"campaign into a new directory (`archgym bench CAMPAIGN --out NEW_DIR`)"
        )
    _check_paths(directory / RUNS_TABLE, runs)
    return runs, pd.read_parquet(directory / EVALUATIONS_TABLE)


def _check_paths(source: Path, runs: Any) -> None:
    """The runs.parquet fields the report joins to paths (``run_key`` → ``runs/KEY/summary.json``,
    ``run_dir`` → its archive image, ``env_label`` → a figure's file name) must stay inside the
    campaign directory: anything else is refused, naming the row."""
    columns = ["run_key", "run_dir", "env_label"]
    missing = [c for c in columns if c not in runs.columns]
    if missing:
        raise ValueError(f"{source} lacks column(s) {missing}: not a campaign's runs table")
    for i, row in enumerate(runs[columns].itertuples(index=False)):
        check_relative_path(row.run_key, f"{source}: row {i} run_key")
        check_relative_path(row.run_dir, f"{source}: row {i} run_dir")
        check_name(row.env_label, f"{source}: row {i} env_label")


def _compared(runs: Any) -> Any:
    """The runs agents are compared on: the test stage, or the defaults on the tuning seeds when
    the campaign has no test seeds."""
    test = runs[runs.stage == "test"]
    return test if len(test) else runs[(runs.stage == "tuning") & (runs.setting == 0)]


def _run_curves(directory: Path, runs: Any, evaluations: Any) -> dict[str, np.ndarray]:
    """Per run key: best-so-far reward (single objective) or hypervolume after each of
    CHECKPOINTS evaluation counts (multi-objective), on a common grid of 1..budget."""
    import moocore

    curves: dict[str, np.ndarray] = {}
    for key, group in evaluations[evaluations.run_key.isin(runs.run_key)].groupby("run_key"):
        group = group.sort_values("step")
        feasible = group.feasible.to_numpy(bool)
        if "reward" in group and group.reward.notna().any():
            curves[key] = best_so_far(group.reward.to_numpy(float), feasible)
            continue
        cols = [c for c in group.columns if c.startswith(REWARD) and group[c].notna().any()]
        summary = read_json(directory / "runs" / key / "summary.json")
        ref = summary.get("reference_point")
        points = group[cols].to_numpy(float)
        steps = _checkpoints(len(group))
        values = []
        for k in steps:
            p = points[:k][feasible[:k] & np.all(np.isfinite(points[:k]), axis=1)]
            p = p[np.all(p > np.asarray(ref), axis=1)] if ref is not None else p[:0]
            values.append(float(moocore.hypervolume(p, ref=ref, maximise=True)) if len(p) else 0.0)
        full = np.full(len(group), np.nan)
        full[np.asarray(steps) - 1] = values
        curves[key] = _fill_forward(full)
    return curves


def _checkpoints(n: int) -> list[int]:
    return sorted({max(1, round(x)) for x in np.linspace(1, n, min(n, CHECKPOINTS))})


def _fill_forward(values: np.ndarray) -> np.ndarray:
    out = values.copy()
    for i in range(1, len(out)):
        if np.isnan(out[i]):
            out[i] = out[i - 1]
    return out


def _envs(runs: Any) -> list[str]:
    return list(dict.fromkeys(runs.env_label))


def _is_mo(runs: Any, env: str) -> bool:
    rows = runs[runs.env_label == env]
    return bool(rows.hypervolume.notna().any())


def _references(runs: Any) -> dict[str, tuple[float, float]]:
    """Per env: (best, worst) final result used to normalise regret — the known optimum where the
    env declares one (its ``optimal_reward``, or the hypervolume of its true front for MO envs, as
    each run's summary recorded it), else the best any run reached; the worst any run of the
    campaign finished with. Read from ``runs.parquet`` alone: no env is built."""
    refs = {}
    for env in _envs(runs):
        rows = runs[runs.env_label == env]
        finals = rows.final.to_numpy(float)
        finals = finals[np.isfinite(finals)]
        best, worst = (float(finals.max()), float(finals.min())) if len(finals) else (math.nan, math.nan)
        known = rows[KNOWN_OPTIMUM[_is_mo(runs, env)]].to_numpy(float)
        known = known[np.isfinite(known)]
        if len(known):
            best = max(best, float(known.max()))
        refs[env] = (best, worst)
    return refs


def _regret(runs: Any, refs: dict[str, tuple[float, float]]) -> Any:
    def one(row: Any) -> float:
        if not math.isfinite(row.final):  # no feasible evaluation (or no reference point): worst
            return 1.0
        best, worst = refs[row.env_label]
        span = best - worst
        return 0.0 if span <= 0 else float(np.clip((best - row.final) / span, 0.0, 1.0))

    return runs.apply(one, axis=1)


# --- figures -------------------------------------------------------------------------------------
def _agent_colors(agents: Sequence[str]) -> dict[str, Any]:
    """One colour per agent, distinct for up to 20 agents (tab10, then tab20's lighter shades): a
    peers campaign compares a dozen or more, and tab10 alone repeats after ten."""
    import matplotlib.pyplot as plt

    names = sorted(agents)
    if len(names) <= 10:
        cmap = plt.get_cmap("tab10")
        return {a: cmap(i) for i, a in enumerate(names)}
    light = plt.get_cmap("tab20")  # its odd entries are tab10's colours, lightened
    palette = [plt.get_cmap("tab10")(i) for i in range(10)] + [light(2 * i + 1) for i in range(10)]
    return {a: palette[i % len(palette)] for i, a in enumerate(names)}


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, transform=ax.transAxes)
    ax.set_axis_off()


def _curve_figure(
    path: Path,
    compared: Any,
    curves: dict[str, np.ndarray],
    envs: list[str],
    ylabel: str,
    colors: dict[str, Any],
    empty_text: str,
) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, max(len(envs), 1), figsize=(4.5 * max(len(envs), 1), 3.6), squeeze=False)
    if not envs:
        _empty(axes[0][0], empty_text)
    for ax, env in zip(axes[0], envs, strict=False):
        for agent, rows in compared[compared.env_label == env].groupby("agent"):
            stack = [curves[k] for k in rows.run_key if k in curves]
            if not stack:
                continue
            n = min(len(c) for c in stack)
            data = np.array([c[:n] for c in stack])
            x = np.arange(1, n + 1)
            with warnings.catch_warnings(action="ignore", category=RuntimeWarning):  # all-NaN columns
                lo, med, hi = np.nanpercentile(data, [25, 50, 75], axis=0)
            ax.plot(x, med, color=colors[agent], label=f"{agent} (n={len(stack)})")
            ax.fill_between(x, lo, hi, color=colors[agent], alpha=0.2)
        ax.set_title(env)
        ax.set_xlabel("evaluations")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _time_curves(runs: Any, evaluations: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per run key (single objective, records with ``finish_s``): finish times in completion
    order and the best feasible reward so far at each — progress against the run's clock (real,
    or simulated), which is what an asynchronous run is compared on."""
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if "finish_s" not in evaluations or "reward" not in evaluations:
        return curves
    for key, group in evaluations[evaluations.run_key.isin(runs.run_key)].groupby("run_key"):
        if group.finish_s.isna().any() or not group.reward.notna().any():
            continue
        group = group.sort_values(["finish_s", "step"])
        best = best_so_far(group.reward.to_numpy(float), group.feasible.to_numpy(bool))
        curves[key] = (group.finish_s.to_numpy(float), best)
    return curves


def _time_figure(
    path: Path, compared: Any, curves: dict[str, tuple[np.ndarray, np.ndarray]], colors: dict[str, Any]
) -> None:
    """Best reward so far against the run's clock: median over seeds on a common time grid."""
    import matplotlib.pyplot as plt

    envs = [e for e in _envs(compared) if any(k in curves for k in compared[compared.env_label == e].run_key)]
    fig, axes = plt.subplots(1, max(len(envs), 1), figsize=(4.5 * max(len(envs), 1), 3.6), squeeze=False)
    if not envs:
        _empty(axes[0][0], "no single-objective run with start/finish times in this campaign")
    for ax, env in zip(axes[0], envs, strict=False):
        rows = compared[compared.env_label == env]
        horizon = max(curves[k][0][-1] for k in rows.run_key if k in curves)
        grid = np.linspace(0.0, horizon, 200)
        for agent, mine in rows.groupby("agent"):
            stack = []
            for key in (k for k in mine.run_key if k in curves):
                times, best = curves[key]
                at = np.searchsorted(times, grid, side="right") - 1
                stack.append(np.where(at >= 0, best[np.maximum(at, 0)], np.nan))
            if not stack:
                continue
            with warnings.catch_warnings(action="ignore", category=RuntimeWarning):  # all-NaN columns
                lo, med, hi = np.nanpercentile(np.array(stack), [25, 50, 75], axis=0)
            ax.plot(grid, med, color=colors[agent], label=f"{agent} (n={len(stack)})")
            ax.fill_between(grid, lo, hi, color=colors[agent], alpha=0.2)
        ax.set_title(env)
        ax.set_xlabel("seconds on the run's clock (real or simulated)")
        ax.set_ylabel("best reward so far")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _rank_over_budget(
    path: Path, compared: Any, curves: dict[str, np.ndarray], colors: dict[str, Any]
) -> None:
    """Mean normalised rank (0 best, 1 worst) among the agents of each (env, seed) block."""
    import matplotlib.pyplot as plt
    from scipy.stats import rankdata

    budget = int(compared.budget.max())
    grid = np.arange(1, budget + 1)
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    for _, block in compared.groupby(["env_label", "seed"]):
        keys = [k for k in block.run_key if k in curves]
        if len(keys) < 2:
            continue
        agents = block.set_index("run_key").loc[keys, "agent"].tolist()
        values = np.array([_pad(curves[k], budget) for k in keys])
        values = np.nan_to_num(values, nan=-np.inf)
        for step in range(budget):
            norm = (rankdata(-values[:, step], method="average") - 1) / (len(keys) - 1)  # ties share
            for agent, r in zip(agents, norm, strict=True):
                sums.setdefault(agent, np.zeros(budget))[step] += r
                counts.setdefault(agent, np.zeros(budget))[step] += 1
    fig, ax = plt.subplots(figsize=(6.5, 4))
    if not sums:
        _empty(ax, "needs at least two agents on the same env and seed")
    for agent in sorted(sums):
        ax.plot(grid, sums[agent] / np.maximum(counts[agent], 1), color=colors[agent], label=agent)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("mean normalised rank (0 = best)")
    ax.set_ylim(-0.05, 1.05)
    if sums:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _pad(curve: np.ndarray, n: int) -> np.ndarray:
    return np.concatenate([curve, np.full(max(0, n - len(curve)), curve[-1] if len(curve) else np.nan)])[:n]


def _critical_difference(path: Path, compared: Any, colors: dict[str, Any], doc: Doc) -> None:
    """Friedman test over (env, seed) blocks, Nemenyi post-hoc, critical-difference diagram —
    on the largest set of agents that ran on the same envs (blocks must be complete)."""
    import matplotlib.pyplot as plt
    import scikit_posthocs as sp
    from scipy.stats import friedmanchisquare

    table = compared.pivot_table(
        index=["env_label", "seed"], columns="agent", values="final", aggfunc="first"
    )
    best_agents, best_rows = [], table.iloc[:0]
    for env in dict.fromkeys(table.index.get_level_values(0)):
        agents = [a for a in table.columns if table.loc[env][a].notna().all()]
        rows = table[agents].dropna()
        if len(agents) >= 3 and len(agents) * len(rows) > len(best_agents) * len(best_rows):
            best_agents, best_rows = agents, rows
    fig, ax = plt.subplots(figsize=(7, 2.8))
    if len(best_agents) < 3 or len(best_rows) < 2:
        _empty(ax, "a critical-difference diagram needs >= 3 agents sharing >= 2 (env, seed) blocks")
        doc.p("Critical difference: not enough complete blocks (needs >= 3 agents on the same envs).")
    else:
        ranks = best_rows.rank(axis=1, ascending=False).mean()
        stat = friedmanchisquare(*[best_rows[a] for a in best_agents])
        pvalues = sp.posthoc_nemenyi_friedman(best_rows.reset_index(drop=True))
        from matplotlib.colors import to_hex

        sp.critical_difference_diagram(
            ranks, pvalues, ax=ax, color_palette={a: to_hex(colors[a]) for a in best_agents}
        )
        envs = sorted(set(best_rows.index.get_level_values(0)))
        ax.set_title(
            f"mean rank (1 = best) over {len(best_rows)} blocks; Friedman p = {stat.pvalue:.3g}", fontsize=9
        )
        doc.p(
            f"Critical difference over envs {envs} ({len(best_rows)} (env, seed) blocks, agents "
            f"{best_agents}): Friedman chi2 = {stat.statistic:.3g}, p = {stat.pvalue:.3g}; agents "
            "joined by a bar are not significantly different (Nemenyi, alpha = 0.05)."
        )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _regret_ecdf(path: Path, compared: Any, colors: dict[str, Any]) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for agent, rows in compared.groupby("agent"):
        ax.ecdf(
            rows.regret.to_numpy(float),
            color=colors[agent],
            label=f"{agent} ({rows.env_label.nunique()} envs, {len(rows)} runs)",
        )
    ax.set_xlabel("normalised regret (0 = best known, 1 = worst run of the campaign)")
    ax.set_ylabel("fraction of runs")
    ax.set_xlim(-0.02, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _lottery(path: Path, runs: Any, colors: dict[str, Any], doc: Doc) -> None:
    """Per env and agent: seed-median results of each hyperparameter setting (spread across
    settings) beside the default setting's per-seed results (spread across seeds); then whether
    the agents' ranking survives swapping defaults for tuned or worst settings."""
    import matplotlib.pyplot as plt
    from scipy.stats import kendalltau

    tuning = runs[runs.stage == "tuning"]
    envs = _envs(tuning)
    fig, axes = plt.subplots(1, max(len(envs), 1), figsize=(4.5 * max(len(envs), 1), 3.8), squeeze=False)
    spread_rows, survive_rows = [], []
    for ax, env in zip(axes[0], envs, strict=False):
        rows = tuning[tuning.env_label == env]
        agents = sorted(rows.agent.unique())
        per_setting = rows.groupby(["agent", "setting"]).final.median()
        for i, agent in enumerate(agents):
            settings = per_setting.loc[agent].to_numpy(float)
            seeds = rows[(rows.agent == agent) & (rows.setting == 0)].final.to_numpy(float)
            ax.scatter(np.full(len(settings), i - 0.15), settings, color=colors[agent], marker="o", s=22)
            ax.scatter(np.full(len(seeds), i + 0.15), seeds, color=colors[agent], marker="x", s=22)
            spread_rows.append(
                [env, agent, len(settings), float(np.ptp(settings)), len(seeds), float(np.ptp(seeds))]
            )
        ax.set_xticks(range(len(agents)), agents, rotation=30, fontsize=8)
        ax.set_title(f"{env}: o settings (seed median), x seeds (defaults)", fontsize=8)
        ax.set_ylabel("final result")
        ranking = {}
        for label, pick in (
            ("default", lambda s: s.iloc[0]),
            ("tuned", lambda s: s.max()),
            ("worst", lambda s: s.min()),
        ):
            ranking[label] = per_setting.groupby(level=0).agg(pick).reindex(agents)
        tau_t = kendalltau(ranking["default"], ranking["tuned"]).statistic if len(agents) > 1 else math.nan
        tau_w = kendalltau(ranking["tuned"], ranking["worst"]).statistic if len(agents) > 1 else math.nan
        best = [r.idxmax() if r.notna().any() else "–" for r in ranking.values()]
        survive_rows.append([env, *best, float(tau_t), float(tau_w)])
    if not envs:
        _empty(axes[0][0], "no tuning runs")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    doc.table(
        ["env", "agent", "settings", "range across settings", "seeds", "range across seeds (defaults)"],
        spread_rows,
    )
    doc.p(
        "Does the ranking survive? Best agent by median over the tuning seeds when every agent uses "
        "its defaults, its best setting, or its worst setting; Kendall tau between the agent rankings "
        "(1: unchanged)."
    )
    doc.table(
        [
            "env",
            "best (defaults)",
            "best (tuned)",
            "best (worst settings)",
            "tau defaults vs tuned",
            "tau tuned vs worst",
        ],
        survive_rows,
    )


def _archives(figures: Path, directory: Path, compared: Any, doc: Doc) -> None:
    rows = compared[(compared.agent == "mapelites") & compared.qd_score.notna()]
    for env, group in rows.groupby("env_label"):
        group = group.sort_values("qd_score")
        median = group.iloc[len(group) // 2]
        source = directory / median.run_dir / "archive.png"
        if source.is_file():
            name = f"archive_{env}.png"
            shutil.copyfile(source, figures / name)
            doc.img(
                name,
                f"MAP-Elites archive on {env}, the run with the median QD score "
                f"({median.qd_score:.4g}, seed {median.seed}) of {len(group)}",
            )


# --- the report ----------------------------------------------------------------------------------
def _proxy_to_truth(figures: Path, directory: Path, colors: dict[str, Any], doc: Doc) -> None:
    """Each validated run's proxy value against its real one (one figure per env), the regret
    gap, and Kendall's τ between the agents' rankings on the proxy and on the truth."""
    import matplotlib.pyplot as plt
    import pyarrow.parquet as pq

    rows = pq.read_table(directory / VALIDATION_TABLE).to_pylist()
    doc.h("Proxy to truth")
    doc.p(
        "Each run's best design, found on the proxy, re-evaluated on the real backend "
        "(validate_on). gap: proxy value - real value; regret gap: the run's regret on the truth "
        "minus its regret on the proxy (each against the best of these runs there; > 0: the proxy "
        "flattered it). tau: Kendall's tau between the agents' median-value rankings on the proxy "
        "and on the truth (1: the proxy ranks the agents as the truth does)."
    )
    for env in sorted({r["env_label"] for r in rows}):
        mine = [r for r in rows if r["env_label"] == env]
        check = agreement(mine)
        backends = sorted({f"{r['backend']} -> {r['validated_on']}" for r in mine})
        doc.p(
            f"{env} ({', '.join(backends)}): agents' ranking tau {check['agent_rank_tau']:.3f}; "
            f"runs' ranking tau {check['run_rank_tau']:.3f}"
        )
        doc.table(
            ["run", "agent", "proxy value", "real value", "gap", "regret gap"],
            [
                [r["run_key"], r["agent"], r["proxy_reward"], r["real_reward"], r["gap"], r["regret_gap"]]
                for r in check["runs"]
            ],
        )
        name = f"proxy_vs_real_{env}.png"
        fig, ax = plt.subplots(figsize=(4.5, 4))
        for agent in sorted({r["agent"] for r in check["runs"]}):
            points = [(r["proxy_reward"], r["real_reward"]) for r in check["runs"] if r["agent"] == agent]
            ax.plot(*zip(*points, strict=True), "o", color=colors.get(agent), label=agent)
        values = [v for r in check["runs"] for v in (r["proxy_reward"], r["real_reward"]) if math.isfinite(v)]
        if values:
            ax.plot(
                [min(values), max(values)], [min(values), max(values)], "k--", lw=0.8, label="proxy = real"
            )
        ax.set_xlabel("proxy value (best reward on the proxy)")
        ax.set_ylabel("real value (same design)")
        ax.set_title(f"{env}: tau(agents) = {check['agent_rank_tau']:.2f}")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(figures / name, dpi=100)
        plt.close(fig)
        doc.img(name, f"{env}: each run's best design, its proxy value against its real value")


def write_report(directory: str | Path) -> Path:
    """Write ``DIR/report/report.md`` and ``report.html`` with PNG figures; return the .md path."""
    import matplotlib

    matplotlib.use("Agg")
    directory = Path(directory)
    runs, evaluations = _load(directory)
    out = directory / "report"
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    refs = _references(runs)
    runs = runs.assign(regret=_regret(runs, refs))
    compared = _compared(runs)
    curves = _run_curves(directory, compared, evaluations)
    colors = _agent_colors(runs.agent.unique())
    envs = _envs(compared)
    so_envs = [e for e in envs if not _is_mo(compared, e)]
    mo_envs = [e for e in envs if _is_mo(compared, e)]
    meta = read_json(directory / "campaign.json") if (directory / "campaign.json").is_file() else {}
    name = str(meta.get("name", directory.name))

    doc = Doc()
    stage = (
        "test seeds (settings chosen on the tuning seeds)"
        if (runs.stage == "test").any()
        else "tuning seeds, default settings"
    )
    doc.p(
        f"{len(runs)} runs ({(runs.stage == 'tuning').sum()} tuning, {(runs.stage == 'test').sum()} test) "
        f"of {runs.agent.nunique()} agents on {runs.env_label.nunique()} envs, budget "
        f"{int(runs.budget.max())} evaluations. Comparisons use the {stage}."
    )
    doc.h("Final performance")
    table = []
    for (env, agent), rows in compared.groupby(["env_label", "agent"], sort=False):
        finals = rows.final.to_numpy(float)
        finals = finals[np.isfinite(finals)]
        q1, med, q3 = np.percentile(finals, [25, 50, 75]) if len(finals) else (math.nan,) * 3
        hits = [
            np.median([_count(r[i]) for r in rows.evaluations_to_target])
            for i in range(len(rows.iloc[0].targets))
        ]
        table.append(
            [
                env,
                agent,
                f"s{int(rows.setting.iloc[0])} {rows.agent_params.iloc[0]}",
                med,
                q3 - q1,
                ", ".join(f">={t:g}: {h:g}" for t, h in zip(rows.iloc[0].targets, hits, strict=True)) or "–",
                float(rows.wall_time_s.median()),
                len(rows),
            ]
        )
    doc.table(
        [
            "env",
            "agent",
            "setting",
            "median final",
            "IQR",
            "median evaluations to target",
            "median wall s",
            "runs",
        ],
        table,
    )
    doc.p(
        "final: best reward (single objective) or hypervolume (multi-objective); higher is better. "
        "Evaluations to target: inf where the median run never reached it."
    )
    doc.h("Best so far")
    _curve_figure(
        figures / "best_so_far.png",
        compared,
        curves,
        so_envs,
        "best reward so far",
        colors,
        "no single-objective env in this campaign",
    )
    doc.img("best_so_far.png", "Best reward so far: median over seeds, band = interquartile range")
    _time_figure(figures / "best_over_time.png", compared, _time_curves(compared, evaluations), colors)
    doc.img(
        "best_over_time.png",
        "Best reward so far against time on each run's clock (wall-clock, or simulated with "
        "--simulate-time; summary.json's clock says which): median over seeds, band = IQR",
    )
    _curve_figure(
        figures / "hypervolume.png",
        compared,
        curves,
        mo_envs,
        "hypervolume",
        colors,
        "no multi-objective env in this campaign",
    )
    doc.img("hypervolume.png", "Hypervolume of the evaluated points: median over seeds, band = IQR")
    doc.h("Rank over budget")
    _rank_over_budget(figures / "rank_over_budget.png", compared, curves, colors)
    doc.img(
        "rank_over_budget.png", "Mean normalised rank among the agents of each (env, seed), by evaluations"
    )
    doc.h("Critical difference")
    _critical_difference(figures / "critical_difference.png", compared, colors, doc)
    doc.img("critical_difference.png", "Critical-difference diagram (Friedman + Nemenyi)")
    doc.h("Normalised regret across envs")
    _regret_ecdf(figures / "regret_ecdf.png", compared, colors)
    doc.img("regret_ecdf.png", "ECDF of normalised regret; higher and further left is better")
    doc.p(
        "Normalisation per env: "
        + "; ".join(f"{e}: best {b:.4g}, worst {w:.4g}" for e, (b, w) in refs.items())
    )
    doc.h("Hyperparameter lottery")
    _lottery(figures / "lottery.png", runs, colors, doc)
    doc.img(
        "lottery.png", "Spread across each agent's hyperparameter settings (o) beside spread across seeds (x)"
    )
    if (directory / VALIDATION_TABLE).is_file():
        _proxy_to_truth(figures, directory, colors, doc)
    if (compared.agent == "mapelites").any():
        doc.h("MAP-Elites archives")
        _archives(figures, directory, compared, doc)
    title = f"archgym campaign report: {name}"
    (out / "report.md").write_text(doc.markdown(title))
    (out / "report.html").write_text(doc.html(title))
    return out / "report.md"
