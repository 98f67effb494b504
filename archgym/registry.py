"""Deprecated alias of :mod:`archgym.plugins` (the core in layers, docs/architecture.md)."""

from archgym import plugins as _target
from archgym._moved import forward

__getattr__ = forward(__name__, _target)
