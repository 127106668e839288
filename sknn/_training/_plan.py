"""The training plan: what a fit derives from its parameters and data, resolved once.

A fit's batch size, batches per epoch, epochs, schedule length, patience,
dtype, device and seed are computed here, in one function
(:func:`resolve_plan`), into one frozen :class:`TrainingPlan` that the
estimator, the net, its callbacks and the training features read. Nothing
reads a raw parameter again once the plan holds its resolved value.

The 'auto' rules of each family are data (:class:`AutoRules`: a batch rule,
an epoch budget, patience, the float64 limit); the arithmetic that applies
them is written once, here.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

# A patience that never stops training (a decaying learning-rate schedule ends it).
NEVER = sys.maxsize
# Hold out a validation set by default once there is enough data for one to be
# informative (scikit-learn's estimator checks use smaller data and stop on the
# training loss, as scikit-learn's MLP).
AUTO_EARLY_STOPPING_MIN_SAMPLES = 1_000


@dataclass(frozen=True)
class BatchRule:
    """``batch_size='auto'``: ``n_train // divisor`` rows within ``[low, high]``.

    Without a divisor, ``high`` rows. Never more than the training rows.
    ``equal_batches``: the epoch's batches are then made of (nearly) equal
    size, so that no last batch is a few rows.

    Examples
    --------
    >>> BatchRule(16, 64, divisor=10).rows(500)
    50
    >>> BatchRule(256, 256).rows(100)
    100
    """

    low: int
    high: int
    divisor: int | None = None
    equal_batches: bool = False

    def rows(self, n_train: int) -> int:
        wanted = self.high if self.divisor is None else n_train // self.divisor
        size = min(n_train, max(self.low, min(self.high, wanted)))
        if self.equal_batches:
            size = -(-n_train // -(-n_train // size))
        return size


@dataclass(frozen=True)
class EpochBudget:
    """``max_iter='auto'``: epochs that train on a budget, within ``bounds``.

    The budget is ``rows`` training rows in all, or ``steps`` minibatch
    steps; ``full_batch_steps`` counts a step as ``batch_size`` rows (the
    epoch's last, partial batch as a part of one). ``few_rows_cap``
    ``(n_rows, epochs)``: on fewer than ``n_rows`` training rows, at most
    ``epochs`` epochs.

    Examples
    --------
    >>> EpochBudget(bounds=(3, 50), rows=400_000).epochs(n_train=29_305, batch_size=128)
    14
    >>> EpochBudget(bounds=(10, 200), steps=2000).epochs(n_train=1_000, batch_size=100)
    200
    """

    bounds: tuple[int, int]
    rows: int | None = None
    steps: int | None = None
    full_batch_steps: bool = False
    few_rows_cap: tuple[int, int] | None = None

    def epochs(self, n_train: int, batch_size: int) -> int:
        if self.rows is not None:
            wanted = -(-self.rows // n_train)
        elif self.full_batch_steps:
            wanted = -(-self.steps * batch_size // n_train)
        else:
            wanted = -(-self.steps // -(-n_train // batch_size))
        low, high = self.bounds
        if self.few_rows_cap is not None and n_train < self.few_rows_cap[0]:
            high = min(high, self.few_rows_cap[1])
        return max(low, min(high, wanted))


@dataclass(frozen=True)
class PatienceRule:
    """``n_iter_no_change='auto'``: epochs without improvement before stopping.

    ``validation`` on a held-out score (the best epoch's weights are restored,
    so patience costs only time); ``training_loss`` on the training loss at a
    constant learning rate. A decaying schedule without held-out data is
    never stopped: the schedule ends training by design, and a stall of the
    training loss would cut it short (small tables, series).
    """

    validation: int = 20
    training_loss: int = 10


@dataclass(frozen=True)
class AutoRules:
    """A family's 'auto' rules, as data.

    Parameters
    ----------
    batch : BatchRule
        ``batch_size='auto'``.
    epochs : EpochBudget or None
        ``max_iter='auto'``; None where the family takes only an int.
    patience : PatienceRule
        ``n_iter_no_change='auto'``.
    float64_max_values : int
        ``dtype='auto'``: float64 X of at most this many values trains in
        float64, as exact as scikit-learn; 0 for families slow in float64.
    """

    batch: BatchRule = BatchRule(256, 256)
    epochs: EpochBudget | None = None
    patience: PatienceRule = PatienceRule()
    float64_max_values: int = 10_000


@dataclass(frozen=True)
class TrainingPlan:
    """Everything one fit derives from its parameters and data.

    Attributes
    ----------
    n_train : int
        Rows the network trains on (without the validation rows).
    batch_size : int
        Rows of a training minibatch.
    n_batches : int
        Minibatches an epoch.
    max_epochs : int
        Epochs of a full fit (the length of the learning-rate schedule).
    epochs : int
        Epochs of this call: ``max_epochs``, or 1 for ``partial_fit``.
    total_steps : int
        Steps of a full fit's learning-rate schedule.
    patience : int
        Epochs without improvement before stopping (``NEVER``: never).
    validation : bool
        Whether a held-out set is scored every epoch (early stopping).
    incremental : bool
        Whether this is a ``partial_fit`` call.
    learning_rate, learning_rate_init, alpha, solver, tol
        The optimizer and schedule settings this fit trains with.
    device : torch.device
    dtype : torch.dtype
        Of the weights and data.
    autocast_dtype : torch.dtype or None
        Of mixed-precision forward passes; None: the weights' own.
    seed : int
        Seeds the weights, the shuffles and every random layer.
    n_threads : int or None
        The ``n_threads`` parameter (None: chosen from the work and the machine).
    """

    n_train: int
    batch_size: int
    n_batches: int
    max_epochs: int
    epochs: int
    total_steps: int
    patience: int
    validation: bool
    incremental: bool
    learning_rate: str
    learning_rate_init: float
    alpha: float
    solver: str
    tol: float
    device: torch.device
    dtype: torch.dtype
    autocast_dtype: torch.dtype | None
    seed: int
    n_threads: int | None

    @property
    def work_rows(self) -> int:
        """Rows this call's training goes through on the CPU (0 on a GPU); sizes threads."""
        return self.epochs * self.n_train if self.device.type == "cpu" else 0

    @property
    def stops_when_converged(self) -> bool:
        """Whether a stall ends training (not only the planned epochs)."""
        return self.patience != NEVER

    def never_stopping_on_training_loss(self) -> TrainingPlan:
        """This plan, trained for its epochs unless held-out data stops it."""
        return self if self.validation else dataclasses.replace(self, patience=NEVER)


def resolve_plan(params: Mapping, rules: AutoRules, *, n_train: int, validation: bool,
                 incremental: bool, device: torch.device, dtype: torch.dtype,
                 autocast_dtype: torch.dtype | None, seed: int,
                 batch_size: int | None = None) -> TrainingPlan:
    """The plan of a fit on ``n_train`` rows, from an estimator's ``params``.

    ``batch_size``: instead of the parameter's (a retry after CUDA ran out of
    memory halves it).

    Examples
    --------
    >>> import torch
    >>> params = {"batch_size": "auto", "max_iter": "auto", "n_iter_no_change": "auto",
    ...           "learning_rate": "warmup_cosine", "learning_rate_init": 1e-3,
    ...           "alpha": 1e-4, "solver": "adamw", "tol": 1e-4, "n_threads": None}
    >>> rules = AutoRules(BatchRule(16, 256, divisor=10), EpochBudget((10, 200), steps=2000))
    >>> plan = resolve_plan(params, rules, n_train=1_000, validation=True, incremental=False,
    ...                     device=torch.device("cpu"), dtype=torch.float32,
    ...                     autocast_dtype=None, seed=0)
    >>> plan.batch_size, plan.n_batches, plan.max_epochs, plan.total_steps, plan.patience
    (100, 10, 200, 2000, 20)
    """
    if batch_size is None:
        batch_size = resolve_batch_size(params["batch_size"], rules.batch, n_train)
    n_batches = -(-n_train // batch_size)
    max_epochs = resolve_epochs(params["max_iter"], rules.epochs, n_train, batch_size)
    return TrainingPlan(
        n_train=n_train, batch_size=batch_size, n_batches=n_batches, max_epochs=max_epochs,
        epochs=1 if incremental else max_epochs, total_steps=max_epochs * n_batches,
        patience=resolve_patience(params["n_iter_no_change"], rules.patience, validation,
                                  params["learning_rate"]),
        validation=validation, incremental=incremental,
        learning_rate=params["learning_rate"],
        learning_rate_init=float(params["learning_rate_init"]), alpha=float(params["alpha"]),
        solver=params["solver"], tol=float(params["tol"]), device=device, dtype=dtype,
        autocast_dtype=autocast_dtype, seed=seed, n_threads=params["n_threads"],
    )


def restoring_plan(params: Mapping, *, batch_size: int, max_epochs: int, validation: bool,
                   device: torch.device, dtype: torch.dtype,
                   autocast_dtype: torch.dtype | None) -> TrainingPlan:
    """The plan a saved network is built with before its saved state is put back.

    There is no training set: the schedule, the convergence monitor and the
    random generator take their state from the file, so the values a fit
    derives from its rows (batches, steps, patience) are left empty.
    """
    return TrainingPlan(
        n_train=0, batch_size=batch_size, n_batches=0, max_epochs=max_epochs, epochs=0,
        total_steps=0, patience=NEVER, validation=validation, incremental=False,
        learning_rate=params["learning_rate"],
        learning_rate_init=float(params["learning_rate_init"]), alpha=float(params["alpha"]),
        solver=params["solver"], tol=float(params["tol"]), device=device, dtype=dtype,
        autocast_dtype=autocast_dtype, seed=0, n_threads=params["n_threads"],
    )


def resolve_batch_size(batch_size, rule: BatchRule, n_train: int) -> int:
    """``batch_size`` resolved: the rule's for 'auto'; never more than the training rows."""
    return rule.rows(n_train) if batch_size == "auto" else min(batch_size, n_train)


def resolve_epochs(max_iter, budget: EpochBudget | None, n_train: int, batch_size: int) -> int:
    """``max_iter`` resolved: the family's epoch budget for 'auto'."""
    return budget.epochs(n_train, batch_size) if max_iter == "auto" else max_iter


def resolve_patience(n_iter_no_change, rule: PatienceRule, validation: bool,
                     learning_rate: str) -> int:
    """``n_iter_no_change`` resolved (see :class:`PatienceRule`)."""
    if n_iter_no_change != "auto":
        return n_iter_no_change
    if validation:
        return rule.validation
    return NEVER if learning_rate != "constant" else rule.training_loss


def holds_out_validation(early_stopping, n_samples: int, incremental: bool) -> bool:
    """Whether a fit holds out ``validation_fraction`` of its rows (``early_stopping``)."""
    if incremental:
        return False
    if early_stopping == "auto":
        return n_samples > AUTO_EARLY_STOPPING_MIN_SAMPLES
    return bool(early_stopping)


def encoding_dtype(dtype: str, shape: tuple[int, ...], rules: AutoRules,
                   autocast_dtype: torch.dtype | None) -> type | None:
    """``np.float32`` when the network runs in float32 whatever X encodes to.

    ``dtype='float32'``, or 'auto' under autocast (mixed precision runs on
    float32 weights) or on more than the family's ``float64_max_values``
    values (an encoding has as many or more): a large table is then encoded
    straight to float32, with no float64 copy. None: the encoding follows
    X, and :func:`resolve_dtype` decides.
    """
    large = math.prod(shape) > rules.float64_max_values
    if dtype == "float32" or (dtype == "auto" and (large or autocast_dtype is not None)):
        return np.float32
    return None


def resolve_dtype(dtype: str, X, device: torch.device, rules: AutoRules,
                  autocast_dtype: torch.dtype | None) -> torch.dtype:
    """The floating-point type of the weights and data (see the ``dtype`` parameter)."""
    if encoding_dtype(dtype, X.shape, rules, autocast_dtype) is np.float32:
        return torch.float32
    if dtype == "auto":  # a small table: exact on the CPU when X is float64
        exact = X.dtype == np.float64 and device.type == "cpu"
        return torch.float64 if exact else torch.float32
    return getattr(torch, dtype)
