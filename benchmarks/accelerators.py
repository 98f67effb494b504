"""Cost of the accelerator envs over their simulators, and their parallel speedup.

Prints, per env (SystolicArray-v0 on SCALE-Sim, ZigZag-v0 on ZigZag):

1. the per-evaluation time of ``env.step`` beside a direct simulator call on the same design in
   the same warm process (interleaved, median of ``--repeats``), and their ratio (goal ≤ 1.05);
2. the wall time of ``--evals`` evaluations (random agent, ``--batch`` designs per ask: the loop
   waits for a whole batch, so small batches of unequal evaluations leave a worker idle) with 1
   and 2 workers, and the speedup (goal ≥ 1.8×; it needs two idle cores — worker start-up, about
   a second, is included).

The direct calls use the simulators' own objects, not the envs' helpers: SCALE-Sim's
``scale_config``/``topologies``/``simulator`` (reports into a temporary directory, removed), and
ZigZag's stage pipeline on accelerator/mapping YAML files written beforehand.

    python benchmarks/accelerators.py [--env systolic|zigzag|both] [--repeats 15] [--evals 100] [--batch 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym

import archgym  # noqa: F401 - registers the envs
from archgym.loop import run
from archgym_accelerators.workloads import load_layers

SYSTOLIC_DESIGN = {
    "array_rows": 32,
    "array_cols": 32,
    "dataflow": "ws",
    "ifmap_sram_kb": 64,
    "filter_sram_kb": 64,
    "ofmap_sram_kb": 64,
    "dram_bandwidth": 16,
}


def direct_scalesim(design: dict[str, Any], workload: str) -> Callable[[], Any]:
    from scalesim.layout_utils import layouts
    from scalesim.scale_config import scale_config
    from scalesim.simulator import simulator
    from scalesim.topology_utils import topologies

    layers = load_layers(workload)

    def call() -> Any:
        config = scale_config()
        config.run_name = "direct"
        config.array_rows, config.array_cols = design["array_rows"], design["array_cols"]
        config.ifmap_sz_kb, config.filter_sz_kb = design["ifmap_sram_kb"], design["filter_sram_kb"]
        config.ofmap_sz_kb, config.df = design["ofmap_sram_kb"], design["dataflow"]
        config.use_user_bandwidth, config.bandwidths = True, [design["dram_bandwidth"]]
        config.ifmap_sram_bank_bandwidth = config.filter_sram_bank_bandwidth = design["dram_bandwidth"]
        config.ifmap_sram_bank_num = config.filter_sram_bank_num = 1
        config.valid_conf_flag = True
        topology = topologies()
        for la in layers:
            topology.append_topo_arrays(
                la.name,
                [
                    la.name,
                    la.ifmap_h,
                    la.ifmap_w,
                    la.filter_h,
                    la.filter_w,
                    la.channels,
                    la.filters,
                    la.stride,
                    la.stride,
                    1,
                    1,
                ],
            )
        topology.num_layers, topology.topo_load_flag = len(layers), True
        out = tempfile.mkdtemp()
        try:
            sim = simulator()
            sim.set_params(
                config_obj=config,
                topo_obj=topology,
                layout_obj=layouts(),
                top_path=out,
                verbosity=False,
                save_trace=False,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                sim.run()
            return sum(layer.get_compute_report_items()[0] for layer in sim.single_layer_sim_object_list)
        finally:
            shutil.rmtree(out, ignore_errors=True)

    return call


def direct_zigzag(env: Any, design: dict[str, Any], scratch: Path) -> Callable[[], Any]:
    import logging

    from zigzag.mapping.temporal_mapping import TemporalMappingType
    from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
    from zigzag.stages.main import MainStage
    from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage
    from zigzag.stages.mapping.temporal_mapping_generator_stage import TemporalMappingGeneratorStage
    from zigzag.stages.parser.accelerator_parser import AcceleratorParserStage
    from zigzag.stages.parser.workload_parser import WorkloadParserStage
    from zigzag.stages.results.reduce_stages import MinimalEDPStage, SumStage
    from zigzag.stages.workload_iterator import WorkloadStage

    from archgym_accelerators.zigzag_env import layer_description

    accelerator, mapping = env.write_inputs(design, scratch)  # written once, outside the timing
    workload = layer_description(env.layers)
    logging.getLogger("zigzag").setLevel(logging.ERROR)
    stages = [
        WorkloadParserStage,
        AcceleratorParserStage,
        SumStage,
        WorkloadStage,
        MinimalEDPStage,
        SpatialMappingGeneratorStage,
        MinimalEDPStage,
        TemporalMappingGeneratorStage,
        CostModelStage,
    ]

    def call() -> Any:
        main = MainStage(
            stages,
            accelerator=str(accelerator),
            workload=workload,
            mapping=str(mapping),
            dump_folder=str(scratch),
            pickle_filename=str(scratch / "p"),
            loma_lpf_limit=4,
            loma_show_progress_bar=False,
            nb_mappings_generated=3,
            enable_mix_spatial_mapping_generation=False,
            access_same_data_considered_as_no_access=True,
            temporal_mapping_type=TemporalMappingType("uneven"),
        )
        return main.run()[0][0].energy_total

    return call


def per_evaluation(env_id: str, design: dict[str, Any], direct: Callable[[], Any], repeats: int) -> None:
    env = gym.make(env_id)
    action = env.unwrapped.design_space.to_action(design)

    def step() -> None:
        env.reset(seed=0)
        _, _, _, _, info = env.step(action)
        assert info["feasible"], info

    step(), direct()  # warm: imports, caches
    env_times, direct_times = [], []
    for _ in range(repeats):  # interleaved, so load changes hit both alike
        for fn, times in ((step, env_times), (direct, direct_times)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    env_s, direct_s = statistics.median(env_times), statistics.median(direct_times)
    print(
        f"  per evaluation (median of {repeats}): env.step {env_s * 1e3:.1f} ms, direct call "
        f"{direct_s * 1e3:.1f} ms, ratio {env_s / direct_s:.3f} (goal <= 1.05)"
    )


def parallel(env_id: str, evals: int, batch: int, root: Path) -> None:
    wall = {}
    print(f"  load average before (1/5/15 min): {os.getloadavg()} on {os.cpu_count()} CPUs")
    for workers in (1, 2):
        start = time.perf_counter()
        run(
            env=env_id,
            agent="random",
            agent_params={"batch_size": batch},
            budget=evals,
            seed=0,
            out=root / f"{env_id.split('/')[1]}-w{workers}",
            workers=workers,
            progress=False,
        )
        wall[workers] = time.perf_counter() - start
    print(
        f"  {evals} evaluations (random, batch {batch}): 1 worker {wall[1]:.1f} s, 2 workers "
        f"{wall[2]:.1f} s, speedup {wall[1] / wall[2]:.2f}x (goal >= 1.8)"
    )
    print(f"  load average after: {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", choices=["systolic", "zigzag", "both"], default="both")
    parser.add_argument("--repeats", type=int, default=15, help="evaluations per timing")
    parser.add_argument("--evals", type=int, default=100, help="evaluations of the parallel runs")
    parser.add_argument("--batch", type=int, default=20, help="designs per ask in the parallel runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.env in ("systolic", "both"):
            print(f"archgym/SystolicArray-v0 (tiny_cnn) vs SCALE-Sim, design {SYSTOLIC_DESIGN}")
            direct = direct_scalesim(SYSTOLIC_DESIGN, "tiny_cnn")
            per_evaluation("archgym/SystolicArray-v0", SYSTOLIC_DESIGN, direct, args.repeats)
            parallel("archgym/SystolicArray-v0", args.evals, args.batch, root)
        if args.env in ("zigzag", "both"):
            env = gym.make("archgym/ZigZag-v0").unwrapped
            design = env.design_space.default()
            print(f"archgym/ZigZag-v0 (tpu_like, tiny_cnn) vs ZigZag, design {design}")
            scratch = root / "zigzag-direct"
            scratch.mkdir()
            per_evaluation("archgym/ZigZag-v0", design, direct_zigzag(env, design, scratch), args.repeats)
            parallel("archgym/ZigZag-v0", args.evals, args.batch, root)


if __name__ == "__main__":
    main()
