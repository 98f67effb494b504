"""The seed protocol shared by the agent-hyperparameter envs.

Tuning seeds are ``0 .. K-1``; test seeds are ``TEST_SEED_OFFSET + 0 .. TEST_SEED_OFFSET + T-1``.
Both sets are capped at ``MAX_SEEDS`` so they can never overlap, and both are fixed (independent
of the run's seed): every design of a run is trained on the same seeds, so designs are compared on
equal terms, and the best one is then re-evaluated on seeds the tuner never saw.
"""

from __future__ import annotations

from archgym.spaces import Categorical, Integer

SEED_SETS = ("tune", "test")
MAX_SEEDS = 1000
TEST_SEED_OFFSET = 1_000_000

N_SEEDS = Integer("n_seeds", 1, MAX_SEEDS)
N_TEST_SEEDS = Integer("n_test_seeds", 1, MAX_SEEDS)
SEED_SET = Categorical("seed_set", SEED_SETS)
SEED_ARGUMENTS = (N_SEEDS, N_TEST_SEEDS, SEED_SET)
"""The constructor arguments of the seed protocol, as the envs declare them (``arguments``)."""


def tuning_seeds(n: int) -> list[int]:
    """The K tuning seeds."""
    return list(range(N_SEEDS.validate(n)))


def held_out_seeds(n: int) -> list[int]:
    """The test seeds, disjoint from every possible tuning seed."""
    return [TEST_SEED_OFFSET + i for i in range(N_TEST_SEEDS.validate(n))]


def seeds_for(seed_set: str, n_seeds: int, n_test_seeds: int) -> list[int]:
    """The training seeds an env in mode ``seed_set`` uses."""
    tune, test = tuning_seeds(n_seeds), held_out_seeds(n_test_seeds)
    return tune if SEED_SET.validate(seed_set) == "tune" else test
