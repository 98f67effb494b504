"""Bayesian optimisation with BoTorch: a Gaussian-process model of the reward and a log-EI
acquisition, for small evaluation budgets (tens to a few hundred evaluations).

The agent works on the unit-hypercube encoding of the design space (``space.to_unit`` /
``space.from_unit``):

* **Initial design**: ``n_init`` scrambled Sobol points (``scipy.stats.qmc``), seeded.
* **Model**: ``SingleTaskGP`` with ``Normalize`` inputs (bounds: the unit cube) and
  ``Standardize`` outcomes, fitted by ``fit_gpytorch_mll`` (warm-started from the previous fit);
  one objective without categoricals: a Matern-5/2 ARD kernel (BoTorch's dimension-scaled
  length-scale prior) and Optuna GPSampler's noise prior, Gamma(1.1, 30) with a 1e-6 floor
  (:data:`NOISE_PRIOR`, :data:`MIN_NOISE`). This is the fix for Hartmann-6: with BoTorch's
  defaults (RBF, noise floor 1e-4) the fitted noise variance was ≈ 0.006 of the standardised
  rewards — a noise level about the size of the regret left near the optimum, so the model could
  not resolve the last digits (median regret 0.005–0.01 against GPSampler's 0.0002–0.001).
  ``MixedSingleTaskGP`` (a categorical kernel) when the space has categorical parameters.
  Several objectives: one GP per objective (a batched multi-output GP, BoTorch's defaults).
* **Outliers** (one objective, ``output_warping="winsorize"``, default): before fitting, rewards
  below the lower Tukey fence of those observed (Q1 − 1.5·IQR) are raised to it. Rewards of real
  design spaces have a heavy bad tail — broken designs at chance accuracy, a diverged solver —
  and a GP fitted to raw values spends its variance on that tail and can't tell the good designs
  apart; only the bad side is clipped, so the differences near the optimum keep their size
  (Ax's automatic winsorization uses the same cutoff). ``"none"`` fits the rewards as observed.
  Several objectives are not winsorized: their hypervolume reference point lives in the rewards'
  own units.
* **Acquisition** (``acquisition="auto"``, default): analytic ``LogExpectedImprovement`` against
  the best observation for one design on spaces without categorical parameters — exact, and
  several times cheaper than Monte-Carlo (about 0.13 s per step at 50 observations on one
  thread, fit included); ``qLogNoisyExpectedImprovement`` with categorical parameters (the
  setting the NAS-table results were measured with); a batch, or a design replaced next to
  others already chosen, uses ``qLogExpectedImprovement`` with the same incumbent. ``"logei"``,
  ``"qlognei"``, ``"qlogei"`` force one. With several objectives ``qlognei`` is
  ``qLogNoisyExpectedHypervolumeImprovement`` and ``logei``/``qlogei``
  ``qLogExpectedHypervolumeImprovement`` against the observed front; ``auto`` takes the latter
  on spaces without categorical parameters (GPSampler's choice, and 2–3× cheaper per step: the
  noisy form integrates over the baseline's own samples) and the noisy one with categoricals.
  Fewer raw and Monte-Carlo samples serve several objectives (:func:`default_sampling`).
  Their reference point (``reference_point="auto"``) is the env's declared one — the point the
  run's hypervolume is scored against — when the env has one, else inferred from the observed
  feasible Pareto front by ``infer_reference_point`` (``"inferred"``: always inferred). An inferred
  point sits beyond the nadir of the front, so early extreme designs (one objective perfect, the
  other poor) push it far out and steer the search to the extremes: prefer a declared one.
* **Acquisition optimisation** searches legal values only: ``optimize_acqf`` on all-real spaces,
  its raw samples also drawn around the best observations (``sample_around_best``) so a restart
  starts at the incumbent and refines it, as GPSampler's local search does;
  ``optimize_acqf_mixed_alternating`` with integer/ordinal parameters as ``discrete_dims`` (their
  legal unit values) and categorical ones as ``cat_dims``; ``optimize_acqf_discrete`` over every
  legal design when the space is discrete and has at most ``MAX_ENUMERATE`` designs (exact for
  conditions and forbidden combinations, and never proposes an evaluated design again).
  Integer parameters with more than ``MAX_LISTED_VALUES`` values are relaxed to reals and decoded
  to their bin by ``from_unit``.
* **Infeasible evaluations** (``feasible=False``, or a non-finite reward) never reach the GP with
  their penalty: their targets are imputed with the worst feasible value of each objective, so
  the model learns that the region is poor without a huge outlier that would wreck the
  standardisation and the length scales. Until two feasible evaluations exist the agent keeps
  sampling Sobol points.
* **Conditional parameters**: inactive ones are encoded at 0.5 (``to_unit``) in the training data
  and dropped when decoding, so the value the optimiser gives them is ignored.
* **Forbidden combinations and repeats**: a proposal that violates a constraint, or decodes to a
  design already evaluated or already in the batch, is replaced by the best candidate (by the
  same acquisition function, conditioned on the rest of the batch) from a scrambled-Sobol pool
  of ``raw_samples`` legal, new designs.

Every BoTorch iteration runs on one torch thread under ``torch.random.fork_rng`` seeded from the
agent's seed, so runs are reproducible and don't disturb the caller's torch RNG.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from archgym.search import Agent, AgentSpec, EvalResult, Problem
from archgym.spaces import Categorical, Design, DesignKey, Integer, Real, Text, design_key

SPEC = AgentSpec(
    name="bo",
    entry_point="archgym_agents.bo:BayesianOptimization",
    description="Bayesian optimisation (BoTorch GP + log-EI / log-EHVI) for small budgets; "
    "mixed, conditional and multi-objective spaces.",
    hyperparameters=(
        Integer("n_init", 0, 10_000, default=0),
        Integer("batch_size", 1, 256, default=1),
        Integer("num_restarts", 1, 256, default=2),
        Integer("raw_samples", 0, 65_536, default=0),
        Categorical("acquisition", ["auto", "logei", "qlognei", "qlogei"], default="auto"),
        Integer("mc_samples", 0, 4096, default=0),
        Categorical("reference_point", ["auto", "inferred"], default="auto"),
        Categorical("output_warping", ["winsorize", "none"], default="winsorize"),
        Categorical("constraint_handling", ["model", "infeasible"], default="model"),
    ),
)
SPECS = [SPEC]

MAX_ENUMERATE = 4096
"""Discrete spaces with at most this many designs (ignoring conditions) are optimised by
scoring every legal design."""
MAX_LISTED_VALUES = 10_000
"""Integer parameters with more values are optimised as reals (their legal values aren't listed)."""
FIT_OPTIONS = {"maxiter": 200, "gtol": 1e-2}
"""L-BFGS-B options of each GP fit. Warm-started from the previous fit's hyperparameters, the
marginal likelihood is near its optimum already; the projected-gradient tolerance 1e-2 (Optuna
GPSampler's) stops it there instead of polishing digits that don't move the acquisition optimum
(a fit at 50 observations fell from ~36 ms to ~8 ms, one thread)."""
NOISE_PRIOR = (1.1, 30.0)
"""Gamma(concentration, rate) prior of the noise variance on the standardised scale (one
objective), Optuna's GPSampler's: mean 0.037, most mass near 0, so a deterministic objective is
fitted nearly exactly while a noisy one can still claim its noise."""
MIN_NOISE = 1e-6
"""Lower bound of that noise variance (BoTorch's default floor is 1e-4: on a standardised scale
a noise standard deviation of 1 % of the rewards' spread, about the size of the regret left near
an optimum, which the model then can't resolve)."""
ACQF_OPTIONS = {"sample_around_best": True, "maxiter": 10}
"""``optimize_acqf`` options (all-real spaces): raw samples also drawn around the best observed
designs, so a restart starts next to the incumbent and refines it; at most 10 L-BFGS-B
iterations per restart. Each iteration is one posterior call through GPyTorch (~1.5–2.5 ms at 50
observations, nearly all of it fixed per-call overhead, whatever the number of restarts), and
the acquisition value after 10 iterations from those starts was within 0.5 % of the converged
one (about 20 iterations): on Hartmann-6 @60 the regret was unchanged and the step 40 % cheaper."""
BATCH_FIT_OPTIONS = {"maxiter": 200}
"""Fit options of a batch of GPs (several objectives, or modelled constraints), L-BFGS-B's default
tolerances: fitted as one batched problem, the 1e-2 gradient tolerance stopped DTLZ2's
objectives' fits early enough to leave the model proposing the box's corners (hypervolume 0.02
against 0.27 at 40 evaluations, seed 0)."""
REFIT_EVERY = 2
"""Model-based steps per hyperparameter fit. In between, the GP keeps the last fitted
hyperparameters and is only conditioned on the new observations (one Cholesky factorisation):
one observation more barely moves the marginal-likelihood optimum, while a fit costs ~10 L-BFGS-B
steps through GPyTorch. Measured on Hartmann-6 @60 and Branin @30 (10 seeds): regret unchanged,
time per step ~20 % lower."""
MIN_FEASIBLE = 2
"""Feasible evaluations needed before a GP is fitted; until then the agent samples Sobol points."""


MIN_SAMPLES = 16
"""Fewest raw samples or Monte-Carlo samples a user may ask for (0 = the default)."""


def default_sampling(n_objectives: int) -> tuple[int, int]:
    """``(raw_samples, mc_samples)`` when left at 0: ``(512, 128)`` for one objective, ``(128, 32)``
    for several. A hypervolume improvement costs a pass over every box of the front's
    decomposition per Monte-Carlo sample and candidate, so on DTLZ2 @100 (2 objectives) the
    acquisition search took ~85 % of bo's time at (512, 128) with qLogNEHVI (seed 0: 97 s,
    hypervolume 0.411); at (128, 32) with qLogEHVI 17.5 s for 0.389, and over seeds 0–9 a median
    0.401 in 14.6 s against GPSampler's 0.362 in 23.8 s (the front's 0.424). One objective keeps
    the values its Hartmann-6, Branin and NAS-table results were measured with."""
    return (512, 128) if n_objectives == 1 else (128, 32)


def default_n_init(dim: int) -> int:
    """``max(10, 2·d)`` capped at 20: Optuna GPSampler's 10 startup trials on small spaces (fewer
    points leave a GP's length scales to its prior, and each model-based step costs a fit), and
    two per dimension beyond, so budgets of 40–100 leave most evaluations to the model."""
    return min(max(10, 2 * dim), 20)


class BayesianOptimization(Agent):
    """GP-based Bayesian optimisation over the unit-hypercube encoding (see the module docstring).

    Args:
        n_init: Sobol points before the first model-based proposal; 0 = ``default_n_init(d)``.
        batch_size: designs per ``ask`` (``q``): proposed jointly (sequential greedy for mixed
            and discrete spaces) so they can run on parallel workers.
        num_restarts, raw_samples: acquisition optimisation effort (starting points kept, raw
            points scored to pick them); the defaults are tuned for one CPU thread (raw_samples
            0 = :func:`default_sampling`).
        acquisition: ``"qlognei"`` (noisy log-EI / log-NEHVI) or ``"qlogei"`` (log-EI against the
            best observation / log-EHVI against the observed Pareto front).
        mc_samples: quasi-Monte-Carlo samples of the acquisition function (0 =
            :func:`default_sampling`).
        reference_point: hypervolume reference (several objectives): ``"auto"`` = the env's
            declared one if any, else inferred from the observed front; ``"inferred"`` = always
            inferred.
        output_warping: ``"winsorize"`` clips one objective's bad outliers before the GP sees
            them, ``"none"`` fits the rewards as observed (see the module docstring).
        constraint_handling: with outcome constraints, ``"model"`` fits a GP to each constraint's
            signed violation and weights the acquisition by the probability of feasibility;
            ``"infeasible"`` treats a violating evaluation like any infeasible one.

    After each model-based ask, ``model`` is the fitted GP, ``last_training_data`` the ``(X, Y)``
    it was fitted on (``Y``: the objectives, winsorized, then each modelled constraint's
    violation), ``target_scale`` the ``(mean, std)`` that standardised ``Y`` for the GP (its
    outputs are in those units), and ``reference_point`` the hypervolume reference used.
    """

    single_objective = True
    multi_objective = True
    concurrent_asks = True  # asynchronous scheduling: designs still running are fantasised over

    def __init__(self, problem: Problem, *, seed: int, **hyperparameters: Any) -> None:
        super().__init__(problem, seed=seed)
        hp = SPEC.resolve(hyperparameters)
        self.dim = len(self.space)
        self.n_init = hp["n_init"] or default_n_init(self.dim)
        self.batch_size = hp["batch_size"]
        self.num_restarts = hp["num_restarts"]
        for name in ("raw_samples", "mc_samples"):
            if 0 < hp[name] < MIN_SAMPLES:
                legal = f"0 (default) or {MIN_SAMPLES} and up"
                raise ValueError(f"bo: {name}={hp[name]} is too few; legal values: {legal}")
        raw_default, mc_default = default_sampling(problem.n_objectives)
        self.raw_samples = hp["raw_samples"] or raw_default
        self.acquisition = hp["acquisition"]
        self.mc_samples = hp["mc_samples"] or mc_default
        self.reference = hp["reference_point"]
        self.output_warping = hp["output_warping"]
        self.constraint_handling = hp["constraint_handling"]
        modelled = self.constraint_handling == "model"
        self.constraint_names = tuple(c.name for c in problem.outcome_constraints) if modelled else ()
        self.reference_point: np.ndarray | None = None  # the last one used (multi-objective)
        self.n_objectives = problem.n_objectives
        self._layout = _Layout(self.space)
        self._X: list[np.ndarray] = []
        self._Y: list[np.ndarray] = []  # objective values, NaN where unknown
        self._C: list[np.ndarray] = []  # modelled constraints' violations, NaN where not measured
        self._ok: list[bool] = []  # feasible (and a finite reward)
        self._known: list[bool] = []  # objective value known: feasible, or only violated constraints
        self._seen: set[DesignKey] = set()
        self._sobol: Any = None
        self._sobol_buffer: list[np.ndarray] = []
        self._legal: np.ndarray | None = None  # every legal design's encoding (small discrete spaces)
        self._legal_keys: list[DesignKey] = []
        self.model: Any = None  # the last fitted GP
        self._hyper: dict[str, Any] | None = None  # its hyperparameters (warm start of the next fit)
        self._since_fit = 0  # model-based steps since the hyperparameters were last fitted
        self.last_training_data: tuple[np.ndarray, np.ndarray] | None = None
        self.target_scale: tuple[np.ndarray, np.ndarray] | None = None
        self.stats = {"initial": 0, "model_based": 0, "replaced": 0, "fits": 0}
        self.timing = {"fit_s": 0.0, "acquisition_s": 0.0}

    @classmethod
    def incompatibility(cls, problem: Problem) -> str | None:
        why = super().incompatibility(problem)
        if why is not None:
            return why
        text = [p.name for p in problem.design_space if isinstance(p, Text)]
        if text:
            return f"free-text parameters {text} have no unit-cube encoding"
        return None

    # --- ask/tell ----------------------------------------------------------------------------
    def _ask(self, n: int) -> list[Design]:
        started = len(self._X) + len(self._pending)  # told, and still running (asynchronous runs)
        if started < self.n_init:
            designs = self._sobol_designs(min(n, self.n_init - started))
            self.stats["initial"] += len(designs)
            return designs
        if sum(self._known) < MIN_FEASIBLE:
            designs = self._sobol_designs(n)
            self.stats["initial"] += len(designs)
            return designs
        designs = self._model_based(n)
        self.stats["model_based"] += len(designs)
        return designs

    def _tell(self, designs: list[Design], results: list[EvalResult]) -> None:
        for design, result in zip(designs, results, strict=True):
            reward = np.atleast_1d(np.asarray(result.reward, dtype=np.float64)).reshape(-1)
            ok = (
                bool(result.feasible)
                and reward.shape == (self.n_objectives,)
                and bool(np.all(np.isfinite(reward)))
            )
            value = reward if ok else self._objective_of_violator(result)
            self._X.append(self.space.to_unit(design))
            self._Y.append(value if value is not None else np.full(self.n_objectives, np.nan))
            self._ok.append(ok)
            self._known.append(value is not None)
            if self.constraint_names:
                violations = [result.constraints.get(name, np.nan) for name in self.constraint_names]
                self._C.append(np.array(violations, dtype=np.float64))
            self._seen.add(design_key(design))

    def _objective_of_violator(self, result: EvalResult) -> np.ndarray | None:
        """The objective values of an evaluation that only violated outcome constraints (from its
        metrics), when constraints are modelled: the GP of the objective learns from it too, and
        the constraint GPs say where it is infeasible. None otherwise."""
        if not self.constraint_names:
            return None
        value = self.problem.objective_value(result)
        if value is None:
            return None
        value = np.atleast_1d(np.asarray(value, dtype=np.float64)).reshape(-1)
        ok = value.shape == (self.n_objectives,) and bool(np.all(np.isfinite(value)))
        return value if ok else None

    def finish(self, out: Any) -> dict[str, Any]:
        return {
            "n_init": self.n_init,
            "n_initial": self.stats["initial"],
            "n_model_based": self.stats["model_based"],
            "n_replaced": self.stats["replaced"],
            "fit_s": round(self.timing["fit_s"], 3),
            "acquisition_s": round(self.timing["acquisition_s"], 3),
        }

    # --- training data -----------------------------------------------------------------------
    def training_data(self) -> tuple[np.ndarray, np.ndarray]:
        """The GP's inputs (unit encodings, ``n × d``) and objective targets (rewards, ``n × m``):
        evaluations whose objective is unknown (failed, or infeasible when constraints are not
        modelled) carry the worst known value of each objective, never their penalty."""
        X = np.array(self._X, dtype=np.float64).reshape(-1, self.dim)
        Y = np.array(self._Y, dtype=np.float64).reshape(-1, self.n_objectives)
        known = np.array(self._known, dtype=bool)
        if known.any() and not known.all():
            Y[~known] = Y[known].min(axis=0)
        return X, Y

    def constraint_data(self) -> np.ndarray:
        """The constraint GPs' targets (``n × c`` signed violations): a violation not measured (a
        failed evaluation) carries the largest measured one, so the model learns the region as
        infeasible."""
        C = np.array(self._C, dtype=np.float64).reshape(-1, len(self.constraint_names))
        for j in range(C.shape[1]):
            column = C[:, j]
            finite = np.isfinite(column)
            column[~finite] = column[finite].max() if finite.any() else 1.0
        return C

    def _warp(self, Y: np.ndarray) -> np.ndarray:
        """The GP's targets: one objective's rewards raised to their lower Tukey fence
        (``output_warping="winsorize"``); several objectives unchanged."""
        if self.output_warping == "none" or self.n_objectives > 1:
            return Y
        q1, q3 = np.percentile(Y, [25, 75], axis=0)
        return np.maximum(Y, q1 - 1.5 * (q3 - q1))

    # --- design generation -------------------------------------------------------------------
    def _next_sobol(self) -> np.ndarray:
        """The next point of the agent's scrambled Sobol sequence (drawn in blocks that double it:
        32, 32, 64, 128, …, so the sequence doesn't depend on how many points each ask takes and
        stays balanced where most designs are forbidden and many points are drawn)."""
        from scipy.stats import qmc

        if self._sobol is None:
            self._sobol = qmc.Sobol(self.dim, scramble=True, rng=np.random.default_rng(self.seed))
        if not self._sobol_buffer:
            m = max(5, int(self._sobol.num_generated).bit_length() - 1)
            self._sobol_buffer = list(self._sobol.random_base2(m))[::-1]
        return self._sobol_buffer.pop()

    def _sobol_designs(self, n: int) -> list[Design]:
        """``n`` legal designs not evaluated before, from the scrambled Sobol sequence (random
        legal designs if the sequence keeps hitting forbidden or repeated ones)."""
        out: list[Design] = []
        taken = set(self._seen)
        for _ in range(64 * n):
            design = self.space.from_unit(self._next_sobol(), check=False)
            key = design_key(design)
            if key in taken or self.space.violated(design):
                continue
            out.append(design)
            taken.add(key)
            if len(out) == n:
                return out
        while len(out) < n:
            out.append(self.space.sample(self.rng))
        return out

    def _legal_pool(self, size: int, avoid: set[DesignKey]) -> np.ndarray:
        """Encodings of up to ``size`` legal designs not in ``avoid`` (all of them for small
        discrete spaces, else a scrambled Sobol sample)."""
        if self._layout.enumerable:
            if self._legal is None:
                self._legal = self._layout.enumerate()
                self._legal_keys = self._layout.keys_of(self._legal)
            return self._legal[[k not in avoid for k in self._legal_keys]]
        from scipy.stats import qmc

        sobol = qmc.Sobol(self.dim, scramble=True, rng=np.random.default_rng(self.rng.integers(2**63)))
        rows, taken = [], set(avoid)
        for x in sobol.random_base2(max(int(np.ceil(np.log2(size))), 4)):
            design = self.space.from_unit(x, check=False)
            key = design_key(design)
            if key in taken or self.space.violated(design):
                continue
            taken.add(key)
            rows.append(self.space.to_unit(design))
        return np.array(rows, dtype=np.float64).reshape(-1, self.dim)

    # --- the model-based step ----------------------------------------------------------------
    def _model_based(self, n: int) -> list[Design]:
        import torch

        torch.set_num_threads(1)
        torch_seed = int(self.rng.integers(2**31 - 1))
        with torch.random.fork_rng(), warnings.catch_warnings():
            torch.manual_seed(torch_seed)
            _quiet_botorch_warnings()
            X, Y = self.training_data()
            Y = self._warp(Y)
            if self.constraint_names:
                Y = np.hstack([Y, self.constraint_data()])
            self.last_training_data = (X.copy(), Y.copy())
            # Standardised here rather than by BoTorch's ``Standardize`` outcome transform: the
            # same model, without an untransform in each of the acquisition optimiser's calls.
            mean, std = Y.mean(axis=0), Y.std(axis=0)
            std[~(std > 1e-12)] = 1.0
            self.target_scale = (mean, std)
            tX = torch.as_tensor(X, dtype=torch.float64)
            tY = torch.as_tensor((Y - mean) / std, dtype=torch.float64)
            start = time.perf_counter()
            self.model = self._fit(tX, tY)
            fitted = time.perf_counter()
            acqf = self._acquisition_function(self.model, tX, tY, n)
            if self._pending:  # asynchronous: designs still running are fantasised (X_pending)
                running = np.array([self.space.to_unit(d) for d in self._pending])
                acqf = self._with_pending(acqf, torch.as_tensor(running, dtype=torch.float64))
            candidates = self._optimize(acqf, n)
            designs = self._repair(acqf, candidates, n)
            self.timing["fit_s"] += fitted - start
            self.timing["acquisition_s"] += time.perf_counter() - fitted
            return designs

    def _fit(self, X: Any, Y: Any) -> Any:
        """A GP of every target column (objectives, then constraint violations; standardised):
        one output, or a batch of independent ones with their own hyperparameters."""
        import torch
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import MixedSingleTaskGP, SingleTaskGP
        from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
        from gpytorch.constraints import GreaterThan
        from gpytorch.likelihoods import GaussianLikelihood
        from gpytorch.mlls import ExactMarginalLogLikelihood
        from gpytorch.priors import GammaPrior

        cat_dims = list(self._layout.cat_dims)
        if cat_dims:
            model = MixedSingleTaskGP(X, Y, cat_dims=cat_dims, outcome_transform=None)
        elif self.n_objectives == 1:
            batch = torch.Size([Y.shape[-1]]) if Y.shape[-1] > 1 else torch.Size()
            model = SingleTaskGP(
                X,
                Y,
                covar_module=get_covar_module_with_dim_scaled_prior(
                    ard_num_dims=self.dim, batch_shape=batch, use_rbf_kernel=False
                ),
                likelihood=GaussianLikelihood(
                    noise_prior=GammaPrior(*NOISE_PRIOR),
                    noise_constraint=GreaterThan(MIN_NOISE),
                    batch_shape=batch,
                ),
                outcome_transform=None,
            )
        else:
            model = SingleTaskGP(X, Y, outcome_transform=None)
        reused = 0
        if self._hyper is not None:  # warm start: the previous fit's hyperparameters
            with torch.no_grad():
                for name, value in model.named_parameters():
                    old = self._hyper.get(name)
                    if old is not None and old.shape == value.shape:
                        value.copy_(old)
                        reused += 1
        self._since_fit += 1
        if reused < len(list(model.parameters())) or self._since_fit >= REFIT_EVERY:
            options = FIT_OPTIONS if Y.shape[-1] == 1 else BATCH_FIT_OPTIONS
            fit_gpytorch_mll(
                ExactMarginalLogLikelihood(model.likelihood, model), optimizer_kwargs={"options": options}
            )
            self._hyper = {name: value.detach().clone() for name, value in model.named_parameters()}
            self.stats["fits"] += 1
            self._since_fit = 0
        model.eval()
        return model

    def _feasibility(self) -> list[Any]:
        """BoTorch's Monte-Carlo constraints, one per modelled outcome constraint: the sampled
        violation (standardised, column ``m + j``) minus the standardised zero; ≤ 0 feasible."""
        assert self.target_scale is not None
        mean, std = self.target_scale
        m = self.n_objectives
        return [
            _Violation(m + j, float(-mean[m + j] / std[m + j])) for j in range(len(self.constraint_names))
        ]

    def _acquisition_function(self, model: Any, X: Any, Y: Any, q: int = 1) -> Any:
        import torch
        from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
        from botorch.acquisition.objective import GenericMCObjective
        from botorch.sampling import SobolQMCNormalSampler

        sampler = SobolQMCNormalSampler(sample_shape=torch.Size([self.mc_samples]))
        ok = torch.as_tensor(np.array(self._ok, dtype=bool))
        m = self.n_objectives
        constrained = bool(self.constraint_names)
        feasibility = self._feasibility() if constrained else None
        if m == 1:
            from botorch.acquisition.analytic import LogConstrainedExpectedImprovement, LogExpectedImprovement
            from botorch.acquisition.logei import qLogExpectedImprovement, qLogNoisyExpectedImprovement

            acquisition = self.acquisition
            if acquisition == "auto":  # analytic where it was measured to win (see the module docstring)
                acquisition = "qlognei" if self._layout.cat_dims else "logei"
            objective = GenericMCObjective(_first_output) if constrained else None
            if acquisition == "qlognei":
                return qLogNoisyExpectedImprovement(
                    model,
                    X_baseline=X,
                    sampler=sampler,
                    objective=objective,
                    constraints=feasibility,
                    prune_baseline=True,
                )
            # the incumbent: the best feasible observation (none yet: the worst known value, so
            # the probability of feasibility leads)
            best_f = Y[ok, 0].max() if bool(ok.any()) else Y[:, 0].min()
            if acquisition == "logei" and q == 1:
                if not constrained:
                    return LogExpectedImprovement(model, best_f=best_f)
                bounds = {v.index: (None, v.threshold) for v in feasibility or []}
                return LogConstrainedExpectedImprovement(
                    model, best_f=best_f, objective_index=0, constraints=bounds
                )
            return qLogExpectedImprovement(
                model, best_f=best_f, sampler=sampler, objective=objective, constraints=feasibility
            )
        from botorch.acquisition.multi_objective.logei import (
            qLogExpectedHypervolumeImprovement,
            qLogNoisyExpectedHypervolumeImprovement,
        )
        from botorch.utils.multi_objective.box_decompositions import FastNondominatedPartitioning
        from botorch.utils.multi_objective.hypervolume import infer_reference_point
        from botorch.utils.multi_objective.pareto import is_non_dominated

        assert self.target_scale is not None
        mean, std = (torch.as_tensor(a[:m]) for a in self.target_scale)
        objectives = Y[:, :m]
        front = objectives[ok] if bool(ok.any()) else objectives
        declared = self.problem.reference_point
        if self.reference == "auto" and declared is not None:
            ref_point = (torch.as_tensor(np.asarray(declared, dtype=np.float64)) - mean) / std
        else:
            ref_point = infer_reference_point(front[is_non_dominated(front)])
        self.reference_point = (ref_point * std + mean).numpy().copy()
        objective = IdentityMCMultiOutputObjective(outcomes=list(range(m))) if constrained else None
        acquisition = self.acquisition
        if acquisition == "auto":  # as for one objective: the observed front on real spaces
            acquisition = "qlognei" if self._layout.cat_dims else "qlogei"
        if acquisition == "qlognei":
            return qLogNoisyExpectedHypervolumeImprovement(
                model,
                ref_point=ref_point,
                X_baseline=X,
                sampler=sampler,
                objective=objective,
                constraints=feasibility,
                prune_baseline=True,
            )
        partitioning = FastNondominatedPartitioning(ref_point=ref_point, Y=front)
        return qLogExpectedHypervolumeImprovement(
            model,
            ref_point=ref_point,
            partitioning=partitioning,
            sampler=sampler,
            objective=objective,
            constraints=feasibility,
        )

    def _with_pending(self, acqf: Any, X_pending: Any) -> Any:
        """``acqf`` conditioned on designs already in the batch: analytic log-EI can't be, so it
        becomes its Monte-Carlo counterpart ``qLogExpectedImprovement`` with the same incumbent
        (and the same constraints)."""
        import torch
        from botorch.acquisition.analytic import LogConstrainedExpectedImprovement, LogExpectedImprovement
        from botorch.acquisition.logei import qLogExpectedImprovement
        from botorch.acquisition.objective import GenericMCObjective
        from botorch.sampling import SobolQMCNormalSampler

        if isinstance(acqf, LogExpectedImprovement | LogConstrainedExpectedImprovement):
            sampler = SobolQMCNormalSampler(sample_shape=torch.Size([self.mc_samples]))
            constrained = isinstance(acqf, LogConstrainedExpectedImprovement)
            return qLogExpectedImprovement(
                acqf.model,
                best_f=acqf.best_f,
                sampler=sampler,
                X_pending=X_pending,
                objective=GenericMCObjective(_first_output) if constrained else None,
                constraints=self._feasibility() if constrained else None,
            )
        acqf.set_X_pending(X_pending)
        return acqf

    def _optimize(self, acqf: Any, q: int) -> np.ndarray:
        """``q`` encodings maximising ``acqf`` over legal values (see the module docstring)."""
        import torch
        from botorch.optim import optimize_acqf, optimize_acqf_discrete
        from botorch.optim.optimize_mixed import optimize_acqf_mixed_alternating

        layout = self._layout
        if layout.enumerable:
            choices = self._legal_pool(0, self._seen)
            if len(choices) == 0:  # every legal design was evaluated: repeats are all that's left
                return np.array([self.space.to_unit(self.space.sample(self.rng)) for _ in range(q)])
            cand, _ = optimize_acqf_discrete(
                acqf, q=min(q, len(choices)), choices=torch.as_tensor(choices), unique=True
            )
            return cand.detach().numpy()
        bounds = torch.as_tensor(layout.bounds, dtype=torch.float64)
        common = dict(
            q=q,
            num_restarts=self.num_restarts,
            raw_samples=self.raw_samples,
            fixed_features=dict(layout.fixed) or None,
        )
        if not layout.discrete_dims and not layout.cat_dims:
            # BoTorch's sample_around_best reads an acquisition's constraints as callables; the
            # analytic constrained log-EI keeps them as a dict of bounds
            analytic_constraints = isinstance(getattr(acqf, "constraints", None), dict)
            options = {
                k: v for k, v in ACQF_OPTIONS.items() if k != "sample_around_best" or not analytic_constraints
            }
            cand, _ = optimize_acqf(acqf, bounds=bounds, options=options, **common)
        else:
            cand, _ = optimize_acqf_mixed_alternating(
                acqf,
                bounds=bounds,
                discrete_dims=layout.discrete_dims or None,
                cat_dims=layout.cat_dims or None,
                options=layout.mixed_options,
                **common,
            )
        return cand.detach().numpy().reshape(-1, self.dim)

    def _repair(self, acqf: Any, candidates: np.ndarray, n: int) -> list[Design]:
        """Decode; replace forbidden, repeated or duplicate proposals from a legal Sobol pool."""
        import torch
        from botorch.optim import optimize_acqf_discrete

        designs: list[Design] = []
        taken = set(self._seen) | {design_key(d) for d in self._pending}
        for x in candidates:
            design = self.space.from_unit(x, check=False)
            key = design_key(design)
            if key in taken or self.space.violated(design):
                continue
            designs.append(design)
            taken.add(key)
        missing = min(n, max(len(candidates), 1)) - len(designs)
        if missing <= 0:
            return designs
        self.stats["replaced"] += missing
        pool = self._legal_pool(self.raw_samples, taken)
        if len(pool) == 0:
            return designs + [self.space.sample(self.rng) for _ in range(missing)]
        pending = [self.space.to_unit(d) for d in [*self._pending, *designs]]
        if designs:  # conditioned on the batch's designs too (and, asynchronous, on those running)
            acqf = self._with_pending(acqf, torch.as_tensor(np.array(pending)))
        picks, _ = optimize_acqf_discrete(
            acqf, q=min(missing, len(pool)), choices=torch.as_tensor(pool), unique=True
        )
        designs += [self.space.from_unit(x, check=False) for x in picks.detach().numpy()]
        while len(designs) < min(n, len(candidates)):
            designs.append(self.space.sample(self.rng))
        return designs


class _Layout:
    """How each parameter of a design space appears to BoTorch in the unit encoding."""

    def __init__(self, space: Any) -> None:
        self.space = space
        d = len(space)
        self.bounds = np.vstack([np.zeros(d), np.ones(d)])
        self.discrete_dims: dict[int, list[float]] = {}
        self.cat_dims: dict[int, list[float]] = {}
        self.fixed: dict[int, float] = {}
        for i, p in enumerate(space):
            if isinstance(p, Real):
                continue
            if isinstance(p, Integer) and p.n_values > MAX_LISTED_VALUES:
                continue  # relaxed to a real; from_unit decodes to the bin
            values = sorted({p.to_unit(v) for v in p.values_list()})
            self.bounds[:, i] = values[0], values[-1]
            if len(values) == 1:
                self.fixed[i] = values[0]
            elif isinstance(p, Categorical):
                self.cat_dims[i] = values
            else:
                self.discrete_dims[i] = values
        # With only categorical parameters free, BoTorch's default start (optimising a continuous
        # relaxation) sees a flat acquisition: a categorical kernel finds every relaxed point
        # equally unlike the data. Start from rounded Sobol points instead.
        free = [i for i in range(d) if i not in self.fixed]
        only_categorical = bool(free) and all(i in self.cat_dims for i in free)
        self.mixed_options = {"initialization_strategy": "random"} if only_categorical else None
        size = space.size
        self.enumerable = size is not None and size <= MAX_ENUMERATE

    def enumerate(self) -> np.ndarray:
        """The encodings of every legal design (conditions and constraints applied)."""
        import itertools

        rows, seen = [], set()
        for values in itertools.product(*(p.values_list() for p in self.space)):
            design = self.space.validate(dict(zip(self.space.names, values, strict=True)), check=False)
            key = design_key(design)
            if key in seen or self.space.violated(design):
                continue
            seen.add(key)
            rows.append(self.space.to_unit(design))
        return np.array(rows, dtype=np.float64).reshape(-1, len(self.space))

    def keys_of(self, encodings: np.ndarray) -> list[DesignKey]:
        return [design_key(self.space.from_unit(x, check=False)) for x in encodings]


class _Violation:
    """One outcome constraint for BoTorch's Monte-Carlo acquisition functions: samples ``Z`` →
    the sampled standardised violation minus ``threshold`` (≤ 0 feasible). A class, not a
    closure, so the index and threshold are plain attributes (and the analytic form reads them)."""

    def __init__(self, index: int, threshold: float) -> None:
        self.index = index
        self.threshold = threshold

    def __call__(self, Z: Any) -> Any:
        return Z[..., self.index] - self.threshold


def _first_output(Z: Any, X: Any = None) -> Any:
    """The objective among a constrained model's outputs (column 0)."""
    return Z[..., 0]


def _quiet_botorch_warnings() -> None:
    """Inside a ``warnings.catch_warnings()`` block: silence BoTorch's routine numerical notes
    (optimiser restarts, jitter added to Cholesky factors) that say nothing actionable to a user."""
    from botorch.exceptions.warnings import InputDataWarning, NumericsWarning, OptimizationWarning
    from gpytorch.utils.warnings import NumericalWarning

    for category in (OptimizationWarning, NumericalWarning, NumericsWarning, InputDataWarning):
        warnings.simplefilter("ignore", category)
    warnings.filterwarnings("ignore", message=".*Optimization failed.*")
