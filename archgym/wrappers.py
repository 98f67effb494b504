"""Deprecated alias of :mod:`archgym.env` (the core in layers, docs/architecture.md)."""

from archgym import env as _target
from archgym._moved import forward

__getattr__ = forward(__name__, _target)
