"""Faults during training: CUDA out of memory, crashes with checkpoints, failing searches."""

import os
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch
from helpers import rewrite_sknn_file
from numpy.testing import assert_array_equal
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

from sknn import MLPClassifier, MLPRegressor
from sknn.callbacks import Checkpoint
from sknn.modules.mlp import MLP

FAST = dict(hidden_layer_sizes=(8,), ensemble_size=1, numeric_embedding=None,
            early_stopping=False, random_state=0)


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(64, 3)
    return X, (X[:, 0] + 0.3 * rng.randn(64) > 0).astype(int)


@pytest.fixture
def memory_for_rows(monkeypatch):
    """Make training forward passes of more than ``rows`` rows run out of CUDA memory."""
    limit = {"rows": None, "failures": 0}
    forward = MLP.forward

    def limited_forward(module, X):
        if module.training and limit["rows"] is not None and len(X) > limit["rows"]:
            limit["failures"] += 1
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return forward(module, X)

    monkeypatch.setattr(MLP, "forward", limited_forward)
    return limit


# -- CUDA out of memory -----------------------------------------------------------
def test_out_of_memory_retries_with_half_the_batch(data, memory_for_rows):
    X, y = data
    memory_for_rows["rows"] = 16
    with pytest.warns(UserWarning) as record:
        retried = MLPClassifier(batch_size=64, max_iter=5, **FAST).fit(X, y)
    messages = [str(w.message) for w in record if "out of memory" in str(w.message)]
    assert messages == [
        "MLPClassifier: CUDA ran out of memory training with batch_size=64; retrying the "
        "fit with batch_size=32.",
        "MLPClassifier: CUDA ran out of memory training with batch_size=32; retrying the "
        "fit with batch_size=16.",
    ]
    assert memory_for_rows["failures"] == 2
    assert retried.net_.batch_size == 16
    # The retry is a fresh fit from the same seed: the model a batch of 16 gives.
    direct = MLPClassifier(batch_size=16, max_iter=5, **FAST).fit(X, y)
    assert retried.loss_curve_ == direct.loss_curve_
    assert_array_equal(retried.predict_proba(X), direct.predict_proba(X))


def test_out_of_memory_once_retries_once(data, memory_for_rows, monkeypatch):
    X, y = data
    forward = MLP.forward
    failed = []

    def fails_once(module, inputs):
        if not failed:
            failed.append(len(inputs))
            raise torch.cuda.OutOfMemoryError("CUDA out of memory.")
        return forward(module, inputs)

    monkeypatch.setattr(MLP, "forward", fails_once)
    with pytest.warns(UserWarning, match=r"MLPRegressor: CUDA ran out of memory training "
                      r"with batch_size=64; retrying the fit with batch_size=32\."):
        reg = MLPRegressor(batch_size=64, max_iter=3, **FAST).fit(X, X[:, 0])
    assert failed == [64]
    assert reg.n_iter_ == 3 and reg.net_.batch_size == 32


def test_out_of_memory_in_a_warm_start_fit_retries_from_the_weights_before_it(
        data, memory_for_rows):
    X, y = data
    retried = MLPClassifier(batch_size=64, max_iter=3, warm_start=True, **FAST).fit(X, y)
    reference = MLPClassifier(batch_size=64, max_iter=3, warm_start=True, **FAST).fit(X, y)
    memory_for_rows["rows"] = 32
    with pytest.warns(UserWarning, match="retrying the fit with batch_size=32"):
        retried.fit(X, y)
    reference.set_params(batch_size=32).fit(X, y)
    assert retried.n_iter_ == reference.n_iter_ == 6
    assert retried.loss_curve_ == reference.loss_curve_
    assert_array_equal(retried.predict_proba(X), reference.predict_proba(X))


def test_out_of_memory_at_batch_size_one_fails_and_leaves_no_model(data, memory_for_rows):
    X, y = data
    memory_for_rows["rows"] = 0
    clf = MLPClassifier(batch_size=4, max_iter=2, **FAST)
    with pytest.warns(UserWarning) as record:
        with pytest.raises(torch.cuda.OutOfMemoryError, match="CUDA out of memory"):
            clf.fit(X, y)
    assert [str(w.message)[-35:] for w in record] == [
        "retrying the fit with batch_size=2.", "retrying the fit with batch_size=1."]
    assert memory_for_rows["failures"] == 3  # batches of 4, 2 and 1
    assert not hasattr(clf, "net_")


# -- checkpoints --------------------------------------------------------------------
CHECKPOINTED = dict(hidden_layer_sizes=(16,), ensemble_size=1, dropout=0.1,
                    learning_rate="warmup_cosine", batch_size=16, max_iter=10,
                    n_iter_no_change=100, early_stopping=False, random_state=0)

# The child fits with a checkpoint every 2 epochs and hangs after epoch 5 (as a
# process that is about to be killed), so the last checkpoint holds epoch 4.
CHILD = """
import sys, time
import numpy as np
from skorch.callbacks import Callback
from sknn import MLPClassifier
from sknn.callbacks import Checkpoint

class HangAfterEpoch5(Callback):
    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == 5:
            print("epoch 5 done", flush=True)
            time.sleep(300)

data = np.load(sys.argv[1])
params = {params!r}
MLPClassifier(**params, callbacks=[Checkpoint(sys.argv[2], every=2), HangAfterEpoch5()]
              ).fit(data["X"], data["y"])
"""


class EpochRecorder(Callback):
    """Records the epochs a fit trains (the length of the history after each)."""

    def __init__(self):
        self.epochs = []

    def on_epoch_end(self, net, **kwargs):
        self.epochs.append(len(net.history))


def test_a_killed_fit_resumes_from_its_last_checkpoint(data, tmp_path):
    X, y = data
    np.savez(tmp_path / "data.npz", X=X, y=y)
    checkpoint = tmp_path / "fit.ckpt"
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD.format(params=CHECKPOINTED)))
    child = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "data.npz"), str(checkpoint)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        assert child.stdout.readline().strip() == "epoch 5 done"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert checkpoint.exists()

    recorder = EpochRecorder()
    with pytest.warns(UserWarning, match=r"Checkpoint: resuming the fit from epoch 4, "
                      r"saved in .*fit\.ckpt\."):
        resumed = MLPClassifier(**CHECKPOINTED,
                                callbacks=[Checkpoint(checkpoint, every=2), recorder]
                                ).fit(X, y)
    assert recorder.epochs == [5, 6, 7, 8, 9, 10]
    assert not checkpoint.exists()  # a finished fit leaves no checkpoint behind
    # Weights, optimizer, schedule, shuffling and dropout state all came back:
    # the resumed fit ends exactly as one that was never interrupted.
    uninterrupted = MLPClassifier(**CHECKPOINTED).fit(X, y)
    assert resumed.n_iter_ == 10
    assert resumed.loss_curve_ == uninterrupted.loss_curve_
    assert_array_equal(resumed.predict_proba(X), uninterrupted.predict_proba(X))


class FailAtEpoch(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise RuntimeError("simulated crash")


def test_a_checkpoint_survives_an_exception_and_serves_the_next_fit(data, tmp_path):
    X, y = data
    path = tmp_path / "fit.ckpt"
    params = {**CHECKPOINTED, "max_iter": 6}
    with pytest.raises(RuntimeError, match="simulated crash"):
        MLPClassifier(**params, callbacks=[Checkpoint(path, every=3), FailAtEpoch(4)]
                      ).fit(X, y)
    assert path.exists()
    recorder = EpochRecorder()
    with pytest.warns(UserWarning, match="resuming the fit from epoch 3"):
        resumed = MLPClassifier(**params, callbacks=[Checkpoint(path), recorder]).fit(X, y)
    assert recorder.epochs == [4, 5, 6]
    assert resumed.loss_curve_ == MLPClassifier(**params).fit(X, y).loss_curve_


def test_a_checkpoint_of_other_data_is_refused(data, tmp_path):
    X, y = data
    path = tmp_path / "fit.ckpt"
    with pytest.raises(RuntimeError, match="simulated crash"):
        MLPClassifier(**CHECKPOINTED, callbacks=[Checkpoint(path), FailAtEpoch(2)]).fit(X, y)
    with pytest.raises(ValueError, match=r"Checkpoint: .*fit\.ckpt was written by the fit of "
                       r"another network or on other data \(y_sum .*; delete it to start "
                       r"afresh, or give this fit another path\."):
        MLPClassifier(**CHECKPOINTED, callbacks=[Checkpoint(path)]).fit(X, 1 - y)


def test_a_damaged_checkpoint_is_refused(data, tmp_path):
    X, y = data
    path = tmp_path / "fit.ckpt"
    with pytest.raises(RuntimeError, match="simulated crash"):
        MLPClassifier(**CHECKPOINTED, callbacks=[Checkpoint(path), FailAtEpoch(2)]).fit(X, y)
    rewrite_sknn_file(path, lambda document: document["net"].update(module={}))
    with pytest.raises(ValueError, match=r"Checkpoint: .*fit\.ckpt is damaged or was not "
                       r"written by sknn \(RuntimeError: (.|\n)*Missing key"):
        MLPClassifier(**CHECKPOINTED, callbacks=[Checkpoint(path)]).fit(X, y)


def test_a_saved_model_is_not_a_checkpoint(data, tmp_path):
    import sknn

    X, y = data
    path = tmp_path / "model.sknn"
    sknn.save(MLPClassifier(**{**CHECKPOINTED, "max_iter": 1}).fit(X, y), path)
    with pytest.raises(ValueError, match=r"Checkpoint: .*model\.sknn holds a 'model' entry, "
                       r"not a training checkpoint\."):
        MLPClassifier(**CHECKPOINTED, callbacks=[Checkpoint(path)]).fit(X, y)


def test_checkpoint_every_n_epochs_writes_then_removes_the_file(data, tmp_path):
    X, y = data
    path = tmp_path / "fit.ckpt"
    seen = []

    class Watch(Callback):
        def on_epoch_end(self, net, **kwargs):
            seen.append((len(net.history), path.exists()))

    MLPClassifier(**{**CHECKPOINTED, "max_iter": 5},
                  callbacks=[Checkpoint(path, every=2), Watch()]).fit(X, y)
    assert seen == [(1, False), (2, True), (3, True), (4, True), (5, True)]
    assert not path.exists()


@pytest.mark.parametrize("every, error, message", [
    (0, ValueError, r"Checkpoint: every must be a positive integer; got 0\."),
    (1.5, ValueError, r"Checkpoint: every must be a positive integer; got 1\.5\."),
])
def test_checkpoint_parameters_are_checked(data, tmp_path, every, error, message):
    X, y = data
    with pytest.raises(error, match=message):
        MLPClassifier(**CHECKPOINTED, callbacks=[Checkpoint(tmp_path / "c", every)]).fit(X, y)


def test_checkpoint_path_is_checked(data):
    X, y = data
    with pytest.raises(TypeError, match=r"Checkpoint: path must be a str or path-like; got "
                       r"int\."):
        MLPClassifier(**CHECKPOINTED, callbacks=[Checkpoint(3)]).fit(X, y)


# -- failures inside a search -----------------------------------------------------
@pytest.fixture
def diverging_search():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = X @ np.array([1.0, 2.0, 3.0])
    search = GridSearchCV(
        MLPRegressor(solver="sgd", max_iter=20, **FAST),
        {"learning_rate_init": [1e-2, 1e6]},  # 1e6 makes the training loss infinite
        cv=2,
    )
    return search, X, y


def test_failed_fits_in_a_search_score_error_score(diverging_search):
    search, X, y = diverging_search
    search.set_params(error_score=np.nan)
    with pytest.warns(FitFailedWarning, match="training diverged"):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="One or more of the test scores")
            search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores[0]) and np.isnan(scores[1])
    assert search.best_params_ == {"learning_rate_init": 1e-2}
    assert search.best_estimator_.n_iter_ > 0


def test_failed_fits_in_a_search_raise_with_error_score_raise(diverging_search):
    search, X, y = diverging_search
    search.set_params(error_score="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"MLPRegressor: training diverged \(the "
                           r"training loss became (inf|nan) at epoch \d+\)"):
            search.fit(X, y)
