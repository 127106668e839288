"""Fine-tuning: init_from, freeze_epochs, trainable_layers, and warm_start on new data."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import cross_val_score
from sklearn.utils._param_validation import InvalidParameterError

from sknn import (
    CNNClassifier,
    CNNRegressor,
    MLPClassifier,
    MLPRegressor,
    RNNClassifier,
    RNNRegressor,
    TransformerClassifier,
    TransformerRegressor,
)
from sknn._lifecycle._finetune import layer_groups
from sknn.modules import MLP, RNN, EnsembleMLP, ResNet, Transformer, TransformerBlock

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST_MLP = {"hidden_layer_sizes": (32,), "ensemble_size": 1, "numeric_embedding": None,
            "n_threads": 1, "random_state": 0}
FAST_CNN = {"architecture": "plain", "n_filters": (8, 16), "input_shape": (8, 8),
            "learning_rate_init": 3e-3, "batch_size": 100, "n_threads": 1, "random_state": 0}


@pytest.fixture(scope="module")
def digits():
    """Digits split three ways: pretraining images, 20 new labelled ones, test images."""
    X, y = load_digits(return_X_y=True)
    order = np.random.RandomState(0).permutation(len(y))
    return X, y, order[:600], order[600:620], order[620:]


@pytest.mark.parametrize("cls, params, pretrain_epochs, epochs", [
    (MLPClassifier, FAST_MLP, 20, 60),
    (CNNClassifier, FAST_CNN, 40, 60),
], ids=["MLP", "CNN"])
def test_fine_tuning_beats_training_from_scratch(digits, cls, params, pretrain_epochs,
                                                 epochs):
    # Pretrained to tell the ten digits apart on 600 images, the network is
    # fine-tuned to tell even from odd digits (a new two-class head) from 20
    # labelled images; the same network trained on those 20 from scratch does worse.
    X, y, pretrain, few, test = digits
    parity = y % 2
    pretrained = cls(**params, max_iter=pretrain_epochs).fit(X[pretrain], y[pretrain])
    scratch = cls(**params, max_iter=epochs).fit(X[few], parity[few])
    tuned = cls(**params, max_iter=epochs, init_from=pretrained).fit(X[few], parity[few])
    scratch_score, tuned_score = scratch.score(X[test], parity[test]), tuned.score(
        X[test], parity[test])
    assert tuned_score > scratch_score + 0.05, (scratch_score, tuned_score)
    assert tuned.classes_.tolist() == [0, 1]
    assert pretrained.classes_.tolist() == list(range(10))  # left as it was


def _series(n=40, length=12, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 2, length).astype(np.float32)
    return X, (X[:, 0].mean(axis=1) > 0).astype(int)


def _table(n=60, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 4)
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


SMALL = {"n_threads": 1, "random_state": 0, "max_iter": 3}
ARCHITECTURES = {
    "MLP": (MLPClassifier, {"hidden_layer_sizes": (8, 8), "ensemble_size": 1}, _table),
    "MLP-ensemble": (MLPClassifier, {"hidden_layer_sizes": (8, 8), "ensemble_size": 4},
                     _table),
    "CNN": (CNNClassifier, {"n_filters": (4, 4), "kernel_size": 3}, _series),
    "RNN": (RNNClassifier, {"hidden_size": 4, "num_layers": 2}, _series),
    "Transformer-table": (TransformerClassifier,
                          {"d_token": 8, "n_heads": 2, "n_blocks": 2}, _table),
    "Transformer-series": (TransformerClassifier,
                           {"d_token": 8, "n_heads": 2, "n_blocks": 2}, _series),
}


def _parameters(estimator):
    return {k: v.detach().clone() for k, v in estimator.net_.module_.named_parameters()}


@pytest.mark.parametrize("name", ARCHITECTURES)
@pytest.mark.parametrize("trainable_layers", [1, 2])
def test_frozen_layers_keep_the_pretrained_weights(name, trainable_layers):
    cls, params, make_data = ARCHITECTURES[name]
    X, y = make_data()
    source = cls(**params, **SMALL).fit(X, y)
    # Other labels: a new head, and only the last layers train (freeze_epochs >= max_iter).
    tuned = cls(**params, **SMALL, init_from=source, freeze_epochs=3,
                trainable_layers=trainable_layers).fit(X, np.where(y == 1, "b", "a"))
    before, after = _parameters(source), _parameters(tuned)
    layers = layer_groups(tuned.net_.module_)
    trained = {key for layer in layers[-trainable_layers:] for key in layer}
    for key in after:
        if key in trained:
            assert not torch.equal(before[key], after[key]), key
        else:
            assert torch.equal(before[key], after[key]), key
    assert all(p.requires_grad for p in tuned.net_.module_.parameters())  # unfrozen after


def test_the_frozen_phase_goes_on_over_partial_fit_calls():
    X, y = _table()
    source = MLPClassifier(**ARCHITECTURES["MLP"][1], **SMALL).fit(X, y)
    # max_iter=10: more epochs than the frozen phase's 3.
    tuned = MLPClassifier(**ARCHITECTURES["MLP"][1], **{**SMALL, "max_iter": 10},
                          init_from=source, freeze_epochs=3, trainable_layers=1)
    for _ in range(3):  # an epoch each: all three in the frozen phase
        tuned.partial_fit(X, y, classes=[0, 1])
    before, after = _parameters(source), _parameters(tuned)
    trained = set(layer_groups(tuned.net_.module_)[-1])
    assert all(torch.equal(before[key], after[key]) for key in after if key not in trained)
    tuned.partial_fit(X, y)  # the fourth: the whole network
    assert all(not torch.equal(before[key], value) for key, value in
               _parameters(tuned).items())


def test_the_whole_network_trains_after_the_frozen_epochs():
    X, y = _table()
    source = MLPClassifier(**ARCHITECTURES["MLP"][1], **SMALL).fit(X, y)
    tuned = MLPClassifier(**ARCHITECTURES["MLP"][1], **SMALL, init_from=source,
                          freeze_epochs=1).fit(X, y)
    before, after = _parameters(source), _parameters(tuned)
    assert all(not torch.equal(before[key], after[key]) for key in after)


def test_the_output_layer_is_kept_when_the_outputs_match():
    X, y = _table()
    tiny_steps = {**SMALL, "max_iter": 1, "learning_rate_init": 1e-12}
    source = MLPClassifier(**ARCHITECTURES["MLP"][1], **SMALL).fit(X, y)
    same = MLPClassifier(**ARCHITECTURES["MLP"][1], **tiny_steps, init_from=source).fit(X, y)
    np.testing.assert_allclose(same.predict_proba(X), source.predict_proba(X), atol=1e-6)
    other = MLPClassifier(**ARCHITECTURES["MLP"][1], **tiny_steps, init_from=source).fit(
        X, y + 1)  # other classes: the head starts anew
    assert not np.allclose(other.predict_proba(X), source.predict_proba(X), atol=1e-3)

    target = X @ [1.0, -2.0, 0.5, 0.0]
    regressor = MLPRegressor(**ARCHITECTURES["MLP"][1], **SMALL).fit(X, target)
    again = MLPRegressor(**ARCHITECTURES["MLP"][1], **tiny_steps, init_from=regressor).fit(
        X, target)
    np.testing.assert_allclose(again.predict(X), regressor.predict(X), atol=1e-5)


@pytest.mark.parametrize("source_cls, cls, data", [
    (MLPRegressor, MLPClassifier, _table),
    (CNNClassifier, CNNRegressor, _series),
    (RNNClassifier, RNNRegressor, _series),
    (TransformerClassifier, TransformerRegressor, _table),
])
def test_a_classifier_starts_a_regressor_and_back(source_cls, cls, data):
    X, y = data()
    params = next(p for c, p, _ in ARCHITECTURES.values() if c in (source_cls, cls))
    source = source_cls(**params, **SMALL).fit(X, y.astype(float) if source_cls in (
        MLPRegressor,) else y)
    tuned = cls(**params, **SMALL, init_from=source).fit(X, y)
    assert tuned.predict(X).shape == (len(X),)


def test_init_from_survives_clone_and_cross_validation():
    X, y = _table()
    source = MLPClassifier(**ARCHITECTURES["MLP"][1], **SMALL).fit(X, y)
    weights = _parameters(source)
    model = MLPClassifier(**ARCHITECTURES["MLP"][1], **SMALL, init_from=source)
    assert clone(model).init_from is source
    assert model.get_params()["init_from"] is source
    assert cross_val_score(model, X, y, cv=3).shape == (3,)
    assert all(torch.equal(weights[k], v) for k, v in _parameters(source).items())
    tuned = pickle.loads(pickle.dumps(model.fit(X, y)))
    np.testing.assert_array_equal(tuned.predict(X), model.predict(X))


def test_the_source_preprocessing_is_reused():
    X, y = _table()
    source = MLPClassifier(hidden_layer_sizes=(8,), ensemble_size=1, **SMALL).fit(X, y)
    # Fine-tuning data on another scale: still scaled as the source's were.
    tuned = MLPClassifier(hidden_layer_sizes=(8,), ensemble_size=1, **SMALL,
                          init_from=source).fit(10 * X[:20], y[:20])
    np.testing.assert_array_equal(tuned.encoder_.transform(X), source.encoder_.transform(X))

    series, labels = _series()
    rnn = RNNClassifier(hidden_size=4, **SMALL).fit(series, labels)
    tuned = RNNClassifier(hidden_size=4, **SMALL, init_from=rnn).fit(5 + series, labels)
    np.testing.assert_array_equal(tuned.input_mean_, rnn.input_mean_)


def test_warm_start_continues_on_new_data(digits):
    X, y, pretrain, _, test = digits
    first, second = pretrain[:300], pretrain[300:]
    model = MLPClassifier(**FAST_MLP, max_iter=5, warm_start=True).fit(X[first], y[first])
    encoder, score = model.encoder_, model.score(X[test], y[test])
    model.fit(X[second], y[second])  # new rows of the same task
    assert model.n_iter_ == 10
    assert model.encoder_ is encoder  # the first fit's preprocessing
    assert model.score(X[test], y[test]) > score + 0.05


def test_layer_groups_count_the_layers():
    def count(module):
        return len(layer_groups(module))

    assert count(MLP(4, 2, (8, 8))) == 3
    assert count(EnsembleMLP(4, 2, (8, 8), n_members=4)) == 4  # adapter, 2 hidden, head
    assert count(ResNet(1, 2, n_filters=(4, 4, 4))) == 4
    assert count(RNN(2, 3, hidden_size=4, num_layers=2, bidirectional=True)) == 3
    groups = layer_groups(RNN(2, 3, num_layers=2, pooling="attention"))
    assert groups[-2] == ["pool.score.weight", "pool.score.bias"]
    blocks = [m for m in Transformer(torch.nn.Identity(), 8, 2, n_blocks=3,
                                     n_heads=2).modules() if isinstance(m, TransformerBlock)]
    assert len(blocks) == 3
    assert layer_groups(MLP(4, 2, (8,)))[-1] == ["head.weight", "head.bias"]


# -- errors ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted_mlp():
    X, y = _table()
    return MLPClassifier(**ARCHITECTURES["MLP"][1], **SMALL).fit(X, y)


def test_unfitted_init_from_is_refused():
    X, y = _table()
    with pytest.raises(NotFittedError,
                       match=r"MLPClassifier: init_from \(a MLPRegressor\) is not fitted"):
        MLPClassifier(init_from=MLPRegressor()).fit(X, y)


def test_init_from_of_another_architecture_is_refused(fitted_mlp):
    X, y = _series()
    with pytest.raises(ValueError, match="CNNClassifier: init_from must be a fitted CNN "
                       "estimator .* got a MLPClassifier"):
        CNNClassifier(init_from=fitted_mlp, **SMALL).fit(X, y)


def test_inputs_of_another_layout_are_refused(fitted_mlp):
    X, y = _table()
    with pytest.raises(ValueError, match="MLPClassifier: init_from was fitted on a table "
                       "of 4 columns; got a table of 3 columns"):
        MLPClassifier(**ARCHITECTURES["MLP"][1], init_from=fitted_mlp).fit(X[:, :3], y)
    series, labels = _series()
    cnn = CNNClassifier(n_filters=(4,), **SMALL).fit(series, labels)
    images = np.random.RandomState(0).randn(10, 1, 6, 6)
    with pytest.raises(ValueError, match=r"CNNClassifier: init_from was fitted on series "
                       r"of 2 channels; got images of 1 channel\."):
        CNNClassifier(n_filters=(4,), init_from=cnn).fit(images, labels[:10])


def test_other_architecture_parameters_are_refused(fitted_mlp):
    X, y = _table()
    with pytest.raises(ValueError, match=r"MLPClassifier: init_from's network does not "
                       r"match this estimator's architecture: '1.body.0.weight' has shape "
                       r"\(8, 64\) in init_from and \(16, 64\) here"):
        MLPClassifier(hidden_layer_sizes=(16, 8), ensemble_size=1,
                      init_from=fitted_mlp).fit(X, y)
    with pytest.raises(ValueError, match="MLPClassifier: init_from's network has other "
                       "layers than this estimator's"):
        MLPClassifier(hidden_layer_sizes=(8, 8), ensemble_size=2,
                      init_from=fitted_mlp).fit(X, y)


def test_bad_freeze_values_are_refused(fitted_mlp):
    X, y = _table()
    with pytest.raises(ValueError, match="MLPClassifier: freeze_epochs=2 needs init_from"):
        MLPClassifier(freeze_epochs=2).fit(X, y)
    with pytest.raises(ValueError, match="MLPClassifier: trainable_layers=4 leaves nothing "
                       "to freeze: this network has 4 layers"):
        MLPClassifier(**ARCHITECTURES["MLP"][1], init_from=fitted_mlp, freeze_epochs=2,
                      trainable_layers=4).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'freeze_epochs' parameter of "
                       "MLPClassifier must be an int in the range"):
        MLPClassifier(freeze_epochs=-1).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'init_from' parameter of MLPClassifier "
                       "must be None or an instance of"):
        MLPClassifier(init_from="model.pkl").fit(X, y)


def test_init_from_itself_is_refused(fitted_mlp):
    model = clone(fitted_mlp)
    model.set_params(init_from=model)
    with pytest.raises(ValueError, match="MLPClassifier: init_from is this estimator "
                       "itself; use warm_start=True"):
        model.fit(*_table())


def test_token_ids_outside_the_source_vocabulary_are_refused():
    ids = np.array([[1, 2, 3, 0], [2, 3, 0, 0], [3, 1, 2, 0], [1, 1, 0, 0]])
    params = {"hidden_size": 4, "input_kind": "tokens", **SMALL}
    source = RNNClassifier(**params).fit(ids, [0, 1, 0, 1])
    tuned = RNNClassifier(**params, init_from=source).fit(ids[:, :2] % 3, [0, 1, 0, 1])
    assert tuned.vocabulary_size_ == source.vocabulary_size_  # fewer ids: fine
    with pytest.raises(ValueError, match="RNNClassifier: X holds token id 7, outside "
                       r"init_from's vocabulary \(ids 0 to 3\)"):
        RNNClassifier(**params, init_from=source).fit(ids + 4 * (ids > 0), [0, 1, 0, 1])


def test_saving_a_fine_tuned_model_warns_nothing(tmp_path):
    import warnings

    import sknn

    X, y = _table()
    source = MLPClassifier(**ARCHITECTURES["MLP"][1], **SMALL).fit(X, y)
    tuned = MLPClassifier(**ARCHITECTURES["MLP"][1], **SMALL, init_from=source).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's "copying ... to a meta parameter" before
        sknn.save(tuned, tmp_path / "tuned.sknn")
    np.testing.assert_allclose(sknn.load(tmp_path / "tuned.sknn").predict_proba(X),
                               tuned.predict_proba(X))
