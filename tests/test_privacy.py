"""Differentially private training (dp_epsilon, dp_delta, dp_max_grad_norm) with Opacus."""

import builtins
import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, make_classification
from sklearn.utils._param_validation import InvalidParameterError
from test_faults import FailAtEpoch

import sknn
from sknn import CNNClassifier, MLPClassifier, MLPRegressor
from sknn._core import _privacy
from sknn._core._data import TensorData
from sknn._core._privacy import PoissonBatches
from sknn.callbacks import Checkpoint
from sknn.modules.tabular import PiecewiseLinearEmbedding

FAST = {"hidden_layer_sizes": (16,), "ensemble_size": 1, "batch_size": 100, "max_iter": 8,
        "learning_rate_init": 2e-2, "early_stopping": False, "n_threads": 1,
        "random_state": 0}


def _easy_table(n=1500):
    X, y = make_classification(n, 5, n_informative=3, n_redundant=0, class_sep=2.0,
                               random_state=0)
    return X, y


@pytest.mark.parametrize("params", [
    {},  # a plain MLP on piecewise-linear embeddings
    {"ensemble_size": 4},  # the default architecture: an ensemble of MLPs
    {"numeric_embedding": "periodic"},
], ids=["mlp", "ensemble", "periodic"])
def test_private_mlp_trains_within_its_budget(params):
    X, y = _easy_table()
    clf = MLPClassifier(**{**FAST, **params}, dp_epsilon=8.0).fit(X[:600], y[:600])
    assert 0 < clf.epsilon_ <= 8.0 + 1e-6
    assert clf.score(X[1000:], y[1000:]) > 0.65  # better than chance (0.5)


def test_private_cnn_trains_with_per_sample_normalization():
    X, y = load_digits(n_class=2, return_X_y=True)
    X = (X / 16).reshape(-1, 1, 8, 8)
    clf = CNNClassifier("plain", n_filters=(8,), normalization="layer", batch_size=30,
                        max_iter=10, learning_rate_init=3e-2, early_stopping=False,
                        n_threads=1, random_state=0, dp_epsilon=8.0).fit(X[:300], y[:300])
    assert 0 < clf.epsilon_ <= 8.0 + 1e-6
    assert clf.score(X[300:], y[300:]) > 0.8


def test_private_regression_trains():
    X, _ = _easy_table()
    y = X[:, 0] - X[:, 1]
    reg = MLPRegressor(**FAST, dp_epsilon=8.0).fit(X[:600], y[:600])
    assert reg.epsilon_ <= 8.0 + 1e-6
    assert reg.score(X[1000:], y[1000:]) > 0.3


def test_a_smaller_budget_spends_less_and_adds_more_noise():
    X, y = _easy_table()
    tight = MLPClassifier(**FAST, dp_epsilon=0.5).fit(X[:600], y[:600])
    loose = MLPClassifier(**FAST, dp_epsilon=8.0).fit(X[:600], y[:600])
    assert tight.epsilon_ <= 0.5 + 1e-6 < loose.epsilon_


def test_early_stopping_spends_at_most_the_budget_and_without_it_all_epochs_run():
    X, y = _easy_table(1200)
    stopped = MLPClassifier(**{**FAST, "early_stopping": True, "max_iter": 30,
                               "n_iter_no_change": 1}, dp_epsilon=4.0).fit(X, y)
    assert stopped.n_iter_ < 30 and stopped.epsilon_ < 4.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning: the planned epochs ran
        full = MLPClassifier(**{**FAST, "max_iter": 6}, dp_epsilon=4.0).fit(X[:300], y[:300])
    assert full.n_iter_ == 6
    assert 4.0 - 0.05 < full.epsilon_ <= 4.0


def test_private_fits_are_reproducible():
    X, y = _easy_table()
    first = MLPClassifier(**FAST, dp_epsilon=3.0).fit(X[:600], y[:600])
    second = MLPClassifier(**FAST, dp_epsilon=3.0).fit(X[:600], y[:600])
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))


def test_tiny_expected_batches_take_noise_steps_on_empty_batches():
    X, y = _easy_table(60)
    clf = MLPClassifier(**{**FAST, "batch_size": 1, "max_iter": 2}, dp_epsilon=8.0).fit(X, y)
    assert np.isfinite(clf.loss_curve_).all() and clf.epsilon_ <= 8.0 + 1e-6


def test_poisson_batches_draw_each_row_independently():
    data = TensorData(torch.arange(1000.0)[:, None], torch.zeros(1000))
    batches = PoissonBatches(data, 0.1, 50, torch.Generator().manual_seed(0))
    sizes = [len(X) for X, _, _ in batches]
    assert len(sizes) == len(batches) == 50
    assert len(set(sizes)) > 5  # random sizes, not fixed ones
    assert 90 < np.mean(sizes) < 110


def test_piecewise_linear_embedding_gets_exact_per_sample_gradients():
    from opacus.grad_sample import GradSampleHooks

    torch.manual_seed(0)
    layer = PiecewiseLinearEmbedding([torch.linspace(-2, 2, 6), torch.linspace(-1, 3, 4)], 4)
    _privacy._opacus("test")
    _privacy._FUNCTIONAL_COPIES[layer] = copy.deepcopy(layer).to("meta")
    hooks = GradSampleHooks(layer, strict=False)
    x = torch.randn(7, 2, requires_grad=True)  # as a hidden layer's input: no warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer(x).pow(2).sum(dim=1).mean().backward()  # a mean over rows, as sknn's losses
    assert not [w for w in caught if "searchsorted" in str(w.message)]
    per_sample = {name: p.grad_sample.clone() for name, p in layer.named_parameters()}
    hooks.cleanup()
    del _privacy._FUNCTIONAL_COPIES[layer]
    for i in range(len(x)):
        layer.zero_grad()
        layer(x[i:i + 1]).pow(2).sum().backward()
        for name, p in layer.named_parameters():
            torch.testing.assert_close(per_sample[name][i], p.grad)


def test_nothing_of_opacus_stays_on_the_fitted_estimator(tmp_path):
    X, y = _easy_table()
    clf = MLPClassifier(**{**FAST, "ensemble_size": 2}, dp_epsilon=3.0).fit(X[:600], y[:600])
    opacus_attributes = {"grad_sample", "summed_grad", "_forward_counter",
                         "_current_grad_sample"}
    for p in clf.net_.module_.parameters():
        assert not opacus_attributes & set(vars(p))
    for layer in clf.net_.module_.modules():
        assert not {"activations", "max_batch_len", "autograd_grad_sample_hooks",
                    "ft_compute_sample_grad"} & set(vars(layer))
        assert not layer._forward_hooks and not layer._backward_hooks
    assert clf.net_._private is None
    assert type(clf.net_.optimizer_).__module__.startswith("torch.optim")
    assert "opacus" not in pickle.dumps(clf).decode("latin-1")


def test_private_models_save_and_load_with_their_budget(tmp_path):
    X, y = _easy_table()
    clf = MLPClassifier(**FAST, dp_epsilon=3.0, dp_delta=1e-4,
                        dp_max_grad_norm=0.5).fit(X[:600], y[:600])
    path = tmp_path / "private.sknn"
    sknn.save(clf, path)
    loaded = sknn.load(path)
    params = loaded.get_params()
    assert (params["dp_epsilon"], params["dp_delta"], params["dp_max_grad_norm"]) == (
        3.0, 1e-4, 0.5)
    assert loaded.epsilon_ == clf.epsilon_
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_non_private_fits_have_no_budget():
    X, y = _easy_table()
    assert MLPClassifier(**FAST).fit(X, y).epsilon_ is None


# -- refusals -------------------------------------------------------------------
X_SMALL, Y_SMALL = _easy_table(100)
PREFIX = r"MLPClassifier: dp_epsilon=3\.0 "


@pytest.mark.parametrize("params, fit_params, message", [
    ({"warm_start": True}, {},
     PREFIX + r"spends its budget over one fit; warm_start and partial_fit would train "
     r"more than the budget accounts for\. Fit once with warm_start=False\."),
    ({"adversarial_epsilon": 0.1}, {},
     PREFIX + r"does not combine with adversarial_epsilon=0\.1: a row and its adversarial "
     r"copy would count as two rows in the accounting\. Use one of them\."),
    ({}, {"sample_weight": np.r_[np.ones(50), 2 * np.ones(50)]},
     PREFIX + r"needs equal row weights; got sample_weight or class_weight that differ "
     r"between rows \(clipping bounds each row's gradient, whatever its weight\)\."),
    ({"class_weight": {0: 1.0, 1: 3.0}}, {},
     PREFIX + r"needs equal row weights"),
    ({"batch_size": 500}, {},
     r"MLPClassifier: dp_epsilon=3\.0: batch_size=500 is larger than the 100 training "
     r"rows, but Poisson sampling draws each row with probability batch_size / n_train\. "
     r"Use batch_size <= n_train\."),
    ({"dp_delta": 0.05}, {},
     r"MLPClassifier: dp_delta=0\.05 is not below 1/n_train = 0\.01 \(100 training rows\): "
     r"a delta that large allows releasing a row outright\. Use dp_delta='auto' or a "
     r"smaller value\."),
])
def test_settings_dp_sgd_cannot_account_for_are_refused(params, fit_params, message):
    clf = MLPClassifier(**{**FAST, **params}, dp_epsilon=3.0)
    with pytest.raises(ValueError, match=message):
        clf.fit(X_SMALL, Y_SMALL, **fit_params)
    assert not hasattr(clf, "net_")


def test_equal_sample_weights_are_accepted():
    clf = MLPClassifier(**FAST, dp_epsilon=3.0).fit(X_SMALL, Y_SMALL,
                                                    sample_weight=np.full(100, 2.0))
    assert clf.epsilon_ <= 3.0 + 1e-6


def test_partial_fit_is_refused():
    clf = MLPClassifier(**FAST, dp_epsilon=3.0)
    with pytest.raises(ValueError, match=PREFIX + "spends its budget over one fit"):
        clf.partial_fit(X_SMALL, Y_SMALL, classes=[0, 1])


def test_fine_tuning_with_frozen_layers_is_refused():
    source = MLPClassifier(**FAST).fit(X_SMALL, Y_SMALL)
    clf = MLPClassifier(**FAST, init_from=source, freeze_epochs=2, dp_epsilon=3.0)
    with pytest.raises(ValueError, match=PREFIX + r"does not combine with freeze_epochs=2; "
                       r"fine-tune the whole network \(freeze_epochs=0\)\."):
        clf.fit(X_SMALL, Y_SMALL)


def test_fine_tuning_the_whole_network_privately_works():
    source = MLPClassifier(**FAST).fit(X_SMALL, Y_SMALL)
    clf = MLPClassifier(**FAST, init_from=source, dp_epsilon=3.0).fit(X_SMALL, Y_SMALL)
    assert clf.epsilon_ <= 3.0 + 1e-6


def test_batch_norm_is_refused():
    X = np.random.RandomState(0).randn(60, 1, 10)
    y = np.arange(60) % 2
    clf = CNNClassifier(n_filters=(4,), max_iter=2, n_threads=1, dp_epsilon=3.0)
    with pytest.raises(ValueError, match=r"CNNClassifier: dp_epsilon=3\.0 needs per-sample "
                       r"layers; the network has batch norm \(_BatchNorm1d\), which mixes "
                       r"the rows of a batch\. Use normalization='layer'\."):
        clf.fit(X, y)


def test_data_parallel_training_is_refused(monkeypatch):
    monkeypatch.setattr(_privacy, "process_group", lambda: (0, 2))
    with pytest.raises(ValueError, match=PREFIX + r"trains in one process; this fit runs in "
                       r"a torch\.distributed group \(DDP\), whose batches would not be "
                       r"Poisson samples\."):
        MLPClassifier(**FAST, dp_epsilon=3.0).fit(X_SMALL, Y_SMALL)


def test_a_budget_too_small_for_any_noise_is_refused():
    clf = MLPClassifier(**FAST, dp_epsilon=1e-12)
    with pytest.raises(ValueError, match=r"MLPClassifier: dp_epsilon=1e-12 cannot be met by "
                       r"8 steps of DP-SGD \(1 per epoch for 8 epochs\): the noise would "
                       r"have to exceed 1e6 times dp_max_grad_norm\."):
        clf.fit(X_SMALL, Y_SMALL)


@pytest.mark.parametrize("params, name", [({"dp_epsilon": 0}, "dp_epsilon"),
                                          ({"dp_delta": 1.0}, "dp_delta"),
                                          ({"dp_max_grad_norm": -1}, "dp_max_grad_norm")])
def test_invalid_budgets_are_refused_by_parameter_validation(params, name):
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of MLPClassifier"):
        MLPClassifier(**params).fit(X_SMALL, Y_SMALL)


def test_missing_opacus_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def without_opacus(name, *args, **kwargs):
        if name.startswith("opacus"):
            raise ImportError("No module named 'opacus'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_opacus)
    with pytest.raises(ImportError, match=r"MLPClassifier: dp_epsilon trains with Opacus, "
                       r"which is not installed; install it with "
                       r'pip install "sknn\[privacy\]"\.'):
        MLPClassifier(**FAST, dp_epsilon=3.0).fit(X_SMALL, Y_SMALL)


def test_a_resumed_private_fit_counts_the_steps_before_the_crash(tmp_path):
    X, y = _easy_table(400)
    path = tmp_path / "private.ckpt"
    with pytest.raises(RuntimeError, match="simulated crash"):
        MLPClassifier(**FAST, dp_epsilon=3.0,
                      callbacks=[Checkpoint(path, every=2), FailAtEpoch(5)]).fit(X, y)
    with pytest.warns(UserWarning, match="resuming the fit from epoch 4"):
        resumed = MLPClassifier(**FAST, dp_epsilon=3.0, callbacks=[Checkpoint(path)]).fit(X, y)
    uninterrupted = MLPClassifier(**FAST, dp_epsilon=3.0).fit(X, y)
    assert resumed.epsilon_ == pytest.approx(uninterrupted.epsilon_, rel=1e-9)
    np.testing.assert_array_equal(resumed.predict_proba(X), uninterrupted.predict_proba(X))
