"""``archgym/LLMTraining-v0`` and ``archgym/LLMTrainingMO-v0``: the parallel configuration of an
LLM training step on a GPU cluster, evaluated by mlsysim's analytical models.

The design is what a Megatron-LM/DeepSpeed user sets: tensor, pipeline and data-parallel
degrees (their product is the cluster's GPU count), the micro-batch size, the ZeRO stage,
activation recomputation and the precision. mlsysim's ``DistributedModel`` gives the step time,
throughput and MFU, its ``TrainingMemoryModel`` the peak memory per GPU, and its
``EconomicsModel`` the cost, energy and carbon of a step. All mlsysim calls are in
:mod:`archgym_mlsys.mlsysim_api`.

mlsysim's step time does not reject a configuration that overflows memory (it prices the spill
at PCIe bandwidth and carries on), and the ZeRO stage does not change it at all, so feasibility
comes from the memory model alone: the env declares ``peak_memory_gb <= GPU memory`` as an
outcome constraint.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from archgym import (
    Categorical,
    Constraint,
    DesignEnv,
    DesignSpace,
    EvalContext,
    InfeasibleDesign,
    Integer,
    Objective,
    Objectives,
    Ordinal,
    OutcomeConstraint,
    Real,
)
from archgym_mlsys import mlsysim_api

__all__ = ["MAX_STEP_TIME_MS", "MEMORY_PENALTY", "REFERENCE_MFU", "TIME_PENALTY", "LLMTraining"]

OBJECTIVES = ("time", "time_memory")
TIME_PENALTY = -1e10
"""Reward (ms, negated) of an infeasible evaluation: below every feasible one (see below)."""
MEMORY_PENALTY = -1e6
"""Second reward component (GB, negated) of an infeasible evaluation under ``time_memory``."""
MAX_STEP_TIME_MS = 1e9
"""A step slower than this (11.6 days) is infeasible, so the time penalty lies below every
feasible reward; the slowest feasible step over the default space is ~4.4e6 ms."""
REFERENCE_MFU = 0.05
"""The hypervolume reference point's step time is the step at this MFU (see ``reference_point``)."""


class _ProductIsCluster:
    """``tp * pp * dp == n_gpus`` (a class, not a lambda, so the space pickles for workers)."""

    def __init__(self, n_gpus: int) -> None:
        self.n_gpus = n_gpus

    def __call__(self, design: Mapping[str, Any]) -> bool:
        return design["tp"] * design["pp"] * design["dp"] == self.n_gpus


class _BatchSplits:
    """``dp * micro_batch_size`` divides the global batch (a whole number of micro-batches)."""

    def __init__(self, global_batch_size: int) -> None:
        self.global_batch_size = global_batch_size

    def __call__(self, design: Mapping[str, Any]) -> bool:
        return self.global_batch_size % (design["dp"] * design["micro_batch_size"]) == 0


def _powers_of_two(limit: int, dividing: int) -> list[int]:
    out, value = [], 1
    while value <= limit and dividing % value == 0:
        out.append(value)
        value *= 2
    return out


class LLMTraining(DesignEnv):
    """Choose the parallel configuration of one LLM training step (mlsysim's model of it).

    Design: ``tp``, ``pp``, ``dp`` (powers of two for TP/PP; ``tp * pp * dp`` = the cluster's
    GPUs, a forbidden combination otherwise), ``micro_batch_size`` (``dp * micro_batch_size``
    must divide ``global_batch_size``), ``zero_stage`` (0-3), ``recompute`` (``selective`` or
    ``full``) and ``precision`` (those the accelerator's registry entry rates, bf16 always).

    Objective (``objective``): ``"time"`` minimises ``step_time_ms`` (reward ``-step_time_ms``);
    ``"time_memory"`` minimises (``step_time_ms``, ``peak_memory_gb``), a vector reward with
    ``reward_space`` and ``reference_point``. Outcome constraint: ``peak_memory_gb`` <= the GPU's
    memory. Penalty: ``-1e10`` (``time``), ``(-1e10, -1e6)`` (``time_memory``).

    Args:
        llm: a transformer of ``mlsysim.Models.Language`` (``"Llama3_70B"``, ``"Llama3_8B"``, …);
            not ``model``, which every env reserves for the proxy backend's model file.
        cluster: a fleet of ``mlsysim.Systems.Clusters`` (``"Lab_64_H100"``: 8 DGX H100 on HDR IB).
        hardware: an accelerator of ``mlsysim.Hardware.Cloud`` replacing the cluster's (None: the
            cluster's own).
        global_batch_size: sequences per step (fixed: the optimisation problem's batch, not a knob).
        seq_len: tokens per sequence.
        efficiency: mlsysim's achieved fraction of peak FLOP/s inside a replica.
        overlap_comm: overlap the DP gradient all-reduce with the backward pass (85 %, mlsysim).
        objective: ``"time"`` or ``"time_memory"``.

    mlsysim states ±15-30 % accuracy against measured systems: this is a model of a cluster,
    not a measurement of one (see docs/env-llmtraining.md).
    """

    arguments = (
        Integer("global_batch_size", 1, 1 << 20),
        Integer("seq_len", 1, 1 << 20),
        Real("efficiency", 1e-3, 1.0),
        Categorical("overlap_comm", [True, False]),
        Categorical("objective", OBJECTIVES),
    )
    simulator_packages = ("mlsysim",)

    def __init__(
        self,
        llm: str = "Llama3_70B",
        cluster: str = "Lab_64_H100",
        hardware: str | None = None,
        global_batch_size: int = 256,
        seq_len: int = 2048,
        efficiency: float = 0.5,
        overlap_comm: bool = True,
        objective: str = "time",
    ) -> None:
        self.setup = mlsysim_api.setup(llm, hardware, cluster)
        self.problem = {
            "global_batch_size": global_batch_size,
            "seq_len": seq_len,
            "efficiency": efficiency,
            "overlap_comm": overlap_comm,
        }
        s = self.setup
        space = _design_space(s, global_batch_size)
        metrics = {
            "step_time_ms": "ms",
            "throughput_samples_s": "samples/s",
            "throughput_tokens_s": "tokens/s",
            "mfu": "1",
            "peak_memory_gb": "GB",
            "compute_time_ms": "ms",
            "dp_comm_ms": "ms",
            "tp_comm_ms": "ms",
            "bubble_ms": "ms",
            "bubble_fraction": "1",
            "scaling_efficiency": "1",
            "num_microbatches": "1",
            "cost_usd": "USD",
            "energy_kwh": "kWh",
            "carbon_kg": "kg CO2e",
        }
        step_time = Objective("step_time_ms", "min", (TIME_PENALTY, 0.0))
        if objective == "time":
            spec = Objectives([step_time], penalty=TIME_PENALTY)
        else:
            memory = Objective("peak_memory_gb", "min", (MEMORY_PENALTY, 0.0))
            spec = Objectives([step_time, memory], penalty=[TIME_PENALTY, MEMORY_PENALTY])
        super().__init__(
            design_space=space,
            metrics=metrics,
            objective=spec,
            outcome_constraints=[OutcomeConstraint("peak_memory_gb", "<=", s.memory_gb)],
        )
        self.model_flops = mlsysim_api.training_flops(s, global_batch_size * seq_len)
        """Model FLOPs of one step (6PD), whatever the design."""
        if objective == "time_memory":
            # a step at REFERENCE_MFU of the cluster's 16-bit peak, and a full GPU memory
            slow = self.model_flops / (REFERENCE_MFU * s.n_gpus * s.peak_flops) * 1e3
            self.reference_point = np.array([-slow, -s.memory_gb])

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        metrics = mlsysim_api.training_step(self.setup, design, **self.problem)
        step = metrics["step_time_ms"]
        if not math.isfinite(step) or step > MAX_STEP_TIME_MS:
            raise InfeasibleDesign(f"step time {step:g} ms is above {MAX_STEP_TIME_MS:g} ms", metrics)
        return metrics

    def mlsysim_pick(self, *, precision: str = "bf16", recompute: str = "selective") -> dict[str, Any] | None:
        """mlsysim's ``ParallelismOptimizer`` choice for this problem as a design of this env
        (None when it finds no feasible split): a baseline to compare agents against.
        ``precision`` and ``recompute`` take this env's legal values (the optimiser fixes them)."""
        precision = self.design_space["precision"].validate(precision)
        recompute = self.design_space["recompute"].validate(recompute)
        return mlsysim_api.optimizer_pick(
            self.setup, precision=precision, recompute=recompute, **self.problem
        )


def _design_space(s: mlsysim_api.Setup, global_batch_size: int) -> DesignSpace:
    """TP up to the attention heads and PP up to the layers, powers of two dividing the GPU
    count; DP every co-factor; micro-batch sizes the powers of two dividing the global batch."""
    n = s.n_gpus
    tps = _powers_of_two(min(n, s.heads), n)
    pps = _powers_of_two(min(n, s.layers), n)
    dps = sorted({n // (t * p) for t in tps for p in pps if n % (t * p) == 0})
    legal = [(t, p, n // (t * p)) for t in tps for p in pps if n % (t * p) == 0]
    fits = [(t, p, d) for t, p, d in legal if global_batch_size % d == 0]
    if not fits:
        raise ValueError(
            f"global_batch_size: {global_batch_size} is not legal on {s.cluster_name} ({n} GPUs); legal "
            f"values: a multiple of some data-parallel degree, the smallest being {min(dps)}"
        )
    # default: TP within a node, no pipeline, if the batch allows; else the first split that fits
    tp, pp, dp = max(fits, key=lambda f: (f[0] <= s.gpus_per_node, f[1] == 1, f[0]))
    micro = _powers_of_two(global_batch_size, global_batch_size)
    return DesignSpace(
        [
            Ordinal("tp", tps, default=tp),
            Ordinal("pp", pps, default=pp),
            Ordinal("dp", dps, default=dp),
            Ordinal("micro_batch_size", micro, default=1),
            Ordinal("zero_stage", [0, 1, 2, 3], default=1),
            Categorical("recompute", list(mlsysim_api.RECOMPUTE), default="selective"),
            Categorical("precision", list(s.precisions), default="bf16"),
        ],
        constraints=[
            Constraint(f"tp * pp * dp == {n} (the cluster's GPUs)", _ProductIsCluster(n)),
            Constraint(
                f"dp * micro_batch_size divides global_batch_size {global_batch_size}",
                _BatchSplits(global_batch_size),
            ),
        ],
    )
