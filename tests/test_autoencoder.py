"""AutoencoderTransformer: features, reconstructions, anomaly scores, denoising."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from sknn import AutoencoderTransformer
from sknn.modules import Autoencoder, InputCorruption

FAST = {"hidden_layer_sizes": (32,), "max_iter": 60, "n_threads": 1, "random_state": 0,
        "learning_rate_init": 0.01}


@pytest.fixture(scope="module")
def low_rank():
    """Rows on a 2-d linear subspace of 6-d space (plus a little noise), two classes."""
    rng = np.random.RandomState(0)
    latent = rng.randn(300, 2)
    X = latent @ rng.randn(2, 6) * [1, 10, 100, 1, 1, 1] + 0.01 * rng.randn(300, 6)
    return X, (latent[:, 0] > 0).astype(int)


def test_codes_reconstruct_and_feature_names(low_rank):
    X, _ = low_rank
    ae = AutoencoderTransformer(2, activation="identity", **FAST).fit(X)
    codes = ae.transform(X)
    assert codes.shape == (300, 2) and codes.dtype == np.float64
    reconstructed = ae.inverse_transform(codes)
    # Relative error per feature, despite scales from 1 to 100 (standardized inside).
    error = np.abs(reconstructed - X).mean(axis=0) / np.abs(X).mean(axis=0)
    assert error.max() < 0.2
    assert ae.get_feature_names_out().tolist() == ["autoencoder0", "autoencoder1"]
    np.testing.assert_array_equal(ae.fit_transform(X), clone(ae).fit(X).transform(X))


def test_pandas_output_and_pipeline_in_front_of_an_estimator(low_rank):
    X, y = low_rank
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    pipe = make_pipeline(AutoencoderTransformer(3, **FAST), LogisticRegression())
    pipe.set_output(transform="pandas").fit(frame, y)
    assert pipe.score(frame, y) > 0.85
    features = pipe[0].transform(frame)
    assert list(features.columns) == ["autoencoder0", "autoencoder1", "autoencoder2"]
    assert features.index.equals(frame.index)
    assert list(pipe[0].feature_names_in_) == list(frame.columns)


def test_outliers_get_lower_score_samples(low_rank):
    X, _ = low_rank
    ae = AutoencoderTransformer(2, **FAST).fit(X)
    rng = np.random.RandomState(1)
    # Off the subspace, but within the range of each feature.
    outliers = rng.permutation(X.ravel()).reshape(X.shape)[:20]
    inlier_scores, outlier_scores = ae.score_samples(X), ae.score_samples(outliers)
    assert np.all(inlier_scores <= 0)
    assert np.median(outlier_scores) < np.quantile(inlier_scores, 0.05)
    # As an anomaly detector: ROC AUC of -score for outlier vs inlier.
    labels = np.r_[np.zeros(len(X)), np.ones(len(outliers))]
    scores = -np.r_[inlier_scores, outlier_scores]
    ranks = scores.argsort().argsort()
    auc = (ranks[labels == 1].mean() - (len(outliers) - 1) / 2) / len(X)
    assert auc > 0.95


@pytest.mark.parametrize("kind", ["gaussian", "masking"])
def test_denoising_corrupts_in_training_only(low_rank, kind):
    X, _ = low_rank
    ae = AutoencoderTransformer(2, noise=0.3, noise_kind=kind, **FAST).fit(X)
    module = ae.net_.module_
    assert isinstance(module.corrupt, InputCorruption) and module.corrupt.noise == 0.3
    np.testing.assert_array_equal(ae.transform(X), ae.transform(X))  # no noise at predict
    same = AutoencoderTransformer(2, noise=0.3, noise_kind=kind, **FAST).fit(X)
    np.testing.assert_array_equal(same.transform(X), ae.transform(X))  # seeded noise
    plain = AutoencoderTransformer(2, **FAST).fit(X)
    assert not np.allclose(plain.transform(X), ae.transform(X))
    # Restores corrupted rows: masked inputs are reconstructed from the others.
    corrupted = X.copy()
    corrupted[:, 0] = X[:, 0].mean()
    restored = ae.inverse_transform(ae.transform(corrupted))
    assert np.corrcoef(restored[:, 0], X[:, 0])[0, 1] > 0.8


def test_module_encodes_and_corrupts_as_documented():
    torch.manual_seed(0)
    net = Autoencoder(6, 2, (16,), noise=1.0)
    x = torch.zeros(4, 6)
    assert net.encode(x).shape == (4, 2) and net(x).shape == (4, 6)
    assert not torch.equal(net.train().corrupt(x), x)
    assert torch.equal(net.eval().corrupt(x), x)
    masked = InputCorruption(0.5, "masking").train()(torch.ones(1000, 4))
    assert set(masked.unique().tolist()) == {0.0, 1.0} and 0.4 < masked.mean() < 0.6
    with pytest.raises(ValueError, match="kind must be one of"):
        InputCorruption(0.1, "salt")


def test_autoencoder_errors_are_pinned(low_rank):
    X, _ = low_rank
    with pytest.raises(NotFittedError):
        AutoencoderTransformer().transform(X)
    ae = AutoencoderTransformer(2, **FAST).fit(X[:50])
    with pytest.raises(ValueError, match=r"AutoencoderTransformer.inverse_transform expects "
                                         r"codes with n_components=2 columns; got X with 6"):
        ae.inverse_transform(X)
    with pytest.raises(ValueError, match="X has 5 features, but AutoencoderTransformer is "
                                         "expecting 6 features"):
        ae.transform(X[:, :5])
    bad = X[:50].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="AutoencoderTransformer does not accept missing "
                                         "values encoded as NaN"):
        AutoencoderTransformer(**FAST).fit(bad)
    with pytest.raises(TypeError, match="AutoencoderTransformer: Sparse data was passed"):
        AutoencoderTransformer(**FAST).fit(sp.csr_matrix(X))
    with pytest.raises(InvalidParameterError, match="'noise_kind' parameter of "
                                                    "AutoencoderTransformer must be"):
        AutoencoderTransformer(noise_kind="salt").fit(X)
    with pytest.raises(ValueError, match="input_features is not equal to feature_names_in_"):
        AutoencoderTransformer(2, **FAST).fit(pd.DataFrame(X[:50]).add_prefix("c")) \
            .get_feature_names_out(["a"] * 6)
