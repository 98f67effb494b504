"""Datasets that need no download: scikit-learn's digits (shipped inside the sklearn wheel) and a
user's local CIFAR-10 in its standard python-pickle batch format.

Splits are fixed (seed 0) and independent of the env's seed, so every evaluation of every design
sees the same train / validation / test images.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLIT_SEED = 0
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{k}" for k in range(1, 6))
CIFAR_TEST_BATCH = "test_batch"


@dataclass(frozen=True)
class ImageData:
    """Images as float32 N×C×H×W (normalised per channel with training statistics) and int64 labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    name: str


def _normalise(data: ImageData) -> ImageData:
    mean = data.x_train.mean(axis=(0, 2, 3), keepdims=True)
    std = data.x_train.std(axis=(0, 2, 3), keepdims=True) + 1e-6
    f = lambda x: ((x - mean) / std).astype(np.float32)  # noqa: E731
    return ImageData(
        f(data.x_train),
        data.y_train,
        f(data.x_val),
        data.y_val,
        f(data.x_test),
        data.y_test,
        data.n_classes,
        data.name,
    )


def _resize(x: np.ndarray, resolution: int) -> np.ndarray:
    if x.shape[-1] == resolution:
        return x
    import torch
    import torch.nn.functional as F

    out = F.interpolate(
        torch.from_numpy(x), size=(resolution, resolution), mode="bilinear", align_corners=False
    )
    return out.numpy()


def load_digits(resolution: int, max_train: int | None = None) -> ImageData:
    """sklearn's 1,797 8×8 handwritten digits (10 classes), bilinearly resized to ``resolution``.

    Split 1,000 train / 397 validation / 400 test by a fixed permutation; ``max_train`` caps the
    training images.
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[:, None]  # N×1×8×8
    y = bunch.target.astype(np.int64)
    perm = np.random.default_rng(SPLIT_SEED).permutation(len(y))
    x, y = _resize(x[perm], resolution), y[perm]
    tr, va = slice(0, 1000 if max_train is None else min(1000, max_train)), slice(1000, 1397)
    te = slice(1397, None)
    return _normalise(ImageData(x[tr], y[tr], x[va], y[va], x[te], y[te], 10, "digits"))


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch file → (uint8 N×3×32×32 images, int64 labels)."""
    with open(path, "rb") as fh:
        batch = pickle.load(fh, encoding="bytes")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise ValueError(f"{path}: not a CIFAR-10 python batch (needs 'data' and 'labels')")
    data = np.asarray(data, dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path}: 'data' must be N×3072 uint8, got shape {data.shape}")
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


def load_cifar10(
    data_dir: str | Path, resolution: int, max_train: int | None = None, val_fraction: float = 0.1
) -> ImageData:
    """CIFAR-10 from ``data_dir`` (``data_batch_1``…``data_batch_5`` and ``test_batch``, as in
    ``cifar-10-batches-py``). Missing training batches are skipped (at least one is needed).

    A fixed ``val_fraction`` of the training images is held out for validation; ``test_batch`` is
    the test set. ``max_train`` caps the training images (cheaper evaluations).
    """
    root = Path(data_dir)
    parts = [read_cifar_batch(root / b) for b in CIFAR_TRAIN_BATCHES if (root / b).is_file()]
    if not parts or not (root / CIFAR_TEST_BATCH).is_file():
        raise ValueError(
            f"data_dir {str(root)!r} must hold CIFAR-10 python batches: at least one of "
            f"{list(CIFAR_TRAIN_BATCHES)} and {CIFAR_TEST_BATCH!r}"
        )
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    x_test, y_test = read_cifar_batch(root / CIFAR_TEST_BATCH)
    perm = np.random.default_rng(SPLIT_SEED).permutation(len(y))
    n_val = max(1, round(val_fraction * len(y)))
    val, train = perm[:n_val], perm[n_val:]
    if max_train is not None:
        train = train[:max_train]
    f = lambda a: _resize(a.astype(np.float32) / 255.0, resolution)  # noqa: E731
    return _normalise(ImageData(f(x[train]), y[train], f(x[val]), y[val], f(x_test), y_test, 10, "cifar10"))
