"""Checkpoints of evaluations that a higher fidelity can continue (continuation).

Why: a multi-fidelity agent promotes a design from a low fidelity (4 epochs) to a higher one
(12). Where the env's training at the low fidelity is a prefix of the high one (its schedule is
defined over the declared maximum), the promoted evaluation can resume from where the low one
stopped and pay only for the increment. The state it resumes from is a checkpoint kept in the
run's own directory (``RUN_DIR/checkpoints/``), never in an evaluation's scratch directory,
which is emptied after each evaluation.

Safety: a checkpoint holds tensors, state dicts and plain numbers only. It is written with
``torch.save`` and read with ``torch.load(..., weights_only=True)``, so reading a file never
unpickles an arbitrary object nor runs code; a file that holds anything else is refused (and
treated as missing). Every path is derived from a hash of the design and stays inside the store's
root. torch is imported only when a checkpoint is written or read.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archgym.spaces import Design, design_key

__all__ = ["CHECKPOINTS", "CheckpointStore"]

CHECKPOINTS = "checkpoints"
"""The folder of a run directory that holds its evaluations' checkpoints."""


class CheckpointStore:
    """Checkpoints of one run, one file per (design, fidelity): ``ROOT/<design hash>/<fidelity>.pt``.

    A run directory holds one run (one seed), so the design is the key inside it; each file also
    stores the training seed it was made with, which the continuing evaluation adopts (so
    continuing from a to b equals training to b directly with that seed).

    Args:
        root: the folder (created on the first save); an absolute path, as evaluations run in a
            private working directory.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def path(self, design: Design, fidelity: float | int) -> Path:
        """Where the checkpoint of ``design`` at ``fidelity`` lives (inside the root, always)."""
        digest = hashlib.sha256(repr(design_key(design)).encode()).hexdigest()[:32]
        number = float(fidelity)
        name = f"{int(number)}.pt" if number.is_integer() else f"{number!r}.pt"
        path = (self.root / digest / name).resolve()
        if not path.is_relative_to(self.root):  # a symlinked folder pointing out of the run root
            raise ValueError(f"checkpoint path {path} leaves the run's checkpoint folder {self.root}")
        return path

    def save(self, design: Design, fidelity: float | int, state: Mapping[str, Any]) -> Path:
        """Write ``state`` (tensors, state dicts, numbers, strings) atomically: a killed
        evaluation leaves no half-written checkpoint behind."""
        import torch

        path = self.path(design, fidelity)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save(dict(state), tmp)
        os.replace(tmp, path)
        return path

    def load(self, design: Design, fidelity: float | int) -> dict[str, Any] | None:
        """The state saved for ``design`` at ``fidelity``, or None where there is none (another
        worker's machine, a run directory copied without it) or it can't be read safely."""
        import pickle

        import torch

        path = self.path(design, fidelity)
        if not path.is_file():
            return None
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError):
            return None  # truncated, or holds something weights_only refuses: retrain
        return state if isinstance(state, dict) else None
