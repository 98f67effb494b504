"""Floor 1 — the env: the base class every problem derives from, the design↔action codec
(designs of any Gymnasium action space), the wrappers that compose with it, and the checker.

Depends on :mod:`archgym.spaces` only: a plugin author subclassing :class:`DesignEnv` pulls in
nothing of the loop, the records or the proxy machinery.
"""

from archgym.env.arguments import env_id_guesses
from archgym.env.backends import (
    SIMULATOR,
    BackendLadder,
    BackendSpec,
    backend_options,
    backend_specs,
    caller_only_options,
    register_backend,
    unregister_backend,
    without_caller_only,
)
from archgym.env.base import (
    CHECKPOINT_MISSING,
    CONTINUED_FROM,
    TIME_UNIT,
    Backend,
    DesignEnv,
    EvalContext,
    Fidelity,
    InfeasibleDesign,
)
from archgym.env.checker import check_env
from archgym.env.checkpoints import CHECKPOINTS, CheckpointStore
from archgym.env.codec import ActionCodec, codec_for, derive_design_space
from archgym.env.wrappers import FlatActions, ScalarizeReward, parse_scalarize, penalty_of, reward_space_of

__all__ = [
    "CHECKPOINTS",
    "CHECKPOINT_MISSING",
    "CONTINUED_FROM",
    "SIMULATOR",
    "TIME_UNIT",
    "ActionCodec",
    "Backend",
    "BackendLadder",
    "BackendSpec",
    "CheckpointStore",
    "DesignEnv",
    "EvalContext",
    "Fidelity",
    "FlatActions",
    "InfeasibleDesign",
    "ScalarizeReward",
    "backend_options",
    "backend_specs",
    "caller_only_options",
    "check_env",
    "codec_for",
    "derive_design_space",
    "env_id_guesses",
    "parse_scalarize",
    "penalty_of",
    "register_backend",
    "reward_space_of",
    "unregister_backend",
    "without_caller_only",
]
