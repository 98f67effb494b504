"""The backend as a fidelity: a proxy screens, the simulator confirms, through the backend seam
(``backend=["proxy", "simulator"]``), with each level's cost taken from measured times."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pyarrow.parquet as pq
import pytest

import archgym  # noqa: F401 - registers the envs and backends
from archgym.data import collect, export
from archgym.loop import resume, run
from archgym.proxy import read_card, train

SOR = "archgym/SOR-v0"
KWARGS = {"n": 8, "tol": 1e-6, "sequence": "constant"}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("sor-proxy")
    collect(env=SOR, n=24, out=root / "collect", seed=0, env_kwargs=KWARGS, progress=False)
    export([root / "collect"], root / "ds.parquet")
    train(root / "ds.parquet", ["iterations"], root / "m.joblib", kinds=["rf"])
    return str(root / "m.joblib")


def _ladder(model: str) -> dict:
    return {**KWARGS, "backend": ["proxy", "simulator"], "model": model, "trust_model": True}


def test_the_ladder_is_a_fidelity_whose_levels_cost_what_was_measured(model: str) -> None:
    env = gym.make(SOR, **_ladder(model)).unwrapped
    card = read_card(model)
    measured = card["targets"]["iterations"]["predict_time_s"]["single_row"] / card["real_eval_time_s"]
    assert env.fidelity.name == "backend" and env.fidelity.levels == pytest.approx((measured, 1.0))
    assert env.fidelity.default == 1.0 and not env.continuable
    design = {"omega": 1.5}
    answers = {}
    for level in env.fidelity.levels:
        env.reset(seed=0, options={"fidelity": level})
        _, reward, _, _, info = env.step(env.design_space.to_action(design))
        assert info["fidelity"] == level
        answers[info["backend"]] = reward
        assert env.fidelity_cost(level) == pytest.approx(level)
    assert set(answers) == {"proxy", "simulator"}
    truth = gym.make(SOR, **KWARGS)
    truth.reset(seed=0)
    _, reward, _, _, _ = truth.step(truth.unwrapped.design_space.to_action(design))
    assert answers["simulator"] == reward  # the top level is the simulator itself
    with pytest.raises(ValueError, match="legal values"):
        env.reset(options={"fidelity": 0.5})  # between the levels: not a level


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"backend": ["simulator", "proxy"]}, "ending with 'simulator'"),
        ({"backend": ["proxy"]}, "two or more"),
        ({"backend": ["proxy", "proxy", "simulator"]}, "distinct"),
        ({"backend": ["oracle", "simulator"]}, "legal values"),
    ],
)
def test_bad_ladders_are_value_errors(model: str, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gym.make(SOR, **{**_ladder(model), **kwargs})


def test_an_env_with_its_own_fidelity_is_refused(model: str) -> None:
    with pytest.raises(ValueError, match="its own"):
        gym.make("archgym/Hartmann6MF-v0", backend=["proxy", "simulator"], model=model, trust_model=True)


def test_the_proxy_needs_trust_on_the_ladder_too(model: str) -> None:
    with pytest.raises(PermissionError, match="trust"):
        gym.make(SOR, **{**_ladder(model), "trust_model": False})


def _records(out: Path):
    return pq.read_table(out / "evaluations.parquet").to_pandas().sort_values("step").reset_index(drop=True)


@pytest.mark.parametrize(
    ("agent", "options"),
    [
        ("smac.hyperband", {}),
        ("asha", {}),
        ("asha", {"schedule": "async", "simulate_time": True, "workers": 3}),
    ],
)
def test_multifidelity_agents_screen_on_the_proxy_reproducibly_within_the_cost(
    model: str, tmp_path: Path, agent: str, options: dict
) -> None:
    def once(name: str):
        run(
            env=SOR,
            agent=agent,
            budget=None,
            cost_budget=4,
            seed=3,
            out=tmp_path / name,
            env_kwargs=_ladder(model),
            progress=False,
            **options,
        )
        return _records(tmp_path / name)

    first, second = once("a"), once("b")
    columns = ["step", "fidelity", "backend", "reward", "cost", "param.omega"]
    assert first[columns].equals(second[columns])
    low = first["fidelity"].min()
    assert set(first["backend"]) == {"proxy", "simulator"}
    assert (first["backend"] == "proxy").equals(first["fidelity"] == low)
    assert (first["cost"] == first["fidelity"]).all()  # a level's value is its cost
    in_flight = options.get("workers", 1)
    assert first["cost"].sum() - first["cost"].nlargest(in_flight).sum() < 4
    confirmed = json.loads((tmp_path / "a" / "summary.json").read_text())["best_at_full_fidelity"]
    simulated = first[(first["backend"] == "simulator") & first["feasible"]]
    assert confirmed["reward"] == simulated["reward"].max()  # never a proxy's prediction
    assert first.set_index("step").loc[confirmed["step"], "backend"] == "simulator"


def test_a_ladder_run_resumes_with_trust_given_again(model: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(env=SOR, agent="asha", budget=6, seed=1, out=out, env_kwargs=_ladder(model), progress=False)
    before = _records(out)
    resume(out, budget=12, trust_model=True, progress=False)
    after = _records(out)
    assert len(after) == 12 and after.iloc[:6][["reward", "backend"]].equals(before[["reward", "backend"]])
