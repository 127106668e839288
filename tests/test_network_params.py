"""Parameters changed after a fit: warm_start, partial_fit and sknn.save keep the model true.

A fitted network was built from some parameters; ``set_params`` may change them.
A ``warm_start`` fit then trains a new network (with a warning), ``partial_fit``
refuses before anything changes, and ``sknn.save`` refuses parameters that would
not rebuild the fitted network.
"""

import copy
import re
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.base import clone

import sknn
from sknn import (
    AutoencoderTransformer,
    CNNClassifier,
    CNNRegressor,
    MLPClassifier,
    MLPRegressor,
    ResNetClassifier,
    ResNetRegressor,
    RNNClassifier,
    RNNRegressor,
    TransformerClassifier,
    TransformerRegressor,
)
from sknn._core._network_params import network_params

RNG = np.random.RandomState(0)
TABLE = np.column_stack([RNG.randn(24, 3), RNG.randint(0, 3, 24)])  # column 3: 3 values
LABELS = (TABLE[:, 0] > 0).astype(int)
SERIES = RNG.randn(24, 1, 12)
DATA = {
    "table": TABLE,
    "flat": SERIES.reshape(24, 12),  # 2-D X that input_shape may reshape
    "series": SERIES,
    "tokens": RNG.randint(1, 6, size=(24, 8)),  # token ids (0 would be padding)
}
FAST = dict(max_iter=2, random_state=0, n_threads=1)

# Per family: its estimators, a tiny configuration and data, and for each parameter
# that shapes the network a changed value (with the data it acts on, if other).
FAMILIES = {
    "MLP": ((MLPClassifier, MLPRegressor), dict(hidden_layer_sizes=(6,), ensemble_size=2),
            "table", [
                ("hidden_layer_sizes", (4, 4)), ("activation", "tanh"), ("dropout", 0.2),
                ("ensemble_size", 1), ("categorical_features", [3]),
                ("numeric_transform", "standard"), ("numeric_embedding", "periodic"),
                ("dtype", "float32"),
            ]),
    "CNN": ((CNNClassifier, CNNRegressor),
            dict(architecture="plain", n_filters=(4,), kernel_size=(3,)), "flat", [
                ("architecture", "fcn"), ("n_filters", (4, 4)), ("kernel_size", (5,)),
                ("input_shape", (3, 4)), ("augment", True), ("dropout", 0.2),
                ("normalization", "layer"), ("dtype", "float32"),
            ]),
    "RNN": ((RNNClassifier, RNNRegressor),
            dict(hidden_size=4, embedding_dim=4, input_kind="tokens", bag_of_words_C=1.0),
            "tokens", [
                ("cell", "gru"), ("hidden_size", 6), ("num_layers", 2),
                ("bidirectional", True), ("dropout", 0.2), ("pooling", "attention"),
                ("input_kind", "series"), ("embedding_dim", 6), ("bag_of_words", False),
                ("bag_of_words_C", 0.5), ("dtype", "float32"), ("patch_size", 2),
            ]),
    "Transformer": ((TransformerClassifier, TransformerRegressor),
                    dict(d_token=8, n_blocks=1, n_heads=2), "table", [
                        ("d_token", 4), ("n_heads", 1), ("n_blocks", 2),
                        ("d_ffn_factor", 1.0), ("attention_dropout", 0.1),
                        ("ffn_dropout", 0.2), ("residual_dropout", 0.1), ("pooling", "mean"),
                        ("categorical_features", [3]), ("numeric_transform", "standard"),
                        ("numeric_embedding", "periodic"), ("dtype", "float32"),
                        ("input_shape", (4,)), ("input_kind", "table"),
                        ("patch_size", 3, "series"), ("stem", "linear", "series"),
                        ("positional_encoding", "sinusoidal", "series"),
                        ("bag_of_words", False, "tokens", dict(bag_of_words_C=1.0)),
                        ("bag_of_words_C", 0.5, "tokens", dict(bag_of_words_C=1.0)),
                    ]),
    "ResNet": ((ResNetClassifier, ResNetRegressor), dict(width=6, n_blocks=1), "table", [
        ("width", 4), ("n_blocks", 2), ("hidden_factor", 1.0), ("dropout", 0.1),
        ("residual_dropout", 0.1), ("normalization", "layer"), ("categorical_features", [3]),
        ("numeric_transform", "standard"), ("numeric_embedding", "periodic"),
        ("dtype", "float32"),
    ]),
    "Autoencoder": ((AutoencoderTransformer,), dict(n_components=2, hidden_layer_sizes=(4,)),
                    "table", [
                        ("n_components", 3), ("hidden_layer_sizes", (6,)),
                        ("activation", "tanh"), ("dropout", 0.2), ("noise", 0.1),
                        ("noise_kind", "masking"), ("dtype", "float32"),
                        ("architecture", "cnn"),
                        # The convolutional autoencoder's own parameters, on series.
                        ("n_filters", (4,), "flat", dict(architecture="cnn")),
                        ("kernel_size", 3, "flat", dict(architecture="cnn")),
                        ("input_shape", (3, 4), "flat", dict(architecture="cnn")),
                    ]),
}


def _cases():
    """(estimator class, its configuration, data, parameter, changed value).

    The family's estimators take turns, so that each meets several parameters
    and each parameter one estimator (they share the module factory).
    """
    for classes, base, data, changes in FAMILIES.values():
        for i, (param, value, *where) in enumerate(changes):
            cls = classes[i % len(classes)]
            data_name = where[0] if where else data
            extra = where[1] if len(where) > 1 else {}
            yield pytest.param(cls, {**base, **extra}, data_name, param, value,
                               id=f"{cls.__name__}-{param}")


CASES = list(_cases())
CONTINUING = [case for case in CASES if hasattr(case.values[0], "partial_fit")]


def _model(cls, base, data, **params):
    if cls.__name__.startswith("Transformer") and data == "tokens":
        base = {**base, "input_kind": "tokens"}
    return cls(**FAST, **base, **params)


def _fit(model, data):
    X = DATA[data]
    if isinstance(model, AutoencoderTransformer):
        return model.fit(X)
    y = LABELS if model._is_classifier() else LABELS.astype(float)
    return model.fit(X, y)


def _outputs(model, data):
    X = DATA[data]
    if isinstance(model, AutoencoderTransformer):
        return model.transform(X)
    return model.predict_proba(X) if model._is_classifier() else model.predict(X)


def _weights(model):
    return {key: value.clone() for key, value in model.net_.module_.state_dict().items()}


def test_the_cases_cover_every_parameter_that_shapes_a_network():
    for classes, _, _, changes in FAMILIES.values():
        covered = {param for param, *_ in changes}
        for cls in classes:
            assert set(network_params(cls())) == covered, cls.__name__


@pytest.mark.parametrize("cls, base, data, param, value", CASES)
def test_a_warm_start_after_a_change_fits_the_network_its_parameters_describe(
        cls, base, data, param, value, tmp_path):
    model = _fit(_model(cls, base, data, warm_start=True), data)
    old = model.get_params()[param]
    model.set_params(**{param: value})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit(model, data)
    expected = (f"{cls.__name__}: warm_start cannot continue the fitted network ({param} "
                f"changed from {old!r} to {value!r} since it was built); fitting a new "
                "network.")
    assert expected in [str(warning.message) for warning in caught]
    # The model is the one a fresh fit with these parameters trains.
    fresh = _fit(clone(model), data)
    assert_array_equal(_outputs(model, data), _outputs(fresh, data))
    assert model.n_iter_ == fresh.n_iter_
    # And sknn.save writes a file that loads, and predicts the same.
    sknn.save(model, tmp_path / "model.sknn")
    loaded = sknn.load(tmp_path / "model.sknn")
    assert loaded.get_params()[param] == model.get_params()[param]
    assert_array_equal(_outputs(loaded, data), _outputs(model, data))


@pytest.mark.parametrize("cls, base, data, param, value", CONTINUING)
def test_partial_fit_after_a_change_raises_before_anything_changes(
        cls, base, data, param, value):
    model = _fit(_model(cls, base, data), data)
    old, weights, n_iter = model.get_params()[param], _weights(model), model.n_iter_
    history = copy.deepcopy(model.loss_curve_)
    model.set_params(**{param: value})
    X = DATA[data]
    y = LABELS if model._is_classifier() else LABELS.astype(float)
    with pytest.raises(ValueError, match=re.escape(
            f"{cls.__name__}.partial_fit: {param} changed from {old!r} to {value!r} since "
            "the network was built; partial_fit continues that network, which was not "
            "built for the new value. Call fit with warm_start=False to train a new "
            "network, or set the old value back.")):
        model.partial_fit(X, y)
    after = _weights(model)
    assert after.keys() == weights.keys()
    assert all(torch.equal(after[key], weights[key]) for key in weights)
    assert model.n_iter_ == n_iter and model.loss_curve_ == history
    # Set back, the network continues.
    model.set_params(**{param: old}).partial_fit(X, y)
    assert model.n_iter_ == n_iter + 1


def test_parameters_that_only_steer_training_keep_the_warm_start():
    model = _fit(MLPClassifier(**FAST, hidden_layer_sizes=(6,), warm_start=True), "table")
    model.set_params(alpha=0.1, learning_rate_init=0.01, learning_rate="constant",
                     max_iter=1, batch_size=8, tol=0.0, adversarial_epsilon=0.01,
                     class_weight="balanced", hidden_layer_sizes=[6])  # a list, as (6,)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit(model, "table")
    assert model.n_iter_ == 3  # continued
    assert not [w for w in caught if "warm_start" in str(w.message)]


@pytest.mark.parametrize("spec", ["index", "series"])
def test_pandas_categorical_features_are_unchanged_parameters(tmp_path, spec):
    import pandas as pd

    frame = pd.DataFrame(TABLE, columns=["a", "b", "c", "d"]).astype({"c": "category",
                                                                     "d": "category"})
    chosen = (frame.select_dtypes("category").columns if spec == "index"
              else pd.Series([False, False, True, True]))
    model = MLPClassifier(**FAST, hidden_layer_sizes=(6,), categorical_features=chosen)
    model.fit(frame, LABELS).partial_fit(frame, LABELS)  # continues: nothing changed
    assert model.n_iter_ == 3
    if spec == "index":  # a Series is no data a file holds
        sknn.save(model, tmp_path / "m.sknn")


def test_several_changes_are_named_together():
    model = _fit(MLPRegressor(**FAST, hidden_layer_sizes=(6,)), "table")
    model.set_params(activation="tanh", dropout=0.5)
    with pytest.raises(ValueError, match=re.escape(
            "MLPRegressor.partial_fit: activation changed from 'relu' to 'tanh'; dropout "
            "changed from 0.0 to 0.5 since the network was built;")):
        model.partial_fit(TABLE, LABELS.astype(float))


def test_saving_refuses_parameters_changed_after_the_fit(tmp_path):
    model = _fit(MLPClassifier(**FAST, hidden_layer_sizes=(6,)), "table")
    model.set_params(activation="tanh")  # same weights, another function
    path = tmp_path / "model.sknn"
    with pytest.raises(ValueError, match=re.escape(
            "sknn.save: MLPClassifier's parameters no longer describe its fitted network "
            "(activation changed from 'relu' to 'tanh' since it was built); a file of them "
            "would rebuild another network. Set the old value back, or fit again, before "
            "saving.")):
        sknn.save(model, path)
    assert not path.exists()
    model.set_params(activation="relu")
    sknn.save(model, path)
    assert_array_equal(_outputs(sknn.load(path), "table"), _outputs(model, "table"))


@pytest.mark.parametrize("model, data, change, difference", [
    (MLPClassifier(**FAST, hidden_layer_sizes=(6,), ensemble_size=1), "table",
     dict(hidden_layer_sizes=(5,)), "body.0.weight has shape (6, 4) in the weights, (5, 4) "
     "rebuilt"),
    (MLPClassifier(**FAST, hidden_layer_sizes=(6,), ensemble_size=1), "table",
     dict(ensemble_size=2), "the weights hold ['head.bias', 'head.weight'], which the "
     "rebuilt network lacks"),
    (RNNClassifier(**FAST, hidden_size=4), "flat", dict(pooling="attention"),
     "the rebuilt network needs ['pool.score.bias', 'pool.score.weight'], which the "
     "weights lack"),
], ids=["shape", "extra weights", "missing weights"])
def test_saving_refuses_parameters_that_build_other_weights(model, data, change, difference,
                                                            tmp_path):
    model = _fit(clone(model), data)
    built = model.get_params()
    # As a model pickled by an sknn that kept no record of its parameters.
    del model._network_params_
    model.set_params(**change)
    path = tmp_path / "model.sknn"
    with pytest.raises(ValueError, match=re.escape(
            f"sknn.save: {type(model).__name__}'s parameters build a network that does not "
            f"match its fitted weights ({difference}); a file of them could not be loaded. "
            "Fit again before saving.")):
        sknn.save(model, path)
    assert not path.exists()
    model.set_params(**{key: built[key] for key in change})
    sknn.save(model, path)  # the parameters it was built with
    assert_array_equal(_outputs(sknn.load(path), data), _outputs(model, data))


def test_a_loaded_model_records_the_parameters_it_was_rebuilt_with(tmp_path):
    model = _fit(MLPClassifier(**FAST, hidden_layer_sizes=(6,)), "table")
    sknn.save(model, tmp_path / "model.sknn")
    loaded = sknn.load(tmp_path / "model.sknn")
    loaded.set_params(hidden_layer_sizes=(3,))
    with pytest.raises(ValueError, match=re.escape(
            "MLPClassifier.partial_fit: hidden_layer_sizes changed from (6,) to (3,)")):
        loaded.partial_fit(TABLE, LABELS)
