"""What differs between classification and regression, in one place.

A task turns validated ``y`` into the tensor the loss needs, chooses that
loss, turns network outputs back into predictions and scores a validation
set. Estimators hold a fitted task in ``task_``; everything else in the
training path is shared.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from torch import nn

from sknn._core._data import ArrayLike
from sknn._utils._registry import storable_state


@storable_state("sknn._task.ClassificationTask")
class ClassificationTask:
    """Single-label (binary or multiclass) or multilabel-indicator classification.

    Parameters
    ----------
    classes : ndarray
        Sorted class labels (single-label) or ``arange(n_labels)`` (multilabel).
    multilabel : bool
    """

    def __init__(self, classes: np.ndarray, multilabel: bool = False):
        self.classes = classes
        self.multilabel = multilabel

    @classmethod
    def from_target(cls, y: ArrayLike, estimator_name: str,
                    classes: ArrayLike | None = None) -> ClassificationTask:
        """Learn the classes from ``y`` (or take the given ``classes``)."""
        check_classification_targets(y)
        target_type = type_of_target(y)
        if target_type == "multilabel-indicator":
            return cls(np.arange(y.shape[1]), multilabel=True)
        if target_type.startswith("multiclass-multioutput"):
            raise ValueError(
                f"{estimator_name} supports single-label and multilabel-indicator "
                f"targets; got a {target_type} y of shape {np.shape(y)}."
            )
        found = np.unique(y)
        if classes is not None:
            classes = np.unique(classes)
            unknown = np.setdiff1d(found, classes)
            if len(unknown):
                raise ValueError(
                    f"{estimator_name}: y contains labels {unknown.tolist()} that are "
                    f"not in classes={classes.tolist()}."
                )
            found = classes
        if len(found) < 2:
            raise ValueError(
                f"{estimator_name} needs samples of at least 2 classes in the data; "
                f"got only one class: {found.tolist()}."
            )
        return cls(found)

    @property
    def n_outputs(self) -> int:
        """Width of the network's last layer."""
        return len(self.classes)

    @property
    def ensemble_average(self) -> str:
        """How ensemble members' outputs are averaged (probabilities)."""
        return "sigmoid" if self.multilabel else "softmax"

    @property
    def penalty_scale(self) -> float:
        """Factor on ``||W||^2 / (2 C n)`` that makes ``C`` LogisticRegression's.

        For a linear model on the outputs, trained on this task's mean loss.
        Two classes have two softmax columns whose optimal weights are
        opposite, so ``||W||^2`` is half the binary model's ``||w||^2``; the
        multilabel loss averages the labels' losses.
        """
        if self.multilabel:
            return 1.0 / self.n_outputs
        return 2.0 if self.n_outputs == 2 else 1.0

    def make_criterion(self) -> nn.Module:
        if self.multilabel:
            return nn.BCEWithLogitsLoss(reduction="none")
        return nn.CrossEntropyLoss(reduction="none")

    def encode(self, y: ArrayLike, estimator_name: str) -> torch.Tensor:
        """Class indices (int64) or label indicators (float) for ``y``."""
        if self.multilabel:
            if np.ndim(y) != 2 or np.shape(y)[1] != len(self.classes):
                raise ValueError(
                    f"{estimator_name} was fitted on a multilabel y with "
                    f"{len(self.classes)} labels; got y of shape {np.shape(y)}."
                )
            return torch.as_tensor(np.asarray(y, dtype=np.float64))
        y = np.asarray(y).ravel()
        codes = np.searchsorted(self.classes, y)
        codes = np.clip(codes, 0, len(self.classes) - 1)
        unseen = self.classes[codes] != y
        if unseen.any():
            raise ValueError(
                f"{estimator_name}: y contains labels {np.unique(y[unseen]).tolist()} "
                f"unseen at the first fit (classes_={self.classes.tolist()})."
            )
        return torch.as_tensor(codes, dtype=torch.int64)

    def proba(self, outputs: torch.Tensor) -> np.ndarray:
        if self.multilabel:
            return torch.sigmoid(outputs).numpy()
        return torch.softmax(outputs, dim=1).numpy()

    def predict(self, outputs: torch.Tensor) -> np.ndarray:
        if self.multilabel:
            return (outputs > 0).numpy().astype(int)
        return self.classes[outputs.argmax(dim=1).numpy()]

    def validation_score(self, outputs: torch.Tensor, y: torch.Tensor,
                         weight: torch.Tensor | None) -> float:
        """Accuracy (subset accuracy for multilabel), weighted when weights given."""
        if self.multilabel:
            correct = ((outputs > 0) == (y > 0.5)).all(dim=1)
        else:
            correct = outputs.argmax(dim=1) == y
        return _weighted_mean(correct.float(), weight)


@storable_state("sknn._task.RegressionTask")
class RegressionTask:
    """Regression on standardized targets, mapped back at prediction.

    Parameters
    ----------
    mean, scale : ndarray of shape (n_outputs,)
    one_dimensional : bool
        Whether ``y`` was 1-D (predictions are then 1-D too).
    """

    def __init__(self, mean: np.ndarray, scale: np.ndarray, one_dimensional: bool):
        self.mean = mean
        self.scale = scale
        self.one_dimensional = one_dimensional

    @classmethod
    def from_target(cls, y: ArrayLike, sample_weight: ArrayLike | None = None
                    ) -> RegressionTask:
        """Learn the (sample-weighted) mean and standard deviation of each output."""
        y = np.asarray(y, dtype=np.float64)
        y2d = y.reshape(len(y), -1)
        if sample_weight is not None and np.sum(sample_weight) <= 0:
            sample_weight = None
        # In units of a power of two near the largest |y| (exact, so ordinary targets
        # standardize as before): squares of targets beyond 1e154 overflow float64.
        unit = np.ldexp(1.0, np.frexp(np.abs(y2d).max(axis=0, initial=1.0))[1])
        mean = np.average(y2d / unit, axis=0, weights=sample_weight)
        scale = np.sqrt(np.average((y2d / unit - mean) ** 2, axis=0, weights=sample_weight))
        scale[~(scale > 0)] = 1.0 / unit[~(scale > 0)]
        return cls(mean * unit, scale * unit, one_dimensional=y.ndim == 1)

    @property
    def n_outputs(self) -> int:
        return len(self.mean)

    ensemble_average = "mean"

    @property
    def penalty_scale(self) -> float:
        """Factor on ``||W||^2 / (2 C n)`` that makes it Ridge's ``alpha = 1 / (2 C)``.

        The mean squared error averages the outputs' errors.
        """
        return 1.0 / self.n_outputs

    def make_criterion(self) -> nn.Module:
        return nn.MSELoss(reduction="none")

    def encode(self, y: ArrayLike, estimator_name: str) -> torch.Tensor:
        y2d = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        if y2d.shape[1] != self.n_outputs:
            raise ValueError(
                f"{estimator_name} was fitted on y with {self.n_outputs} output(s); "
                f"got y of shape {np.shape(y)}."
            )
        return torch.as_tensor((y2d - self.mean) / self.scale)  # cast on the device

    def predict(self, outputs: torch.Tensor) -> np.ndarray:
        values = outputs.double().numpy() * self.scale + self.mean
        return values.ravel() if self.one_dimensional else values

    def validation_score(self, outputs: torch.Tensor, y: torch.Tensor,
                         weight: torch.Tensor | None) -> float:
        """R² averaged uniformly over outputs (invariant to the standardization)."""
        w = torch.ones(len(y), device=y.device) if weight is None else weight
        w = w[:, None]
        mean = (w * y).sum(0) / w.sum()
        residual = (w * (y - outputs) ** 2).sum(0)
        total = (w * (y - mean) ** 2).sum(0)
        r2 = torch.where(total > 0, 1 - residual / total.clamp_min(1e-12),
                         torch.zeros_like(total))
        return r2.mean().item()


@storable_state("sknn._task.ReconstructionTask")
class ReconstructionTask(RegressionTask):
    """Autoencoding: the targets are X itself, standardized per feature.

    The same standardization (:meth:`standardize`) feeds the network, so
    every feature weighs the same in the loss; reconstructions are mapped
    back to the units of X by :meth:`predict`.
    """

    @classmethod
    def from_target(cls, y: ArrayLike, sample_weight: ArrayLike | None = None
                    ) -> ReconstructionTask:
        task = super().from_target(y, sample_weight)
        task.one_dimensional = False
        return task

    def standardize(self, X: ArrayLike) -> np.ndarray:
        """``(X - mean) / scale``, float64."""
        return (np.asarray(X, dtype=np.float64) - self.mean) / self.scale


def _weighted_mean(values: torch.Tensor, weight: torch.Tensor | None) -> float:
    if weight is None:
        return values.mean().item()
    return ((values * weight).sum() / weight.sum()).item()


@storable_state("sknn._task.DistillationTask")
class DistillationTask(ClassificationTask):
    """Single-label classification learned from a teacher's probabilities.

    Targets are rows ``[soft | hard]`` of width ``2 * n_classes``: the
    teacher's probabilities softened by ``temperature`` (:meth:`soft_targets`)
    and the one-hot true label (zeros for unlabelled rows). Plain labels are
    accepted too (both halves one-hot), so a distilled student can keep
    training on labels. Predictions are those of :class:`ClassificationTask`.

    Parameters
    ----------
    classes : ndarray
    temperature : float
    alpha : float
        Weight of the teacher's part of the loss; ``1 - alpha`` goes to the labels.
    """

    def __init__(self, classes: np.ndarray, temperature: float = 1.0, alpha: float = 1.0):
        super().__init__(classes)
        self.temperature = temperature
        self.alpha = alpha

    def soft_targets(self, proba: np.ndarray) -> np.ndarray:
        """Probabilities ``p`` softened to ``p ** (1 / T)``, renormalized per row."""
        logits = np.log(np.clip(np.asarray(proba, dtype=np.float64), 1e-12, None))
        logits /= self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        soft = np.exp(logits)
        return soft / soft.sum(axis=1, keepdims=True)

    def make_criterion(self) -> nn.Module:
        return DistillationLoss(self.temperature, self.alpha, reduction="none")

    def encode(self, y: ArrayLike, estimator_name: str) -> torch.Tensor:
        n_classes = len(self.classes)
        if np.ndim(y) == 2 and np.shape(y)[1] == 2 * n_classes and (
                np.asarray(y).dtype.kind == "f"):
            return torch.as_tensor(np.asarray(y, dtype=np.float64))
        one_hot = nn.functional.one_hot(super().encode(y, estimator_name), n_classes)
        return torch.cat([one_hot, one_hot], dim=1).double()

    def validation_score(self, outputs: torch.Tensor, y: torch.Tensor,
                         weight: torch.Tensor | None) -> float:
        """Accuracy against the true label where there is one, else the teacher's."""
        n_classes = len(self.classes)
        soft, hard = y[:, :n_classes], y[:, n_classes:]
        reference = torch.where(hard.sum(dim=1) > 0, hard.argmax(dim=1), soft.argmax(dim=1))
        return _weighted_mean((outputs.argmax(dim=1) == reference).float(), weight)


class DistillationLoss(nn.Module):
    """``alpha * T² * CE(z / T, soft) + (1 - alpha) * CE(z, hard)`` per row (Hinton 2015).

    ``target`` rows are ``[soft | hard]`` (see :class:`DistillationTask`);
    cross-entropy with probability targets (soft cross-entropy). The ``T²``
    keeps the soft part's gradients on the scale of the hard part's.

    Parameters
    ----------
    temperature : float
    alpha : float
    reduction : {'none', 'mean'}, default='mean'
    """

    def __init__(self, temperature: float = 1.0, alpha: float = 1.0,
                 reduction: str = "mean"):
        super().__init__()
        self.temperature = temperature
        self.alpha = alpha
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        n_classes = logits.shape[-1]
        soft, hard = target[:, :n_classes], target[:, n_classes:]
        t = self.temperature
        soft_loss = -(soft * torch.log_softmax(logits / t, dim=-1)).sum(dim=-1) * t * t
        hard_loss = -(hard * torch.log_softmax(logits, dim=-1)).sum(dim=-1)
        loss = self.alpha * soft_loss + (1 - self.alpha) * hard_loss
        return loss.mean() if self.reduction == "mean" else loss


def refuse_missing_targets(y, estimator_name: str) -> None:
    """Refuse no ``y``, or a ``y`` with missing values (None, NaN, pd.NA), naming the rows.

    scikit-learn's checks either miss them in object arrays (a None among
    strings fails later, when labels are sorted) or say "Input contains NaN"
    without saying where or what to do.
    """
    if y is None:
        raise ValueError(f"{estimator_name} requires y to be passed, but the target y is "
                         "None.")
    y = np.asarray(y)
    if y.dtype.kind in "biuf":
        return  # scikit-learn's check refuses NaN in numeric arrays ("Input y contains NaN")
    missing = pd.isna(y.astype(object))
    if not missing.any():
        return
    rows = np.flatnonzero(missing.reshape(len(missing), -1).any(axis=1))
    shown = ", ".join(str(row) for row in rows[:5]) + (", ..." if len(rows) > 5 else "")
    raise ValueError(
        f"{estimator_name}: y has {len(rows)} missing value{'s' if len(rows) > 1 else ''} "
        f"(None, NaN or pd.NA) at row{'s' if len(rows) > 1 else ''} {shown}; drop those "
        "rows or fill them in before fitting."
    )
