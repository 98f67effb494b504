"""Datasets that need no download: scikit-learn's digits (shipped inside the sklearn wheel) and a
user's local CIFAR-10 in its standard python-pickle batch format (read by a restricted unpickler
that never runs code from the files) or its binary format.

Splits are fixed (seed 0) and independent of the env's seed, so every evaluation of every design
sees the same train / validation / test images.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

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


class _NotCifar(ValueError):
    """A file that is not a CIFAR-10 batch; the message already names the file."""


_ENDIANS = ("<", ">", "|", "=")


def _shown(text: str) -> str:
    text = text if len(text) <= 120 else text[:117] + "..."
    return text if text.isprintable() else ascii(text)


def _text(value: Any) -> Any:
    """Python 2 strs arrive as bytes (``encoding="bytes"``); short ASCII ones are compared as str."""
    return value.decode("ascii", "replace") if type(value) is bytes and len(value) <= 64 else value


def _is_flag(value: Any) -> bool:
    return type(value) in (bool, int) and value in (0, 1)


class _Guarded:
    """Base of every non-builtin object the unpickler can put in a batch: slotted and closed to
    ``setattr``, so a pickle can't retarget it; ``__setstate__`` (the BUILD opcode) is refused
    unless a subclass accepts it, and then at most once."""

    __slots__ = ("_path",)

    def __init__(self, path: Path) -> None:
        object.__setattr__(self, "_path", path)

    def _refuse(self, why: str) -> _NotCifar:
        return _NotCifar(f"{self._path}: not a CIFAR-10 batch: {why}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise self._refuse(f"refusing to set attribute {_shown(repr(name))}")

    def __setstate__(self, state: Any) -> None:
        raise self._refuse(f"refusing to set the state of {type(self).__name__.lstrip('_')}")


class _Global(_Guarded):
    """A callable handed out by ``find_class`` in place of a real global (not a type, so NEWOBJ
    can't instantiate it)."""

    __slots__ = ("_fn",)

    def __init__(self, path: Path, fn: Callable[..., Any]) -> None:
        super().__init__(path)
        object.__setattr__(self, "_fn", fn)

    def __call__(self, *args: Any) -> Any:
        return self._fn(*args)


class _Dtype(_Guarded):
    """``numpy.dtype(typecode, align, copy)`` then BUILD with its state: only plain booleans, ints
    and floats (no object, structured, subarray, string or void dtypes)."""

    __slots__ = ("_built", "dtype")

    def __init__(self, path: Path, typecode: Any) -> None:
        super().__init__(path)
        if type(typecode) not in (str, bytes):
            raise self._refuse(f"dtype from a {type(typecode).__name__}")
        try:
            dtype = np.dtype(typecode)
        except Exception:
            raise self._refuse(f"unknown dtype {_shown(repr(typecode))}") from None
        if dtype.hasobject:
            raise self._refuse(f"refusing an object dtype ({_shown(repr(typecode))})")
        if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
            raise self._refuse(f"refusing dtype {dtype} (only plain numbers)")
        object.__setattr__(self, "dtype", dtype)
        object.__setattr__(self, "_built", False)

    def __setstate__(self, state: Any) -> None:
        # (version, endian, subdescr, names, fields, elsize, alignment[, flags[, metadata]]): for a
        # plain dtype (3, '<', None, None, None, -1, -1, 0). Flags are numpy's to compute, never
        # taken from the file.
        version = state[0] if type(state) is tuple and state and type(state[0]) is int else None
        if self._built or version not in (1, 2, 3, 4) or len(state) != {1: 7, 2: 7, 3: 8, 4: 9}[version]:
            raise self._refuse("bad numpy.dtype state")
        endian, rest = _text(state[1]), state[2:5] + state[8:]
        if endian not in _ENDIANS or any(v is not None for v in rest) or state[5:7] != (-1, -1):
            raise self._refuse("refusing a numpy.dtype state that isn't a plain number type")
        if endian in "<>" and self.dtype.itemsize > 1:
            object.__setattr__(self, "dtype", self.dtype.newbyteorder(endian))
        object.__setattr__(self, "_built", True)


class _Array(_Guarded):
    """numpy's ``_reconstruct(ndarray, (0,), b"b")`` then BUILD with ``(1, shape, dtype, fortran,
    raw bytes)``, or protocol 5's ``_frombuffer``: the array is made here from the raw bytes with
    ``np.frombuffer`` and a :class:`_Dtype`; numpy's own ``__setstate__`` never sees the file."""

    __slots__ = ("array",)

    def __init__(self, path: Path, array: np.ndarray | None = None) -> None:
        super().__init__(path)
        object.__setattr__(self, "array", array)

    def fill(self, shape: Any, dtype: Any, fortran: Any, raw: Any) -> _Array:
        if not (
            isinstance(shape, tuple) and len(shape) <= 32 and all(type(n) is int and n >= 0 for n in shape)
        ):
            raise self._refuse(f"bad array shape {_shown(repr(shape))}")
        if not isinstance(dtype, _Dtype) or not _is_flag(fortran) or type(raw) not in (bytes, bytearray):
            raise self._refuse("bad numpy array state")
        if len(raw) != math.prod(shape) * dtype.dtype.itemsize:
            raise self._refuse(f"array of shape {shape} with {len(raw)} bytes of {dtype.dtype}")
        array = np.frombuffer(raw, dtype=dtype.dtype).reshape(shape, order="F" if fortran else "C")
        object.__setattr__(self, "array", array)
        return self

    def __setstate__(self, state: Any) -> None:
        if self.array is not None or type(state) is not tuple or len(state) not in (4, 5):
            raise self._refuse("bad numpy array state")
        if len(state) == 5 and state[0] != 1:  # numpy's state version; 4-tuples are pre-versioning
            raise self._refuse("bad numpy array state version")
        self.fill(*state[-4:])


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles only what a CIFAR-10 python batch is made of: dicts, lists, str/bytes, ints and
    numpy arrays of plain numbers. ``find_class`` never returns a real global: it hands out
    :class:`_Global` stand-ins that build :class:`_Array`/:class:`_Dtype` (numpy's array
    reconstruction, protocol 5's ``_frombuffer``, ``numpy.dtype``) or bytes (the two helpers Python 3
    writes for bytes at protocol 2), and refuses every other global with a ValueError naming the file.
    """

    def __init__(self, fh: BinaryIO, path: Path) -> None:
        super().__init__(fh, encoding="bytes")
        self._path = path
        self._ndarray = _Global(path, self._refuse_ndarray)  # only as _reconstruct's first argument
        reconstruct, frombuffer = _Global(path, self._reconstruct), _Global(path, self._frombuffer)
        dtype, encode, empty = (_Global(path, f) for f in (self._dtype, self._encode, self._bytes))
        self._allowed = {
            ("numpy.core.multiarray", "_reconstruct"): reconstruct,  # Python 2 / numpy 1.x files
            ("numpy._core.multiarray", "_reconstruct"): reconstruct,  # numpy >= 2
            ("numpy.core.numeric", "_frombuffer"): frombuffer,  # protocol 5
            ("numpy._core.numeric", "_frombuffer"): frombuffer,
            ("numpy", "ndarray"): self._ndarray,
            ("numpy", "dtype"): dtype,
            ("_codecs", "encode"): encode,  # Python 3 bytes at protocol 2: encode(str, "latin1")
            ("__builtin__", "bytes"): empty,  # ... and empty bytes: bytes()
            ("builtins", "bytes"): empty,
        }

    def _refuse(self, why: str) -> _NotCifar:
        return _NotCifar(f"{self._path}: not a CIFAR-10 batch: {why}")

    def find_class(self, module: str, name: str) -> Any:
        found = self._allowed.get((module, name))
        if found is None:
            raise self._refuse(f"refusing to load global '{_shown(f'{module}.{name}')}'")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise self._refuse("refusing a persistent id")

    def _refuse_ndarray(self, *args: Any) -> Any:
        raise self._refuse("refusing to call numpy.ndarray")

    def _reconstruct(self, subtype: Any, shape: Any, typecode: Any) -> _Array:
        # numpy's ndarray.__reduce__ always emits _reconstruct(ndarray, (0,), b"b"); BUILD then
        # brings the real shape, dtype and bytes.
        if subtype is not self._ndarray or shape != (0,) or type(typecode) not in (str, bytes):
            raise self._refuse("bad numpy _reconstruct arguments")
        return _Array(self._path)

    def _frombuffer(self, buf: Any, dtype: Any, shape: Any, order: Any) -> _Array:
        if _text(order) not in ("C", "F"):
            raise self._refuse("bad numpy _frombuffer arguments")
        return _Array(self._path).fill(shape, dtype, _text(order) == "F", buf)

    def _dtype(self, typecode: Any, align: Any = False, copy: Any = False) -> _Dtype:
        if not (_is_flag(align) and _is_flag(copy)):  # (typecode, False, True); old numpy: 0, 1
            raise self._refuse("bad numpy.dtype arguments")
        return _Dtype(self._path, typecode)

    def _encode(self, text: Any, encoding: Any) -> bytes:
        if type(text) is not str or encoding not in ("latin1", "latin-1"):
            raise self._refuse("bad _codecs.encode arguments")
        return text.encode("latin-1")

    def _bytes(self, *args: Any) -> bytes:
        if args:
            raise self._refuse("refusing bytes() with arguments")
        return b""


def _unwrap(path: Path, value: Any) -> Any:
    if isinstance(value, _Array):
        if value.array is None:
            raise _NotCifar(f"{path}: not a CIFAR-10 batch: a numpy array without its data")
        return value.array
    return value


def _reject_object_arrays(path: Path, obj: Any) -> None:
    """Belt and braces (the unpickler can't build one): no object-dtype array anywhere in the
    loaded containers, which a pickle may nest and even cycle, hence ``seen``."""
    stack, seen = [obj], set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, _Array):
            item = item.array
        if isinstance(item, np.ndarray) and item.dtype.hasobject:
            raise _NotCifar(f"{path}: not a CIFAR-10 batch: refusing an object-dtype array")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def _validate_batch(path: Path, batch: Any) -> tuple[np.ndarray, np.ndarray]:
    def bad(why: str) -> ValueError:
        return _NotCifar(f"{path}: not a CIFAR-10 batch: {why}")

    if type(batch) is not dict:
        raise bad(f"expected a dict, got {type(batch).__name__}")
    _reject_object_arrays(path, batch)
    data = _unwrap(path, batch.get(b"data", batch.get("data")))
    labels = _unwrap(path, batch.get(b"labels", batch.get("labels")))
    if data is None or labels is None:
        raise bad("needs 'data' and 'labels'")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        what = f"{data.dtype} array {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise bad(f"'data' must be an N×3072 uint8 array, got {what}")
    if isinstance(labels, np.ndarray):
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise bad(f"'labels' must be a list of ints, got a {labels.dtype} array of shape {labels.shape}")
        labels = labels.tolist()
    if not isinstance(labels, list) or not all(type(v) is int for v in labels):
        raise bad("'labels' must be a list of ints")
    if len(labels) != data.shape[0] or not labels:
        raise bad(f"{len(labels)} labels for {data.shape[0]} images")
    if min(labels) < 0 or max(labels) > 9:
        raise bad(f"labels must be in 0..9, got {min(labels)}..{max(labels)}")
    return data.reshape(-1, 3, 32, 32).copy(), np.asarray(labels, dtype=np.int64)


def read_cifar_python_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch (``cifar-10-batches-py``) → (uint8 N×3×32×32, int64 labels).

    Never runs code from the file: a restricted unpickler (see :class:`_CifarUnpickler`) rebuilds
    only dicts, lists, strings, ints and plain numpy arrays, and the result must be a genuine batch
    (``data`` N×3072 uint8, ``labels`` N ints in 0..9). Anything else is a ValueError naming the file.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            batch = _CifarUnpickler(fh, path).load()
    except _NotCifar:
        raise
    except OSError:
        raise
    except Exception as exc:  # truncated or garbage: pickle's own error, from whichever opcode
        detail = _shown(f"{type(exc).__name__}: {exc}")
        raise ValueError(f"{path}: not a CIFAR-10 batch: unreadable pickle ({detail})") from None
    return _validate_batch(path, batch)


def read_cifar_binary_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 binary batch (``cifar-10-batches-bin``, e.g. ``data_batch_1.bin``: records of
    1 label byte and 3,072 pixel bytes) → (uint8 N×3×32×32, int64 labels)."""
    path = Path(path)
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % 3073:
        raise ValueError(
            f"{path}: not a CIFAR-10 binary batch: {raw.size} bytes is not a positive multiple of "
            "3073 (1 label byte + 3072 pixel bytes per image)"
        )
    records = raw.reshape(-1, 3073)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise ValueError(f"{path}: not a CIFAR-10 binary batch: label byte {labels.max()} is not in 0..9")
    return records[:, 1:].reshape(-1, 3, 32, 32).copy(), labels


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 batch file → (uint8 N×3×32×32 images, int64 labels): the binary format for a
    ``.bin`` file, else the python format (read without arbitrary unpickling)."""
    if Path(path).suffix == ".bin":
        return read_cifar_binary_batch(path)
    return read_cifar_python_batch(path)


def _batch_file(root: Path, name: str) -> Path | None:
    for candidate in (root / name, root / f"{name}.bin"):
        if candidate.is_file():
            return candidate
    return None


def load_cifar10(
    data_dir: str | Path, resolution: int, max_train: int | None = None, val_fraction: float = 0.1
) -> ImageData:
    """CIFAR-10 from ``data_dir``: ``data_batch_1``…``data_batch_5`` and ``test_batch``, each either
    a python batch (as in ``cifar-10-batches-py``) or, where that file is absent, the binary batch
    of the same name plus ``.bin`` (as in ``cifar-10-batches-bin``). Missing training batches are
    skipped (at least one is needed). Files that aren't genuine batches are ValueErrors naming the
    file; python batches are never unpickled beyond plain data (see :func:`read_cifar_python_batch`).

    A fixed ``val_fraction`` of the training images is held out for validation; ``test_batch`` is
    the test set. ``max_train`` caps the training images (cheaper evaluations).
    """
    root = Path(data_dir)
    train_files = [f for f in (_batch_file(root, b) for b in CIFAR_TRAIN_BATCHES) if f is not None]
    test_file = _batch_file(root, CIFAR_TEST_BATCH)
    if not train_files or test_file is None:
        raise ValueError(
            f"data_dir {str(root)!r} must hold CIFAR-10 batches: at least one of "
            f"{list(CIFAR_TRAIN_BATCHES)} and {CIFAR_TEST_BATCH!r} (python format), or the same "
            "names with '.bin' (binary format)"
        )
    parts = [read_cifar_batch(f) for f in train_files]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    x_test, y_test = read_cifar_batch(test_file)
    perm = np.random.default_rng(SPLIT_SEED).permutation(len(y))
    n_val = max(1, round(val_fraction * len(y)))
    val, train = perm[:n_val], perm[n_val:]
    if max_train is not None:
        train = train[:max_train]
    f = lambda a: _resize(a.astype(np.float32) / 255.0, resolution)  # noqa: E731
    return _normalise(ImageData(f(x[train]), y[train], f(x[val]), y[val], f(x_test), y_test, 10, "cifar10"))
