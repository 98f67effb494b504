"""NASBench201-v0: cost and signal of live training at two fidelities.

For ``--cells`` random cells (fixed sample), evaluates each cell under two seeds at each fidelity
and prints the time per evaluation, the between-architecture spread of validation accuracy, and the
seed-to-seed Spearman rank correlation of validation accuracies (over all cells and over connected
cells only — disconnected cells tie at chance under both seeds). Exits 1 if the Spearman at the
default fidelity is below ``--min-spearman`` (the issue's 0.6).

    python benchmarks/nas201.py                 # 30 cells, fidelities 3 (default) and 1
    python benchmarks/nas201.py --cells 10 --fidelities 1 2
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from scipy.stats import spearmanr

from archgym_nas.cell import OPS, cell_string, is_connected
from archgym_nas.env import DEFAULT_EPOCHS, NASBench201


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=30)
    parser.add_argument("--fidelities", type=int, nargs=2, default=[DEFAULT_EPOCHS, 1])
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--n-cells", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs=2, default=[0, 1])
    parser.add_argument("--min-spearman", type=float, default=0.6)
    args = parser.parse_args()

    env = NASBench201(channels=args.channels, n_cells=args.n_cells)
    rng = np.random.default_rng(2020)
    cells = [tuple(rng.choice(OPS, size=6)) for _ in range(args.cells)]
    designs = [env.design_from_cell_string(cell_string(c)) for c in cells]
    connected = np.array([is_connected(c) for c in cells])
    print(
        f"NASBench201-v0 digits 16x16, C={args.channels}, N={args.n_cells}: {args.cells} random cells "
        f"({connected.sum()} connected), seeds {args.seeds}"
    )
    ok = True
    for fid in args.fidelities:
        acc = np.zeros((2, len(cells)))
        times: list[float] = []
        for s, seed in enumerate(args.seeds):
            for k, design in enumerate(designs):
                env.reset(seed=seed, options={"fidelity": fid})
                start = time.perf_counter()
                _, _, _, _, info = env.step(env.design_space.to_action(design))
                if connected[k]:
                    times.append(time.perf_counter() - start)
                assert info["feasible"], info.get("error")
                acc[s, k] = info["metrics"]["val_accuracy"]
        mean = acc.mean(axis=0)
        rho_all = float(spearmanr(acc[0], acc[1]).statistic)
        rho_conn = float(spearmanr(acc[0, connected], acc[1, connected]).statistic)
        print(
            f"epochs={fid}: {np.mean(times):.2f} s per evaluation of a connected cell "
            f"(median {np.median(times):.2f} s); val accuracy over cells: mean {mean.mean():.1f}%, "
            f"std {mean.std():.1f} pp, range {mean.min():.1f}-{mean.max():.1f}% "
            f"(spread {(mean.max() - mean.min()) / 100:.2f}); seed-to-seed Spearman {rho_all:.3f} "
            f"(connected only: {rho_conn:.3f})"
        )
        if fid == DEFAULT_EPOCHS and not rho_all >= args.min_spearman:
            print(f"FAIL: Spearman {rho_all:.3f} < {args.min_spearman} at the default fidelity")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
