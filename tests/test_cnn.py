"""CNNClassifier and CNNRegressor: data layouts, architectures, training, errors."""

import pickle
import re

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted

from sknn import CNNClassifier, CNNRegressor
from sknn.modules import FCN, ImageAugment, PlainCNN, ResNet, SeriesAugment

FAST = {"n_filters": (4, 8), "kernel_size": 3, "max_iter": 4, "batch_size": 16,
        "device": "cpu", "n_threads": 1, "random_state": 0}


def _make(cls=CNNClassifier, **params):
    return cls(**{**FAST, **params})


def _series(n=40, channels=2, length=20, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, channels, length).astype(np.float32)
    y = np.where(X[:, 0, : max(1, length // 2)].mean(axis=1) > 0, "up", "down")
    return X, y


def _images(n=40, channels=1, size=10, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randint(0, 256, size=(n, channels, size, size)).astype(np.uint8)
    y = (X[:, 0, :, : size // 2].mean(axis=(1, 2)) > 127).astype(int)
    return X, y


def _convs(est):
    return {type(m) for m in est.net_.module_.modules()
            if isinstance(m, torch.nn.Conv1d | torch.nn.Conv2d)}


def _proba(est, X):
    return est.predict_proba(X)


# -- data layouts ------------------------------------------------------------------------
def test_series_3d_uses_1d_convolutions():
    X, y = _series()
    clf = _make().fit(X, y)
    assert clf.input_shape_ == (2, 20)
    assert clf.n_features_in_ == 2  # scikit-learn's X.shape[1]
    assert _convs(clf) == {torch.nn.Conv1d}
    assert clf.predict(X).shape == (40,)
    assert set(clf.classes_) == {"down", "up"}


def test_images_4d_use_2d_convolutions():
    X, y = _images(channels=3)
    clf = _make().fit(X, y)
    assert clf.input_shape_ == (3, 10, 10)
    assert _convs(clf) == {torch.nn.Conv2d}
    assert _proba(clf, X).shape == (40, 2)


def test_2d_is_one_channel_series_same_as_3d():
    X, y = _series(channels=1)
    flat = _make().fit(X[:, 0], y)
    three_d = _make().fit(X, y)
    assert flat.input_shape_ == three_d.input_shape_ == (1, 20)
    np.testing.assert_array_equal(_proba(flat, X[:, 0]), _proba(three_d, X))


@pytest.mark.parametrize("input_shape", [(1, 10, 10), (10, 10)])
def test_input_shape_reshapes_flat_images(input_shape):
    X, y = _images()
    flat = _make(input_shape=input_shape).fit(X.reshape(40, -1), y)
    assert flat.input_shape_ == (1, 10, 10)
    assert flat.n_features_in_ == 100
    four_d = _make().fit(X, y)
    np.testing.assert_array_equal(_proba(flat, X.reshape(40, -1)), _proba(four_d, X))


def test_grayscale_3d_images_with_input_shape():
    X, y = _images()
    clf = _make(input_shape=(10, 10)).fit(X[:, 0], y)
    assert clf.input_shape_ == (1, 10, 10)
    assert _convs(clf) == {torch.nn.Conv2d}
    np.testing.assert_array_equal(_proba(clf, X[:, 0]), _proba(_make().fit(X, y), X))


def test_uint8_pixels_are_scaled_to_unit_range():
    X, y = _images()
    from_uint8 = _make().fit(X, y)
    from_float = _make().fit(X.astype(np.float32) / 255, y)
    np.testing.assert_array_equal(_proba(from_uint8, X),
                                  _proba(from_float, X.astype(np.float32) / 255))


def test_other_lengths_and_sizes_at_predict():
    X, y = _series()
    clf = _make().fit(X, y)
    assert clf.predict(X[:5, :, :13]).shape == (5,)
    images, labels = _images()
    assert _make().fit(images, labels).predict(_images(size=16)[0][:3]).shape == (3,)


@pytest.mark.parametrize("architecture", ["plain", "fcn", "resnet"])
@pytest.mark.parametrize("length", [1, 2, 5])
def test_series_shorter_than_kernels_are_zero_padded(architecture, length):
    X, y = _series(length=length)
    clf = _make(architecture=architecture, kernel_size=None).fit(X, y)
    assert clf.predict(X).shape == (40,)


# -- architectures ---------------------------------------------------------------------
@pytest.mark.parametrize(("architecture", "module"),
                         [("resnet", ResNet), ("fcn", FCN), ("plain", PlainCNN)])
@pytest.mark.parametrize("data", [_series, _images], ids=["series", "images"])
def test_architectures(architecture, module, data):
    X, y = data()
    clf = _make(architecture=architecture, dropout=0.2).fit(X, y)
    assert isinstance(clf.net_.module_, module)
    assert np.isfinite(_proba(clf, X)).all()


def test_defaults_follow_wang_et_al():
    X, y = _series(n=20, length=8)
    resnet = CNNClassifier(max_iter=1, device="cpu", n_threads=1).fit(X, y)
    widths = [m.out_channels for m in resnet.net_.module_.modules()
              if isinstance(m, torch.nn.Conv1d) and m.kernel_size != (1,)]
    kernels = [m.kernel_size[0] for m in resnet.net_.module_.modules()
               if isinstance(m, torch.nn.Conv1d) and m.kernel_size != (1,)]
    assert widths == [64] * 3 + [128] * 6
    assert kernels == [8, 5, 3] * 3
    fcn = CNNClassifier("fcn", max_iter=1, device="cpu", n_threads=1).fit(X, y)
    assert [m.out_channels for m in fcn.net_.module_.modules()
            if isinstance(m, torch.nn.Conv1d)] == [128, 256, 128]


def test_n_filters_sets_depth_and_width():
    X, y = _series()
    clf = _make(architecture="fcn", n_filters=(3, 5, 7, 9)).fit(X, y)
    assert [m.out_channels for m in clf.net_.module_.modules()
            if isinstance(m, torch.nn.Conv1d)] == [3, 5, 7, 9]
    assert clf.net_.module_.head.in_features == 9


def test_regressor_on_series():
    X, _ = _series()
    y = X[:, 0].sum(axis=1)
    reg = _make(CNNRegressor, max_iter=30, learning_rate_init=0.01).fit(X, y)
    assert reg.predict(X).shape == (40,)
    assert reg.score(X, y) > 0.5
    multi = _make(CNNRegressor).fit(X, np.c_[y, -y])
    assert multi.predict(X).shape == (40, 2)


# -- augmentation ----------------------------------------------------------------------
@pytest.mark.parametrize(("data", "augment", "module"), [
    (_series, True, SeriesAugment), (_series, ["jitter"], SeriesAugment),
    (_images, True, ImageAugment), (_images, ["shift", "flip"], ImageAugment),
], ids=["series-default", "series-jitter", "images-default", "images-flip"])
def test_augment_only_in_training(data, augment, module):
    X, y = data()
    plain = _make().fit(X, y)
    augmented = _make(augment=augment).fit(X, y)
    assert isinstance(augmented.net_.module_.augment, module)
    assert plain.net_.module_.augment is None
    assert not np.array_equal(_proba(plain, X), _proba(augmented, X))
    # Deterministic at predict time: evaluation mode switches it off.
    np.testing.assert_array_equal(_proba(augmented, X), _proba(augmented, X))
    again = _make(augment=augment).fit(X, y)
    np.testing.assert_array_equal(_proba(augmented, X), _proba(again, X))


def test_augment_modules_keep_shapes_and_act_in_training_only():
    x = torch.randn(8, 2, 30)
    aug = SeriesAugment()
    assert torch.equal(aug.eval()(x), x)
    assert aug.train()(x).shape == x.shape and not torch.equal(aug(x), x)
    images = torch.randn(8, 1, 12, 12)
    assert ImageAugment(("shift", "flip")).train()(images).shape == images.shape


# -- the core behaviour ----------------------------------------------------------------
def test_random_state_is_bit_identical():
    X, y = _series()
    a, b = _make().fit(X, y), _make().fit(X, y)
    np.testing.assert_array_equal(_proba(a, X), _proba(b, X))
    assert a.loss_curve_ == b.loss_curve_
    other = _make(random_state=1).fit(X, y)
    assert not np.array_equal(_proba(a, X), _proba(other, X))


def test_early_stopping_holds_out_validation():
    X, y = _series(n=60)
    clf = _make(early_stopping=True, max_iter=30, n_iter_no_change=2).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.n_iter_ < 30


def test_sample_weight_and_class_weight_change_the_fit():
    X, y = _series()
    base = _proba(_make().fit(X, y), X)
    weights = np.where(y == "up", 5.0, 1.0)
    assert not np.array_equal(_proba(_make().fit(X, y, sample_weight=weights), X), base)
    assert not np.array_equal(_proba(_make(class_weight="balanced").fit(X, y), X), base)
    scaled = _proba(_make().fit(X, y, sample_weight=np.full(40, 3.0)), X)
    np.testing.assert_allclose(scaled, base, rtol=1e-5, atol=1e-6)


def test_layer_norm_makes_weights_train_as_repeats():
    X, y = _series(n=20)
    weights = np.arange(20) % 3
    params = {"normalization": "layer", "batch_size": 256, "dtype": "float64"}
    weighted = _make(**params).fit(X, y, sample_weight=weights)
    repeated = _make(**params).fit(np.repeat(X, weights, axis=0), np.repeat(y, weights))
    np.testing.assert_allclose(_proba(weighted, X), _proba(repeated, X), rtol=1e-6)
    assert not any(isinstance(m, torch.nn.BatchNorm1d)
                   for m in weighted.net_.module_.modules())


def test_auto_batch_size_and_epochs():
    def plan(estimator, n_train, input_shape):
        estimator.input_shape_ = input_shape
        return estimator._training_plan(n_train)

    est = CNNClassifier()
    assert [plan(est, n, (1, 24)).batch_size for n in (10, 36, 50, 7200)] == [10, 12, 13, 64]
    assert plan(est, 36, (1, 24)).max_epochs == 100  # ItalyPowerDemand: 100 epochs
    assert plan(est, 7200, (1, 28, 28)).max_epochs == 8  # 8,000 images: 8 epochs
    assert plan(est, 36, (3, 6)).max_epochs == 100  # 18 values: a series, not a table's columns
    for short in [(1, 4), (1, 16), (2, 8)]:  # at most 16 values: a table's columns
        assert plan(est, 112, short).max_epochs == 30
        assert plan(est, 20_000, short).max_epochs == 8  # the cap only lowers the bound
    assert plan(CNNClassifier(max_iter=3), 36, (1, 24)).max_epochs == 3


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_persistence(dump, tmp_path):
    X, y = _series()
    clf = _make(augment=True).fit(X, y)
    if dump == "pickle":
        loaded = pickle.loads(pickle.dumps(clf))
    else:
        joblib.dump(clf, tmp_path / "model.joblib")
        loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(_proba(loaded, X), _proba(clf, X))
    assert loaded.input_shape_ == clf.input_shape_


def test_pipeline_and_grid_search_on_flat_images():
    X, y = _images()
    flat = X.reshape(40, -1).astype(np.float64)
    pipe = make_pipeline(StandardScaler(), _make(input_shape=(10, 10)))
    search = GridSearchCV(pipe, {"cnnclassifier__architecture": ["plain", "resnet"]},
                          cv=2).fit(flat, y)
    assert search.best_estimator_[-1].input_shape_ == (1, 10, 10)
    assert search.predict(flat).shape == (40,)


def test_warm_start_and_partial_fit_continue():
    X, y = _series()
    clf = _make(warm_start=True).fit(X, y)
    clf.fit(X, y)
    assert clf.n_iter_ == 2 * FAST["max_iter"]
    inc = _make().partial_fit(X, y, classes=["down", "up"]).partial_fit(X, y)
    assert inc.n_iter_ == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda():
    X, y = _images()
    clf = _make(device="cuda", augment=True).fit(X, y)
    assert next(clf.net_.module_.parameters()).is_cuda
    assert clf.predict(X).shape == (40,)


# -- bad input: clear errors that name the estimator and the shapes --------------------
@pytest.fixture(params=[CNNClassifier, CNNRegressor], ids=["clf", "reg"])
def cls(request):
    return request.param


def _target(cls, X):
    return np.arange(len(X)) % 2 if cls is CNNClassifier else np.linspace(0, 1, len(X))


def _assert_unfitted(est):
    assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("__")]


@pytest.mark.parametrize("shape", [(30,), (30, 1, 2, 3, 4)])
def test_wrong_number_of_dimensions(cls, shape):
    X = np.zeros(shape, dtype=np.float32)
    est = _make(cls)
    with pytest.raises(ValueError, match=re.escape(
            f"{cls.__name__} expects 2-D X (n_samples, n_features), time series (n_samples, "
            "n_channels, n_timepoints) or images (n_samples, n_channels, height, width); "
            f"got {len(shape)}-D X of shape {shape}")):
        est.fit(X, _target(cls, X))
    _assert_unfitted(est)


def test_channel_count_mismatch_at_predict(cls):
    X, _ = _series(channels=2)
    est = _make(cls).fit(X, _target(cls, X))
    with pytest.raises(ValueError, match=re.escape(
            f"{cls.__name__} was fitted on series of 2 channels (samples of shape (2, 20)); "
            "got X of shape (5, 3, 20), read as series of 3 channels (samples of shape "
            "(3, 20))")):
        est.predict(np.zeros((5, 3, 20), dtype=np.float32))
    with pytest.raises(ValueError, match=re.escape(
            f"{cls.__name__} was fitted on series of 2 channels (samples of shape (2, 20)); "
            "got X of shape (5, 2, 8, 8), read as images of 2 channels")):
        est.predict(np.zeros((5, 2, 8, 8), dtype=np.float32))


def test_feature_count_mismatch_for_flat_input(cls):
    X, _ = _series(channels=1)
    est = _make(cls).fit(X[:, 0], _target(cls, X))
    with pytest.raises(ValueError, match=f"X has 19 features, but {cls.__name__} is "
                                         "expecting 20 features as input"):
        est.predict(X[:, 0, :19])


def test_input_shape_that_does_not_fit_the_data(cls):
    X = np.zeros((30, 50), dtype=np.float32)
    with pytest.raises(ValueError, match=re.escape(
            f"{cls.__name__}: cannot read X of shape (30, 50) as samples of "
            "input_shape=(7, 7): each sample has 50 values, input_shape needs 49.")):
        _make(cls, input_shape=(7, 7)).fit(X, _target(cls, X))
    with pytest.raises(ValueError, match=re.escape(
            f"{cls.__name__}: input_shape must be (n_timepoints,), (height, width) or "
            "(n_channels, height, width) of positive integers; got (0, 50).")):
        _make(cls, input_shape=(0, 50)).fit(X, _target(cls, X))


def test_empty_series(cls):
    X = np.zeros((30, 2, 0), dtype=np.float32)
    est = _make(cls)
    with pytest.raises(ValueError, match=re.escape(
            f"{cls.__name__}: every sample needs at least one channel and one value along "
            "each axis; got X of shape (30, 2, 0)")):
        est.fit(X, _target(cls, X))
    _assert_unfitted(est)


@pytest.mark.parametrize("where", ["fit", "predict"])
def test_nan_in_series(cls, where):
    X, _ = _series()
    bad = X.copy()
    bad[3, 1, 7] = np.nan
    est = _make(cls)
    match = re.escape(f"{cls.__name__}: Input X contains NaN. (X of shape (40, 2, 20))")
    if where == "fit":
        with pytest.raises(ValueError, match=match):
            est.fit(bad, _target(cls, X))
        _assert_unfitted(est)
    else:
        est.fit(X, _target(cls, X))
        with pytest.raises(ValueError, match=match):
            est.predict(bad)


def test_non_numeric_arrays(cls):
    X = np.full((30, 2, 5), "a")
    with pytest.raises(ValueError, match=re.escape(
            f"{cls.__name__}: dtype='numeric' is not compatible with arrays of "
            "bytes/strings") + r".*" + re.escape("(X of shape (30, 2, 5))")):
        _make(cls).fit(X, _target(cls, X))
    with pytest.raises(TypeError, match=f"{cls.__name__}: Sparse data was passed"):
        _make(cls).fit(sp.csr_matrix(np.ones((30, 5))), _target(cls, X))


def test_bad_architecture_parameters(cls):
    X, _ = _series()
    y = _target(cls, X)
    with pytest.raises(ValueError, match=re.escape(
            f"{cls.__name__}: n_filters must be a positive integer or a non-empty sequence "
            "of them; got []")):
        _make(cls, n_filters=[]).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'architecture' parameter"):
        _make(cls, architecture="vgg").fit(X, y)
    images, _ = _images()
    with pytest.raises(ValueError, match=re.escape(
            f"{cls.__name__}: augment=['jitter'] is not available for images; use True or "
            "some of ('shift', 'flip').")):
        _make(cls, augment=["jitter"]).fit(images, _target(cls, images))


def test_failed_fit_leaves_no_state(cls):
    X, _ = _series()
    est = _make(cls, n_filters=[0])
    with pytest.raises(ValueError, match="n_filters"):
        est.fit(X, _target(cls, X))
    _assert_unfitted(est)
    with pytest.raises(Exception, match="not fitted"):
        check_is_fitted(clone(est))
