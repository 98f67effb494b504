"""Resume cost against the cost of reading the journal it resumes from (issue #20).

For each size N (default 10k, 20k, 40k rows) a run of N evaluations is recorded once (a null
env, an agent proposing one design per ask: the case where resume used to be quadratic) and
then put back in the state a kill leaves — journal complete, no Parquet, no summary. It prints:

- ``read``: reading the journal's N lines with ``json.loads`` (the floor: resume must read them);
- ``resume``: ``archgym.loop.resume`` of that run: checking the journal, replaying N
  evaluations to the agent, consolidating the Parquet and writing the summary;
- the ratio resume/read (goal: < 3× at 40k rows), and how it grows from 10k to 40k (O(N): ~4×).

Each figure is the best of ``--repeats`` timings. The runs are kept in ``--out`` (default: a
directory under the system temporary directory) and reused by the next call.

    python benchmarks/resume.py [--rows 10000 20000 40000] [--repeats 3] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from archgym.loop import SUMMARY, resume, run
from archgym.records import JOURNAL, PARQUET
from archgym.search import Problem
from archgym.testing import ConstantAgent

NULL_ENV = "archgym.testing:archgym-testing/Null-v0"


def one_per_ask(problem: Problem, *, seed: int) -> ConstantAgent:
    """One design per ask: a resume replays N batches, the worst case for per-batch costs."""
    return ConstantAgent(problem, seed=seed, batch_size=1)


def recorded_run(out: Path, rows: int) -> Path:
    """A run of ``rows`` evaluations, recorded once and reused."""
    path = out / f"rows-{rows}"
    if not (path / JOURNAL).exists():
        run(env=NULL_ENV, agent=one_per_ask, budget=rows, seed=0, out=path, progress=False)
    return path


def as_killed(path: Path) -> None:
    """What a SIGKILL after the last evaluation leaves: the journal, no Parquet, no summary."""
    for name in (PARQUET, SUMMARY):
        (path / name).unlink(missing_ok=True)


def read_s(path: Path) -> float:
    start = time.perf_counter()
    with open(path / JOURNAL, "rb") as journal:
        rows = [json.loads(line) for line in journal]
    elapsed = time.perf_counter() - start
    assert rows
    return elapsed


def resume_s(path: Path) -> float:
    as_killed(path)
    start = time.perf_counter()
    summary = resume(path, progress=False, agent=one_per_ask)
    elapsed = time.perf_counter() - start
    assert summary["complete"] and summary["n_evaluations"] == int(path.name.split("-")[1])
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 20_000, 40_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "archgym-bench-resume")
    args = parser.parse_args()
    print(f"python benchmarks/resume.py --rows {' '.join(map(str, args.rows))} --repeats {args.repeats}")
    print(f"machine: {os.cpu_count()} cores; runs kept in {args.out}")
    print(f"{'rows':>7} {'read s':>8} {'resume s':>9} {'resume/read':>12}")
    ratios, times = {}, {}
    for rows in args.rows:
        path = recorded_run(args.out, rows)
        read = min(read_s(path) for _ in range(args.repeats))
        resumed = min(resume_s(path) for _ in range(args.repeats))
        ratios[rows], times[rows] = resumed / read, resumed
        print(f"{rows:>7} {read:>8.3f} {resumed:>9.3f} {resumed / read:>11.2f}x")
    largest, smallest = max(args.rows), min(args.rows)
    verdict = "met" if ratios[largest] < 3 else "MISSED"
    print(f"goal: resume < 3x read at {largest} rows: {ratios[largest]:.2f}x ({verdict})")
    if largest != smallest:
        growth = times[largest] / times[smallest]
        rows_x = largest / smallest
        print(f"resume time {smallest} -> {largest} rows: {growth:.2f}x for {rows_x:.0f}x the rows")


if __name__ == "__main__":
    main()
