"""archgym: every design and hyperparameter problem as a Gymnasium environment.

The core is layered sub-packages (docs/architecture.md); this module is their public facade.
``import archgym`` loads every installed plugin (entry-point group ``archgym``) and registers
its envs with Gymnasium; it imports only gymnasium, numpy and pluggy. Simulators and agent
libraries are imported when an env or agent is made.
"""

from importlib.metadata import PackageNotFoundError, version

from archgym.env import (
    ActionCodec,
    Backend,
    BackendSpec,
    DesignEnv,
    EvalContext,
    Fidelity,
    FlatActions,
    InfeasibleDesign,
    ScalarizeReward,
    check_env,
    codec_for,
    derive_design_space,
)
from archgym.plugins import AgentSpec, PluginWarning, Registry, get_registry, hookimpl, hookspec, load_plugins
from archgym.spaces import (
    Categorical,
    Condition,
    Constraint,
    Design,
    DesignSpace,
    Integer,
    Objective,
    Objectives,
    ObjectiveSpec,
    Ordinal,
    OutcomeConstraint,
    Parameter,
    Real,
    Target,
    TargetSpec,
    Text,
)

try:
    __version__ = version("archgym")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "ActionCodec",
    "AgentSpec",
    "Backend",
    "BackendSpec",
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
    "OutcomeConstraint",
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
