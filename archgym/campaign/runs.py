"""Campaigns: envs × agents × agent-hyperparameter settings × seeds, run through the core loop.

A campaign file (TOML) names envs (with kwargs and optional reward targets), agents (with a grid
of hyperparameter values, or ``sample`` settings drawn by Sobol from ``ranges``), tuning and test
seeds, the budget and how many runs execute at once. ``archgym bench CAMPAIGN --out DIR``

1. runs every (env, agent, setting) on every *tuning* seed — the agent's defaults are always one
   of its settings;
2. picks, per (env, agent), the setting with the best median final result on the tuning seeds,
   and runs it on the *test* seeds (kept apart, so the comparison is not tuned on its own data);
3. writes ``runs.parquet`` (one row per run) and ``evaluations.parquet`` (every evaluation).

Runs whose ``summary.json`` exists are skipped; a run killed mid-way is resumed from its journal,
so rerunning after a kill repeats nothing. The unit of parallel work is a whole run: a local
process pool by default, or a Dask cluster (``--dask ADDRESS`` / ``local``) through the same
``concurrent.futures`` interface — nothing else changes. Run directories must be on storage every
worker sees.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import re
import statistics
import tomllib
import warnings
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archgym.campaign.tables import EVALUATIONS_TABLE, RUNS_TABLE, final_of, write_tables
from archgym.campaign.validation import VALIDATION_TABLE, kwargs_backend, validate_runs, validation_backends

__all__ = ["Campaign", "RunSpec", "check_name", "check_relative_path", "load_campaign", "run_campaign"]

CAMPAIGN_META = "campaign.json"
STAGES = ("tuning", "test")

_NAME = re.compile(r"[A-Za-z0-9_.-]+")
LEGAL_NAME = "letters, digits, '-', '_', '.' (no path separators, not '.'/'..')"


def check_name(value: Any, what: str) -> str:
    """``value`` if it can name one directory or file inside a root (an env label, an agent
    name): else a ValueError naming ``what`` — a name read from a file must never lead a path
    outside the campaign directory."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or value in (".", ".."):
        raise ValueError(f"{what}: {value!r} is not legal; legal: {LEGAL_NAME}")
    return value


def check_relative_path(value: Any, what: str) -> str:
    """``value`` if it is a relative path of legal names (``runs/tuning/Branin/random/s0/seed0``):
    no absolute path, no ``..``, no empty part — it stays inside the directory it is joined to."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what}: {value!r} is not legal; legal: a relative path of names ({LEGAL_NAME})")
    for part in re.split(r"[/\\]", value):
        if not _NAME.fullmatch(part) or part in (".", ".."):
            raise ValueError(
                f"{what}: {value!r} is not legal; legal: a relative path of names ({LEGAL_NAME})"
            )
    return value


@dataclass(frozen=True)
class EnvEntry:
    id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    targets: tuple[float, ...] = ()
    """Reward thresholds: each run reports the evaluations it needed to reach each one."""
    label: str = ""
    validate_on: str = ""
    """A backend to re-evaluate each run's best design on (``"simulator"`` for a campaign on a
    proxy backend): the proxy-to-truth check (:mod:`archgym.campaign.validation`); "" for none."""

    @property
    def name(self) -> str:
        return self.label or self.id.rsplit(":", 1)[-1].split("/")[-1]


@dataclass(frozen=True)
class AgentEntry:
    name: str
    settings: tuple[dict[str, Any], ...]
    """Hyperparameter overrides; ``settings[0]`` is always ``{}`` (the agent's defaults)."""


@dataclass(frozen=True)
class Campaign:
    name: str
    envs: tuple[EnvEntry, ...]
    agents: tuple[AgentEntry, ...]
    tuning_seeds: tuple[int, ...]
    test_seeds: tuple[int, ...]
    budget: int
    workers: int = 1


@dataclass(frozen=True)
class RunSpec:
    """One run of the campaign; ``key`` names its directory."""

    stage: str
    env: str
    env_label: str
    env_kwargs: dict[str, Any]
    agent: str
    setting: int
    agent_params: dict[str, Any]
    seed: int
    budget: int

    def __post_init__(self) -> None:
        # every field of the key names a directory under DIR/runs: checked wherever a spec comes
        # from (a campaign file, runs.parquet, a worker's argument)
        if self.stage not in STAGES:
            raise ValueError(f"run stage: {self.stage!r} is not legal; legal: {list(STAGES)}")
        check_name(self.env_label, "run env_label")
        check_name(self.agent, "run agent")
        for name in ("setting", "seed", "budget"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"run {name}: {value!r} is not legal; legal: an integer")

    @property
    def key(self) -> str:
        return f"{self.stage}/{self.env_label}/{self.agent}/s{self.setting}/seed{self.seed}"


# --- campaign files -------------------------------------------------------------------------------
def load_campaign(path: str | Path) -> Campaign:
    """Read and check a campaign file; errors name the file and the offending entry."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read campaign file: {exc}") from None
    return parse_campaign(raw, source=str(path), from_file=True)


def parse_campaign(raw: Mapping[str, Any], *, source: str = "campaign", from_file: bool = False) -> Campaign:
    from archgym.plugins import get_registry

    def fail(msg: str) -> ValueError:
        return ValueError(f"{source}: {msg}")

    known = {"name", "budget", "workers", "tuning_seeds", "test_seeds", "envs", "agents"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise fail(f"unknown key(s) {unknown}; legal keys: {sorted(known)}")
    budget = raw.get("budget")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise fail(f"budget must be an integer >= 1, got {budget!r}")
    workers = raw.get("workers", 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise fail(
            f"workers must be an integer >= 0 (0: runs one after the other in this process), got {workers!r}"
        )
    seeds = {}
    for key in ("tuning_seeds", "test_seeds"):
        value = raw.get(key, [] if key == "test_seeds" else None)
        integers = isinstance(value, list) and all(type(s) is int for s in value)
        if not integers:
            raise fail(f"{key} must be a list of integers, got {value!r}")
        seeds[key] = tuple(value)
    if not seeds["tuning_seeds"]:
        raise fail("tuning_seeds must name at least one seed")
    overlap = sorted(set(seeds["tuning_seeds"]) & set(seeds["test_seeds"]))
    if overlap:
        raise fail(f"tuning_seeds and test_seeds must be disjoint; both hold {overlap}")
    registry = get_registry()
    if not isinstance(raw.get("envs") or [], list) or not isinstance(raw.get("agents") or [], list):
        raise fail("envs and agents must be arrays of tables ([[envs]], [[agents]])")
    file = source if from_file else None
    envs = tuple(_env_entry(e, i, fail, file) for i, e in enumerate(raw.get("envs") or []))
    if not envs:
        raise fail("envs: name at least one env ([[envs]] id = ...)")
    labels = [e.name for e in envs]
    if len(set(labels)) != len(labels):
        raise fail(f"env labels must be unique (set label = ... to tell apart kwargs variants): {labels}")
    agents = tuple(_agent_entry(a, i, registry, fail) for i, a in enumerate(raw.get("agents") or []))
    if not agents:
        raise fail("agents: name at least one agent ([[agents]] name = ...)")
    return Campaign(
        name=str(raw.get("name", Path(source).stem)),
        envs=envs,
        agents=agents,
        tuning_seeds=seeds["tuning_seeds"],
        test_seeds=seeds["test_seeds"],
        budget=budget,
        workers=workers,
    )


def _env_entry(raw: Any, index: int, fail: Any, source: str | None = None) -> EnvEntry:
    from archgym.env import caller_only_options
    from archgym.execution import resolve_spec

    if not isinstance(raw, Mapping) or "id" not in raw:
        raise fail(f"envs[{index}] must be a table with an 'id'")
    extra = sorted(set(raw) - {"id", "kwargs", "targets", "label", "validate_on"})
    if extra:
        raise fail(f"envs[{index}]: unknown key(s) {extra}; legal: id, kwargs, targets, label, validate_on")
    validate_on = raw.get("validate_on", "")
    if not isinstance(validate_on, str):
        raise fail(f"envs[{index}].validate_on: {validate_on!r} is not legal; legal values: a backend name")
    if validate_on:
        legal = validation_backends()
        if validate_on not in legal:
            raise fail(f"envs[{index}].validate_on: {validate_on!r} is not legal; legal values: {legal}")
        if validate_on == kwargs_backend(raw.get("kwargs", {})):
            raise fail(f"envs[{index}].validate_on: {validate_on!r} is the backend the runs use already")
    try:
        resolve_spec(raw["id"], source=source)  # read from a file: its module:id imports nothing untrusted
    except (ValueError, ImportError) as exc:
        raise fail(f"envs[{index}]: {exc}") from None
    targets = raw.get("targets", [])
    if not isinstance(targets, list) or not all(isinstance(t, int | float) for t in targets):
        raise fail(f"envs[{index}].targets must be a list of reward thresholds, got {targets!r}")
    kwargs = raw.get("kwargs", {})
    if not isinstance(kwargs, Mapping):
        raise fail(f"envs[{index}].kwargs must be a table (name = value), got {kwargs!r}")
    trust = sorted(k for k in kwargs if k in caller_only_options())
    if trust:
        raise fail(
            f"envs[{index}].kwargs: {trust} can't be set in a campaign file: trust is taken only "
            "from the person running it (archgym bench --trust-model, or ARCHGYM_TRUST_MODELS=1)"
        )
    label = raw.get("label", "")
    if label != "":
        _check_name_in(label, f"envs[{index}].label", fail)
    entry = EnvEntry(raw["id"], dict(kwargs), tuple(float(t) for t in targets), str(label), validate_on)
    if label == "":
        try:
            check_name(entry.name, f"envs[{index}].id")
        except ValueError as exc:
            raise fail(f"{exc}: set label = ... to name its runs' directories") from None
    return entry


def _check_name_in(value: Any, what: str, fail: Any) -> None:
    try:
        check_name(value, what)
    except ValueError as exc:
        raise fail(str(exc)) from None


def _agent_entry(raw: Any, index: int, registry: Any, fail: Any) -> AgentEntry:
    if not isinstance(raw, Mapping) or "name" not in raw:
        raise fail(f"agents[{index}] must be a table with a 'name'")
    extra = sorted(set(raw) - {"name", "params", "grid", "sample", "ranges", "sample_seed"})
    if extra:
        raise fail(
            f"agents[{index}]: unknown key(s) {extra}; legal: name, params, grid, sample, ranges, sample_seed"
        )
    try:
        spec = registry.agent(raw["name"])
    except (KeyError, ValueError) as exc:
        raise fail(f"agents[{index}]: {exc}") from None
    for key in ("params", "grid", "ranges"):
        if not isinstance(raw.get(key, {}), Mapping):
            raise fail(f"agents[{index}].{key} must be a table (name = value), got {raw[key]!r}")
    base = dict(raw.get("params", {}))
    settings: list[dict[str, Any]] = []
    grid = {n: v if isinstance(v, list) else [v] for n, v in raw.get("grid", {}).items()}
    empty = [n for n, v in grid.items() if not v]
    if empty:
        raise fail(f"agents[{index}].grid: {empty} list no values")
    if grid:
        for combo in itertools.product(*grid.values()):
            settings.append(dict(zip(grid, combo, strict=True)))
    sample, sample_seed = raw.get("sample", 0), raw.get("sample_seed", 0)
    if type(sample) is not int or sample < 0 or type(sample_seed) is not int:
        raise fail(
            f"agents[{index}]: sample and sample_seed must be integers >= 0, got {sample!r}, {sample_seed!r}"
        )
    if raw.get("ranges") and not sample:
        raise fail(f"agents[{index}]: ranges without sample = N (how many settings to draw)")
    if sample:
        settings += _sample_settings(spec, raw.get("ranges", {}), sample, sample_seed, fail, index)
    _check_name_in(spec.name, f"agents[{index}].name", fail)
    resolved_default = _resolve(spec, base, fail, index)
    out = [base]
    for s in settings:
        merged = base | s
        if _resolve(spec, merged, fail, index) != resolved_default and merged not in out:
            out.append(merged)
    return AgentEntry(spec.name, tuple(out))


def _resolve(spec: Any, params: Mapping[str, Any], fail: Any, index: int) -> dict[str, Any]:
    try:
        return spec.resolve(params)
    except ValueError as exc:
        raise fail(f"agents[{index}]: {exc}") from None


def _sample_settings(
    spec: Any, ranges: Mapping[str, Any], n: int, seed: int, fail: Any, index: int
) -> list[dict[str, Any]]:
    """``n`` settings from a scrambled Sobol sequence over ``ranges`` (``[low, high]`` for numeric
    hyperparameters — integers stay integers, log-spaced when the space declares it — or a list
    of choices), each mapped through the agent's own hyperparameter definitions."""
    from scipy.stats import qmc

    from archgym.spaces import Categorical, DesignSpace, Integer, Real

    space = spec.hyperparameter_space()
    if not ranges or space is None:
        raise fail(f"agents[{index}]: sample needs ranges = {{name = [low, high] or [choices…]}}")
    params = []
    for name, rng in ranges.items():
        if name not in space.names:
            raise fail(
                f"agents[{index}].ranges: {spec.name!r} has no hyperparameter {name!r}; legal: {space.names}"
            )
        p = space[name]
        if isinstance(p, Integer | Real) and isinstance(rng, list) and len(rng) == 2:
            cls = type(p)
            params.append(cls(name, rng[0], rng[1], log=getattr(p, "log", False)))
        elif isinstance(rng, list) and rng:
            params.append(Categorical(name, rng))
        else:
            raise fail(
                f"agents[{index}].ranges.{name}: expected [low, high] or a list of choices, got {rng!r}"
            )
    sub = DesignSpace(params)
    with warnings.catch_warnings():  # a prefix of a Sobol sequence is still space-filling
        warnings.filterwarnings("ignore", message=".*balance properties.*")
        points = qmc.Sobol(len(params), scramble=True, seed=seed).random(n)
    return [dict(sub.from_unit(row)) for row in points]


# --- expansion ----------------------------------------------------------------------------------
def compatible_pairs(
    campaign: Campaign, *, trust_model: bool = False
) -> tuple[list[tuple[EnvEntry, AgentEntry]], list[str]]:
    """(env, agent) pairs the agent can search, and why the others were skipped (each env is
    built as its runs will be: with the caller's ``trust_model``)."""
    import gymnasium as gym

    from archgym.loop import problem_of, with_trust
    from archgym.plugins import get_registry

    registry = get_registry()
    pairs, skipped = [], []
    for env_entry in campaign.envs:
        kwargs = with_trust(env_entry.kwargs) if trust_model else env_entry.kwargs
        env = gym.make(env_entry.id, **kwargs)
        try:
            problem = problem_of(env, env_entry.id)
        finally:
            env.close()
        for agent in campaign.agents:
            why = registry.agent(agent.name).load().incompatibility(problem)
            if why is None:
                pairs.append((env_entry, agent))
            else:
                skipped.append(f"{agent.name} on {env_entry.name}: {why}")
    return pairs, skipped


def runs_on_tuning_seeds(campaign: Campaign, pairs: Sequence[tuple[EnvEntry, AgentEntry]]) -> list[RunSpec]:
    return [
        RunSpec("tuning", e.id, e.name, e.kwargs, a.name, k, params, seed, campaign.budget)
        for e, a in pairs
        for k, params in enumerate(a.settings)
        for seed in campaign.tuning_seeds
    ]


def runs_on_test_seeds(
    campaign: Campaign, pairs: Sequence[tuple[EnvEntry, AgentEntry]], finals: Mapping[str, float]
) -> list[RunSpec]:
    """Each (env, agent)'s best setting by median final result over the tuning seeds, on the
    test seeds (ties go to the lower setting number, i.e. to the defaults)."""
    runs = []
    for e, a in pairs:

        def median_final(k: int, e: EnvEntry = e, a: AgentEntry = a) -> float:
            values = [
                finals.get(
                    RunSpec(
                        "tuning", e.id, e.name, e.kwargs, a.name, k, a.settings[k], s, campaign.budget
                    ).key,
                    math.nan,
                )
                for s in campaign.tuning_seeds
            ]
            # a run without a result counts as the worst, so one lucky seed can't carry a setting
            return statistics.median(v if math.isfinite(v) else -math.inf for v in values)

        best = max(range(len(a.settings)), key=lambda k: (median_final(k), -k))
        runs += [
            RunSpec("test", e.id, e.name, e.kwargs, a.name, best, a.settings[best], seed, campaign.budget)
            for seed in campaign.test_seeds
        ]
    return runs


# --- execution ----------------------------------------------------------------------------------
def execute_run(
    spec_dict: dict[str, Any], out: str, isolate: bool = False, trust_model: bool = False
) -> dict[str, Any]:
    """Run (or resume) one campaign run; a module-level function so process pools and Dask
    workers can call it. Returns the run's summary. ``isolate``: evaluations in a child process
    (see :func:`archgym.loop.run`). ``trust_model``: the caller's opt-in to unpickle proxy models
    (``archgym bench --trust-model``), handed to every run as an argument — never read from the
    campaign file, the spec or the run's files."""
    from archgym import loop
    from archgym.execution import pin_threads
    from archgym.records import RUN_META

    pin_threads()
    spec = RunSpec(**spec_dict)
    run_dir = Path(out) / "runs" / spec.key
    summary_path = run_dir / loop.SUMMARY
    if summary_path.exists():
        try:
            summary = json.loads(summary_path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{summary_path}: not valid JSON ({exc})") from None
        if summary.get("complete", True):  # a run stopped by a signal wrote complete=false: resume it
            return summary
    if (run_dir / RUN_META).exists():
        return loop.resume(run_dir, progress=False, isolate=isolate, trust_model=trust_model)
    return loop.run(
        env=spec.env,
        agent=spec.agent,
        budget=spec.budget,
        seed=spec.seed,
        out=run_dir,
        env_kwargs=loop.with_trust(spec.env_kwargs) if trust_model else spec.env_kwargs,
        agent_params=spec.agent_params,
        progress=False,
        isolate=isolate,
    )


class _RunExecutor:
    """Where a campaign's runs execute: in this process (``workers == 0``), a local spawn pool, or
    a Dask cluster. Each run's outcome is its summary or, for a run that raised, the error: one
    broken run (an agent bug, a plugin that won't import on a worker) doesn't stop the others, and
    rerunning retries it.

    Runs evaluate in their own process (cheapest), so an evaluation that ends that process — a
    simulator's segfault, the OOM killer — breaks the local pool and every run it held. Those runs
    are then resumed from their journals in a fresh pool with their evaluations isolated in child
    processes, where a dying evaluation is recorded infeasible and the run goes on."""

    def __init__(self, workers: int, dask: str | None, trust_model: bool = False) -> None:
        self.workers, self.local, self.trust_model = workers, dask is None, trust_model
        self.resources: tuple[Any, ...] = ()
        self.executor: Executor | None = None
        if dask is not None:
            from archgym.execution import dask_client

            client, self.resources = dask_client(dask, workers)
            self.executor = client.get_executor()
        elif workers > 0:
            self.executor = self._pool()

    def _pool(self) -> Executor:
        from archgym.execution import spawn_pool

        pool = spawn_pool(self.workers)
        self.resources = (pool,)
        return pool

    def run(
        self, specs: Sequence[RunSpec], out: Path, bar: Any
    ) -> Iterator[tuple[RunSpec, dict[str, Any] | str]]:
        """Each run's outcome, in the order the runs finish."""
        if self.executor is None:
            for spec in specs:
                yield (
                    spec,
                    _outcome(
                        lambda spec=spec: execute_run(asdict(spec), str(out), trust_model=self.trust_model)
                    ),
                )
                bar.update()
            return
        lost = yield from self._gather(specs, out, bar, isolate=False)
        if lost:
            assert self.executor is not None
            self.executor.shutdown()
            self.executor = self._pool()
            yield from self._gather(lost, out, bar, isolate=True)

    def _gather(
        self, specs: Sequence[RunSpec], out: Path, bar: Any, isolate: bool
    ) -> Generator[tuple[RunSpec, dict[str, Any] | str], None, list[RunSpec]]:
        """Yield the outcomes; return the runs lost to a broken pool (only when not isolated)."""
        from concurrent.futures.process import BrokenProcessPool

        assert self.executor is not None
        futures: dict[Future[dict[str, Any]], RunSpec] = {
            self.executor.submit(execute_run, asdict(spec), str(out), isolate, self.trust_model): spec
            for spec in specs
        }
        lost: list[RunSpec] = []
        for future in as_completed(futures):
            if not isolate and self.local and isinstance(future.exception(), BrokenProcessPool):
                lost.append(futures[future])
                continue
            yield futures[future], _outcome(future.result)
            bar.update()
        return lost

    def close(self, *, interrupted: bool = False) -> None:
        """Release the pool or cluster. ``interrupted`` (the campaign got SIGTERM/SIGINT): each
        local pool process gets SIGTERM too, so its run stops cleanly at once (records
        consolidated, summary marked incomplete) instead of being waited for."""
        for resource in self.resources:  # the client before its cluster, so no result is orphaned
            # Client.close, never Client.shutdown: that would stop a shared cluster
            if isinstance(resource, Executor):
                if interrupted:  # concurrent.futures keeps its processes in _processes (since 3.2)
                    for process in list(getattr(resource, "_processes", {}).values()):
                        with contextlib.suppress(OSError, ValueError):
                            process.terminate()
                resource.shutdown(cancel_futures=True)  # after an error, queued runs don't start
            else:
                resource.close()


def _outcome(result: Callable[[], dict[str, Any]]) -> dict[str, Any] | str:
    """The run's summary, or its error as text (a broken run is reported, not raised)."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        return result()
    except BrokenProcessPool:
        return (
            "BrokenProcessPool: a run's process died outright even with evaluations isolated (an "
            "agent that steps its env in-process, such as rl, or a crash outside evaluation); "
            "rerunning the campaign retries this run"
        )
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def run_campaign(
    campaign: Campaign,
    out: str | Path,
    *,
    workers: int | None = None,
    dask: str | None = None,
    progress: bool | None = None,
    trust_model: bool = False,
) -> dict[str, Any]:
    """Run what is not finished yet; write the campaign's tables; return a short summary.

    ``trust_model``: the caller's opt-in to unpickle the proxy models the campaign's envs name
    (``archgym bench --trust-model``), applied to every run; campaign files can't carry it.
    The campaign directory is locked while it runs (:func:`archgym.loop.hold_directory`):
    a second ``archgym bench`` on it is refused, naming the PID of the first. ``SIGTERM`` or
    ``SIGINT`` stops it cleanly (:class:`archgym.loop.RunInterrupted`): worker pools are shut,
    finished runs kept, a run in flight is resumed by the next call."""
    from archgym.loop import StopOnSignals, hold_directory

    if not isinstance(trust_model, bool):
        raise ValueError(f"trust_model: {trust_model!r} is not legal; legal values: True, False")
    for i, e in enumerate(campaign.envs):  # names of directories under DIR/runs: checked first
        check_name(e.name, f"envs[{i}].label")
    for i, a in enumerate(campaign.agents):
        check_name(a.name, f"agents[{i}].name")
    with hold_directory(out), StopOnSignals():  # one writer per campaign directory (runs lock theirs)
        return _run_campaign(campaign, Path(out), workers, dask, progress, trust_model)


def _run_campaign(
    campaign: Campaign,
    out: Path,
    workers: int | None,
    dask: str | None,
    progress: bool | None,
    trust_model: bool,
) -> dict[str, Any]:
    from archgym.loop import SUMMARY, progress_bar

    workers = campaign.workers if workers is None else workers
    _check_same_campaign(out, campaign)
    pairs, skipped = compatible_pairs(campaign, trust_model=trust_model)
    tuning = runs_on_tuning_seeds(campaign, pairs)
    n_total = len(tuning) + len(pairs) * len(campaign.test_seeds)
    done_before = sum((out / "runs" / s.key / SUMMARY).exists() for s in tuning)
    executor = _RunExecutor(workers, dask, trust_model)
    summaries: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    interrupted = False
    try:
        with progress_bar(n_total, progress, desc="runs", unit="run") as bar:
            for spec, outcome in executor.run(tuning, out, bar):
                (summaries if isinstance(outcome, dict) else failed)[spec.key] = outcome
            test = runs_on_test_seeds(campaign, pairs, {k: final_of(s) for k, s in summaries.items()})
            done_before += sum((out / "runs" / s.key / SUMMARY).exists() for s in test)
            for spec, outcome in executor.run(test, out, bar):
                (summaries if isinstance(outcome, dict) else failed)[spec.key] = outcome
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        executor.close(interrupted=interrupted)
    specs = tuning + test
    write_tables(out, campaign, [s for s in specs if s.key in summaries], summaries)
    validated = validate_runs(out, campaign, [s for s in specs if s.key in summaries], summaries)
    return {
        "runs": len(specs),
        "already_finished": done_before,
        "failed_runs": failed,
        "skipped_pairs": skipped,
        "runs_table": str(out / RUNS_TABLE),
        "evaluations_table": str(out / EVALUATIONS_TABLE),
        **(
            {"validation_table": str(out / VALIDATION_TABLE), "validated_runs": validated}
            if validated
            else {}
        ),
    }


def _check_same_campaign(out: Path, campaign: Campaign) -> None:
    """A campaign directory belongs to one campaign definition: rerunning resumes it, but a
    changed file would silently mix results."""
    from archgym.loop import stored_kwargs

    meta_path = out / CAMPAIGN_META
    definition = asdict(campaign)
    definition.pop("workers")  # how runs execute, not what they compute: may change on a rerun
    for env in definition["envs"]:  # trust is the caller's, per call: never stored
        env["kwargs"] = stored_kwargs(env["kwargs"])
        env.pop("validate_on")  # a check of the runs, not what they compute: may be added later
    text = json.dumps(definition, sort_keys=True, default=list)
    digest = hashlib.sha256(text.encode()).hexdigest()
    if meta_path.exists():
        try:
            previous = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{meta_path}: not valid JSON ({exc})") from None
        if not isinstance(previous, dict):
            raise ValueError(f"{meta_path}: not a JSON object")
        if previous.get("sha256") != digest:
            raise ValueError(
                f"{out} holds campaign {previous.get('name')!r} with a different definition; "
                "use another --out (or delete it) to run a changed campaign"
            )
        return
    meta_path.write_text(
        json.dumps({"name": campaign.name, "sha256": digest, "campaign": json.loads(text)}, indent=2)
    )


def iter_specs(rows: Iterable[Mapping[str, Any]]) -> Iterator[RunSpec]:
    fields = RunSpec.__dataclass_fields__
    for row in rows:
        yield RunSpec(**{k: row[k] for k in fields})
