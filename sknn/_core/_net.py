"""The skorch net that every sknn estimator builds in ``fit`` (``net_``).

``SknnNet`` is a :class:`skorch.NeuralNet` whose data path and inner loop are
lean: batches are slices of device tensors (:mod:`sknn._core._data`), the epoch loss
is accumulated on the device and read once per epoch, and per-batch history
rows are not kept. Callbacks, history, initialization, ``set_params`` and
device-aware pickling are skorch's own, so skorch callbacks passed by the user
(checkpoints, LR schedulers, gradient clipping, progress bars) work as usual.
"""

from __future__ import annotations

import copy
import math

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EpochTimer, PrintLog

from sknn._core._data import BatchIterator, TensorData
from sknn._core._distributed import DataParallelTraining, process_group
from sknn._core._process import subnormals_flushed
from sknn._core._progress import EpochProgressBar

# Training steps between two sweeps of the weights and optimizer state for
# subnormal floats (see ``flush_subnormals_``): a value decays below float32's
# smallest normal only over hundreds of steps, and a sweep costs about one step.
SUBNORMAL_SWEEP_STEPS = 64

# Input values in one prediction batch: 2,048 rows of 512 features, or about
# 1,300 MNIST images, whose conv activations then stay in the 100s of MB.
PREDICT_BATCH_VALUES = 2**20
# Rows in one prediction batch. glibc serves blocks of 32 MiB and more with fresh
# pages from the kernel at every allocation (zeroed, one page fault per 4 KiB): at
# 8,192 rows a default MLP's hidden activations (4 members x 256 floats a row) are
# exactly 32 MiB, and prediction spent a third of its time faulting pages in. At
# 2,048 rows they are 8 MiB, served from the heap once sknn sets glibc's thresholds
# (sknn/_core/_memory.py), and each batch's fixed cost (a few dozen small
# operations) is spread over twice the rows of 1,024: 1.04-1.14x faster on
# Adult and a 1M-row, 50-column table (benchmarks/RESULTS.md).
PREDICT_BATCH_ROWS = 2048
# Rows from which prediction sets the OpenMP workers' flush of subnormals too:
# setting them costs about 0.2 ms, as much as predicting a few dozen rows.
WORKER_FLUSH_ROWS = 256


class FitData:
    """Training and optional validation sets, handed to ``SknnNet.partial_fit``."""

    def __init__(self, train: TensorData, valid: TensorData | None = None):
        self.train = train
        self.valid = valid


def _overrides(callback: Callback, method: str) -> bool:
    return getattr(type(callback), method) is not getattr(Callback, method)


# The names the estimators give sknn's own callbacks in the nets they build
# (fine-tuning adds freeze_layers): a warm start keeps them, with their state.
SKNN_CALLBACKS = ("convergence", "lr_schedule", "freeze_layers")


class SknnNet(NeuralNet):
    """skorch net with tensor minibatches and a weighted, per-row loss.

    Extra parameters beyond :class:`skorch.NeuralNet`:

    Parameters
    ----------
    validation_score : callable or None
        ``f(outputs, y, weight) -> float`` computed on the validation set every
        epoch and recorded as ``valid_score`` (higher is better).
    clip_grad_norm : float or None
        Clip the global gradient norm to this value before each step.
    generator : torch.Generator or None
        Source of the per-epoch shuffles.
    predict_batch_size : int
        Most rows per forward pass at prediction time; fewer when rows are
        large (images, long series), so that one batch holds at most
        ``PREDICT_BATCH_VALUES`` input values.
    autocast_dtype : torch.dtype or None
        Run every forward pass of the module under :func:`torch.autocast` with
        this dtype (mixed precision); the outputs, the loss, the weights and
        the optimizer stay in the module's dtype.
    adversarial : AdversarialTraining or None
        Train every batch together with its adversarial copy
        (:mod:`sknn._core._adversarial`).
    privacy : DPSGD or None
        Train with DP-SGD (:mod:`sknn._core._privacy`); after each fit,
        ``epsilon_`` is the budget it spent.
    """

    def __init__(self, *args, validation_score=None, clip_grad_norm=None,
                 generator=None, predict_batch_size=PREDICT_BATCH_ROWS, autocast_dtype=None,
                 adversarial=None, privacy=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.validation_score = validation_score
        self.clip_grad_norm = clip_grad_norm
        self.generator = generator
        self.predict_batch_size = predict_batch_size
        self.autocast_dtype = autocast_dtype
        self.adversarial = adversarial
        self.privacy = privacy
        self._parallel = None  # a DataParallelTraining while fit_loop runs in a group
        self._private = None  # DP-SGD's PrivateSteps while a private fit_loop runs
        self._steps_since_sweep = 0

    @property
    def _default_callbacks(self):
        callbacks = [("epoch_timer", EpochTimer())]
        if self.verbose == 1:
            callbacks.append(("progress_bar", EpochProgressBar()))
        elif self.verbose:
            callbacks.append(("print_log", PrintLog()))
        return callbacks

    def use_callbacks(self, callbacks) -> SknnNet:
        """Run ``callbacks`` as the user's callbacks from now on; sknn's own keep their state.

        A warm start or ``partial_fit`` continues this net: it runs the
        callbacks its estimator has now (passed after :func:`sknn.load`, say),
        not those it was built with.
        """
        own = [item for item in self.callbacks
               if isinstance(item, tuple) and item[0] in SKNN_CALLBACKS]
        wanted = own + list(callbacks or [])
        if [id(item) for item in wanted] == [id(item) for item in self.callbacks]:
            return self
        states = {name: dict(vars(callback)) for name, callback in self.callbacks_
                  if name in SKNN_CALLBACKS}
        self.callbacks = wanted
        self.initialize_callbacks()  # which resets sknn's own: put their state back
        for name, callback in self.callbacks_:
            vars(callback).update(states.get(name, {}))
        return self

    def initialize_callbacks(self):
        super().initialize_callbacks()
        self._notify_grad = any(
            _overrides(cb, "on_grad_computed") for _, cb in self.callbacks_
        )
        # Per-batch hooks go only to the callbacks that define them: on small
        # batches, calling every callback's no-op costs more than the step.
        self._batch_hooks = {
            method: [getattr(cb, method) for _, cb in self.callbacks_
                     if _overrides(cb, method)]
            for method in ("on_batch_begin", "on_batch_end")
        }
        return self

    def initialize_criterion(self):
        super().initialize_criterion()
        # The same loss reduced inside its kernel, for batches without row weights.
        self.criterion_mean_ = copy.copy(self.criterion_)
        self.criterion_mean_.reduction = "mean"
        return self

    def _notify_batch(self, method, **kwargs):
        for hook in self._batch_hooks[method]:
            hook(self, **kwargs)

    # -- data ---------------------------------------------------------------
    def get_dataset(self, X, y=None):
        if isinstance(X, TensorData):
            return X
        raise TypeError(
            f"SknnNet expects sknn TensorData, got {type(X).__name__}; "
            "call the sknn estimator rather than its net_ directly."
        )

    def get_iterator(self, dataset, training=False):
        if training and self._private is not None:
            return self._private.batches(dataset)  # Poisson sampling
        if training:
            return BatchIterator(dataset, self.batch_size, shuffle=True,
                                 generator=self.generator)
        row_values = max(math.prod(dataset.X.shape[1:]), 1)
        rows = min(self.predict_batch_size, max(PREDICT_BATCH_VALUES // row_values, 1))
        return BatchIterator(dataset, max(self.batch_size, rows))

    # -- history without a row per batch ------------------------------------
    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        pass

    # -- loss ---------------------------------------------------------------
    def get_loss(self, y_pred, y_true, X=None, training=False, weight=None):
        if y_pred.ndim == 3:
            # Ensemble members (batch, k, outputs) in training: each learns every row.
            n_members = y_pred.shape[1]
            y_pred = y_pred.reshape(-1, y_pred.shape[-1])
            y_true = y_true.repeat_interleave(n_members, dim=0)
            if weight is not None:
                weight = weight.repeat_interleave(n_members)
        if weight is None:
            return self.criterion_mean_(y_pred, y_true)
        # Weights are normalized to mean 1 over the training set, so this is
        # an unbiased estimate of the weighted mean loss.
        return self.row_losses(y_pred, y_true, weight).mean()

    def row_losses(self, y_pred, y_true, weight=None):
        """Each row's loss, times its weight: ``get_loss`` is their mean."""
        per_element = self.criterion_(y_pred, y_true)
        per_row = per_element if per_element.ndim == 1 else per_element.mean(dim=1)
        return per_row if weight is None else per_row * weight

    # -- steps ----------------------------------------------------------------
    def train_step(self, batch, **fit_params):
        X, y, weight = batch
        module, optimizer, scale = self.module_, self.optimizer_, 1.0
        if self._parallel is not None:
            (X, y, weight), scale = self._parallel.share(batch)
            module = self._parallel.module
        rows = len(X)
        if self._private is not None:
            if not rows:
                return self._private.noise_step(self.device)
            optimizer = self._private.optimizer  # clips per row, adds noise
        if self.adversarial is not None:
            X, y, weight = self.adversarial.mixed_batch(self, X, y, weight)
        optimizer.zero_grad(set_to_none=True)
        y_pred = self.forward_pass(module, X)
        loss = self.get_loss(y_pred, y, X=X, training=True, weight=weight)
        if scale != 1.0:
            # This process's part of the batch's mean loss; an empty share
            # (a last batch smaller than the group) still joins DDP's reduction.
            loss = loss * scale if len(X) else y_pred.sum() * 0.0
        loss.backward()
        if self._notify_grad:
            self.notify(
                "on_grad_computed",
                named_parameters=list(self.get_all_learnable_params()),
                batch=batch, training=True,
            )
        # Not skorch's GradientNormClipping: it acts on on_grad_computed, which
        # skorch's step notifies every step with every parameter; this step
        # notifies it only when a callback listens (_notify_grad), so that a fit
        # without one skips the notify, and clipping is this one line instead.
        if self.clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.module_.parameters(), self.clip_grad_norm)
        optimizer.step()
        self._steps_since_sweep = getattr(self, "_steps_since_sweep", 0) + 1
        if self._steps_since_sweep >= SUBNORMAL_SWEEP_STEPS:
            self.flush_subnormals_()
        return {"loss": loss, "y_pred": y_pred[:rows]}

    def validation_step(self, batch, **fit_params):
        X, y, weight = batch
        y_pred = self.forward_pass(self.module_, X)
        loss = self.get_loss(y_pred, y, X=X, training=False, weight=weight)
        return {"loss": loss, "y_pred": y_pred}

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if iterator is None:
            return
        self.module_.train(training)
        # Batch losses stay on the device and are summed once per epoch: no
        # per-batch host sync and no extra kernel on the hot path.
        losses, batch_rows, outputs = [], [], []
        with torch.set_grad_enabled(training):
            for batch in iterator:
                self._notify_batch("on_batch_begin", batch=batch, training=training)
                step = step_fn(batch, **fit_params)
                losses.append(step["loss"].detach())
                batch_rows.append(len(batch[0]))
                if not training:
                    outputs.append(step["y_pred"])
                self._notify_batch("on_batch_end", batch=batch, training=training, **step)
        epoch_loss = self._across_processes(_mean_loss(losses, batch_rows))
        self.history.record(prefix + "_loss", epoch_loss)
        self.history.record(prefix + "_batch_count", len(iterator))
        if not training and self.validation_score is not None:
            y, weight = iterator.data.targets()
            score = self.validation_score(torch.cat(outputs), y, weight)
            self.history.record("valid_score", self._across_processes(score))

    def _across_processes(self, value: float) -> float:
        """``value`` averaged over the processes of a data-parallel fit."""
        return value if self._parallel is None else self._parallel.mean(value)

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """Train for ``epochs`` epochs on a :class:`FitData`.

        Stops early when a callback sets ``net.stop_training_``; records a
        Ctrl-C in ``net.interrupted_`` before skorch swallows it.
        """
        self.check_training_readiness()
        epochs = self.max_epochs if epochs is None else epochs
        # Epochs that a Checkpoint restored when it resumed a crashed fit.
        resumed = getattr(self, "resumed_epochs_", 0)
        epochs = max(epochs - resumed, 0)
        self.resumed_epochs_ = 0
        train, valid = X.train, X.valid
        on_epoch_kwargs = {"dataset_train": train, "dataset_valid": valid}
        self.stop_training_ = False
        self.interrupted_ = False
        self._parallel = self._data_parallel()
        if self.privacy is not None:
            self._private = self.privacy.start(self, len(train), epochs, resumed)
        iterator_train = self.get_iterator(train, training=True)
        iterator_valid = None if valid is None else self.get_iterator(valid)
        try:
            for _ in range(epochs):
                self.notify("on_epoch_begin", **on_epoch_kwargs)
                self.run_single_epoch(iterator_train, training=True, prefix="train",
                                      step_fn=self.train_step)
                with torch.no_grad():
                    self.run_single_epoch(iterator_valid, training=False,
                                          prefix="valid",
                                          step_fn=self.validation_step)
                self.notify("on_epoch_end", **on_epoch_kwargs)
                if self._stop_everywhere():
                    break
        except KeyboardInterrupt:
            self.interrupted_ = True
            raise
        finally:
            self._parallel = None
            if self._private is not None:
                self.epsilon_ = self._private.close()
                self._private = None
        return self

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        with subnormals_flushed():
            super().partial_fit(X, y, classes=classes, **fit_params)
        # After on_train_end, which may have restored the best epoch's weights.
        self.flush_subnormals_()
        return self

    def _data_parallel(self) -> DataParallelTraining | None:
        """DDP training when this process is one of a torch.distributed group."""
        group = process_group()
        if group is None:
            return None
        return DataParallelTraining(self.module_, torch.device(self.device), *group)

    def _stop_everywhere(self) -> bool:
        """Whether to stop; in a group, every process stops when one does."""
        if self._parallel is not None:
            self.stop_training_ = self._parallel.any(self.stop_training_)
        return self.stop_training_

    def flush_subnormals_(self) -> None:
        """Set the weights and optimizer state that are subnormal floats to zero.

        Weights that stop receiving gradient (padded embedding bins, rare
        categories, dead units) decay under weight decay and Adam's moving
        averages until they fall below the type's smallest normal number. On
        many x86 CPUs every operation on such a value takes a slow microcode
        path, and a weight is used by every row of a batch: on an Intel Xeon a
        matrix product with subnormal weights ran 140x slower, and the late
        epochs of a default Adult fit 2-4x slower than its first ones. Training
        runs with subnormal results flushed to zero on the fitting thread and
        its OpenMP workers (:func:`subnormals_flushed`); where the workers
        cannot be reached (an OpenMP runtime other than libgomp) they keep
        their own setting, so this sweep, every ``SUBNORMAL_SWEEP_STEPS`` steps
        and after each fit, zeroes what they leave. A weight below 1.2e-38
        adds nothing to any output, so predictions do not change.
        """
        self._steps_since_sweep = 0
        tensors = list(self.module_.parameters()) + list(self.module_.buffers())
        if getattr(self, "optimizer_", None) is not None:
            tensors += [value for state in self.optimizer_.state.values()
                        for value in state.values() if torch.is_tensor(value)]
        flush_subnormals_(tensors)

    # -- prediction -----------------------------------------------------------
    def module_dtype(self) -> torch.dtype:
        """Floating-point type of the module's parameters."""
        return next(self.module_.parameters()).dtype

    def predict_outputs(self, data: TensorData) -> torch.Tensor:
        """Raw module outputs for every row of ``data``, on the CPU.

        Subnormal results are flushed to zero, as in training: weights of inputs
        that carry no signal decay to tiny (normal) values whose products are
        subnormal, and on many x86 CPUs each of those takes a slow microcode path
        (a default model of a 50-column table predicted 1.7-1.9x faster flushed).
        A product below 1.2e-38 changes no output above that size.
        """
        self.module_.eval()
        outputs = []
        with torch.inference_mode(), subnormals_flushed(workers=len(data) >= WORKER_FLUSH_ROWS):
            for X, _, _ in self.get_iterator(data, training=False):
                outputs.append(self.forward_pass(self.module_, X))
        return torch.cat(outputs).cpu()

    def forward_pass(self, module: torch.nn.Module, X: torch.Tensor) -> torch.Tensor:
        """``module(X)``, under autocast when ``autocast_dtype`` asks for it."""
        if self.autocast_dtype is None:
            return module(X)
        with torch.autocast(device_type=X.device.type, dtype=self.autocast_dtype):
            outputs = module(X)
        return outputs.to(self.module_dtype())


def flush_subnormals_(tensors) -> None:
    """Zero the subnormal values of each floating-point tensor, in place."""
    with torch.no_grad():
        for tensor in tensors:
            if tensor.is_floating_point() and tensor.numel():
                tiny = torch.finfo(tensor.dtype).tiny
                tensor.masked_fill_(tensor.abs() < tiny, 0.0)


def _mean_loss(losses: list[torch.Tensor], batch_rows: list[int]) -> float:
    """Row-weighted mean of per-batch mean losses (float64: exact for float64 nets)."""
    if not losses:
        return math.nan
    stacked = torch.stack(losses).to(torch.float64)
    rows = torch.tensor(batch_rows, dtype=torch.float64, device=stacked.device)
    return float(stacked.dot(rows) / rows.sum())


# Not skorch's EarlyStopping(load_best=True): it stops after ``patience`` epochs
# without an improvement of ``threshold`` and moves its best only on such an
# improvement; scikit-learn's n_iter_no_change/tol (which sknn's parameters are)
# stops after n_iter_no_change + 1 stalled epochs and moves the best on any lower
# loss, so the two stop at other epochs on the same curve. This one also tells a
# diverged fit (net.diverged_), the best epoch, and is switched off for partial_fit.
class ConvergenceMonitor(Callback):
    """Stop when the monitored quantity stalls; keep and restore the best weights.

    With a validation set, stop when ``valid_loss`` has not decreased by
    ``tol`` for ``n_iter_no_change`` epochs and restore the weights of the
    epoch with the lowest one (as HistGradientBoosting's ``scoring='loss'``:
    on a small held-out set the loss is a finer signal than accuracy, whose
    ties keep an early epoch); without one, stop when ``train_loss`` has not
    decreased by ``tol`` for as long. A non-finite
    training loss stops training at once and is recorded in ``net.diverged_``.
    """

    def __init__(self, tol=1e-4, n_iter_no_change=10, monitor_validation=False,
                 enabled=True):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.monitor_validation = monitor_validation
        self.enabled = enabled

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.best_ = math.inf
        self.stalled_epochs_ = 0
        self.best_state_ = None
        self.best_epoch_ = None
        net.diverged_ = False

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        if not math.isfinite(row["train_loss"]):
            net.diverged_ = True
            net.stop_training_ = True
            return
        key = "valid_loss" if self.monitor_validation else "train_loss"
        self._update(net, row[key])

    def _update(self, net, loss):
        if loss > self.best_ - self.tol:
            self.stalled_epochs_ += 1
        else:
            self.stalled_epochs_ = 0
        if loss < self.best_:
            self.best_ = loss
            self.best_epoch_ = len(net.history)
            if self.monitor_validation:
                self.best_state_ = copy.deepcopy(net.module_.state_dict())
        if self.enabled and self.stalled_epochs_ > self.n_iter_no_change:
            net.stop_training_ = True

    def on_train_end(self, net, X=None, y=None, **kwargs):
        if self.best_state_ is not None:
            net.module_.load_state_dict(self.best_state_)
        self.best_state_ = None


# Not skorch's LRScheduler(step_every='batch') over a torch scheduler: that holds a
# torch scheduler object (a LambdaLR's closure, OneCycleLR's own state) which
# sknn's safe files cannot store without pickle; this one's state is three
# numbers, and it restarts over a warm start's epochs and holds the rate for
# partial_fit (hold), which torch's schedulers do not.
class StepSchedule(Callback):
    """Per-batch learning-rate schedule over a fixed number of steps.

    Parameters
    ----------
    kind : {'constant', 'warmup_cosine', 'onecycle'}
        'warmup_cosine': linear warm-up over the first ``warmup_fraction`` of
        the steps, then cosine decay to zero. 'onecycle': cosine rise from
        ``lr / 25`` to ``lr`` over the first 30% of the steps, then cosine
        decay to ``lr / 1e4`` (Smith & Topin 2019).
    total_steps : int
    warmup_fraction : float
    """

    def __init__(self, kind="constant", total_steps=1, warmup_fraction=0.05):
        self.kind = kind
        self.total_steps = total_steps
        self.warmup_fraction = warmup_fraction

    def initialize(self):
        self.step_ = 0
        return self

    def hold(self, net, lr: float) -> None:
        """Train at ``lr`` from now on, for ``partial_fit`` (a fit restarts the schedule).

        partial_fit has no horizon: a decaying schedule over ``max_iter`` epochs
        would reach zero after that many calls (or be there after a fit) and
        stop learning. scikit-learn's partial_fit goes on at its rate too, and
        as there, later partial_fit calls keep the rate the first one set.
        """
        if self.kind == "constant":
            return  # the optimizer's rate, or a user's scheduler's, goes on
        self.kind = "constant"
        for group in net.optimizer_.param_groups:
            group["initial_lr"] = group["lr"] = lr

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.base_lrs_ = [group.get("initial_lr", group["lr"])
                          for group in net.optimizer_.param_groups]
        for group, lr in zip(net.optimizer_.param_groups, self.base_lrs_):
            group["initial_lr"] = lr
        self._apply(net)

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            self.step_ += 1
            self._apply(net)

    def factor(self, step: int) -> float:
        """Multiplier of the initial learning rate at ``step``."""
        progress = min(step / max(self.total_steps, 1), 1.0)
        if self.kind == "warmup_cosine":
            if progress < self.warmup_fraction:
                # min: a warm-up of a fractional number of steps must not overshoot.
                return min((step + 1) / max(self.warmup_fraction * self.total_steps, 1), 1.0)
            rest = (progress - self.warmup_fraction) / (1 - self.warmup_fraction)
            return 0.5 * (1 + math.cos(math.pi * rest))
        if self.kind == "onecycle":
            peak, start, end = 0.3, 1 / 25, 1e-4
            if progress < peak:
                return _cosine_between(start, 1.0, progress / peak)
            return _cosine_between(1.0, end, (progress - peak) / (1 - peak))
        return 1.0

    def _apply(self, net):
        if self.kind == "constant":
            return  # leave the rate to the optimizer and to any user scheduler
        factor = self.factor(self.step_)
        for group, lr in zip(net.optimizer_.param_groups, self.base_lrs_):
            group["lr"] = lr * factor


def _cosine_between(start: float, end: float, fraction: float) -> float:
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * fraction))
