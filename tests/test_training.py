"""Training: fitted attributes, early stopping, partial_fit, warm_start,
random_state, schedules, solvers, devices, threads and dtypes."""

import copy

import numpy as np
import pytest
import torch
from helpers import make_estimator, restored_epoch
from numpy.testing import assert_allclose
from sklearn.datasets import make_classification
from skorch import NeuralNet
from skorch.callbacks import Callback

from sknn import MLPClassifier, MLPRegressor

FAST = {"device": "cpu", "hidden_layer_sizes": (16,), "batch_size": 16,
        "learning_rate_init": 0.01, "max_iter": 10, "random_state": 0, "ensemble_size": 1,
        "numeric_embedding": None}


def _make(cls, base=FAST, **params):
    return make_estimator(cls, base, **params)


@pytest.fixture
def data():
    return make_classification(n_samples=100, n_features=5, n_informative=3,
                               n_redundant=0, random_state=0)


class Recorder(Callback):
    """Record something about the net at the end of every epoch."""

    def __init__(self, what):
        self.what = what

    def initialize(self):
        self.records_ = []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.records_.append(self.what(net))


class BatchLrRecorder(Callback):
    """Record the learning rate after every training step."""

    def initialize(self):
        self.records_ = []
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.records_.append(net.optimizer_.param_groups[0]["lr"])


def _state(net):
    return copy.deepcopy(net.module_.state_dict())


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


# -- fitted attributes ------------------------------------------------------------
def test_fitted_attributes_classifier(data):
    X, y = data
    clf = _make(MLPClassifier, max_iter=7, n_iter_no_change=50).fit(X, y)
    assert isinstance(clf.net_, NeuralNet)
    assert isinstance(clf.net_.module_, torch.nn.Module)
    assert isinstance(clf.classes_, np.ndarray)
    assert clf.classes_.tolist() == [0, 1]
    assert clf.n_features_in_ == 5
    assert not hasattr(clf, "feature_names_in_")
    assert clf.n_outputs_ == 2
    assert isinstance(clf.n_iter_, int) and clf.n_iter_ == 7
    assert isinstance(clf.loss_curve_, list) and len(clf.loss_curve_) == clf.n_iter_
    assert all(isinstance(v, float) and np.isfinite(v) for v in clf.loss_curve_)
    assert clf.validation_scores_ is None
    assert clf.best_validation_score_ is None
    assert clf.best_loss_ == min(clf.loss_curve_)


def test_fitted_attributes_regressor():
    rng = np.random.RandomState(0)
    X = rng.randn(50, 3)
    reg = _make(MLPRegressor, max_iter=4, n_iter_no_change=50).fit(X, X[:, :2])
    assert reg.n_features_in_ == 3
    assert reg.n_outputs_ == 2
    assert reg.n_iter_ == 4 and len(reg.loss_curve_) == 4
    assert not hasattr(reg, "classes_")
    assert isinstance(reg.net_, NeuralNet)


def test_fitted_attributes_with_early_stopping(data):
    X, y = data
    clf = _make(MLPClassifier, early_stopping=True, validation_fraction=0.2,
                max_iter=15, n_iter_no_change=3).fit(X, y)
    assert isinstance(clf.validation_scores_, list)
    assert len(clf.validation_scores_) == clf.n_iter_ == len(clf.loss_curve_)
    assert all(0.0 <= s <= 1.0 for s in clf.validation_scores_)
    assert isinstance(clf.best_validation_score_, float)
    assert clf.best_validation_score_ == clf.validation_scores_[restored_epoch(clf)]
    assert clf.best_loss_ is None


# -- early stopping -----------------------------------------------------------------
def test_early_stopping_restores_best_weights(data):
    X, y = data
    recorder = Recorder(_state)
    clf = _make(MLPClassifier, early_stopping=True, validation_fraction=0.2,
                max_iter=100, n_iter_no_change=3, callbacks=[recorder]).fit(X, y)
    assert clf.n_iter_ < 100, "an easy problem should stop early"
    assert len(recorder.records_) == clf.n_iter_
    best_epoch = restored_epoch(clf)
    assert best_epoch < clf.n_iter_ - 1
    _assert_same_state(clf.net_.module_.state_dict(), recorder.records_[best_epoch])
    last = recorder.records_[-1]
    assert any(not torch.equal(last[k], v)
               for k, v in clf.net_.module_.state_dict().items())


def test_early_stopping_regressor_scores_are_r2():
    rng = np.random.RandomState(0)
    X = rng.randn(100, 3)
    y = X @ np.array([1.0, 2.0, -1.0])
    reg = _make(MLPRegressor, early_stopping=True, max_iter=30).fit(X, y)
    # Squared error and R² rank the epochs of a 1-D target alike.
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    assert reg.best_validation_score_ > 0.5


# -- partial_fit --------------------------------------------------------------------
def test_partial_fit_classifier_requires_classes_first(data):
    X, y = data
    clf = _make(MLPClassifier)
    with pytest.raises(ValueError, match=r"MLPClassifier.partial_fit needs classes="):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "n_iter_")


def test_partial_fit_continues(data):
    X, y = data
    clf = _make(MLPClassifier)
    losses = []
    for call in range(1, 6):
        clf.partial_fit(X, y, classes=[0, 1] if call == 1 else None)
        assert clf.n_iter_ == call
        assert len(clf.loss_curve_) == call
        losses.append(clf.loss_curve_[-1])
    assert np.all(np.diff(losses) < 0), losses
    # Later calls may repeat the same classes.
    clf.partial_fit(X, y, classes=[1, 0])
    assert clf.n_iter_ == 6


def test_partial_fit_regressor_continues():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = X @ np.array([1.0, 2.0, -1.0]) + 100.0
    reg = _make(MLPRegressor)
    for call in range(1, 5):
        reg.partial_fit(X, y)
        assert reg.n_iter_ == call
    assert np.all(np.diff(reg.loss_curve_) < 0)
    # The standardization of the first call is kept.
    assert_allclose(reg.task_.mean, [y.mean()])
    reg.partial_fit(X[:10], y[:10] + 1000.0)
    assert_allclose(reg.task_.mean, [y.mean()])


def test_warm_start_continues_and_cold_start_restarts(data):
    X, y = data
    params = {"max_iter": 5, "n_iter_no_change": 50}
    warm = _make(MLPClassifier, warm_start=True, **params).fit(X, y)
    first_curve = list(warm.loss_curve_)
    warm.fit(X, y)
    assert warm.n_iter_ == 10
    assert warm.loss_curve_[:5] == first_curve
    assert warm.loss_curve_[5] < first_curve[0]
    assert warm.loss_curve_[5] < first_curve[-1] + 1e-3

    cold = _make(MLPClassifier, warm_start=False, **params).fit(X, y)
    cold.fit(X, y)
    assert cold.n_iter_ == 5
    assert cold.loss_curve_ == first_curve
    # Switching warm_start on later continues from the current weights too.
    cold.set_params(warm_start=True).fit(X, y)
    assert cold.n_iter_ == 10


# -- random_state -------------------------------------------------------------------
@pytest.mark.parametrize("params", [FAST, {**FAST, "ensemble_size": 8, "dropout": 0.2,
                                           "numeric_embedding": "auto"}],
                         ids=["plain", "ensemble_dropout_embedding"])
def test_same_seed_is_bit_identical(data, params):
    X, y = data
    a = _make(MLPClassifier, params, max_iter=4).fit(X, y).predict_proba(X)
    b = _make(MLPClassifier, params, max_iter=4).fit(X, y).predict_proba(X)
    c = _make(MLPClassifier, params, max_iter=4, random_state=1).fit(X, y).predict_proba(X)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_random_state_instance_and_early_stopping_split_are_reproducible(data):
    X, y = data
    params = {"early_stopping": True, "max_iter": 5}
    a = _make(MLPClassifier, random_state=np.random.RandomState(3), **params).fit(X, y)
    b = _make(MLPClassifier, random_state=np.random.RandomState(3), **params).fit(X, y)
    assert a.validation_scores_ == b.validation_scores_
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))


def test_fit_leaves_global_random_states_alone(data):
    X, y = data
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()
    clf = _make(MLPClassifier, dropout=0.3, early_stopping=True, max_iter=4).fit(X, y)
    clf.predict_proba(X)
    clf.partial_fit(X, y)
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert after[0] == numpy_state[0]
    assert np.array_equal(after[1], numpy_state[1])
    assert after[2:] == numpy_state[2:]


# -- learning-rate schedules, solvers, devices, threads, dtypes -------------------
@pytest.mark.parametrize("schedule", ["warmup_cosine", "onecycle"])
def test_learning_rate_schedules_change_the_lr(data, schedule):
    X, y = data
    per_epoch = Recorder(lambda net: net.optimizer_.param_groups[0]["lr"])
    per_step = BatchLrRecorder()
    clf = _make(MLPClassifier, learning_rate=schedule, max_iter=20,
                n_iter_no_change=100, callbacks=[per_epoch, per_step]).fit(X, y)
    assert len(per_epoch.records_) == clf.n_iter_ == 20
    epoch_lrs = np.array(per_epoch.records_)
    assert len(np.unique(epoch_lrs)) == 20  # a new rate every epoch
    assert epoch_lrs[-1] < 0.01 * 0.05  # decays to (almost) zero
    steps = np.array(per_step.records_)
    assert len(steps) == 20 * 7  # 100 rows in batches of 16
    peak = int(np.argmax(steps))
    assert 0 < peak < len(steps) - 1  # warms up, then decays
    assert steps.max() == pytest.approx(0.01, rel=0.05)
    assert steps[0] < 0.5 * steps.max()
    assert np.all(np.diff(steps[peak:]) <= 1e-15)


def test_constant_learning_rate_stays(data):
    X, y = data
    recorder = Recorder(lambda net: net.optimizer_.param_groups[0]["lr"])
    _make(MLPClassifier, max_iter=5, learning_rate="constant", callbacks=[recorder]).fit(X, y)
    assert recorder.records_ == [0.01] * 5


def test_warm_start_follows_the_current_schedule_rate_and_alpha(data):
    X, y = data  # 100 rows: 7 batches of 16 per epoch
    steps = BatchLrRecorder()
    clf = _make(MLPClassifier, max_iter=5, n_iter_no_change=100, warm_start=True,
                learning_rate="constant", callbacks=[steps]).fit(X, y)
    assert steps.records_ == [0.01] * 35
    clf.set_params(learning_rate="warmup_cosine", learning_rate_init=0.02, alpha=1e-3,
                   max_iter=8).fit(X, y)
    decaying = np.array(steps.records_[35:])
    assert len(decaying) == 8 * 7 and clf.n_iter_ == 13
    assert decaying.max() == pytest.approx(0.02, rel=0.05)
    assert decaying[-1] < 0.02 * 0.01  # the schedule spans this call's 8 epochs
    assert clf.net_.optimizer_.param_groups[0]["weight_decay"] == 1e-3
    clf.set_params(learning_rate="constant", max_iter=2).fit(X, y)
    assert steps.records_[35 + 56:] == [0.02] * 14
    clf.partial_fit(X, y)  # partial_fit goes on with the rate it has
    assert steps.records_[-7:] == [0.02] * 7


def test_a_user_lr_scheduler_works_with_the_constant_rate(data):
    from skorch.callbacks import LRScheduler

    X, y = data
    recorder = BatchLrRecorder()
    _make(MLPClassifier, max_iter=3, n_iter_no_change=100, learning_rate="constant", callbacks=[
        LRScheduler("StepLR", step_size=1, gamma=0.5), recorder]).fit(X, y)
    assert recorder.records_ == [0.01] * 7 + [0.005] * 7 + [0.0025] * 7


class FailAtEpochEnd(Callback):
    """Raise at the end of an epoch once armed: a fit that fails mid-training."""

    armed = False

    def on_epoch_end(self, net, **kwargs):
        if self.armed:
            raise RuntimeError("stop")


def test_a_failed_warm_start_restores_the_rate_and_schedule(data):
    X, y = data
    failing = FailAtEpochEnd()
    clf = _make(MLPClassifier, max_iter=2, warm_start=True, learning_rate="constant",
                callbacks=[failing]).fit(X, y)
    schedule = dict(clf.net_.callbacks_)["lr_schedule"]
    before = dict(vars(schedule))
    clf.set_params(learning_rate="onecycle", learning_rate_init=0.5, max_iter=5)
    failing.armed = True
    with pytest.raises(RuntimeError, match="stop"):
        clf.fit(X, y)
    assert clf.net_.lr == 0.01 and vars(schedule) == before
    assert clf.net_.optimizer_.param_groups[0]["lr"] == 0.01


@pytest.mark.parametrize("solver, optimizer", [("adam", torch.optim.Adam),
                                               ("adamw", torch.optim.AdamW),
                                               ("sgd", torch.optim.SGD)])
def test_solvers_fit(data, solver, optimizer):
    X, y = data
    clf = _make(MLPClassifier, solver=solver, max_iter=20).fit(X, y)
    assert type(clf.net_.optimizer_) is optimizer
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.score(X, y) > 0.7


@pytest.mark.parametrize("device", ["cpu", "auto", torch.device("cpu")])
def test_devices(data, device):
    X, y = data
    clf = _make(MLPClassifier, device=device, max_iter=3).fit(X, y)
    expected = "cuda" if device == "auto" and torch.cuda.is_available() else "cpu"
    assert torch.device(clf.net_.device).type == expected
    assert next(clf.net_.module_.parameters()).device.type == expected
    assert clf.predict(X).shape == (len(X),)


def test_n_threads_only_during_fit(data):
    X, y = data
    previous = torch.get_num_threads()
    outside = 2 if previous == 1 else previous
    recorder = Recorder(lambda net: torch.get_num_threads())
    try:
        torch.set_num_threads(outside)
        _make(MLPClassifier, n_threads=1, max_iter=3, callbacks=[recorder]).fit(X, y)
        assert recorder.records_ == [1, 1, 1]
        assert torch.get_num_threads() == outside
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize("dtype, X_dtype, expected", [
    ("float32", np.float64, torch.float32),
    ("float64", np.float32, torch.float64),
    ("auto", np.float64, torch.float64),
    ("auto", np.float32, torch.float32),
])
def test_dtype(data, dtype, X_dtype, expected):
    X, y = data
    X = X.astype(X_dtype)
    clf = _make(MLPClassifier, dtype=dtype, max_iter=3).fit(X, y)
    assert clf.net_.module_dtype() == expected
    assert all(p.dtype == expected for p in clf.net_.module_.parameters())
    assert clf.predict_proba(X).dtype == np.dtype(str(expected).split(".")[1])
    reg = _make(MLPRegressor, dtype=dtype, max_iter=3).fit(X, X[:, 0])
    assert reg.net_.module_dtype() == expected
    assert reg.predict(X).dtype == np.float64


def test_auto_dtype_uses_float32_for_large_inputs():
    X = np.zeros((20_001, 5))
    X[:, 0] = np.arange(20_001) % 2
    y = X[:, 0].astype(int)
    clf = _make(MLPClassifier, max_iter=1, batch_size=20_001, early_stopping=False)
    assert clf.fit(X, y).net_.module_dtype() == torch.float32


def _subnormal_count(tensors):
    return sum(int(((t != 0) & (t.abs() < torch.finfo(t.dtype).tiny)).sum())
               for t in tensors if torch.is_tensor(t) and t.is_floating_point())


def _net_tensors(net):
    state = [v for s in net.optimizer_.state.values() for v in s.values()]
    return list(net.module_.parameters()) + list(net.module_.buffers()) + state


def _planted_subnormals(net):
    """Put subnormal values into the first weight and its Adam state."""
    weight = next(net.module_.parameters())
    tiny = torch.finfo(weight.dtype).tiny
    with torch.no_grad():
        weight.view(-1)[:3] = torch.tensor([tiny / 4, -tiny / 8, tiny], dtype=weight.dtype)
    net.optimizer_.state[weight]["exp_avg"].view(-1)[:2] = tiny / 16
    return weight


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_flush_subnormals_zeroes_weights_and_optimizer_state(data, dtype):
    X, y = data
    clf = _make(MLPClassifier, dtype=dtype, max_iter=2).fit(X, y)
    net = clf.net_
    weight = _planted_subnormals(net)
    untouched = [t.clone() for t in _net_tensors(net)]
    assert _subnormal_count(_net_tensors(net)) == 4
    net.flush_subnormals_()
    assert _subnormal_count(_net_tensors(net)) == 0
    # The smallest normal number stays; only the subnormal values became 0.
    assert weight.view(-1)[2] == torch.finfo(weight.dtype).tiny
    for before, after in zip(untouched, _net_tensors(net)):
        changed = before != after
        assert (after[changed] == 0).all()
        assert (before[changed].abs() < torch.finfo(before.dtype).tiny).all()


def test_fit_leaves_no_subnormal_weights_or_state():
    # Piecewise-linear bins that no row reaches (a 3-valued column) only decay
    # under weight decay and Adam's averages: without the flush, about a hundred
    # of their values end below float32's smallest normal in this fit.
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=400), rng.integers(0, 3, 400),
                         rng.normal(size=400)]).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    clf = MLPClassifier(hidden_layer_sizes=(16,), batch_size=16, max_iter=60,
                        numeric_embedding="piecewise_linear", ensemble_size=2,
                        random_state=0).fit(X, y)
    assert clf.net_.module_dtype() == torch.float32
    assert _subnormal_count(_net_tensors(clf.net_)) == 0


def test_warm_start_and_loaded_files_flush_planted_subnormals(data, tmp_path):
    import sknn

    X, y = data
    clf = _make(MLPClassifier, dtype="float32", max_iter=2, warm_start=True).fit(X, y)
    _planted_subnormals(clf.net_)
    path = tmp_path / "model.sknn"
    sknn.save(clf, path)
    loaded = sknn.load(path)
    assert _subnormal_count(_net_tensors(loaded.net_)) == 0
    assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), rtol=0, atol=1e-12)
    clf.fit(X, y)
    assert _subnormal_count(_net_tensors(clf.net_)) == 0


@pytest.mark.parametrize("flushing_before", [False, True])
def test_training_flushes_subnormals_on_its_thread_and_restores_the_setting(
        data, flushing_before):
    from sknn._core._process import _flushing_subnormals

    X, y = data
    recorder = Recorder(lambda net: _flushing_subnormals())
    try:
        torch.set_flush_denormal(flushing_before)
        _make(MLPClassifier, max_iter=2, callbacks=[recorder]).fit(X, y)
        assert recorder.records_ == [True, True]
        assert _flushing_subnormals() == flushing_before
    finally:
        torch.set_flush_denormal(False)


def test_flushing_reaches_the_openmp_workers_and_restores_them():
    # Flushed on the calling thread only, the workers' share of each parallel
    # operation stayed subnormal, and a default model of a 50-column table
    # predicted 2-3x slower when other PyTorch work had created the workers.
    import threading

    from sknn._core import _openmp
    from sknn._core._process import subnormals_flushed

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        if _openmp._gomp_parallel() is None:
            pytest.skip("PyTorch's OpenMP runtime here is not libgomp")
        tiny = torch.full((1_000_000,), 1e-30)
        torch.set_flush_denormal(False)
        (tiny * 2).sum()  # the workers exist, not flushing
        with subnormals_flushed():
            assert not (tiny * 1e-10).any()  # every thread's share flushed
        assert (tiny * 1e-10).all()  # every thread restored
        with subnormals_flushed(workers=False):
            assert (tiny * 1e-10).any()  # the workers' share
        seen = set()
        assert _openmp.on_each_thread(lambda: seen.add(threading.get_native_id()))
        assert len(seen) == 2 and threading.get_native_id() in seen
        with pytest.raises(ZeroDivisionError):
            _openmp.on_each_thread(lambda: 1 / 0)
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(threads)


@pytest.mark.parametrize("flushing_before", [False, True])
def test_prediction_flushes_subnormals_on_its_thread_and_restores_the_setting(
        data, flushing_before):
    # Products of decayed (tiny but normal) weights are subnormal; on x86 each one
    # takes a slow path, and a default model of a wide table predicted 1.7-1.9x
    # faster flushed (benchmarks/RESULTS.md). Outputs do not change.
    import sknn
    import sknn._core._process as process

    X, y = data
    clf = _make(MLPClassifier, max_iter=2).fit(X, y)
    seen = []
    clf.net_.module_.register_forward_hook(
        lambda *_: seen.append(process._flushing_subnormals()))
    try:
        torch.set_flush_denormal(flushing_before)
        proba = clf.predict_proba(X)
        assert seen and all(seen)
        assert process._flushing_subnormals() == flushing_before
        torch.set_flush_denormal(False)
        with sknn.config_context(flush_subnormals=False):  # IEEE subnormals
            np.testing.assert_array_equal(clf.predict_proba(X), proba)
    finally:
        torch.set_flush_denormal(False)


def _learning_rates(model):
    return [group["lr"] for group in model.net_.optimizer_.param_groups]


@pytest.mark.parametrize("learning_rate", ["warmup_cosine", "onecycle"])
def test_partial_fit_keeps_learning_after_max_iter_calls_and_after_fit(learning_rate):
    """A decaying schedule spans fit's max_iter epochs; partial_fit calls, which have
    no horizon, train at learning_rate_init instead of at a rate decayed to zero."""
    X, y = make_classification(64, 5, random_state=0)
    model = _make(MLPClassifier, learning_rate=learning_rate, max_iter=3,
                  learning_rate_init=0.01)
    for _ in range(10):  # more calls than the schedule's max_iter epochs
        model.partial_fit(X, y, classes=[0, 1])
    assert _learning_rates(model) == [0.01]
    before = copy.deepcopy(model.net_.module_.state_dict())
    model.partial_fit(X, y)
    assert any(not torch.equal(before[key], value)
               for key, value in model.net_.module_.state_dict().items())

    fitted = _make(MLPClassifier, learning_rate=learning_rate, max_iter=3,
                   learning_rate_init=0.01).fit(X, y)
    assert _learning_rates(fitted)[0] < 1e-3  # the schedule decayed over fit
    fitted.partial_fit(X, y)
    assert _learning_rates(fitted) == [0.01]
    fitted.set_params(warm_start=True).fit(X, y)  # a fit restarts the schedule
    assert _learning_rates(fitted)[0] < 1e-3
