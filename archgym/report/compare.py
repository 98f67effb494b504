"""``archgym compare RUN_DIR…``: any set of runs side by side, without a campaign file.

Runs are grouped by a run property (``--by agent``, ``env``, ``seed``, …: a key of
``run.json``); for each group the median and inter-quartile range of the best reward so far
(single objective) over its runs, and a final-result table ranking the groups by their median
final result (1 = best; ties share the mean rank). Multi-objective runs are compared on the
hypervolume their summaries report. Files only: no env is built, no record is written.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from archgym.campaign import best_so_far
from archgym.records import RUN_META
from archgym.report.doc import Doc, cell, read_json
from archgym.report.run import read_rows

__all__ = ["compare", "format_table"]

GROUP_KEYS = ("agent", "env_id", "seed", "agent_params", "env_kwargs")


def _final(summary: dict[str, Any], rows: list[dict[str, Any]]) -> tuple[float, np.ndarray | None]:
    """(final result, best-so-far curve or None): best feasible reward, or the hypervolume."""
    if summary.get("hypervolume") is not None or "pareto_front" in summary:
        hv = summary.get("hypervolume")
        return (math.nan if hv is None else float(hv)), None
    rewards = np.array([math.nan if r.get("reward") is None else float(r["reward"]) for r in rows])
    curve = best_so_far(rewards, np.array([bool(r.get("feasible")) for r in rows], dtype=bool))
    final = float(np.nanmax(curve)) if np.isfinite(curve).any() else math.nan
    return final, curve


def _ranks(values: Sequence[float]) -> list[float]:
    """1 = highest; ties share the mean of their ranks; NaN (nothing feasible) ranks last."""
    keyed = [(-v if math.isfinite(v) else math.inf) for v in values]
    order = sorted(range(len(values)), key=lambda i: keyed[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and keyed[order[j + 1]] == keyed[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def compare(run_dirs: Sequence[str | Path], out: str | Path, *, by: str = "agent") -> dict[str, Any]:
    """Compare runs grouped ``by`` a ``run.json`` key; write ``report.html`` to ``out`` and return
    ``groups`` (name → finals, median, IQR, rank, curve median) and ``table`` (printed rows)."""
    if by not in GROUP_KEYS:
        raise ValueError(f"by: {by!r} is not legal; legal values: {', '.join(GROUP_KEYS)}")
    if not run_dirs:
        raise ValueError("compare needs at least one run directory")
    groups: dict[str, dict[str, Any]] = {}
    for run_dir in map(Path, run_dirs):
        meta = read_json(run_dir / RUN_META, missing_ok=True)
        if not meta:
            raise ValueError(f"{run_dir}: not a run directory ({RUN_META} missing)")
        value = meta.get(by)
        name = value if isinstance(value, str) else repr(value)
        summary = read_json(run_dir / "summary.json", missing_ok=True)
        final, curve = _final(summary, read_rows(run_dir))
        group = groups.setdefault(name, {"runs": [], "finals": [], "curves": []})
        group["runs"].append(str(run_dir))
        group["finals"].append(final)
        if curve is not None:
            group["curves"].append(curve)
    names = list(groups)
    medians = [statistics.median(groups[n]["finals"]) for n in names]
    for name, median, rank in zip(names, medians, _ranks(medians), strict=True):
        finals = sorted(groups[name]["finals"])
        q1, q3 = (float(np.percentile(finals, q)) for q in (25, 75))
        groups[name] |= {"median": median, "iqr": q3 - q1, "rank": rank}
    table = [
        [n, len(groups[n]["runs"]), groups[n]["median"], groups[n]["iqr"], groups[n]["rank"]]
        for n in sorted(names, key=lambda n: groups[n]["rank"])
    ]
    target = Path(out)
    (target / "figures").mkdir(parents=True, exist_ok=True)
    doc = Doc()
    doc.h("Final results")
    doc.table([by, "runs", "median final", "IQR", "rank"], table)
    doc.p("final: best feasible reward (single objective) or hypervolume (multi-objective); rank 1 is best.")
    _curves(doc, target / "figures", groups)
    (target / "report.md").write_text(doc.markdown(f"Comparison by {by}"))
    (target / "report.html").write_text(doc.html(f"Comparison by {by}"))
    return {"groups": groups, "table": table, "html": str(target / "report.html")}


def _curves(doc: Doc, figures: Path, groups: dict[str, dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, group in groups.items():
        if not group["curves"]:
            continue
        n = min(len(c) for c in group["curves"])
        data = np.array([c[:n] for c in group["curves"]])
        with np.errstate(all="ignore"):
            lo, med, hi = np.nanpercentile(data, [25, 50, 75], axis=0)
        group["curve_median"] = med.tolist()
        x = np.arange(1, n + 1)
        ax.plot(x, med, label=f"{name} (n={len(group['curves'])})")
        ax.fill_between(x, lo, hi, alpha=0.2)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best reward so far")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(figures / "best_so_far.png", dpi=100)
    plt.close(fig)
    doc.img("best_so_far.png", "Best reward so far: median over each group's runs, band = IQR")


def format_table(table: list[list[Any]], by: str) -> str:
    lines = [f"{by:<24} {'runs':>5} {'median final':>13} {'IQR':>10} {'rank':>5}"]
    lines += [f"{n!s:<24} {k:>5} {cell(m):>13} {cell(i):>10} {r:>5g}" for n, k, m, i, r in table]
    return "\n".join(lines)
