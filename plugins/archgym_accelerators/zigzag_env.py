"""``archgym/ZigZag-v0``: DNN-accelerator energy and latency on ZigZag (analytical model + mapper).

ZigZag (Mei et al., IEEE TC 2021; ``zigzag-dse``) is run in-process through its stage
pipeline, the same stages its ``get_hardware_performance_zigzag`` API chains minus the ones
that only save or draw results (JSON, pickle, loop-ordering text, a PNG — those write into
the working directory by default, and the drawing stage crashes on a layer that is fully
unrolled in space). ZigZag reads the accelerator and the mapping only from YAML files: each
evaluation writes its own two into ``context.workdir``, keeping the memory order (which *is*
the hierarchy; ``yaml.safe_dump`` sorts keys unless told not to).

The hardware starts from a template shipped inside ``zigzag-dse`` (``tpu_like``,
``eyeriss_like``). The design changes the operational-array size, the spatial mapping and the
on-chip memory capacities. Energy per access of a resized memory is the template's value
scaled by sqrt(new size / template size) — an estimate (see ``docs/env-zigzag.md``).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from archgym import (
    Categorical,
    Condition,
    Constraint,
    DesignEnv,
    DesignSpace,
    EvalContext,
    Integer,
    Objective,
    Objectives,
    Ordinal,
)
from archgym_accelerators.workloads import SHIPPED, Layer, load_layers

__all__ = ["TEMPLATES", "ZigZag", "accelerator_description", "layer_description", "mapping_description"]

TEMPLATES = ("tpu_like", "eyeriss_like")
ONNX_MODELS = ("resnet18", "alexnet", "mobilenetv2")  # shipped in zigzag/inputs/workload
LOOPS = ("K", "C", "OX", "OY", "FX", "FY")
SPLITS = (1, 2, 4)
ARRAY_SIZES = (8, 16, 32, 64)  # below 8 LOMA searches for seconds per layer
SIZE_STEPS = (-2, -1, 0, 1, 2)  # memory capacities: template size × 2**step
MIN_MEMORY_BYTES = 2  # one 16-bit partial sum
CRITERIA = {"edp": "MinimalEDPStage", "energy": "MinimalEnergyStage", "latency": "MinimalLatencyStage"}
OBJECTIVES = ("edp", "energy_latency")
PRECISION = {"W": 8, "I": 8, "O": 16, "O_final": 8}

EDP_PENALTY = -1e30
ENERGY_PENALTY = -1e20
LATENCY_PENALTY = -1e15

_ROLE = {"I1": "input", "I2": "weight", "O": "output"}


ZIGZAG_STATISTICS = (
    "macs",
    "pe_count",
    "rf_bytes_per_pe",
    "onchip_bytes",
    "spatial_cycles",
    "spatial_utilization_estimate",
)
"""Free statistics of a layer-set workload's designs: see :meth:`ZigZag.statistics`."""


def _template(name: str) -> dict[str, Any]:
    import yaml

    return yaml.safe_load((files("zigzag") / "inputs" / "hardware" / f"{name}.yaml").read_text())


def memory_parameters(template: Mapping[str, Any]) -> dict[str, str]:
    """On-chip memory name → design parameter name, e.g. ``sram_2MB`` → ``global_buffer_bytes``.

    The role comes from the memory's operands (I1 input, I2 weight, O output; several: global)
    and whether it is private to a PE (``rf``) or shared across the array (``buffer``).
    """
    names = {}
    for name, memory in template["memories"].items():
        if name == "dram":
            continue
        operands = memory["operands"]
        role = _ROLE[operands[0]] if len(operands) == 1 else "global"
        kind = "rf" if not memory.get("served_dimensions") else "buffer"
        names[name] = f"{role}_{kind}_bytes"
    if len(set(names.values())) != len(names):
        raise ValueError(f"template memories {list(names)} give duplicate parameter names")
    return names


def _distinct_loops(design: Mapping[str, Any]) -> bool:
    loops = [design[k] for k in ("d1_loop", "d1_loop2", "d2_loop", "d2_loop2") if k in design]
    return len(set(loops)) == len(loops)


def _d1_split_divides(design: Mapping[str, Any]) -> bool:
    return design["d1"] % design["d1_split"] == 0 and design["d1"] > design["d1_split"]


def _d2_split_divides(design: Mapping[str, Any]) -> bool:
    return design["d2"] % design["d2_split"] == 0 and design["d2"] > design["d2_split"]


def spatial_mapping(design: Mapping[str, Any]) -> dict[str, list[str]]:
    """ZigZag's ``spatial_mapping`` of a design: per array dimension, ``"LOOP, factor"`` entries
    whose factors multiply to the dimension's size (a split puts a second loop on it)."""
    mapping = {}
    for dim in ("d1", "d2"):
        size, split = design[dim], design[f"{dim}_split"]
        entries = [f"{design[f'{dim}_loop']}, {size // split}"]
        if split > 1:
            entries.append(f"{design[f'{dim}_loop2']}, {split}")
        mapping[dim.upper()] = entries
    return mapping


def mapping_description(design: Mapping[str, Any]) -> list[dict[str, Any]]:
    """ZigZag's mapping list: the design's spatial mapping for every layer, and for the
    element-wise Add/Pooling layers of ONNX models the array's first dimension over channels."""
    links = {"O": "O", "W": "I2", "I": "I1"}
    elementwise = {"D1": [f"G, {design['d1']}"], "D2": ["C, 1"]}
    return [
        {"name": "default", "spatial_mapping": spatial_mapping(design), "memory_operand_links": links},
        {"name": "Add", "spatial_mapping": elementwise, "memory_operand_links": links},
        {"name": "Pooling", "spatial_mapping": elementwise, "memory_operand_links": links},
    ]


def accelerator_description(template: Mapping[str, Any], design: Mapping[str, Any]) -> dict[str, Any]:
    """The template with the design's array size and memory capacities; a resized memory's
    read/write energy is scaled by sqrt(new / template capacity)."""
    accelerator = copy.deepcopy(dict(template))
    accelerator["name"] = f"{template['name']}_archgym"
    accelerator["operational_array"]["sizes"] = [int(design["d1"]), int(design["d2"])]
    for name, parameter in memory_parameters(template).items():
        memory = accelerator["memories"][name]
        bits = 8 * int(design[parameter])
        scale = math.sqrt(bits / template["memories"][name]["size"])
        memory["size"] = bits
        memory["r_cost"] = template["memories"][name]["r_cost"] * scale
        memory["w_cost"] = template["memories"][name]["w_cost"] * scale
    return accelerator


def layer_description(layers: tuple[Layer, ...]) -> list[dict[str, Any]]:
    """The layer set in ZigZag's workload format: a chain of dense convolutions, 8-bit weights
    and activations, 16-bit partial sums (as in ZigZag's example workloads)."""
    workload = []
    for i, layer in enumerate(layers):
        workload.append(
            {
                "id": i,
                "name": layer.name,
                "operator_type": "Conv",
                "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
                "dimension_relations": [f"ix={layer.stride}*ox+1*fx", f"iy={layer.stride}*oy+1*fy"],
                "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
                "loop_sizes": [
                    1,
                    layer.filters,
                    layer.channels,
                    layer.ofmap_h,
                    layer.ofmap_w,
                    layer.filter_h,
                    layer.filter_w,
                ],
                "operand_precision": dict(PRECISION),
                "operand_source": {"I": max(i - 1, 0), "W": i},
            }
        )
    return workload


@contextmanager
def _quiet_zigzag() -> Iterator[None]:
    """ZigZag logs a WARNING for every reduced unrolling and every operator without its own
    mapping; Python would print them all to stderr. Keep them out of runs (and restore)."""
    logger = logging.getLogger("zigzag")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def run_zigzag(
    workload: Any, accelerator_yaml: Path, mapping_yaml: Path, *, criterion: str = "edp", lpf_limit: int = 4
) -> Any:
    """ZigZag's API pipeline without its saving/drawing stages; returns its summed evaluation
    and the per-layer ones as ``[(CumulativeCME, [(layer CME, extra), ...])]``."""
    from zigzag.mapping.temporal_mapping import TemporalMappingType
    from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
    from zigzag.stages.main import MainStage
    from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage
    from zigzag.stages.mapping.temporal_mapping_generator_stage import TemporalMappingGeneratorStage
    from zigzag.stages.parser.accelerator_parser import AcceleratorParserStage
    from zigzag.stages.parser.onnx_model_parser import ONNXModelParserStage
    from zigzag.stages.parser.workload_parser import WorkloadParserStage
    from zigzag.stages.results import reduce_stages
    from zigzag.stages.workload_iterator import WorkloadStage

    reduce = getattr(reduce_stages, CRITERIA[criterion])
    parser = ONNXModelParserStage if isinstance(workload, str) else WorkloadParserStage
    stages = [
        parser,
        AcceleratorParserStage,
        reduce_stages.SumStage,
        WorkloadStage,
        reduce,
        SpatialMappingGeneratorStage,
        reduce,
        TemporalMappingGeneratorStage,
        CostModelStage,
    ]
    main = MainStage(
        stages,
        accelerator=str(accelerator_yaml),
        workload=workload,
        mapping=str(mapping_yaml),
        # the API's other keyword arguments, at its defaults; no stage here writes a dump
        dump_folder=str(accelerator_yaml.parent),
        pickle_filename=str(accelerator_yaml.parent / "cmes.pickle"),
        loma_lpf_limit=lpf_limit,
        loma_show_progress_bar=False,
        nb_mappings_generated=3,
        enable_mix_spatial_mapping_generation=False,
        access_same_data_considered_as_no_access=True,
        temporal_mapping_type=TemporalMappingType("uneven"),
    )
    with _quiet_zigzag():
        return main.run()


class ZigZag(DesignEnv):
    """DNN-accelerator design on ZigZag: energy (pJ) and latency (cycles) of a layer set.

    Design: operational-array size ``d1`` × ``d2``; spatial mapping: the loop unrolled over
    each array dimension (``d1_loop``, ``d2_loop``), optionally split with a second loop
    (``d1_split`` ∈ {1, 2, 4}: ``d1_loop`` × d1/split and ``d1_loop2`` × split; the split must
    divide the dimension); on-chip memory capacities ``*_bytes`` (template size × 1/4 … 4).
    Forbidden: a loop unrolled twice; a split that does not divide its dimension.

    Args:
        template: ZigZag's hardware template, ``"tpu_like"`` (32×32, 4 memories) or
            ``"eyeriss_like"`` (14×12, 6 memories; 2-15 s per evaluation here).
        workload: a shipped layer set (``"tiny_cnn"``, ``"lenet5"``, ``"resnet20"``), a path to
            a SCALE-Sim conv topology CSV, ``"onnx:<model>"`` for ZigZag's shipped ONNX models
            (``resnet18``, ``alexnet``, ``mobilenetv2``; 25-190 s each) or a path to an ONNX file.
        objective: ``"edp"`` (min energy × latency) or ``"energy_latency"`` (two objectives).
        criterion: what ZigZag's mapper minimises per layer: ``"edp"``, ``"energy"``, ``"latency"``.
        lpf_limit: ZigZag's LOMA search effort (loop prime factors; its API default, 6, was
            7-25× slower here with the same result on the default design of tiny_cnn and lenet5).

    Penalty: -1e30 (edp); (-1e20, -1e15) (energy_latency).
    """

    # workload (a name, "onnx:<model>" or a path) is checked in __init__
    arguments = (
        Categorical("template", TEMPLATES),
        Categorical("objective", OBJECTIVES),
        Categorical("criterion", tuple(CRITERIA)),
        Integer("lpf_limit", 1, 8),
    )
    simulator_packages = ("zigzag-dse",)

    def __init__(
        self,
        template: str = "tpu_like",
        workload: str = "tiny_cnn",
        objective: str = "edp",
        criterion: str = "edp",
        lpf_limit: int = 4,
    ) -> None:
        # int(): a positional lpf_limit=4.0 is legal but is not converted by the base class
        self.template_name, self.criterion, self.lpf_limit = template, criterion, int(lpf_limit)
        self.template = _template(template)
        self.workload = str(workload)
        self.layers, self.onnx_path = _workload(workload)
        array = self.template["operational_array"]["sizes"]
        memories = memory_parameters(self.template)
        parameters = [
            Ordinal("d1", sorted({*ARRAY_SIZES, array[0]}), default=array[0]),
            Ordinal("d2", sorted({*ARRAY_SIZES, array[1]}), default=array[1]),
            Categorical("d1_loop", LOOPS, default="K"),
            Ordinal("d1_split", SPLITS, default=1),
            Categorical("d1_loop2", LOOPS, default="OX", condition=Condition("d1_split", SPLITS[1:])),
            Categorical("d2_loop", LOOPS, default="C"),
            Ordinal("d2_split", SPLITS, default=1),
            Categorical("d2_loop2", LOOPS, default="OY", condition=Condition("d2_split", SPLITS[1:])),
        ]
        for name, parameter in memories.items():
            size = self.template["memories"][name]["size"] // 8
            values = sorted({int(size * 2.0**s) for s in SIZE_STEPS if size * 2.0**s >= MIN_MEMORY_BYTES})
            parameters.append(Ordinal(parameter, values, default=size))
        space = DesignSpace(
            parameters,
            constraints=[
                Constraint("each loop is unrolled on at most one array dimension", _distinct_loops),
                Constraint("d1_split divides d1 (and is smaller)", _d1_split_divides),
                Constraint("d2_split divides d2 (and is smaller)", _d2_split_divides),
            ],
        )
        metrics = {
            "energy_pj": "pJ",
            "mac_energy_pj": "pJ",
            "memory_energy_pj": "pJ",
            "weight_memory_energy_pj": "pJ",
            "input_memory_energy_pj": "pJ",
            "output_memory_energy_pj": "pJ",
            "dram_energy_pj": "pJ",
            "latency_cycles": "cycles",
            "ideal_cycles": "cycles",
            "utilization_pct": "%",
            "spatial_utilization_pct": "%",
            "edp": "pJ*cycles",
        }
        for layer in self.layers or ():
            metrics |= {f"energy_pj.{layer.name}": "pJ", f"latency_cycles.{layer.name}": "cycles"}
        if objective == "edp":
            spec = Objectives([Objective("edp", "min")], penalty=EDP_PENALTY)
        else:
            spec = Objectives(
                [
                    Objective("energy_pj", "min", (ENERGY_PENALTY, 0.0)),
                    Objective("latency_cycles", "min", (LATENCY_PENALTY, 0.0)),
                ],
                penalty=[ENERGY_PENALTY, LATENCY_PENALTY],
            )
        super().__init__(design_space=space, metrics=metrics, objective=spec)
        if self.layers is not None:
            self.statistic_names = ZIGZAG_STATISTICS
            self.statistic_estimates = {"latency_cycles": "spatial_cycles"}
        if objective == "energy_latency" and self.layers is not None:
            # hypervolume reference: every MAC fetching both operands from and writing its
            # output to DRAM, one MAC per cycle
            macs = sum(layer.macs for layer in self.layers)
            dram = self.template["memories"]["dram"]
            per_mac = self.template["operational_array"]["unit_energy"] + 2 * dram["r_cost"] + dram["w_cost"]
            self.reference_point = np.array([-macs * per_mac, -float(macs)])

    def statistics(self, design: Mapping[str, Any]) -> dict[str, float]:
        """Free statistics of a design (no ZigZag call), for a layer-set workload: MACs, PEs,
        on-chip memory (``rf_bytes_per_pe``: the memories private to a PE; ``onchip_bytes``: those
        × PEs plus the shared buffers), and ``spatial_cycles``, the cycles of the spatial unrolling
        alone — per layer, the product over its loops of ⌈loop size / unrolled factor⌉, the factor
        capped at the loop size as ZigZag caps it: a lower bound on ``latency_cycles`` — and the
        PE utilisation that implies (within a few % of ZigZag's ``spatial_utilization_pct`` / 100). An ONNX
        workload: none."""
        if self.layers is None:
            return {}
        unrolled: dict[str, int] = {}
        for entries in spatial_mapping(design).values():
            for entry in entries:
                loop, factor = entry.split(", ")
                unrolled[loop] = unrolled.get(loop, 1) * int(factor)
        pes = int(design["d1"]) * int(design["d2"])
        ideal = 0
        for layer in self.layers:
            sizes = {
                "K": layer.filters,
                "C": layer.channels,
                "OY": layer.ofmap_h,
                "OX": layer.ofmap_w,
                "FY": layer.filter_h,
                "FX": layer.filter_w,
            }
            ideal += math.prod(math.ceil(n / min(unrolled.get(loop, 1), n)) for loop, n in sizes.items())
        memories = memory_parameters(self.template)
        private = sum(int(design[p]) for p in memories.values() if "_rf_" in p)
        shared = sum(int(design[p]) for p in memories.values() if "_rf_" not in p)
        macs = sum(layer.macs for layer in self.layers)
        return {
            "macs": float(macs),
            "pe_count": float(pes),
            "rf_bytes_per_pe": float(private),
            "onchip_bytes": float(private * pes + shared),
            "spatial_cycles": float(ideal),
            "spatial_utilization_estimate": macs / (ideal * pes),
        }

    def write_inputs(self, design: Mapping[str, Any], directory: Path) -> tuple[Path, Path]:
        """The accelerator and mapping YAML files of a design, in ``directory``."""
        import yaml

        accelerator, mapping = directory / "accelerator.yaml", directory / "mapping.yaml"
        # sort_keys=False: the order of 'memories' is the memory hierarchy
        description = accelerator_description(self.template, design)
        accelerator.write_text(yaml.safe_dump(description, sort_keys=False))
        mapping.write_text(yaml.safe_dump(mapping_description(design), sort_keys=False))
        return accelerator, mapping

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        accelerator, mapping = self.write_inputs(design, context.workdir)
        workload = self.onnx_path if self.layers is None else layer_description(self.layers)
        results = run_zigzag(
            workload, accelerator, mapping, criterion=self.criterion, lpf_limit=self.lpf_limit
        )
        return summarize(results, self.layers)


def summarize(results: Any, layers: tuple[Layer, ...] | None) -> dict[str, float]:
    """Metrics from ZigZag's summed evaluation (and its per-layer ones for layer sets)."""
    total, per_layer = results[0]
    by_operand = {str(op): sum(levels) for op, levels in total.mem_energy_breakdown.items()}
    dram = sum(levels[-1] for levels in total.mem_energy_breakdown.values())
    metrics = {
        "energy_pj": float(total.energy_total),
        "mac_energy_pj": float(total.mac_energy),
        "memory_energy_pj": float(total.mem_energy),
        "weight_memory_energy_pj": float(by_operand.get("W", 0.0)),
        "input_memory_energy_pj": float(by_operand.get("I", 0.0)),
        "output_memory_energy_pj": float(by_operand.get("O", 0.0)),
        "dram_energy_pj": float(dram),
        "latency_cycles": float(total.latency_total2),
        "ideal_cycles": float(total.ideal_cycle),
        "utilization_pct": 100.0 * float(total.ideal_cycle) / float(total.latency_total2),
        "spatial_utilization_pct": 100.0 * float(total.ideal_cycle) / float(total.ideal_temporal_cycle),
        "edp": float(total.energy_total) * float(total.latency_total2),
    }
    if layers is not None:
        for cme, _ in per_layer:
            metrics[f"energy_pj.{cme.layer.name}"] = float(cme.energy_total)
            metrics[f"latency_cycles.{cme.layer.name}"] = float(cme.latency_total2)
    return metrics


def _workload(workload: Any) -> tuple[tuple[Layer, ...] | None, str | None]:
    if isinstance(workload, str) and workload.startswith("onnx:"):
        model = workload[len("onnx:") :]
        if model not in ONNX_MODELS:
            raise ValueError(
                f"workload: {workload!r} is not legal; legal ONNX models: "
                f"{['onnx:' + m for m in ONNX_MODELS]}"
            )
        return None, str(files("zigzag") / "inputs" / "workload" / f"{model}.onnx")
    if isinstance(workload, str | Path) and str(workload).endswith(".onnx"):
        if not Path(workload).is_file():
            raise ValueError(f"workload: ONNX file {str(workload)!r} not found")
        return None, str(workload)
    try:
        return load_layers(workload), None
    except ValueError as exc:
        if str(exc).startswith("workload:"):
            legal = [*SHIPPED, *("onnx:" + m for m in ONNX_MODELS)]
            raise ValueError(
                f"workload: {workload!r} is not legal; legal values: {legal}, a path to a "
                "SCALE-Sim conv topology CSV or to an ONNX file"
            ) from None
        raise
