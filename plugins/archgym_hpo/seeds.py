"""The seed protocol shared by the agent-hyperparameter envs.

Tuning seeds are ``0 .. K-1``; test seeds are ``TEST_SEED_OFFSET + 0 .. TEST_SEED_OFFSET + T-1``.
Both sets are capped at ``MAX_SEEDS`` so they can never overlap, and both are fixed (independent
of the run's seed): every design of a run is trained on the same seeds, so designs are compared on
equal terms, and the best one is then re-evaluated on seeds the tuner never saw.
"""

from __future__ import annotations

SEED_SETS = ("tune", "test")
MAX_SEEDS = 1000
TEST_SEED_OFFSET = 1_000_000


def tuning_seeds(n: int) -> list[int]:
    """The K tuning seeds."""
    _check_count("n_seeds", n)
    return list(range(n))


def held_out_seeds(n: int) -> list[int]:
    """The test seeds, disjoint from every possible tuning seed."""
    _check_count("n_test_seeds", n)
    return [TEST_SEED_OFFSET + i for i in range(n)]


def seeds_for(seed_set: str, n_seeds: int, n_test_seeds: int) -> list[int]:
    """The training seeds an env in mode ``seed_set`` uses (validates its arguments)."""
    if seed_set not in SEED_SETS:
        raise ValueError(f"seed_set: {seed_set!r} is not legal; legal values: {list(SEED_SETS)}")
    tune, test = tuning_seeds(n_seeds), held_out_seeds(n_test_seeds)
    return tune if seed_set == "tune" else test


def _check_count(name: str, n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SEEDS:
        raise ValueError(f"{name}: {n!r} is not legal; legal values: integers in [1, {MAX_SEEDS}]")
