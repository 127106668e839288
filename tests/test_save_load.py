"""sknn.save / sknn.load: safe model files that load without running code."""

import json
import os
import pickle
import re
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from helpers import refusal_pattern, rewrite_sknn_file
from numpy.testing import assert_array_equal
from safetensors import safe_open
from safetensors.torch import save_file
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

import sknn
from sknn import (
    AutoencoderTransformer,
    CNNClassifier,
    CNNRegressor,
    DistilledClassifier,
    DistilledRegressor,
    MLPClassifier,
    MLPRegressor,
    RNNClassifier,
    RNNRegressor,
    TransformerClassifier,
    TransformerRegressor,
)
from sknn.callbacks import Checkpoint
from sknn.compression import quantize
from sknn.text import TextSequencer

RNG = np.random.RandomState(0)
TABLE = RNG.randn(48, 4)
LABELS = np.where(TABLE[:, 0] + TABLE[:, 1] > 0, "yes", "no")
TARGET = TABLE @ np.array([1.0, -2.0, 0.5, 0.0]) + 10
SERIES = RNG.randn(48, 2, 12)
SERIES_LABELS = (SERIES[:, 0].mean(axis=1) > 0).astype(int)
SERIES_TARGET = SERIES[:, 1].sum(axis=1)

MLP_FAST = dict(hidden_layer_sizes=(8,), ensemble_size=2, max_iter=3, random_state=0)
CNN_FAST = dict(architecture="plain", n_filters=(4,), kernel_size=(3,), max_iter=3,
                random_state=0)
RNN_FAST = dict(hidden_size=6, max_iter=3, random_state=0)
TRANSFORMER_FAST = dict(n_blocks=1, d_token=8, n_heads=2, max_iter=3, random_state=0)


def _outputs(estimator, X):
    """Everything an estimator computes from X, by method name."""
    methods = ["predict", "predict_proba", "predict_log_proba", "transform",
               "inverse_transform", "score_samples"]
    outputs = {}
    for method in methods:
        if hasattr(estimator, method):
            source = estimator.transform(X) if method == "inverse_transform" else X
            outputs[method] = getattr(estimator, method)(source)
    return outputs


def _round_trip(estimator, path, **load_options):
    sknn.save(estimator, path)
    return sknn.load(path, **load_options)


def _assert_same_outputs(original, loaded, X):
    expected, found = _outputs(original, X), _outputs(loaded, X)
    assert expected.keys() == found.keys() and expected
    for method, values in expected.items():
        assert_array_equal(found[method], values, err_msg=method)


FITTED = {
    "mlp-classifier": lambda: (MLPClassifier(**MLP_FAST).fit(TABLE, LABELS), TABLE),
    "mlp-regressor": lambda: (MLPRegressor(**MLP_FAST).fit(TABLE, TARGET), TABLE),
    "mlp-multilabel": lambda: (
        MLPClassifier(**MLP_FAST).fit(TABLE, np.column_stack([LABELS == "yes", TABLE[:, 2] > 0])),
        TABLE),
    "cnn-classifier": lambda: (CNNClassifier(**CNN_FAST).fit(SERIES, SERIES_LABELS), SERIES),
    "cnn-regressor-images": lambda: (
        CNNRegressor(**CNN_FAST).fit(SERIES[:, :1, :, None].repeat(4, axis=3),
                                     SERIES_TARGET),
        SERIES[:, :1, :, None].repeat(4, axis=3)),
    "rnn-classifier": lambda: (RNNClassifier(**RNN_FAST).fit(SERIES, SERIES_LABELS), SERIES),
    "rnn-regressor": lambda: (RNNRegressor(cell="gru", **RNN_FAST).fit(SERIES, SERIES_TARGET),
                              SERIES),
    "transformer-classifier": lambda: (
        TransformerClassifier(**TRANSFORMER_FAST).fit(TABLE, LABELS), TABLE),
    "transformer-regressor-series": lambda: (
        TransformerRegressor(**TRANSFORMER_FAST).fit(SERIES, SERIES_TARGET), SERIES),
    "autoencoder": lambda: (
        AutoencoderTransformer(n_components=2, hidden_layer_sizes=(6,), max_iter=3,
                               random_state=0).fit(TABLE), TABLE),
    "distilled-classifier": lambda: (
        DistilledClassifier(MLPClassifier(**MLP_FAST),
                            MLPClassifier(**MLP_FAST).fit(TABLE, LABELS)).fit(TABLE, LABELS),
        TABLE),
    "distilled-regressor": lambda: (
        DistilledRegressor(MLPRegressor(**MLP_FAST), MLPRegressor(**MLP_FAST),
                           fit_teacher=True, random_state=0).fit(TABLE, TARGET),
        TABLE),
}


@pytest.mark.parametrize("name", FITTED)
def test_loaded_estimators_predict_exactly_as_before(name, tmp_path):
    estimator, X = FITTED[name]()
    loaded = _round_trip(estimator, tmp_path / "model.sknn")
    assert type(loaded) is type(estimator)
    assert loaded.get_params(deep=False).keys() == estimator.get_params(deep=False).keys()
    _assert_same_outputs(estimator, loaded, X)
    for attribute in ("classes_", "n_features_in_", "n_iter_", "loss_curve_", "n_outputs_"):
        if hasattr(estimator, attribute):
            assert_array_equal(getattr(loaded, attribute), getattr(estimator, attribute))


def test_dataframes_with_categories_and_missing_values(tmp_path):
    frame = pd.DataFrame({
        "size": RNG.randn(60),
        "colour": pd.Categorical(RNG.choice(["red", "green", "blue"], 60)),
        "city": RNG.choice(["Oslo", "Lima", None, ""], 60).astype(object),
        "count": RNG.randint(0, 5, 60),
        "flag": RNG.rand(60) > 0.5,
    })
    frame.loc[[2, 7], "size"] = np.nan
    y = np.where(frame["size"].fillna(0) > 0, "big", "small")
    new = frame.iloc[:10].copy()
    new.loc[new.index[0], "city"] = "Paris"  # a level never seen in fit
    new = new[list(reversed(new.columns))]  # columns by name, in another order
    for estimator in (MLPClassifier(**MLP_FAST).fit(frame, y),
                      TransformerClassifier(**TRANSFORMER_FAST).fit(frame, y),
                      MLPRegressor(**MLP_FAST).fit(frame, frame["count"] * 1.5)):
        loaded = _round_trip(estimator, tmp_path / "frame.sknn")
        assert_array_equal(loaded.feature_names_in_, estimator.feature_names_in_)
        assert loaded.encoder_.kinds == estimator.encoder_.kinds
        _assert_same_outputs(estimator, loaded, new)
        _assert_same_outputs(estimator, loaded, frame)


def test_pandas_output_and_text_pipeline_parts(tmp_path):
    encoder = AutoencoderTransformer(n_components=2, hidden_layer_sizes=(4,), max_iter=2,
                                     random_state=0).set_output(transform="pandas").fit(TABLE)
    loaded = _round_trip(encoder, tmp_path / "encoder.sknn")
    pd.testing.assert_frame_equal(loaded.transform(TABLE), encoder.transform(TABLE))
    documents = ["the cat sat", "a dog ran", "the dog sat down", "cats and dogs"] * 6
    sequencer = TextSequencer(max_features=5).fit(documents)
    tokens = sequencer.transform(documents)
    rnn = RNNClassifier(**RNN_FAST).fit(tokens, np.arange(24) % 2)
    loaded_sequencer = _round_trip(sequencer, tmp_path / "sequencer.sknn")
    loaded_rnn = _round_trip(rnn, tmp_path / "rnn.sknn")
    assert loaded_sequencer.vocabulary_ == sequencer.vocabulary_
    assert_array_equal(loaded_rnn.predict_proba(loaded_sequencer.transform(documents)),
                       rnn.predict_proba(tokens))


def test_training_continues_after_loading_as_it_would_have(tmp_path):
    original = MLPClassifier(**{**MLP_FAST, "warm_start": True},
                             learning_rate="warmup_cosine").fit(TABLE, LABELS)
    loaded = _round_trip(original, tmp_path / "model.sknn")
    # The optimizer's moments, the schedule and the history were saved too.
    original.fit(TABLE, LABELS)
    loaded.fit(TABLE, LABELS)
    assert loaded.n_iter_ == original.n_iter_ == 6
    assert loaded.loss_curve_ == original.loss_curve_
    assert_array_equal(loaded.predict_proba(TABLE), original.predict_proba(TABLE))
    regressor = MLPRegressor(**MLP_FAST).partial_fit(TABLE, TARGET)
    loaded = _round_trip(regressor, tmp_path / "regressor.sknn")
    assert_array_equal(loaded.partial_fit(TABLE, TARGET).predict(TABLE),
                       regressor.partial_fit(TABLE, TARGET).predict(TABLE))


def test_unfitted_estimators_and_parameters_round_trip(tmp_path):
    estimator = MLPClassifier(hidden_layer_sizes=[5, 3], class_weight={"no": 2.0, "yes": 1},
                              random_state=np.random.RandomState(3), device=torch.device("cpu"))
    loaded = _round_trip(estimator, tmp_path / "unfitted.sknn")
    params = loaded.get_params(deep=False)
    assert params["hidden_layer_sizes"] == [5, 3]
    assert params["class_weight"] == {"no": 2.0, "yes": 1}
    assert params["device"] == torch.device("cpu")
    assert params["random_state"].randint(1000) == np.random.RandomState(3).randint(1000)
    with pytest.raises(Exception, match="not fitted"):
        check_is_fitted(loaded)


# -- what is left out or refused when saving ------------------------------------------
class Noisy(Callback):
    pass


def test_what_only_acts_in_fit_is_left_out_with_a_warning(tmp_path):
    teacher = LogisticRegression().fit(TABLE, LABELS)
    distilled = DistilledClassifier(MLPClassifier(**MLP_FAST, callbacks=[Noisy()]),
                                    teacher).fit(TABLE, LABELS)
    path = tmp_path / "distilled.sknn"
    with pytest.warns(UserWarning, match=(
            r"sknn.save: .*distilled\.sknn leaves out student\.callbacks \(a "
            r"list of test_save_load\.Noisy\), teacher \(a sklearn\.linear_model\._logistic\."
            r"LogisticRegression\), student_\.callbacks .*teacher_ .*: only sknn "
            r"estimators and plain data are stored, never callbacks \(a Checkpoint would "
            r"write where the file says, on the disk of whoever loads it\)\. These parts "
            r"act only in fit; after sknn.load they are None \(parameters\) or absent "
            r"\(fitted attributes\): pass them again with set_params\.")):
        sknn.save(distilled, path)
    loaded = sknn.load(path)
    assert loaded.teacher is None and not hasattr(loaded, "teacher_")
    assert loaded.student.callbacks is None
    _assert_same_outputs(distilled, loaded, TABLE)


def test_saving_refuses_what_it_cannot_store(tmp_path):
    path = tmp_path / "model.sknn"
    with pytest.raises(TypeError, match=r"sknn.save stores an sknn estimator \(MLPClassifier, "
                       r"CNNRegressor, \.\.\.\) or a scikit-learn estimator that may hold "
                       r"some \(a Pipeline, a ColumnTransformer, \.\.\.\); got a builtins\.dict\. "
                       r"Save other objects with joblib"):
        sknn.save({"model": LogisticRegression()}, path)
    estimator = MLPRegressor(**MLP_FAST).fit(TABLE, TARGET)
    estimator.note_ = {"made by": lambda: None}
    with pytest.raises(TypeError, match=r"sknn.save: cannot store note_\['made by'\] \(a "
                       r"builtins.function\) as data; a file holds only plain values"):
        sknn.save(estimator, path)
    del estimator.note_
    with pytest.raises(TypeError, match=r"sknn.save: net_ is a quantized network "
                       r"\(sknn.compression.quantize\), which sknn's files cannot rebuild; "
                       r"save the float model and quantize it after loading\."):
        sknn.save(quantize(estimator), path)
    assert not path.exists() and os.listdir(tmp_path) == []


def test_saving_replaces_a_file_atomically(tmp_path):
    path = tmp_path / "model.sknn"
    path.write_text("old")
    sknn.save(MLPRegressor(**MLP_FAST).fit(TABLE, TARGET), path)
    assert os.listdir(tmp_path) == ["model.sknn"]
    assert sknn.load(path).n_iter_ == 3


def test_a_file_that_cannot_be_written_raises_an_oserror_naming_it(tmp_path):
    model = MLPRegressor(**MLP_FAST).fit(TABLE, TARGET)
    missing = tmp_path / "no such folder" / "model.sknn"
    with pytest.raises(FileNotFoundError) as error:
        sknn.save(model, missing)
    assert error.value.filename == str(missing)
    assert str(missing) in str(error.value) and "partial" not in str(error.value)
    (tmp_path / "folder.sknn").mkdir()  # os.replace cannot put a file over a folder
    with pytest.raises(OSError) as error:
        sknn.save(model, tmp_path / "folder.sknn")
    assert error.value.filename == str(tmp_path / "folder.sknn")
    assert sorted(os.listdir(tmp_path)) == ["folder.sknn"]  # no temporary file left


# -- untrusted files ------------------------------------------------------------------
class Payload:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_pickle_payload_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "model.sknn"
    path.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ValueError, match=r"sknn.load: .*model\.sknn is not an sknn model file "
                       r"\(.*\)\. sknn reads only the safetensors files that sknn.save writes "
                       r"and never unpickles"):
        sknn.load(path)
    assert not marker.exists()
    pickle.loads(path.read_bytes())  # the payload is live: unpickling it runs code
    assert marker.exists()
    joblib.dump(MLPRegressor(**MLP_FAST).fit(TABLE, TARGET), path)
    with pytest.raises(ValueError, match="is not an sknn model file"):
        sknn.load(path)


def test_loading_never_unpickles(tmp_path, monkeypatch):
    path = tmp_path / "model.sknn"
    estimator = MLPClassifier(**MLP_FAST).fit(TABLE, LABELS)
    sknn.save(estimator, path)

    def forbidden(*args, **kwargs):
        raise AssertionError("sknn.load unpickled something")

    for module, name in [(pickle, "loads"), (pickle, "load"), (pickle, "Unpickler"),
                         (torch, "load"), (joblib, "load")]:
        monkeypatch.setattr(module, name, forbidden)
    _assert_same_outputs(estimator, sknn.load(path), TABLE)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.sknn"
    sknn.save(MLPClassifier(**MLP_FAST).fit(TABLE, LABELS), path)
    return path


def _set_class(document, name):
    document["estimator"]["class"] = name


def _set_task_class(document, name):
    document["estimator"]["state"]["task_"]["class"] = name


def _add_state(document, key, value):
    document["estimator"]["state"][key] = value


@pytest.mark.parametrize("edit, refused", [
    (lambda d: _set_class(d, "subprocess.Popen"), "estimator class 'subprocess.Popen'"),
    (lambda d: _set_task_class(d, "os.system"), "class 'os.system'"),
    (lambda d: _set_task_class(d, "builtins.eval"), "class 'builtins.eval'"),
    (lambda d: _add_state(d, "loss_", {"$type": "pickle", "data": "gASVAAAAAAAAAAB9lC4="}),
     "an entry of unknown type 'pickle'"),
    (lambda d: _add_state(d, "predict", "not a method"),
     "attribute 'predict', which would replace a method or property of MLPClassifier"),
    (lambda d: _add_state(d, "__class__", "x"), "attribute name '__class__' of MLPClassifier"),
    (lambda d: _add_state(d, "scale_", {"$type": "scalar", "dtype": "O", "value": 1}),
     "NumPy dtype 'O'"),
    (lambda d: _add_state(d, "alpha", 1.0), "fitted attribute 'alpha' of MLPClassifier"),
    (lambda d: d.update(estimator=[1, 2]),
     "an entry that is not an estimator at the top of the file"),
    (lambda d: d["estimator"]["net"].update(dtype="complex128"),
     "network dtype 'complex128'"),
    (lambda d: d["estimator"]["net"].update(autocast="os.system"),
     "autocast dtype 'os.system'"),
    (lambda d: d["estimator"]["net"]["callbacks"].update(spy={"$type": "dict", "items": []}),
     "state for a callback 'spy' the network lacks"),
])
def test_a_tampered_file_is_refused(saved, edit, refused):
    rewrite_sknn_file(saved, edit)
    with pytest.raises(ValueError, match=refusal_pattern("model.sknn", refused)):
        sknn.load(saved)


def test_a_damaged_or_foreign_file_is_refused(saved, tmp_path):
    rewrite_sknn_file(saved, lambda d: d["estimator"]["params"].update(no_such_parameter=1))
    with pytest.raises(ValueError, match=r"sknn.load: .*model\.sknn is damaged or was not "
                       r"written by sknn \(TypeError: .*no_such_parameter"):
        sknn.load(saved)
    other = tmp_path / "weights.safetensors"
    save_file({"weight": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match=r"sknn.load: .*weights\.safetensors is a safetensors "
                       r"file but not one written by sknn \(its metadata lacks sknn's "
                       r"description of the model\)\."):
        sknn.load(other)
    rewrite_sknn_file(saved, lambda d: d.update(format=99))
    with pytest.raises(ValueError, match=r"sknn.load: .*model\.sknn was written in sknn file "
                       r"format 99, newer than this sknn reads \(3\); upgrade sknn to load it\."):
        sknn.load(saved)


def test_a_checkpoint_is_not_a_model(tmp_path):
    path = tmp_path / "fit.ckpt"

    class Crash(Callback):
        def on_epoch_end(self, net, **kwargs):
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError, match="crash"):
        MLPClassifier(**MLP_FAST, callbacks=[Checkpoint(path), Crash()]).fit(TABLE, LABELS)
    with pytest.raises(ValueError, match=r"sknn.load: .*fit\.ckpt holds a 'checkpoint' entry, "
                       r"not a saved model \(sknn.save\)\."):
        sknn.load(path)


def test_a_format_1_file_still_loads(saved):
    """Format 1 files lack the constant rate's schedule state and the autocast dtype."""
    expected = sknn.load(saved).predict_proba(TABLE)

    def as_format_1(document):
        document["format"] = 1
        net = document["estimator"]["net"]
        del net["autocast"]
        del net["callbacks"]["lr_schedule"]

    rewrite_sknn_file(saved, as_format_1)
    loaded = sknn.load(saved)
    np.testing.assert_array_equal(loaded.predict_proba(TABLE), expected)
    loaded.set_params(warm_start=True).fit(TABLE, LABELS)  # and keeps training
    assert loaded.n_iter_ == 6


def test_other_versions_warn_when_loading(saved):
    def older(document):
        document["versions"]["torch"] = "1.13.0"
        document["versions"]["scikit-learn"] = "1.5.2"

    rewrite_sknn_file(saved, older)
    with pytest.warns(UserWarning, match=(
            r"sknn.load: .*model\.sknn was saved with torch 1\.13\.0, scikit-learn 1\.5\.2; "
            rf"this environment has torch {re.escape(torch.__version__)}, scikit-learn .*\. "
            r"The model "
            r"loads, but its predictions may differ: check them, or re-fit and save it with "
            r"these versions\.")):
        loaded = sknn.load(saved)
    assert loaded.predict(TABLE).shape == (48,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _round_trip(loaded, saved)  # saved again now: current versions, no warning


def test_versions_are_recorded(saved):
    import sklearn

    with safe_open(saved, framework="pt") as file:
        versions = json.loads(file.metadata()["sknn"])["versions"]
    assert versions["sknn"] == sknn.__version__
    assert versions["torch"] == torch.__version__
    assert versions["scikit-learn"] == sklearn.__version__


# -- devices --------------------------------------------------------------------------
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_model_saved_for_cuda_loads_onto_the_cpu(tmp_path):
    estimator = MLPClassifier(**MLP_FAST).fit(TABLE, LABELS)
    estimator.set_params(device="cuda")  # as saved from a GPU machine
    path = tmp_path / "gpu.sknn"
    sknn.save(estimator, path)
    with pytest.warns(UserWarning, match=r"sknn.load: MLPClassifier was saved with "
                      r"device='cuda', which this machine cannot use; its network is loaded "
                      r"onto the CPU \(device_\)\. Set device='cpu' or 'auto' before fitting "
                      r"it again here\."):
        loaded = sknn.load(path)
    # The parameter is what its author set; where the network is now is device_.
    assert loaded.device == "cuda" and loaded.device_ == torch.device("cpu")
    assert loaded.net_.device == "cpu"
    assert next(loaded.net_.module_.parameters()).device.type == "cpu"
    _assert_same_outputs(estimator.set_params(device="cpu"), loaded, TABLE)
    with pytest.raises(ValueError, match=r"sknn.load: device='cuda' cannot be used on this "
                       r"machine \(MLPClassifier: device='cuda' was requested but CUDA is not "
                       r"available here; use device='auto' or 'cpu'\.\)\."):
        sknn.load(path, device="cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_model_loaded_off_its_gpu_continues_training_where_its_network_is(tmp_path):
    estimator = MLPClassifier(**MLP_FAST, warm_start=True).fit(TABLE, LABELS)
    estimator.set_params(device="cuda")  # as saved from a GPU machine
    sknn.save(estimator, tmp_path / "gpu.sknn")
    with pytest.warns(UserWarning, match="loaded onto the CPU"):
        loaded = sknn.load(tmp_path / "gpu.sknn")
    loaded.fit(TABLE, LABELS)  # a warm start: the network stays on device_
    assert loaded.n_iter_ == 6 and loaded.device_ == torch.device("cpu")
    with pytest.raises(ValueError, match="device='cuda' was requested but CUDA is not "
                       "available here"):
        clone(loaded).fit(TABLE, LABELS)  # a new network goes where device says


def test_load_onto_a_requested_device(tmp_path):
    distilled, _ = FITTED["distilled-classifier"]()
    loaded = _round_trip(distilled, tmp_path / "model.sknn", device="cpu")
    # load(device=...) places the networks; the parameters keep what was saved.
    assert loaded.student_.device == distilled.student_.device
    assert loaded.student_.device_ == torch.device("cpu")
    assert loaded.student_.net_.device == "cpu"
    assert loaded.teacher is loaded.teacher_  # one estimator, stored once
