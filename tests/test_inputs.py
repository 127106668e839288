"""Inputs: numpy dtypes, pandas DataFrames, scipy sparse CSR."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from helpers import make_estimator
from numpy.testing import assert_allclose, assert_array_equal

from sknn import MLPClassifier, MLPRegressor

FAST = {"device": "cpu", "hidden_layer_sizes": (16,), "batch_size": 16,
        "learning_rate_init": 0.01, "max_iter": 10, "random_state": 0, "ensemble_size": 1,
        "numeric_embedding": None}
# Features fed to the network as they are, where the estimator has the option.
NO_SCALING = {"numeric_transform": "none"}


def _make(cls, base=FAST, **params):
    return make_estimator(cls, base, **params)


@pytest.fixture
def int_data():
    rng = np.random.RandomState(0)
    X = rng.randint(-3, 4, size=(60, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, bool])
def test_numpy_dtypes(int_data, dtype):
    X, y = int_data
    X = X.astype(dtype)
    clf = _make(MLPClassifier).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    assert np.isfinite(proba).all()
    assert clf.n_features_in_ == 4
    assert clf.predict(X).shape == (len(X),)
    reg = _make(MLPRegressor).fit(X, y.astype(float))
    assert reg.predict(X).shape == (len(X),)


def test_integer_inputs_equal_float64(int_data):
    X, y = int_data
    reference = _make(MLPClassifier).fit(X.astype(np.float64), y).predict_proba(X)
    for dtype in (np.int32, np.int64):
        proba = _make(MLPClassifier).fit(X.astype(dtype), y).predict_proba(X.astype(dtype))
        assert_allclose(proba, reference, rtol=1e-6, atol=1e-9)


def test_float32_input_trains_in_float32_under_auto(int_data):
    X, y = int_data
    assert _make(MLPClassifier).fit(X.astype(np.float32), y).net_.module_dtype() == (
        torch.float32)
    assert _make(MLPClassifier).fit(X.astype(np.float64), y).net_.module_dtype() == (
        torch.float64)


@pytest.fixture
def frame_data():
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.randn(60, 3), columns=["alpha", "beta", "gamma"])
    y = (X["alpha"] - X["gamma"] > 0).astype(int).to_numpy()
    return X, y


def test_dataframe_sets_feature_names(frame_data):
    X, y = frame_data
    clf = _make(MLPClassifier).fit(X, y)
    assert isinstance(clf.feature_names_in_, np.ndarray)
    assert_array_equal(clf.feature_names_in_, ["alpha", "beta", "gamma"])
    assert clf.n_features_in_ == 3
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        proba_array = clf.predict_proba(X.to_numpy())
    assert_allclose(clf.predict_proba(X), proba_array, rtol=1e-12)


def test_array_fit_has_no_feature_names(frame_data):
    X, y = frame_data
    clf = _make(MLPClassifier).fit(X.to_numpy(), y)
    assert not hasattr(clf, "feature_names_in_")


def test_dataframe_with_reordered_columns_is_matched_by_name(frame_data):
    X, y = frame_data
    clf = _make(MLPClassifier).fit(X, y)
    reordered = X[["gamma", "alpha", "beta"]]
    assert_allclose(clf.predict_proba(reordered), clf.predict_proba(X), rtol=1e-12)


def test_dataframe_with_missing_column_raises(frame_data):
    X, y = frame_data
    clf = _make(MLPClassifier).fit(X, y)
    with pytest.raises(ValueError, match=r"MLPClassifier: The feature names should match"
                                         r"(.|\n)*missing:\n- beta"):
        clf.predict(X[["alpha", "gamma"]])


def test_dataframe_regression(frame_data):
    X, _ = frame_data
    y = X["alpha"] * 2 - X["beta"]
    reg = _make(MLPRegressor).fit(X, y)
    assert_array_equal(reg.feature_names_in_, X.columns)
    assert reg.predict(X).shape == (len(X),)


@pytest.fixture
def sparse_data():
    rng = np.random.RandomState(0)
    dense = rng.randn(80, 10) * (rng.rand(80, 10) < 0.3)
    y = (dense[:, 0] + dense[:, 1] - dense[:, 2] > 0).astype(int)
    return dense, y


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csr_array])
def test_sparse_csr_equals_dense(sparse_data, container):
    dense, y = sparse_data
    base = {**FAST, **NO_SCALING}
    from_sparse = _make(MLPClassifier, base).fit(container(dense), y)
    from_dense = _make(MLPClassifier, base).fit(dense, y)
    proba = from_sparse.predict_proba(container(dense))
    assert_allclose(proba, from_dense.predict_proba(dense), rtol=1e-6, atol=1e-9)
    # A model fitted on sparse data predicts dense data the same way.
    assert_allclose(from_sparse.predict_proba(dense), proba, rtol=1e-9, atol=1e-12)


def test_sparse_regression_equals_dense(sparse_data):
    dense, _ = sparse_data
    y = dense[:, 0] - 2 * dense[:, 3]
    base = {**FAST, **NO_SCALING}
    pred_sparse = _make(MLPRegressor, base).fit(sp.csr_matrix(dense), y).predict(dense)
    pred_dense = _make(MLPRegressor, base).fit(dense, y).predict(dense)
    assert_allclose(pred_sparse, pred_dense, rtol=1e-6, atol=1e-8)


def test_sparse_is_densified_one_batch_at_a_time(sparse_data, monkeypatch):
    dense, y = sparse_data
    X = sp.csr_matrix(dense)
    densified = []
    original_toarray = sp.csr_matrix.toarray

    def recording_toarray(self, *args, **kwargs):
        densified.append(self.shape[0])
        return original_toarray(self, *args, **kwargs)

    def forbidden_todense(self, *args, **kwargs):
        raise AssertionError("sparse X was densified with todense")

    monkeypatch.setattr(sp.csr_matrix, "toarray", recording_toarray)
    monkeypatch.setattr(sp.csr_matrix, "todense", forbidden_todense)
    clf = _make(MLPClassifier, batch_size=16, max_iter=3).fit(X, y)
    assert densified, "training never densified a batch"
    assert max(densified) <= 16
    # Prediction densifies at most predict_batch_size rows at once.
    densified.clear()
    clf.net_.predict_batch_size = 32
    proba = clf.predict_proba(X)
    assert max(densified) <= 32
    assert sum(densified) == X.shape[0]
    monkeypatch.undo()
    assert_allclose(proba, clf.predict_proba(dense), rtol=1e-9)


def test_sparse_training_data_stays_sparse(sparse_data):
    """The tensor data the net trains on keeps X as a CSR matrix; batches are dense."""
    from sknn._core._data import BatchIterator, TensorData, as_tensor

    dense, y = sparse_data
    X = as_tensor(sp.csr_matrix(dense), torch.device("cpu"), torch.float32)
    assert sp.issparse(X)
    data = TensorData(X, torch.as_tensor(y), device="cpu")
    batches = list(BatchIterator(data, batch_size=32))
    assert [len(b[0]) for b in batches] == [32, 32, 16]
    assert all(isinstance(b[0], torch.Tensor) and b[0].layout == torch.strided
               for b in batches)
    assert_allclose(torch.cat([b[0] for b in batches]).numpy(), dense.astype(np.float32))


def _token_ids(n):
    from sknn.text import TokenArray

    rng = np.random.RandomState(0)
    return rng.randint(1, 9, size=(n, 6)).view(TokenArray)


@pytest.mark.parametrize("make, X, kind, mask", [
    (lambda: MLPClassifier(**FAST), lambda: np.random.RandomState(0).rand(30, 3),
     "table", False),
    (lambda: _small("CNNClassifier"), lambda: np.random.RandomState(0).rand(30, 1, 8, 8),
     "series", False),
    (lambda: _small("RNNClassifier"),
     lambda: [np.ones((1, 3 + i % 4)) * i for i in range(30)], "masked sequence", True),
    (lambda: _small("RNNClassifier"), lambda: _token_ids(30), "tokens", True),
    (lambda: _small("TransformerClassifier"),
     lambda: pd.DataFrame({"a": np.arange(30.0), "b": list("xy") * 15}), "table", False),
    (lambda: _small("TransformerClassifier"), lambda: np.random.RandomState(0).rand(30, 2, 9),
     "series", False),
    (lambda: _small("TransformerClassifier"),
     lambda: [np.ones((1, 3 + i % 4)) * i for i in range(30)], "masked sequence", True),
    (lambda: _small("TransformerClassifier"), lambda: _token_ids(30), "tokens", True),
])
def test_each_estimator_holds_the_input_adapter_of_the_data_it_was_fitted_on(
        make, X, kind, mask):
    estimator = make().fit(X(), np.arange(30) % 2)
    assert estimator._input.kind == kind
    assert estimator._input.step_mask_channel is mask
    # Fine-tuning compares these words; a fitted estimator always has them.
    assert isinstance(estimator._input.layout(estimator), str)


def _small(name):
    import sknn

    return getattr(sknn, name)(max_iter=2, random_state=0, n_threads=1, device="cpu")
