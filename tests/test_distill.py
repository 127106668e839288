"""Distillation: students trained on a fitted teacher's predictions."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestRegressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sknn import DistilledClassifier, DistilledRegressor, MLPClassifier, MLPRegressor
from sknn._core._task import DistillationLoss, DistillationTask

FAST = {"max_iter": 30, "n_threads": 1, "random_state": 0, "ensemble_size": 1}


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(400, 8, n_informative=5, n_classes=3, random_state=0)
    labels = np.array(["a", "b", "c"])[y]
    teacher = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, labels)
    return X, labels, teacher


def test_student_learns_the_teacher_and_is_an_ordinary_classifier(data):
    X, y, teacher = data
    model = DistilledClassifier(MLPClassifier((32,), **FAST), teacher).fit(X, y)
    assert isinstance(model.student_, MLPClassifier)
    assert model.teacher_ is teacher
    assert list(model.classes_) == ["a", "b", "c"]
    agreement = np.mean(model.predict(X) == teacher.predict(X))
    assert agreement > 0.75
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1, rtol=1e-5)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    # The student alone keeps working, and can continue on plain labels.
    student = model.student_
    student.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert student.n_iter_ > 2


def test_temperature_softens_and_alpha_mixes_the_loss():
    task = DistillationTask(np.array([0, 1, 2]), temperature=4.0)
    proba = np.array([[0.9, 0.09, 0.01]])
    soft = task.soft_targets(proba)
    assert soft[0, 0] < 0.9 and soft[0, 2] > 0.01
    np.testing.assert_allclose(DistillationTask(task.classes).soft_targets(proba), proba)
    logits = torch.randn(5, 3, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 0, 1])
    one_hot = torch.nn.functional.one_hot(labels, 3).double()
    target = torch.cat([torch.full((5, 3), 1 / 3, dtype=torch.float64), one_hot], dim=1)
    hard_only = DistillationLoss(temperature=3.0, alpha=0.0)(logits, target)
    assert torch.isclose(hard_only, torch.nn.functional.cross_entropy(logits, labels))
    soft_only = DistillationLoss(temperature=2.0, alpha=1.0, reduction="none")
    expected = 4 * torch.nn.functional.cross_entropy(logits / 2, target[:, :3],
                                                     reduction="none")
    assert torch.allclose(soft_only(logits, target), expected)


def test_unlabelled_rows_pipeline_and_cross_validation(data):
    X, y, teacher = data
    pipe = make_pipeline(StandardScaler(), DistilledClassifier(
        MLPClassifier((16,), **FAST), teacher, alpha=0.5))
    pipe.fit(X[:100], y[:100], distilledclassifier__X_unlabeled=X[100:])
    assert pipe.score(X, y) > 0.6
    model = DistilledClassifier(MLPClassifier((16,), **FAST), LogisticRegression(),
                                fit_teacher=True)
    scores = cross_val_score(model, X, y, cv=2)
    assert scores.mean() > 0.6
    assert clone(model).get_params()["fit_teacher"] is True


def test_regressor_fits_the_teacher_mixed_with_y():
    X, y = make_regression(200, 5, noise=5.0, random_state=0)
    teacher = RandomForestRegressor(20, random_state=0).fit(X, y)
    student = MLPRegressor((32,), **FAST)
    model = DistilledRegressor(student, teacher, alpha=1.0).fit(X[:50], y[:50],
                                                                 X_unlabeled=X[50:])
    assert isinstance(model.student_, MLPRegressor)
    assert np.corrcoef(model.predict(X), teacher.predict(X))[0, 1] > 0.8
    assert model.score(X, y) > 0.5


def test_distillation_errors_are_pinned(data):
    X, y, teacher = data
    with pytest.raises(NotFittedError, match="DistilledClassifier: the teacher "
                                             "LogisticRegression is not fitted"):
        DistilledClassifier(MLPClassifier(**FAST), LogisticRegression()).fit(X, y)
    with pytest.raises(ValueError, match=r"DistilledClassifier: y has labels \['d'\] that "
                                         r"the teacher's classes_ \['a', 'b', 'c'\] lack"):
        DistilledClassifier(MLPClassifier(**FAST), teacher).fit(X, np.where(y == "a", "d", y))
    with pytest.raises(ValueError, match="DistilledClassifier needs a teacher"):
        DistilledClassifier(MLPClassifier(**FAST)).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'student' parameter of "
                                                    "DistilledClassifier must be"):
        DistilledClassifier(LogisticRegression(), teacher).fit(X, y)
    with pytest.raises(ValueError, match="DistilledClassifier: the student's class_weight"):
        DistilledClassifier(MLPClassifier(class_weight="balanced"), teacher).fit(X, y)
    with pytest.raises(ValueError, match=r"DistilledClassifier: X_unlabeled must have the "
                                         r"shape of X's rows \(8,\); got X_unlabeled of "
                                         r"shape \(3, 2\)"):
        DistilledClassifier(MLPClassifier(**FAST), teacher).fit(X, y,
                                                                X_unlabeled=np.ones((3, 2)))
    reg_teacher = RandomForestRegressor(5).fit(X, np.column_stack([X[:, 0], X[:, 1]]))
    with pytest.raises(ValueError, match=r"DistilledRegressor: the teacher "
                                         r"RandomForestRegressor predicts shape \(2,\)"):
        DistilledRegressor(MLPRegressor(**FAST), reg_teacher).fit(X, X[:, 0])
    with pytest.raises(NotFittedError):
        DistilledClassifier(MLPClassifier(), teacher).predict(X)
    # The student takes NaN as missing, a LogisticRegression teacher does not: refused
    # in predict too, not silently imputed by the student.
    model = DistilledClassifier(MLPClassifier(**FAST), LogisticRegression(),
                                fit_teacher=True).fit(X, y)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="DistilledClassifier does not accept missing "
                                         "values encoded as NaN"):
        model.predict(bad)


def test_random_state_seeds_the_student_and_the_fitted_teacher(data):
    X, y, _ = data
    student = MLPClassifier((8,), max_iter=5, n_threads=1, ensemble_size=1)
    teacher = HistGradientBoostingClassifier(max_iter=5, early_stopping=True)
    model = DistilledClassifier(student, teacher, fit_teacher=True, random_state=3)
    first = model.fit(X, y).predict_proba(X)
    assert model.student_.random_state == model.fit(X, y).student_.random_state
    np.testing.assert_array_equal(model.predict_proba(X), first)
    assert student.random_state is None  # the given student is cloned, not changed
