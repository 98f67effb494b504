"""``archgym show RUN_DIR``: what one run found and how it got there, from its files alone.

Prints the summary, the best designs, feasibility, regret against the env's known optimum (read
from ``summary.json``: no env is built) and time spent; writes a self-contained ``report.html``
with figures to ``--out`` (default ``RUN_DIR/show/``). It reads ``evaluations.parquet``, or the
journal of a killed run, and never writes into the run's records.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from archgym.campaign import best_so_far
from archgym.records import JOURNAL, PARAM, PARQUET, REWARD, RUN_META, read_journal
from archgym.report.doc import Doc, cell, read_json

__all__ = ["read_rows", "show"]

SHOW_DIR = "show"
ARCHIVE_HEATMAP = "archive.png"  # what a MAP-Elites run's finish() draws into its directory


def read_rows(run_dir: Path) -> list[dict[str, Any]]:
    """The run's records in step order: the Parquet, unless the journal went on after it (a killed
    or live run), then the journal's complete lines."""
    parquet, journal = run_dir / PARQUET, run_dir / JOURNAL
    if parquet.exists() and not (journal.exists() and journal.stat().st_mtime > parquet.stat().st_mtime):
        import pyarrow.parquet as pq

        rows = pq.read_table(parquet).to_pylist()
    elif journal.exists():
        rows = read_journal(run_dir)
    else:
        raise ValueError(f"{run_dir}: no records ({PARQUET} or {JOURNAL}); is it a run directory?")
    return sorted(rows, key=lambda r: r["step"])


def show(run_dir: str | Path, out: str | Path | None = None, *, top: int = 5) -> dict[str, Any]:
    """Write ``report.html`` (and ``report.md``) for the run in ``run_dir`` and return what they
    show: ``text`` (the printed summary), ``best_so_far`` (per evaluation, step order),
    ``regret`` (known optimum minus best reward; None where the env declares no optimum),
    ``top`` (the best feasible rows), ``html`` (the report's path)."""
    run_dir = Path(run_dir)
    if not (run_dir / RUN_META).exists():
        raise ValueError(f"{run_dir}: not a run directory ({RUN_META} missing)")
    if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= 1000:
        raise ValueError(f"top: {top!r} is not legal; legal values: integers 1 to 1000")
    meta = read_json(run_dir / RUN_META, missing_ok=True)
    summary = read_json(run_dir / "summary.json", missing_ok=True)
    rows = read_rows(run_dir)
    objectives = (meta.get("layout") or {}).get("objectives")
    target = Path(out) if out is not None else run_dir / SHOW_DIR
    figures = target / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    feasible = np.array([bool(r.get("feasible")) for r in rows], dtype=bool)
    view: dict[str, Any] = {"n_evaluations": len(rows), "n_feasible": int(feasible.sum())}
    doc = Doc()
    if objectives is None:
        rewards = np.array([np.nan if r.get("reward") is None else float(r["reward"]) for r in rows])
        curve = best_so_far(rewards, feasible)
        best = float(np.nanmax(curve)) if np.isfinite(curve).any() else None
        optimum = summary.get("optimal_reward")
        view |= {"best_so_far": curve.tolist(), "best_reward": best}
        view["regret"] = None if optimum is None or best is None else float(optimum) - best
        if "best_at_full_fidelity" in summary:  # a fidelity env: the best confirmed at full fidelity
            full = (summary["best_at_full_fidelity"] or {}).get("reward")
            view["best_at_full_fidelity"] = full
            view["regret_at_full_fidelity"] = (
                None if optimum is None or full is None else float(optimum) - float(full)
            )
        order = [i for i in np.argsort(-np.nan_to_num(rewards, nan=-np.inf)) if feasible[i]]
    else:
        view |= {"hypervolume": summary.get("hypervolume"), "front": summary.get("pareto_front")}
        known = summary.get("reference_front_hypervolume")
        hv = summary.get("hypervolume")
        view["regret"] = None if known is None or hv is None else float(known) - float(hv)
        order = []
    view["top"] = [rows[i] for i in order[:top]]
    view["text"] = _text(run_dir, meta, summary, view, objectives)
    doc.p(view["text"].replace("\n", " · "))
    _figures(doc, run_dir, figures, rows, view, objectives)
    _top_table(doc, view["top"])
    title = f"{meta.get('env_id', '?')} · {meta.get('agent', '?')} · seed {meta.get('seed', '?')}"
    (target / "report.md").write_text(doc.markdown(title))
    (target / "report.html").write_text(doc.html(title))
    view["html"] = str(target / "report.html")
    return view


def _text(run_dir: Path, meta: dict[str, Any], summary: dict[str, Any], view: dict[str, Any], mo: Any) -> str:
    n, ok = view["n_evaluations"], view["n_feasible"]
    budget = (meta.get("config") or {}).get("budget")
    state = "complete" if summary.get("complete") else "incomplete (killed or stopped; --resume continues it)"
    lines = [
        f"run {run_dir}: {meta.get('env_id')} · agent {meta.get('agent')} · seed {meta.get('seed')}",
        f"evaluations: {n}{'' if budget is None else f' of {budget}'}, {state}",
        f"feasible: {ok} ({100.0 * ok / n:.0f} %)" if n else "feasible: 0",
    ]
    if mo is None:
        best = view["best_reward"]
        lines.append(f"best reward: {cell(best) if best is not None else 'none feasible'}")
        optimum = summary.get("optimal_reward")
        if view["regret"] is not None:
            lines.append(f"regret: {view['regret']:.6g} (known optimum {optimum:.6g})")
        else:
            lines.append("regret: unknown (the env declares no optimum, or the run has no summary)")
        if "best_at_full_fidelity" in view:  # lower fidelities' values may be biased (or a proxy's)
            full = view["best_at_full_fidelity"]
            text = "none evaluated at full fidelity" if full is None else cell(full)
            if view["regret_at_full_fidelity"] is not None:
                text += f"; its regret {view['regret_at_full_fidelity']:.6g}"
            lines.append(f"best at full fidelity: {text}")
    else:
        hv = view["hypervolume"]
        lines.append(f"hypervolume: {cell(hv) if hv is not None else 'unknown (no summary)'}")
        if view["regret"] is not None:
            lines.append(f"hypervolume gap to the true front: {view['regret']:.6g}")
    wall = summary.get("wall_time_s")
    clock = summary.get("clock_s")
    if wall is not None:
        lines.append(f"wall time: {wall:.1f} s" + ("" if clock is None else f"; run clock: {clock:.1f} s"))
    return "\n".join(lines)


def _figures(
    doc: Doc, run_dir: Path, figures: Path, rows: list[dict[str, Any]], view: dict[str, Any], mo: Any
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if mo is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
        curve = np.array(view["best_so_far"])
        axes[0].plot(np.arange(1, len(curve) + 1), curve)
        axes[0].set_xlabel("evaluations")
        axes[0].set_ylabel("best reward so far")
        finish = [r.get("finish_s") for r in rows]
        if rows and all(f is not None for f in finish):
            order = np.argsort(finish, kind="stable")
            rewards = np.array(
                [np.nan if rows[i].get("reward") is None else rows[i]["reward"] for i in order]
            )
            ok = np.array([bool(rows[i].get("feasible")) for i in order])
            axes[1].plot(np.array(finish)[order], best_so_far(rewards.astype(float), ok))
            axes[1].set_xlabel("seconds on the run's clock")
        else:
            axes[1].text(0.5, 0.5, "no start/finish times in these records", ha="center", va="center")
        axes[1].set_ylabel("best reward so far")
        fig.tight_layout()
        fig.savefig(figures / "best_so_far.png", dpi=100)
        plt.close(fig)
        doc.img("best_so_far.png", "Best feasible reward so far, against evaluations and against time")
    else:
        front = view.get("front") or []
        fig, ax = plt.subplots(figsize=(5, 4))
        columns = [c for c in (rows[0] if rows else {}) if c.startswith(REWARD)]
        if len(columns) >= 2:
            ok = [r for r in rows if r.get("feasible") and all(r.get(c) is not None for c in columns[:2])]
            ax.scatter(
                [r[columns[0]] for r in ok], [r[columns[1]] for r in ok], s=8, alpha=0.4, label="feasible"
            )
            pts = np.array([p["reward"][:2] for p in front if isinstance(p, dict) and "reward" in p])
            if len(pts):
                ax.scatter(pts[:, 0], pts[:, 1], s=18, color="C3", label="Pareto front")
            ax.set_xlabel(columns[0])
            ax.set_ylabel(columns[1])
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(figures / "pareto_front.png", dpi=100)
        plt.close(fig)
        doc.img(
            "pareto_front.png",
            f"Feasible rewards and the Pareto front (hypervolume {cell(view['hypervolume'])})",
        )
    _scatter(plt, figures, rows, mo)
    doc.img("parameters.png", "Each parameter against the reward (feasible evaluations)")
    archive = run_dir / ARCHIVE_HEATMAP
    if archive.is_file():  # a MAP-Elites run drew its archive, axes in the env's units
        shutil.copyfile(archive, figures / ARCHIVE_HEATMAP)
        doc.img(ARCHIVE_HEATMAP, "The MAP-Elites archive: each cell's elite reward over the measures")


def _scatter(plt: Any, figures: Path, rows: list[dict[str, Any]], mo: Any) -> None:
    params = [c for c in (rows[0] if rows else {}) if c.startswith(PARAM)]
    reward = (
        "reward" if mo is None else next((c for c in (rows[0] if rows else {}) if c.startswith(REWARD)), None)
    )
    n = max(len(params), 1)
    fig, axes = plt.subplots(1, n, figsize=(3 * n, 2.8), squeeze=False)
    for ax, column in zip(axes[0], params, strict=False):
        ok = [
            r for r in rows if r.get("feasible") and r.get(column) is not None and r.get(reward) is not None
        ]
        values = [r[column] for r in ok]
        if values and not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            labels = sorted({str(v) for v in values})
            values = [labels.index(str(v)) for v in values]
            ax.set_xticks(range(len(labels)), labels, rotation=45, fontsize=6)
        ax.scatter(values, [r[reward] for r in ok], s=8, alpha=0.5)
        ax.set_xlabel(column[len(PARAM) :])
    axes[0][0].set_ylabel(reward or "reward")
    fig.tight_layout()
    fig.savefig(figures / "parameters.png", dpi=100)
    plt.close(fig)


def _top_table(doc: Doc, top: list[dict[str, Any]]) -> None:
    if not top:
        doc.p("No feasible evaluation.")
        return
    params = [c for c in top[0] if c.startswith(PARAM)]
    doc.h("Best designs")
    doc.table(
        ["step", "reward", *[p[len(PARAM) :] for p in params]],
        [[r["step"], r.get("reward"), *[r.get(p) for p in params]] for r in top],
    )
