"""The agent-plugin example of docs/write-an-agent.md, really installed and discovered.

``docs/examples/archgym-example-agent`` is pip-installed into a private target directory (real
``.dist-info`` metadata, as for a user's ``pip install``), that directory is put on ``sys.path``
and ``archgym.load_plugins()`` finds the agent through the ``archgym`` entry-point group. The
agent then runs in this process through ``archgym.loop.run`` and the CLI's ``main``. Afterwards the
path, the example's modules and the registry are put back as they were, so later tests see the
built-ins only.
"""

from __future__ import annotations

import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import archgym
from archgym.cli import main
from archgym.loop import run
from archgym.testing import install_into

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "archgym-example-agent"
AGENT = "one-plus-one"


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example pip-installed into a fresh ``--target`` directory."""
    base = tmp_path_factory.mktemp("agent_plugin")
    copy = base / "src" / EXAMPLE.name  # setuptools writes build/ and *.egg-info next to the sources
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = base / "site"
    install_into(site, copy)
    [info] = site.glob("archgym_example_agent-*.dist-info")
    assert "[archgym]" in (info / "entry_points.txt").read_text()
    return site


@pytest.fixture
def registry(target: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[archgym.Registry]:
    """The plugin registry rebuilt with the installed example on ``sys.path``."""
    monkeypatch.syspath_prepend(str(target))
    yield archgym.load_plugins()
    monkeypatch.undo()
    for name in [m for m in sys.modules if m.split(".")[0] == "archgym_example_agent"]:
        del sys.modules[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", archgym.PluginWarning)
        archgym.load_plugins()


def test_installed_agent_is_discovered_and_listed_without_importing_it(
    registry: archgym.Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "example-agent" not in registry.broken, registry.broken
    info = registry.plugins["example-agent"]
    assert (info.distribution, info.agents) == ("archgym-example-agent", [AGENT])
    spec = registry.agent("One-Plus-One")  # names are matched case-insensitively
    assert spec.entry_point == "archgym_example_agent.es:OnePlusOne"
    assert [p.name for p in spec.hyperparameters] == ["sigma0", "batch_size"]
    assert main(["agents"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if line.startswith(AGENT)]
    assert listed and "evolution strategy" in listed[0], listed
    # Listing went through the spec: the agent module itself is imported only to build the agent.
    assert "archgym_example_agent.es" not in sys.modules


def _gap(summary: dict) -> float:
    return summary["optimal_reward"] - summary["best_reward"]


@pytest.mark.parametrize("env", ["archgym/Branin-v0", "archgym/Hartmann6-v0"])
def test_example_agent_beats_random_search(registry: archgym.Registry, env: str, tmp_path: Path) -> None:
    """A real search strategy: over five seeds, its median distance to the known optimum after 100
    evaluations is less than half random search's, on a 2-d and a 6-d problem. The median, since a
    (1+1)-ES is a local search: on Hartmann-6 some seeds end on a local optimum."""
    gaps: dict[str, list[float]] = {AGENT: [], "random": []}
    for agent, seed in [(a, s) for a in gaps for s in range(5)]:
        summary = run(
            env=env, agent=agent, budget=100, seed=seed, out=tmp_path / f"{agent}-{seed}", progress=False
        )
        assert summary["n_evaluations"] == 100
        gaps[agent].append(_gap(summary))
    assert np.median(gaps[AGENT]) < 0.5 * np.median(gaps["random"]), gaps
    assert summary["agent_summary"] == {} and "archgym_example_agent.es" in sys.modules


def _records(out: Path) -> dict[str, list]:
    table = pq.read_table(out / "evaluations.parquet")
    return {c: table[c].to_pylist() for c in table.column_names if c.startswith("param.") or c == "reward"}


def test_cli_runs_are_reproducible_from_the_seed(
    registry: archgym.Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the CLI, in-process, on a space with categorical, conditional and integer
    parameters: the same seed gives the same records, another seed other ones, and the agent's
    hyperparameters are checked against its spec."""
    args = ["run", "--env", "archgym/MixedConditional-v0", "--agent", AGENT, "--budget", "30"]
    args += ["--no-progress", "--agent-param"]
    for name, seed in [("a", "3"), ("b", "3"), ("c", "4")]:
        assert main([*args, "sigma0=0.3", "--seed", seed, "--out", str(tmp_path / name)]) == 0
    a, b, c = (_records(tmp_path / name) for name in "abc")
    assert a == b
    assert a["reward"] != c["reward"]
    capsys.readouterr()
    assert main([*args, "sigma0=5", "--seed", "0", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "sigma0" in err and "0.001" in err, err


def test_failed_evaluations_are_recorded_and_searched_around(
    registry: archgym.Registry, tmp_path: Path
) -> None:
    """On an env whose simulator crashes for x < 0.5 (penalty -10), every run records the crashes as
    infeasible evaluations and still climbs to x = 1, whether it starts among them or not."""
    env = "archgym.testing:archgym-testing/Faulty-v0"
    for seed in range(4):
        out = tmp_path / str(seed)
        summary = run(
            env=env,
            agent=AGENT,
            budget=40,
            seed=seed,
            out=out,
            env_kwargs={"fail_below": 0.5, "hang_above": 1.0},
            progress=False,
        )
        table = pq.read_table(out / "evaluations.parquet").to_pydict()
        failed = [i for i, ok in enumerate(table["feasible"]) if not ok]
        assert failed and all("simulated crash" in table["error"][i] for i in failed), table["error"]
        assert summary["best_design"]["x"] > 0.95, summary["best_design"]
        assert summary["agent_summary"]["n_children"] == 40 - summary["agent_summary"]["n_random"]


def test_failure_never_replaces_a_feasible_parent(registry: archgym.Registry) -> None:
    """The success rule itself: a failed child (however high its penalty) leaves the parent and
    shrinks the step; a better feasible child replaces the parent and grows the step."""
    problem = archgym.search.Problem(
        env_id="unit", design_space=archgym.DesignSpace([archgym.Real("x", 0.0, 1.0)]), n_objectives=1
    )
    agent = registry.agent(AGENT).load()(problem, seed=0)

    def tell(reward: float, feasible: bool) -> dict:
        [design] = agent.ask(1)
        result = archgym.search.EvalResult(design, reward, {}, feasible, 0.0, None if feasible else "crash")
        agent.tell([design], [result])
        return design

    first = tell(-1.0, True)
    assert agent.parent_key == archgym.spaces.design_key(first)
    sigma = agent.sigma
    tell(100.0, False)
    assert agent.parent_key == archgym.spaces.design_key(first) and agent.sigma < sigma
    sigma = agent.sigma
    better = tell(0.0, True)
    assert agent.parent_key == archgym.spaces.design_key(better) and agent.sigma > sigma
    assert agent.finish(Path()) == {"sigma": agent.sigma, "n_children": 2, "n_successes": 1, "n_random": 1}


def test_concurrent_asks_under_asynchronous_scheduling(registry: archgym.Registry, tmp_path: Path) -> None:
    """``concurrent_asks``: with four simulated workers the agent is asked again while earlier
    children are still being evaluated, and the simulated clock makes such a run reproducible."""
    kwargs = {"env": "archgym/Branin-v0", "agent": AGENT, "budget": 40, "seed": 1, "progress": False}
    for name in "ab":
        run(**kwargs, out=tmp_path / name, schedule="async", simulate_time=True, workers=4)
    table = pq.read_table(tmp_path / "a" / "evaluations.parquet").to_pydict()
    start, finish = np.array(table["start_s"]), np.array(table["finish_s"])
    in_flight = [int(np.sum((start <= t) & (finish > t))) for t in start]
    assert max(in_flight) == 4, in_flight
    assert _records(tmp_path / "a") == _records(tmp_path / "b")


def test_registry_is_restored_afterwards(target: Path) -> None:
    # Runs after the tests above (file order): the fixture put the path, modules and registry back.
    assert str(target) not in sys.path
    assert AGENT not in archgym.get_registry().agents
    assert "example-agent" not in archgym.get_registry().plugins
    assert not any(m.split(".")[0] == "archgym_example_agent" for m in sys.modules)
