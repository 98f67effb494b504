"""archgym: every design and hyperparameter problem as a Gymnasium environment.

``import archgym`` loads every installed plugin (entry-point group ``archgym``) and registers
its envs with Gymnasium; it imports only gymnasium, numpy and pluggy. Simulators and agent
libraries are imported when an env or agent is made.
"""

from importlib.metadata import PackageNotFoundError, version

from archgym.checker import check_env
from archgym.derive import ActionCodec, codec_for, derive_design_space
from archgym.env import Backend, DesignEnv, EvalContext, Fidelity, InfeasibleDesign
from archgym.hookspecs import hookimpl, hookspec
from archgym.objectives import Objective, Objectives, ObjectiveSpec, Target, TargetSpec
from archgym.registry import AgentSpec, PluginWarning, Registry, get_registry, load_plugins
from archgym.spaces import (
    Categorical,
    Condition,
    Constraint,
    Design,
    DesignSpace,
    Integer,
    Ordinal,
    Parameter,
    Real,
    Text,
)
from archgym.wrappers import FlatActions, ScalarizeReward

try:
    __version__ = version("archgym")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "ActionCodec",
    "AgentSpec",
    "Backend",
    "Categorical",
    "Condition",
    "Constraint",
    "Design",
    "DesignEnv",
    "DesignSpace",
    "EvalContext",
    "Fidelity",
    "FlatActions",
    "InfeasibleDesign",
    "Integer",
    "Objective",
    "ObjectiveSpec",
    "Objectives",
    "Ordinal",
    "Parameter",
    "PluginWarning",
    "Real",
    "Registry",
    "ScalarizeReward",
    "Target",
    "TargetSpec",
    "Text",
    "check_env",
    "codec_for",
    "derive_design_space",
    "get_registry",
    "hookimpl",
    "hookspec",
    "load_plugins",
]

load_plugins()
