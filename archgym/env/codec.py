"""Drive any Gymnasium env: a design space derived from its action space.

An :class:`ActionCodec` maps designs (name → value dicts) to the actions an env's ``step``
takes and back. A :class:`~archgym.env.DesignEnv` declares its space; for a plain
``gymnasium.Env`` with a ``Box`` (finite bounds), ``Discrete``, ``MultiDiscrete``,
``MultiBinary`` or ``Dict``-of-those action space the space is derived here, with parameter
names such as ``a[0]``, ``a[1]`` (flat spaces) or ``key[0]`` (Dict entries).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from archgym.env.base import DesignEnv
from archgym.spaces import Design, DesignSpace, Integer, Parameter, Real

__all__ = ["ActionCodec", "codec_for", "derive_design_space"]


class ActionCodec:
    """Designs ↔ env actions. The default (named) codec is the design space's own."""

    def __init__(self, design_space: DesignSpace) -> None:
        self.design_space = design_space

    def to_action(self, design: Design, *, check: bool = True) -> Any:
        return self.design_space.to_action(design, check=check)

    def from_action(self, action: Any) -> Design:
        return self.design_space.from_action(action)


@dataclass(frozen=True)
class _Leaf:
    path: tuple[str, ...]
    space: spaces.Space[Any]
    names: tuple[str, ...]


class _DerivedCodec(ActionCodec):
    def __init__(self, action_space: spaces.Space[Any]) -> None:
        self.action_space = action_space
        self.leaves: list[_Leaf] = []
        params: list[Parameter] = []
        self._collect(action_space, (), params)
        super().__init__(DesignSpace(params))

    def _collect(self, space: spaces.Space[Any], path: tuple[str, ...], params: list[Parameter]) -> None:
        base = ".".join(path) or "a"
        if isinstance(space, spaces.Dict):
            for key, sub in space.spaces.items():
                self._collect(sub, (*path, str(key)), params)
            return
        new: list[Parameter] = []
        if isinstance(space, spaces.Discrete):
            new.append(Integer(base, int(space.start), int(space.start + space.n - 1)))
        elif isinstance(space, spaces.MultiDiscrete):
            starts = np.broadcast_to(space.start, space.nvec.shape).reshape(-1)
            for i, (n, s) in enumerate(zip(space.nvec.reshape(-1), starts, strict=True)):
                new.append(Integer(f"{base}[{i}]", int(s), int(s + n - 1)))
        elif isinstance(space, spaces.MultiBinary):
            for i in range(int(np.prod(space.shape))):
                new.append(Integer(f"{base}[{i}]", 0, 1))
        elif isinstance(space, spaces.Box):
            low, high = space.low.reshape(-1), space.high.reshape(-1)
            if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
                raise ValueError(
                    f"action space {base!r}: a Box with infinite bounds has no design space; "
                    "give the env finite action bounds"
                )
            integer = np.issubdtype(space.dtype, np.integer)
            for i, (lo, hi) in enumerate(zip(low, high, strict=True)):
                name = base if space.shape == () else f"{base}[{i}]"
                new.append(Integer(name, int(lo), int(hi)) if integer else Real(name, float(lo), float(hi)))
        else:
            raise TypeError(
                f"action space {base!r} of type {type(space).__name__} is not drivable; supported: "
                "Box, Discrete, MultiDiscrete, MultiBinary and Dict of those"
            )
        params.extend(new)
        self.leaves.append(_Leaf(path, space, tuple(p.name for p in new)))

    def to_action(self, design: Design, *, check: bool = True) -> Any:
        design = self.design_space.validate(design, check=check)
        out: dict[str, Any] = {}
        for leaf in self.leaves:
            values = [design[n] for n in leaf.names]
            space = leaf.space
            if isinstance(space, spaces.Discrete):
                value: Any = np.int64(values[0])
            else:
                value = np.array(values, dtype=space.dtype).reshape(space.shape)
            if not leaf.path:
                return value
            node = out
            for key in leaf.path[:-1]:
                node = node.setdefault(key, {})
            node[leaf.path[-1]] = value
        return out

    def from_action(self, action: Any) -> Design:
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in the action space {self.action_space}")
        design: Design = {}
        for leaf in self.leaves:
            value = action
            for key in leaf.path:
                value = value[key]
            flat = np.asarray(value).reshape(-1)
            for name, v in zip(leaf.names, flat, strict=True):
                design[name] = v.item()
        return self.design_space.validate(design)


def derive_design_space(action_space: spaces.Space[Any]) -> DesignSpace:
    """The design space of a plain Gymnasium action space."""
    return _DerivedCodec(action_space).design_space


def codec_for(env: gym.Env[Any, Any]) -> ActionCodec:
    """The codec for ``env``: the declared space of a DesignEnv, else a derived one."""
    unwrapped = env.unwrapped
    if isinstance(unwrapped, DesignEnv) and env.action_space == unwrapped.action_space:
        return ActionCodec(unwrapped.design_space)
    return _DerivedCodec(env.action_space)
