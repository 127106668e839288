"""TransformerClassifier/TransformerRegressor: tables through the tabular layer, series,
training control, persistence, integration and pinned errors."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import restored_epoch
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import InvalidParameterError

from sknn import MLPClassifier, TransformerClassifier, TransformerRegressor
from sknn.modules import FeatureTokenizer, PatchTokenizer, Transformer, TransformerBlock

FAST = {"d_token": 8, "n_blocks": 1, "n_heads": 2, "max_iter": 3, "batch_size": 32,
        "learning_rate_init": 1e-2, "device": "cpu", "n_threads": 1, "random_state": 0}


def _make(cls=TransformerClassifier, **params):
    return cls(**{**FAST, **params})


@pytest.fixture
def frame():
    rng = np.random.RandomState(0)
    n = 120
    X = pd.DataFrame({
        "age": rng.randint(18, 80, n).astype(float),
        "income": rng.lognormal(10, 1, n),
        "city": rng.choice(["paris", "rome", "oslo"], n),
        "plan": pd.Categorical(rng.choice(["a", "b"], n)),
    })
    X.loc[::7, "income"] = np.nan
    X.loc[::11, "city"] = None
    y = np.where((X["age"] > 45) ^ (X["city"] == "rome"), "yes", "no")
    return X, y


@pytest.fixture
def series():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 2, 20).astype(np.float32)
    y = (X[:, 0, :5].mean(axis=1) > 0).astype(int)
    return X, y


# -- modules --------------------------------------------------------------------------
def test_feature_tokenizer_makes_one_token_per_column():
    tokenizer = FeatureTokenizer(2, 1, [3, 4], d_token=8)
    x = torch.tensor([[0.5, -1.0, 1.0, 2.0, 3.0]])
    assert tokenizer(x).shape == (1, 5, 8)
    assert tokenizer.n_tokens == 5


def test_last_block_computes_only_the_cls_token():
    net = Transformer(FeatureTokenizer(3, 0, [], d_token=8), 8, n_outputs=2, n_blocks=2,
                      n_heads=2)
    assert net.blocks[-1].only_first_query and not net.blocks[0].only_first_query
    block = TransformerBlock(8, n_heads=2, d_ffn=8, only_first_query=True)
    assert block(torch.zeros(4, 6, 8)).shape == (4, 1, 8)
    with pytest.raises(ValueError, match="n_heads=3 must divide d_token=8"):
        TransformerBlock(8, n_heads=3, d_ffn=8)


def test_patch_tokenizer_pads_and_refuses_longer_series_with_learned_positions():
    tokenizer = PatchTokenizer(2, 10, d_token=8, patch_size=4)
    assert tokenizer(torch.zeros(3, 2, 10)).shape == (3, 3, 8)
    with pytest.raises(ValueError, match="more than the 3 learned positions"):
        tokenizer(torch.zeros(3, 2, 13))
    sinusoidal = PatchTokenizer(2, 10, 8, patch_size=4, positional_encoding="sinusoidal")
    assert sinusoidal(torch.zeros(3, 2, 40)).shape == (3, 10, 8)


# -- tables ---------------------------------------------------------------------------
def test_dataframe_with_categories_missing_values_and_unseen_levels(frame):
    X, y = frame
    clf = _make().fit(X, y)
    assert clf.input_kind_ == "table"
    assert list(clf.feature_names_in_) == list(X.columns)
    assert clf.encoder_.categorical_index == [2, 3]
    # one token per column plus the income column's missing indicator
    assert clf.net_.module_.tokenizer.n_tokens == 5
    new = X.head(4).copy()
    new["city"] = ["tokyo", None, "paris", "lima"]
    assert clf.predict_proba(new).shape == (4, 2)
    assert set(clf.predict(new)) <= {"no", "yes"}


def test_same_tabular_layer_as_mlp(frame):
    X, y = frame
    transformer = _make().fit(X, y)
    mlp = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, ensemble_size=1,
                        random_state=0).fit(X, y)
    np.testing.assert_array_equal(transformer.encoder_.transform(X),
                                  mlp.encoder_.transform(X))


@pytest.mark.parametrize("embedding", ["piecewise_linear", "periodic"])
def test_numeric_embeddings_as_tokens(frame, embedding):
    X, y = frame
    clf = _make(numeric_embedding=embedding).fit(X, y)
    tokenizer = clf.net_.module_.tokenizer
    assert tokenizer.numeric_embedding is not None and tokenizer.n_tokens == 5
    assert clf.predict(X).shape == (len(X),)


def test_learns_a_simple_table():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 4)
    y = X[:, 0] + 2 * X[:, 1]
    reg = _make(TransformerRegressor, d_token=16, max_iter=40).fit(X, y)
    assert reg.score(X, y) > 0.8


def test_random_state_gives_identical_models(frame):
    X, y = frame
    first = _make(max_iter=2).fit(X, y).predict_proba(X)
    again = _make(max_iter=2).fit(X, y).predict_proba(X)
    other = _make(max_iter=2, random_state=1).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_early_stopping_restores_a_validated_model(frame):
    X, y = frame
    clf = _make(early_stopping=True, max_iter=30, n_iter_no_change=2).fit(X, y)
    assert clf.n_iter_ < 30
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == clf.validation_scores_[restored_epoch(clf)]


def test_sample_weight_and_class_weight(frame):
    X, y = frame
    plain = _make().fit(X, y).predict_proba(X)
    weights = np.where(y == "yes", 5.0, 1.0)
    weighted = _make().fit(X, y, sample_weight=weights).predict_proba(X)
    balanced = _make(class_weight="balanced").fit(X, y).predict_proba(X)
    assert not np.allclose(plain, weighted)
    assert not np.allclose(plain, balanced)


def test_pickle_pipeline_and_grid_search(frame):
    X, y = frame
    clf = _make().fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clf.predict_proba(X), restored.predict_proba(X))
    pipe = make_pipeline(FunctionTransformer(), _make())
    search = GridSearchCV(pipe, {"transformerclassifier__n_blocks": [1, 2]}, cv=2)
    search.fit(X, y)
    assert search.best_params_["transformerclassifier__n_blocks"] in (1, 2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda(frame):
    X, y = frame
    clf = _make(device="cuda").fit(X, y)
    assert next(clf.net_.module_.parameters()).is_cuda
    assert clf.predict(X).shape == (len(X),)


# -- series ---------------------------------------------------------------------------
def test_series_3d(series):
    X, y = series
    clf = _make(patch_size=4).fit(X, y)
    assert clf.input_kind_ == "series" and clf.input_shape_ == (2, 20)
    assert clf.n_features_in_ == 2
    assert clf.net_.module_.tokenizer.n_positions == 5
    assert clf.predict_proba(X[:3]).shape == (3, 2)


def test_series_as_2d_with_input_shape(series):
    X, y = series
    reg = _make(TransformerRegressor, input_shape=(20,), pooling="mean")
    reg.fit(X[:, 0], X[:, 0, :3].sum(axis=1))
    assert reg.input_kind_ == "series" and reg.input_shape_ == (1, 20)
    assert reg.predict(X[:2, 0]).shape == (2,)


def test_sinusoidal_positions_take_longer_series_learned_ones_refuse(series):
    X, y = series
    longer = np.concatenate([X, X], axis=2)
    sinusoidal = _make(positional_encoding="sinusoidal").fit(X, y)
    assert sinusoidal.predict(longer).shape == (len(X),)
    learned = _make().fit(X, y)
    with pytest.raises(ValueError, match=r"TransformerClassifier was fitted on series of "
                       r"20 time steps \(20 tokens\); got 40 time steps \(40 tokens\), "
                       r"more than its learned positions"):
        learned.predict(longer)


def test_auto_patch_size_caps_the_number_of_tokens():
    X = np.random.RandomState(0).randn(20, 1, 150).astype(np.float32)
    clf = _make(max_iter=1).fit(X, np.arange(20) % 2)
    assert clf.net_.module_.tokenizer.patch_size == 3
    assert clf.net_.module_.tokenizer.n_positions == 50


# -- pinned errors ------------------------------------------------------------------------
def test_n_heads_must_divide_d_token(frame):
    X, y = frame
    with pytest.raises(ValueError, match=r"TransformerClassifier: n_heads must divide "
                       r"d_token; got d_token=8 and n_heads=3\."):
        _make(n_heads=3).fit(X, y)


def test_bad_parameter_values():
    X, y = np.zeros((10, 2)), np.arange(10) % 2
    with pytest.raises(InvalidParameterError, match="'pooling' parameter of "
                       "TransformerClassifier must be a str among"):
        _make(pooling="max").fit(X, y)
    with pytest.raises(InvalidParameterError, match="'d_token' parameter"):
        _make(d_token=0).fit(X, y)


def test_images_are_refused():
    X = np.zeros((10, 1, 4, 4))
    y = np.arange(10) % 2
    with pytest.raises(ValueError, match=r"TransformerClassifier reads tables \(2-D X\) and "
                       r"time series \(n_samples, n_channels, n_timepoints\); got X of "
                       r"shape \(10, 1, 4, 4\), read as images of shape \(1, 4, 4\)\. .*"
                       r"for images use CNNClassifier"):
        _make().fit(X, y)
    with pytest.raises(ValueError, match=r"got X of shape \(10, 16\), read as images of "
                       r"shape \(1, 4, 4\)"):
        _make(input_shape=(4, 4)).fit(X.reshape(10, 16), y)


def test_table_model_refuses_series_and_series_model_other_channels(frame, series):
    X, y = frame
    clf = _make().fit(X, y)
    with pytest.raises(ValueError, match=r"Found array with dim 3, while dim <= 2 is required by "
                       r"TransformerClassifier"):
        clf.predict(np.zeros((2, 4, 3)))
    Xs, ys = series
    clf = _make().fit(Xs, ys)
    with pytest.raises(ValueError, match=r"TransformerClassifier was fitted on series of 2 "
                       r"channels \(samples of shape \(2, 20\)\); got X of shape \(3, 1, 20\)"):
        clf.predict(Xs[:3, :1])
