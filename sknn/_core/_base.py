"""The estimator layer shared by every sknn estimator.

An sknn estimator is a plain scikit-learn estimator: ``__init__`` stores its
parameters, ``fit`` validates the data, builds a skorch :class:`SknnNet`
(``net_``) around a module from the estimator's ``_build_module`` factory and
trains it. Classification and regression differ only through the task object
in :mod:`sknn._core._task`.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import (
    _check_sample_weight,
    _check_y,
    check_consistent_length,
    check_is_fitted,
)

from sknn._core._architecture import Architecture
from sknn._core._data import EncodedRows, TensorData, as_tensor, encoder_sample, stays_on_disk
from sknn._core._device import fused_optimizer_runs_on, on_device, resolve_device
from sknn._core._distributed import shared_seed
from sknn._core._net import ConvergenceMonitor, FitData, SknnNet, StepSchedule
from sknn._core._network_params import continues_network, record_network_params
from sknn._core._process import cpu_settings, subnormals_kept, torch_threads
from sknn._core._task import ClassificationTask, refuse_missing_targets
from sknn._training._feature import check_combination
from sknn._training._parameters import constraints, owned_by
from sknn._training._plan import (
    AutoRules,
    TrainingPlan,
    encoding_dtype,
    holds_out_validation,
    resolve_dtype,
    resolve_plan,
)
from sknn._training._rows import normalized_weights, validation_split
from sknn._utils._errors import errors_naming, finite_outputs

SOLVERS = {
    "adam": (torch.optim.Adam, {}),
    "adamw": (torch.optim.AdamW, {}),
    "sgd": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
}
CPU = torch.device("cpu")


@dataclass
class _PreparedFit:
    """What a fit trains on, once X and y are checked, encoded and on the device."""

    fit_data: FitData
    task: object
    plan: TrainingPlan
    n_features: int


class BaseNeuralEstimator(BaseEstimator):
    """Fit, partial_fit and prediction plumbing shared by sknn estimators.

    Subclasses define ``_build_module(n_features, task)`` (the
    architecture factory), ``_make_task(y, classes)``, their 'auto' rules
    (``_auto_rules``, data: :class:`~sknn._training._plan.AutoRules`) and the
    public methods.
    """

    # The family's architecture (sknn._core._architecture): its network, input
    # adapter, training features and 'auto' rules. Estimators without one (the
    # autoencoder) define what they need themselves.
    _architecture: Architecture = Architecture()
    # A parameter added after estimators were pickled: what those estimators did.
    clip_grad_norm = None

    @property
    def _family(self) -> str:
        return self._architecture.family

    @property
    def _input(self):
        """The input adapter (sknn._input) of the kind of X seen in fit."""
        return self._architecture.input_for(self)

    @property
    def _features(self) -> tuple:
        """Training features (sknn._training._feature), in FEATURE_ORDER: the fit
        runs their hooks in this order."""
        return self._architecture.features

    @property
    def _auto_rules(self) -> AutoRules:
        return self._architecture.auto_rules
    # From the table of shared parameters (sknn._training._parameters).
    _parameter_constraints: dict = constraints(*owned_by("optimizer", "stopping", "run"))
    # Parameters each fit reads afresh; every other one shapes the network
    # (sknn._core._network_params). Mixins and families add theirs.
    _training_only_params = frozenset({
        "alpha", "solver", "learning_rate_init", "learning_rate", "batch_size", "max_iter",
        "early_stopping", "validation_fraction", "n_iter_no_change", "tol", "random_state",
        "device", "n_threads", "verbose", "warm_start", "callbacks",
    })

    def __sklearn_clone__(self):
        cloned = super().__sklearn_clone__()
        for feature in self._features:
            feature.after_clone(self, cloned)
        return cloned

    # -- hooks for subclasses -------------------------------------------------
    def _build_module(self, n_features: int, task) -> torch.nn.Module:
        return self._architecture.build_module(self, n_features, task)

    def _make_task(self, y, classes=None, sample_weight=None):
        raise NotImplementedError

    def _row_weights(self, y, sample_weight, task):
        """Per-row loss weights before normalization (classifiers add class_weight)."""
        return sample_weight

    def _auto_rules_for_fit(self) -> AutoRules:
        """The family's 'auto' rules for the data just encoded (families whose
        budgets depend on their input, the CNN's and Transformer's, pick them)."""
        return self._architecture.auto_rules_for_fit(self)

    def _configure_plan(self, plan: TrainingPlan) -> TrainingPlan:
        """The plan as the estimator's training features need it (privacy changes it)."""
        for feature in self._features:
            plan = feature.configure(self, plan)
        return plan

    def _training_plan(self, n_train: int, *, validation: bool = False,
                       incremental: bool = False, device=CPU,
                       dtype=torch.float32, seed: int = 0,
                       batch_size: int | None = None) -> TrainingPlan:
        """The plan of a fit on ``n_train`` rows: the one place a fit's values resolve."""
        plan = resolve_plan(self.get_params(deep=False), self._auto_rules_for_fit(),
                            n_train=n_train, validation=validation, incremental=incremental,
                            device=device, dtype=dtype, autocast_dtype=self._autocast_dtype(),
                            seed=seed, batch_size=batch_size)
        return self._configure_plan(plan)

    # -- validation (the architecture's input adapter) -----------------------------
    def _validate_X(self, X, reset: bool):
        """X checked and converted by the estimator's input adapter (``reset``: in fit)."""
        return self._architecture.validate_X(self, X, reset)

    def _encode_X(self, X, sample_weight, fit: bool):
        """Validated X as the rows the network reads; in fit, the encoding is learned."""
        return self._architecture.encode_X(self, X, sample_weight, fit)

    def _adopt_inputs(self, source, X, encoded):
        """Fine-tuning: take over ``source``'s fitted input preprocessing; X encoded by it."""
        return self._architecture.adopt_inputs(self, source, X, encoded)

    def _encode_for_training(self, X, sample_weight, fit: bool):
        """``_encode_X``, with the features' checks before a new fit and their inputs after."""
        if fit:
            for feature in self._features:
                feature.validate(self)
        encoded = self._encode_X(X, sample_weight, fit)
        if fit:
            for feature in self._features:
                encoded = feature.adopt_inputs(self, X, encoded)
        return encoded

    def _encoded_rows(self, X, sample_weight, fit: bool, seed: int = 0):
        """Encoded X; a large memory-mapped X stays on disk, encoded per minibatch.

        In fit, the encoding of such an X is learned from a sample of its rows
        (:func:`sknn._core._data.encoder_sample`; all rows when few).
        """
        if not stays_on_disk(X):
            return self._encode_for_training(X, sample_weight, fit)
        if fit:
            rows = encoder_sample(X.shape, seed)
            self._encode_for_training(X[rows], sample_weight[rows], fit=True)

        def encode(block):  # in training and prediction, which flush subnormals
            with subnormals_kept():  # NumPy obeys the flag too
                return self._encode_X(block, None, fit=False)

        return EncodedRows(X, encode)

    def _validate_X_y(self, X, y, reset: bool):
        name = type(self).__name__
        self._raise_with_name(refuse_missing_targets, y, name)  # np.asarray may refuse y
        X = self._validate_X(X, reset=reset)
        y = self._raise_with_name(
            _check_y, y, multi_output=True, y_numeric=not self._is_classifier(),
            estimator=self,
        )
        self._raise_with_name(check_consistent_length, X, y)
        if not self._is_classifier() and y.dtype.kind not in "biuf":
            raise ValueError(
                f"{name} needs numeric regression targets; got y of dtype {y.dtype}."
            )
        if y.ndim == 2 and y.shape[1] == 1 and self._is_classifier():
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. "
                "Please change the shape of y to (n_samples,), for example using "
                "ravel().", DataConversionWarning, stacklevel=3,
            )
            y = y.ravel()
        return X, y

    def _raise_with_name(self, function, *args, **kwargs):
        """Call ``function``; make sure any input error it raises names us."""
        with errors_naming(type(self).__name__):
            return function(*args, **kwargs)

    def _is_classifier(self) -> bool:
        return self.__sklearn_tags__().estimator_type == "classifier"

    # -- fit ----------------------------------------------------------------------
    def _fit(self, X, y, sample_weight=None, classes=None, incremental=False, task=None):
        """Fit; ``task`` replaces the one ``_make_task`` learns from y (distillation)."""
        continuing = continues_network(self, incremental)
        snapshot = self._snapshot() if continuing else None
        try:
            # What a feature needs (freezing: init_from) only for a new network.
            check_combination(self, self._features, new_network=not continuing)
            with contextlib.ExitStack() as contexts:
                for feature in self._features:
                    contexts.enter_context(feature.fit_context(self))
                return self._fit_unsafe(X, y, sample_weight, classes, incremental,
                                        continuing, task, snapshot)
        except BaseException:
            if continuing:
                self._restore(snapshot)
            else:
                self._discard_fitted_state()
            raise
        finally:
            # No-op without CUDA; on a GPU shared by a search's workers, the
            # blocks this fit freed (its data, activations) go back to them.
            torch.cuda.empty_cache()

    def _fit_unsafe(self, X, y, sample_weight, classes, incremental, continuing,
                    task=None, snapshot=None):
        prepared = self._prepare_fit(X, y, sample_weight, classes, incremental, continuing,
                                     task)
        net, plan = self._train(prepared, continuing, snapshot)
        self._refuse_divergence(net)
        self.task_ = prepared.task
        self.net_ = net
        self._set_fitted_attributes(net, plan)
        self._warn_after_training(net, plan)
        return self

    def _prepare_fit(self, X, y, sample_weight, classes, incremental, continuing,
                     task) -> _PreparedFit:
        """Validate and encode the data, split off the validation rows, put both on the device."""
        name = type(self).__name__
        X, y = self._validate_X_y(X, y, reset=not continuing)
        sample_weight = self._raise_with_name(
            _check_sample_weight, sample_weight, X, dtype=np.float64,
            ensure_non_negative=True,
        )
        seed = shared_seed(self._seed()) + (self.n_iter_ if continuing else 0)
        with torch_threads(self.n_threads):  # the threads that encode large tables
            X = self._encoded_rows(X, sample_weight, fit=not continuing, seed=seed)
        if continuing:
            task = self.task_
        elif task is None:
            task = self._make_task(y, classes, sample_weight)
        y_encoded = task.encode(y, name)
        weights = self._row_weights(y, sample_weight, task)

        # A continued network stays where it is (device_); a new one goes where asked.
        device = self.device_ if continuing else self._resolve_device()
        validation = holds_out_validation(self.early_stopping, len(y), incremental)
        train_idx, valid_idx = (validation_split(y, self.validation_fraction, seed,
                                                 self._is_classifier(), name)
                                if validation else (None, None))
        weight_tensor = normalized_weights(weights, train_idx, name)

        dtype = (self.net_.module_dtype() if continuing else
                 resolve_dtype(self.dtype, X, device, self._auto_rules, self._autocast_dtype()))
        self._check_autocast(dtype, continuing)
        X_data = as_tensor(X, device, dtype)
        y_data = y_encoded.to(device, dtype if y_encoded.is_floating_point() else None)
        w_data = None if weight_tensor is None else weight_tensor.to(device, dtype)
        fit_data = FitData(
            TensorData(X_data, y_data, w_data, indices=train_idx, device=device),
            None if valid_idx is None
            else TensorData(X_data, y_data, w_data, indices=valid_idx, device=device),
        )
        plan = self._training_plan(len(fit_data.train), validation=valid_idx is not None,
                                   incremental=incremental, device=device, dtype=dtype,
                                   seed=seed)
        return _PreparedFit(fit_data, task, plan, n_features=X.shape[1])

    def _train(self, prepared: _PreparedFit, continuing: bool,
               snapshot) -> tuple[SknnNet, TrainingPlan]:
        """The training loop: a new or continued net, retried with half the batch on CUDA OOM.

        Returns the trained net and the plan it trained on.
        """
        fit_data, task, plan = prepared.fit_data, prepared.task, prepared.plan
        while True:
            try:
                with self._torch_context(plan.device, plan.seed, plan.work_rows):
                    if continuing:
                        net = self.net_.use_callbacks(self.callbacks)
                        net.generator.manual_seed(plan.seed)
                        net.autocast_dtype = plan.autocast_dtype
                    else:
                        net = self._make_net(prepared.n_features, task, plan)
                        for feature in self._features:
                            feature.before_training(self, net, fit_data, task)
                    net.batch_size = plan.batch_size
                    self._prepare_callbacks(net, fit_data, plan)
                    for feature in self._features:
                        feature.prepare_net(self, net, fit_data, plan)
                    net.partial_fit(fit_data, epochs=plan.epochs)
                    if not continuing and not net.diverged_:
                        for feature in self._features:
                            feature.after_training(self, net, fit_data, task)
                return net, plan
            except torch.cuda.OutOfMemoryError:
                if plan.batch_size == 1:
                    raise
                if continuing:
                    self._restore(snapshot)
            net = None  # the failed attempt's network and activations can go
            plan = self._training_plan(
                plan.n_train, validation=plan.validation, incremental=plan.incremental,
                device=plan.device, dtype=plan.dtype, seed=plan.seed,
                batch_size=self._halve_batch_after_out_of_memory(plan.batch_size))

    def _refuse_divergence(self, net: SknnNet) -> None:
        if net.diverged_:
            raise ValueError(
                f"{type(self).__name__}: training diverged (the training loss became "
                f"{net.history[-1, 'train_loss']} at epoch {len(net.history)}). "
                "Lower learning_rate_init, scale X (e.g. StandardScaler), or "
                "check X and y for extreme values."
            )

    def _halve_batch_after_out_of_memory(self, batch_size: int) -> int:
        """Free the GPU memory of a failed attempt and warn; return the next batch size.

        Training that runs out of CUDA memory starts again (from the same
        seed, or for ``warm_start`` and ``partial_fit`` from the weights before
        this call) with half the batch size, down to 1.
        """
        gc.collect()
        torch.cuda.empty_cache()
        smaller = batch_size // 2
        warnings.warn(
            f"{type(self).__name__}: CUDA ran out of memory training with batch_size="
            f"{batch_size}; retrying the fit with batch_size={smaller}.",
            UserWarning, stacklevel=6,
        )
        return smaller

    def _make_net(self, n_features, task, plan: TrainingPlan):
        """A new net for ``plan``: its module from ``_build_module``, sknn's callbacks first."""
        optimizer, optimizer_kwargs = SOLVERS[plan.solver]
        module = self._build_module(n_features, task)
        for feature in self._features:
            module = feature.build_module(self, module, task)
        callbacks = [
            ("convergence", ConvergenceMonitor(
                tol=plan.tol, n_iter_no_change=plan.patience,
                monitor_validation=plan.validation,
            )),
            # Also for 'constant': a warm start may switch to a decaying schedule.
            ("lr_schedule", StepSchedule(plan.learning_rate, total_steps=plan.total_steps)),
            *(self.callbacks or []),
            *(pair for feature in self._features for pair in feature.callbacks(self, module)),
        ]
        record_network_params(self)  # what warm starts and sknn.save check against
        net = SknnNet(
            module=module.to(plan.dtype),
            criterion=task.make_criterion(),
            optimizer=optimizer,
            lr=plan.learning_rate_init,
            batch_size=plan.batch_size,
            max_epochs=plan.max_epochs,
            train_split=None,
            callbacks=callbacks,
            verbose=int(self.verbose),
            device=str(plan.device),
            validation_score=task.validation_score,
            generator=torch.Generator().manual_seed(plan.seed),
            autocast_dtype=plan.autocast_dtype,
            **{f"optimizer__{k}": v for k, v in optimizer_kwargs.items()},
            optimizer__weight_decay=plan.alpha,
            optimizer__fused=fused_optimizer_runs_on(plan.device) or None,
        )
        return net.initialize()

    def _prepare_callbacks(self, net, fit_data, plan: TrainingPlan):
        """Point sknn's own callbacks and the optimizer at this call's plan.

        A ``fit`` (warm start included) follows the current ``learning_rate``,
        ``learning_rate_init`` and ``alpha``, as scikit-learn's warm starts
        do, and restarts the schedule over this call's epochs;
        ``partial_fit`` calls train at ``learning_rate_init`` (StepSchedule.hold).
        """
        if not plan.incremental:
            net.lr = plan.learning_rate_init
            for group in net.optimizer_.param_groups:
                group["initial_lr"] = group["lr"] = plan.learning_rate_init
                group["weight_decay"] = plan.alpha
        for _, callback in net.callbacks_:
            if isinstance(callback, ConvergenceMonitor):
                callback.monitor_validation = plan.validation
                callback.n_iter_no_change = plan.patience
                callback.enabled = not plan.incremental
            elif isinstance(callback, StepSchedule) and plan.incremental:
                callback.hold(net, plan.learning_rate_init)
            elif isinstance(callback, StepSchedule):
                steps = plan.epochs * plan.n_batches
                callback.kind, callback.total_steps, callback.step_ = plan.learning_rate, steps, 0

    def _set_fitted_attributes(self, net, plan: TrainingPlan):
        validation = plan.validation
        history = net.history
        self.n_iter_ = len(history)
        self.loss_curve_ = [float(row["train_loss"]) for row in history]
        scores = [row["valid_score"] for row in history if "valid_score" in row]
        if validation:
            self.validation_scores_ = [float(s) for s in scores]
            # The restored epoch is the one with the lowest validation loss.
            losses = [row["valid_loss"] for row in history if "valid_score" in row]
            self.best_validation_score_ = self.validation_scores_[int(np.argmin(losses))]
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = min(self.loss_curve_)
        self.n_outputs_ = self.task_.n_outputs
        if isinstance(self.task_, ClassificationTask):
            self.classes_ = self.task_.classes
        for feature in self._features:
            feature.set_fitted_attributes(self, net)

    def _warn_after_training(self, net, plan: TrainingPlan):
        name = type(self).__name__
        if net.interrupted_:
            warnings.warn(
                f"{name}: fit was interrupted (KeyboardInterrupt) after "
                f"{len(net.history)} epochs; the model keeps the weights trained so "
                "far (the best validation epoch's when early stopping).",
                UserWarning, stacklevel=6,
            )
        elif not plan.incremental and not net.stop_training_ and plan.stops_when_converged:
            # Otherwise the learning-rate schedule, by design, ends training.
            warnings.warn(
                f"{name}: stochastic optimizer reached max_iter={self.max_iter} "
                "epochs and the optimization hasn't converged yet.",
                ConvergenceWarning, stacklevel=6,
            )

    # -- fit helpers --------------------------------------------------------------
    def _snapshot(self):
        state = {k: v for k, v in vars(self).items() if k.endswith("_")}
        module_state = copy.deepcopy(self.net_.module_.state_dict())
        optimizer_state = copy.deepcopy(self.net_.optimizer_.state_dict())
        # What _prepare_callbacks changes: the rate and the schedules.
        schedules = {name: dict(vars(callback)) for name, callback in self.net_.callbacks_
                     if isinstance(callback, StepSchedule)}
        return (state, module_state, optimizer_state, len(self.net_.history),
                self.net_.lr, schedules)

    def _restore(self, snapshot):
        state, module_state, optimizer_state, n_epochs, lr, schedules = snapshot
        self._discard_fitted_state()
        vars(self).update(state)
        self.net_.module_.load_state_dict(module_state)
        self.net_.optimizer_.load_state_dict(optimizer_state)
        del self.net_.history[n_epochs:]
        self.net_.lr = lr
        for name, callback in self.net_.callbacks_:
            if name in schedules:
                vars(callback).clear()
                vars(callback).update(schedules[name])

    def _discard_fitted_state(self):
        for key in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, key)

    def _seed(self) -> int:
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _encoding_dtype(self, X) -> type | None:
        """``np.float32`` when X may be encoded straight to float32 (see
        :func:`~sknn._training._plan.encoding_dtype`); None: as X."""
        return encoding_dtype(self.dtype, X.shape, self._auto_rules, self._autocast_dtype())

    def _autocast_dtype(self) -> torch.dtype | None:
        """The dtype of mixed-precision forward passes; None: the weights' own."""
        return self._architecture.autocast_dtype(self)

    def _check_autocast(self, dtype: torch.dtype, continuing: bool) -> None:
        """Autocast needs float32 weights, also in the network a warm start continues."""
        autocast = self._autocast_dtype()
        if autocast is None or dtype != torch.float64:
            return
        setting = f"autocast={str(autocast).removeprefix('torch.')!r}"
        if continuing:
            raise ValueError(
                f"{type(self).__name__}: {setting} runs on float32 weights; the network "
                "that warm_start continues has float64 weights. Fit with "
                "warm_start=False (or dtype='float32' from the start)."
            )
        raise ValueError(
            f"{type(self).__name__}: {setting} runs on float32 weights; got "
            "dtype='float64'. Use dtype='float32' or 'auto'."
        )

    def _resolve_device(self) -> torch.device:
        return resolve_device(self.device, type(self).__name__)

    @contextlib.contextmanager
    def _torch_context(self, device: torch.device, seed: int | None = None,
                       work_rows: int = 0):
        """Set the process (sknn._core._process) and CUDA device; with a seed, fork the RNG.

        ``work_rows``: the rows a training goes through (see ``default_n_threads``).
        """
        with cpu_settings(self.n_threads, work_rows), on_device(device):
            if seed is None:
                yield
                return
            cuda_devices = [device] if device.type == "cuda" else []
            with torch.random.fork_rng(devices=cuda_devices):
                torch.manual_seed(seed)
                yield

    @property
    def device_(self) -> torch.device:
        """The device the fitted network is on (the ``device`` parameter resolved)."""
        return torch.device(self.net_.device)

    # -- predict ------------------------------------------------------------------
    def _predict_outputs(self, X) -> torch.Tensor:
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        device = self.device_
        with self._torch_context(device):  # its threads and malloc setting encode too
            X = self._encoded_rows(X, None, fit=False)
            data = TensorData(as_tensor(X, device, self.net_.module_dtype()), device=device)
            return finite_outputs(self.net_.predict_outputs(data), type(self).__name__, data.X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return self._architecture.tags(tags)
