"""sknn.save / sknn.load of scikit-learn objects holding sknn estimators (skops + sknn files)."""

import functools
import json
import os
import pickle
import sys
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io
import torch
from helpers import refusal_pattern, rewrite_sknn_file
from numpy.testing import assert_array_equal
from safetensors import safe_open
from safetensors.torch import save_file
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer, make_column_selector, make_column_transformer
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

import sknn
from sknn import AutoencoderTransformer, MLPClassifier, MLPRegressor
from sknn._io._persistence import CHECKSUM_KEY, _digest
from sknn._io._pipelines import PLACEHOLDER_TYPE, SknnEstimatorPlaceholder
from sknn.text import TextSequencer

RNG = np.random.RandomState(0)
TABLE = RNG.randn(40, 4)
LABELS = np.where(TABLE[:, 0] + TABLE[:, 1] > 0, "yes", "no")
FAST = dict(max_iter=2, n_threads=1, random_state=0)
MLP_FAST = dict(hidden_layer_sizes=(6,), ensemble_size=1, **FAST)
DOCUMENTS = ["the cat sat", "a dog ran", "the dog sat down", "cats and dogs"] * 6


def _frame():
    frame = pd.DataFrame({
        "size": RNG.randn(40),
        "weight": RNG.randn(40),
        "colour": pd.Categorical(RNG.choice(["red", "green", "blue"], 40)),
        "city": RNG.choice(["Oslo", "Lima", "Pune"], 40).astype(object),
    })
    return frame, 2 * frame["size"] - frame["weight"]


def _round_trip(obj, path, **load_options):
    sknn.save(obj, path)
    return sknn.load(path, **load_options)


def _assert_same_predictions(original, loaded, X):
    methods = [m for m in ("predict", "predict_proba", "transform") if hasattr(original, m)]
    assert methods
    for method in methods:
        assert_array_equal(getattr(loaded, method)(X), getattr(original, method)(X),
                           err_msg=method)


def _document(path) -> dict:
    with safe_open(path, framework="pt") as file:
        return json.loads(file.metadata()["sknn"])


# -- round trips -------------------------------------------------------------------
def test_a_pipeline_with_a_scaler_and_an_mlp(tmp_path):
    pipe = make_pipeline(StandardScaler(), MLPClassifier(**MLP_FAST)).fit(TABLE, LABELS)
    loaded = _round_trip(pipe, tmp_path / "pipe.sknn")
    assert type(loaded) is Pipeline and [name for name, _ in loaded.steps] == [
        "standardscaler", "mlpclassifier"]
    assert type(loaded[-1]) is MLPClassifier and loaded[-1] is not pipe[-1]
    assert_array_equal(loaded[0].mean_, pipe[0].mean_)
    _assert_same_predictions(pipe, loaded, TABLE)
    assert_array_equal(loaded.classes_, pipe.classes_)
    document = _document(tmp_path / "pipe.sknn")
    assert document["kind"] == "pipeline" and document["format"] == 3
    assert document["skops_version"] == skops.__version__
    assert [entry["at"] for entry in document["estimators"]] == ["steps[1][1]"]
    # The loaded network keeps training, as a loaded bare estimator does.
    loaded[-1].set_params(warm_start=True)
    assert loaded.fit(TABLE, LABELS)[-1].n_iter_ == 4


def test_an_imputer_and_a_column_selector_load_without_trusted(tmp_path):
    frame, target = _frame()
    frame.loc[::5, "size"] = np.nan
    columns = make_column_transformer(
        (make_pipeline(SimpleImputer(), StandardScaler()),
         make_column_selector(dtype_include="number")),
        (SimpleImputer(strategy="most_frequent"), make_column_selector(pattern="^city$")))
    pipe = make_pipeline(columns, MLPRegressor(**MLP_FAST)).fit(frame, target)
    path = tmp_path / "imputed.sknn"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "needs trusted" warning
        sknn.save(pipe, path)
    loaded = sknn.load(path)
    _assert_same_predictions(pipe, loaded, frame)
    assert loaded[0].transformers_[0][2] == ["size", "weight"]


def test_a_column_transformer_with_an_autoencoder_and_an_mlp_regressor(tmp_path):
    frame, y = _frame()
    autoencoder = AutoencoderTransformer(n_components=2, hidden_layer_sizes=(4,), **FAST)
    columns = ColumnTransformer([("numbers", autoencoder, ["size", "weight"]),
                                 ("categories", OneHotEncoder(), ["colour", "city"])])
    pipe = make_pipeline(columns, MLPRegressor(**MLP_FAST)).fit(frame, y)
    loaded = _round_trip(pipe, tmp_path / "columns.sknn", device="cpu")
    _assert_same_predictions(pipe, loaded, frame)
    _assert_same_predictions(pipe[0], loaded[0], frame)
    fitted = loaded[0].named_transformers_["numbers"]
    assert type(fitted) is AutoencoderTransformer and fitted.net_.device == "cpu"
    # The unfitted template in ``transformers`` is an sknn estimator too.
    assert type(loaded[0].transformers[0][1]) is AutoencoderTransformer
    assert not hasattr(loaded[0].transformers[0][1], "net_")
    assert_array_equal(loaded.feature_names_in_, pipe.feature_names_in_)


def test_a_search_best_estimator_and_the_whole_search(tmp_path):
    search = GridSearchCV(make_pipeline(StandardScaler(), MLPClassifier(**MLP_FAST)),
                          {"mlpclassifier__alpha": [1e-4, 1e-2]}, cv=2).fit(TABLE, LABELS)
    best = _round_trip(search.best_estimator_, tmp_path / "best.sknn")
    _assert_same_predictions(search.best_estimator_, best, TABLE)
    assert best.get_params()["mlpclassifier__alpha"] == search.best_params_[
        "mlpclassifier__alpha"]
    # The search itself holds types skops does not trust by default: said on save,
    # refused on load, loaded when trusted (as names or as types).
    path = tmp_path / "search.sknn"
    with pytest.warns(UserWarning, match=(
            r"sknn.save: .*search\.sknn holds types that skops does not trust by default "
            r"\(sklearn\.metrics\._scorer\._PassthroughScorer, sklearn\.model_selection\."
            r"_split\.StratifiedKFold\); sknn.load refuses the file unless they are passed "
            r"in trusted=\[\.\.\.\]\.")):
        sknn.save(search, path)
    with pytest.raises(ValueError, match=(
            r"sknn.load: .*search\.sknn asks for types that skops does not trust by default: "
            r"sklearn\.metrics\._scorer\._PassthroughScorer, sklearn\.model_selection\._split"
            r"\.StratifiedKFold; refusing to load it\. Pass them in trusted=\[\.\.\.\] only if "
            r"you trust where the file comes from\.")):
        sknn.load(path)
    from sklearn.metrics._scorer import _PassthroughScorer
    from sklearn.model_selection import StratifiedKFold

    loaded = sknn.load(path, trusted=["sklearn.metrics._scorer._PassthroughScorer",
                                      StratifiedKFold])
    _assert_same_predictions(search, loaded, TABLE)
    assert type(loaded.estimator[-1]) is MLPClassifier  # the unfitted template
    assert sknn.load(path, trusted=(_PassthroughScorer, StratifiedKFold)).best_index_ == \
        search.best_index_


def test_a_text_pipeline_and_a_nested_pipeline(tmp_path):
    labels = np.arange(24) % 2
    text = make_pipeline(TextSequencer(max_features=5),
                         sknn.RNNClassifier(hidden_size=4, **FAST)).fit(DOCUMENTS, labels)
    loaded = _round_trip(text, tmp_path / "text.sknn")
    assert loaded[0].vocabulary_ == text[0].vocabulary_
    _assert_same_predictions(text, loaded, DOCUMENTS)
    nested = Pipeline([
        ("prepare", Pipeline([("scale", StandardScaler()), ("pca", PCA(3))])),
        ("model", Pipeline([("transformer", sknn.TransformerClassifier(
            n_blocks=1, d_token=8, n_heads=2, **FAST))])),
    ]).fit(TABLE, LABELS)
    loaded = _round_trip(nested, tmp_path / "nested.sknn")
    assert type(loaded["model"]["transformer"]) is sknn.TransformerClassifier
    _assert_same_predictions(nested, loaded, TABLE)
    assert [e["at"] for e in _document(tmp_path / "nested.sknn")["estimators"]] == [
        "steps[1][1].steps[0][1]"]


def test_one_estimator_in_two_places_stays_one(tmp_path):
    pipe = make_pipeline(StandardScaler(), MLPClassifier(**MLP_FAST)).fit(TABLE, LABELS)
    pipe.final_model_ = pipe[-1]
    loaded = _round_trip(pipe, tmp_path / "pipe.sknn")
    assert loaded.final_model_ is loaded[-1]
    assert len(_document(tmp_path / "pipe.sknn")["estimators"]) == 1


def test_scikit_learn_objects_without_sknn_estimators_and_unfitted_ones(tmp_path):
    logistic = LogisticRegression().fit(TABLE, LABELS)
    _assert_same_predictions(logistic, _round_trip(logistic, tmp_path / "lr.sknn"), TABLE)
    assert _document(tmp_path / "lr.sknn")["estimators"] == []
    unfitted = make_pipeline(StandardScaler(), MLPClassifier(**MLP_FAST))
    loaded = _round_trip(unfitted, tmp_path / "unfitted.sknn")
    assert loaded.get_params()["mlpclassifier__hidden_layer_sizes"] == (6,)
    with pytest.raises(NotFittedError, match="This Pipeline instance is not fitted yet"):
        loaded.predict(TABLE)
    assert_array_equal(loaded.fit(TABLE, LABELS).predict_proba(TABLE),
                       unfitted.fit(TABLE, LABELS).predict_proba(TABLE))


def test_a_bare_estimator_file_is_unchanged(tmp_path):
    estimator = MLPClassifier(**MLP_FAST).fit(TABLE, LABELS)
    sknn.save(estimator, tmp_path / "model.sknn")
    document = _document(tmp_path / "model.sknn")
    assert document["kind"] == "model" and document["format"] == 2  # older sknn reads it
    _assert_same_predictions(estimator, sknn.load(tmp_path / "model.sknn", trusted=[]), TABLE)


def test_loading_a_pipeline_never_unpickles(tmp_path, monkeypatch):
    frame, y = _frame()
    pipe = make_pipeline(ColumnTransformer([("scale", StandardScaler(), ["size", "weight"]),
                                            ("hot", OneHotEncoder(), ["colour"])]),
                         MLPRegressor(**MLP_FAST)).fit(frame, y)
    sknn.save(pipe, tmp_path / "pipe.sknn")

    def forbidden(*args, **kwargs):
        raise AssertionError("sknn.load unpickled something")

    for module, name in [(pickle, "loads"), (pickle, "load"), (pickle, "Unpickler"),
                         (torch, "load"), (joblib, "load")]:
        monkeypatch.setattr(module, name, forbidden)
    _assert_same_predictions(pipe, sknn.load(tmp_path / "pipe.sknn"), frame)


def test_the_placeholder_is_named_as_files_name_it():
    placeholder = SknnEstimatorPlaceholder(0)
    assert f"{type(placeholder).__module__}.{type(placeholder).__qualname__}" == \
        PLACEHOLDER_TYPE
    assert repr(placeholder) == "SknnEstimatorPlaceholder(0)"


# -- refused when saving -----------------------------------------------------------------
class Doubler(TransformerMixin, BaseEstimator):
    """A user's own transformer: a type skops does not trust by default."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return 2 * np.asarray(X)


def test_a_users_own_type_must_be_trusted_to_load(tmp_path):
    pipe = make_pipeline(Doubler(), MLPClassifier(**MLP_FAST)).fit(TABLE, LABELS)
    path = tmp_path / "pipe.sknn"
    with pytest.warns(UserWarning, match=r"holds types that skops does not trust by default "
                      r"\(test_save_pipelines\.Doubler\)"):
        sknn.save(pipe, path)
    with pytest.raises(ValueError, match=r"asks for types that skops does not trust by "
                       r"default: test_save_pipelines\.Doubler; refusing to load it"):
        sknn.load(path)
    _assert_same_predictions(pipe, sknn.load(path, trusted=[Doubler]), TABLE)
    _assert_same_predictions(pipe, sknn.load(path, trusted="test_save_pipelines.Doubler"),
                             TABLE)


def test_saving_refuses_what_it_cannot_store(tmp_path):
    path = tmp_path / "pipe.sknn"
    with pytest.raises(TypeError, match=r"sknn.save stores an sknn estimator .*; got a list "
                       r"of sklearn\.pipeline\.Pipeline\. Save other objects with joblib"):
        sknn.save([make_pipeline(StandardScaler())], path)
    # A partial's arguments are where the walk does not look (skops would store the
    # estimator as an object of an untrusted type).
    holder = FunctionTransformer(functools.partial(np.add, MLPClassifier(**MLP_FAST)))
    with pytest.raises(TypeError, match=r"sknn.save: a sklearn\.preprocessing\._function_"
                       r"transformer\.FunctionTransformer holds .*sknn\._estimators\._mlp\."
                       r"MLPClassifier.* where sknn.save does not look for sknn estimators"):
        sknn.save(holder, path)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(**MLP_FAST)).fit(TABLE, LABELS)
    pipe[-1].note_ = {"made by": lambda: None}
    with pytest.raises(TypeError, match=r"sknn.save: cannot store steps\[1\]\[1\]\.note_"
                       r"\['made by'\] \(a builtins.function\) as data"):
        sknn.save(pipe, path)
    assert not path.exists() and os.listdir(tmp_path) == []


# -- refused when loading -----------------------------------------------------------------
class Payload:
    """Building this creates a file: proof that code from the file ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __setstate__(self, state):
        Path(state["marker"]).touch()


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "pipe.sknn"
    sknn.save(make_pipeline(StandardScaler(), MLPClassifier(**MLP_FAST)).fit(TABLE, LABELS),
              path)
    return path


def _replace_skops_part(path, obj):
    """Put the skops archive of ``obj`` in place of the file's skops part (tampering)."""
    with safe_open(path, framework="pt") as file:
        metadata = file.metadata()
        tensors = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118
    archive = obj if isinstance(obj, bytes) else skops.io.dumps(obj)
    tensors["skops"] = torch.frombuffer(bytearray(archive), dtype=torch.uint8)
    # Re-signed, as whoever hands out such a file would: the checksum matches.
    metadata[CHECKSUM_KEY] = _digest(metadata, tensors)
    save_file(tensors, path, metadata=metadata)


def test_an_os_system_in_the_skops_part_is_refused(saved):
    _replace_skops_part(saved, make_pipeline(FunctionTransformer(os.system)))
    with pytest.raises(ValueError, match=r"sknn.load: .*pipe\.sknn asks for types that "
                       r"skops does not trust by default: posix\.system; refusing"):
        sknn.load(saved)


def test_a_custom_type_in_the_skops_part_is_refused_and_does_not_run(saved, tmp_path):
    marker = tmp_path / "code-ran"
    archive = skops.io.dumps(make_pipeline(StandardScaler(), FunctionTransformer(
        kw_args={"x": Payload(marker)})))
    _replace_skops_part(saved, archive)
    with pytest.raises(ValueError, match=r"asks for types that skops does not trust by "
                       r"default: test_save_pipelines\.Payload; refusing to load it"):
        sknn.load(saved)
    assert not marker.exists()
    skops.io.loads(archive, trusted=["test_save_pipelines.Payload"])  # the payload is live
    assert marker.exists()


def _set_estimator(document, edit):
    edit(document["estimators"][0]["estimator"])


@pytest.mark.parametrize("edit, refused", [
    (lambda d: _set_estimator(d, lambda e: e.update({"class": "subprocess.Popen"})),
     "estimator class 'subprocess.Popen'"),
    (lambda d: _set_estimator(d, lambda e: e["state"]["task_"].update({"class": "os.system"})),
     "class 'os.system'"),
    (lambda d: _set_estimator(d, lambda e: e["net"].update(autocast="os.system")),
     "autocast dtype 'os.system'"),
    (lambda d: d["estimators"][0].update(estimator={"$type": "tuple", "items": []}),
     "a builtins.tuple in place of an sknn estimator"),
    (lambda d: d["estimators"][0].update(estimator={"$type": "pickle", "data": "gASVLg=="}),
     "an entry of unknown type 'pickle'"),
    (lambda d: d.update(estimators=[]),
     "a placeholder for sknn estimator 0 (the file holds 0)"),
    (lambda d: d.update(skops=next(iter(d["estimators"][0]["estimator"]["net"]["module"]
                                        .values()))),
     "a skops part that is not a 1-D uint8 tensor"),
])
def test_a_tampered_network_part_is_refused(saved, edit, refused):
    rewrite_sknn_file(saved, edit)
    with pytest.raises(ValueError, match=refusal_pattern("pipe.sknn", refused)):
        sknn.load(saved)


def test_a_tampered_placeholder_or_damaged_archive_is_refused(saved):
    _replace_skops_part(saved, make_pipeline(StandardScaler(), SknnEstimatorPlaceholder(7)))
    with pytest.raises(ValueError, match=r"asks for a placeholder for sknn estimator 7 \(the "
                       r"file holds 1\), which sknn does not build from a file; refusing"):
        sknn.load(saved)
    _replace_skops_part(saved, b"not a zip archive")
    with pytest.raises(ValueError, match=r"sknn.load: .*pipe\.sknn is damaged or was not "
                       r"written by sknn \(BadZipFile: "):
        sknn.load(saved)


@pytest.mark.parametrize("trusted", [True, 3, [StandardScaler, 3]])
def test_trusted_must_be_a_list_of_names_or_types(saved, trusted):
    with pytest.raises(TypeError, match=r"sknn.load: trusted must be None or a list of type "
                       r"names \(such as 'sklearn\.preprocessing\._data\.StandardScaler'\) or "
                       r"types, as skops.io.load takes; got "):
        sknn.load(saved, trusted=trusted)


# -- without skops ----------------------------------------------------------------------
def test_without_skops_pipelines_say_how_to_get_it_and_estimators_still_save(saved, tmp_path,
                                                                              monkeypatch):
    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    message = (r"files of scikit-learn objects \(a Pipeline, a ColumnTransformer, a search's "
               r"best_estimator_, \.\.\.\) need skops: pip install \"sknn\[pipelines\]\"\. A "
               r"bare sknn estimator saves and loads without it\.")
    with pytest.raises(ImportError, match=rf"^sknn.load: {message}"):
        sknn.load(saved)
    with pytest.raises(ImportError, match=rf"^sknn.save: {message}"):
        sknn.save(make_pipeline(StandardScaler()), tmp_path / "other.sknn")
    estimator = MLPClassifier(**MLP_FAST).fit(TABLE, LABELS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = _round_trip(estimator, tmp_path / "model.sknn")
    _assert_same_predictions(estimator, loaded, TABLE)
