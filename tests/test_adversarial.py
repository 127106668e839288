"""Adversarial training (adversarial_epsilon, adversarial_method) in every family."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.utils._param_validation import InvalidParameterError

import sknn
from sknn import (
    CNNClassifier,
    MLPClassifier,
    MLPRegressor,
    RNNClassifier,
    TransformerClassifier,
)
from sknn._core._adversarial import AdversarialTraining, adversarial_examples
from sknn.text import TextSequencer

FAST_CNN = {"architecture": "plain", "n_filters": (16, 32), "max_iter": 10, "batch_size": 32,
            "learning_rate_init": 3e-3, "early_stopping": False, "n_threads": 1,
            "random_state": 0}


def _digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32).reshape(-1, 1, 8, 8), y


def _pgd_accuracy(estimator, X, y, epsilon):
    """Accuracy after a 10-step PGD attack on the network's input (pixels here)."""
    network = estimator.net_.module_.eval()
    inputs = torch.as_tensor(X, dtype=estimator.net_.module_dtype())
    target = torch.as_tensor(np.searchsorted(estimator.classes_, y))

    def loss_of(batch):
        return torch.nn.functional.cross_entropy(network(batch), target, reduction="sum")

    torch.manual_seed(0)
    attacked = adversarial_examples(loss_of, inputs, epsilon, "pgd", n_steps=10)
    with torch.no_grad():
        return float((network(attacked).argmax(dim=1) == target).float().mean())


@pytest.fixture(scope="module")
def digits_and_plain_cnn():
    X, y = _digits()
    return X, y, CNNClassifier(**FAST_CNN).fit(X[:400], y[:400])


@pytest.mark.parametrize("method", ["pgd", "fgsm"])
def test_adversarially_trained_cnn_resists_pgd_better(digits_and_plain_cnn, method):
    X, y, plain = digits_and_plain_cnn
    robust = CNNClassifier(**FAST_CNN, adversarial_epsilon=0.1,
                           adversarial_method=method).fit(X[:400], y[:400])
    test = slice(600, 900)
    plain_pgd = _pgd_accuracy(plain, X[test], y[test], 0.1)
    robust_pgd = _pgd_accuracy(robust, X[test], y[test], 0.1)
    assert robust_pgd > plain_pgd + 0.1, (plain_pgd, robust_pgd)
    assert robust.score(X[test], y[test]) > 0.85  # still a classifier of clean digits


def test_fgsm_moves_each_value_by_epsilon_along_the_gradient_sign():
    X = torch.tensor([[1.0, -2.0, 3.0]])
    weights = torch.tensor([2.0, -1.0, 0.5])
    moved = adversarial_examples(lambda x: (x * weights).sum(), X, 0.1, "fgsm")
    assert torch.allclose(moved - X, 0.1 * weights.sign()[None])


def test_pgd_stays_in_the_ball_and_leaves_fixed_values_alone():
    torch.manual_seed(0)
    X = torch.randn(20, 4)
    movable = torch.tensor([1.0, 1.0, 0.0, 1.0])
    moved = adversarial_examples(lambda x: (x ** 2).sum(), X, 0.3, "pgd", movable)
    change = moved - X
    assert change.abs().max() <= 0.3 + 1e-6
    assert torch.equal(change[:, 2], torch.zeros(20))
    # The loss grows: every moved value went away from 0 by (nearly) the whole radius.
    assert (moved ** 2).sum() > (X ** 2).sum()


def test_tables_perturb_only_the_scaled_numbers():
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"a": rng.randn(120), "b": rng.randn(120),
                          "color": rng.choice(["red", "green", "blue"], 120)})
    frame.loc[::7, "b"] = np.nan  # a missing-value indicator column
    y = (frame["a"] > 0).astype(int)
    clf = MLPClassifier((16,), ensemble_size=1, max_iter=3, n_threads=1, random_state=0,
                        adversarial_epsilon=0.5).fit(frame, y)
    encoded = torch.as_tensor(clf.encoder_.transform(frame), dtype=clf.net_.module_dtype())
    assert encoded.shape[1] == 4  # [a, b | b missing | color code]
    net = clf.net_
    mixed, _, _ = net.adversarial.mixed_batch(net, encoded, clf.task_.encode(y, "test"), None)
    clean, attacked = mixed[:120], mixed[120:]
    assert torch.equal(clean, encoded)
    assert torch.equal(attacked[:, 2:], encoded[:, 2:])  # indicator and codes unchanged
    assert 0 < (attacked[:, :2] - encoded[:, :2]).abs().max() <= 0.5 + 1e-6


def test_masked_sequences_keep_their_validity_channel_and_padding():
    training = AdversarialTraining(0.2, "fgsm", step_mask_channel=True)
    X = torch.zeros(2, 3, 4)
    X[:, :2] = 1.0
    X[0, 2] = torch.tensor([1.0, 1.0, 0.0, 0.0])  # two valid steps
    X[1, 2] = 1.0
    movable = training.movable(X)
    assert torch.equal(movable[:, 2], torch.zeros(2, 4))
    assert torch.equal(movable[0, :2], torch.tensor([[1.0, 1, 0, 0]] * 2))
    assert torch.equal(movable[1, :2], torch.ones(2, 4))


@pytest.mark.parametrize("estimator", [
    RNNClassifier(cell="gru", hidden_size=8, max_iter=3, n_threads=1, random_state=0,
                  adversarial_epsilon=0.1),
    TransformerClassifier(d_token=8, n_blocks=1, n_heads=2, max_iter=3, n_threads=1,
                          random_state=0, adversarial_epsilon=0.1),
    CNNClassifier(n_filters=(4,), max_iter=3, n_threads=1, random_state=0,
                  adversarial_epsilon=0.1, adversarial_method="fgsm"),
], ids=["rnn", "transformer", "cnn"])
def test_series_estimators_train_adversarially(estimator):
    rng = np.random.RandomState(0)
    X = rng.randn(40, 2, 12).astype(np.float32)
    y = (X[:, 0].mean(axis=1) > 0).astype(int)
    estimator.fit(X, y)
    assert estimator.net_.adversarial.epsilon == 0.1
    assert estimator.predict_proba(X).shape == (40, 2)


def test_transformer_tables_and_ragged_sequences_say_what_moves():
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"a": rng.randn(40), "color": rng.choice(["x", "y"], 40)})
    y = (frame["a"] > 0).astype(int)
    table = TransformerClassifier(d_token=8, n_blocks=1, n_heads=2, max_iter=2, n_threads=1,
                                  adversarial_epsilon=0.1).fit(frame, y)
    assert table.net_.adversarial.n_continuous == 1
    sequences = [rng.randn(1, n) for n in rng.randint(3, 12, size=40)]
    ragged = TransformerClassifier(d_token=8, n_blocks=1, n_heads=2, max_iter=2,
                                   n_threads=1, adversarial_epsilon=0.1).fit(sequences, y)
    assert ragged.net_.adversarial.step_mask_channel


@pytest.mark.parametrize("cls", [RNNClassifier, TransformerClassifier])
def test_token_ids_are_refused(cls):
    texts, labels = ["good fun", "bad plot", "great fun", "dull, bad"] * 5, [1, 0, 1, 0] * 5
    tokens = TextSequencer().fit_transform(texts)
    estimator = cls(max_iter=2, n_threads=1, adversarial_epsilon=0.1)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: adversarial_epsilon=0.1 perturbs "
                       r"continuous inputs, but X holds token ids \(input_kind_='tokens'\)"
                       r", which are discrete\. Use adversarial_epsilon=None for text\."):
        estimator.fit(tokens, labels)
    assert not hasattr(estimator, "net_")


def test_adversarial_regression_trains():
    rng = np.random.RandomState(0)
    X = rng.randn(100, 3)
    y = X @ np.array([1.0, -2.0, 0.5])
    reg = MLPRegressor((16,), ensemble_size=2, max_iter=100, learning_rate_init=1e-2,
                       n_threads=1, random_state=0, adversarial_epsilon=0.05).fit(X, y)
    assert reg.score(X, y) > 0.95


@pytest.mark.parametrize("params, name", [({"adversarial_epsilon": -0.1}, "adversarial_epsilon"),
                                          ({"adversarial_epsilon": 0}, "adversarial_epsilon"),
                                          ({"adversarial_method": "cw"}, "adversarial_method")])
def test_invalid_settings_are_refused_by_parameter_validation(params, name):
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of MLPClassifier"):
        MLPClassifier(max_iter=1, **params).fit([[0.0], [1.0]], [0, 1])


def test_adversarially_trained_models_save_and_load(tmp_path):
    X, y = _digits()
    clf = CNNClassifier(**{**FAST_CNN, "max_iter": 2}, adversarial_epsilon=0.1,
                        adversarial_method="fgsm").fit(X[:200], y[:200])
    path = tmp_path / "robust.sknn"
    sknn.save(clf, path)
    loaded = sknn.load(path)
    assert loaded.get_params()["adversarial_epsilon"] == 0.1
    assert loaded.get_params()["adversarial_method"] == "fgsm"
    np.testing.assert_array_equal(loaded.predict_proba(X[200:260]),
                                  clf.predict_proba(X[200:260]))
