"""sample_weight and class_weight weight the training loss (and the score)."""

import numpy as np
import pytest
from helpers import make_estimator
from numpy.testing import assert_allclose
from sklearn.datasets import make_classification
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.model_selection import train_test_split

from sknn import MLPClassifier, MLPRegressor

# Full-batch training (batch_size >= n_samples) is deterministic and sees every
# row in every step, so a weight of 2 is exactly a duplicated row. SGD keeps
# float rounding differences (summation order) at rounding level; Adam divides
# near-zero gradients by their own magnitude and would amplify them.
FAST = {"device": "cpu", "hidden_layer_sizes": (16,), "batch_size": 1000,
        "solver": "sgd", "learning_rate_init": 0.05, "max_iter": 25, "random_state": 0,
        "ensemble_size": 1, "numeric_embedding": None}
# The estimator's default architecture (ensemble, numeric embeddings, quantile
# scaling) learns its preprocessing with the weights too.
DEFAULT_ARCH = {"device": "cpu", "hidden_layer_sizes": (16,), "batch_size": 1000,
                "solver": "sgd", "learning_rate_init": 0.05, "max_iter": 8,
                "random_state": 0}


# Input scaling left out, where the estimator has it.
NO_SCALING = {"numeric_transform": "none"}


def _make(cls, base=FAST, **params):
    return make_estimator(cls, base, **params)


@pytest.fixture
def data():
    X, y = make_classification(n_samples=40, n_features=4, n_informative=3,
                               n_redundant=0, random_state=0)
    return X, y


@pytest.mark.parametrize("base", [FAST, DEFAULT_ARCH], ids=["plain", "default_arch"])
def test_weight_two_equals_duplicated_row_classifier(data, base):
    X, y = data
    weights = np.ones(len(X))
    weights[[3, 17]] = 2.0
    X_dup = np.vstack([X, X[[3, 17]]])
    y_dup = np.concatenate([y, y[[3, 17]]])
    weighted = _make(MLPClassifier, base).fit(X, y, sample_weight=weights)
    duplicated = _make(MLPClassifier, base).fit(X_dup, y_dup)
    unweighted = _make(MLPClassifier, base).fit(X, y)
    assert weighted.n_iter_ == duplicated.n_iter_
    assert_allclose(weighted.loss_curve_, duplicated.loss_curve_, rtol=1e-9)
    assert_allclose(weighted.predict_proba(X), duplicated.predict_proba(X),
                    rtol=1e-6, atol=1e-9)
    # ... and the weights really changed the model.
    assert not np.allclose(weighted.predict_proba(X), unweighted.predict_proba(X),
                           rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("base", [FAST, DEFAULT_ARCH], ids=["plain", "default_arch"])
def test_weight_two_equals_duplicated_row_regressor(base):
    rng = np.random.RandomState(0)
    X = rng.randn(30, 3)
    y = X @ np.array([1.0, -1.0, 2.0]) + rng.randn(30)
    weights = np.ones(30)
    weights[[0, 5, 9]] = 2.0
    rows = [0, 5, 9]
    weighted = _make(MLPRegressor, base).fit(X, y, sample_weight=weights)
    duplicated = _make(MLPRegressor, base).fit(np.vstack([X, X[rows]]),
                                               np.concatenate([y, y[rows]]))
    # The target standardization is weighted too.
    assert_allclose(weighted.task_.mean, duplicated.task_.mean)
    assert_allclose(weighted.task_.scale, duplicated.task_.scale)
    assert_allclose(weighted.predict(X), duplicated.predict(X), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("base", [FAST, DEFAULT_ARCH], ids=["plain", "default_arch"])
def test_zero_weight_equals_removed_rows(data, base):
    X, y = data
    keep = np.ones(len(X), dtype=bool)
    keep[[1, 2, 30]] = False
    weighted = _make(MLPClassifier, base).fit(X, y, sample_weight=keep.astype(float))
    removed = _make(MLPClassifier, base).fit(X[keep], y[keep])
    assert_allclose(weighted.predict_proba(X), removed.predict_proba(X),
                    rtol=1e-6, atol=1e-9)


def test_uniform_weights_change_nothing(data):
    X, y = data
    plain = _make(MLPClassifier).fit(X, y)
    uniform = _make(MLPClassifier).fit(X, y, sample_weight=np.full(len(X), 3.0))
    assert np.array_equal(plain.predict_proba(X), uniform.predict_proba(X))


def test_score_uses_sample_weight(data):
    X, y = data
    clf = _make(MLPClassifier, max_iter=3).fit(X, y)
    pred = clf.predict(X)
    weights = np.where(pred == y, 0.1, 5.0)  # up-weight the mistakes
    assert (pred != y).any()
    expected = accuracy_score(y, pred, sample_weight=weights)
    assert clf.score(X, y, sample_weight=weights) == pytest.approx(expected)
    assert clf.score(X, y, sample_weight=weights) < clf.score(X, y)


def test_class_weight_balanced_improves_balanced_accuracy():
    gains = []
    for seed in range(4):
        X, y = make_classification(n_samples=400, n_features=5, n_informative=3,
                                   weights=[0.95], flip_y=0, class_sep=0.8,
                                   random_state=seed)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.5, stratify=y, random_state=0)
        scores = {}
        for class_weight in [None, "balanced"]:
            clf = _make(MLPClassifier, batch_size="auto", solver="adam",
                        learning_rate_init=1e-3, max_iter=30, class_weight=class_weight)
            clf.fit(X_train, y_train)
            scores[class_weight] = balanced_accuracy_score(y_test, clf.predict(X_test))
        gains.append(scores["balanced"] - scores[None])
    assert np.mean(gains) > 0.1


def test_class_weight_dict_equals_sample_weight(data):
    # class_weight weights the loss; input scaling (fitted with sample_weight
    # only) is left out so that the two runs see the same inputs.
    X, y = data
    base = {**FAST, **NO_SCALING}
    by_class = _make(MLPClassifier, base, class_weight={0: 1.0, 1: 3.0}).fit(X, y)
    by_row = _make(MLPClassifier, base).fit(
        X, y, sample_weight=np.where(y == 1, 3.0, 1.0))
    plain = _make(MLPClassifier, base).fit(X, y)
    assert_allclose(by_class.predict_proba(X), by_row.predict_proba(X),
                    rtol=1e-6, atol=1e-9)
    # Up-weighting class 1 raises its predicted probability on average.
    assert by_class.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean()


def test_class_weight_multiplies_sample_weight(data):
    X, y = data
    sample_weight = np.linspace(0.5, 2.0, len(X))
    base = {**FAST, **NO_SCALING}
    both = _make(MLPClassifier, base, class_weight={0: 2.0, 1: 1.0})
    both.fit(X, y, sample_weight=sample_weight)
    by_row = _make(MLPClassifier, base).fit(
        X, y, sample_weight=sample_weight * np.where(y == 0, 2.0, 1.0))
    assert_allclose(both.predict_proba(X), by_row.predict_proba(X), rtol=1e-6, atol=1e-9)
