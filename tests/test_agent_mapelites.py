"""MAP-Elites (pyribs): budget, reproducibility, measures, infeasible handling, repair, archive files."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pyarrow.parquet as pq
import pytest

import archgym
import archgym.testing  # registers the archgym-testing envs
from archgym.loop import build_agent, problem_of, run
from archgym.search import EvalResult

# Imported after archgym: an agent module imported first re-enters archgym's plugin loading (which
# imports every agent module) and breaks the 'agents' plugin.
mapelites = importlib.import_module("archgym_agents.mapelites")
MapElites, archive_stats, archive_stats_of_run = (
    mapelites.MapElites,
    mapelites.archive_stats,
    mapelites.archive_stats_of_run,
)

H6 = "archgym/Hartmann6-v0"
MIXED = "archgym/MixedConditional-v0"
FAULTY = "archgym-testing/Faulty-v0"


def records(out: Path) -> list[dict]:
    return sorted(pq.read_table(out / "evaluations.parquet").to_pylist(), key=lambda r: r["step"])


def columns(rows: list[dict], prefixes: tuple[str, ...]) -> list[dict]:
    return [{k: v for k, v in r.items() if k.startswith(prefixes)} for r in rows]


def problem(env_id: str) -> archgym.Problem:
    env = gym.make(env_id)
    try:
        return problem_of(env, env_id)
    finally:
        env.close()


def test_runs_to_the_budget_and_writes_its_archive(tmp_path: Path) -> None:
    out = tmp_path / "me"
    summary = run(
        env=H6,
        agent="mapelites",
        budget=70,
        seed=0,
        out=out,
        progress=False,
        agent_params={"measures": "x1,x2", "cells": 5, "qd_offset": "0"},
    )
    assert summary["n_evaluations"] == 70 and len(records(out)) == 70
    stats = summary["agent_summary"]
    assert set(stats) >= {"qd_score", "coverage", "archive_size", "n_infeasible"}
    assert stats["qd_offset"] == 0.0 and stats["n_infeasible"] == 0 and stats["cells"] == 25

    table = pq.read_table(out / "archive.parquet")
    assert table.num_rows == stats["archive_size"] > 0
    assert table.column_names == [
        "cell",
        "measure.x1",
        "measure.x2",
        "objective",
        "evaluation",
        *(f"param.x{i}" for i in range(1, 7)),
    ]
    elites = table.to_pylist()
    assert len({e["cell"] for e in elites}) == len(elites)
    assert stats["qd_score"] == pytest.approx(sum(e["objective"] for e in elites))
    assert stats["coverage"] == pytest.approx(len(elites) / 25)
    rows = records(out)
    for e in elites:  # each elite is an evaluated design with its reward and its x1, x2 as measures
        row = rows[e["evaluation"]]
        assert e["objective"] == row["reward"]
        assert all(e[f"param.x{i}"] == row[f"param.x{i}"] for i in range(1, 7))
        assert (e["measure.x1"], e["measure.x2"]) == (row["param.x1"], row["param.x2"])
    # the best of each cell: no evaluation in a cell beats its elite
    for row in rows:
        cell = min(int(row["param.x1"] * 5), 4) * 5 + min(int(row["param.x2"] * 5), 4)
        assert row["reward"] <= next(e["objective"] for e in elites if e["cell"] == cell)
    png = (out / "archive.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert json.loads((out / "summary.json").read_text())["agent_summary"]["archive_size"] == len(elites)
    # the helper fills the same archive from the same evaluations: the same figures
    again = archive_stats_of_run(out, qd_offset=0.0, measures="x1,x2", cells=5)
    assert again["qd_score"] == pytest.approx(stats["qd_score"]) and again["archive_size"] == len(elites)


def test_same_seed_same_designs_other_seed_or_hyperparameters_differ(tmp_path: Path) -> None:
    def rows_of(name: str, seed: int = 3, **params: object) -> list[dict]:
        run(
            env=MIXED,
            agent="mapelites",
            budget=48,
            seed=seed,
            out=tmp_path / name,
            progress=False,
            agent_params={"emitter_batch": 4, **params},
        )
        return columns(records(tmp_path / name), ("param.", "reward"))

    a, b = rows_of("a"), rows_of("b")
    assert a == b
    assert rows_of("c", seed=4) != a
    # the first batch (8 uniform designs) is the same; what follows depends on the emitter
    gaussian = rows_of("d", emitter="gaussian", sigma=0.3)
    assert gaussian[:8] == a[:8] and gaussian[8:] != a[8:]
    assert rows_of("e", measures="kernel,width")[8:] != a[8:]


def test_batch_size_is_emitters_times_emitter_batch() -> None:
    agent = build_agent("mapelites", {"emitters": 3, "emitter_batch": 5}, problem(H6), seed=0)
    assert agent.batch_size == 15 and len(agent.ask(15)) == 15


def test_multi_objective_env_is_refused_unless_scalarized(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'mapelites' can't search archgym/DTLZ2-v0.*--scalarize"):
        run(env="archgym/DTLZ2-v0", agent="mapelites", budget=10, seed=0, out=tmp_path / "x", progress=False)
    summary = run(
        env="archgym/DTLZ2-v0",
        agent="mapelites",
        budget=20,
        seed=0,
        out=tmp_path / "y",
        scalarize="chebyshev:0.5,0.5",
        progress=False,
    )
    assert summary["n_evaluations"] == 20 and summary["agent_summary"]["archive_size"] > 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"measures": "x1,speed"},
            r"'speed' is neither.*legal names: design parameters \['x1'.*'x6'\], "
            r"metrics \['value'\]",
        ),
        ({"measures": "x1,x1"}, "names a measure twice"),
        ({"measures": "x1,value"}, r"measure_ranges is required for metric measures \['value'\]"),
        ({"measures": "x1,value", "measure_ranges": "0:3"}, "measure_ranges: '0:3' has 1 entries"),
        ({"measures": "x1,value", "measure_ranges": ",3:0"}, r"entry '3:0' for measure 'value'"),
        ({"measures": "value", "measure_ranges": "a:b"}, "is not 'lo:hi'"),
        ({"qd_offset": "low"}, r"qd_offset: 'low' is not legal; legal values: 'auto' or a finite number"),
    ],
)
def test_bad_measures_and_offsets_are_explained(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_agent("mapelites", params, problem(H6), seed=0)


def test_default_measures_are_the_first_two_parameters_or_the_only_one(tmp_path: Path) -> None:
    assert build_agent("mapelites", {}, problem(H6), seed=0).measures.names == ("x1", "x2")
    out = tmp_path / "null"
    summary = run(
        env="archgym-testing/Null-v0", agent="mapelites", budget=40, seed=0, out=out, progress=False
    )
    assert summary["agent_summary"]["measures"] == ["x"] and summary["agent_summary"]["cells"] == 10
    assert pq.read_table(out / "archive.parquet").column_names[:2] == ["cell", "measure.x"]
    assert (out / "archive.png").exists()  # a 1-D heatmap


def test_infeasible_evaluations_are_counted_not_archived(tmp_path: Path) -> None:
    out = tmp_path / "faulty"  # x < 0.3 crashes (infeasible, penalty -10); nothing hangs
    summary = run(
        env=FAULTY,
        env_kwargs={"fail_below": 0.3, "hang_above": 2.0},
        agent="mapelites",
        budget=60,
        seed=1,
        out=out,
        progress=False,
    )
    rows = records(out)
    infeasible = [r for r in rows if not r["feasible"]]
    assert infeasible and summary["agent_summary"]["n_infeasible"] == len(infeasible)
    elites = pq.read_table(out / "archive.parquet").to_pylist()
    assert elites and all(e["param.x"] >= 0.3 and e["objective"] > 0 for e in elites)
    assert min(int(r["param.x"] * 10) for r in rows if r["feasible"]) == 3
    assert summary["agent_summary"]["archive_size"] == 7  # cells 3..9; the penalty filled none
    # auto offset: the lowest feasible reward of the first batch with a feasible result
    first = [r["reward"] for r in rows if r["batch"] == 0 and r["feasible"]]
    assert summary["agent_summary"]["qd_offset"] == min(first)


def test_conditional_and_forbidden_designs_are_repaired(tmp_path: Path) -> None:
    # n * width <= 160 is the constraint; measures on n and width push the search to its edge
    summary = run(
        env=MIXED,
        agent="mapelites",
        budget=80,
        seed=2,
        out=tmp_path / "m",
        progress=False,
        agent_params={"measures": "n,width", "sigma": 0.4, "emitter_batch": 4},
    )
    rows = records(tmp_path / "m")
    assert len(rows) == 80 and all(r["param.n"] * r["param.width"] <= 160 for r in rows)
    for r in rows:  # conditional parameters appear exactly when active
        assert (r["param.gamma"] is not None) == (r["param.kernel"] == "rbf")
        assert (r["param.degree"] is not None) == (r["param.kernel"] == "poly")
    assert summary["agent_summary"]["cells"] == 10 * 7  # width: 7 values, one cell each
    assert summary["agent_summary"]["n_repaired"] > 0  # the emitters did propose forbidden designs

    agent = build_agent("mapelites", {"measures": "n,width"}, problem(MIXED), seed=0)
    assert isinstance(agent, MapElites)
    space = agent.space
    designs = agent.ask(agent.batch_size)
    agent.tell(
        designs,
        [
            EvalResult(design=d, reward=-1.0, metrics={"value": 1.0}, feasible=True, eval_time_s=0.0)
            for d in designs
        ],
    )
    forbidden = np.array([0.5, 10.5 / 11, 0.5 / 3, 0.5, 0.5, 6.5 / 7])  # n=10, width=64
    assert space.violated(space.from_unit(forbidden, check=False))
    repaired = agent._decode(forbidden)
    assert not space.violated(repaired) and space.contains(repaired)


def test_metric_measures_on_a_cvt_archive(tmp_path: Path) -> None:
    out = tmp_path / "cvt"
    summary = run(
        env=MIXED,
        agent="mapelites",
        budget=50,
        seed=0,
        out=out,
        progress=False,
        agent_params={"measures": "value,x", "measure_ranges": "0:40,", "archive": "cvt", "cvt_cells": 20},
    )
    stats = summary["agent_summary"]
    assert stats["cells"] == 20 and 0 < stats["archive_size"] <= 20
    table = pq.read_table(out / "archive.parquet")
    assert table.num_rows == stats["archive_size"]
    assert table.column_names[:4] == ["cell", "measure.value", "measure.x", "objective"]
    elites = table.to_pylist()
    assert all(e["measure.value"] == pytest.approx(-e["objective"]) for e in elites)  # reward = -value
    assert all(e["measure.x"] == pytest.approx((e["param.x"] + 5) / 10) for e in elites)
    assert (out / "archive.png").exists()


def test_three_measures_write_no_heatmap(tmp_path: Path) -> None:
    out = tmp_path / "three"
    summary = run(
        env=H6,
        agent="mapelites",
        budget=40,
        seed=0,
        out=out,
        progress=False,
        agent_params={"measures": "x1,x2,x3", "cells": 3},
    )
    assert summary["agent_summary"]["cells"] == 27
    assert pq.read_table(out / "archive.parquet").num_rows == summary["agent_summary"]["archive_size"]
    assert not (out / "archive.png").exists()


def test_archive_stats_fills_the_same_archive_from_any_evaluations() -> None:
    prob = problem(H6)
    rng = np.random.default_rng(0)
    designs = [prob.design_space.sample(rng) for _ in range(40)]
    rewards = [float(d["x1"] + d["x2"]) for d in designs]
    stats = archive_stats(designs, rewards, prob, qd_offset=-1.0, cells=4)
    best: dict[tuple[int, int], float] = {}
    for d, r in zip(designs, rewards, strict=True):
        key = (min(int(d["x1"] * 4), 3), min(int(d["x2"] * 4), 3))
        best[key] = max(best.get(key, -np.inf), r)
    assert stats["archive_size"] == len(best) and stats["coverage"] == len(best) / 16
    assert stats["qd_score"] == pytest.approx(sum(v + 1.0 for v in best.values()))
    results = [
        EvalResult(design=d, reward=r, metrics={"value": r}, feasible=i % 2 == 0, eval_time_s=0.0)
        for i, (d, r) in enumerate(zip(designs, rewards, strict=True))
    ]
    half = archive_stats(designs, results, prob, qd_offset=0.0, measures="value", measure_ranges="0:2")
    assert half["n_infeasible"] == 20 and half["cells"] == 10
    with pytest.raises(ValueError, match="qd_offset: archive_stats needs a number"):
        archive_stats(designs, rewards, prob, qd_offset="auto")  # type: ignore[arg-type]
    # the archive's settings are the agent's hyperparameters, checked by its spec
    with pytest.raises(ValueError, match=r"parameter 'archive': 'hex' is out of the design space"):
        archive_stats(designs, rewards, prob, qd_offset=0.0, archive="hex")
    with pytest.raises(TypeError, match=r"unexpected argument\(s\) \['sigma'\]"):
        archive_stats(designs, rewards, prob, qd_offset=0.0, sigma=0.1)


def test_heatmap_axes_are_in_the_env_units_not_the_archive_encoding(tmp_path: Path) -> None:
    """The archive works in 0–1 encodings; the heatmap's ticks name the parameters' own values:
    Branin's x1 spans [-5, 10], a log-scaled real is decoded on its log scale, and a categorical
    measure gets one tick per choice at its encoded position."""
    out = tmp_path / "branin"
    run(
        env="archgym/Branin-v0",
        agent="mapelites",
        budget=20,
        seed=0,
        out=out,
        progress=False,
        agent_params={"measures": "x1,x2", "cells": 4},
    )
    assert (out / "archive.png").read_bytes().startswith(b"\x89PNG")
    branin = problem("archgym/Branin-v0")
    elites = mapelites.Elites(
        branin.design_space,
        mapelites.Measures.parse(branin, "x1,x2", ""),
        kind="grid",
        cells=4,
        cvt_cells=10,
        qd_offset=0.0,
    )
    x1, x2 = elites.tick_labels()
    assert [float(text) for _, text in x1] == pytest.approx([-5, -1.25, 2.5, 6.25, 10])
    assert [float(text) for _, text in x2] == pytest.approx([0, 3.75, 7.5, 11.25, 15])
    assert [u for u, _ in x1] == pytest.approx([0, 0.25, 0.5, 0.75, 1])

    mixed = problem(MIXED)
    space = mixed.design_space
    kernel, gamma = (
        mapelites.Elites(
            space, mapelites.Measures.parse(mixed, name, ""), kind="grid", cells=5, cvt_cells=10, qd_offset=0
        ).tick_labels()[0]
        for name in ("kernel", "gamma")
    )
    assert [text for _, text in kernel] == ["linear", "rbf", "poly"]
    assert [u for u, _ in kernel] == pytest.approx(
        [space["kernel"].to_unit(v) for v in ("linear", "rbf", "poly")]
    )
    assert [float(text) for _, text in gamma] == pytest.approx([0.001, 0.01, 0.1, 1, 10], rel=1e-3)
