"""NASBench201-v0: the cell space and its strings, the network, live training, the data loaders."""

from __future__ import annotations

import json
import math
import pickle
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import archgym
from archgym.loop import run
from archgym_nas.cell import EDGE_NAMES, OPS, all_cells, cell_string, is_connected, parse_cell_string
from archgym_nas.data import load_cifar10, read_cifar_batch
from archgym_nas.env import RESNET_CELL, NASBench201

DISCONNECTED = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"


def write_cifar(root: Path, n_train: int = 40, n_test: int = 20, batches: int = 2) -> dict[str, np.ndarray]:
    """A tiny CIFAR-10 in the standard python-pickle batch format (bytes keys, N×3072 uint8)."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    written = {}
    names = [f"data_batch_{k}" for k in range(1, batches + 1)] + ["test_batch"]
    for name in names:
        n = n_test if name == "test_batch" else n_train
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=n)]
        with open(root / name, "wb") as fh:
            pickle.dump(
                {
                    b"batch_label": name.encode(),
                    b"labels": labels,
                    b"data": data,
                    b"filenames": [b"x.png"] * n,
                },
                fh,
            )
        written[name] = data
    return written


def tiny_env(tmp_path: Path) -> NASBench201:
    write_cifar(tmp_path / "cifar")
    return NASBench201(
        channels=4,
        n_cells=1,
        dataset="cifar10",
        data_dir=str(tmp_path / "cifar"),
        resolution=8,
        batch_size=16,
    )


def test_all_15625_cells_round_trip_through_the_cell_string() -> None:
    cells = all_cells()
    assert len(cells) == 5**6 == len(set(cells))
    strings = {cell_string(c) for c in cells}
    assert len(strings) == 15_625
    space = NASBench201().design_space
    for cell in cells:
        text = cell_string(cell)
        assert parse_cell_string(text) == cell
        design = NASBench201.design_from_cell_string(text)
        assert space.validate(design) == design
        assert NASBench201.cell_string(design) == text


def test_cell_string_format_and_default_design() -> None:
    assert cell_string(["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3", "none"]) == (
        "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|"
    )
    env = NASBench201()
    assert NASBench201.cell_string(env.design_space.default()) == RESNET_CELL


@settings(max_examples=60, deadline=None)
@given(
    ops=st.lists(st.sampled_from(OPS), min_size=6, max_size=6),
    cut=st.integers(0, 60),
    junk=st.text(max_size=3),
)
def test_malformed_cell_strings_are_value_errors(ops: list[str], cut: int, junk: str) -> None:
    text = cell_string(ops)
    broken = text[:cut] + junk + text[cut + 1 :]
    try:
        parsed = parse_cell_string(broken)
    except ValueError:
        return
    assert cell_string(parsed) == broken.strip()  # whatever parses is a canonical cell string


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(st.sampled_from(OPS), min_size=6, max_size=6))
def test_connectivity_matches_a_path_search(ops: list[str]) -> None:
    succ = {
        i: [
            j
            for (j, k), op in zip(((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)), ops, strict=True)
            if k == i and op != "none"
        ]
        for i in range(4)
    }
    stack, seen = [0], set()
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(succ.get(node, []))
    assert is_connected(ops) == (3 in seen)


def test_disconnected_network_output_does_not_depend_on_input() -> None:
    import torch

    from archgym_nas.model import Network

    torch.manual_seed(0)
    net = Network(parse_cell_string(DISCONNECTED), channels=4, n_cells=2, in_channels=3, n_classes=10).eval()
    with torch.no_grad():
        out = net(torch.randn(5, 3, 8, 8))
    assert torch.allclose(out, out[:1].expand_as(out))


def test_cifar_loader_reads_the_generated_batches(tmp_path: Path) -> None:
    written = write_cifar(tmp_path)
    x, y = read_cifar_batch(tmp_path / "data_batch_1")
    assert x.shape == (40, 3, 32, 32) and x.dtype == np.uint8 and y.shape == (40,)
    assert np.array_equal(x.reshape(40, -1), written["data_batch_1"])
    data = load_cifar10(tmp_path, resolution=8)
    assert data.x_train.shape == (72, 3, 8, 8) and data.x_val.shape == (8, 3, 8, 8)
    assert data.x_test.shape == (20, 3, 8, 8) and data.n_classes == 10
    assert np.allclose(data.x_train.mean(axis=(0, 2, 3)), 0.0, atol=1e-4)
    with pytest.raises(ValueError, match="data_dir"):
        load_cifar10(tmp_path / "missing", resolution=8)


def test_one_epoch_of_real_training_on_a_tiny_dataset(tmp_path: Path) -> None:
    env = tiny_env(tmp_path)
    env.reset(seed=3, options={"fidelity": 1})
    design = NASBench201.design_from_cell_string(RESNET_CELL)
    _, reward, terminated, _, info = env.step(env.design_space.to_action(design))
    assert terminated and info["feasible"] and info["fidelity"] == 1
    assert info["cell"] == RESNET_CELL
    m = info["metrics"]
    assert reward == m["val_accuracy"] and 0.0 <= m["val_accuracy"] <= 100.0
    assert 0.0 <= m["test_accuracy"] <= 100.0 and math.isfinite(m["train_loss"]) and m["train_loss"] > 0
    assert m["params"] > 0 and m["flops"] > 0 and math.isfinite(m["synflow_log"])
    env.reset(seed=3, options={"fidelity": 1})
    _, _, _, _, again = env.step(env.design_space.to_action(design))
    same = {k: v for k, v in again["metrics"].items() if k != "train_time_s"}
    assert same == {k: v for k, v in m.items() if k != "train_time_s"}  # deterministic given the seed


def test_disconnected_cell_scores_chance(tmp_path: Path) -> None:
    env = tiny_env(tmp_path)
    env.reset(seed=0)
    design = NASBench201.design_from_cell_string(DISCONNECTED)
    _, reward, _, _, info = env.step(env.design_space.to_action(design))
    assert info["feasible"] and reward == pytest.approx(10.0)
    assert info["metrics"]["test_accuracy"] == pytest.approx(10.0)
    assert info["metrics"]["train_loss"] == pytest.approx(math.log(10))


def test_more_ops_more_params_and_flops(tmp_path: Path) -> None:
    env = tiny_env(tmp_path)
    static = {}
    for op in ("skip_connect", "nor_conv_1x1", "nor_conv_3x3"):
        env.reset(seed=0)
        design = dict.fromkeys(EDGE_NAMES, op)
        static[op] = env.step(env.design_space.to_action(design))[4]["metrics"]
    for metric in ("params", "flops"):
        skip, conv1, conv3 = (static[op][metric] for op in ("skip_connect", "nor_conv_1x1", "nor_conv_3x3"))
        assert skip < conv1 < conv3, metric


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"channels": 0}, "NASBench201: channels: 0 is not legal; legal values: integers in [1, 4096]"),
        ({"channels": True}, "NASBench201: channels: True is not legal; legal values: integers in [1, 4096]"),
        ({"n_cells": "2"}, "NASBench201: n_cells: '2' is not legal; legal values: integers in [1, 64]"),
        (
            {"dataset": "mnist"},
            "NASBench201: dataset: 'mnist' is not legal; legal values: one of ['digits', 'cifar10']",
        ),
        ({"dataset": "cifar10"}, "data_dir is required for dataset='cifar10'"),
        ({"data_dir": "/tmp"}, "data_dir applies only to dataset='cifar10'; legal values for digits: None"),
        (
            {"resolution": 2},
            "NASBench201: resolution: 2 is not legal; legal values: integers in [4, 1024] or None",
        ),
        (
            {"max_train": 0},
            "NASBench201: max_train: 0 is not legal; legal values: integers in [1, 1000000000] or None",
        ),
        (
            {"batch_size": -1},
            "NASBench201: batch_size: -1 is not legal; legal values: integers in [1, 65536]",
        ),
        ({"chanels": 8}, "NASBench201: unknown constructor argument 'chanels' (did you mean 'channels'?)"),
        ({"table_dir": "/tmp"}, "table_dir is only legal with backend='table'"),
    ],
)
def test_bad_options_are_value_errors_naming_the_option(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        NASBench201(**kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        gym.make("archgym/NASBench201-v0", **kwargs)


def test_declared_arguments_are_canonicalised() -> None:
    env = NASBench201(channels=8.0, max_train=None)
    assert env.channels == 8 and type(env.channels) is int and env.constructor_kwargs["channels"] == 8
    assert env.resolution == 16 and env.constructor_kwargs["resolution"] is None  # the dataset's default


def test_fidelity_is_epochs() -> None:
    env = gym.make("archgym/NASBench201-v0")
    fid = env.unwrapped.fidelity
    assert (fid.name, fid.low, fid.integer) == ("epochs", 1, True)
    with pytest.raises(ValueError, match="epochs"):
        env.reset(options={"fidelity": 0})


def test_loop_runs_the_env_with_two_workers(tmp_path: Path) -> None:
    data_dir = tmp_path / "cifar"
    write_cifar(data_dir)
    kwargs = {"channels": 4, "dataset": "cifar10", "data_dir": str(data_dir), "resolution": 8}
    summary = run(
        env="archgym/NASBench201-v0",
        agent="random",
        budget=4,
        seed=0,
        out=tmp_path / "out",
        env_kwargs=kwargs,
        workers=2,
        progress=False,
    )
    assert summary["n_evaluations"] == 4
    assert set(summary["best_design"]) == set(EDGE_NAMES)
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["n_evaluations"] == 4


def test_registered_and_check_env_passes_on_the_tiny_dataset(tmp_path: Path) -> None:
    assert "archgym/NASBench201-v0" in archgym.get_registry().env_plugins
    archgym.check_env(tiny_env(tmp_path), n_designs=3)


@pytest.mark.parametrize(
    ("op", "params", "mflops"), [("none", 0.073306, 15.56608), ("nor_conv_3x3", 1.531546, 440.23936)]
)
def test_benchmark_sized_network_matches_the_papers_size_range(op: str, params: float, mflops: float) -> None:
    """At C=16, N=5 on 32×32×3 inputs, NAS-Bench-201's cells span 0.073–1.531 M parameters and
    7.78–220.11 M multiply-adds (the paper's "FLOPs"); torch counts 2 FLOPs per multiply-add."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from archgym_nas.model import Network

    net = Network([op] * 6, channels=16, n_cells=5, in_channels=3, n_classes=10).eval()
    assert sum(p.numel() for p in net.parameters()) / 1e6 == pytest.approx(params)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(torch.zeros(1, 3, 32, 32))
    assert counter.get_total_flops() / 1e6 == pytest.approx(mflops)
    assert mflops / 2 == pytest.approx({"none": 7.78, "nor_conv_3x3": 220.11}[op], abs=0.01)
