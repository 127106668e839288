"""sknn estimators inside scikit-learn's meta-estimators and tools."""

import numpy as np
import pytest
from helpers import make_estimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import make_classification
from sklearn.ensemble import BaggingClassifier, StackingClassifier
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn import MLPClassifier, MLPRegressor

FAST = {"device": "cpu", "hidden_layer_sizes": (8,), "batch_size": 16,
        "learning_rate_init": 0.02, "max_iter": 20, "random_state": 0, "ensemble_size": 1,
        "numeric_embedding": None}


def _make(cls, **params):
    return make_estimator(cls, FAST, **params)


@pytest.fixture
def data():
    X, y = make_classification(n_samples=90, n_features=4, n_informative=3,
                               n_redundant=0, random_state=0)
    return X * 50 + 10, y  # unscaled, for the pipelines' scalers


@pytest.fixture
def regression_data():
    rng = np.random.RandomState(0)
    X = rng.randn(80, 3)
    return X, X @ np.array([2.0, -1.0, 0.5]) + 0.1 * rng.randn(80)


def test_pipeline_with_standard_scaler(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), _make(MLPClassifier)).fit(X, y)
    assert pipe.predict_proba(X).shape == (len(X), 2)
    assert pipe.score(X, y) > 0.8
    assert pipe[-1].n_features_in_ == 4


def test_grid_search_nested_parameters_in_parallel(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), _make(MLPClassifier))
    search = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(4,), (8,)]},
                          cv=2, n_jobs=2).fit(X, y)
    assert search.best_params_["mlpclassifier__hidden_layer_sizes"] in [(4,), (8,)]
    assert len(search.cv_results_["mean_test_score"]) == 2
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    best = search.best_estimator_[-1]
    assert best.hidden_layer_sizes == search.best_params_[
        "mlpclassifier__hidden_layer_sizes"]
    assert search.score(X, y) > 0.7


def test_cross_val_score(data):
    X, y = data
    scores = cross_val_score(make_pipeline(StandardScaler(), _make(MLPClassifier)),
                             X, y, cv=3)
    assert scores.shape == (3,)
    assert scores.mean() > 0.7


def test_cross_val_score_regressor(regression_data):
    X, y = regression_data
    scores = cross_val_score(_make(MLPRegressor), X, y, cv=3, scoring="r2")
    assert scores.mean() > 0.5


def test_calibrated_classifier(data):
    X, y = data
    X = StandardScaler().fit_transform(X)
    calibrated = CalibratedClassifierCV(_make(MLPClassifier), cv=2).fit(X, y)
    proba = calibrated.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert len(calibrated.calibrated_classifiers_) == 2
    assert calibrated.score(X, y) > 0.7


def test_bagging_classifier(data):
    X, y = data
    X = StandardScaler().fit_transform(X)
    bagging = BaggingClassifier(_make(MLPClassifier), n_estimators=3,
                                random_state=0).fit(X, y)
    assert len(bagging.estimators_) == 3
    assert all(isinstance(e, MLPClassifier) for e in bagging.estimators_)
    # Bagging draws a different random_state for each member.
    seeds = {e.random_state for e in bagging.estimators_}
    assert len(seeds) == 3
    assert bagging.predict_proba(X).shape == (len(X), 2)
    assert bagging.score(X, y) > 0.7


def test_stacking_classifier(data):
    X, y = data
    X = StandardScaler().fit_transform(X)
    stack = StackingClassifier(
        [("mlp", _make(MLPClassifier)), ("lr", LogisticRegression())],
        final_estimator=LogisticRegression(), cv=2,
    ).fit(X, y)
    assert stack.transform(X).shape == (len(X), 2)
    assert stack.score(X, y) > 0.7


def test_transformed_target_regressor(regression_data):
    X, y = regression_data
    y = np.exp(y / 4)
    model = TransformedTargetRegressor(_make(MLPRegressor), func=np.log,
                                       inverse_func=np.exp).fit(X, y)
    pred = model.predict(X)
    assert pred.shape == y.shape
    assert np.all(pred > 0)
    assert model.score(X, y) > 0.5


def test_permutation_importance(regression_data):
    X, y = regression_data
    reg = _make(MLPRegressor, max_iter=40).fit(X, y)
    result = permutation_importance(reg, X, y, n_repeats=3, random_state=0)
    assert result.importances_mean.shape == (3,)
    # The coefficients are 2, -1, 0.5: the first feature matters most.
    assert np.argmax(result.importances_mean) == 0
    assert result.importances_mean[0] > result.importances_mean[2]


def test_permutation_importance_classifier(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), _make(MLPClassifier)).fit(X, y)
    result = permutation_importance(pipe, X, y, n_repeats=2, random_state=0)
    assert result.importances_mean.shape == (4,)
    assert result.importances_mean.max() > 0
