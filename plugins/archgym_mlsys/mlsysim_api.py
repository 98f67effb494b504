"""Every call into mlsysim, in one module.

mlsysim (Harvard's *Machine Learning Systems* modelling platform, Apache-2.0) is an early release
whose API still moves between versions, and archgym pins it (``mlsysim==0.3.0``). Keeping every
use of it here means a new release breaks this one file, not the envs, the tests or the
benchmark. Importing mlsysim takes ~3.5 s (it loads its whole registry of hardware, models and
datasets), so nothing here imports it at module import: each function imports what it needs.

What is used, all public (``mlsysim`` and ``mlsysim.solvers``):

* the registries ``Models.Language``, ``Hardware.Cloud`` and ``Systems.Clusters``;
* ``DistributedModel.solve`` — one 3D-parallel training step: the replica's roofline time, the
  DP/TP communication, the 1F1B pipeline bubble, and (through ``TrainingMemoryModel``) the
  per-accelerator training memory;
* ``EconomicsModel.solve`` — the fleet's TCO, energy and carbon over one step;
* ``ParallelismOptimizer.solve`` — mlsysim's own search over TP x PP x DP;
* ``physics.calc_transformer_training_flops`` — the 6PD FLOPs of a step.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PINNED_VERSION",
    "PRECISIONS",
    "RECOMPUTE",
    "Setup",
    "cluster_names",
    "hardware_names",
    "model_names",
    "optimizer_pick",
    "setup",
    "training_flops",
    "training_step",
]

PINNED_VERSION = "0.3.0"
"""The mlsysim release this module is written against (pyproject pins it)."""
PRECISIONS = ("fp32", "tf32", "bf16", "fp8")
"""Training precisions offered where the accelerator's registry entry rates them (bf16 always:
mlsysim prices 16-bit formats at the accelerator's peak rate; fp16 would be the same numbers)."""
RECOMPUTE = ("selective", "full")
"""Activation checkpointing: ``selective`` (mlsysim's ``activation_recomputation=False``: 3x the
forward FLOPs, Korthikanti et al.'s selective activation memory) or ``full`` (4x FLOPs, only the
layer inputs kept)."""


@dataclass(frozen=True)
class Setup:
    """A model on a cluster, resolved from mlsysim's registries, with the facts the env needs."""

    model_name: str
    hardware_name: str
    cluster_name: str
    model: Any
    fleet: Any
    n_gpus: int
    gpus_per_node: int
    layers: int
    heads: int
    parameters: float
    memory_gb: float
    peak_flops: float
    """16-bit peak of one accelerator, FLOP/s."""
    precisions: tuple[str, ...]


def _entries(registry: Any) -> dict[str, Any]:
    return {
        name: getattr(registry, name)
        for name in dir(registry)
        if not name.startswith("_") and name != "list" and not callable(getattr(registry, name))
    }


def model_names() -> list[str]:
    """The transformer language models of ``mlsysim.Models.Language`` (the only workloads that
    mlsysim's training-memory model covers)."""
    from mlsysim import Models
    from mlsysim.models.types import TransformerWorkload

    return sorted(n for n, m in _entries(Models.Language).items() if isinstance(m, TransformerWorkload))


def hardware_names() -> list[str]:
    """The single accelerators of ``mlsysim.Hardware.Cloud`` (multi-chip systems such as a
    GB200 NVL72 rack are left out: a cluster node holds accelerators, not racks)."""
    from mlsysim import Hardware
    from mlsysim.hardware.types import HardwareNode

    return sorted(
        n
        for n, h in _entries(Hardware.Cloud).items()
        if isinstance(h, HardwareNode) and (h.accelerator_count or 1) == 1
    )


def cluster_names() -> list[str]:
    """The fleets of ``mlsysim.Systems.Clusters``."""
    from mlsysim import Systems

    return sorted(_entries(Systems.Clusters))


def _pick(kind: str, name: Any, legal: list[str]) -> str:
    if not isinstance(name, str) or name not in legal:
        raise ValueError(f"{kind}: {name!r} is not legal; legal values: {legal}")
    return name


def setup(llm: str, hardware: str | None, cluster: str) -> Setup:
    """Resolve names from mlsysim's registries; a ValueError naming the argument and listing the
    legal names otherwise.

    ``hardware`` (None: the cluster's own accelerator) replaces the accelerator of every node,
    keeping the cluster's node count, accelerators per node and fabric; the intra-node bandwidth
    comes from the accelerator's NVLink entry, else its host interconnect, else the fabric —
    the chain mlsysim's own CLI uses to compile a plan into a ``Fleet``.
    """
    from mlsysim import Hardware, Models, Systems

    llm = _pick("llm", llm, model_names())
    cluster = _pick("cluster", cluster, cluster_names())
    fleet = getattr(Systems.Clusters, cluster)
    if hardware is not None:
        hardware = _pick("hardware", hardware, hardware_names())
        accelerator = getattr(Hardware.Cloud, hardware)
        link = accelerator.nvlink or accelerator.interconnect
        bandwidth = link.bandwidth_per_direction if link is not None else fleet.fabric.bandwidth
        node = fleet.node.model_copy(
            update={
                "name": f"{fleet.node.name} with {accelerator.name}",
                "accelerator": accelerator,
                "intra_node_bw": bandwidth,
            }
        )
        fleet = fleet.model_copy(update={"name": f"{fleet.name} with {accelerator.name}", "node": node})
    else:
        hardware = next(n for n, h in _entries(Hardware.Cloud).items() if h is fleet.node.accelerator)
    workload = getattr(Models.Language, llm)
    accelerator = fleet.node.accelerator
    rated = accelerator.compute.precision_flops
    return Setup(
        model_name=llm,
        hardware_name=hardware,
        cluster_name=cluster,
        model=workload,
        fleet=fleet,
        n_gpus=int(fleet.total_accelerators),
        gpus_per_node=int(fleet.node.accelerators_per_node),
        layers=int(workload.layers),
        heads=int(workload.heads or 1),
        parameters=float(workload.parameters.m_as("count")),
        memory_gb=float(accelerator.memory.capacity.m_as("GB")),
        peak_flops=float(accelerator.compute.peak_flops.m_as("flop/s")),
        precisions=tuple(p for p in PRECISIONS if p == "bf16" or p in rated),
    )


def training_flops(s: Setup, tokens: int) -> float:
    """Model FLOPs of one training step over ``tokens`` tokens: mlsysim's 6PD rule."""
    from mlsysim.physics.transformer import calc_transformer_training_flops

    return float(calc_transformer_training_flops(s.model.parameters, tokens).m_as("flop"))


def _solve_kwargs(
    s: Setup,
    *,
    tp: int,
    pp: int,
    dp: int,
    micro_batch_size: int,
    global_batch_size: int,
    seq_len: int,
    zero_stage: int,
    recompute: str,
    precision: str,
    efficiency: float,
    overlap_comm: bool,
) -> dict[str, Any]:
    """``DistributedModel.solve`` arguments of a design (see :func:`training_step`)."""
    if tp * pp * dp != s.n_gpus:
        raise ValueError(f"tp * pp * dp = {tp * pp * dp} must equal the cluster's {s.n_gpus} GPUs")
    if global_batch_size % (dp * micro_batch_size):
        raise ValueError(
            f"dp * micro_batch_size = {dp * micro_batch_size} must divide "
            f"global_batch_size {global_batch_size}"
        )
    if recompute not in RECOMPUTE:
        raise ValueError(f"recompute: {recompute!r} is not legal; legal values: {list(RECOMPUTE)}")
    microbatches = global_batch_size // (dp * micro_batch_size)
    return {
        "batch_size": global_batch_size,
        "precision": precision,
        "efficiency": efficiency,
        "tp_size": tp,
        "pp_size": pp,
        "microbatch_count": microbatches,
        # Without a pipeline the micro-batches are gradient-accumulation steps: mlsysim then sizes
        # activations for one micro-batch (and amortises the DP all-reduce over them).
        "gradient_accumulation_steps": microbatches if pp == 1 else 1,
        "zero_stage": zero_stage,
        "activation_recomputation": recompute == "full",
        "overlap_comm": overlap_comm,
        "seq_len": seq_len,
    }


def training_step(s: Setup, design: Mapping[str, Any], **problem: Any) -> dict[str, float]:
    """Metrics of one training step of ``design`` (tp, pp, dp, micro_batch_size, zero_stage,
    recompute, precision) under ``problem`` (global_batch_size, seq_len, efficiency,
    overlap_comm): one ``DistributedModel.solve`` and one ``EconomicsModel.solve``.

    The global batch is fixed; a data-parallel replica runs ``global_batch_size / dp`` samples
    as ``num_microbatches`` micro-batches of ``micro_batch_size`` (Megatron-LM's convention).
    With ``pp > 1`` they are the pipeline's micro-batches (1F1B bubble, ``pp`` in flight);
    with ``pp == 1`` they are gradient-accumulation steps.
    """
    from mlsysim.solvers import DistributedModel, EconomicsModel

    kwargs = _solve_kwargs(s, **design, **problem)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mlsysim warns, e.g., on idle ranks; the numbers are the result
        result = DistributedModel().solve(s.model, s.fleet, **kwargs)
    replica = result.node_profile
    step_s = float(result.step_latency_total.m_as("s"))
    # MFU over the whole step: the replica's model-FLOP utilisation (3x forward FLOPs over its
    # own time) times the share of the step that time is (communication and bubble excluded).
    mfu = float(replica.mfu) * float(result.scaling_efficiency)
    economics = EconomicsModel().solve(s.fleet, duration_days=step_s / 86400.0, mfu=min(max(mfu, 0.0), 1.0))
    throughput = float(result.effective_throughput.m_as("1/s"))
    return {
        "step_time_ms": step_s * 1e3,
        "throughput_samples_s": throughput,
        "throughput_tokens_s": throughput * kwargs["seq_len"],
        "mfu": mfu,
        "peak_memory_gb": float(replica.memory_footprint.m_as("GB")),
        "compute_time_ms": float(replica.latency.m_as("ms")),
        "dp_comm_ms": float(result.dp_communication_latency.m_as("ms")),
        "tp_comm_ms": float(result.tp_communication_latency.m_as("ms")),
        "bubble_ms": float(result.pipeline_bubble_latency.m_as("ms")),
        "bubble_fraction": float(result.bubble_fraction),
        "scaling_efficiency": float(result.scaling_efficiency),
        "num_microbatches": float(kwargs["microbatch_count"]),
        "cost_usd": float(economics.tco_usd),
        "energy_kwh": float(economics.total_energy_kwh.m_as("kWh")),
        "carbon_kg": float(economics.carbon_footprint_kg),
    }


def optimizer_pick(
    s: Setup,
    *,
    global_batch_size: int,
    seq_len: int,
    precision: str,
    recompute: str,
    efficiency: float,
    overlap_comm: bool,
) -> dict[str, Any] | None:
    """mlsysim's ``ParallelismOptimizer`` choice as an env design, or None when it finds none.

    The optimiser sweeps power-of-two TP (up to a node) and PP at ZeRO stage 0 and ranks the
    memory-feasible splits by MFU; with a pipeline it uses one-sample micro-batches, without
    one a single micro-batch per replica — which is ``micro_batch_size`` 1, resp.
    ``global_batch_size / dp`` here, so the env evaluates exactly the call it made.
    """
    from mlsysim.solvers import ParallelismOptimizer

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = ParallelismOptimizer().solve(
                s.model,
                s.fleet,
                batch_size=global_batch_size,
                precision=precision,
                efficiency=efficiency,
                overlap_comm=overlap_comm,
                seq_len=seq_len,
                activation_recomputation=recompute == "full",
            )
    except ValueError:  # "No valid parallelism configuration"
        return None
    tp, pp, dp = (int(result.best_config[k]) for k in ("tp", "pp", "dp"))
    return {
        "tp": tp,
        "pp": pp,
        "dp": dp,
        "micro_batch_size": 1 if pp > 1 else global_batch_size // dp,
        "zero_stage": 0,
        "recompute": recompute,
        "precision": precision,
    }
