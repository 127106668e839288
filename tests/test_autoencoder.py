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
from sknn.modules import Autoencoder, ConvAutoencoder, InputCorruption

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


# -- convolutional autoencoder ------------------------------------------------------------
CONV = {"architecture": "cnn", "n_threads": 1, "random_state": 0}


def _sines(n=200, length=40, seed=0):
    """Noisy sine waves of random frequency, phase and amplitude, (n, 1, length)."""
    rng = np.random.RandomState(seed)
    t = np.linspace(0, 1, length)
    waves = np.sin(2 * np.pi * (rng.uniform(1, 3, (n, 1)) * t + rng.uniform(0, 1, (n, 1))))
    return (rng.uniform(0.5, 2, (n, 1)) * waves + 0.05 * rng.randn(n, length))[:, None, :]


def _reconstruction_error(ae, X):
    return np.mean((ae.inverse_transform(ae.transform(X)) - X.reshape(len(X), -1)) ** 2)


def test_convolutional_autoencoder_beats_the_mean_image_on_digits():
    from sklearn.datasets import load_digits

    X, _ = load_digits(return_X_y=True)
    train, test = X[:500], X[500:800]
    ae = AutoencoderTransformer(8, input_shape=(8, 8), max_iter=15, batch_size=50,
                                **CONV).fit(train)
    assert isinstance(ae.net_.module_, ConvAutoencoder) and ae.input_shape_ == (1, 8, 8)
    mean_image = np.mean((test - train.mean(axis=0)) ** 2)
    assert _reconstruction_error(ae, test) < 0.6 * mean_image
    # 4-D images train the same network as flat rows read by input_shape.
    images = AutoencoderTransformer(8, max_iter=2, **CONV).fit(train.reshape(-1, 1, 8, 8))
    flat = AutoencoderTransformer(8, input_shape=(8, 8), max_iter=2, **CONV).fit(train)
    np.testing.assert_allclose(images.transform(test.reshape(-1, 1, 8, 8)),
                               flat.transform(test))


def test_convolutional_autoencoder_on_series_and_anomalies():
    X = _sines()
    train, test = X[:150], X[150:]
    ae = AutoencoderTransformer(4, max_iter=10, batch_size=30, **CONV).fit(train)
    assert ae.input_shape_ == (1, 40) and ae.transform(test).shape == (50, 4)
    mean_series = np.mean((test - train.mean(axis=0)) ** 2)
    assert _reconstruction_error(ae, test) < 0.5 * mean_series
    noise = np.random.RandomState(1).randn(5, 1, 40)
    assert ae.score_samples(noise).max() < np.median(ae.score_samples(test))
    assert ae.get_feature_names_out().tolist() == [f"autoencoder{i}" for i in range(4)]


@pytest.mark.parametrize("input_shape, n_filters, kernel_size", [
    ((3, 7, 5), (4, 6), 4), ((2, 9), (4,), 3), ((1, 1), (2, 2, 2), 5),
])
def test_conv_module_reconstructs_any_sample_shape(input_shape, n_filters, kernel_size):
    net = ConvAutoencoder(input_shape, 3, n_filters, kernel_size)
    rows = torch.zeros(4, int(np.prod(input_shape)))
    assert net.encode(rows).shape == (4, 3)
    assert net(rows).shape == rows.shape


def test_convolutional_autoencoder_errors_are_pinned():
    X = _sines(30, 12)
    ae = AutoencoderTransformer(2, max_iter=1, **CONV).fit(X)
    with pytest.raises(ValueError, match=r"AutoencoderTransformer was fitted on samples of "
                       r"shape \(1, 12\); got X of shape \(30, 1, 10\), read as samples of "
                       r"shape \(1, 10\)"):
        ae.transform(X[:, :, :10])
    with pytest.raises(ValueError, match=r"AutoencoderTransformer: cannot read X of shape "
                       r"\(30, 1, 12\) as samples of input_shape=\(5,\)"):
        AutoencoderTransformer(input_shape=(5,), **CONV).fit(X)
    with pytest.raises(ValueError, match=r"AutoencoderTransformer: n_filters must be a "
                       r"positive integer or a non-empty sequence of them; got \(\)"):
        AutoencoderTransformer(n_filters=(), **CONV).fit(X)
    with pytest.raises(InvalidParameterError, match="'architecture' parameter of "
                       "AutoencoderTransformer must be a str among"):
        AutoencoderTransformer(architecture="conv").fit(X[:, 0])
    with pytest.raises(ValueError, match="Found array with dim 3, while dim <= 2 is "
                       "required by AutoencoderTransformer"):
        AutoencoderTransformer(max_iter=1).fit(X)  # 'mlp' reads 2-D X only
