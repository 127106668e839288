"""Export: ONNX graphs and torch.export programs that reproduce predict_proba/predict."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

import sknn
from sknn import MLPClassifier, MLPRegressor
from sknn.export import inference_model, prepare_input, to_onnx, to_torch_export

ort = pytest.importorskip(
    "onnxruntime", reason="onnxruntime is not installed (pip install 'sknn[export]')")
pytest.importorskip("onnx", reason="onnx is not installed (pip install 'sknn[export]')")

FAST = {"max_iter": 5, "n_threads": 1, "random_state": 0}


def run_onnx(estimator, X):
    session = ort.InferenceSession(to_onnx(estimator), providers=["CPUExecutionProvider"])
    return session.run(None, {"X": prepare_input(estimator, X)})[0]


def expected(estimator, X):
    if hasattr(estimator, "predict_proba"):
        return estimator.predict_proba(X)
    return estimator.predict(X)


def mixed_frame(n=80, seed=0):
    rng = np.random.RandomState(seed)
    frame = pd.DataFrame({
        "age": rng.normal(40, 10, n),
        "hours": rng.randint(0, 5, n).astype(float),  # repeated quantiles: steps
        "city": rng.choice(["a", "b", "c", None], n),
        "flag": rng.rand(n) > 0.5,
    })
    frame.loc[::7, "age"] = np.nan
    return frame


@pytest.mark.parametrize("ensemble_size", [1, 4])
@pytest.mark.parametrize("numeric_transform", ["quantile", "standard", "none"])
def test_onnx_matches_predict_proba_on_a_mixed_table(ensemble_size, numeric_transform):
    X = mixed_frame()
    y = np.where(X["hours"] > 2, "yes", "no")
    clf = MLPClassifier((16,), ensemble_size=ensemble_size,
                        numeric_transform=numeric_transform, **FAST).fit(X, y)
    # Unseen category, missing values, values outside the training range.
    X_new = mixed_frame(30, seed=1)
    X_new.loc[0, "city"] = "never seen"
    X_new.loc[1, "age"] = 1e6
    np.testing.assert_allclose(run_onnx(clf, X_new), clf.predict_proba(X_new), atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("embedding", ["piecewise_linear", "periodic", None])
def test_onnx_matches_predict_of_a_regressor_on_numeric_arrays(dtype, embedding):
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    X[::5, 1] = np.nan
    y = np.column_stack([np.nan_to_num(X).sum(axis=1) * 100 + 5, X[:, 0]])
    for target in (y[:, 0], y):
        reg = MLPRegressor((16,), ensemble_size=2, numeric_embedding=embedding,
                           dtype=dtype, **FAST).fit(X, target)
        out = run_onnx(reg, X)
        assert out.shape == target.shape
        assert np.allclose(prepare_input(reg, X), X, equal_nan=True)
        np.testing.assert_allclose(out, reg.predict(X), rtol=1e-5, atol=1e-5 * 100)


def test_onnx_multilabel_and_sparse():
    import scipy.sparse as sp

    rng = np.random.RandomState(0)
    X = sp.random(40, 6, density=0.5, format="csr", random_state=0)
    y = (rng.rand(40, 3) > 0.5).astype(int)
    clf = MLPClassifier((8,), **FAST).fit(X, y)
    np.testing.assert_allclose(run_onnx(clf, X), clf.predict_proba(X), atol=1e-5)


def test_onnx_of_a_cnn():
    if not hasattr(sknn, "CNNClassifier"):
        pytest.skip("sknn has no CNNClassifier yet")
    rng = np.random.RandomState(0)
    X = rng.randn(24, 2, 16).astype(np.float32)
    y = (X[:, 0].mean(axis=1) > 0).astype(int)
    clf = sknn.CNNClassifier(n_filters=(4,), max_iter=2, n_threads=1, random_state=0,
                             augment=True).fit(X, y)
    np.testing.assert_allclose(run_onnx(clf, X), clf.predict_proba(X), atol=1e-5)
    images = rng.randint(0, 256, (20, 36)).astype(np.uint8)
    reg = sknn.CNNRegressor(architecture="plain", n_filters=(4,), input_shape=(6, 6),
                            max_iter=2, n_threads=1, random_state=0)
    reg.fit(images, images.mean(axis=1))
    assert prepare_input(reg, images).shape == (20, 1, 6, 6)
    np.testing.assert_allclose(run_onnx(reg, images), reg.predict(images), rtol=1e-5,
                               atol=1e-4)


def test_onnx_of_a_transformer_on_a_table_and_on_series():
    small = {"d_token": 8, "n_blocks": 1, "n_heads": 2, **FAST}
    X = mixed_frame()
    y = (X["age"].fillna(40) > 40).to_numpy()
    table = sknn.TransformerClassifier(**small).fit(X, y)
    # The [CLS] token follows the batch: a graph traced on 2 rows serves 80.
    np.testing.assert_allclose(run_onnx(table, X), table.predict_proba(X), atol=1e-5)
    rng = np.random.RandomState(0)
    series = rng.randn(30, 2, 16).astype(np.float32)
    reg = sknn.TransformerRegressor(**small).fit(series, series[:, 0].mean(axis=1))
    np.testing.assert_allclose(run_onnx(reg, series), reg.predict(series), rtol=1e-5,
                               atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_onnx_of_an_rnn_and_of_float64_sequence_networks(cell):
    rng = np.random.RandomState(0)
    X = rng.randn(40, 2, 7)
    y = (X[:, 0].mean(axis=1) > 0).astype(int)
    clf = sknn.RNNClassifier(cell=cell, bidirectional=True, pooling="attention",
                             dtype="float64", **FAST).fit(X, y)
    assert clf.net_.module_dtype() == torch.float64
    np.testing.assert_allclose(run_onnx(clf, X), clf.predict_proba(X), atol=1e-5)
    reg = sknn.RNNRegressor(cell=cell, pooling="mean", dtype="float64", **FAST).fit(
        X, X[:, 1, -1])
    np.testing.assert_allclose(run_onnx(reg, X), reg.predict(X), rtol=1e-5, atol=1e-5)
    cnn = sknn.CNNClassifier(n_filters=(4,), dtype="float64", **FAST).fit(X, y)
    assert cnn.net_.module_dtype() == torch.float64
    np.testing.assert_allclose(run_onnx(cnn, X), cnn.predict_proba(X), atol=1e-5)


def test_onnx_written_to_path_and_torch_export_round_trip(tmp_path):
    X = mixed_frame()
    y = X["age"].fillna(0).to_numpy()
    reg = MLPRegressor((8,), ensemble_size=2, **FAST).fit(X, y)
    data = to_onnx(reg, tmp_path / "model.onnx", opset_version=14)
    assert (tmp_path / "model.onnx").read_bytes() == data
    inputs = torch.as_tensor(prepare_input(reg, X))
    np.testing.assert_allclose(_exported_outputs(reg, inputs, tmp_path), reg.predict(X),
                               rtol=1e-6)
    with torch.no_grad():
        np.testing.assert_allclose(inference_model(reg)(inputs).numpy(), reg.predict(X),
                                   rtol=1e-6)


def _exported_outputs(estimator, inputs, tmp_path):
    """The outputs of ``estimator`` written by ``to_torch_export`` and loaded back."""
    to_torch_export(estimator, tmp_path / "model.pt2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's note on CPU weights
        loaded = torch.export.load(tmp_path / "model.pt2").module()
    with torch.no_grad():
        return loaded(inputs).numpy()


@pytest.mark.parametrize("numeric_embedding", ["piecewise_linear", "periodic"])
def test_torch_export_of_numeric_embeddings_round_trips(tmp_path, numeric_embedding):
    # Continuous columns get piecewise-linear embeddings by default; their cached
    # bin search reads buffer values, which a traced graph does not have.
    rng = np.random.RandomState(0)
    X = rng.randn(300, 3)
    reg = MLPRegressor(numeric_embedding=numeric_embedding, **FAST).fit(X, X.sum(axis=1))
    inputs = torch.as_tensor(prepare_input(reg, X))
    np.testing.assert_allclose(_exported_outputs(reg, inputs, tmp_path), reg.predict(X),
                               rtol=1e-5, atol=1e-6)


def test_export_errors_are_pinned():
    X, y = np.random.RandomState(0).randn(20, 3), np.arange(20) % 2
    with pytest.raises(NotFittedError, match="to_onnx: this MLPClassifier instance is "
                                              "not fitted yet"):
        to_onnx(MLPClassifier())
    with pytest.raises(TypeError, match="to_torch_export expects a fitted sknn estimator .*"
                                        "got LogisticRegression"):
        from sklearn.linear_model import LogisticRegression

        to_torch_export(LogisticRegression().fit(X, y))
    clf = MLPClassifier((4,), **FAST).fit(X, y)
    with pytest.raises(ValueError, match="to_onnx: opset_version must be an integer from "
                                         "14 to 20; got 9"):
        to_onnx(clf, opset_version=9)
    with pytest.raises(ValueError, match="X has 2 features, but MLPClassifier is expecting 3"):
        prepare_input(clf, X[:, :2])
