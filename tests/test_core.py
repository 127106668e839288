"""Core estimator behaviour: inputs, fitted state, training control, persistence,
scikit-learn integration and bad input."""

import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from helpers import record_batch_sizes, restored_epoch
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import BaggingClassifier, StackingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import Callback

from sknn import MLPClassifier, MLPRegressor
from sknn._core._data import TensorData

FAST = dict(hidden_layer_sizes=(16,), ensemble_size=1, max_iter=10, batch_size=32,
            random_state=0)


@pytest.fixture
def clf_data():
    return make_classification(200, 6, n_informative=4, n_classes=3, random_state=0)


@pytest.fixture
def reg_data():
    return make_regression(200, 5, noise=1.0, random_state=0)


class RecordEpochs(Callback):
    """Records the module's weights and the learning rate after every epoch."""

    def initialize(self):
        self.states, self.lrs = [], []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.states.append({k: v.clone() for k, v in net.module_.state_dict().items()})
        self.lrs.append(net.optimizer_.param_groups[0]["lr"])


class InterruptAt(Callback):
    """Raises KeyboardInterrupt (a simulated Ctrl-C) at the end of an epoch."""

    def __init__(self, epoch=3):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


# -- inputs -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, bool])
def test_numeric_dtypes(clf_data, dtype):
    X, y = clf_data
    X = (X > 0) if dtype is bool else (X * 10).astype(dtype)
    proba = MLPClassifier(**FAST).fit(X, y).predict_proba(X)
    assert proba.shape == (200, 3) and np.isfinite(proba).all()


def test_dataframe_sets_feature_names(clf_data):
    X, y = clf_data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    clf = MLPClassifier(**FAST).fit(frame, y)
    assert list(clf.feature_names_in_) == list(frame.columns)
    np.testing.assert_array_equal(clf.predict_proba(frame[frame.columns[::-1]]),
                                  clf.predict_proba(frame))


def test_sparse_matches_dense_and_is_densified_per_batch(clf_data, monkeypatch):
    X, y = clf_data
    X[np.abs(X) < 0.5] = 0
    params = dict(FAST, numeric_transform="none", numeric_embedding=None,
                  dtype="float32", batch_size=32)
    dense = MLPClassifier(**params).fit(X, y).predict_proba(X)
    largest = record_batch_sizes(monkeypatch, TensorData, "_take_x")
    sparse = MLPClassifier(**params).fit(sp.csr_matrix(X), y)
    assert max(largest) == 32  # training never densified more than a batch
    np.testing.assert_allclose(sparse.predict_proba(sp.csr_matrix(X)), dense, atol=1e-5)


# -- fitted attributes --------------------------------------------------------------
def test_fitted_attributes(clf_data):
    X, y = make_classification(1500, 6, random_state=0)
    clf = MLPClassifier(**dict(FAST, max_iter=30)).fit(X, y)  # >1000 rows: early stopping
    assert list(clf.classes_) == [0, 1]
    assert clf.n_features_in_ == 6 and clf.n_outputs_ == 2
    assert clf.n_iter_ == len(clf.loss_curve_) == len(clf.validation_scores_)
    assert clf.best_validation_score_ == clf.validation_scores_[restored_epoch(clf)]
    assert clf.best_loss_ is None
    assert isinstance(clf.net_, NeuralNet)
    reg = MLPRegressor(**dict(FAST, early_stopping=False)).fit(*make_regression(50, 3))
    assert reg.validation_scores_ is None and reg.best_loss_ == min(reg.loss_curve_)


# -- training control -------------------------------------------------------------
def test_early_stopping_restores_best_weights():
    X, y = make_classification(600, 10, flip_y=0.3, random_state=0)
    recorder = RecordEpochs()
    clf = MLPClassifier(hidden_layer_sizes=(64,), ensemble_size=1, early_stopping=True,
                        n_iter_no_change=3, max_iter=100, random_state=0,
                        callbacks=[recorder]).fit(X, y)
    assert clf.n_iter_ < 100
    best = restored_epoch(clf)
    assert best < clf.n_iter_ - 1
    for name, value in clf.net_.module_.state_dict().items():
        torch.testing.assert_close(value, recorder.states[best][name])


def test_partial_fit_needs_classes_then_continues(clf_data):
    X, y = clf_data
    clf = MLPClassifier(**FAST)
    with pytest.raises(ValueError, match=r"MLPClassifier.partial_fit needs classes="):
        clf.partial_fit(X, y)
    for _ in range(5):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert clf.n_iter_ == 5
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    with pytest.raises(ValueError, match=r"MLPClassifier: y contains labels \[7\]"):
        clf.partial_fit(X[:3], [7, 7, 7])


def test_warm_start_continues_and_cold_start_restarts(clf_data):
    X, y = clf_data
    clf = MLPClassifier(**dict(FAST, warm_start=True, tol=0, n_iter_no_change=100))
    clf.fit(X, y)
    first = list(clf.loss_curve_)
    clf.fit(X, y)
    assert clf.n_iter_ == 20 and clf.loss_curve_[:10] == first
    assert clf.loss_curve_[10] < first[0]
    clf.set_params(warm_start=False).fit(X, y)
    assert clf.n_iter_ == 10


def test_random_state_reproducible_and_global_rng_untouched(clf_data):
    X, y = clf_data
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    a = MLPClassifier(**FAST).fit(X, y).predict_proba(X)
    b = MLPClassifier(**FAST).fit(X, y).predict_proba(X)
    c = MLPClassifier(**dict(FAST, random_state=1)).fit(X, y).predict_proba(X)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert torch.equal(torch_state, torch.get_rng_state())
    assert all(np.array_equal(p, q) for p, q in zip(numpy_state, np.random.get_state()))


@pytest.mark.parametrize("schedule", ["warmup_cosine", "onecycle"])
def test_learning_rate_schedules_move_the_lr(clf_data, schedule):
    X, y = clf_data
    recorder = RecordEpochs()
    MLPClassifier(**dict(FAST, learning_rate=schedule, tol=0, n_iter_no_change=100),
                  callbacks=[recorder]).fit(X, y)
    assert len(set(recorder.lrs)) == 10
    assert recorder.lrs[-1] < 1e-3 * 0.1


@pytest.mark.parametrize("solver", ["adam", "adamw", "sgd"])
def test_solvers(clf_data, solver):
    X, y = clf_data
    lr = 0.05 if solver == "sgd" else 3e-3
    clf = MLPClassifier(**dict(FAST, solver=solver, learning_rate_init=lr)).fit(X, y)
    assert clf.score(X, y) > 0.6


def test_threads_and_dtype_settings(clf_data):
    X, y = clf_data
    before = torch.get_num_threads()
    clf = MLPClassifier(**dict(FAST, n_threads=1, dtype="float64", device="cpu")).fit(X, y)
    assert torch.get_num_threads() == before
    assert clf.net_.module_dtype() == torch.float64
    clf = MLPClassifier(**dict(FAST, dtype="float32", device="auto")).fit(X, y)
    assert clf.net_.module_dtype() == torch.float32


def test_ctrl_c_keeps_the_weights_so_far(clf_data):
    X, y = clf_data
    clf = MLPClassifier(**dict(FAST, max_iter=50), callbacks=[InterruptAt(3)])
    with pytest.warns(UserWarning, match="MLPClassifier: fit was interrupted"):
        clf.fit(X, y)
    assert clf.n_iter_ == 3
    assert clf.predict(X).shape == (200,)


def test_diverging_run_raises():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 5) * 1e3
    y = X.sum(axis=1) * 1e3
    reg = MLPRegressor(**dict(FAST, solver="sgd", learning_rate_init=10.0,
                              numeric_transform="none", numeric_embedding=None))
    with pytest.raises(ValueError, match="MLPRegressor: training diverged"):
        reg.fit(X, y)
    assert not hasattr(reg, "net_") and not hasattr(reg, "n_features_in_")


# -- persistence --------------------------------------------------------------------
def test_pickle_joblib_and_clone(clf_data, tmp_path):
    X, y = clf_data
    clf = MLPClassifier(**FAST).fit(X, y)
    expected = clf.predict_proba(X)
    joblib.dump(clf, tmp_path / "model.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "model.joblib").predict_proba(X),
                                  expected)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), expected)
    with pytest.raises(NotFittedError):
        check_is_fitted(clone(clf))


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a CPU-only machine")
def test_model_saved_from_cuda_loads_on_cpu(clf_data):
    X, y = clf_data
    clf = MLPClassifier(**FAST).fit(X, y)
    expected = clf.predict_proba(X)
    clf.net_.device = "cuda"  # as pickled on a GPU machine
    payload = pickle.dumps(clf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        restored = pickle.loads(payload)
    assert str(restored.net_.device) == "cpu"
    np.testing.assert_array_equal(restored.predict_proba(X), expected)


# -- scikit-learn integration -------------------------------------------------------
def test_pipeline_grid_search_and_cross_validation(clf_data):
    X, y = clf_data
    pipe = make_pipeline(StandardScaler(), MLPClassifier(**FAST))
    grid = {"mlpclassifier__hidden_layer_sizes": [(8,), (16,)]}
    search = GridSearchCV(pipe, grid, cv=2, n_jobs=2).fit(X, y)
    assert search.best_params_["mlpclassifier__hidden_layer_sizes"] in [(8,), (16,)]
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.5


def test_meta_estimators(clf_data, reg_data):
    X, y = clf_data
    base = MLPClassifier(**FAST)
    assert CalibratedClassifierCV(base, cv=2).fit(X, y).predict_proba(X).shape == (200, 3)
    assert BaggingClassifier(base, n_estimators=2, random_state=0).fit(X, y).score(X, y) > 0.5
    stack = StackingClassifier([("mlp", base)], final_estimator=LogisticRegression(), cv=2)
    assert stack.fit(X, y).score(X, y) > 0.5
    Xr, yr = reg_data
    ttr = TransformedTargetRegressor(MLPRegressor(**FAST), func=np.arcsinh,
                                     inverse_func=np.sinh).fit(Xr, yr)
    assert ttr.predict(Xr).shape == (200,)
    result = permutation_importance(MLPRegressor(**FAST).fit(Xr, yr), Xr, yr, n_repeats=2,
                                    random_state=0)
    assert result.importances_mean.shape == (5,)


# -- bad input ------------------------------------------------------------------------
@pytest.mark.parametrize("X, y, error, message", [
    (np.zeros((0, 3)), [], ValueError, "0 sample.*MLPClassifier"),
    (np.zeros((4, 3, 2)), [0, 1, 0, 1], ValueError, "MLPClassifier"),
    (np.zeros((4, 3)), [1, 1, 1, 1], ValueError,
     "MLPClassifier needs samples of at least 2 classes"),
    (np.zeros((4, 3)), [0, 1, np.nan, 1], ValueError, "MLPClassifier.*NaN"),
    (np.zeros((4, 3)), [0, 1, 0], ValueError,
     "MLPClassifier.*inconsistent numbers of samples"),
    (np.full((4, 3), np.inf), [0, 1, 0, 1], ValueError, "MLPClassifier.*infinity"),
])
def test_bad_fit_input(X, y, error, message):
    clf = MLPClassifier(**FAST, categorical_features=None)
    with pytest.raises((ValueError, TypeError), match=message):
        clf.fit(X, y)
    assert not [k for k in vars(clf) if k.endswith("_") and not k.startswith("_")]


def test_strings_need_categorical_handling():
    X = np.array([["a", 1.0], ["b", 2.0], ["a", 3.0], ["b", 4.0]], dtype=object)
    with pytest.raises(ValueError, match="MLPClassifier: column 0 holds strings"):
        MLPClassifier(**FAST, categorical_features=None).fit(X, [0, 1, 0, 1])


def test_bad_predict_input(clf_data):
    X, y = clf_data
    clf = MLPClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="X has 5 features, but MLPClassifier is expecting 6"):
        clf.predict(X[:, :5])
    frame = pd.DataFrame(X, columns=list("abcdef"))
    clf.fit(frame, y)
    with pytest.raises(ValueError, match="(?s)MLPClassifier.*yet now missing"):
        clf.predict(frame.drop(columns="c"))


def test_bad_parameters(clf_data):
    X, y = clf_data
    with pytest.raises(InvalidParameterError, match="'solver' parameter of MLPClassifier"):
        MLPClassifier(solver="foo").fit(X, y)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="MLPClassifier: device='cuda' was requested "
                                             "but CUDA is not available"):
            MLPClassifier(**dict(FAST, device="cuda")).fit(X, y)
    with pytest.raises(ValueError, match="MLPClassifier: device='tpu' is not"):
        MLPClassifier(**dict(FAST, device="tpu")).fit(X, y)
