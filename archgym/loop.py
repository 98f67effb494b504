"""The evaluation loop: one place for budget, seeding, workers, timeouts, failures, records,
resume and progress — so every agent is compared under the same rules.

Python::

    summary = archgym.loop.run(env="archgym/Branin-v0", agent="random", budget=50, seed=0,
                               out="runs/branin")

CLI: ``archgym run --env archgym/Branin-v0 --agent random --budget 50 --seed 0 --out runs/branin``.
"""

from __future__ import annotations

import contextlib
import json
import math
import platform
import time
import uuid
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from archgym.agent import Agent, EvalResult, InteractiveAgent, Problem, Proposal
from archgym.derive import codec_for
from archgym.env import DesignEnv
from archgym.evaluation import BoundEnv, EnvRecipe, Task, eval_seed, penalty_of, resolve_spec
from archgym.executors import DaskExecutor, Executor, InProcessExecutor, ProcessExecutor, pin_threads
from archgym.records import (
    METRIC,
    PARAM,
    REWARD,
    RUN_META,
    Journal,
    RecordLayout,
    consolidate,
    layout_to_meta,
    read_journal,
)
from archgym.registry import get_registry
from archgym.spaces import Design
from archgym.wrappers import parse_scalarize, reward_space_of

__all__ = ["BudgetExhausted", "RunConfig", "run"]

SUMMARY = "summary.json"
AgentFactory = Callable[[Problem, int], Agent | InteractiveAgent]


class BudgetExhausted(Exception):
    """Raised by the recording env when an interactive agent steps past the budget."""


@dataclass(frozen=True)
class RunConfig:
    """What defines a run; stored in ``run.json`` so ``--resume`` needs only the directory."""

    env: str
    agent: str
    budget: int
    seed: int
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    agent_params: dict[str, Any] = field(default_factory=dict)
    workers: int = 1
    timeout: float | None = None
    scalarize: str | None = None
    cost_budget: float | None = None

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise ValueError(f"budget must be >= 1 evaluation, got {self.budget}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout}")
        if self.cost_budget is not None and self.cost_budget <= 0:
            raise ValueError(f"cost_budget must be > 0, got {self.cost_budget}")


def run(
    *,
    env: str,
    agent: str | AgentFactory,
    budget: int,
    seed: int,
    out: str | Path,
    env_kwargs: Mapping[str, Any] | None = None,
    agent_params: Mapping[str, Any] | None = None,
    workers: int = 1,
    timeout: float | None = None,
    scalarize: str | None = None,
    cost_budget: float | None = None,
    progress: bool | None = None,
    dask: str | None = None,
    isolate: bool = False,
) -> dict[str, Any]:
    """Run ``agent`` on ``env`` for ``budget`` evaluations; write records and a summary to ``out``.

    ``dask``: evaluate on a Dask cluster (scheduler address, or ``"local"`` for a LocalCluster of
    ``workers`` processes) instead of local worker processes; like ``workers``, it changes how a
    run executes, never what it computes, so it is not part of the run's stored configuration.
    ``isolate``: evaluate in a worker process even with one worker and no timeout, so an
    evaluation that ends its process (a segfault) is recorded infeasible instead of ending the
    run; not stored either.

    ``agent`` is a registered agent name, or a factory ``(problem, *, seed) -> Agent`` for agents
    built in code: an Agent subclass itself, or e.g. ``lambda problem, seed: AskTellAdapter(...)``
    (called as ``factory(problem, seed=seed)``). Returns the summary dict.
    """
    name = agent if isinstance(agent, str) else getattr(agent, "__name__", "custom")
    config = RunConfig(
        env=env, agent=name, budget=budget, seed=seed, env_kwargs=dict(env_kwargs or {}),
        agent_params=dict(agent_params or {}), workers=workers, timeout=timeout,
        scalarize=scalarize, cost_budget=cost_budget,
    )
    out = Path(out)
    if (out / RUN_META).exists():
        raise FileExistsError(f"{out} already holds a run; resume it (--resume) or choose another --out")
    factory = None if isinstance(agent, str) else agent
    return _Run(config, out, factory=factory, progress=progress, resumed=False, dask=dask,
                isolate=isolate).execute()


def resume(out: str | Path, *, progress: bool | None = None, agent: AgentFactory | None = None,
           dask: str | None = None, isolate: bool = False) -> dict[str, Any]:
    """Continue a killed run from its journal, without re-evaluating finished designs
    (``dask`` and ``isolate`` as in :func:`run`)."""
    out = Path(out)
    if not (out / RUN_META).exists():
        raise FileNotFoundError(f"{out} holds no run to resume ({RUN_META} missing)")
    meta = json.loads((out / RUN_META).read_text())
    config = RunConfig(**meta["config"])
    return _Run(config, out, factory=agent, progress=progress, resumed=True, meta=meta, dask=dask,
                isolate=isolate).execute()


def versions_of(env: gym.Env[Any, Any], env_id: str) -> dict[str, str]:
    """Package, plugin and simulator versions recorded with every evaluation."""
    found: dict[str, str] = {"python": platform.python_version()}
    for package in ("archgym", "gymnasium", "numpy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "unknown"
    registry = get_registry()
    plugin = registry.plugins.get(registry.env_plugins.get(env_id, ""))
    if plugin is not None:
        found[f"plugin:{plugin.name}"] = f"{plugin.distribution}=={plugin.version}"
    if isinstance(env.unwrapped, DesignEnv):
        found.update(env.unwrapped.versions())
    return found


def problem_of(env: gym.Env[Any, Any], env_id: str) -> Problem:
    inner = env.unwrapped
    space = reward_space_of(env)
    n_obj = 1 if space is None else int(space.shape[0])
    if isinstance(inner, DesignEnv):
        names = tuple(inner.objective.names) if n_obj > 1 else ("reward",)
        return Problem(
            env_id=env_id, design_space=inner.design_space, n_objectives=n_obj,
            objective_names=names, fidelity=inner.fidelity,
            reference_point=None if n_obj == 1 else inner.reference_point,
            metric_names=tuple(inner.metric_units), penalty=penalty_of(env),
            optimal_reward=inner.optimal_reward if inner.objective.n_objectives == 1 else None,
        )
    names = ("reward",) if n_obj == 1 else tuple(f"r{i}" for i in range(n_obj))
    return Problem(env_id=env_id, design_space=codec_for(env).design_space, n_objectives=n_obj,
                   objective_names=names)


def build_agent(
    name: str, params: Mapping[str, Any], problem: Problem, seed: int
) -> Agent | InteractiveAgent:
    """Construct a registered agent with validated hyperparameters, or explain why it can't
    search this problem (naming the agents that can, or ``--scalarize``)."""
    registry = get_registry()
    spec = registry.agent(name)
    resolved = spec.resolve(params)
    cls = spec.load()
    why = cls.incompatibility(problem)
    if why is not None:
        able = [n for n, s in sorted(registry.agents.items())
                if n != name and s.load().incompatibility(problem) is None]
        hint = f"agents that can: {', '.join(able) or 'none installed'}"
        if problem.n_objectives > 1:
            hint += "; or scalarize the env with --scalarize weighted:W1,W2,… / chebyshev:W1,W2,…"
        raise ValueError(f"agent {name!r} can't search {problem.env_id}: {why}; {hint}")
    return cls(problem, seed=seed, **resolved)


class _Run:
    def __init__(self, config: RunConfig, out: Path, *, factory: AgentFactory | None,
                 progress: bool | None, resumed: bool, meta: dict[str, Any] | None = None,
                 dask: str | None = None, isolate: bool = False) -> None:
        if dask is not None and config.timeout is not None:
            raise ValueError("--timeout needs local worker processes (a Dask task can't be killed); "
                             "drop --timeout or --dask")
        self.config, self.out, self.factory, self.resumed = config, out, factory, resumed
        self.dask, self.isolate = dask, isolate
        self.progress = progress
        scalarize = None if config.scalarize is None else parse_scalarize(config.scalarize)
        env_id = config.env.partition(":")[2] if ":" in config.env else config.env
        self.recipe = EnvRecipe(resolve_spec(config.env), dict(config.env_kwargs), scalarize)
        self.env_id = env_id
        self.env = self.recipe.make()
        self.problem = problem_of(self.env, env_id)
        if factory is not None:
            self.agent = factory(self.problem, seed=config.seed)
        else:
            self.agent = build_agent(config.agent, config.agent_params, self.problem, config.seed)
        objective_names = None if self.problem.n_objectives == 1 else self.problem.objective_names
        self.layout = RecordLayout(self.problem.design_space, self.problem.metric_names, objective_names)
        self.meta = meta or self._new_meta()
        self.best: float | None = None
        self.cost = 0.0

    def _new_meta(self) -> dict[str, Any]:
        spec = self.recipe.spec
        return {
            "run_id": uuid.uuid4().hex,
            "config": asdict(self.config),
            "env_id": self.env_id,
            "env_version": spec.version if spec.version is not None else 0,
            "env_kwargs": dict(self.config.env_kwargs),
            "agent": self.config.agent,
            "agent_params": self._agent_params(),
            "seed": self.config.seed,
            "versions": versions_of(self.env, self.env_id),
            "layout": layout_to_meta(self.layout),
            "started": time.time(),
        }

    def _agent_params(self) -> dict[str, Any]:
        if self.factory is not None:
            return {}
        return get_registry().agent(self.config.agent).resolve(self.config.agent_params)

    # --- driving ---------------------------------------------------------------------------
    def execute(self) -> dict[str, Any]:
        self.out.mkdir(parents=True, exist_ok=True)
        if not self.resumed:
            (self.out / RUN_META).write_text(json.dumps(self.meta, indent=2, default=str))
        recorded = {row["step"]: row for row in read_journal(self.out)} if self.resumed else {}
        pin_threads()
        start = time.perf_counter()
        self.journal = Journal(self.out)
        self.bar = _progress_bar(self.config.budget, self.progress)
        try:
            if isinstance(self.agent, InteractiveAgent):
                self._run_interactive(recorded)
            else:
                with self._executor() as executor:
                    self._run_ask_tell(executor, recorded)
        finally:
            self.journal.close()
            self.bar.close()
            self.env.close()
            consolidate(self.out)
        return self._write_summary(time.perf_counter() - start)

    def _executor(self) -> Executor:
        if self.dask is not None:
            return DaskExecutor(self.recipe, address=self.dask, workers=self.config.workers,
                                penalty=penalty_of(self.env))
        if self.config.workers == 1 and self.config.timeout is None and not self.isolate:
            return InProcessExecutor(BoundEnv(self.env))
        return ProcessExecutor(self.recipe, workers=self.config.workers, timeout=self.config.timeout,
                               penalty=penalty_of(self.env))

    def _run_ask_tell(self, executor: Executor, recorded: dict[int, dict[str, Any]]) -> None:
        assert isinstance(self.agent, Agent)
        budget, step, batch = self.config.budget, 0, 0
        replaying = bool(recorded)
        while step < budget and not self._cost_spent():
            proposals = self.agent.ask(min(self.agent.batch_size, budget - step))
            tasks = [self._task(step + i, p) for i, p in enumerate(proposals)]
            results: list[EvalResult | None] = [None] * len(tasks)
            if replaying and not self._replay(tasks, results, recorded):
                self._retell(recorded, from_step=step)
                self._fill_after_divergence(executor, recorded, batch)
                return
            self._complete(executor, tasks, results, batch)
            step += len(tasks)
            batch += 1
            replaying = replaying and any(s >= step for s in recorded)

    def _complete(self, executor: Executor, tasks: list[Task], results: list[EvalResult | None],
                  batch: int) -> None:
        """Evaluate the tasks that have no result yet, record each as it completes, then tell the
        agent the whole batch."""
        assert isinstance(self.agent, Agent)
        slot = {task.index: i for i, task in enumerate(tasks)}
        pending = [t for t, r in zip(tasks, results, strict=True) if r is None]
        for task, result in executor.run(pending):
            results[slot[task.index]] = result
            self._record(task, batch, slot[task.index], result)
        self.agent.tell([t.design for t in tasks], results)  # type: ignore[arg-type]

    def _replay(self, tasks: list[Task], results: list[EvalResult | None],
                recorded: dict[int, dict[str, Any]]) -> bool:
        """Reuse recorded results for the designs the agent asks again; False on divergence."""
        replayed = []
        for i, task in enumerate(tasks):
            row = recorded.get(task.index)
            if row is None:
                continue
            if _design_of(row) != task.design:
                return False
            replayed.append((i, self._result_of(row)))
        for i, result in replayed:
            results[i] = result
            self._account(result)
            self.bar.update(1)
        return True

    def _retell(self, recorded: dict[int, dict[str, Any]], from_step: int) -> None:
        """Tell the agent the recorded evaluations it has not been told (from ``from_step`` on)."""
        warnings.warn(
            f"agent {self.config.agent!r} did not replay its recorded designs exactly (it is not "
            "deterministic given its seed); re-telling the recorded evaluations instead",
            stacklevel=4,
        )
        assert isinstance(self.agent, Agent)
        rows = [recorded[s] for s in sorted(recorded) if s >= from_step]
        results = [self._result_of(r) for r in rows]
        self.agent.tell_history([_design_of(r) for r in rows], results)
        for result in results:
            self._account(result)
            self.bar.update(1)

    def _fill_after_divergence(self, executor: Executor, recorded: dict[int, dict[str, Any]],
                               batch: int) -> None:
        """Spend the rest of the budget on the evaluation indices the journal lacks."""
        assert isinstance(self.agent, Agent)
        free = [s for s in range(self.config.budget) if s not in recorded]
        batch = max([batch - 1, *(r["batch"] for r in recorded.values())]) + 1
        while free and not self._cost_spent():
            proposals = self.agent.ask(min(self.agent.batch_size, len(free)))
            tasks = [self._task(free.pop(0), p) for p in proposals]
            self._complete(executor, tasks, [None] * len(tasks), batch)
            batch += 1

    def _run_interactive(self, recorded: dict[int, dict[str, Any]]) -> None:
        assert isinstance(self.agent, InteractiveAgent)
        if recorded:
            warnings.warn(
                f"agent {self.config.agent!r} owns its interaction and can't be resumed exactly; "
                f"it continues for the {self.config.budget - len(recorded)} evaluations left",
                stacklevel=3,
            )
            for row in recorded.values():
                self._account(self._result_of(row))
            self.bar.update(len(recorded))
        recording = _RecordingEnv(self.env, self, first_step=max(recorded, default=-1) + 1)
        remaining = self.config.budget - len(recorded)
        with contextlib.suppress(BudgetExhausted):
            self.agent.run(recording, remaining)

    # --- bookkeeping -----------------------------------------------------------------------
    def _task(self, index: int, proposal: Design | Proposal) -> Task:
        if isinstance(proposal, Proposal):
            design, fidelity = proposal.design, proposal.fidelity
        else:
            design, fidelity = proposal, None
        try:
            design = self.problem.design_space.validate(design)
        except ValueError as exc:
            raise ValueError(f"agent {self.config.agent!r} proposed an invalid design: {exc}") from None
        return Task(index=index, design=design, fidelity=fidelity, seed=eval_seed(self.config.seed, index))

    def _record(self, task: Task, batch: int, slot: int, result: EvalResult) -> None:
        row = self.layout.row(step=task.index, batch=batch, slot=slot, eval_seed=task.seed,
                              result=result, timestamp=time.time())
        self.journal.append([row])
        self._account(result)
        self.bar.update(1)

    def _account(self, result: EvalResult) -> None:
        inner = self.env.unwrapped
        self.cost += inner.fidelity_cost(result.fidelity) if isinstance(inner, DesignEnv) else 1.0
        if result.feasible and self.problem.n_objectives == 1:
            reward = float(result.reward)
            if math.isfinite(reward) and (self.best is None or reward > self.best):
                self.best = reward
                self.bar.set_postfix(best=f"{reward:.6g}", refresh=False)

    def _cost_spent(self) -> bool:
        return self.config.cost_budget is not None and self.cost >= self.config.cost_budget

    def _result_of(self, row: Mapping[str, Any]) -> EvalResult:
        if self.layout.objective_names is None:
            reward: Any = _nan_if_none(row.get("reward"))
        else:
            reward = np.array([_nan_if_none(row.get(REWARD + n)) for n in self.layout.objective_names])
        metrics = {m: _nan_if_none(row.get(METRIC + m)) for m in self.layout.metric_names}
        return EvalResult(design=_design_of(row), reward=reward, metrics=metrics,
                          feasible=row["feasible"], eval_time_s=row["eval_time_s"], error=row["error"],
                          fidelity=row["fidelity"], backend=row["backend"])

    def _write_summary(self, wall_time: float) -> dict[str, Any]:
        from archgym.summary import summarize

        summary = summarize(self.out, self.problem)
        summary.update({
            "run_id": self.meta["run_id"], "env_id": self.env_id, "env_kwargs": self.meta["env_kwargs"],
            "agent": self.config.agent, "agent_params": self.meta["agent_params"],
            "seed": self.config.seed, "budget": self.config.budget, "workers": self.config.workers,
            "timeout": self.config.timeout, "scalarize": self.config.scalarize,
            "cost_budget": self.config.cost_budget, "cost": self.cost,
            "versions": self.meta["versions"], "wall_time_s": wall_time, "resumed": self.resumed,
            "agent_summary": self.agent.finish(self.out),
        })
        test = self._test_best(summary.get("best_design"))
        if test is not None:
            summary["test"] = test
        (self.out / SUMMARY).write_text(json.dumps(summary, indent=2, default=_json_safe))
        return summary

    def _test_best(self, best_design: Design | None) -> dict[str, Any] | None:
        """Re-evaluate the best design in the env's test mode (``DesignEnv.test_kwargs``, e.g.
        disjoint test seeds), so tuned and test performance are reported side by side."""
        test_kwargs = getattr(self.env.unwrapped, "test_kwargs", None)
        if not test_kwargs or best_design is None:
            return None
        recipe = EnvRecipe(self.recipe.spec, {**self.recipe.kwargs, **test_kwargs}, self.recipe.scalarize)
        env = recipe.make()
        try:
            task = Task(index=-1, design=best_design, fidelity=None,
                        seed=eval_seed(self.config.seed, self.config.budget))
            result = BoundEnv(env)(task)
        finally:
            env.close()
        return {"env_kwargs": {**self.recipe.kwargs, **test_kwargs}, "design": best_design,
                "tuned_reward": self.best, "test_reward": result.reward, "feasible": result.feasible,
                "metrics": result.metrics, "error": result.error}


class _RecordingEnv(gym.Wrapper[Any, Any, Any, Any]):
    """The fully wrapped env an interactive agent runs on: records and counts every step."""

    def __init__(self, env: gym.Env[Any, Any], run: _Run, first_step: int) -> None:
        super().__init__(env)
        self._run, self._step = run, first_step
        self._codec = codec_for(env)
        self._left = run.config.budget - first_step

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        if self._step >= self._run.config.budget or self._run._cost_spent():
            raise BudgetExhausted(f"budget of {self._run.config.budget} evaluations spent")
        obs, reward, terminated, truncated, info = self.env.step(action)
        design = info.get("design") or self._codec.from_action(action)
        result = EvalResult(
            design=design, reward=reward if isinstance(reward, np.ndarray) else float(reward),
            metrics=dict(info.get("metrics", {})), feasible=bool(info.get("feasible", True)),
            eval_time_s=float(info.get("eval_time_s", 0.0)), error=info.get("error"),
            fidelity=info.get("fidelity"), backend=str(info.get("backend", "simulator")),
        )
        task = Task(index=self._step, design=design, fidelity=result.fidelity, seed=None)
        self._run._record(task, batch=self._step, slot=0, result=result)
        self._step += 1
        return obs, reward, terminated, truncated, info


def _design_of(row: Mapping[str, Any]) -> Design:
    return {k[len(PARAM):]: v for k, v in row.items() if k.startswith(PARAM)}


def _nan_if_none(value: Any) -> float:
    return math.nan if value is None else float(value)


def _json_safe(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _progress_bar(total: int, enabled: bool | None) -> Any:
    from tqdm.auto import tqdm

    # None: shown on a terminal, hidden in logs and CI.
    disable = None if enabled is None else not enabled
    return tqdm(total=total, desc="evaluations", unit="eval", disable=disable, dynamic_ncols=True)

