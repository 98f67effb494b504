"""The accelerator envs: equal to direct simulator calls, robust on random designs, parallel-safe."""

from __future__ import annotations

import csv
import math
import os
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archgym
from archgym.env import EvalContext
from archgym.loop import run
from archgym_accelerators.systolic import (
    ARRAY_DIMS,
    BANDWIDTHS,
    DATAFLOWS,
    SRAM_KB,
    SystolicArray,
    area_estimate_mm2,
)
from archgym_accelerators.workloads import SHIPPED, load_layers, workload_path
from archgym_accelerators.zigzag_env import (
    ZigZag,
    accelerator_description,
    layer_description,
    memory_parameters,
)

SCALESIM_CFG = """[general]
run_name = direct

[architecture_presets]
ArrayHeight: {array_rows}
ArrayWidth: {array_cols}
IfmapSramSzkB: {ifmap_sram_kb}
FilterSramSzkB: {filter_sram_kb}
OfmapSramSzkB: {ofmap_sram_kb}
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth: {dram_bandwidth}
Dataflow: {dataflow}
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: {dram_bandwidth}
IfmapSRAMBankNum: 1
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: {dram_bandwidth}
FilterSRAMBankNum: 1
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport: false

[run_presets]
InterfaceBandwidth: USER
UseRamulatorTrace: False
"""


def direct_scalesim(design: dict[str, Any], topology: Path, tmp: Path) -> dict[str, list[list[float]]]:
    """SCALE-Sim's own entry point with config, topology and layout files, as its README runs it."""
    from scalesim.scale_sim import scalesim

    (tmp / "scale.cfg").write_text(SCALESIM_CFG.format(**design))
    (tmp / "layout.csv").write_text("Layer name,\n")  # required by scalesim(); unused without custom layout
    sim = scalesim(
        save_disk_space=True,
        verbose=False,
        config=str(tmp / "scale.cfg"),
        topology=str(topology),
        layout=str(tmp / "layout.csv"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        sim.run_scale(top_path=str(tmp / "out"))
    reports = {}
    for name in ("COMPUTE_REPORT", "DETAILED_ACCESS_REPORT"):
        with open(tmp / "out" / "direct" / f"{name}.csv") as f:
            rows = list(csv.reader(f))[1:]
        reports[name] = [[float(x) for x in row[1:] if x.strip()] for row in rows]
    return reports


def step(env: gym.Env[Any, Any], design: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(env.unwrapped.design_space.to_action(design))
    assert terminated
    return reward, info


DEFAULT = {
    "array_rows": 32,
    "array_cols": 32,
    "dataflow": "ws",
    "ifmap_sram_kb": 64,
    "filter_sram_kb": 64,
    "ofmap_sram_kb": 64,
    "dram_bandwidth": 16,
}
FIXED_DESIGNS = [
    DEFAULT,
    DEFAULT | {"array_rows": 8, "array_cols": 64, "dataflow": "os", "dram_bandwidth": 4},
    DEFAULT
    | {
        "array_rows": 16,
        "array_cols": 16,
        "dataflow": "is",
        "ifmap_sram_kb": 1,
        "filter_sram_kb": 2,
        "ofmap_sram_kb": 1,
    },  # small SRAM: stalls
    DEFAULT | {"array_rows": 128, "array_cols": 8, "dram_bandwidth": 1},  # DRAM-bound
]


@pytest.mark.parametrize(
    "design", FIXED_DESIGNS, ids=lambda d: "{array_rows}x{array_cols}-{dataflow}".format(**d)
)
def test_systolic_equals_direct_scalesim(design: dict[str, Any], tmp_path: Path) -> None:
    env = gym.make("archgym/SystolicArray-v0")
    reward, info = step(env, design)
    assert info["feasible"], info
    reports = direct_scalesim(design, workload_path("tiny_cnn"), tmp_path)
    metrics = info["metrics"]
    names = [layer.name for layer in load_layers("tiny_cnn")]
    compute = reports["COMPUTE_REPORT"]  # incl. prefetch, total, stalls, util, mapping eff, compute util
    assert [metrics[f"cycles.{n}"] for n in names] == [row[0] for row in compute]
    assert metrics["cycles"] == sum(row[0] for row in compute) == -reward
    assert metrics["array_cycles"] == sum(row[1] for row in compute)
    assert metrics["stall_cycles"] == sum(row[2] for row in compute)
    weighted = sum(row[3] * row[1] for row in compute) / sum(row[1] for row in compute)
    assert metrics["utilization_pct"] == pytest.approx(weighted, rel=1e-12)
    detail = reports["DETAILED_ACCESS_REPORT"]  # (start, stop, count) × SRAM/DRAM × ifmap/filter/ofmap
    for i, key in enumerate(
        (
            "sram_ifmap_reads",
            "sram_filter_reads",
            "sram_ofmap_writes",
            "dram_ifmap_reads",
            "dram_filter_reads",
            "dram_ofmap_writes",
        )
    ):
        assert metrics[key] == sum(row[3 * i + 2] for row in detail), key
    assert metrics["area_estimate_mm2"] == area_estimate_mm2(design)


def test_systolic_design_changes_change_cycles() -> None:
    env = gym.make("archgym/SystolicArray-v0")
    base = step(env, DEFAULT)[1]["metrics"]
    starved = step(env, DEFAULT | {"dram_bandwidth": 1})[1]["metrics"]
    small = {"ifmap_sram_kb": 1, "filter_sram_kb": 1, "ofmap_sram_kb": 1}
    tiny_sram = step(env, DEFAULT | small)[1]["metrics"]
    assert starved["cycles"] > base["cycles"]  # USER bandwidth mode: bandwidth matters
    assert tiny_sram["stall_cycles"] > base["stall_cycles"] == 0  # and SRAM size matters
    assert sum(v for k, v in base.items() if k.startswith("cycles.")) == base["cycles"]


def test_systolic_files_stay_in_the_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = SystolicArray()
    context = EvalContext(fidelity=None, rng=np.random.default_rng(0), step=0)
    env.evaluate(DEFAULT, context)
    workdir = context.workdir
    assert sorted(p.name for p in workdir.rglob("*.csv")) == [
        "BANDWIDTH_REPORT.csv",
        "COMPUTE_REPORT.csv",
        "DETAILED_ACCESS_REPORT.csv",
    ]
    context.cleanup()
    assert not workdir.exists()
    assert list(tmp_path.iterdir()) == []  # nothing written to the working directory


@pytest.fixture(scope="module")
def one_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("topology") / "one_layer.csv"
    path.write_text(
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
        "Num Filter, Strides,\nconv, 10, 10, 3, 3, 4, 8, 1,\n"
    )
    return path


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.sampled_from(ARRAY_DIMS),
    cols=st.sampled_from(ARRAY_DIMS),
    dataflow=st.sampled_from(DATAFLOWS),
    srams=st.tuples(*[st.sampled_from(SRAM_KB)] * 3),
    bandwidth=st.sampled_from(BANDWIDTHS),
    shape=st.tuples(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9), st.integers(1, 3)),
)
def test_systolic_random_designs_never_crash(
    rows: int,
    cols: int,
    dataflow: str,
    srams: tuple[int, ...],
    bandwidth: int,
    shape: tuple[int, ...],
    tmp_path: Path,
) -> None:
    size, channels, filters, stride = shape
    topology = tmp_path / "random.csv"
    topology.write_text(
        f"header,\nconv, {size + 2}, {size + 2}, 3, 3, {channels}, {filters}, {stride},\n"
        f"fc, 1, 1, 1, 1, {filters}, 4, 1,\n"
    )
    env = SystolicArray(workload=str(topology))
    design = {
        "array_rows": rows,
        "array_cols": cols,
        "dataflow": dataflow,
        "ifmap_sram_kb": srams[0],
        "filter_sram_kb": srams[1],
        "ofmap_sram_kb": srams[2],
        "dram_bandwidth": bandwidth,
    }
    env.reset(seed=0)
    obs, reward, terminated, _, info = env.step(env.design_space.to_action(design))
    assert terminated and np.all(np.isfinite(obs))
    if info["feasible"]:
        assert reward == -info["metrics"]["cycles"] < 0
        assert 0 < info["metrics"]["utilization_pct"] <= 100
    else:
        assert reward == env.objective.penalty and info["error"]


def test_systolic_objectives() -> None:
    pareto = gym.make("archgym/SystolicArray-v0", objective="latency_area")
    reward, info = step(pareto, DEFAULT)
    assert isinstance(reward, np.ndarray)
    assert list(reward) == [-info["metrics"]["cycles"], -info["metrics"]["area_estimate_mm2"]]
    reference = pareto.unwrapped.reference_point
    assert np.all(reward > reference)
    archgym.check_env(pareto, n_designs=1)
    met = gym.make(
        "archgym/SystolicArray-v0",
        objective="targets",
        targets={"cycles": 1e6, "area_estimate_mm2": ["<=", 10.0]},
    )
    assert step(met, DEFAULT)[0] == 0.0
    missed = gym.make("archgym/SystolicArray-v0", objective="targets", targets={"cycles": ["<=", 1000]})
    assert step(missed, DEFAULT)[0] == pytest.approx(-(info["metrics"]["cycles"] - 1000) / 1000)


def test_area_estimate_uses_the_cited_figures() -> None:
    design = DEFAULT | {
        "array_rows": 16,
        "array_cols": 8,
        "ifmap_sram_kb": 1,
        "filter_sram_kb": 1,
        "ofmap_sram_kb": 2,
    }
    # 128 PEs × (282 + 137) µm², 4 KB × 8192 bits × 0.346 µm²
    assert area_estimate_mm2(design) == pytest.approx((128 * 419 + 4 * 8192 * 0.346) * 1e-6)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"workload": "alexnet"}, "workload"),
        ({"workload": "/no/such/file.csv"}, "workload"),
        ({"objective": "energy"}, "objective"),
        ({"objective": "targets"}, "targets"),
        ({"targets": {"cycles": 10}}, "targets"),
        ({"objective": "targets", "targets": {"watts": 10}}, "targets"),
        ({"objective": "targets", "targets": {"cycles": ["<", 10]}}, "targets"),
    ],
)
def test_systolic_bad_arguments(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        SystolicArray(**kwargs)


def test_systolic_declared_arguments_and_versions() -> None:
    from importlib.metadata import version

    with pytest.raises(
        ValueError,
        match=r"^SystolicArray: objective: 'energy' is not legal; legal values: one of "
        r"\['latency', 'latency_area', 'targets'\]$",
    ):
        SystolicArray(objective="energy")
    with pytest.raises(ValueError, match=r"^SystolicArray: objective: 'energy' is not legal"):
        SystolicArray("tiny_cnn", "energy")  # positional arguments are checked too
    assert SystolicArray().versions() == {"scalesim": version("scalesim")}


@pytest.mark.parametrize(
    ("row", "why"),
    [
        ("conv, 10, 10, 3, 3, 4, 8,", "expected 8 fields"),
        ("conv, 2, 10, 3, 3, 4, 8, 1,", "filter is larger"),
        ("conv, 10, 10, 3, 3, 0, 8, 1,", ">= 1"),
        ("convDP, 10, 10, 3, 3, 4, 8, 1,", "depthwise"),
        ("conv, 10, 10, 3, x, 4, 8, 1,", "integers"),
    ],
)
def test_malformed_topology_is_a_value_error(row: str, why: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(f"header,\n{row}\n")
    with pytest.raises(ValueError, match=why):
        load_layers(str(path))


def test_shipped_workloads_load() -> None:
    macs = {name: sum(layer.macs for layer in load_layers(name)) for name in SHIPPED}
    assert macs == {"tiny_cnn": 276_640, "lenet5": 416_520, "resnet20": 40_551_040}
    assert len(load_layers("resnet20")) == 20  # 19 conv + FC: the "20" of ResNet-20


def test_systolic_workers_do_not_change_results(tmp_path: Path) -> None:
    def rows_of(name: str, workers: int) -> list[dict[str, Any]]:
        run(
            env="archgym/SystolicArray-v0",
            agent="random",
            agent_params={"batch_size": 4},
            budget=8,
            seed=3,
            out=tmp_path / name,
            workers=workers,
            progress=False,
        )
        table = pq.read_table(tmp_path / name / "evaluations.parquet")
        rows = sorted(table.to_pylist(), key=lambda r: r["step"])
        return [
            {k: v for k, v in r.items() if k.startswith(("param.", "metric.", "reward", "feasible"))}
            for r in rows
        ]

    one, two = rows_of("w1", 1), rows_of("w2", 2)
    assert one == two
    assert all(r["feasible"] for r in one) and len(one) == 8
    assert all(math.isfinite(r["reward"]) for r in one)


def test_plugin_import_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, archgym, archgym_accelerators.plugin, archgym_accelerators.workloads; "
        "print(sorted(m for m in ('scalesim', 'zigzag', 'onnx', 'yaml') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | {"PYTHONWARNINGS": "ignore"},
    )
    assert out.stdout.strip() == "[]"


# --- ZigZag ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_layers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LeNet-5's C1 and C3: small, and not fully unrolled in space (the stock API's drawing
    stage crashes on a layer without temporal loops)."""
    path = tmp_path_factory.mktemp("zigzag") / "two.csv"
    path.write_text("header,\nC1, 32, 32, 5, 5, 1, 6, 1,\nC3, 14, 14, 5, 5, 6, 16, 1,\n")
    return path


def stock_zigzag(workload: Any, accelerator: str, mapping: str, dump: Path) -> tuple[float, float]:
    """ZigZag's own API, as its README calls it (it configures the root logger: restored after)."""
    import logging

    from zigzag.api import get_hardware_performance_zigzag

    root = logging.getLogger()
    saved = root.level, list(root.handlers)
    try:
        energy, latency, _ = get_hardware_performance_zigzag(
            workload,
            accelerator,
            mapping,
            opt="EDP",
            dump_folder=str(dump),
            lpf_limit=4,
            loma_show_progress_bar=False,
        )
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
    return energy, latency


def evaluate_directly(env: Any, design: dict[str, Any]) -> dict[str, float]:
    context = EvalContext(fidelity=None, rng=np.random.default_rng(0), step=0)
    try:
        return dict(env.evaluate(design, context))
    finally:
        context.cleanup()


@pytest.mark.parametrize(("template", "mapping"), [("tpu_like", "tpu_like"), ("eyeriss_like", "default")])
def test_zigzag_template_equals_stock_api_on_shipped_files(
    template: str, mapping: str, two_layers: Path, tmp_path: Path
) -> None:
    # The default design is the template itself; ZigZag's stock mappings unroll K and C, reduced
    # to the array size (eyeriss_like: 14 × 12) — the env's default spatial mapping.
    from importlib.resources import files

    env = ZigZag(template=template, workload=str(two_layers))
    metrics = evaluate_directly(env, env.design_space.default())
    inputs = files("zigzag") / "inputs"
    energy, latency = stock_zigzag(
        layer_description(env.layers),
        str(inputs / "hardware" / f"{template}.yaml"),
        str(inputs / "mapping" / f"{mapping}.yaml"),
        tmp_path / "dump",
    )
    assert metrics["energy_pj"] == energy
    assert metrics["latency_cycles"] == latency
    assert metrics["edp"] == energy * latency
    assert metrics["energy_pj"] == pytest.approx(metrics["mac_energy_pj"] + metrics["memory_energy_pj"])
    assert metrics["memory_energy_pj"] == pytest.approx(
        sum(metrics[f"{op}_memory_energy_pj"] for op in ("weight", "input", "output"))
    )
    assert sum(metrics[f"energy_pj.{n}"] for n in ("C1", "C3")) == pytest.approx(energy)


def test_zigzag_design_equals_stock_api_on_the_env_inputs(two_layers: Path, tmp_path: Path) -> None:
    env = ZigZag(workload=str(two_layers))
    design = env.design_space.validate(
        {
            "d1": 32,
            "d2": 16,
            "d1_loop": "OX",
            "d1_split": 2,
            "d1_loop2": "FX",
            "d2_loop": "K",
            "d2_split": 1,
            "weight_rf_bytes": 512,
            "output_rf_bytes": 8,
            "global_buffer_bytes": 524288,
        }
    )
    metrics = evaluate_directly(env, design)
    accelerator, mapping = env.write_inputs(design, tmp_path)
    energy, latency = stock_zigzag(
        layer_description(env.layers), str(accelerator), str(mapping), tmp_path / "dump"
    )
    assert (metrics["energy_pj"], metrics["latency_cycles"]) == (energy, latency)

    import yaml

    written = yaml.safe_load(accelerator.read_text())
    template = env.template
    assert list(written["memories"]) == list(template["memories"])  # the hierarchy order is kept
    assert written["operational_array"]["sizes"] == [32, 16]
    sram = written["memories"]["sram_2MB"]
    assert sram["size"] == 8 * 524288
    assert sram["r_cost"] == pytest.approx(template["memories"]["sram_2MB"]["r_cost"] * 0.5)  # sqrt(1/4)
    assert written["memories"]["dram"] == template["memories"]["dram"]
    spatial = yaml.safe_load(mapping.read_text())[0]["spatial_mapping"]
    assert spatial == {"D1": ["OX, 16", "FX, 2"], "D2": ["K, 16"]}


def test_zigzag_files_stay_in_the_workdir(
    two_layers: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = ZigZag(workload=str(two_layers))
    context = EvalContext(fidelity=None, rng=np.random.default_rng(0), step=0)
    env.evaluate(env.design_space.default(), context)
    assert sorted(p.name for p in context.workdir.iterdir()) == ["accelerator.yaml", "mapping.yaml"]
    context.cleanup()
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def one_conv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("zigzag") / "one.csv"
    path.write_text("header,\nconv, 10, 10, 3, 3, 8, 16, 1,\n")
    return path


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), legal=st.booleans())
def test_zigzag_random_designs_never_crash(seed: int, legal: bool, one_conv: Path) -> None:
    env = ZigZag(workload=str(one_conv))
    rng = np.random.default_rng(seed)
    env.reset(seed=0)
    env.action_space.seed(seed)
    # illegal: what an RL agent sends, any action, forbidden combinations included
    action = env.design_space.to_action(env.design_space.sample(rng)) if legal else env.action_space.sample()
    obs, reward, terminated, _, info = env.step(action)
    assert terminated and np.all(np.isfinite(obs))
    if info["feasible"]:
        assert reward == -info["metrics"]["edp"] < 0
        assert 0 < info["metrics"]["utilization_pct"] <= 100
    else:
        assert reward == env.objective.penalty and info["error"]
        assert not legal or "forbidden" not in info["error"]


def test_zigzag_forbidden_mappings_are_infeasible(one_conv: Path) -> None:
    env = ZigZag(workload=str(one_conv), template="eyeriss_like")
    default = env.design_space.default()
    for change, why in [
        ({"d2_loop": "K"}, "at most one array dimension"),
        ({"d1_split": 4, "d1_loop2": "OX"}, "d1_split divides d1"),
    ]:  # 14 % 4 != 0
        env.reset(seed=0)
        _, reward, _, _, info = env.step(env.design_space.to_action(default | change, check=False))
        assert not info["feasible"] and why in info["error"] and reward == -1e30


def test_zigzag_two_objectives(one_conv: Path) -> None:
    env = gym.make("archgym/ZigZag-v0", workload=str(one_conv), objective="energy_latency")
    reward, info = step(env, env.unwrapped.design_space.default())
    assert list(reward) == [-info["metrics"]["energy_pj"], -info["metrics"]["latency_cycles"]]
    assert np.all(reward > env.unwrapped.reference_point)
    assert env.unwrapped.reward_space.contains(reward)


def test_zigzag_memory_parameters_follow_the_templates() -> None:
    tpu = ZigZag().template
    assert memory_parameters(tpu) == {
        "rf_128B": "weight_rf_bytes",
        "rf_2B": "output_rf_bytes",
        "sram_2MB": "global_buffer_bytes",
    }
    eyeriss = ZigZag(template="eyeriss_like")
    assert eyeriss.design_space.default()["d1"] == 14
    assert eyeriss.design_space["output_buffer_bytes"].values == (2048, 4096, 8192, 16384, 32768)
    design = eyeriss.design_space.default()
    assert accelerator_description(eyeriss.template, design)["memories"] == eyeriss.template["memories"]


def test_zigzag_onnx_workloads_construct_without_per_layer_metrics() -> None:
    env = ZigZag(workload="onnx:mobilenetv2")
    assert env.layers is None and Path(env.onnx_path).is_file()
    assert not any("." in m for m in env.metric_units)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"template": "tpu"}, "template"),
        ({"workload": "onnx:vgg16"}, "workload"),
        ({"workload": "resnet50"}, "workload"),
        ({"workload": "/no/such/model.onnx"}, "workload"),
        ({"objective": "latency"}, "objective"),
        ({"criterion": "area"}, "criterion"),
        ({"lpf_limit": 0}, "lpf_limit"),
    ],
)
def test_zigzag_bad_arguments(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        ZigZag(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"template": "tpu"},
            r"template: 'tpu' is not legal; legal values: one of \['tpu_like', 'eyeriss_like'\]",
        ),
        ({"objective": "latency"}, r"objective: 'latency' is not legal; legal values: one of \['edp', "),
        ({"criterion": "area"}, r"criterion: 'area' is not legal; legal values: one of \['edp', 'energy', "),
        ({"lpf_limit": 0}, r"lpf_limit: 0 is not legal; legal values: integers in \[1, 8\]"),
        ({"lpf_limit": 10**30}, r"lpf_limit: 10+ is not legal; legal values: integers in \[1, 8\]"),
        ({"lpf_limit": 4.5}, r"lpf_limit: 4.5 is not legal; legal values: integers in \[1, 8\]"),
    ],
)
def test_zigzag_declared_arguments_give_their_legal_values(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"^ZigZag: {message}"):
        ZigZag(**kwargs)


def test_zigzag_argument_types_and_versions() -> None:
    from importlib.metadata import version

    env = ZigZag("tpu_like", "tiny_cnn", "edp", "edp", 3.0)  # positional, integral float
    assert env.lpf_limit == 3 and type(env.lpf_limit) is int
    assert env.versions() == {"zigzag-dse": version("zigzag-dse")}


def test_zigzag_workers_do_not_change_results(one_conv: Path, tmp_path: Path) -> None:
    def rows_of(name: str, workers: int) -> list[dict[str, Any]]:
        run(
            env="archgym/ZigZag-v0",
            env_kwargs={"workload": str(one_conv)},
            agent="random",
            agent_params={"batch_size": 3},
            budget=6,
            seed=5,
            out=tmp_path / name,
            workers=workers,
            progress=False,
        )
        table = pq.read_table(tmp_path / name / "evaluations.parquet")
        return [
            {k: v for k, v in r.items() if k.startswith(("param.", "metric.", "reward", "feasible"))}
            for r in sorted(table.to_pylist(), key=lambda r: r["step"])
        ]

    one, two = rows_of("w1", 1), rows_of("w2", 2)
    assert one == two and len(one) == 6
    assert all(r["feasible"] for r in one)
