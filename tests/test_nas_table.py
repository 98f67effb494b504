"""NAS-Bench-201 tabular backend: isomorphism classes, lookups, refusal while incomplete, the
backend registered through the plugin hook (and torch-free), and the resumable tabulation script."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

import archgym
from archgym.env import backend_specs
from archgym.loop import run
from archgym.loop.setup import versions_of
from archgym_nas import table, tabulate
from archgym_nas.cell import EDGE_NAMES, OPS, all_cells, cell_index, is_connected
from archgym_nas.env import NASBench201


def test_the_space_has_6466_isomorphism_classes_as_in_the_paper() -> None:
    classes = table.classes()
    assert len(classes) == 6466
    assert len(table.trainable_classes()) == 6466 - 5  # the five all-zero outputs need no training
    # a skip edge folds away: conv on node 1 after a skip equals conv straight from the input
    via_skip = ("skip_connect", "none", "none", "none", "nor_conv_3x3", "none")
    direct = ("none", "none", "none", "nor_conv_3x3", "none", "none")
    assert table.isomorphism_key(via_skip) == table.isomorphism_key(direct)
    # which input of a node an op hangs on does not matter once skips fold away; the op does
    a = ("skip_connect", "none", "none", "nor_conv_1x1", "avg_pool_3x3", "none")
    b = ("skip_connect", "none", "none", "avg_pool_3x3", "nor_conv_1x1", "none")
    c = ("skip_connect", "none", "none", "avg_pool_3x3", "nor_conv_3x3", "none")
    assert table.isomorphism_key(a) == table.isomorphism_key(b) != table.isomorphism_key(c)


@given(st.tuples(*[st.sampled_from(OPS)] * 6))
def test_isomorphic_cells_agree_on_connectivity_and_index_round_trips(ops: tuple[str, ...]) -> None:
    representative = table.classes()[table.isomorphism_key(ops)]
    assert is_connected(representative) == is_connected(ops)
    assert all_cells()[cell_index(ops)] == ops


def _synthetic_rows(seeds: tuple[int, ...] = (0, 1)) -> list[tuple[str, int, tuple[float, ...]]]:
    """(class, seed, trained metrics in TRAINED_METRICS order), derived from a hash of the key."""
    out = []
    for key in table.trainable_classes():
        for seed in seeds:
            h = int(hashlib.sha256(f"{key}|{seed}".encode()).hexdigest()[:8], 16) / 16**8
            values = {
                "val_accuracy": 50 + 50 * h,
                "test_accuracy": 40 + 50 * h,
                "train_loss": 2 - h,
                "train_time_s": 1 + h,
            }
            out.append((key, seed, tuple(values[m] for m in table.TRAINED_METRICS)))
    return out


def _synthetic_table(directory: Path, seeds: tuple[int, ...] = (0, 1)) -> None:
    """Test data (not results): each class's metrics derived from a hash of its key, so lookups
    can be checked against what was written."""
    rows = {
        (key, seed): dict(zip(table.TRAINED_METRICS, values, strict=True), torch="test")
        for key, seed, values in _synthetic_rows(seeds)
    }
    statics = [
        {"params": float(i), "flops": 0.5 * i, "synflow_log": 0.1 * i} for i in range(len(all_cells()))
    ]
    directory.mkdir(parents=True, exist_ok=True)
    tabulate.write_table(directory, rows, statics, seeds, NASBench201())


@pytest.fixture(scope="module")
def table_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("nas-table")
    _synthetic_table(directory)
    return directory


def test_table_backend_answers_every_cell_and_isomorphic_cells_agree(table_dir: Path) -> None:
    env = gym.make("archgym/NASBench201-v0", backend="table", table_dir=str(table_dir))
    space = env.unwrapped.design_space
    by_class: dict[str, dict[int, dict[str, float]]] = {}
    for i, ops in enumerate(all_cells()):
        env.reset(seed=i % 7)
        _, reward, _, _, info = env.step(space.to_action(dict(zip(EDGE_NAMES, ops, strict=True))))
        assert info["feasible"] and info["backend"] == "table" and reward == info["metrics"]["val_accuracy"]
        assert info["metrics"]["params"] == float(i)  # static metrics are the cell's own
        assert info["table"]["seed"] in (0, 1)
        trained = {m: info["metrics"][m] for m in table.TRAINED_METRICS}
        key = table.isomorphism_key(ops)
        seen = by_class.setdefault(key, {})
        assert seen.setdefault(info["table"]["seed"], trained) == trained
        if not is_connected(ops):
            assert trained["val_accuracy"] == 10.0 and math.isclose(trained["train_loss"], math.log(10))
        if len(seen) == 2:
            mean = info["table"]["mean"]["val_accuracy"]
            assert mean == pytest.approx((seen[0]["val_accuracy"] + seen[1]["val_accuracy"]) / 2)
    assert len(by_class) == 6466


def test_reset_seed_picks_the_table_seed(table_dir: Path) -> None:
    env = gym.make("archgym/NASBench201-v0", backend="table", table_dir=str(table_dir))
    action = env.unwrapped.design_space.to_action(env.unwrapped.design_space.default())
    answers = {}
    for seed in range(12):
        env.reset(seed=seed)
        answers[seed] = env.step(action)[4]["table"]["seed"]
        env.reset(seed=seed)
        assert env.step(action)[4]["table"]["seed"] == answers[seed]  # same seed, same answer
    assert set(answers.values()) == {0, 1}  # both seeds' values are seen across resets


def test_table_backend_refuses_what_it_was_not_made_with(table_dir: Path) -> None:
    with pytest.raises(ValueError, match="channels: 8 is not legal with backend='table'"):
        gym.make("archgym/NASBench201-v0", backend="table", table_dir=str(table_dir), channels=8)
    env = gym.make("archgym/NASBench201-v0", backend="table", table_dir=str(table_dir))
    with pytest.raises(ValueError, match="fidelity 'epochs': 1 is not legal"):
        env.reset(options={"fidelity": 1})
    with pytest.raises(ValueError, match="backend: 'tables' is not legal"):
        gym.make("archgym/NASBench201-v0", backend="tables")
    with pytest.raises(
        ValueError, match="resolution: 8 is not legal with backend='table'; the table was made "
    ):
        gym.make("archgym/NASBench201-v0", backend="table", table_dir=str(table_dir), resolution=8)
    # None stands for the dataset's default resolution, which is what the table was made at
    gym.make("archgym/NASBench201-v0", backend="table", table_dir=str(table_dir), resolution=None)
    with pytest.raises(ValueError, match=r"^table_dir is only legal with backend='table'$"):
        gym.make("archgym/NASBench201-v0", table_dir=str(table_dir))


def test_table_is_a_backend_registered_through_the_plugin_hook() -> None:
    spec = backend_specs()["table"]
    assert spec == archgym.BackendSpec(
        name="table",
        entry_point="archgym_nas.table:table_backend",
        description=spec.description,
        options=("table_dir",),
    )
    registry = archgym.get_registry()
    assert registry.backends["table"] == spec
    owner = registry.env_plugins["archgym/NASBench201-v0"]
    assert registry.plugins[owner].backends == ["table"]


def test_the_table_serves_only_the_nas_env() -> None:
    for env_id, owner in (("archgym/Branin-v0", "Branin"), ("archgym/Hartmann6-v0", "Hartmann6")):
        with pytest.raises(
            ValueError,
            match=rf"^backend: 'table' is not legal for {owner}: the NAS-Bench-201 table serves only "
            r"archgym/NASBench201-v0$",
        ):
            gym.make(env_id, backend="table")


def test_table_backend_through_the_env_base(table_dir: Path) -> None:
    env = gym.make("archgym/NASBench201-v0", backend="table", table_dir=str(table_dir))
    inner = env.unwrapped
    assert inner.backend == "table" and inner.fidelity == archgym.Fidelity("epochs", 3, 3, 3, integer=True)
    tab = table.load(table_dir)
    assert inner.versions() == {
        "nas-table": f"{tab.card['date']} sha256:{tab.sha256[:16]} (trained with torch test)"
    }
    recorded = versions_of(env, "archgym/NASBench201-v0")
    assert "nas-table" in recorded and "torch" not in recorded and "scikit-learn" not in recorded
    archgym.check_env(env, n_designs=3)
    # the live env answers a design on the table without stepping or training, drawing the table
    # seed from its own RNG as a step would
    live = NASBench201()
    live.reset(seed=5)
    seed_index = int(copy.deepcopy(live.np_random).integers(len(tab.seeds)))
    design = live.design_space.default()
    answer = live.evaluate_on("table", design, table_dir=str(table_dir))
    assert answer == tab.lookup(cell_index(tuple(design[e] for e in EDGE_NAMES)), seed_index)
    assert live.backend == "simulator" and live.active_backend is None


def test_an_incomplete_table_is_refused_with_a_count(tmp_path: Path) -> None:
    with pytest.raises(table.IncompleteTable, match=r"0 of 6,461 trainable .* answering 341 of 15,625 cells"):
        gym.make("archgym/NASBench201-v0", backend="table", table_dir=str(tmp_path))


def test_the_live_env_records_the_versions_of_what_trains() -> None:
    from importlib.metadata import version

    recorded = NASBench201().versions()
    assert recorded == {"torch": version("torch"), "scikit-learn": version("scikit-learn")}


def test_loop_runs_on_a_table_dir_and_records_the_table_backend(table_dir: Path, tmp_path: Path) -> None:
    kwargs = {"backend": "table", "table_dir": str(table_dir)}
    summary = run(
        env="archgym/NASBench201-v0",
        agent="random",
        budget=5,
        seed=0,
        out=tmp_path / "run",
        env_kwargs=kwargs,
        progress=False,
    )
    assert summary["n_evaluations"] == 5 and summary["env_kwargs"] == kwargs
    assert "nas-table" in summary["versions"] and "torch" not in summary["versions"]
    records = pq.read_table(tmp_path / "run" / "evaluations.parquet")
    assert records.num_rows == 5 and set(records["backend"].to_pylist()) == {"table"}


TORCH_FREE = """
import sys, tempfile
import gymnasium
import archgym
from archgym.loop import run
from archgym.loop.setup import versions_of

env = gymnasium.make("archgym/NASBench201-v0", backend="table")
env.reset(seed=0)
for _ in range(10):
    info = env.step(env.action_space.sample())[4]
    assert info["feasible"] and info["backend"] == "table" and "table" in info, info
versions_of(env, "archgym/NASBench201-v0")
with tempfile.TemporaryDirectory() as out:
    summary = run(env="archgym/NASBench201-v0", agent="random", budget=5, seed=0, out=out + "/run",
                  env_kwargs={"backend": "table"}, progress=False)
assert summary["n_evaluations"] == 5
print("torch" in sys.modules, "sklearn" in sys.modules)
"""


@pytest.mark.skipif(
    not (table.TABLE_DIR / f"{table.TABLE_NAME}.parquet").is_file(), reason="the shipped table is incomplete"
)
def test_a_table_backed_env_and_run_import_no_torch() -> None:
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(TORCH_FREE)], capture_output=True, text=True, timeout=300
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.split()[-2:] == ["False", "False"], child.stdout  # torch, sklearn not imported


def _assert_table_holds(directory: Path, rows: dict[tuple[str, int], dict]) -> None:
    """Every connected cell holds its class's training for every seed (so isomorphic cells agree)."""
    tab = table.load(directory)
    for ops in all_cells():
        if not is_connected(ops):
            continue
        key = table.isomorphism_key(ops)
        for seed_index, seed in enumerate(tab.seeds):
            got = tab.lookup(cell_index(ops), seed_index)
            assert all(got[m] == rows[(key, seed)][m] for m in table.TRAINED_METRICS), (ops, seed)


def test_lookups_hold_each_classes_training(table_dir: Path) -> None:
    rows = {
        (k, s): {m: float(v) for m, v in zip(table.TRAINED_METRICS, values, strict=True)}
        for k, s, values in _synthetic_rows()
    }
    _assert_table_holds(table_dir, rows)


def test_the_shipped_table_is_complete_or_refused_with_a_count() -> None:
    if (table.TABLE_DIR / f"{table.TABLE_NAME}.parquet").is_file():
        card = json.loads((table.TABLE_DIR / f"{table.TABLE_NAME}.card.json").read_text())
        assert card["trained_classes"] == 6461 and card["seed_to_seed_spearman_val_accuracy"] >= 0.6
        assert (table.TABLE_DIR / f"{table.TABLE_NAME}.parquet").stat().st_size < 5e6  # ships in the repo
        _assert_table_holds(
            table.TABLE_DIR,
            {(r["key"], r["seed"]): r for r in table.read_shards(table.TABLE_DIR) if r.get("error") is None},
        )
        # static metrics are the cell's own, also where the cell is not its class's representative
        tab, env = table.load(), NASBench201()
        data = env._load()
        for ops in (
            ("nor_conv_3x3", "none", "none", "nor_conv_1x1", "none", "skip_connect"),
            ("skip_connect", "none", "none", "avg_pool_3x3", "nor_conv_1x1", "none"),
        ):
            assert table.classes()[table.isomorphism_key(ops)] != ops
            expected = env._static_metrics(ops, env._build(ops, data), data)
            got = tab.lookup(cell_index(ops), 0)
            assert [got[m] for m in table.STATIC_METRICS] == pytest.approx(expected)
        return
    done_before, needed = table.progress()
    cells_before = table.answerable_cells()
    with pytest.raises(table.IncompleteTable) as info:
        gym.make("archgym/NASBench201-v0", backend="table")
    done_after, cells_after = table.progress()[0], table.answerable_cells()  # a tabulator may be running
    pattern = r"([\d,]+) of 6,461 trainable isomorphism classes .* answering ([\d,]+) of 15,625 cells"
    found = re.search(pattern, str(info.value))
    assert found is not None and needed == 6461, str(info.value)
    done, cells = (int(g.replace(",", "")) for g in found.groups())
    assert done_before <= done <= done_after < needed
    assert 341 <= cells_before <= cells <= cells_after < 15625  # disconnected cells are always answerable


def test_tabulation_resumes_and_holds_what_the_live_env_returns(tmp_path: Path) -> None:
    assert tabulate.main(["--dir", str(tmp_path), "--workers", "1", "--max-trainings", "2"]) == 0
    first = table.read_shards(tmp_path)
    assert len(first) == 2 and {r["seed"] for r in first} == {0, 1} and len({r["key"] for r in first}) == 1
    assert tabulate.main(["--dir", str(tmp_path), "--workers", "1", "--max-trainings", "2"]) == 0
    rows = table.read_shards(tmp_path)
    assert len(rows) == 4 and len({(r["key"], r["seed"]) for r in rows}) == 4  # nothing trained twice
    row = rows[0]
    env = NASBench201()
    env.reset(seed=row["seed"])
    info = env.step(env.design_space.to_action(NASBench201.design_from_cell_string(row["cell"])))[4]
    for metric in ("val_accuracy", "test_accuracy", "train_loss"):
        assert info["metrics"][metric] == pytest.approx(row[metric], abs=1e-6)
    with pytest.raises(SystemExit, match="trainings are missing"):
        tabulate.main(["--dir", str(tmp_path), "--consolidate", "--workers", "1"])
    assert np.isfinite([r["val_accuracy"] for r in rows]).all()


def test_switching_backends_keeps_each_ones_fidelity() -> None:
    """A live env switched to the table answers at the table's epochs, and back on the simulator
    at its own fidelity again; evaluate_on('table') uses the table's epochs whatever the env's."""
    env = gym.make("archgym/NASBench201-v0").unwrapped
    own = env.fidelity
    env.reset(seed=0, options={"fidelity": 1})
    design = env.design_space.default()
    tabulated = env.evaluate_on("table", design)  # no training: the table answers
    assert env.backend == "simulator" and env.fidelity == own and env._fidelity_value == 1
    env.use_backend("table")
    assert env.fidelity.low == env.fidelity.high == table.load().card["fidelity"]["epochs"]
    env.reset(seed=0)
    assert env.step(env.design_space.to_action(design))[4]["backend"] == "table"
    assert set(tabulated) == set(env.metric_units)
    env.use_backend("simulator")
    assert env.backend == "simulator" and env.active_backend is None and env.fidelity == own
