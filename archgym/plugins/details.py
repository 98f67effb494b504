"""``archgym envs --details ID``: one registered env in full, so a user can choose its arguments
without reading its source — constructor arguments with defaults and legal values, backends,
fidelity, typical cost per evaluation, metrics and units, outcome constraints, known optimum,
the design space, and its doc page (or the extra it needs, where that is not installed)."""

from __future__ import annotations

import inspect
from typing import Any

from archgym.env import backend_specs, env_id_guesses
from archgym.plugins.registry import get_registry

__all__ = ["env_details", "format_env_details"]

_COMMON = {
    "backend": "None (the simulator) or a registered backend: {} (see backends)",
    "outcome_constraints": "None or {metric: ('<=' | '>=', bound)}: adds or tightens constraints on metrics",
}


def env_details(env_id: str) -> dict[str, Any]:
    """What ``archgym envs --details`` prints, as data. An unknown id is a ``ValueError`` with
    the closest registered ids (and the namespace, where it was left off)."""
    import gymnasium as gym

    from archgym.search import problem_of

    registry = get_registry()
    if env_id not in registry.env_plugins:
        known = sorted(registry.env_plugins)
        guesses = env_id_guesses(env_id, known)
        hint = f" (did you mean {' or '.join(map(repr, guesses))}?)" if guesses else ""
        raise ValueError(f"--details: unknown env {env_id!r}{hint}; registered: {known}")
    about = registry.env_info[env_id]
    out: dict[str, Any] = {"id": env_id, "plugin": about.plugin, "doc": about.doc}
    out["eval_cost"] = about.eval_cost
    if about.install_hint is not None:
        return out | {"install": about.install_hint}
    env = gym.make(env_id)
    try:
        inner = env.unwrapped
        problem = problem_of(env, env_id)
        out["class"] = f"{type(inner).__module__}:{type(inner).__qualname__}"
        out["arguments"] = _arguments(type(inner))
        out["objectives"] = inner.objective.describe() if hasattr(inner, "objective") else "reward"
        fidelity = problem.fidelity
        out["fidelity"] = None if fidelity is None else _fidelity(fidelity)
        units = getattr(inner, "metric_units", {}) or {}
        out["metrics"] = {name: units.get(name) for name in problem.metric_names}
        constraints = getattr(inner, "outcome_constraints", ()) or ()
        out["outcome_constraints"] = [f"{c.name}: {c.metric} {c.op} {c.bound:g}" for c in constraints]
        out["optimal_reward"] = getattr(inner, "optimal_reward", None)
        out["parameters"] = {p.name: p.legal_values() for p in problem.design_space}
        out["backends"] = (
            {}
            if not hasattr(inner, "add_outcome_constraints")
            else {
                name: spec.description + (f"; options: {', '.join(spec.options)}" if spec.options else "")
                for name, spec in sorted(backend_specs().items())
            }
        )
    finally:
        env.close()
    return out


def _arguments(cls: type) -> list[dict[str, Any]]:
    signature = getattr(cls, "_init_signature", None) or inspect.signature(cls.__init__)
    declared = {p.name: p for p in getattr(cls, "arguments", ())}
    rows = []
    for name, param in signature.parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = None if param.default is inspect.Parameter.empty else param.default
        if name in declared:
            legal = declared[name].legal_values()
        elif param.annotation is not inspect.Parameter.empty:
            legal = f"any {param.annotation}" if isinstance(param.annotation, str) else "any"
        else:
            legal = "any"
        rows.append({"name": name, "default": default, "legal": legal})
    if hasattr(cls, "add_outcome_constraints"):  # a DesignEnv: the base takes these for every env
        names = ", ".join(sorted(backend_specs()))
        rows.append({"name": "backend", "default": None, "legal": _COMMON["backend"].format(names or "none")})
        rows.append({"name": "outcome_constraints", "default": None, "legal": _COMMON["outcome_constraints"]})
    return rows


def _fidelity(fidelity: Any) -> dict[str, Any]:
    out = {"name": fidelity.name, "low": fidelity.low, "high": fidelity.high, "default": fidelity.default}
    for key in ("integer", "continuable", "levels"):
        if getattr(fidelity, key, None):
            out[key] = getattr(fidelity, key)
    return out


def format_env_details(d: dict[str, Any]) -> str:
    """The details as the lines ``archgym envs --details`` prints."""
    lines = [f"{d['id']}  [plugin {d['plugin']}]"]
    lines.append(f"  doc: {d['doc'] or 'none declared'}")
    lines.append(f"  typical cost per evaluation: {d['eval_cost'] or 'not declared'}")
    if "install" in d:
        return "\n".join([*lines, f"  {d['install']}"])
    lines.append(f"  class: {d['class']}")
    lines.append(f"  objectives: {d['objectives']}")
    f = d["fidelity"]
    if f is None:
        lines.append("  fidelity: none (every evaluation at full fidelity)")
    else:
        extra = "".join(f", {k}" if v is True else f", {k} {v}" for k, v in f.items() if k not in _FIDELITY)
        span = f"[{f['low']:g}, {f['high']:g}], default {f['default']:g}"
        lines.append(f"  fidelity: {f['name']} in {span}{extra}")
    metrics = ", ".join(f"{m} [{u}]" if u else m for m, u in d["metrics"].items())
    lines.append(f"  metrics: {metrics or 'none'}")
    if d["outcome_constraints"]:
        lines.append(f"  outcome constraints: {'; '.join(d['outcome_constraints'])}")
    if d["optimal_reward"] is not None:
        lines.append(f"  known optimum (reward): {d['optimal_reward']:g}")
    lines.append("  design parameters:")
    lines += [f"    {name}: {legal}" for name, legal in d["parameters"].items()]
    lines.append("  constructor arguments (gymnasium.make(ID, name=value) or --env-kwarg name=value):")
    lines += [f"    {a['name']} = {a['default']!r}: {a['legal']}" for a in d["arguments"]]
    lines.append("  backends (backend=NAME):")
    lines += [f"    {name}: {text}" for name, text in d["backends"].items()]
    return "\n".join(lines)


_FIDELITY = ("name", "low", "high", "default")
