"""SIGKILL a real ``archgym run`` again and again, resume it each time, and compare the finished
records with an uninterrupted run of the same configuration (issue #20's kill count).

For each seed: ``archgym run`` starts as a child process; once its journal holds a random number
of new rows it gets SIGKILL (no handler can run), and ``archgym run --resume`` continues it, until
a resume finishes. Then it counts evaluations lost (steps the uninterrupted run has and this one
lacks), duplicated steps in the journal, rows whose design or reward differ, and what the killed
processes left in the temporary directory. Prints one line per seed and the totals.

    python benchmarks/kill_resume.py [--seeds 5] [--budget 80] [--kills 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from archgym.loop import run
from archgym.records import JOURNAL, PARQUET

ENV = "archgym.testing:archgym-testing/Sleep-v0"
AGENT = "ga"  # batches of designs, deterministic given its seed: resumes replay it exactly


def _rows(out: Path) -> int:
    path = out / JOURNAL
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _command(out: Path, args: argparse.Namespace, seed: int, resume: bool) -> list[str]:
    command = [sys.executable, "-m", "archgym.cli", "run", "--no-progress"]
    if resume:
        return [*command, "--resume", str(out)]
    command += ["--env", ENV, "--env-kwarg", "delay_s=0.01", "--agent", AGENT, "--budget", str(args.budget)]
    return [*command, "--seed", str(seed), "--out", str(out), "--workers", str(args.workers)]


def killed_and_resumed(out: Path, args: argparse.Namespace, seed: int, rng: random.Random) -> int:
    """Run with up to ``args.kills`` SIGKILLs, resuming after each; returns the kills made."""
    kills, resume = 0, False
    while True:
        proc = subprocess.Popen(
            _command(out, args, seed, resume), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        target = _rows(out) + rng.randint(1, max(1, args.budget // (args.kills + 1)))
        while kills < args.kills and proc.poll() is None and _rows(out) < target:
            time.sleep(0.005)
        if proc.poll() is None and kills < args.kills:
            proc.kill()
            kills += 1
        _, err = proc.communicate()
        if proc.returncode == 0:
            return kills
        if proc.returncode != -9:
            raise RuntimeError(f"run exited {proc.returncode}: {err.decode()}")
        resume = True


def compare(out: Path, reference: Path) -> dict[str, int]:
    steps = Counter(json.loads(line)["step"] for line in (out / JOURNAL).read_text().splitlines())
    got = {r["step"]: r for r in pq.read_table(out / PARQUET).to_pylist()}
    want = {r["step"]: r for r in pq.read_table(reference / PARQUET).to_pylist()}
    keys = [k for k in next(iter(want.values())) if k.startswith(("param.", "reward"))]
    return {
        "lost": len(set(want) - set(got)),
        "duplicates": sum(n - 1 for n in steps.values()),
        "different": sum(any(got[s][k] != want[s][k] for k in keys) for s in set(want) & set(got)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=80)
    parser.add_argument("--kills", type=int, default=4, help="SIGKILLs per seed")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(
        f"python benchmarks/kill_resume.py --seeds {args.seeds} --budget {args.budget} --kills {args.kills}"
    )
    print(f"machine: {os.cpu_count()} cores; {ENV}, agent {AGENT}, {args.workers} workers")
    totals = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "tmp"
        scratch.mkdir()
        os.environ["TMPDIR"] = str(scratch)  # the children's temporary directory, checked at the end
        tempfile.tempdir = None
        for seed in range(args.seeds):
            reference, out = Path(tmp) / f"ref{seed}", Path(tmp) / f"killed{seed}"
            run(
                env=ENV,
                agent=AGENT,
                budget=args.budget,
                seed=seed,
                out=reference,
                progress=False,
                env_kwargs={"delay_s": 0.0},
                workers=1,
            )
            kills = killed_and_resumed(out, args, seed, random.Random(seed))
            counts = {"kills": kills, "evaluations": args.budget, **compare(out, reference)}
            totals.update(counts)
            print(f"seed {seed}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        left = sorted(p.name for p in scratch.iterdir())
    print(
        "total: " + ", ".join(f"{k} {v}" for k, v in totals.items()) + f"; left in TMPDIR: {len(left)} {left}"
    )


if __name__ == "__main__":
    main()
