"""Targets: label types, binary/multiclass/multilabel, 1-D and multi-output regression."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.metrics import r2_score

from sknn import MLPClassifier, MLPRegressor

# Small, fast networks; the tabular-layer options only where the estimator has them.
FAST = {"device": "cpu", "hidden_layer_sizes": (16,), "batch_size": 16,
        "learning_rate_init": 0.01, "random_state": 0, "ensemble_size": 1,
        "numeric_embedding": None}


def _make(cls, **params):
    known = cls().get_params()
    return cls(**{**{k: v for k, v in FAST.items() if k in known}, **params})


def _clf(**params):
    return _make(MLPClassifier, **{"max_iter": 30, **params})


def _reg(**params):
    return _make(MLPRegressor, **{"max_iter": 60, **params})


@pytest.fixture
def binary_data():
    return make_classification(n_samples=80, n_features=4, n_informative=3,
                               n_redundant=0, random_state=0)


@pytest.fixture
def multiclass_data():
    return make_classification(n_samples=90, n_features=5, n_informative=4,
                               n_redundant=0, n_classes=3, random_state=0)


@pytest.mark.parametrize(
    "labels",
    [np.array(["no", "yes"]), np.array([3, 7]), np.array([False, True])],
    ids=["str", "int", "bool"],
)
def test_binary_label_types(binary_data, labels):
    X, y01 = binary_data
    y = labels[y01]
    clf = _clf().fit(X, y)
    assert_array_equal(clf.classes_, labels)
    assert clf.classes_.dtype == labels.dtype
    pred = clf.predict(X)
    assert pred.shape == (len(X),)
    assert set(np.unique(pred)) <= set(labels.tolist())
    assert pred.dtype == labels.dtype
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all((proba >= 0) & (proba <= 1))
    # predict is the argmax of predict_proba, mapped to the labels.
    assert_array_equal(pred, labels[proba.argmax(axis=1)])
    assert clf.score(X, y) > 0.75


def test_string_and_integer_labels_train_the_same_model(binary_data):
    X, y01 = binary_data
    proba_int = _clf().fit(X, y01).predict_proba(X)
    proba_str = _clf().fit(X, np.array(["a", "b"])[y01]).predict_proba(X)
    assert_allclose(proba_int, proba_str, rtol=1e-6, atol=1e-9)


def test_multiclass_string_labels(multiclass_data):
    X, y_idx = multiclass_data
    labels = np.array(["cat", "dog", "emu"])
    y = labels[y_idx]
    clf = _clf(max_iter=60).fit(X, y)
    assert_array_equal(clf.classes_, labels)
    assert clf.n_outputs_ == 3
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert_array_equal(clf.predict(X), labels[proba.argmax(axis=1)])
    log_proba = clf.predict_log_proba(X)
    assert_allclose(np.exp(log_proba), proba, rtol=1e-5, atol=1e-12)
    assert clf.score(X, y) > 0.7


def test_multilabel_indicator_target():
    X, Y = make_multilabel_classification(n_samples=80, n_features=6, n_classes=3,
                                          random_state=0)
    clf = _clf(max_iter=60).fit(X, Y)
    assert_array_equal(clf.classes_, np.arange(3))
    assert clf.n_outputs_ == 3
    pred = clf.predict(X)
    assert pred.shape == Y.shape
    assert set(np.unique(pred)) <= {0, 1}
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape
    assert np.all((proba >= 0) & (proba <= 1))
    # Labels are independent: probabilities need not sum to one, and predict
    # thresholds each at 0.5.
    assert_array_equal(pred, (proba > 0.5).astype(int))
    assert (pred == Y).mean() > 0.7


def test_regression_one_dimensional_target():
    rng = np.random.RandomState(0)
    X = rng.randn(80, 3)
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.randn(80)
    reg = _reg().fit(X, y)
    pred = reg.predict(X)
    assert pred.shape == (80,)
    assert reg.n_outputs_ == 1
    assert r2_score(y, pred) > 0.8


def test_regression_multi_output_target():
    rng = np.random.RandomState(0)
    X = rng.randn(80, 3)
    Y = np.column_stack([X[:, 0] - X[:, 1], 2 * X[:, 2], X[:, 0] + 0.5 * X[:, 2]])
    reg = _reg().fit(X, Y)
    pred = reg.predict(X)
    assert pred.shape == (80, 3)
    assert reg.n_outputs_ == 3
    assert r2_score(Y, pred) > 0.8


def test_regression_column_vector_target_gives_two_dimensional_predictions():
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    y = X[:, :1] * 2.0
    assert _reg(max_iter=5).fit(X, y).predict(X).shape == (40, 1)


def test_regression_targets_are_standardized_inside():
    rng = np.random.RandomState(0)
    X = rng.randn(80, 3)
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.randn(80)
    shifted = y * 1e6 + 1e7
    reg = _reg().fit(X, shifted)
    pred = reg.predict(X)
    # The network sees the same standardized target either way ...
    assert_allclose(reg.task_.mean, [shifted.mean()])
    assert_allclose(reg.task_.scale, [shifted.std()])
    assert r2_score(shifted, pred) > 0.8
    # ... so the model equals the one on the raw scale, mapped back.
    pred_raw = _reg().fit(X, y).predict(X)
    assert_allclose(pred, pred_raw * 1e6 + 1e7, rtol=1e-6, atol=1e-3 * 1e6)
