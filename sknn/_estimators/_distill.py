"""Knowledge distillation: train an sknn network on a fitted teacher's predictions."""

from __future__ import annotations

import functools
from numbers import Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    RegressorMixin,
    _fit_context,
    clone,
)
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d, validate_data

from sknn._core._fitted import fit_on_task
from sknn._core._kinds import BaseNeuralClassifier, BaseNeuralRegressor
from sknn._core._task import DistillationTask
from sknn._utils._errors import errors_naming
from sknn._utils._registry import storable_estimator


def _failing_cleanly(fit):
    """Make a failing ``fit`` name us (in the teacher's and student's errors too)
    and leave no fitted attributes behind."""
    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        try:
            with errors_naming(type(self).__name__):
                return fit(self, *args, **kwargs)
        except BaseException:
            for key in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
                delattr(self, key)
            raise
    return wrapper


class _BaseDistilled(MetaEstimatorMixin, BaseEstimator):
    """Teacher handling, unlabelled rows and delegation shared by both distillers."""

    def _default_student(self):
        raise NotImplementedError

    def _check_X(self, X, reset: bool):
        """Record or check the features of X; refuse what neither model accepts.

        X is passed on as given (the student and the teacher each validate
        and encode it their own way). Unless both take NaN as a missing
        value, NaN and infinity are refused here, in ``predict`` too (the
        student alone would accept NaN there).
        """
        input_tags = self.__sklearn_tags__().input_tags
        if not input_tags.allow_nan:
            check_array(X, accept_sparse=["csr", "csc", "coo"] if input_tags.sparse else False,
                        dtype=None, allow_nd=True, estimator=self, input_name="X")
        validate_data(self, X, reset=reset, skip_check_array=True)

    def _resolve(self, X, y, sample_weight):
        """Validate; return the fresh student and the fitted teacher.

        With ``random_state`` set, the student (and a teacher fitted here) are
        seeded from it, as scikit-learn's meta-estimators seed their clones.
        """
        name = type(self).__name__
        self._check_X(X, reset=True)
        student = self._default_student() if self.student is None else clone(self.student)
        if self.teacher is None:
            raise ValueError(f"{name} needs a teacher: a fitted scikit-learn estimator; "
                             "got teacher=None.")
        if self.random_state is not None:
            random_state = check_random_state(self.random_state)
            student.set_params(random_state=random_state.randint(np.iinfo(np.int32).max))
        if self.fit_teacher:
            teacher = clone(self.teacher)
            if self.random_state is not None and "random_state" in teacher.get_params():
                teacher.set_params(random_state=random_state.randint(np.iinfo(np.int32).max))
            fit_params = {} if sample_weight is None else {"sample_weight": sample_weight}
            return student, teacher.fit(X, y, **fit_params)
        try:
            check_is_fitted(self.teacher)
        except NotFittedError as error:
            raise NotFittedError(
                f"{name}: the teacher {type(self.teacher).__name__} is not fitted; fit it "
                "first, or pass fit_teacher=True to fit a copy on (X, y)."
            ) from error
        return student, self.teacher

    def _with_unlabeled(self, X, X_unlabeled):
        if X_unlabeled is None:
            return X
        if isinstance(X, pd.DataFrame):
            return pd.concat([X, pd.DataFrame(X_unlabeled, columns=X.columns)],
                             ignore_index=True)
        if sp.issparse(X) or sp.issparse(X_unlabeled):
            return sp.vstack([X, X_unlabeled], format="csr")
        X, X_unlabeled = np.asarray(X), np.asarray(X_unlabeled)
        if X_unlabeled.ndim != X.ndim or X_unlabeled.shape[1:] != X.shape[1:]:
            raise ValueError(
                f"{type(self).__name__}: X_unlabeled must have the shape of X's rows "
                f"{X.shape[1:]}; got X_unlabeled of shape {X_unlabeled.shape}."
            )
        return np.concatenate([X, X_unlabeled])

    @staticmethod
    def _extended_weights(sample_weight, n_labeled, n_total):
        if sample_weight is None or n_total == n_labeled:
            return sample_weight
        return np.concatenate([np.asarray(sample_weight, dtype=np.float64),
                               np.ones(n_total - n_labeled)])

    def predict(self, X):
        """Predictions of the distilled student.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        return self._ask_student("predict", X)

    def _ask_student(self, method: str, X):
        """The fitted student's ``method`` on X; errors name this estimator."""
        check_is_fitted(self)
        with errors_naming(type(self).__name__):
            self._check_X(X, reset=False)
            return getattr(self.student_, method)(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        student = self._default_student() if self.student is None else self.student
        models = [student] if self.teacher is None else [student, self.teacher]
        model_tags = [model.__sklearn_tags__() for model in models]
        for flag in ("sparse", "allow_nan", "string", "categorical"):
            setattr(tags.input_tags, flag,
                    all(getattr(t.input_tags, flag) for t in model_tags))
        tags.target_tags.multi_output = all(t.target_tags.multi_output for t in model_tags)
        return tags


_PARAMS_DOC = """
    student : sknn estimator or None, default=None
        The network to train (cloned): any sknn {kind} (MLP, CNN, ...).
        None: ``{default}()``.
    teacher : fitted estimator
        Any scikit-learn-compatible {kind} (gradient boosting, a stacking
        ensemble, a large sknn network, a Pipeline), already fitted unless
        ``fit_teacher=True``. It is used as is, never refitted.{extra}
    fit_teacher : bool, default=False
        Fit a clone of ``teacher`` on ``(X, y)`` first: distillation from
        scratch in one ``fit``, honest inside cross-validation (a teacher fitted
        on all the data would leak the validation folds).
    random_state : int, RandomState instance or None, default=None
        Seeds the clone of the student (and of the teacher when
        ``fit_teacher=True`` and it has a ``random_state``), so that ``fit``
        gives the same model every time. None keeps their own settings."""

_FIT_DOC = """
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
            Labelled training data, as the student takes it.
        y : array-like of shape (n_samples,){y_extra}
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the labelled rows (unlabelled rows weigh 1).
        X_unlabeled : like X, default=None
            Extra rows without labels, appended to X: the student learns the
            teacher's predictions there (a larger transfer set). In a Pipeline
            they do not pass through the earlier steps.

        Returns
        -------
        self : object"""


@storable_estimator
class DistilledClassifier(ClassifierMixin, _BaseDistilled):
    __doc__ = f"""Classifier trained on a fitted teacher's softened probabilities.

    Knowledge distillation (Hinton et al. 2015): the student minimizes
    ``alpha * T² * CE(z / T, p_T) + (1 - alpha) * CE(z, y)``, where ``z`` are
    its logits, ``p_T`` the teacher's ``predict_proba`` softened to
    ``p ** (1 / T)`` (renormalized) and ``y`` the true labels. The fitted
    ``student_`` is an ordinary sknn classifier: it predicts, pickles and
    exports (:func:`sknn.export.to_onnx`) on its own, at the speed of a small
    network.

    Parameters
    ----------{_PARAMS_DOC.format(kind="classifier", default="MLPClassifier", extra='''
        Its ``classes_`` must include every label in ``y``.
    temperature : float > 0, default=2.0
        Softening of the teacher's probabilities: above 1 brings out how it
        ranks the wrong classes ("dark knowledge").
    alpha : float in [0, 1], default=0.9
        Weight of the teacher in the loss; ``1 - alpha`` goes to the labels.''')}

    Attributes
    ----------
    student_ : sknn classifier
        The trained student.
    teacher_ : estimator
        The teacher used (``teacher`` itself, or its fitted clone).
    classes_ : ndarray of shape (n_classes,)
        The teacher's classes.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        When X was a DataFrame with string column names.

    See Also
    --------
    DistilledRegressor : The regression counterpart.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.ensemble import HistGradientBoostingClassifier
    >>> from sknn import DistilledClassifier, MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> teacher = HistGradientBoostingClassifier(max_iter=20).fit(X, y)
    >>> student = MLPClassifier((16,), max_iter=30, n_threads=1, random_state=0)
    >>> model = DistilledClassifier(student, teacher, temperature=2.0).fit(X, y)
    >>> model.predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints: dict = {
        "student": [BaseNeuralClassifier, None],
        "teacher": [HasMethods(["predict_proba"]), None],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "alpha": [Interval(Real, 0, 1, closed="both")],
        "fit_teacher": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, student=None, teacher=None, *, temperature=2.0, alpha=0.9,
                 fit_teacher=False,
                 random_state=None):
        self.student = student
        self.teacher = teacher
        self.temperature = temperature
        self.alpha = alpha
        self.fit_teacher = fit_teacher
        self.random_state = random_state

    def _default_student(self):
        from sknn._estimators._mlp import MLPClassifier

        return MLPClassifier()

    @_fit_context(prefer_skip_nested_validation=False)
    @_failing_cleanly
    def fit(self, X, y, sample_weight=None, X_unlabeled=None):
        name = type(self).__name__
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        student, teacher = self._resolve(X, y, sample_weight)
        if getattr(student, "class_weight", None) is not None:
            raise ValueError(f"{name}: the student's class_weight is not supported; pass "
                             "sample_weight to fit instead.")
        classes = np.asarray(teacher.classes_)
        unknown = np.setdiff1d(np.unique(y), classes)
        if len(unknown):
            raise ValueError(
                f"{name}: y has labels {unknown.tolist()} that the teacher's classes_ "
                f"{classes.tolist()} lack; the teacher must be fitted on the same classes."
            )
        X_all = self._with_unlabeled(X, X_unlabeled)
        task = DistillationTask(classes, float(self.temperature), float(self.alpha))
        soft = task.soft_targets(teacher.predict_proba(X_all))
        hard = np.zeros_like(soft)
        hard[np.arange(len(y)), np.searchsorted(classes, y)] = 1.0
        weights = self._extended_weights(sample_weight, len(y), soft.shape[0])
        fit_on_task(student, X_all, np.hstack([soft, hard]), weights, task)
        self.student_ = student
        self.teacher_ = teacher
        self.classes_ = classes
        return self

    def predict_proba(self, X):
        """Class probabilities of the student.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return self._ask_student("predict_proba", X)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return self._ask_student("predict_log_proba", X)


@storable_estimator
class DistilledRegressor(RegressorMixin, _BaseDistilled):
    __doc__ = f"""Regressor trained on a fitted teacher's predictions.

    The student fits ``alpha * teacher.predict(X) + (1 - alpha) * y`` (for
    squared error, the same minimizer as weighting the two losses), and the
    teacher's predictions alone on ``X_unlabeled``.

    Parameters
    ----------{_PARAMS_DOC.format(kind="regressor", default="MLPRegressor", extra='''
    alpha : float in [0, 1], default=0.9
        Weight of the teacher's predictions in the target.''')}

    Attributes
    ----------
    student_ : sknn regressor
        The trained student.
    teacher_ : estimator
        The teacher used.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    See Also
    --------
    DistilledClassifier : The classification counterpart.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> from sknn import DistilledRegressor, MLPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> teacher = RandomForestRegressor(20, random_state=0).fit(X, y)
    >>> student = MLPRegressor((16,), max_iter=20, n_threads=1, random_state=0)
    >>> DistilledRegressor(student, teacher).fit(X, y).predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints: dict = {
        "student": [BaseNeuralRegressor, None],
        "teacher": [HasMethods(["predict"]), None],
        "alpha": [Interval(Real, 0, 1, closed="both")],
        "fit_teacher": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, student=None, teacher=None, *, alpha=0.9, fit_teacher=False,
                 random_state=None):
        self.student = student
        self.teacher = teacher
        self.alpha = alpha
        self.fit_teacher = fit_teacher
        self.random_state = random_state

    def _default_student(self):
        from sknn._estimators._mlp import MLPRegressor

        return MLPRegressor()

    @_fit_context(prefer_skip_nested_validation=False)
    @_failing_cleanly
    def fit(self, X, y, sample_weight=None, X_unlabeled=None):
        if not self.__sklearn_tags__().target_tags.multi_output:
            y = column_or_1d(y, warn=True)
        student, teacher = self._resolve(X, y, sample_weight)
        y = np.asarray(y, dtype=np.float64)
        X_all = self._with_unlabeled(X, X_unlabeled)
        predicted = np.asarray(teacher.predict(X_all), dtype=np.float64)
        if predicted.size == len(predicted) and y.size == len(y):
            predicted = predicted.reshape((len(predicted),) + y.shape[1:])  # (n,) vs (n, 1)
        if predicted.shape[1:] != y.shape[1:]:
            raise ValueError(
                f"{type(self).__name__}: the teacher {type(teacher).__name__} predicts "
                f"shape {predicted.shape[1:]} per row, y has {y.shape[1:]}."
            )
        target = predicted.copy()
        target[:len(y)] = self.alpha * predicted[:len(y)] + (1 - self.alpha) * y
        weights = self._extended_weights(sample_weight, len(y), len(target))
        self.student_ = student.fit(X_all, target, sample_weight=weights)
        self.teacher_ = teacher
        return self

    fit.__doc__ = f"""Fit the student on the teacher's predictions mixed with y.

        Parameters
        ----------{_FIT_DOC.format(y_extra=" or (n_samples, n_outputs)")}
        """


DistilledClassifier.fit.__doc__ = f"""Fit the student on the teacher's probabilities and labels.

        Parameters
        ----------{_FIT_DOC.format(y_extra="")}
        """
