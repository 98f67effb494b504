"""Proxy cost models: train on a dataset, report honest error and speedup, serve proxy envs.

``archgym proxy train DATASET --target METRIC… -o MODEL`` fits, per target metric, a random
forest, a gradient-boosting model and extremely randomised trees (scikit-learn) — on the
logarithm of the target where it is positive and spans two decades or more — and keeps the one
with the lowest validation RMSE.
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
from archgym.records import METRIC, STAT, RecordLayout, design_of, layout_from_meta, layout_to_meta
from archgym.spaces import Categorical, Design, DesignSpace

__all__ = [
    "Encoder",
    "Pretrained",
    "ProxyModel",
    "encode",
    "fit_estimator",
    "learning_curve",
    "load",
    "load_for_env",
    "train",
]

CARD_FORMAT = "archgym-proxy"
TRUST_ENV = "ARCHGYM_TRUST_MODELS"
KINDS = ("rf", "gbm", "et")
SPAN_FOR_LOG = 100.0
ROWS_TO_TRY_WITHOUT = 1000
"""Training rows from which each candidate is also tried without the free statistics' columns:
with fewer, the validation split is too small to tell the feature sets apart (at 50 SystolicArray
designs it picked the parameters alone, at 44 % MAPE against 26 % with the statistics), and the
statistics' value is their sample efficiency."""


def card_path(model: str | Path) -> Path:
    return Path(model).with_suffix(".card.json")


# --- features ------------------------------------------------------------------------------------
class Encoder:
    """Designs → feature rows: each parameter's unit encoding (log-aware; -1 where inactive),
    plus one-hot columns for categoricals with more than two values, then the env's free
    statistics named in ``statistics`` (signed ``log1p``: they span decades), computed by
    ``env.statistics`` for every design encoded — in training and when serving alike, so a
    served prediction's time includes them."""

    def __init__(self, space: DesignSpace, env: Any = None, statistics: Sequence[str] = ()) -> None:
        self.space = space
        self.env = env
        self.statistics = tuple(statistics)
        if self.statistics and env is None:
            raise ValueError("Encoder: statistics need the env that computes them")
        self.columns: list[str] = []
        for p in space:
            self.columns.append(p.name)
            if isinstance(p, Categorical) and p.n_values > 2:
                self.columns += [f"{p.name}={v}" for v in p.values_list()]
        self.columns += [STAT + name for name in self.statistics]

    def stats(self, design: Mapping[str, Any]) -> dict[str, float]:
        """The design's free statistics (``{}`` where none are used)."""
        return self.env.statistics(design) if self.statistics else {}

    def row(self, design: Mapping[str, Any], stats: Mapping[str, float] | None = None) -> list[float]:
        out: list[float] = []
        for p in self.space:
            value = design.get(p.name)
            out.append(-1.0 if value is None else p.to_unit(value))
            if isinstance(p, Categorical) and p.n_values > 2:
                out += [float(value == v) for v in p.values_list()]
        if self.statistics:
            stats = self.stats(design) if stats is None else stats
            values = np.array([stats[n] for n in self.statistics], dtype=np.float64)
            out += np.copysign(np.log1p(np.abs(values)), values).tolist()
        return out

    def __call__(self, designs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return np.array([self.row(d) for d in designs], dtype=np.float64).reshape(len(designs), -1)

    def anchors(self, designs: Sequence[Mapping[str, Any]], name: str) -> np.ndarray:
        """The statistic ``name`` of each design (the analytic estimate a ratio target divides by)."""
        return np.array([float(self.env.statistics(d)[name]) for d in designs], dtype=np.float64)


def encode(space: DesignSpace, designs: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Feature matrix of ``designs`` (see :class:`Encoder`)."""
    return Encoder(space)(designs)


# --- the model ----------------------------------------------------------------------------------
class Served:
    """One fitted scikit-learn regressor compiled to ONNX and run by ONNX Runtime on one thread
    (float32, as tree-ensemble ONNX operators compute). The regressor predicts the standardised
    (transformed) target, ``(t - centre) / scale``, so float32 keeps its precision even for a
    target with a large offset; the rest is undone here in float64: ``raw`` is the target,
    ``log`` its logarithm, ``ratio`` the logarithm of the target over its analytic estimate (a
    free statistic, ``anchor``)."""

    def __init__(
        self, estimator: Any, n_features: int, transform: str, centre: float = 0.0, scale: float = 1.0
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
        self.n_features = n_features
        self.transform, self.centre, self.scale = transform, centre, scale

    def __call__(self, x: np.ndarray, anchor: np.ndarray | None = None) -> np.ndarray:
        # a model fitted on the parameters' columns alone reads that prefix of the encoding
        x = np.asarray(x, dtype=np.float32)[:, : self.n_features]
        y = self.session.run(None, {self.input: x})[0]
        y = np.asarray(y, dtype=np.float64).reshape(len(x)) * self.scale + self.centre
        if self.transform == "raw":
            return y
        if self.transform == "log":
            return np.exp(y)
        assert anchor is not None, "a ratio target needs its anchor statistic"
        return np.exp(y) * anchor


TRANSFORMS = ("raw", "log", "ratio")


def forward(transform: str, y: np.ndarray, anchor: np.ndarray | None = None) -> np.ndarray:
    """The target as a model fits it (see :class:`Served`)."""
    if transform == "raw":
        return y
    if transform == "log":
        return np.log(y)
    assert anchor is not None
    return np.log(y / anchor)


def _fit_served(
    kind: str, seed: int, x: np.ndarray, t: np.ndarray, transform: str, init: Pretrained | None = None
) -> tuple[Any, Served]:
    """Fit ``kind`` on the standardised transformed target ``t``; return it and its served form."""
    centre, scale = float(np.mean(t)), float(np.std(t)) or 1.0
    estimator = fit_estimator(kind, seed, x, (t - centre) / scale, init)
    return estimator, Served(estimator, x.shape[1], transform, centre, scale)


class ProxyModel:
    """Fitted per-target regressors plus the encoder; predicts metrics in raw units.

    A model trained with free statistics computes them with ``env`` (the env it serves; built
    from the card, on its own simulator, where not given)."""

    def __init__(self, card: Mapping[str, Any], estimators: Mapping[str, Any], env: Any = None) -> None:
        self.card = dict(card)
        self.space = layout_from_meta({"layout": card["layout"]}).design_space
        used = tuple(card.get("statistics", {}).get("used", ()))
        if used and env is None:
            from archgym.data.export import env_statistics

            env = env_statistics(card["env_id"], card["env_kwargs"])
            if env is None:
                raise ValueError(
                    f"proxy for {card['env_id']}: uses free statistics, but the env can't be built here"
                )
        gone = [n for n in used if n not in getattr(env, "statistic_names", ())]
        if gone:  # the env's statistics changed since the model was trained
            raise ValueError(
                f"proxy for {card['env_id']}: trained on free statistics {gone} that the env no longer "
                f"declares (it declares {list(getattr(env, 'statistic_names', ()))}); retrain the proxy"
            )
        self.encoder = Encoder(self.space, env, used)
        self.estimators = dict(estimators)
        self.anchors = {t: card["targets"][t].get("anchor") for t in self.estimators}
        self.served = {
            t: Served(
                est,
                card["targets"][t].get("n_features", len(self.encoder.columns)),
                card["targets"][t]["transform"],
                card["targets"][t]["centre"],
                card["targets"][t]["scale"],
            )
            for t, est in self.estimators.items()
        }
        self.metrics = list(card["layout"]["metrics"])

    def predict_rows(self, target: str, x: np.ndarray, anchor: np.ndarray | None = None) -> np.ndarray:
        return self.served[target](x, anchor)

    def predict(self, designs: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        x = self.encoder(designs)
        return {
            t: self.predict_rows(t, x, None if a is None else self.encoder.anchors(designs, a))
            for t, a in self.anchors.items()
        }

    def predict_metrics(self, design: Design) -> dict[str, float]:
        """One design's metrics: predicted for the model's targets, NaN for the others (its free
        statistics computed once, for the features and the anchors)."""
        stats = self.encoder.stats(design)
        x = np.array([self.encoder.row(design, stats)], dtype=np.float64)
        out = dict.fromkeys(self.metrics, math.nan)
        for t, a in self.anchors.items():
            out[t] = float(self.predict_rows(t, x, None if a is None else np.array([stats[a]]))[0])
        return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(model: str | os.PathLike[str], *, trust: bool = False, env: Any = None) -> ProxyModel:
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
    return ProxyModel(card, payload["estimators"], env)


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
    return load(model, trust=trust, env=env)


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
MLP_HIDDEN = (64, 64)


def _estimator(kind: str, seed: int) -> Any:
    from sklearn.ensemble import ExtraTreesRegressor, GradientBoostingRegressor, RandomForestRegressor
    from sklearn.neural_network import MLPRegressor

    if kind == "mlp":
        return MLPRegressor(hidden_layer_sizes=MLP_HIDDEN, alpha=1e-3, max_iter=300, random_state=seed)

    if kind == "rf":
        return RandomForestRegressor(
            n_estimators=60, min_samples_leaf=1, max_features=0.8, n_jobs=1, random_state=seed
        )
    if kind == "et":  # random split points: smoother than a forest's in a piecewise target
        return ExtraTreesRegressor(n_estimators=100, max_features=0.8, n_jobs=1, random_state=seed)
    if kind == "gbm":
        return GradientBoostingRegressor(
            n_estimators=800, max_depth=4, learning_rate=0.05, subsample=0.8, random_state=seed
        )
    raise ValueError(f"model kind {kind!r} is not legal; legal values: {[*KINDS, 'mlp']}")


def fit_estimator(kind: str, seed: int, x: np.ndarray, t: np.ndarray, init: Pretrained | None = None) -> Any:
    """Fit ``kind``; an ``mlp`` with ``init`` is fine-tuned from the pretrained network."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # small data: max_iter is the budget
        if kind == "mlp" and init is not None:
            return init.fine_tune(x, t, seed)
        return _estimator(kind, seed).fit(x, t)


class Pretrained:
    """FBNetV3-style pretraining, stage 1: an MLP fitted on ``n`` designs sampled uniformly from
    the space (no simulator call, so ``n`` can be large) to predict their free statistics
    (signed log, standardised) from the same features the proxy sees.

    Stage 2 (:meth:`fine_tune`) is a two-stage warm start rather than an auxiliary target: the
    fine-tuned MLP keeps the pretrained hidden layers, its output layer starts as a ridge
    regression of the labelled target on the pretrained hidden features, then the whole network
    trains on the labelled rows. Two stages, because the statistics are free only for the
    designs we sample, while an auxiliary target would need them in the same batches as the few
    labels, and because the served model is then one plain MLP (no second head to carry)."""

    def __init__(self, encoder: Encoder, env: Any, n: int, seed: int) -> None:
        from sklearn.neural_network import MLPRegressor

        if n < 10:
            raise ValueError(f"pretrain: {n!r} is not legal; legal values: 0 (none) or >= 10 designs")
        names = tuple(getattr(env, "statistic_names", ()))
        if not names:
            raise ValueError(f"pretrain: {type(env).__name__} declares no free statistics to pretrain on")
        rng = np.random.default_rng(seed)
        designs = [encoder.space.sample(rng) for _ in range(n)]
        stats = np.array([[float(env.statistics(d)[k]) for k in names] for d in designs])
        stats = np.sign(stats) * np.log1p(np.abs(stats))
        scale = stats.std(axis=0)
        self.targets = (stats - stats.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
        self.x = encoder(designs)
        self.network = MLPRegressor(
            hidden_layer_sizes=MLP_HIDDEN, alpha=1e-4, max_iter=200, random_state=seed
        )
        self.network.fit(self.x, self.targets)
        self.card = {
            "method": "two-stage: MLP pretrained on free statistics of sampled designs, fine-tuned on labels",
            "designs": n,
            "statistics": list(names),
            "hidden": list(MLP_HIDDEN),
            "stage1_r2": float(self.network.score(self.x, self.targets)),
        }

    def hidden(self, x: np.ndarray) -> np.ndarray:
        h = x
        for w, b in zip(self.network.coefs_[:-1], self.network.intercepts_[:-1], strict=True):
            h = np.maximum(h @ w + b, 0.0)  # MLPRegressor's default activation: relu
        return h

    def fine_tune(self, x: np.ndarray, t: np.ndarray, seed: int, epochs: int = 100) -> Any:
        from sklearn.linear_model import Ridge
        from sklearn.neural_network import MLPRegressor

        model = MLPRegressor(
            hidden_layer_sizes=MLP_HIDDEN, alpha=1e-3, max_iter=1, warm_start=True, random_state=seed
        )
        model.fit(x, t)  # sets up every attribute; its weights are replaced next
        model.coefs_[:-1] = [w.copy() for w in self.network.coefs_[:-1]]
        model.intercepts_[:-1] = [b.copy() for b in self.network.intercepts_[:-1]]
        head = Ridge(alpha=1.0).fit(self.hidden(x), t)
        model.coefs_[-1] = head.coef_.reshape(-1, 1).copy()
        model.intercepts_[-1] = np.array([head.intercept_])
        model.max_iter = epochs
        return model.fit(x, t)


def _scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from scipy.stats import kendalltau
    from sklearn.metrics import r2_score

    rmse = float(np.sqrt(np.mean((y - pred) ** 2)))
    tau = kendalltau(y, pred).statistic if len(y) > 1 and np.ptp(pred) > 0 else math.nan
    nonzero = y != 0
    return {
        "rmse": rmse,
        "relative_rmse": rmse / float(np.mean(np.abs(y))) if np.any(y) else math.nan,
        "mape": float(np.mean(np.abs((pred[nonzero] - y[nonzero]) / y[nonzero])))
        if np.any(nonzero)
        else math.nan,
        "r2": float(r2_score(y, pred)) if len(y) > 1 else math.nan,
        "kendall_tau": float(tau),
    }


def _error_concentration(
    y: np.ndarray, pred: np.ndarray, designs: Sequence[Design], estimate: np.ndarray | None, largest: int = 5
) -> dict[str, Any]:
    """What dominates the test RMSE: the share of the squared error carried by the worst 1 % and
    5 % of test rows, and the ``largest`` worst rows (design, true, predicted, and the analytic
    estimate where the target has one). A target spanning decades has its RMSE — hence its
    relative RMSE — set by a few large values; this says how few."""
    err2 = (pred - y) ** 2
    order = np.argsort(-err2)
    total = float(err2.sum()) or 1.0

    def share(fraction: float) -> float:
        return float(err2[order[: max(1, math.ceil(fraction * len(y)))]].sum()) / total

    rest = order[max(1, math.ceil(0.01 * len(y))) :]
    return {
        "top_1pct_share": share(0.01),
        "top_5pct_share": share(0.05),
        "relative_rmse_without_top_1pct": float(np.sqrt(np.mean(err2[rest])) / np.mean(np.abs(y[rest])))
        if len(rest)
        else math.nan,
        "largest": [
            {
                "design": dict(designs[i]),
                "true": float(y[i]),
                "predicted": float(pred[i]),
                "estimate": None if estimate is None else float(estimate[i]),
            }
            for i in order[:largest]
        ],
    }


def _median_time(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _predict_times(
    served: Served, encoder: Encoder, anchor: str | None, design: Design, x_test: np.ndarray, a_test: Any
) -> tuple[float, float]:
    """Median seconds to predict one design from scratch (its free statistics and encoding
    included, as :meth:`ProxyModel.predict_metrics` serves it), and per row of a batch of
    ``x_test`` (already encoded)."""

    def one() -> None:
        stats = encoder.stats(design)
        served(np.array([encoder.row(design, stats)]), None if anchor is None else np.array([stats[anchor]]))

    single = _median_time(one, 200)
    batched = _median_time(lambda: served(x_test, a_test), 5) / len(x_test)
    return single, batched


def _usable_statistics(env: Any, wanted: bool | Sequence[str]) -> tuple[str, ...]:
    """The statistics a proxy uses: all the env declares (``True``), none, or those named."""
    declared = tuple(getattr(env, "statistic_names", ())) if env is not None else ()
    if wanted is True:
        return declared
    if wanted is False:
        return ()
    unknown = [n for n in wanted if n not in declared]
    if unknown:
        raise ValueError(f"--statistics: unknown statistic(s) {unknown}; legal values: {list(declared)}")
    return tuple(wanted)


class _Split:
    """Row indices: fit and validation (model selection) inside train; test held out."""

    def __init__(self, n: int, test_fraction: float, seed: int) -> None:
        from sklearn.model_selection import train_test_split

        self.train, self.test = train_test_split(np.arange(n), test_size=test_fraction, random_state=seed)
        self.fit, self.val = train_test_split(self.train, test_size=0.2, random_state=seed + 1)


def _select_and_fit(
    x: np.ndarray,
    y: np.ndarray,
    anchor: np.ndarray | None,
    split: _Split,
    *,
    kinds: Sequence[str],
    seed: int,
    max_predict_s: float | None,
    extra_latency_s: float,
    pretrained: Pretrained | None = None,
    parameter_columns: int | None = None,
    statistics: bool = False,
) -> tuple[dict[str, Any], Any, Served]:
    """Fit every (kind, transform, features) candidate on the fit rows, select on the validation
    rows (never the test rows), refit the selected one on all training rows. A positive target
    spanning two decades or more is modelled in log space (relative errors matter there, and a
    few huge values would otherwise dominate the fit); where the env names an analytic estimate
    (``anchor``), also relative to it, ``log(target / estimate)``. With ``parameter_columns`` (the
    parameters' columns, which come first), each candidate is also tried on those alone: free
    statistics are deterministic functions of the parameters, and with enough rows a model may
    do better without the extra columns — the validation rows say (:data:`ROWS_TO_TRY_WITHOUT`)."""
    spans = bool(np.all(y > 0)) and y.max() / y.min() >= SPAN_FOR_LOG
    transforms = ["log"] if spans else ["raw"]
    if anchor is not None and bool(np.all(y > 0)) and bool(np.all(anchor > 0)):
        transforms.append("ratio")
    widths = [x.shape[1]]
    if parameter_columns is not None and parameter_columns < x.shape[1]:
        widths.append(parameter_columns)
    candidates = []
    for kind in kinds:
        for transform in transforms:
            for width in widths:
                init = pretrained if width == x.shape[1] else None  # pretrained on the full encoding
                a_fit = None if anchor is None else anchor[split.fit]
                _, served = _fit_served(
                    kind, seed, x[split.fit, :width], forward(transform, y[split.fit], a_fit), transform, init
                )
                a_val = None if anchor is None else anchor[split.val]
                val = _scores(y[split.val], served(x[split.val], a_val))
                latency = _median_time(
                    lambda served=served, row=x[:1], a=a_val: served(row, a[:1] if a is not None else None),
                    30,
                )
                latency += extra_latency_s
                candidates.append(
                    {
                        "kind": kind,
                        "transform": transform,
                        "features": "parameters+statistics"
                        if statistics and width == x.shape[1]
                        else "parameters",
                        "n_features": width,
                        "pretrained": init is not None and kind == "mlp",
                        "validation": val,
                        "single_row_s": latency,
                        "fast_enough": max_predict_s is None or latency <= max_predict_s,
                    }
                )
    allowed = [c for c in candidates if c["fast_enough"]]
    if allowed:
        best = min(allowed, key=lambda c: c["validation"]["rmse"])
    else:
        best = min(candidates, key=lambda c: c["single_row_s"])
    a_train = None if anchor is None else anchor[split.train]
    model, served = _fit_served(
        best["kind"],
        seed,
        x[split.train, : best["n_features"]],
        forward(best["transform"], y[split.train], a_train),
        best["transform"],
        pretrained if best["n_features"] == x.shape[1] else None,
    )
    return {"best": best, "candidates": candidates}, model, served


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
    statistics: bool | Sequence[str] = True,
    compare_without_statistics: bool = True,
    pretrain: int = 0,
) -> dict[str, Any]:
    """Fit one model per target on ``dataset`` (feasible, non-proxy rows); write ``out`` and its
    card; return the card (figures under ``targets[name]``).

    ``max_predict_s``: candidates whose single-row prediction (free statistics included) is
    slower are not selected (a proxy must be fast to be worth it); if none is fast enough, the
    fastest is taken.
    ``real_eval_time_s``: the real evaluation time speedups are measured against (default: the
    median ``eval_time_s`` the loop recorded in the dataset, which includes any load the
    collection ran under — pass a time measured beside the proxy for a like-for-like ratio).
    ``statistics``: the env's free statistics as features (``True``: all it declares; a list:
    those; ``False``: none); a target the env names an analytic estimate for is also tried
    relative to it. They are computed by the env from each design (the env is built on its own
    simulator, no evaluation run), exactly as when the model serves.
    ``compare_without_statistics``: also fit and test the same selection without statistics,
    recorded under ``targets[name]["without_statistics"]`` (the figure beside the model).
    ``pretrain``: FBNetV3-style pretraining on the free statistics of this many sampled designs
    (:class:`Pretrained`; no simulator call), then an ``mlp`` candidate fine-tuned from it
    (added to ``kinds``); 0: none.
    """
    import joblib
    from sklearn.dummy import DummyRegressor
    from sklearn.linear_model import LinearRegression

    from archgym.data import load_dataset
    from archgym.data.export import env_statistics

    if not targets:
        raise ValueError("--target: name at least one metric")
    if not 0.0 < test_fraction < 0.9:
        raise ValueError(f"test_fraction: {test_fraction!r} is not legal; legal values: (0, 0.9)")
    for kind in kinds:
        _estimator(kind, seed)
    if max_predict_s is not None and max_predict_s <= 0:
        raise ValueError(f"max_predict_s: {max_predict_s!r} is not legal; legal values: > 0 seconds")
    table, meta = load_dataset(dataset)
    layout = {k: v for k, v in meta["layout"].items() if k != "statistics"}
    unknown = [t for t in targets if t not in layout["metrics"]]
    if unknown:
        raise ValueError(f"--target: unknown metric(s) {unknown}; metrics: {layout['metrics']}")
    space = layout_from_meta({"layout": layout}).design_space
    wants_env = statistics is not False or pretrain > 0
    env = env_statistics(meta["env_id"], meta["env_kwargs"]) if wants_env else None
    if pretrain and env is None:
        raise ValueError(f"pretrain: env {meta['env_id']} can't be built here to compute free statistics")
    used = _usable_statistics(env, statistics)
    encoder = Encoder(space, env, used)
    plain = Encoder(space)
    rows = table.to_pylist()
    usable = [r for r in rows if r["feasible"] and r["backend"] != "proxy"]
    designs = [design_of(r) for r in usable]
    stats = [encoder.stats(d) for d in designs]
    x_all = np.array([encoder.row(d, st) for d, st in zip(designs, stats, strict=True)], dtype=np.float64)
    x_all = x_all.reshape(len(designs), len(encoder.columns))
    x_plain = plain(designs)
    stat_latency = _median_time(lambda: encoder.stats(designs[0]), 50) if used and designs else 0.0
    pretrained = Pretrained(encoder, env, pretrain, seed) if pretrain else None
    if pretrained is not None and "mlp" not in kinds:
        kinds = [*kinds, "mlp"]
    estimates = dict(getattr(env, "statistic_estimates", {}) or {}) if used else {}
    eval_times = np.array([r["eval_time_s"] for r in usable], dtype=np.float64)
    real_time = float(np.median(eval_times)) if len(eval_times) else math.nan
    real_source = "median eval_time_s of the dataset's feasible rows (measured by the loop)"
    if real_eval_time_s is not None:
        if not real_eval_time_s > 0:
            raise ValueError(f"real_eval_time_s: {real_eval_time_s!r} is not legal; legal values: > 0 s")
        real_time, real_source = float(real_eval_time_s), "measured by the caller"

    card: dict[str, Any] = {
        "format": CARD_FORMAT,
        "card_version": 2,
        "created": datetime.now(UTC).isoformat(),
        "env_id": meta["env_id"],
        "env_version": meta["env_version"],
        "env_kwargs": meta["env_kwargs"],
        "layout": layout,
        "features": encoder.columns,
        "statistics": {
            "used": list(used),
            "declared": list(getattr(env, "statistic_names", ())) if env is not None else [],
            "single_design_s": stat_latency,
            "source": "computed by the env from each design (no simulator call), in training and serving",
        },
        "pretraining": None if pretrained is None else pretrained.card,
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
    card.update(_env_identity(meta["env_id"], meta["env_kwargs"]))
    estimators: dict[str, Any] = {}
    for target in targets:
        y_all = np.array([math.nan if r[METRIC + target] is None else r[METRIC + target] for r in usable])
        keep = np.isfinite(y_all)
        x, y = x_all[keep], y_all[keep]
        if len(y) < 10:
            raise ValueError(f"--target {target}: only {len(y)} feasible rows with a value; need >= 10")
        anchor_name = estimates.get(target)
        anchor = None
        if anchor_name is not None:
            anchor = np.array([float(st[anchor_name]) for st, k in zip(stats, keep, strict=True) if k])
        split = _Split(len(y), test_fraction, seed)
        options = {"kinds": kinds, "seed": seed, "max_predict_s": max_predict_s}
        selection, model, served = _select_and_fit(
            x,
            y,
            anchor,
            split,
            extra_latency_s=stat_latency,
            pretrained=pretrained,
            statistics=bool(used),
            parameter_columns=len(plain.columns)
            if used and len(split.train) >= ROWS_TO_TRY_WITHOUT
            else None,
            **options,
        )
        best = selection["best"]
        chosen_anchor = anchor_name if best["transform"] == "ratio" else None
        a_test = None if chosen_anchor is None else anchor[split.test]  # type: ignore[index]
        x_test, y_test = x[split.test], y[split.test]
        pred = served(x_test, a_test)
        fwd, inv = (np.log, np.exp) if best["transform"] != "raw" else ((lambda v: v), (lambda v: v))
        mean_pred = DummyRegressor().fit(x[split.train], y[split.train]).predict(x_test)
        linear = LinearRegression().fit(x[split.train], fwd(y[split.train]))
        lin_pred = inv(linear.predict(x_test))
        scores = _scores(y_test, pred)
        baselines = {"mean": _scores(y_test, mean_pred), "linear": _scores(y_test, lin_pred)}
        kept = [d for d, k in zip(designs, keep, strict=True) if k]
        test_designs = [kept[i] for i in split.test]
        a_est = None if anchor is None else anchor[split.test]
        single, batched = _predict_times(served, encoder, chosen_anchor, designs[0], x_test, a_test)
        entry: dict[str, Any] = {
            "max_predict_s": max_predict_s,
            "model": best["kind"],
            "transform": best["transform"],
            "anchor": chosen_anchor,
            "features": best["features"],
            "n_features": best["n_features"],
            "centre": served.centre,
            "scale": served.scale,
            "params": _params(model),
            "candidates": selection["candidates"],
            "n_train": len(split.train),
            "n_test": len(split.test),
            "target_range": [float(y.min()), float(y.max())],
            "test": scores,
            "baselines": baselines,
            "clear_win": {b: bool(scores["rmse"] <= 0.5 * v["rmse"]) for b, v in baselines.items()},
            "estimate": None if a_est is None else {"statistic": anchor_name, "test": _scores(y_test, a_est)},
            "error_concentration": _error_concentration(y_test, pred, test_designs, a_est),
            "predict_time_s": {"single_row": single, "batched_per_row": batched, "batch_rows": len(x_test)},
            "speedup": {"single_row": real_time / single, "batched": real_time / batched},
        }
        if used and compare_without_statistics:
            xp = x_plain[keep]
            sel_p, _, served_p = _select_and_fit(xp, y, None, split, extra_latency_s=0.0, **options)
            single_p, _ = _predict_times(served_p, plain, None, designs[0], xp[split.test], None)
            entry["without_statistics"] = {
                "model": sel_p["best"]["kind"],
                "transform": sel_p["best"]["transform"],
                "test": _scores(y_test, served_p(xp[split.test])),
                "predict_time_s": {"single_row": single_p},
                "speedup": {"single_row": real_time / single_p},
            }
        card["targets"][target] = entry
        estimators[target] = model
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump({"estimators": estimators}, out)
    card["model_file"] = out.name
    card["model_sha256"] = _sha256(out)
    card["versions"] = _versions()
    card_path(out).write_text(json.dumps(card, indent=2, default=float))
    return card


# --- learning curves -----------------------------------------------------------------------------
CURVE_SIZES = (50, 100, 200, 500, 1000, 2000)


def _space_filling_rows(x: np.ndarray, pool: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` rows of ``pool`` spread over the feature space (greedy farthest-point sampling on the
    features scaled to [0, 1]): the space-filling sample an agent's rows are compared with."""
    z = x[pool]
    span = np.ptp(z, axis=0)
    z = (z - z.min(axis=0)) / np.where(span > 0, span, 1.0)
    chosen = [int(np.random.default_rng(seed).integers(len(pool)))]
    distance = np.linalg.norm(z - z[chosen[0]], axis=1)
    for _ in range(min(n, len(pool)) - 1):
        nxt = int(np.argmax(distance))
        chosen.append(nxt)
        distance = np.minimum(distance, np.linalg.norm(z - z[nxt], axis=1))
    return pool[np.array(chosen)]


def learning_curve(
    dataset: str | Path,
    target: str,
    *,
    sizes: Sequence[int] = CURVE_SIZES,
    seed: int = 0,
    test_fraction: float = 0.2,
    kinds: Sequence[str] = KINDS,
    statistics: bool | Sequence[str] = True,
    by_agent: bool = True,
) -> dict[str, Any]:
    """Test error and Kendall τ of proxies trained on growing random subsets of ``dataset``'s
    training rows, all scored on one held-out test split (selection on validation rows inside
    each subset, as :func:`train` does). Where the dataset holds several agents' runs, also each
    agent's own training rows against a space-filling sample of the same size. Sizes beyond the
    training rows are left out."""
    from archgym.data import load_dataset
    from archgym.data.export import env_statistics

    table, meta = load_dataset(dataset)
    layout = {k: v for k, v in meta["layout"].items() if k != "statistics"}
    if target not in layout["metrics"]:
        raise ValueError(f"--target: unknown metric {target!r}; metrics: {layout['metrics']}")
    bad = [n for n in sizes if not isinstance(n, int) or n < 10]
    if bad or not sizes:
        raise ValueError(f"sizes: {list(sizes)!r} is not legal; legal values: integers >= 10")
    space = layout_from_meta({"layout": layout}).design_space
    env = env_statistics(meta["env_id"], meta["env_kwargs"]) if statistics is not False else None
    encoder = Encoder(space, env, _usable_statistics(env, statistics))
    rows = [
        r
        for r in table.to_pylist()
        if r["feasible"] and r["backend"] != "proxy" and r.get(METRIC + target) is not None
    ]
    rows = [r for r in rows if math.isfinite(float(r[METRIC + target]))]
    if len(rows) < 20:
        raise ValueError(f"--target {target}: only {len(rows)} feasible rows with a value; need >= 20")
    designs = [design_of(r) for r in rows]
    stats = [encoder.stats(d) for d in designs]
    x = np.array([encoder.row(d, st) for d, st in zip(designs, stats, strict=True)], dtype=np.float64)
    y = np.array([float(r[METRIC + target]) for r in rows])
    estimate = dict(getattr(env, "statistic_estimates", {}) or {}).get(target) if encoder.statistics else None
    anchor = None if estimate is None else np.array([float(st[estimate]) for st in stats])
    agents = np.array([str(r.get("agent") or "?") for r in rows])
    n_parameters = len(Encoder(space).columns)
    split = _Split(len(y), test_fraction, seed)
    rng = np.random.default_rng(seed)

    def score(train_rows: np.ndarray) -> dict[str, Any]:
        inner = _Split.__new__(_Split)
        inner.train, inner.test = train_rows, split.test
        order = rng.permutation(train_rows)
        cut = max(2, len(order) // 5)
        inner.val, inner.fit = order[:cut], order[cut:]
        sel, _, served = _select_and_fit(
            x,
            y,
            anchor,
            inner,
            kinds=kinds,
            seed=seed,
            max_predict_s=None,
            extra_latency_s=0.0,
            statistics=bool(encoder.statistics),
            parameter_columns=n_parameters
            if encoder.statistics and len(train_rows) >= ROWS_TO_TRY_WITHOUT
            else None,
        )
        a = None if anchor is None or sel["best"]["transform"] != "ratio" else anchor[split.test]
        s = _scores(y[split.test], served(x[split.test], a))
        best = sel["best"]
        label = f"{best['kind']}/{best['transform']}" + ("+s" if best["features"] != "parameters" else "")
        return {"n": len(train_rows), "model": label, **s}

    points = [score(rng.choice(split.train, n, replace=False)) for n in sizes if n <= len(split.train)]
    if not points or sizes[-1] > len(split.train) >= 10:
        points.append(score(split.train))
    by_source = []
    names = sorted(set(agents[split.train]))
    if by_agent and len(names) > 1:
        for name in names:
            own = split.train[agents[split.train] == name]
            if len(own) < 10:
                continue
            filling = _space_filling_rows(x, split.train, len(own), seed)
            by_source.append({"agent": name, "own": score(own), "space_filling": score(filling)})
    return {
        "dataset": str(dataset),
        "env_id": meta["env_id"],
        "target": target,
        "seed": seed,
        "statistics": list(encoder.statistics),
        "n_test": len(split.test),
        "n_train_pool": len(split.train),
        "curve": points,
        "by_agent": by_source,
    }


def format_curve(curve: Mapping[str, Any]) -> str:
    """The learning curve (and the per-agent comparison) as text tables."""
    lines = [
        f"learning curve of {curve['target']} on {curve['env_id']} ({curve['n_test']} test rows; "
        f"{len(curve['statistics'])} free statistics)",
        f"{'n train':>8}  {'model':<12}{'relRMSE':>9}{'MAPE':>10}{'R2':>8}{'tau':>7}",
    ]
    for p in curve["curve"]:  # MAPE has no upper bound (targets near 0): a column wide enough apart
        lines.append(
            f"{p['n']:>8}  {p['model']:<12}{p['relative_rmse'] * 100:>8.2f}%{p['mape'] * 100:>9.4g}%"
            f"{p['r2']:>8.3f}{p['kendall_tau']:>7.3f}"
        )
    if curve["by_agent"]:
        lines += [
            "",
            f"{'agent':<16}{'n':>6}{'own relRMSE':>13}{'own tau':>9}{'s-f relRMSE':>13}{'s-f tau':>9}",
        ]
        for a in curve["by_agent"]:
            own, sf = a["own"], a["space_filling"]
            lines.append(
                f"{a['agent']:<16}{own['n']:>6}{own['relative_rmse'] * 100:>12.2f}%{own['kendall_tau']:>9.3f}"
                f"{sf['relative_rmse'] * 100:>12.2f}%{sf['kendall_tau']:>9.3f}"
            )
    return "\n".join(lines)


def plot_curve(curve: Mapping[str, Any], out: str | Path) -> Path:
    """Test relative RMSE and Kendall τ against training rows, as a PNG (matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [p["n"] for p in curve["curve"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(n, [p["relative_rmse"] * 100 for p in curve["curve"]], "o-", label="relative RMSE")
    left.plot(n, [p["mape"] * 100 for p in curve["curve"]], "s-", label="MAPE")
    right.plot(n, [p["kendall_tau"] for p in curve["curve"]], "o-", label="random subsets")
    for i, a in enumerate(curve["by_agent"]):
        color = f"C{i + 1}"
        right.plot(a["own"]["n"], a["own"]["kendall_tau"], "^", color=color, label=f"{a['agent']} rows")
        right.plot(
            a["space_filling"]["n"],
            a["space_filling"]["kendall_tau"],
            "v",
            color=color,
            mfc="none",
            label=f"space-filling, {a['own']['n']} rows",
        )
    left.set_yscale("log")  # MAPE explodes where the target nears 0
    for ax, label in ((left, "test error (%)"), (right, "Kendall tau (test)")):
        ax.set_xscale("log")
        ax.set_xlabel("training rows")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    fig.suptitle(f"{curve['env_id']}: {curve['target']}")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


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


def _label(target: Mapping[str, Any]) -> str:
    """``kind/transform``, ``+s`` where the model reads the free statistics."""
    uses = target.get("features", "parameters") != "parameters"
    return f"{target['model']}/{target['transform']}" + ("+s" if uses else "")


def _describe_pretraining(pretraining: Mapping[str, Any] | None) -> str:
    if not pretraining:
        return "none"
    return (
        f"{pretraining['designs']} sampled designs, {len(pretraining['statistics'])} statistics (two-stage)"
    )


def format_report(card: Mapping[str, Any]) -> str:
    """A table of the card's per-target figures (ArchGym reports 0.61 % relative RMSE)."""
    lines = [
        f"proxy for {card['env_id']} (kwargs {card['env_kwargs']}); real evaluation "
        f"{card['real_eval_time_s'] * 1e3:.3g} ms (median)",
        f"statistics: {len(card.get('statistics', {}).get('used', []))} used; "
        f"pretraining: {_describe_pretraining(card.get('pretraining'))}",
        f"{'target':<22}{'model':<12}{'relRMSE':>9}{'MAPE':>8}{'ArchGym':>9}{'R2':>8}{'tau':>7}"
        f"{'mean RMSE':>12}{'lin RMSE':>12}{'RMSE':>12}{'x1 row':>10}{'xbatch':>10}",
    ]
    for name, t in card["targets"].items():
        s, b = t["test"], t["baselines"]
        lines.append(
            f"{name:<22}{_label(t):<12}{s['relative_rmse'] * 100:>8.2f}%"
            f"{s.get('mape', math.nan) * 100:>7.2f}%"
            f"{'0.61%':>9}{s['r2']:>8.4f}{s['kendall_tau']:>7.3f}{b['mean']['rmse']:>12.4g}"
            f"{b['linear']['rmse']:>12.4g}{s['rmse']:>12.4g}{t['speedup']['single_row']:>10.0f}"
            f"{t['speedup']['batched']:>10.0f}"
        )
        e = t.get("estimate")
        if e:
            es = e["test"]
            label = f"  {e['statistic']} alone"
            lines.append(
                f"{label[:21]:<22}{'-':<12}{es['relative_rmse'] * 100:>8.2f}%{es['mape'] * 100:>7.2f}%"
                f"{'':>9}{es['r2']:>8.4f}{es['kendall_tau']:>7.3f}"
            )
        w = t.get("without_statistics")
        if w:
            ws = w["test"]
            label = "  without statistics"
            lines.append(
                f"{label:<22}{w['model'] + '/' + w['transform']:<12}{ws['relative_rmse'] * 100:>8.2f}%"
                f"{ws['mape'] * 100:>7.2f}%{'':>9}{ws['r2']:>8.4f}{ws['kendall_tau']:>7.3f}{'':>36}"
                f"{w['speedup']['single_row']:>10.0f}"
            )
        c = t.get("error_concentration")
        if c:
            worst = max(1, math.ceil(0.01 * t["n_test"]))
            lines.append(
                f"  squared test error: the worst {worst} rows (1 %) carry "
                f"{c['top_1pct_share'] * 100:.0f} %, the worst 5 % {c['top_5pct_share'] * 100:.0f} %"
            )
    return "\n".join(lines)
