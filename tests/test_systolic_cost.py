"""SystolicArray's analytic cost model (free statistics) against SCALE-Sim itself."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import archgym  # noqa: F401 - registers the envs
from archgym_accelerators import systolic

_ENV: list[Any] = []


def _env() -> Any:
    if not _ENV:
        _ENV.append(gym.make("archgym/SystolicArray-v0").unwrapped)
    return _ENV[0]


def _design(rows: int, cols: int, flow: str, ifmap: int, filt: int, ofmap: int, bandwidth: int) -> dict:
    return {
        "array_rows": rows,
        "array_cols": cols,
        "dataflow": flow,
        "ifmap_sram_kb": ifmap,
        "filter_sram_kb": filt,
        "ofmap_sram_kb": ofmap,
        "dram_bandwidth": bandwidth,
    }


def layer_of(sim_layer: Any) -> Any:
    """The workload layer a SCALE-Sim ``single_layer_sim`` simulated."""
    return _env().layers[sim_layer.layer_id]


def _costs(design: dict) -> list[systolic.LayerCost]:
    kb = {k: design[f"{k}_sram_kb"] for k in ("ifmap", "filter", "ofmap")}
    return [
        systolic.layer_cost(
            layer,
            design["array_rows"],
            design["array_cols"],
            design["dataflow"],
            kb,
            design["dram_bandwidth"],
        )
        for layer in _env().layers
    ]


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 40), cols=st.integers(1, 40), data=st.data())
def test_diagonal_start_is_scalesims_anti_diagonal_order(rows: int, cols: int, data: Any) -> None:
    # SCALE-Sim's prefetch flattening: diagonal d lists rows min(d, M-1) down to max(0, d-N+1)
    d = data.draw(st.integers(0, rows + cols - 1))
    before = sum(min(j, rows - 1) - max(0, j - cols + 1) + 1 for j in range(d))
    assert systolic._diagonal_start(d, rows, cols) == before


@pytest.mark.parametrize(
    "design",
    [
        _design(32, 16, "os", 8, 4, 2, 4),
        _design(16, 32, "ws", 4, 2, 8, 2),
        _design(32, 32, "is", 2, 4, 4, 8),
    ],
    ids=["os", "ws", "is"],
)
def test_cost_structure_is_scalesims(design: dict, tmp_path: Path) -> None:
    """Per layer, SCALE-Sim's cycles are compute + prefill + its stalls + final drain, exactly
    where the ofmap buffer wrote nothing back during the layer; compute cycles always exact."""
    layers = _env().simulate(design, str(tmp_path))
    checked = 0
    for layer, cost in zip(layers, _costs(design), strict=True):
        overall, array_cycles, stalls, *_ = (float(x) for x in layer.get_compute_report_items())
        assert cost.compute == array_cycles - stalls
        pixels, window, filters = systolic.layer_operands(layer_of(layer))
        written = pixels * filters * (1 if design["dataflow"] == "os" else -(-window // design["array_rows"]))
        if written <= 1024 * design["ofmap_sram_kb"] // 2:
            assert overall == cost.compute + cost.prefill + cost.final_drain + stalls
            checked += 1
    assert checked >= 2


@pytest.mark.parametrize(
    "design",
    [
        _design(128, 32, "is", 1, 32, 4, 1),  # ifmap prefetches far behind: 96 % stalls
        _design(16, 16, "is", 2, 1, 2, 1),  # ifmap words found in the previous block's copies
        _design(64, 8, "os", 2, 2, 64, 1),
        _design(8, 64, "ws", 64, 1, 64, 1),
    ],
    ids=["is", "is-copies", "os", "ws"],
)
def test_memory_bound_cycles_are_estimated_within_a_few_percent(design: dict, tmp_path: Path) -> None:
    layers = _env().simulate(design, str(tmp_path))
    truth = sum(float(layer.get_compute_report_items()[0]) for layer in layers)
    stalls = sum(float(layer.get_compute_report_items()[2]) for layer in layers)
    estimate = _env().statistics(design)
    assert stalls > 0.2 * truth  # the stalls matter here
    assert math.isclose(estimate["analytic_cycles"], truth, rel_tol=0.05)
    without_stalls = estimate["compute_cycles"] + estimate["prefill_cycles"] + estimate["final_drain_cycles"]
    assert abs(estimate["analytic_cycles"] - truth) < 0.2 * abs(without_stalls - truth)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_cost_statistics_are_finite_and_consistent(seed: int) -> None:
    env = _env()
    design = env.design_space.sample(np.random.default_rng(seed))
    stats = env.statistics(design)
    assert set(stats) == set(env.statistic_names)
    assert all(math.isfinite(v) for v in stats.values())
    costs = _costs(design)
    assert stats["analytic_cycles"] == pytest.approx(sum(c.cycles for c in costs))
    assert stats["stall_estimate"] == pytest.approx(sum(c.stall for c in costs))
    assert all(c.stall >= 0 and c.prefill >= 1 and c.final_drain >= 0 for c in costs)
    assert stats["analytic_cycles"] >= stats["compute_cycles"] + stats["prefill_cycles"]
    for layer, cost in zip(env.layers, costs, strict=True):
        assert stats[f"analytic_cycles.{layer.name}"] == pytest.approx(cost.cycles)
        assert cost.ifmap_reuse_lag <= cost.ifmap_lag + 1e-9  # repeated words found resident: never slower
        if design["dataflow"] != "is":
            assert cost.ifmap_reuse_lag == cost.ifmap_lag


def test_cycles_are_modelled_relative_to_the_analytic_cycles() -> None:
    env = _env()
    assert env.statistic_estimates["cycles"] == "analytic_cycles"
    for layer in env.layers:
        assert env.statistic_estimates[f"cycles.{layer.name}"] == f"analytic_cycles.{layer.name}"
