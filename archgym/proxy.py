"""Proxy cost models: train on a dataset, report honest error and speedup, serve proxy envs.

``archgym proxy train DATASET --target METRIC… -o MODEL`` fits, per target metric, a random
forest and a gradient-boosting model (scikit-learn) — on the logarithm of the target where it is
positive and spans two decades or more — and keeps the one with the lowest validation RMSE.
A held-out test split (by ``--seed``) then gives RMSE, relative RMSE (RMSE / mean
|target|, ArchGym's figure), R² and Kendall τ, beside a mean predictor and a linear model, and the
speedup of a prediction over a real evaluation (the dataset's measured ``eval_time_s``, or a time
the caller measured), for one row and batched.

Predictions are served by ONNX Runtime: the fitted scikit-learn trees are converted (skl2onnx)
when a model is trained or loaded, because scikit-learn's per-call input checks cost ~0.4 ms —
longer than a whole simulated evaluation divided by the 2,000 that makes a proxy worth having.
Every reported figure is measured on that served path.

The model file is a joblib pickle; its JSON card (``MODEL.card.json``) records the env (id,
class, kwargs, parameter definitions) it was trained for, the figures and the file's SHA-256.
Unpickling runs code, so :func:`load` refuses unless the caller opts in (``trust=True``, the
env kwarg ``trust_model=True`` — ``--trust-model`` on ``archgym run`` and ``archgym bench`` — or
``ARCHGYM_TRUST_MODELS=1``). The opt-in comes only from the current caller: ``trust_model`` is a
caller-only backend option, never stored with a run and dropped (with a warning) from any kwargs
read from a file (run.json, dataset cards, campaign tables); campaign files may not carry it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from archgym import records
from archgym.env import BackendSpec, EvalContext
from archgym.plugins import hookimpl
from archgym.records import METRIC, RecordLayout, design_of, layout_from_meta, layout_to_meta
from archgym.spaces import Categorical, Design, DesignSpace

__all__ = ["ProxyModel", "encode", "load", "load_for_env", "train"]

CARD_FORMAT = "archgym-proxy"
TRUST_ENV = "ARCHGYM_TRUST_MODELS"
KINDS = ("rf", "gbm")
SPAN_FOR_LOG = 100.0


def card_path(model: str | Path) -> Path:
    return Path(model).with_suffix(".card.json")


# --- features ------------------------------------------------------------------------------------
class Encoder:
    """Designs → feature rows: each parameter's unit encoding (log-aware; -1 where inactive),
    plus one-hot columns for categoricals with more than two values."""

    def __init__(self, space: DesignSpace) -> None:
        self.space = space
        self.columns: list[str] = []
        for p in space:
            self.columns.append(p.name)
            if isinstance(p, Categorical) and p.n_values > 2:
                self.columns += [f"{p.name}={v}" for v in p.values_list()]

    def row(self, design: Mapping[str, Any]) -> list[float]:
        out: list[float] = []
        for p in self.space:
            value = design.get(p.name)
            out.append(-1.0 if value is None else p.to_unit(value))
            if isinstance(p, Categorical) and p.n_values > 2:
                out += [float(value == v) for v in p.values_list()]
        return out

    def __call__(self, designs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return np.array([self.row(d) for d in designs], dtype=np.float64).reshape(len(designs), -1)


def encode(space: DesignSpace, designs: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Feature matrix of ``designs`` (see :class:`Encoder`)."""
    return Encoder(space)(designs)


# --- the model ----------------------------------------------------------------------------------
class Served:
    """One fitted scikit-learn regressor compiled to ONNX and run by ONNX Runtime on one thread
    (float32, as tree-ensemble ONNX operators compute). The regressor predicts the standardised
    (transformed) target, ``(t - centre) / scale``, so float32 keeps its precision even for a
    target with a large offset; the rest is undone here in float64."""

    def __init__(
        self, estimator: Any, n_features: int, log: bool, centre: float = 0.0, scale: float = 1.0
    ) -> None:
        import onnxruntime as ort
        from skl2onnx import to_onnx

        graph = to_onnx(
            estimator, np.zeros((1, n_features), dtype=np.float32), target_opset={"": 17, "ai.onnx.ml": 3}
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            graph.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        self.input = self.session.get_inputs()[0].name
        self.log, self.centre, self.scale = log, centre, scale

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = self.session.run(None, {self.input: np.asarray(x, dtype=np.float32)})[0]
        y = np.asarray(y, dtype=np.float64).reshape(len(x)) * self.scale + self.centre
        return np.exp(y) if self.log else y


def _fit_served(kind: str, seed: int, x: np.ndarray, t: np.ndarray, log: bool) -> tuple[Any, Served]:
    """Fit ``kind`` on the standardised transformed target ``t``; return it and its served form."""
    centre, scale = float(np.mean(t)), float(np.std(t)) or 1.0
    estimator = _estimator(kind, seed).fit(x, (t - centre) / scale)
    return estimator, Served(estimator, x.shape[1], log, centre, scale)


class ProxyModel:
    """Fitted per-target regressors plus the encoder; predicts metrics in raw units."""

    def __init__(self, card: Mapping[str, Any], estimators: Mapping[str, Any]) -> None:
        self.card = dict(card)
        self.space = layout_from_meta({"layout": card["layout"]}).design_space
        self.encoder = Encoder(self.space)
        self.estimators = dict(estimators)
        self.served = {
            t: Served(
                est,
                len(self.encoder.columns),
                card["targets"][t]["transform"] == "log",
                card["targets"][t]["centre"],
                card["targets"][t]["scale"],
            )
            for t, est in self.estimators.items()
        }
        self.metrics = list(card["layout"]["metrics"])

    def predict_rows(self, target: str, x: np.ndarray) -> np.ndarray:
        return self.served[target](x)

    def predict(self, designs: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        x = self.encoder(designs)
        return {t: self.predict_rows(t, x) for t in self.estimators}

    def predict_metrics(self, design: Design) -> dict[str, float]:
        """One design's metrics: predicted for the model's targets, NaN for the others."""
        x = np.array([self.encoder.row(design)], dtype=np.float64)
        out = dict.fromkeys(self.metrics, math.nan)
        for t in self.estimators:
            out[t] = float(self.predict_rows(t, x)[0])
        return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(model: str | os.PathLike[str], *, trust: bool = False) -> ProxyModel:
    """Load a model written by :func:`train`.

    The card is read first (plain JSON). The model file itself is a pickle, which can run code:
    it is loaded only with ``trust=True`` or ``ARCHGYM_TRUST_MODELS=1`` — opt in only for files
    you made or trust. Its SHA-256 must match the card's.
    """
    path = Path(model)
    card = read_card(path)
    if not (trust or os.environ.get(TRUST_ENV) == "1"):
        raise PermissionError(
            f"{path}: refusing to unpickle a model file without an explicit opt-in (unpickling runs "
            f"code): pass trust_model=True (archgym run/bench --trust-model), or set {TRUST_ENV}=1, "
            "for files you trust (trust is never read from run.json, cards or campaign files)"
        )
    if not path.exists():
        raise ValueError(f"{path}: model file missing (its card exists)")
    digest = _sha256(path)
    if digest != card["model_sha256"]:
        raise ValueError(f"{path}: SHA-256 {digest} does not match its card's {card['model_sha256']}")
    import joblib

    payload = joblib.load(path)
    if not isinstance(payload, dict) or "estimators" not in payload:
        raise ValueError(f"{path}: not an archgym proxy model")
    return ProxyModel(card, payload["estimators"])


def read_card(model: str | Path) -> dict[str, Any]:
    path = card_path(model)
    if not path.exists():
        raise ValueError(
            f"{model}: its card {path.name} is missing; not a model written by `archgym proxy train`"
        )
    return records.read_card(path, card_format=CARD_FORMAT, kind="proxy")


def env_class_name(env: Any) -> str:
    cls = type(env)
    return f"{cls.__module__}:{cls.__qualname__}"


def load_for_env(
    model: str | os.PathLike[str], env: Any, constructor_kwargs: Mapping[str, Any], *, trust: bool = False
) -> ProxyModel:
    """Load ``model`` for ``env`` (a :class:`~archgym.env.DesignEnv` just constructed with
    ``constructor_kwargs``), refusing a model trained for another env, other kwargs or other
    parameters, or one lacking a metric the env's objective needs."""
    card = read_card(model)
    here = env_class_name(env)
    if card["env_class"] != here:
        raise ValueError(f"{model}: trained for {card['env_id']} ({card['env_class']}), not for {here}")
    trained = _canonical(type(env).complete_kwargs(card["constructor_kwargs"]))
    if trained != _canonical(constructor_kwargs):
        given = {
            k: v for k, v in constructor_kwargs.items() if k in card["constructor_kwargs"] or v is not None
        }
        raise ValueError(
            f"{model}: trained for {card['env_id']} with kwargs {card['constructor_kwargs']}, not {given}"
        )
    layout = layout_to_meta(RecordLayout(env.design_space, tuple(env.metric_units), None))
    if layout["parameters"] != card["layout"]["parameters"]:
        raise ValueError(f"{model}: trained on other parameter definitions than this env's")
    needed = dict.fromkeys([*env.objective.metrics, *(c.metric for c in env.outcome_constraints)])
    missing = [m for m in needed if m not in card["targets"]]
    if missing:
        what = "objective and outcome constraints need" if env.outcome_constraints else "objective needs"
        raise ValueError(
            f"{model}: the env's {what} metric(s) {missing}, but "
            f"the model predicts only {sorted(card['targets'])}; train it with --target "
            f"{' '.join(needed)}"
        )
    return load(model, trust=trust)


def _canonical(kwargs: Mapping[str, Any]) -> str:
    return json.dumps(json.loads(json.dumps(dict(kwargs), default=str)), sort_keys=True)


class ProxyBackend:
    """The ``backend="proxy"`` evaluator: a trained model's predicted metrics (NaN for the metrics
    it does not predict), keeping the env's spaces and objective."""

    def __init__(self, model: ProxyModel) -> None:
        self.model = model

    def evaluate(self, design: Design, context: EvalContext) -> dict[str, float]:
        return self.model.predict_metrics(design)

    def simulated_duration(self, design: Design, fidelity: Any, metrics: Mapping[str, float]) -> float | None:
        """The real evaluation's time, as the model's card records it (the simulated clock charges
        a prediction what the evaluation it stands for would have cost); None if unknown."""
        return self.reference_seconds()

    def reference_seconds(self) -> float | None:
        """The simulator's measured evaluation time the card records (None: unknown)."""
        seconds = self.model.card.get("real_eval_time_s")
        return None if seconds is None or not math.isfinite(float(seconds)) else float(seconds)

    def relative_cost(self) -> float | None:
        """One prediction's measured time (every target's single-row prediction, encoding
        included) over the simulator's measured evaluation time — the proxy's cost in simulator
        evaluations when it is the low level of a backend ladder; None where either is unknown."""
        reference = self.reference_seconds()
        times = [t.get("predict_time_s", {}).get("single_row") for t in self.model.card["targets"].values()]
        if reference is None or reference <= 0 or not times or any(t is None for t in times):
            return None
        return float(sum(times)) / reference


def proxy_backend(
    env: Any, constructor_kwargs: Mapping[str, Any], *, model: Any = None, trust_model: Any = False
) -> ProxyBackend:
    """``gymnasium.make(ID, backend="proxy", model=PATH, trust_model=True)`` for any DesignEnv.
    The model file is a pickle: loading it needs ``trust_model=True`` (or ``ARCHGYM_TRUST_MODELS=1``)."""
    if model is None:
        raise ValueError("backend='proxy' needs model=PATH (a model written by `archgym proxy train`)")
    if not isinstance(trust_model, bool):
        raise ValueError(f"trust_model: {trust_model!r} is not legal; legal values: True, False")
    return ProxyBackend(load_for_env(model, env, constructor_kwargs, trust=trust_model))


@hookimpl
def archgym_backends() -> list[BackendSpec]:
    """The proxy backend, registered through the plugin hook like any third-party backend."""
    return [
        BackendSpec(
            name="proxy",
            entry_point="archgym.proxy:proxy_backend",
            description="a proxy model trained by `archgym proxy train` (model=PATH, trust_model=True)",
            options=("model", "trust_model"),
            caller_only=("trust_model",),
        )
    ]


# --- training ------------------------------------------------------------------------------------
def _estimator(kind: str, seed: int) -> Any:
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor

    if kind == "rf":
        return RandomForestRegressor(
            n_estimators=60, min_samples_leaf=1, max_features=0.8, n_jobs=1, random_state=seed
        )
    if kind == "gbm":
        return GradientBoostingRegressor(
            n_estimators=800, max_depth=4, learning_rate=0.05, subsample=0.8, random_state=seed
        )
    raise ValueError(f"model kind {kind!r} is not legal; legal values: {list(KINDS)}")


def _scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from scipy.stats import kendalltau
    from sklearn.metrics import r2_score

    rmse = float(np.sqrt(np.mean((y - pred) ** 2)))
    tau = kendalltau(y, pred).statistic if len(y) > 1 and np.ptp(pred) > 0 else math.nan
    return {
        "rmse": rmse,
        "relative_rmse": rmse / float(np.mean(np.abs(y))) if np.any(y) else math.nan,
        "r2": float(r2_score(y, pred)) if len(y) > 1 else math.nan,
        "kendall_tau": float(tau),
    }


def _median_time(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _predict_times(
    served: Served, encoder: Encoder, design: Design, x_test: np.ndarray
) -> tuple[float, float]:
    """Median seconds to predict one design from scratch (encoding included), and per row of a
    batch of ``x_test``."""
    single = _median_time(lambda: served(np.array([encoder.row(design)])), 200)
    batched = _median_time(lambda: served(x_test), 5) / len(x_test)
    return single, batched


def train(
    dataset: str | Path,
    targets: Sequence[str],
    out: str | Path,
    *,
    seed: int = 0,
    test_fraction: float = 0.2,
    kinds: Sequence[str] = KINDS,
    max_predict_s: float | None = None,
    real_eval_time_s: float | None = None,
) -> dict[str, Any]:
    """Fit one model per target on ``dataset`` (feasible, non-proxy rows); write ``out`` and its
    card; return the card (figures under ``targets[name]``).

    ``max_predict_s``: candidates whose single-row prediction is slower are not selected (a proxy
    must be fast to be worth it); if none is fast enough, the fastest is taken.
    ``real_eval_time_s``: the real evaluation time speedups are measured against (default: the
    median ``eval_time_s`` the loop recorded in the dataset, which includes any load the
    collection ran under — pass a time measured beside the proxy for a like-for-like ratio).
    """
    import joblib
    from sklearn.dummy import DummyRegressor
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import train_test_split

    from archgym.data import load_dataset

    if not targets:
        raise ValueError("--target: name at least one metric")
    if not 0.0 < test_fraction < 0.9:
        raise ValueError(f"test_fraction: {test_fraction!r} is not legal; legal values: (0, 0.9)")
    for kind in kinds:
        _estimator(kind, seed)
    table, meta = load_dataset(dataset)
    layout = meta["layout"]
    unknown = [t for t in targets if t not in layout["metrics"]]
    if unknown:
        raise ValueError(f"--target: unknown metric(s) {unknown}; metrics: {layout['metrics']}")
    space = layout_from_meta({"layout": layout}).design_space
    encoder = Encoder(space)
    rows = table.to_pylist()
    usable = [r for r in rows if r["feasible"] and r["backend"] != "proxy"]
    designs = [design_of(r) for r in usable]
    x_all = encoder(designs)
    eval_times = np.array([r["eval_time_s"] for r in usable], dtype=np.float64)
    real_time = float(np.median(eval_times)) if len(eval_times) else math.nan
    real_source = "median eval_time_s of the dataset's feasible rows (measured by the loop)"
    if real_eval_time_s is not None:
        if not real_eval_time_s > 0:
            raise ValueError(f"real_eval_time_s: {real_eval_time_s!r} is not legal; legal values: > 0 s")
        real_time, real_source = float(real_eval_time_s), "measured by the caller"

    card: dict[str, Any] = {
        "format": CARD_FORMAT,
        "card_version": 1,
        "created": datetime.now(UTC).isoformat(),
        "env_id": meta["env_id"],
        "env_version": meta["env_version"],
        "env_kwargs": meta["env_kwargs"],
        "layout": layout,
        "features": encoder.columns,
        "seed": seed,
        "test_fraction": test_fraction,
        "dataset": {
            "path": str(dataset),
            "rows": len(rows),
            "used_rows": len(usable),
            "excluded": "infeasible rows and rows from proxy backends",
        },
        "real_eval_time_s": real_time,
        "real_eval_time_source": real_source,
        "targets": {},
    }
    if max_predict_s is not None and max_predict_s <= 0:
        raise ValueError(f"max_predict_s: {max_predict_s!r} is not legal; legal values: > 0 seconds")
    card.update(_env_identity(meta["env_id"], meta["env_kwargs"]))
    estimators: dict[str, Any] = {}
    for target in targets:
        y_all = np.array([math.nan if r[METRIC + target] is None else r[METRIC + target] for r in usable])
        keep = np.isfinite(y_all)
        x, y = x_all[keep], y_all[keep]
        if len(y) < 10:
            raise ValueError(f"--target {target}: only {len(y)} feasible rows with a value; need >= 10")
        idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=test_fraction, random_state=seed)
        idx_fit, idx_val = train_test_split(idx_train, test_size=0.2, random_state=seed + 1)
        # a positive target spanning two decades or more is modelled in log space (relative errors
        # matter there, and a few huge values would otherwise dominate the fit)
        spans = bool(np.all(y > 0)) and y.max() / y.min() >= SPAN_FOR_LOG
        transforms = ["log"] if spans else ["raw"]
        tf = {"raw": (lambda v: v, lambda v: v), "log": (np.log, np.exp)}
        candidates = []
        for kind in kinds:
            for transform in transforms:
                fwd = tf[transform][0]
                _, served = _fit_served(kind, seed, x[idx_fit], fwd(y[idx_fit]), transform == "log")
                val = _scores(y[idx_val], served(x[idx_val]))
                latency = _median_time(lambda served=served, row=x[:1]: served(row), 30)
                fast = max_predict_s is None or latency <= max_predict_s
                candidates.append(
                    {
                        "kind": kind,
                        "transform": transform,
                        "validation": val,
                        "single_row_s": latency,
                        "fast_enough": fast,
                    }
                )
        allowed = [c for c in candidates if c["fast_enough"]]
        if allowed:
            best = min(allowed, key=lambda c: c["validation"]["rmse"])
        else:
            best = min(candidates, key=lambda c: c["single_row_s"])
        fwd, inv = tf[best["transform"]]
        model, served = _fit_served(
            best["kind"], seed, x[idx_train], fwd(y[idx_train]), best["transform"] == "log"
        )
        x_test, y_test = x[idx_test], y[idx_test]
        pred = served(x_test)
        mean_pred = DummyRegressor().fit(x[idx_train], y[idx_train]).predict(x_test)
        linear = LinearRegression().fit(x[idx_train], fwd(y[idx_train]))
        lin_pred = inv(linear.predict(x_test))
        scores = _scores(y_test, pred)
        baselines = {"mean": _scores(y_test, mean_pred), "linear": _scores(y_test, lin_pred)}

        single, batched = _predict_times(served, encoder, designs[0], x_test)
        card["targets"][target] = {
            "max_predict_s": max_predict_s,
            "model": best["kind"],
            "transform": best["transform"],
            "centre": served.centre,
            "scale": served.scale,
            "params": _params(model),
            "candidates": candidates,
            "n_train": len(idx_train),
            "n_test": len(idx_test),
            "target_range": [float(y.min()), float(y.max())],
            "test": scores,
            "baselines": baselines,
            "clear_win": {b: bool(scores["rmse"] <= 0.5 * v["rmse"]) for b, v in baselines.items()},
            "predict_time_s": {"single_row": single, "batched_per_row": batched, "batch_rows": len(x_test)},
            "speedup": {"single_row": real_time / single, "batched": real_time / batched},
        }
        estimators[target] = model
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump({"estimators": estimators}, out)
    card["model_file"] = out.name
    card["model_sha256"] = _sha256(out)
    card["versions"] = _versions()
    card_path(out).write_text(json.dumps(card, indent=2, default=float))
    return card


def _params(model: Any) -> dict[str, Any]:
    plain = int | float | str | bool | type(None)
    return {k: v for k, v in model.get_params().items() if isinstance(v, plain)}


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {
        p: version(p)
        for p in ("archgym", "scikit-learn", "skl2onnx", "onnxruntime", "joblib", "numpy", "scipy")
    }


def _env_identity(env_id: str, env_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The env class and full constructor kwargs (the registration's plus the run's), so a proxy
    env can check it is the env the model was trained for."""
    import gymnasium as gym

    spec = gym.spec(env_id)
    entry = (
        spec.entry_point
        if isinstance(spec.entry_point, str)
        else (f"{spec.entry_point.__module__}:{spec.entry_point.__qualname__}")
    )
    kwargs = {**spec.kwargs, **dict(env_kwargs)}
    return {"env_class": entry, "constructor_kwargs": kwargs}


def format_report(card: Mapping[str, Any]) -> str:
    """A table of the card's per-target figures (ArchGym reports 0.61 % relative RMSE)."""
    lines = [
        f"proxy for {card['env_id']} (kwargs {card['env_kwargs']}); real evaluation "
        f"{card['real_eval_time_s'] * 1e3:.3g} ms (median)",
        f"{'target':<22}{'model':<10}{'relRMSE':>9}{'ArchGym':>9}{'R2':>8}{'tau':>7}"
        f"{'mean RMSE':>12}{'lin RMSE':>12}{'RMSE':>12}{'x1 row':>10}{'xbatch':>10}",
    ]
    for name, t in card["targets"].items():
        s, b = t["test"], t["baselines"]
        lines.append(
            f"{name:<22}{t['model'] + '/' + t['transform']:<10}{s['relative_rmse'] * 100:>8.2f}%"
            f"{'0.61%':>9}{s['r2']:>8.4f}{s['kendall_tau']:>7.3f}{b['mean']['rmse']:>12.4g}"
            f"{b['linear']['rmse']:>12.4g}{s['rmse']:>12.4g}{t['speedup']['single_row']:>10.0f}"
            f"{t['speedup']['batched']:>10.0f}"
        )
    return "\n".join(lines)
