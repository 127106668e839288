"""The classifier and the regressor: what sets them apart on top of :class:`BaseNeuralEstimator`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import type_of_target

from sknn._core._base import BaseNeuralEstimator
from sknn._core._data import ArrayLike
from sknn._core._task import ClassificationTask, RegressionTask
from sknn._training._parameters import constraints

if TYPE_CHECKING:
    from typing_extensions import Self


class BaseNeuralClassifier(ClassifierMixin, BaseNeuralEstimator):
    """Public classifier API: labels, probabilities, class weights, partial_fit."""

    _parameter_constraints: dict = {
        **BaseNeuralEstimator._parameter_constraints,
        **constraints("class_weight"),
    }
    _training_only_params = frozenset({"class_weight"})

    def _make_task(self, y, classes=None, sample_weight=None):
        return self._raise_with_name(ClassificationTask.from_target, y, type(self).__name__,
                                     classes)

    def _row_weights(self, y, sample_weight, task):
        if self.class_weight is None:
            return sample_weight
        if isinstance(self.class_weight, dict) and not task.multilabel:
            _check_class_weight_keys(self.class_weight, task.classes, type(self).__name__)
            # By label, not through compute_sample_weight: with partial_fit a weighted
            # label may be absent from this batch.
            class_weights = np.ones(len(y))
            for label, weight in self.class_weight.items():
                class_weights[np.asarray(y) == label] = weight
        else:
            class_weights = compute_sample_weight(self.class_weight, y)
        return class_weights if sample_weight is None else class_weights * sample_weight

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
            ) -> Self:
        """Train the network on labelled data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; sparse CSR is densified one minibatch at a time.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels (strings, integers or booleans), or a binary label
            indicator matrix for multilabel classification.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample loss weights.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: ArrayLike, y: ArrayLike, classes: ArrayLike | None = None,
                    sample_weight: ArrayLike | None = None) -> Self:
        """Train for one epoch on the given data, continuing from the current weights.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        classes : array-like of shape (n_classes,), default=None
            All labels that will ever appear; required on the first call unless
            ``y`` is a multilabel indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object

        Raises
        ------
        ValueError
            When ``set_params`` changed a parameter that shapes the network
            since it was built (the architecture, its input encoding, ...):
            the network cannot continue under it. ``fit`` with
            ``warm_start=False`` builds a new one.
        """
        if hasattr(self, "net_"):
            if classes is not None and not np.array_equal(
                np.unique(classes), self.classes_
            ):
                raise ValueError(
                    f"{type(self).__name__}.partial_fit: classes={list(classes)} "
                    f"differ from the first call's classes_={self.classes_.tolist()}."
                )
        elif classes is None and self._raise_with_name(
                type_of_target, y, input_name="y") != "multilabel-indicator":
            raise ValueError(
                f"{type(self).__name__}.partial_fit needs classes=... (all labels "
                "that will ever appear) on its first call."
            )
        return self._fit(X, y, sample_weight, classes=classes, incremental=True)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``; for multilabel ``y``,
            the probability of each label.
        """
        outputs = self._predict_outputs(X)
        return self.task_.proba(outputs)

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        outputs = self._predict_outputs(X)
        if self.task_.multilabel:
            return torch.nn.functional.logsigmoid(outputs).numpy()
        return torch.log_softmax(outputs, dim=1).numpy()

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
        """
        outputs = self._predict_outputs(X)
        return self.task_.predict(outputs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class BaseNeuralRegressor(RegressorMixin, BaseNeuralEstimator):
    """Public regressor API: standardized targets, 1-D or multi-output."""

    def _make_task(self, y, classes=None, sample_weight=None):
        return RegressionTask.from_target(y, sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
            ) -> Self:
        """Train the network.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; sparse CSR is densified one minibatch at a time.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets; standardized inside and mapped back at prediction.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample loss weights.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
                    ) -> Self:
        """Train for one epoch on the given data, continuing from the current weights.

        The first call fixes the target standardization from its ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object

        Raises
        ------
        ValueError
            When ``set_params`` changed a parameter that shapes the network
            since it was built (the architecture, its input encoding, ...):
            the network cannot continue under it. ``fit`` with
            ``warm_start=False`` builds a new one.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted values.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            1-D when ``y`` was 1-D in ``fit``.
        """
        outputs = self._predict_outputs(X)
        return self.task_.predict(outputs)


def _check_class_weight_keys(class_weight: dict, classes: np.ndarray, estimator_name: str):
    """Refuse ``class_weight`` keys that are no label: a typo would weigh nothing."""
    labels = classes.tolist()
    unknown = [key for key in class_weight if key not in labels]
    if unknown:
        raise ValueError(
            f"{estimator_name}: class_weight has keys {unknown} that are not labels of y; "
            f"the labels are {classes.tolist()}."
        )
