"""Persistence: pickle and joblib round-trips, clone, CUDA-trained models on a CPU."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from helpers import make_estimator
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from sknn import MLPClassifier, MLPRegressor

FAST = {"device": "cpu", "hidden_layer_sizes": (16,), "batch_size": 16,
        "learning_rate_init": 0.01, "max_iter": 5, "random_state": 0, "ensemble_size": 1,
        "numeric_embedding": None}
DEFAULT_ARCH = {"device": "cpu", "hidden_layer_sizes": (16,), "max_iter": 3,
                "random_state": 0}


def _make(cls, base=FAST, **params):
    return make_estimator(cls, base, **params)


@pytest.fixture
def data():
    return make_classification(n_samples=60, n_features=4, n_informative=3,
                               n_redundant=0, random_state=0)


def _fitted(data, cls=MLPClassifier, base=FAST):
    X, y = data
    if cls is MLPRegressor:
        y = X[:, 0] * 3.0 + 1.0
    return _make(cls, base).fit(X, y)


def _outputs(est, X):
    if hasattr(est, "predict_proba"):
        return est.predict_proba(X)
    return est.predict(X)


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("base", [FAST, DEFAULT_ARCH], ids=["plain", "default_arch"])
def test_pickle_round_trip(data, cls, base):
    X, _ = data
    est = _fitted(data, cls, base)
    loaded = pickle.loads(pickle.dumps(est))
    assert np.array_equal(_outputs(loaded, X), _outputs(est, X))
    assert np.array_equal(loaded.predict(X), est.predict(X))
    assert loaded.n_iter_ == est.n_iter_
    assert loaded.loss_curve_ == est.loss_curve_


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_joblib_round_trip(data, cls, tmp_path):
    X, _ = data
    est = _fitted(data, cls)
    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    loaded = joblib.load(path)
    assert np.array_equal(_outputs(loaded, X), _outputs(est, X))
    assert loaded.get_params() == est.get_params()


def test_loaded_model_keeps_training(data):
    X, y = data
    est = _fitted(data)
    loaded = pickle.loads(pickle.dumps(est))
    loaded.partial_fit(X, y)
    assert loaded.n_iter_ == est.n_iter_ + 1
    # The original is untouched.
    assert np.array_equal(est.predict_proba(X),
                          pickle.loads(pickle.dumps(est)).predict_proba(X))


def test_unfitted_estimator_pickles(data):
    est = pickle.loads(pickle.dumps(_make(MLPClassifier)))
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    X, y = data
    assert est.fit(X, y).predict(X).shape == (len(X),)


def test_clone_of_fitted_estimator_is_unfitted(data):
    est = _fitted(data)
    cloned = clone(est)
    assert cloned.get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        check_is_fitted(cloned)
    assert not hasattr(cloned, "net_")
    assert not any(k.endswith("_") and not k.startswith("__") for k in vars(cloned))
    with pytest.raises(NotFittedError, match="MLPClassifier"):
        cloned.predict(data[0])


def test_clone_is_independent(data):
    X, y = data
    est = _fitted(data)
    before = est.predict_proba(X)
    clone(est).set_params(max_iter=2).fit(X, y)
    assert np.array_equal(est.predict_proba(X), before)


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a CPU-only machine")
def test_model_trained_on_cuda_loads_on_cpu(data):
    X, _ = data
    est = _fitted(data)
    expected = est.predict_proba(X)
    est.net_.device = "cuda"  # as if trained on a GPU
    payload = pickle.dumps(est)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = pickle.loads(payload)
    assert any("CUDA" in str(w.message) or "cuda" in str(w.message) for w in caught)
    assert torch.device(loaded.net_.device).type == "cpu"
    assert next(loaded.net_.module_.parameters()).device.type == "cpu"
    assert np.array_equal(loaded.predict_proba(X), expected)
