"""Compression: pruned and quantized copies of fitted estimators still predict."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError

import sknn
from sknn import MLPClassifier, MLPRegressor
from sknn.compression import parameter_counts, prune, quantize

FAST = {"max_iter": 20, "n_threads": 1, "random_state": 0}


@pytest.fixture(scope="module")
def fitted():
    X, y = make_classification(300, 10, n_informative=6, random_state=0)
    return X, y, MLPClassifier((64, 64), ensemble_size=4, **FAST).fit(X, y)


def weight_sparsities(estimator):
    from sknn._lifecycle._compression import _weights

    return [float((w == 0).float().mean()) for w in _weights(estimator.net_.module_)]


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_prune_reaches_the_sparsity_and_keeps_predicting(fitted, scope):
    X, y, clf = fitted
    before = parameter_counts(clf)
    pruned = prune(clf, sparsity=0.7, scope=scope)
    assert parameter_counts(clf) == before  # the original is untouched
    sparsities = weight_sparsities(pruned)
    if scope == "layer":
        assert all(abs(s - 0.7) < 0.02 for s in sparsities)
    else:
        weights = [w for w in sknn._lifecycle._compression._weights(pruned.net_.module_)]
        zeros = sum(int((w == 0).sum()) for w in weights)
        assert abs(zeros / sum(w.numel() for w in weights) - 0.7) < 0.01
        assert max(sparsities) - min(sparsities) > 0.01  # layers differ under one threshold
    assert parameter_counts(pruned)["nonzero"] < before["nonzero"]
    assert np.mean(pruned.predict(X) == clf.predict(X)) > 0.8
    restored = pickle.loads(pickle.dumps(pruned))
    np.testing.assert_array_equal(restored.predict_proba(X), pruned.predict_proba(X))
    assert prune(clf, sparsity=0.0).predict_proba(X) == pytest.approx(clf.predict_proba(X))


@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated:UserWarning")
def test_quantize_shrinks_and_keeps_predicting(fitted):
    X, y, clf = fitted
    small = quantize(clf)
    assert small.net_.module_ is not clf.net_.module_
    assert np.mean(small.predict(X) == clf.predict(X)) > 0.95
    np.testing.assert_allclose(small.predict_proba(X), clf.predict_proba(X), atol=0.05)
    assert len(pickle.dumps(small)) < 0.6 * len(pickle.dumps(clf))
    restored = pickle.loads(pickle.dumps(small))
    np.testing.assert_array_equal(restored.predict(X), small.predict(X))
    assert parameter_counts(small)["total"] == parameter_counts(clf)["total"]
    reg = MLPRegressor((32,), ensemble_size=1, numeric_embedding=None, dtype="float64",
                       **FAST).fit(X, X[:, 0])
    quantized = quantize(reg)
    assert quantized.predict(X).dtype == np.float64
    assert np.corrcoef(quantized.predict(X), reg.predict(X))[0, 1] > 0.99


def test_prune_a_cnn():
    if not hasattr(sknn, "CNNClassifier"):
        pytest.skip("sknn has no CNNClassifier yet")
    rng = np.random.RandomState(0)
    X = rng.randn(30, 1, 12).astype(np.float32)
    y = (X.mean(axis=(1, 2)) > 0).astype(int)
    cnn = sknn.CNNClassifier(n_filters=(4,), max_iter=2, n_threads=1, random_state=0)
    pruned = prune(cnn.fit(X, y), sparsity=0.5, scope="layer")
    assert pruned.predict(X).shape == (30,)
    with pytest.raises(ValueError, match="quantize: this CNNClassifier's network has no "
                                         "hidden linear layers"):
        quantize(cnn)


def test_compression_errors_are_pinned(fitted):
    X, y, clf = fitted
    with pytest.raises(NotFittedError, match="prune: this MLPClassifier instance is not "
                                             "fitted yet"):
        prune(MLPClassifier())
    with pytest.raises(NotFittedError, match="quantize: this MLPRegressor instance is not "
                                             "fitted yet"):
        quantize(MLPRegressor())
    with pytest.raises(ValueError, match=r"prune: sparsity must be a float in \[0, 1\); "
                                         "got 1.5"):
        prune(clf, sparsity=1.5)
    with pytest.raises(ValueError, match="prune: scope must be 'global' or 'layer'; got "
                                         "'unit'"):
        prune(clf, scope="unit")
    with pytest.raises(TypeError, match="quantize expects a fitted sknn estimator"):
        quantize(torch.nn.Linear(2, 2))
    from sknn.export import to_onnx

    with pytest.raises(ValueError, match="inference_model: this MLPClassifier has int8 "
                                         "dynamically quantized layers"):
        to_onnx(quantize(clf))
