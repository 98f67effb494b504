"""The LLM-training parallelism envs on mlsysim: the env is mlsysim's model (checked against direct
calls), memory decides feasibility, designs never crash it, it passes both checkers, every agent
that fits runs on it, and bad names are ValueErrors listing the legal ones.

mlsysim takes seconds to import, so the module imports it once (through the first env made).
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import archgym
from archgym.env import reward_space_of
from archgym.loop import problem_of, run
from archgym_mlsys import mlsysim_api
from archgym_mlsys.training import MEMORY_PENALTY, TIME_PENALTY, LLMTraining

SO, MO = "archgym/LLMTraining-v0", "archgym/LLMTrainingMO-v0"
GB, SEQ = 256, 2048  # the envs' defaults


@pytest.fixture(scope="module")
def env() -> LLMTraining:
    return LLMTraining()


def step(env: LLMTraining, design: dict[str, Any], *, check: bool = True) -> tuple[Any, dict[str, Any]]:
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(env.design_space.to_action(design, check=check))
    assert terminated
    return reward, info


def design(**changes: Any) -> dict[str, Any]:
    base = {
        "tp": 8,
        "pp": 1,
        "dp": 8,
        "micro_batch_size": 1,
        "zero_stage": 1,
        "recompute": "selective",
        "precision": "bf16",
    }
    return base | changes


# --- the env is mlsysim's model ----------------------------------------------------------------

DESIGNS = [
    design(),  # TP inside a node, micro-batches as gradient accumulation
    design(tp=4, pp=4, dp=4, micro_batch_size=2, zero_stage=0, precision="fp8"),  # 1F1B pipeline
    design(tp=8, pp=8, dp=1, micro_batch_size=4, zero_stage=3, recompute="full", precision="tf32"),
    design(tp=1, pp=1, dp=64, micro_batch_size=4, zero_stage=0),  # 70B unsharded: overflows memory
]


@pytest.mark.parametrize("chosen", DESIGNS)
def test_env_matches_direct_mlsysim_calls(env: LLMTraining, chosen: dict[str, Any]) -> None:
    """Metrics equal DistributedModel + EconomicsModel called by hand on Llama-3-70B and
    Lab_64_H100, and feasibility equals mlsysim's own memory verdict."""
    from mlsysim import Models, Systems
    from mlsysim.solvers import DistributedModel, EconomicsModel

    model, fleet = Models.Language.Llama3_70B, Systems.Clusters.Lab_64_H100
    microbatches = GB // (chosen["dp"] * chosen["micro_batch_size"])
    direct = DistributedModel().solve(
        model,
        fleet,
        batch_size=GB,
        precision=chosen["precision"],
        efficiency=0.5,
        tp_size=chosen["tp"],
        pp_size=chosen["pp"],
        microbatch_count=microbatches,
        gradient_accumulation_steps=microbatches if chosen["pp"] == 1 else 1,
        zero_stage=chosen["zero_stage"],
        activation_recomputation=chosen["recompute"] == "full",
        overlap_comm=True,
        seq_len=SEQ,
    )
    step_s = direct.step_latency_total.m_as("s")
    mfu = direct.node_profile.mfu * direct.scaling_efficiency
    cost = EconomicsModel().solve(fleet, duration_days=step_s / 86400, mfu=mfu).tco_usd

    reward, info = step(env, chosen)
    metrics = info["metrics"]
    assert metrics["step_time_ms"] == pytest.approx(step_s * 1e3, rel=1e-12)
    assert metrics["peak_memory_gb"] == pytest.approx(
        direct.node_profile.memory_footprint.m_as("GB"), rel=1e-12
    )
    assert metrics["throughput_samples_s"] == pytest.approx(
        direct.effective_throughput.m_as("1/s"), rel=1e-12
    )
    assert metrics["mfu"] == pytest.approx(mfu, rel=1e-12)
    assert metrics["cost_usd"] == pytest.approx(cost, rel=1e-12)
    assert metrics["num_microbatches"] == microbatches
    assert info["feasible"] is bool(direct.node_profile.feasible)
    assert reward == (-metrics["step_time_ms"] if info["feasible"] else TIME_PENALTY)


def test_the_designs_cover_both_verdicts(env: LLMTraining) -> None:
    verdicts = [step(env, d)[1]["feasible"] for d in DESIGNS]
    assert True in verdicts and False in verdicts


def test_memory_overflow_is_an_outcome_violation_with_its_metrics_kept(env: LLMTraining) -> None:
    reward, info = step(env, DESIGNS[-1])
    capacity = env.setup.memory_gb
    assert [c.describe() for c in env.outcome_constraints] == [f"peak_memory_gb <= {capacity:g}"]
    assert info["metrics"]["peak_memory_gb"] > capacity
    assert info["constraints"]["peak_memory_gb_max"] == pytest.approx(
        info["metrics"]["peak_memory_gb"] - capacity
    )
    assert "outcome constraint violated" in info["error"]
    # mlsysim's step time still answers for it (it ignores memory): the constraint is what rejects it
    assert 0 < info["metrics"]["step_time_ms"] < step(env, design())[1]["metrics"]["step_time_ms"]
    assert reward == TIME_PENALTY


def test_forbidden_combinations_are_infeasible_without_calling_mlsysim(env: LLMTraining) -> None:
    for bad, rule in [
        (design(tp=8, pp=2, dp=8), "tp * pp * dp == 64"),
        (design(dp=64, tp=1, micro_batch_size=8), "dp * micro_batch_size divides global_batch_size 256"),
    ]:
        assert not env.design_space.contains(bad)
        reward, info = step(env, bad, check=False)
        assert not info["feasible"] and rule in info["error"] and reward == TIME_PENALTY
        assert all(math.isnan(v) for v in info["metrics"].values())


def test_zero_stage_shrinks_memory_but_not_step_time(env: LLMTraining) -> None:
    """mlsysim's ZeRO model: each stage shards one more state class over DP; step time is blind
    to it — which is why feasibility must come from the memory model."""
    runs = [step(env, design(zero_stage=z))[1]["metrics"] for z in range(4)]
    memory = [m["peak_memory_gb"] for m in runs]
    assert memory == sorted(memory, reverse=True) and memory[0] > memory[-1]
    assert len({m["step_time_ms"] for m in runs}) == 1


def test_recomputation_trades_time_for_memory(env: LLMTraining) -> None:
    selective = step(env, design(micro_batch_size=16))[1]["metrics"]
    full = step(env, design(micro_batch_size=16, recompute="full"))[1]["metrics"]
    assert full["peak_memory_gb"] < selective["peak_memory_gb"]
    assert full["step_time_ms"] > selective["step_time_ms"]


def test_mlsysim_optimiser_pick_is_feasible_and_evaluated_as_mlsysim_did(env: LLMTraining) -> None:
    from mlsysim import Models, Systems
    from mlsysim.solvers import ParallelismOptimizer

    pick = env.mlsysim_pick()
    assert pick is not None and env.design_space.contains(pick)
    result = ParallelismOptimizer().solve(
        Models.Language.Llama3_70B, Systems.Clusters.Lab_64_H100, batch_size=GB, seq_len=SEQ
    )
    assert (pick["tp"], pick["pp"], pick["dp"]) == tuple(result.best_config[k] for k in ("tp", "pp", "dp"))
    _, info = step(env, pick)
    assert info["feasible"]
    assert info["metrics"]["step_time_ms"] == pytest.approx(result.best_step_time.m_as("ms"), rel=1e-12)


# --- never crashes -----------------------------------------------------------------------------


def _any_design(space: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Every combination of legal parameter values, forbidden combinations included."""
    return st.fixed_dictionaries({p.name: st.sampled_from(p.values_list()) for p in space.parameters})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hypothesis_designs_never_crash(env: LLMTraining, data: st.DataObject) -> None:
    chosen = data.draw(_any_design(env.design_space))
    reward, info = step(env, chosen, check=False)
    assert set(info["metrics"]) == set(env.metric_units)
    if env.design_space.contains(chosen):
        assert "error" not in info or info["error"].startswith("outcome constraint violated")
        assert info["metrics"]["step_time_ms"] > 0
        assert info["feasible"] is (info["metrics"]["peak_memory_gb"] <= env.setup.memory_gb)
    if info["feasible"]:
        assert reward == -info["metrics"]["step_time_ms"] > TIME_PENALTY
        assert 0 < info["metrics"]["mfu"] <= 1
    else:
        assert reward == TIME_PENALTY


@settings(max_examples=25, deadline=None)
@given(
    batch=st.integers(1, 4096),
    seq_len=st.sampled_from([1, 128, 4096, 32768]),
    cluster=st.sampled_from(["Lab_64_A100", "Kempner_H100_384", "Training_10K"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_hypothesis_problems_build_or_name_the_batch(
    batch: int, seq_len: int, cluster: str, seed: int
) -> None:
    """Any batch on any cluster builds an env whose default design is legal, or is a ValueError
    naming ``global_batch_size``; sampled designs then evaluate without crashing."""
    try:
        made = LLMTraining(llm="Llama3_8B", cluster=cluster, global_batch_size=batch, seq_len=seq_len)
    except ValueError as exc:
        assert "global_batch_size" in str(exc)
        return
    space = made.design_space
    assert space.contains(space.default())
    sampled = space.sample(np.random.default_rng(seed))
    reward, info = step(made, sampled)
    assert info["feasible"] or reward == TIME_PENALTY


# --- checkers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("env_id", [SO, MO])
def test_archgym_check_env(env_id: str) -> None:
    archgym.check_env(gym.make(env_id))


@pytest.mark.parametrize("env_id", [SO, MO])
def test_stable_baselines3_check_env_through_the_sb3_view(env_id: str) -> None:
    made: gym.Env[Any, Any] = gym.make(env_id)
    space = reward_space_of(made)
    if space is not None:
        made = archgym.ScalarizeReward(made, [1.0] * space.shape[0])
    flat = archgym.FlatActions(made)
    sb3_check_env(flat, warn=True)
    flat.reset(seed=0)
    _, reward, terminated, _, info = flat.step(flat.action_space.sample())
    assert isinstance(reward, float) and terminated and "design" in info


def test_multi_objective_reward_reference_point_and_penalty() -> None:
    mo = gym.make(MO).unwrapped
    assert mo.reward_space.shape == (2,)
    slow_ms, capacity = -mo.reference_point
    assert capacity == mo.setup.memory_gb
    # the reference step runs at 5 % MFU of the 16-bit peak: 6PD / (0.05 * 64 * 989 TFLOP/s)
    assert slow_ms == pytest.approx(6 * mo.setup.parameters * GB * SEQ / (0.05 * 64 * 989e12) * 1e3)
    reward, info = step(mo, design())
    assert info["feasible"]
    assert np.array_equal(reward, [-info["metrics"]["step_time_ms"], -info["metrics"]["peak_memory_gb"]])
    assert np.all(reward > mo.reference_point) and mo.reward_space.contains(reward)
    reward, info = step(mo, DESIGNS[-1])
    assert not info["feasible"] and np.array_equal(reward, [TIME_PENALTY, MEMORY_PENALTY])


# --- agents --------------------------------------------------------------------------------------

BUDGET = 6
# past each agent's random start where 6 evaluations allow, on top of the defaults
FAST: dict[str, dict[str, Any]] = {
    "bo": {"n_init": 4, "num_restarts": 2, "raw_samples": 64},
    "ga": {"population": 4},
    "nsga2": {"population": 4},
    "aco": {"ants": 4},
    "optuna.tpe": {"n_startup_trials": 4},
    "optuna.gp": {"n_startup_trials": 4},
    "optuna.nsga2": {"population_size": 4},
    "optuna.nsga3": {"population_size": 4},
    **{f"pymoo.{a}": {"pop_size": 4} for a in ("ga", "de", "nsga2", "smsemoa", "agemoea")},
    "pymoo.nsga3": {"pop_size": 4, "n_partitions": 2},
    "pymoo.moead": {"n_partitions": 3, "n_neighbors": 2},
    "smac.hpo": {"n_init": 1, "n_trials": 1},
    "smac.blackbox": {"n_init": 1, "n_trials": 2},
    **{n: {"budget": BUDGET} for n in archgym.get_registry().agents if n.startswith("nevergrad.")},
}
# Every SMAC ask takes seconds here: the adapter enumerates the two forbidden-combination rules
# into ~350 ConfigSpace forbidden clauses, which ConfigSpace checks one by one on every sample.
# smac.blackbox's second ask comes from its GP; smac.hpo's model-based ask alone takes ~15 s of
# CPU (random-forest acquisition over thousands of checked samples), so it runs its initial design.
BUDGETS = {"smac.hpo": 1, "smac.blackbox": 2}


def _agent_env_pairs() -> list[tuple[str, str]]:
    """Each agent on the single-objective env where it fits, else on the two-objective one."""
    problems = {e: problem_of(gym.make(e), e) for e in (SO, MO)}
    pairs = []
    for name, spec in sorted(archgym.get_registry().agents.items()):
        agent = spec.load()
        fitting = [e for e in (SO, MO) if agent.incompatibility(problems[e]) is None]
        if fitting:
            pairs.append((name, fitting[0]))
    return pairs


PAIRS = _agent_env_pairs()


def test_every_agent_without_a_fidelity_fits() -> None:
    fitted = {a for a, _ in PAIRS}
    assert {"bo", "ga", "rea", "random", "nsga2", "rl"} <= fitted
    assert MO in {e for _, e in PAIRS}


@pytest.mark.parametrize(("agent", "env_id"), PAIRS)
def test_every_fitting_agent_runs(agent: str, env_id: str, tmp_path: Path) -> None:
    summary = run(
        env=env_id,
        agent=agent,
        agent_params=FAST.get(agent, {}),
        budget=BUDGETS.get(agent, BUDGET),
        seed=0,
        out=tmp_path / "r",
        progress=False,
    )
    assert summary["n_evaluations"] == BUDGETS.get(agent, BUDGET)


# --- arguments -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "named", "legal"),
    [
        ({"llm": "Llama4_1T"}, "llm", "Llama3_70B"),
        ({"llm": "ResNet50"}, "llm", "Llama3_8B"),  # in mlsysim, but not a transformer LM
        ({"llm": 70}, "llm", "Llama3_70B"),
        ({"hardware": "H800"}, "hardware", "H100"),
        ({"hardware": "GB200_NVL72"}, "hardware", "B200"),  # a rack, not an accelerator
        ({"cluster": "Lab_64_H200"}, "cluster", "Lab_64_H100"),
        ({"cluster": None}, "cluster", "Training_1K"),
    ],
)
def test_bad_names_are_value_errors_listing_the_legal_ones(
    kwargs: dict[str, Any], named: str, legal: str
) -> None:
    with pytest.raises(ValueError, match=f"{named}: .* is not legal; legal values: ") as caught:
        gym.make(SO, **kwargs)
    listed = {"llm": mlsysim_api.model_names, "hardware": mlsysim_api.hardware_names}.get(
        named, mlsysim_api.cluster_names
    )()
    assert legal in listed and all(repr(n) in str(caught.value) for n in listed)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"global_batch_size": 0}, "global_batch_size"),
        ({"global_batch_size": math.nan}, "global_batch_size"),
        ({"seq_len": 10**30}, "seq_len"),
        ({"efficiency": 1.5}, "efficiency"),
        ({"objective": "cost"}, "objective"),
        ({"cluster": "Mega_100K"}, "global_batch_size"),  # 100 000 GPUs: dp is a multiple of 3125
    ],
)
def test_bad_problem_arguments_are_value_errors(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        gym.make(SO, **kwargs)


def test_hardware_replaces_the_clusters_accelerator() -> None:
    a100 = LLMTraining(llm="Llama3_8B", hardware="A100")
    h100 = LLMTraining(llm="Llama3_8B")
    assert a100.setup.n_gpus == h100.setup.n_gpus == 64
    assert "fp8" in h100.design_space["precision"].values_list()
    assert "fp8" not in a100.design_space["precision"].values_list()  # A100 has no FP8 rate
    with pytest.raises(ValueError, match="'precision': 'fp8' is out of the design space"):
        a100.mlsysim_pick(precision="fp8")
    chosen = design(tp=2, pp=1, dp=32, micro_batch_size=2)
    slow, fast = (step(e, chosen)[1]["metrics"]["step_time_ms"] for e in (a100, h100))
    assert slow > 2 * fast  # 312 against 989 TFLOP/s at 16 bits


def test_versions_and_lazy_import() -> None:
    assert LLMTraining().versions() == {"mlsysim": mlsysim_api.PINNED_VERSION}
    code = "import sys, archgym, archgym_mlsys.training; print('mlsysim' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "False"
