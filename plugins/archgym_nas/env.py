"""``archgym/NASBench201-v0``: NAS-Bench-201's cell space, evaluated by really training the network.

One evaluation builds the NAS-Bench-201 network for the design's cell and trains it for ``epochs``
(the fidelity) with a fixed recipe — SGD with Nesterov momentum 0.9, learning rate 0.0125 annealed to 0
by a per-step cosine schedule over the run, weight decay 5e-4, batch 64, cross-entropy — then
measures validation and test accuracy. Torch runs on one thread; training is deterministic given
``reset(seed=…)``. See docs/env-nasbench201.md.

Two schedules (the constructor argument ``schedule_epochs``):

* ``None`` (default; what the table holds): the cosine runs over the epochs chosen, so every
  fidelity is a complete training run of its own length.
* ``E`` (e.g. 12): the cosine runs over ``E`` epochs whatever the fidelity, so training for ``e``
  epochs is the first ``e`` epochs of the full run — NAS-Bench-201's per-epoch results are such
  prefixes. The fidelity is then ``epochs`` in 1–E (default E) and *continuable*: an evaluation
  keeps a checkpoint (weights, optimizer, data order; tensors only) and a promoted one resumes
  from its lower fidelity's checkpoint, training only the remaining epochs, with the same result
  as training directly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from archgym import Categorical, DesignEnv, DesignSpace, EvalContext, Fidelity, Objective, Objectives
from archgym.env import CONTINUED_FROM
from archgym.spaces import Integer, Reward
from archgym_nas.cell import EDGE_NAMES, OPS, cell_index, cell_string, is_connected, parse_cell_string

RESNET_CELL = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|"
"""NAS-Bench-201's ResNet cell; the space's default design."""

DATASETS = ("digits", "cifar10")
MAX_EPOCHS = 200  # NAS-Bench-201's longest schedule
DEFAULT_EPOCHS = 3
LEARNING_RATE, MOMENTUM, WEIGHT_DECAY = 0.0125, 0.9, 5e-4
SIMULATED_FLOP_RATE = 1e9
"""FLOP/s of one CPU thread training these small networks (the order measured here), for the
simulated clock's cost model under ``schedule_epochs``."""

METRICS = {
    "val_accuracy": "%",
    "test_accuracy": "%",
    "train_loss": "1",
    "params": "count",
    "flops": "MFLOP",
    "synflow_log": "1",
    "train_time_s": "s",
}


class NASBench201(DesignEnv):
    """Pick one op per edge of the NAS-Bench-201 cell; reward = validation accuracy (%).

    Args:
        channels: C, channels of the first stage (NAS-Bench-201: 16).
        n_cells: N, cells per stage (NAS-Bench-201: 5).
        dataset: ``"digits"`` (sklearn's, shipped with sklearn) or ``"cifar10"`` (needs ``data_dir``).
        data_dir: folder with CIFAR-10's python batches (``data_batch_1``…, ``test_batch``).
        resolution: input side in pixels (default 16 for digits, 32 for CIFAR-10).
        max_train: cap on training images (None: all).
        batch_size: SGD mini-batch size.
        schedule_epochs: None (default): the learning-rate schedule spans the epochs of each
            evaluation; an integer E: it spans E epochs, the fidelity is 1–E epochs (default E),
            and a lower fidelity is a prefix of the full run that a higher one continues from its
            checkpoint (see the module docstring). The table backend serves None only.

    Like every env it also takes ``backend=``: ``"table"`` looks the metrics up in the table
    ``python -m archgym_nas.tabulate`` builds from this env at its defaults (microseconds per
    step, no torch; option ``table_dir``, see :mod:`archgym_nas.table`), ``"proxy"`` a learned
    proxy.

    Penalty for a failed evaluation: 0 (the lowest accuracy). Disconnected cells are feasible
    and score chance accuracy (100 / classes) without training, as their output is constant.
    """

    arguments: ClassVar = (
        Integer("channels", 1, 4096),
        Integer("n_cells", 1, 64),
        Categorical("dataset", DATASETS),
        Integer("resolution", 4, 1024),  # two stride-2 reductions need at least 4 pixels
        Integer("max_train", 1, 10**9),
        Integer("batch_size", 1, 65536),
        Integer("schedule_epochs", 1, MAX_EPOCHS),
    )
    simulator_packages: ClassVar = ("torch", "scikit-learn")

    def __init__(
        self,
        *,
        channels: int = 16,
        n_cells: int = 1,
        dataset: str = "digits",
        data_dir: str | None = None,
        resolution: int | None = None,
        max_train: int | None = None,
        batch_size: int = 64,
        schedule_epochs: int | None = None,
    ) -> None:
        if dataset == "cifar10" and not data_dir:
            raise ValueError(
                "data_dir is required for dataset='cifar10' (a folder of CIFAR-10 python "
                "batches: data_batch_1..5, test_batch)"
            )
        if dataset == "digits" and data_dir is not None:
            raise ValueError("data_dir applies only to dataset='cifar10'; legal values for digits: None")
        if resolution is None:
            resolution = 16 if dataset == "digits" else 32
        self.channels, self.n_cells, self.dataset = channels, n_cells, dataset
        self.data_dir, self.resolution, self.max_train = data_dir, resolution, max_train
        self.batch_size, self.schedule_epochs = batch_size, schedule_epochs
        if schedule_epochs is None:  # each fidelity its own complete run: nothing to continue
            fidelity = Fidelity("epochs", 1, MAX_EPOCHS, DEFAULT_EPOCHS, integer=True)
        else:
            fidelity = Fidelity("epochs", 1, schedule_epochs, schedule_epochs, integer=True, continuable=True)
        defaults = parse_cell_string(RESNET_CELL)
        super().__init__(
            design_space=DesignSpace(
                [Categorical(name, OPS, default=op) for name, op in zip(EDGE_NAMES, defaults, strict=True)]
            ),
            metrics=METRICS,
            objective=Objectives([Objective("val_accuracy", "max")], penalty=0.0),
            fidelity=fidelity,
        )
        self._data: Any = None
        self._static: dict[tuple[str, ...], tuple[float, float, float]] = {}

    # --- free statistics -------------------------------------------------------------------------
    statistic_names = ("params", "flops", "synflow_log", "connected", *(f"n_{op}" for op in OPS))
    """Free statistics (FBNetV3's "free" architecture statistics): parameter count, MFLOPs and
    log(1 + SynFlow) at a fixed initialisation — the same numbers the ``params``, ``flops`` and
    ``synflow_log`` metrics report — whether the cell connects its input to its output, and how
    many edges carry each op. None needs training."""

    def statistics(self, design: Mapping[str, Any]) -> dict[str, float]:
        """The design's free statistics: looked up in the table where this env is the table's
        configuration (microseconds), else computed with torch (a model built, one forward pass
        for FLOPs, one backward for SynFlow; cached per cell)."""
        ops = tuple(design[name] for name in EDGE_NAMES)
        static = self._table_statistics()
        if static is not None:
            index = cell_index(ops)
            params, flops, synflow = (float(static[m][index]) for m in ("params", "flops", "synflow_log"))
        else:
            import torch

            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                data = self._load()
                params, flops, synflow = self._static_metrics(ops, self._build(ops, data), data)
        return {
            "params": params,
            "flops": flops,
            "synflow_log": synflow,
            "connected": float(is_connected(ops)),
        } | {f"n_{op}": float(ops.count(op)) for op in OPS}

    def _table_statistics(self) -> dict[str, Any] | None:
        """The table's per-cell static metrics if this env is the table's configuration."""
        if not hasattr(self, "_table_static"):
            self._table_static = None
            try:
                from archgym_nas import table

                made = table.load()
            except (OSError, ValueError):  # no table here: compute instead
                return None
            if all(getattr(self, k, None) == v for k, v in made.card["env_kwargs"].items()):
                self._table_static = made.static
        return self._table_static

    # --- cell strings ----------------------------------------------------------------------------
    @staticmethod
    def design_from_cell_string(text: str) -> dict[str, str]:
        """The design (edge name → op) of a NAS-Bench-201 cell string, for ``env.step``."""
        return dict(zip(EDGE_NAMES, parse_cell_string(text), strict=True))

    @staticmethod
    def cell_string(design: Mapping[str, Any]) -> str:
        """The NAS-Bench-201 cell string of a design."""
        return cell_string(design)

    def step(self, action: dict[str, Any]) -> tuple[np.ndarray, Reward, bool, bool, dict[str, Any]]:
        """A :class:`DesignEnv` step whose ``info`` also carries ``cell`` (the cell string) and,
        with the table backend, ``table``: the table seed that answered and the seed mean."""
        obs, reward, terminated, truncated, info = super().step(action)
        info["cell"] = cell_string(info["design"])
        if self.backend == "table":
            answer = self.active_backend.last_answer()
            if answer is not None:
                info["table"] = answer
        return obs, reward, terminated, truncated, info

    # --- evaluation ------------------------------------------------------------------------------
    def _load(self) -> Any:
        if self._data is None:
            from archgym_nas import data

            if self.dataset == "digits":
                self._data = data.load_digits(self.resolution, self.max_train)
            else:
                self._data = data.load_cifar10(self.data_dir, self.resolution, self.max_train)
        return self._data

    def simulated_duration(
        self, design: Mapping[str, Any], fidelity: Any, metrics: Mapping[str, float]
    ) -> float:
        """The simulated clock charges an evaluation its training time (``train_time_s``: measured
        live, or recorded in the table); one that failed before training costs 0 s.

        With ``schedule_epochs`` (the multi-fidelity form) it charges a cost model instead, so
        asynchronous runs on the simulated clock are exactly reproducible: the epochs this
        evaluation trained (from its checkpoint's on) × training images × 3 × the forward pass's
        FLOPs, at :data:`SIMULATED_FLOP_RATE`."""
        if self.schedule_epochs is not None and self.active_backend is None:
            flops = float(metrics.get("flops", math.nan))
            if (
                fidelity is None
                or not math.isfinite(flops)
                or not is_connected(tuple(design[name] for name in EDGE_NAMES))
            ):
                return 0.0
            epochs = float(fidelity) - float(metrics.get(CONTINUED_FROM) or 0.0)
            return epochs * len(self._load().y_train) * 3.0 * flops * 1e6 / SIMULATED_FLOP_RATE
        seconds = float(metrics.get("train_time_s", math.nan))
        return seconds if math.isfinite(seconds) and seconds >= 0 else 0.0

    def evaluate(self, design: Mapping[str, Any], context: EvalContext) -> dict[str, float]:
        import torch

        ops = tuple(design[name] for name in EDGE_NAMES)
        data = self._load()
        epochs = int(context.fidelity if context.fidelity is not None else self.fidelity.default)
        seed = int(context.rng.integers(2**31 - 1))
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = self._build(ops, data)
                params, flops, synflow = self._static_metrics(ops, model, data)
                start = time.perf_counter()
                if is_connected(ops) and self.schedule_epochs is not None:
                    trainer = _Trainer(model, data, self.batch_size, seed, self.schedule_epochs)
                    state = context.resume_state(design)
                    if state is not None and not trainer.load(state):  # another recipe's: retrain
                        context.continued_from, context.checkpoint_missing = None, True
                        torch.manual_seed(seed)
                        model = self._build(ops, data)
                        trainer = _Trainer(model, data, self.batch_size, seed, self.schedule_epochs)
                    train_loss = trainer.train_to(epochs)
                    context.keep_state(design, trainer.state())
                    _recalibrate_batchnorm(model, trainer.x)
                    val_acc = _accuracy(model, data.x_val, data.y_val)
                    test_acc = _accuracy(model, data.x_test, data.y_test)
                elif is_connected(ops):
                    train_loss = _train(model, data, epochs, self.batch_size, seed)
                    val_acc = _accuracy(model, data.x_val, data.y_val)
                    test_acc = _accuracy(model, data.x_test, data.y_test)
                else:  # constant output whatever the input: chance, nothing to learn
                    train_loss = math.log(data.n_classes)
                    val_acc = test_acc = 100.0 / data.n_classes
                train_time = time.perf_counter() - start
        finally:
            torch.set_num_threads(threads)
        return {
            "val_accuracy": val_acc,
            "test_accuracy": test_acc,
            "train_loss": train_loss,
            "params": params,
            "flops": flops,
            "synflow_log": synflow,
            "train_time_s": train_time,
        }

    def _build(self, ops: tuple[str, ...], data: Any) -> Any:
        from archgym_nas.model import Network

        return Network(
            ops,
            channels=self.channels,
            n_cells=self.n_cells,
            in_channels=data.x_train.shape[1],
            n_classes=data.n_classes,
        )

    def _static_metrics(self, ops: tuple[str, ...], model: Any, data: Any) -> tuple[float, float, float]:
        """Parameter count, MFLOPs of one image's forward pass, and log(1 + synflow) at a fixed
        initialisation — all independent of training, so cached per cell."""
        if ops not in self._static:
            import copy

            import torch
            from torch.utils.flop_counter import FlopCounterMode

            params = float(sum(p.numel() for p in model.parameters()))
            probe = copy.deepcopy(model).eval()
            x = torch.from_numpy(data.x_train[:1])
            with FlopCounterMode(display=False) as counter, torch.no_grad():
                probe(x)
            flops = counter.get_total_flops() / 1e6
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                probe = self._build(ops, data).double().eval()
            self._static[ops] = (params, float(flops), _synflow(probe, x))
        return self._static[ops]


def _synflow(model: Any, x: Any) -> float:
    """SynFlow (Tanaka et al. 2020; zero-cost NAS, Abdelfattah et al. 2021): Σ |θ ⊙ ∂R/∂θ| with
    R the summed output of the network with |θ| on an all-ones input. Reported as log(1 + score)."""
    import torch

    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    model.zero_grad()
    out = model(torch.ones_like(x, dtype=torch.float64))
    out.sum().backward()
    with torch.no_grad():
        score = sum(float((p * p.grad).abs().sum()) for p in model.parameters() if p.grad is not None)
    return math.log1p(score)


def _train(model: Any, data: Any, epochs: int, batch_size: int, seed: int) -> float:
    """The fixed recipe; returns the mean training loss of the last epoch."""
    import torch
    import torch.nn.functional as F

    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    steps_per_epoch = math.ceil(len(y) / batch_size)
    opt = torch.optim.SGD(
        model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM, nesterov=True, weight_decay=WEIGHT_DECAY
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    order = torch.Generator().manual_seed(seed)
    model.train()
    loss_sum = 0.0
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=order)
        loss_sum, seen = 0.0, 0
        for k in range(0, len(y), batch_size):
            idx = perm[k : k + batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            seen += len(idx)
        loss_sum /= seen
    _recalibrate_batchnorm(model, x)
    return loss_sum


class _Trainer:
    """The fixed recipe with the cosine schedule over ``schedule_epochs`` epochs (the learning
    rate of step t in closed form, so it does not depend on where training resumed): training to
    e epochs is a prefix of training to any later epoch, and :meth:`state`/:meth:`load` carry it
    across evaluations (weights, optimizer momentum, the data-order generator, epochs done, the
    seed — tensors and numbers only)."""

    def __init__(self, model: Any, data: Any, batch_size: int, seed: int, schedule_epochs: int) -> None:
        import torch

        self.model, self.batch_size, self.seed = model, batch_size, seed
        self.x, self.y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
        self.steps_per_epoch = math.ceil(len(self.y) / batch_size)
        self.total_steps = schedule_epochs * self.steps_per_epoch
        self.opt = torch.optim.SGD(
            model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM, nesterov=True, weight_decay=WEIGHT_DECAY
        )
        self.order = torch.Generator().manual_seed(seed)
        self.epochs_done = 0
        self.last_loss = math.nan

    def lr(self, step: int) -> float:
        return 0.5 * LEARNING_RATE * (1.0 + math.cos(math.pi * step / self.total_steps))

    def train_to(self, epochs: int) -> float:
        """Train from :attr:`epochs_done` to ``epochs``; the mean training loss of the last epoch."""
        import torch
        import torch.nn.functional as F

        x, y, model, opt = self.x, self.y, self.model, self.opt
        model.train()
        for epoch in range(self.epochs_done, epochs):
            perm = torch.randperm(len(y), generator=self.order)
            loss_sum, seen = 0.0, 0
            for i, k in enumerate(range(0, len(y), self.batch_size)):
                for group in opt.param_groups:
                    group["lr"] = self.lr(epoch * self.steps_per_epoch + i)
                idx = perm[k : k + self.batch_size]
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                loss_sum += loss.item() * len(idx)
                seen += len(idx)
            self.last_loss = loss_sum / seen
        self.epochs_done = max(self.epochs_done, epochs)
        return self.last_loss

    def state(self) -> dict[str, Any]:
        return {
            "format": "archgym-nas-training/1",
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "order": self.order.get_state(),
            "epochs_done": self.epochs_done,
            "last_loss": self.last_loss,
            "seed": self.seed,
            "total_steps": self.total_steps,
        }

    def load(self, state: Mapping[str, Any]) -> bool:
        """Resume from ``state``; False (nothing changed) if another recipe or schedule made it."""
        if state.get("format") != "archgym-nas-training/1" or state.get("total_steps") != self.total_steps:
            return False
        try:
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["optimizer"])
            self.order.set_state(state["order"])
        except (KeyError, RuntimeError, ValueError, TypeError):
            return False  # another architecture's weights (a hash collision, a hand-made file)
        self.epochs_done, self.last_loss = int(state["epochs_done"]), float(state["last_loss"])
        self.seed = int(state["seed"])
        return True


def _recalibrate_batchnorm(model: Any, x: Any, batch_size: int = 256) -> None:
    """Replace BatchNorm running statistics by exact averages over the training set under the
    final weights ("precise BN"): after a few dozen steps, momentum-averaged statistics still
    remember the initial weights, so evaluation would measure stale statistics."""
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the batches below
    model.train()
    with torch.no_grad():
        for k in range(0, len(x), batch_size):
            model(x[k : k + batch_size])


def _accuracy(model: Any, x_np: np.ndarray, y_np: np.ndarray) -> float:
    import torch

    model.eval()
    correct = 0
    with torch.no_grad():
        for k in range(0, len(y_np), 512):
            pred = model(torch.from_numpy(x_np[k : k + 512])).argmax(dim=1)
            correct += int((pred == torch.from_numpy(y_np[k : k + 512])).sum())
    return 100.0 * correct / len(y_np)
