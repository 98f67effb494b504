"""Issue #19: the NAS env's CIFAR-10 loader reads python batches without arbitrary unpickling.

Genuine batches (as written by Python 2 numpy at protocol 2, and by Python 3 at any protocol) load;
a pickle that names any other global, an object-dtype array, or a truncated / garbage file is a
ValueError naming the file, and nothing in the file runs.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import struct
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import archgym  # noqa: F401  (registers archgym/NASBench201-v0)
from archgym_nas.data import (
    CIFAR_TEST_BATCH,
    CIFAR_TRAIN_BATCHES,
    _validate_batch,
    load_cifar10,
    read_cifar_batch,
)

N = 20  # images per batch


def genuine_batch(name: str, seed: int, n: int = N) -> dict[bytes, Any]:
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": f"{name} of 5".encode(),
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{k}.png".encode() for k in range(n)],
    }


def write_set(root: Path, protocol: int = 2) -> dict[str, dict[bytes, Any]]:
    """A whole CIFAR-10 batch set (5 training batches and the test batch) in ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    batches = {}
    for seed, name in enumerate((*CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH)):
        batches[name] = genuine_batch(name, seed)
        with open(root / name, "wb") as fh:
            pickle.dump(batches[name], fh, protocol=protocol)
    return batches


def py2_batch_bytes(batch: dict[bytes, Any]) -> bytes:
    """The opcodes Python 2's cPickle (protocol 2) wrote for CIFAR-10's batches with numpy 1.x:
    py2 strs as (SHORT_)BINSTRING, ``numpy.core.multiarray._reconstruct``, dtype args ``('u1', 0, 1)``
    and state ``(3, '|', None, None, None, -1, -1, 0)``, memo puts included."""
    memo = iter(range(1, 256))

    def put() -> bytes:
        return b"q" + bytes([next(memo)])

    def pystr(b: bytes) -> bytes:
        return (b"U" + bytes([len(b)]) if len(b) < 256 else b"T" + struct.pack("<i", len(b))) + b + put()

    def small(v: int) -> bytes:
        return b"K" + bytes([v]) if v < 256 else b"M" + struct.pack("<H", v)

    data = batch[b"data"]
    array = (
        b"cnumpy.core.multiarray\n_reconstruct\n" + put() + b"cnumpy\nndarray\n" + put()
        + b"K\x00\x85" + pystr(b"b") + b"\x87R" + put()
        + b"(K\x01" + small(data.shape[0]) + small(data.shape[1]) + b"\x86"
        + b"cnumpy\ndtype\n" + put() + pystr(b"u1") + b"K\x00K\x01\x87R" + put()
        + b"(K\x03" + pystr(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        + b"\x89" + pystr(data.tobytes()) + b"tb"
    )  # fmt: skip
    labels = b"]" + put() + b"(" + b"".join(small(v) for v in batch[b"labels"]) + b"e"
    names = b"]" + put() + b"(" + b"".join(pystr(f) for f in batch[b"filenames"]) + b"e"
    return (
        b"\x80\x02}" + put() + b"(" + pystr(b"data") + array + pystr(b"labels") + labels
        + pystr(b"batch_label") + pystr(batch[b"batch_label"]) + pystr(b"filenames") + names + b"u."
    )  # fmt: skip


# --- genuine batches load ------------------------------------------------------------------------
def test_genuine_protocol_2_set_loads_and_the_env_evaluates_on_it(tmp_path: Path) -> None:
    root = tmp_path / "cifar-10-batches-py"
    written = write_set(root)
    for name, batch in written.items():
        x, y = read_cifar_batch(root / name)
        assert x.shape == (N, 3, 32, 32) and x.dtype == np.uint8 and x.flags.writeable
        assert np.array_equal(x.reshape(N, 3072), batch[b"data"])
        assert y.dtype == np.int64 and y.tolist() == batch[b"labels"]
    data = load_cifar10(root, resolution=8)
    assert data.x_train.shape == (90, 3, 8, 8) and data.x_val.shape == (10, 3, 8, 8)
    assert data.x_test.shape == (N, 3, 8, 8) and data.y_test.tolist() == written[CIFAR_TEST_BATCH][b"labels"]
    all_labels = sorted(v for name in CIFAR_TRAIN_BATCHES for v in written[name][b"labels"])
    assert sorted(np.concatenate([data.y_train, data.y_val]).tolist()) == all_labels

    env = gym.make(
        "archgym/NASBench201-v0",
        dataset="cifar10",
        data_dir=str(root),
        resolution=8,
        channels=4,
        max_train=32,
        batch_size=16,
    )
    env.reset(seed=0, options={"fidelity": 1})
    design = env.unwrapped.design_space.default()
    _, reward, _, _, info = env.step(env.unwrapped.design_space.to_action(design))
    assert info["feasible"], info.get("error")
    assert 0.0 <= info["metrics"]["val_accuracy"] <= 100.0 and reward == info["metrics"]["val_accuracy"]
    env.close()


def test_python_2_numpy_batches_load(tmp_path: Path) -> None:
    batch = genuine_batch("data_batch_1", 7)
    raw = py2_batch_bytes(batch)
    with warnings.catch_warnings():  # the hand-written opcodes are a real pickle (numpy.core warns)
        warnings.simplefilter("ignore")
        reference = pickle.loads(raw, encoding="bytes")
    assert np.array_equal(reference[b"data"], batch[b"data"]) and reference[b"labels"] == batch[b"labels"]
    (tmp_path / "data_batch_1").write_bytes(raw)
    x, y = read_cifar_batch(tmp_path / "data_batch_1")
    assert np.array_equal(x.reshape(N, 3072), batch[b"data"]) and y.tolist() == batch[b"labels"]


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_pickle_protocol_of_a_genuine_batch_loads(tmp_path: Path, protocol: int) -> None:
    batch = genuine_batch("test_batch", 3)
    batch[b"fortran"] = np.asfortranarray(np.arange(12, dtype=">i4").reshape(3, 4))  # ignored, but read
    (tmp_path / "test_batch").write_bytes(pickle.dumps(batch, protocol=protocol))
    x, y = read_cifar_batch(tmp_path / "test_batch")
    assert np.array_equal(x.reshape(N, 3072), batch[b"data"]) and y.tolist() == batch[b"labels"]


def test_binary_format_batches_load(tmp_path: Path) -> None:
    written = {}
    for seed, name in enumerate((CIFAR_TRAIN_BATCHES[0], CIFAR_TRAIN_BATCHES[2], CIFAR_TEST_BATCH)):
        batch = genuine_batch(name, seed)
        records = np.column_stack([np.array(batch[b"labels"], dtype=np.uint8), batch[b"data"]])
        (tmp_path / f"{name}.bin").write_bytes(records.tobytes())
        written[name] = batch
    x, y = read_cifar_batch(tmp_path / "test_batch.bin")
    assert np.array_equal(x.reshape(N, 3072), written["test_batch"][b"data"])
    assert y.tolist() == written["test_batch"][b"labels"]
    data = load_cifar10(tmp_path, resolution=8)
    assert len(data.y_train) + len(data.y_val) == 2 * N and len(data.y_test) == N
    (tmp_path / "data_batch_2.bin").write_bytes(b"\x00" * 3072)  # one byte short of a record
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "data_batch_2.bin"))):
        load_cifar10(tmp_path, resolution=8)


# --- hostile pickles run nothing -----------------------------------------------------------------
class Payload:
    """Unpickling this runs ``func(*args)``: what a crafted "CIFAR batch" would do."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


def payloads(marker: Path, protocol: int) -> dict[str, tuple[Any, str]]:
    """Each payload and the global the file names (protocol 2 spells builtins ``__builtin__`` and
    reaches ``Path.touch`` through ``getattr``)."""
    builtins = "__builtin__" if protocol < 3 else "builtins"
    return {
        "os.system": (Payload(os.system, f"touch {marker}"), f"{os.system.__module__}.system"),
        "exec": (Payload(exec, f"open({str(marker)!r}, 'w').close()"), f"{builtins}.exec"),
        "Path.touch": (
            Payload(Path.touch, marker),
            f"{builtins}.getattr" if protocol < 4 else "pathlib.Path.touch",
        ),
    }


@pytest.mark.parametrize("protocol", [2, 4])
@pytest.mark.parametrize("kind", ["os.system", "exec", "Path.touch"])
@pytest.mark.parametrize("where", ["data", "labels", "top", "filenames"])
def test_crafted_batch_runs_nothing_and_names_file_and_global(
    tmp_path: Path, kind: str, where: str, protocol: int
) -> None:
    marker = tmp_path / "pwned"
    payload, refused = payloads(marker, protocol)[kind]
    batch: Any = genuine_batch("data_batch_1", 0)
    if where == "top":
        batch = payload
    elif where == "filenames":
        batch[b"filenames"][3] = payload
    else:
        batch[where.encode()] = payload
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(batch, protocol=protocol))
    with pytest.raises(ValueError) as caught:
        read_cifar_batch(path)
    assert str(caught.value) == f"{path}: not a CIFAR-10 batch: refusing to load global '{refused}'"
    assert not marker.exists()
    with warnings.catch_warnings():  # the control: plain pickle.load does run it
        warnings.simplefilter("ignore")
        with contextlib.suppress(Exception):
            pickle.loads(path.read_bytes(), encoding="bytes")
    assert marker.exists()


def test_env_on_a_crafted_data_dir_records_the_refusal_and_runs_nothing(tmp_path: Path) -> None:
    root, marker = tmp_path / "cifar", tmp_path / "pwned"
    write_set(root)
    (root / CIFAR_TEST_BATCH).write_bytes(pickle.dumps(Payload(os.system, f"touch {marker}"), protocol=2))
    env = gym.make("archgym/NASBench201-v0", dataset="cifar10", data_dir=str(root), resolution=8, channels=4)
    env.reset(seed=0, options={"fidelity": 1})
    _, _, _, _, info = env.step(env.unwrapped.design_space.to_action(env.unwrapped.design_space.default()))
    assert not info["feasible"]
    assert (
        f"{root / CIFAR_TEST_BATCH}: not a CIFAR-10 batch: refusing to load global 'posix.system'"
        in (info["error"])
    )
    assert not marker.exists()
    env.close()


PLAIN_DTYPE_STATE = b"(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t"
U1 = b"cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R" + PLAIN_DTYPE_STATE + b"b"
EMPTY_ARRAY = b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R"


def _stub(path: Path, body: bytes) -> Path:
    path.write_bytes(b"\x80\x02" + body + b".")
    return path


@pytest.mark.parametrize(
    ("body", "why"),
    [
        # the allowed globals only do their one job:
        (b"cnumpy\nndarray\n(K\x01tR", "refusing to call numpy.ndarray"),
        (b"cnumpy\nndarray\n)\x81", "unreadable pickle"),  # NEWOBJ: not a type
        (b"cnumpy\ndtype\nU\x02u1\x85R}b", "bad numpy.dtype state"),  # BUILD with a dict state
        (b"cnumpy\ndtype\nU\x02u1\x85RN}U\x03_fnNs\x86b", "bad numpy.dtype state"),  # ... slot state
        (
            b"cnumpy\ndtype\nU\x02u1\x85R" + PLAIN_DTYPE_STATE + b"b" + PLAIN_DTYPE_STATE + b"b",  # twice
            "dtype state",
        ),
        (b"cnumpy\ndtype\nU\x02u1\x85R(K\x03U\x01|N(U\x01xtNK\x01K\x01K\x00tb", "plain number type"),
        (b"cnumpy\ndtype\nU\x01OK\x00K\x01\x87R", "refusing an object dtype"),
        (b"cnumpy\ndtype\nU\x03V16\x85R", "only plain numbers"),
        (b"c_codecs\nencode\nN}U\x03_fnNs\x86b", "refusing to set the state of Global"),
        (b"c_codecs\nencode\nX\x01\x00\x00\x00xX\x05\x00\x00\x00rot13\x86R", "bad _codecs.encode"),
        (b"cbuiltins\nbytes\nJ\x00\x00\x00\x40\x85R", "refusing bytes() with arguments"),
        (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\ndtype\nK\x00\x85U\x01b\x87R", "_reconstruct"),
        (
            b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nJ\x00\xe1\xf5\x05\x85U\x01b\x87R",
            "_reconstruct",
        ),
        (EMPTY_ARRAY + b"(K\x01K\x02\x85U\x02u1\x89U\x02xxtb", "bad numpy array state"),  # dtype: a str
        (EMPTY_ARRAY + b"(K\x01K\x03\x85" + U1 + b"\x89U\x02xxtb", "shape (3,) with 2 bytes of uint8"),
        (EMPTY_ARRAY + b"(K\x02K\x02\x85" + U1 + b"\x89U\x02xxtb", "bad numpy array state version"),
        (EMPTY_ARRAY + (b"(K\x01K\x02\x85" + U1 + b"\x89U\x02xxtb") * 2, "bad numpy array state"),  # twice
        (b"}U\x04data" + EMPTY_ARRAY + b"s", "a numpy array without its data"),
        # a near-miss of an allowed name is just another global
        (b"cnumpy.core.multiarray\nscalar\n", "refusing to load global 'numpy.core.multiarray.scalar'"),
        (b"cnumpy\nload\n", "refusing to load global 'numpy.load'"),
        (b"\x8c\x05numpy\x8c\x0bdtype.mro()\x93", "refusing to load global 'numpy.dtype.mro()'"),
        (b"P0\n", "refusing a persistent id"),
    ],
)
def test_allowed_globals_cannot_be_turned(tmp_path: Path, body: bytes, why: str) -> None:
    path = _stub(tmp_path / "data_batch_1", body)
    with pytest.raises(
        ValueError, match=re.escape(f"{path}: not a CIFAR-10 batch: ") + ".*" + re.escape(why)
    ):
        read_cifar_batch(path)


# --- object dtypes are refused -------------------------------------------------------------------
@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize(
    "make",
    [
        lambda marker: np.array([1, 2, 3], dtype=object),
        lambda marker: np.array([Payload(os.system, f"touch {marker}")] * 2, dtype=object),
        lambda marker: np.zeros(2, dtype=[("x", np.uint8), ("o", object)]),
        lambda marker: np.zeros((N, 3072), dtype=np.uint8).astype(object),
    ],
    ids=["ints", "payload-items", "structured", "data-shaped"],
)
def test_object_dtype_arrays_are_refused(tmp_path: Path, make: Any, protocol: int) -> None:
    marker = tmp_path / "pwned"
    batch = genuine_batch("data_batch_1", 0)
    batch[b"data"] = make(marker)
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(batch, protocol=protocol))
    with pytest.raises(ValueError, match=re.escape(f"{path}: not a CIFAR-10 batch: refusing")):
        read_cifar_batch(path)
    assert not marker.exists()


def test_object_arrays_are_refused_after_loading_too(tmp_path: Path) -> None:
    path = tmp_path / "data_batch_1"
    batch = genuine_batch("data_batch_1", 0)
    batch[b"extra"] = [{b"nested": np.array([None], dtype=object)}]
    with pytest.raises(
        ValueError, match=re.escape(f"{path}: not a CIFAR-10 batch: refusing an object-dtype")
    ):
        _validate_batch(path, batch)


# --- truncated, garbage and malformed files ------------------------------------------------------
def _truncations(raw: bytes) -> list[bytes]:
    return [raw[:k] for k in (0, 1, 2, 3, 40, 120, len(raw) // 2, len(raw) - 1)]


def test_truncated_and_garbage_files_are_value_errors_naming_the_file(tmp_path: Path) -> None:
    raw = pickle.dumps(genuine_batch("data_batch_1", 0), protocol=2)
    rng = np.random.default_rng(0)
    bad_files = [
        *_truncations(raw),
        *_truncations(py2_batch_bytes(genuine_batch("data_batch_1", 0))),
        rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        b"\x80\x02" + rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        b"this is not a pickle\n",
        b"\x80\x02]q\x00(h\x00a.",  # a list containing itself: no dict
        b"\x80\x02(((((((((((((((((((((((((((((.",
        b"\x80\x02J\xff\xff\xff\x7f\x85R.",  # REDUCE on an int
    ]
    path = tmp_path / "data_batch_1"
    for content in bad_files:
        path.write_bytes(content)
        with pytest.raises(ValueError) as caught:
            read_cifar_batch(path)
        assert not isinstance(caught.value, pickle.PickleError)
        assert str(caught.value).startswith(f"{path}: not a CIFAR-10 batch: "), (content[:50], caught.value)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({b"labels": None}, "needs 'data' and 'labels'"),
        ({b"data": None}, "needs 'data' and 'labels'"),
        ({b"data": np.zeros((N, 3072), dtype=np.float32)}, "N×3072 uint8"),
        ({b"data": np.zeros((N, 3071), dtype=np.uint8)}, "N×3072 uint8"),
        ({b"data": np.zeros((N, 3, 32, 32), dtype=np.uint8)}, "N×3072 uint8"),
        ({b"data": [[0] * 3072] * N}, "N×3072 uint8"),
        ({b"labels": [0] * (N - 1)}, f"{N - 1} labels for {N} images"),
        ({b"labels": [10] * N}, "labels must be in 0..9"),
        ({b"labels": [-1] * N}, "labels must be in 0..9"),
        ({b"labels": [2**70] * N}, "labels must be in 0..9"),
        ({b"labels": [0.0] * N}, "list of ints"),
        ({b"labels": [True] * N}, "list of ints"),
        ({b"labels": np.zeros(N, dtype=np.float64)}, "list of ints"),
    ],
)
def test_malformed_batches_are_value_errors_naming_the_file(tmp_path: Path, change: dict, why: str) -> None:
    batch = {**genuine_batch("data_batch_1", 0), **change}
    batch = {k: v for k, v in batch.items() if v is not None}
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(
        ValueError, match=re.escape(f"{path}: not a CIFAR-10 batch: ") + ".*" + re.escape(why)
    ):
        read_cifar_batch(path)


def test_int_label_arrays_and_str_keys_still_load(tmp_path: Path) -> None:
    batch = genuine_batch("data_batch_1", 0)
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": batch[b"data"], "labels": np.array(batch[b"labels"])}, protocol=4))
    x, y = read_cifar_batch(path)
    assert np.array_equal(x.reshape(N, -1), batch[b"data"]) and y.tolist() == batch[b"labels"]
