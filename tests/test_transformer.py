"""TransformerClassifier/TransformerRegressor: tables through the tabular layer, series,
sequences of different lengths and token ids, training control, persistence, integration
and pinned errors."""

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import restored_epoch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import InvalidParameterError

import sknn
from sknn import MLPClassifier, TransformerClassifier, TransformerRegressor
from sknn.modules import FeatureTokenizer, PatchTokenizer, Transformer, TransformerBlock
from sknn.text import TextSequencer, TokenArray

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
    # The same encoding; the Transformer's comes in float32 (dtype='auto'), the
    # MLP's small table in float64.
    np.testing.assert_allclose(transformer.encoder_.transform(X),
                               mlp.encoder_.transform(X), rtol=1e-6, atol=1e-6)


def test_auto_numeric_embedding_is_piecewise_linear_on_dense_tables(frame):
    from sknn.modules.tabular import PiecewiseLinearEmbedding

    X, y = frame
    dense = _make(numeric_embedding="auto").fit(X, y).net_.module_.tokenizer
    assert isinstance(dense.numeric_embedding, PiecewiseLinearEmbedding)
    wide = np.random.RandomState(0).randn(40, 101)  # more than 100 columns
    linear = _make(numeric_embedding="auto", max_iter=1).fit(wide, np.arange(40) % 2)
    assert linear.net_.module_.tokenizer.numeric_embedding is None
    assert TransformerClassifier().numeric_embedding == "auto"


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
    assert clf.net_.module_.tokenizer.patch_size == 5  # at most 32 tokens
    assert clf.net_.module_.tokenizer.n_positions == 30
    assert clf.net_.module_.pooling == "mean"  # 'auto' on fixed-length series
    table = _make(max_iter=1).fit(X[:, 0, :5], np.arange(20) % 2)
    assert table.net_.module_.pooling == "cls"


@pytest.mark.parametrize("schedule, epochs", [("warmup_cosine", 60), ("onecycle", 60),
                                              ("constant", 52)])
def test_without_held_out_data_a_decaying_schedule_ends_training(schedule, epochs):
    X = np.random.RandomState(0).randn(20, 1, 8).astype(np.float32)
    # A rate too small to lower the training loss by tol: it stalls from the start.
    model = _make(learning_rate=schedule, learning_rate_init=1e-12, max_iter=60,
                  early_stopping="auto", batch_size=20, attention_dropout=0.0,
                  ffn_dropout=0.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, np.arange(20) % 2)
    assert model.n_iter_ == epochs  # constant: 50 stalled epochs after the first
    # Reaching max_iter is the schedule's designed end, not a failure to converge.
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]


def test_auto_depth_is_one_block_for_fixed_length_series_only():
    rng = np.random.RandomState(0)
    y = np.arange(20) % 2
    series = rng.randn(20, 1, 30).astype(np.float32)
    lists = [rng.randn(1, 10 + i % 5).astype(np.float32) for i in range(20)]
    depths = {kind: len(_make(n_blocks="auto", max_iter=1).fit(X, y).net_.module_.blocks)
              for kind, X in [("series", series), ("table", series[:, 0, :5]),
                              ("lists", lists)]}
    assert depths == {"series": 1, "table": 3, "lists": 3}
    assert len(_make(n_blocks=2, max_iter=1).fit(series, y).net_.module_.blocks) == 2


def test_bfloat16_autocast_runs_the_products_in_bfloat16(frame):
    X, y = frame
    seen = []
    model = _make(autocast="bfloat16", dtype="auto", max_iter=2).fit(X, y)
    linear = model.net_.module_.blocks[0].qkv
    linear.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    proba = model.predict_proba(X)
    assert seen and set(seen) == {torch.bfloat16}
    assert proba.dtype == np.float32 and np.allclose(proba.sum(axis=1), 1)  # float32 weights
    assert {p.dtype for p in model.net_.module_.parameters()} == {torch.float32}
    seen.clear()
    model.set_params(warm_start=True, max_iter=1).fit(X, y)  # training too
    assert seen and set(seen) == {torch.bfloat16}
    plain = _make(max_iter=2, dtype="float32").fit(X, y)
    np.testing.assert_allclose(proba, plain.predict_proba(X), atol=0.05)


# -- pinned errors ------------------------------------------------------------------------
def test_warm_start_follows_autocast_and_refuses_float64_weights(frame):
    X, y = frame
    model = _make(dtype="float32", max_iter=1).fit(X, y)
    assert model.net_.autocast_dtype is None
    model.set_params(autocast="bfloat16", warm_start=True).fit(X, y)
    assert model.net_.autocast_dtype is torch.bfloat16
    model.set_params(autocast=None).fit(X, y)
    assert model.net_.autocast_dtype is None
    exact = _make(dtype="float64", max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match=re.escape(
            "TransformerClassifier: autocast='bfloat16' runs on float32 weights; the "
            "network that warm_start continues has float64 weights. Fit with "
            "warm_start=False (or dtype='float32' from the start).")):
        exact.set_params(autocast="bfloat16", warm_start=True).fit(X, y)


def test_regressor_and_series_under_autocast(series):
    X, y = series
    target = X[:, 0].mean(axis=1)
    reg = _make(TransformerRegressor, autocast="bfloat16", max_iter=5).fit(X, target)
    assert reg.net_.autocast_dtype is torch.bfloat16
    prediction = reg.predict(X)
    assert np.isfinite(prediction).all()
    assert {p.dtype for p in reg.net_.module_.parameters()} == {torch.float32}
    plain = _make(TransformerRegressor, max_iter=5, dtype="float32").fit(X, target)
    np.testing.assert_allclose(prediction, plain.predict(X), atol=0.1)


@pytest.mark.parametrize("trained, now", [(None, "bfloat16"), ("bfloat16", None)])
def test_a_saved_model_predicts_in_the_precision_it_was_trained_in(frame, tmp_path,
                                                                   trained, now):
    X, y = frame
    model = _make(autocast=trained, max_iter=2).fit(X, y)
    before = model.predict_proba(X)
    model.set_params(autocast=now)  # no refit: the network keeps its precision
    sknn.save(model, tmp_path / "model.sknn")
    loaded = sknn.load(tmp_path / "model.sknn")
    assert loaded.autocast == now
    assert loaded.net_.autocast_dtype == (None if trained is None else torch.bfloat16)
    np.testing.assert_array_equal(loaded.predict_proba(X), before)


def test_autocast_keeps_the_bag_of_words_in_full_precision():
    texts = [f"{w} film plot {w} scene" for w in ["good", "bad"] * 30]
    labels = np.arange(60) % 2
    pipe = make_pipeline(TextSequencer(), _make(autocast="bfloat16", max_iter=2))
    pipe.fit(texts, labels)
    module = pipe[-1].net_.module_
    dtypes = {}

    def record(name):
        def hook(module, inputs, output):
            dtypes[name] = output.dtype  # returns None: the output is unchanged
        return hook

    module.bag.register_forward_hook(record("bag"))
    module.blocks[0].qkv.register_forward_hook(record("qkv"))
    pipe.predict(texts)
    assert dtypes == {"bag": torch.float32, "qkv": torch.bfloat16}


def test_autocast_refuses_float64_weights(frame):
    X, y = frame
    with pytest.raises(ValueError, match=re.escape(
            "TransformerClassifier: autocast='bfloat16' runs on float32 weights; got "
            "dtype='float64'. Use dtype='float32' or 'auto'.")):
        _make(autocast="bfloat16", dtype="float64").fit(X, y)


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
    with pytest.raises(ValueError, match=r"TransformerClassifier was fitted on a table of 4 "
                       r"columns; got X of shape \(2, 4, 3\)\."):
        clf.predict(np.zeros((2, 4, 3)))
    Xs, ys = series
    clf = _make().fit(Xs, ys)
    with pytest.raises(ValueError, match=r"TransformerClassifier was fitted on series of 2 "
                       r"channels \(samples of shape \(2, 20\)\); got X of shape \(3, 1, 20\)"):
        clf.predict(Xs[:3, :1])


# -- sequences of different lengths and token ids ------------------------------------------
WORDS = {1: ["good", "great", "fine"], 0: ["bad", "awful", "dull"]}


def _documents(n, seed):
    """Documents of 4-60 filler words with two words of their class inserted."""
    rng = np.random.RandomState(seed)
    filler = [f"w{i}" for i in range(40)]
    texts, labels = [], np.arange(n) % 2
    for label in labels:
        words = list(rng.choice(filler, rng.randint(4, 60)))
        for word in rng.choice(WORDS[label], 2):
            words.insert(rng.randint(len(words) + 1), word)
        texts.append(" ".join(words))
    return texts, labels


def _ragged(n=80, channels=2, seed=0):
    rng = np.random.RandomState(seed)
    X = [rng.randn(channels, k) + rng.choice([-1, 1]) for k in rng.randint(3, 40, size=n)]
    y = np.array([int(x[0].mean() > 0) for x in X])
    return X, y


def test_sequence_tokenizer_patches_and_masks():
    from sknn.modules import SequenceTokenizer, with_mask
    tokenizer = SequenceTokenizer(1, 12, d_token=4, patch_size=4, vocabulary_size=20)
    ids = torch.tensor([[[3.0, 5, 7, 2, 9, 0, 0, 0, 0]], [[0.0] * 9]])
    tokens, valid = tokenizer(with_mask(ids, torch.tensor([5, 0])))
    assert tokens.shape == (2, 3, 4)
    # a patch is valid if any step is; an empty document is read as its first patch
    assert valid.tolist() == [[True, True, False], [True, False, False]]
    means = tokenizer._mean_embeddings(ids[:, 0])
    expected = tokenizer.embedding.weight[[3, 5, 7, 2]].mean(dim=0)
    torch.testing.assert_close(means[0, :, 0], expected)
    torch.testing.assert_close(means[0, :, 1], tokenizer.embedding.weight[9])
    assert tokenizer.n_positions == 3


@pytest.mark.parametrize("pooling", ["cls", "mean"])
@pytest.mark.parametrize("vocabulary_size", [None, 30], ids=["series", "tokens"])
def test_padding_never_changes_a_prediction(pooling, vocabulary_size):
    from sknn.modules import SequenceTokenizer, with_mask
    torch.manual_seed(0)
    channels = 1 if vocabulary_size else 2
    tokenizer = SequenceTokenizer(channels, 20, 16, patch_size=3,
                                  vocabulary_size=vocabulary_size)
    net = Transformer(tokenizer, 16, 2, n_blocks=2, n_heads=4, pooling=pooling).eval()
    x = torch.randint(1, 30, (1, channels, 7)).float()
    alone = net(with_mask(x))
    padded = torch.cat([x, torch.full((1, channels, 10), 0.0)], dim=2)
    batch = torch.cat([padded, torch.randint(1, 30, (1, channels, 17)).float()])
    torch.testing.assert_close(net(with_mask(batch, torch.tensor([7, 17])))[:1], alone,
                               atol=1e-5, rtol=0)


def test_text_pipeline_learns_held_out_documents():
    texts, labels = _documents(160, seed=0)
    test_texts, test_labels = _documents(60, seed=1)
    pipe = make_pipeline(TextSequencer(), _make(d_token=16, max_iter=30, patch_size=4))
    pipe.fit(texts, labels)
    clf = pipe[-1]
    assert clf.input_kind_ == "tokens" and clf.padding_mask_
    assert clf.vocabulary_size_ == pipe[0].n_tokens_
    assert isinstance(clf.net_.module_.tokenizer.embedding, torch.nn.Embedding)
    assert pipe.score(test_texts, test_labels) > 0.9


def test_token_predictions_ignore_padding_and_batch_mates():
    texts, labels = _documents(40, seed=0)
    pipe = make_pipeline(TextSequencer(), _make(patch_size=3, pooling="mean")).fit(texts,
                                                                                   labels)
    ids = pipe[0].transform(texts)
    proba = pipe[-1].predict_proba(ids)
    shortest = int(np.argmin((ids != 0).sum(axis=1)))
    alone = pipe.predict_proba([texts[shortest]])
    np.testing.assert_allclose(alone, proba[shortest:shortest + 1], atol=1e-5)
    longer = np.pad(ids, ((0, 0), (0, 7))).view(TokenArray)  # more padding: same answers
    np.testing.assert_allclose(pipe[-1].predict_proba(longer), proba, atol=1e-5)


def test_variable_length_series_learn_and_ignore_padding():
    X, y = _ragged()
    X_test, y_test = _ragged(seed=1)
    clf = _make(max_iter=15, patch_size=4).fit(X, y)
    assert clf.input_kind_ == "series" and clf.padding_mask_
    assert clf.input_shape_ == (2, max(x.shape[1] for x in X))
    values = np.concatenate(X, axis=1)
    np.testing.assert_allclose(clf.input_mean_, values.mean(axis=1))
    np.testing.assert_allclose(clf.input_scale_, values.std(axis=1))
    assert clf.score(X_test, y_test) > 0.9
    proba = clf.predict_proba(X)
    for i in (0, 3):
        np.testing.assert_allclose(clf.predict_proba([X[i]]), proba[i:i + 1], atol=1e-5)
    # fixed-length 3-D X reads as sequences without padding
    same = np.stack([x[:, :3] for x in X[:5]])
    np.testing.assert_allclose(clf.predict_proba(same),
                               clf.predict_proba([x[:, :3] for x in X[:5]]), atol=1e-5)
    reg = _make(TransformerRegressor, pooling="mean").fit(X, [x.mean() for x in X])
    assert reg.predict(X[:4]).shape == (4,)


def test_fixed_length_series_keep_their_unmasked_path(series):
    X, y = series
    clf = _make(patch_size=4).fit(X, y)
    assert not clf.padding_mask_
    assert isinstance(clf.net_.module_.tokenizer, PatchTokenizer)
    as_list = _make(patch_size=4).fit(list(X), y)  # one length: one array
    np.testing.assert_array_equal(as_list.predict_proba(X), clf.predict_proba(X))


def test_input_kind_parameter():
    X = np.random.RandomState(0).randint(1, 9, size=(20, 6))
    y = np.arange(20) % 2
    assert _make().fit(X, y).input_kind_ == "table"
    tokens = _make(input_kind="tokens").fit(X, y)
    assert tokens.input_kind_ == "tokens" and tokens.n_features_in_ == 1
    assert tokens.predict([[3, 4], [5, 0]]).shape == (2,)  # other lengths at predict
    series = _make(input_kind="series").fit(X, y)
    assert series.input_kind_ == "series" and series.input_shape_ == (1, 6)
    with pytest.raises(InvalidParameterError, match="'input_kind' parameter"):
        _make(input_kind="text").fit(X, y)


def test_training_options_on_token_ids(tmp_path):
    texts, labels = _documents(48, seed=0)
    ids = TextSequencer().fit(texts).transform(texts)
    base = _make().fit(ids, labels).predict_proba(ids)
    weighted = _make().fit(ids, labels, sample_weight=np.where(labels, 4.0, 1.0))
    assert not np.allclose(weighted.predict_proba(ids), base)
    balanced = _make(class_weight={0: 1.0, 1: 4.0}).fit(ids, labels)
    np.testing.assert_allclose(balanced.predict_proba(ids), weighted.predict_proba(ids),
                               atol=1e-6)
    stopped = _make(early_stopping=True, max_iter=60, n_iter_no_change=2).fit(ids, labels)
    assert len(stopped.validation_scores_) == stopped.n_iter_ < 60
    warm = _make(warm_start=True).fit(ids, labels).fit(ids, labels)
    assert warm.n_iter_ == 2 * FAST["max_iter"]
    incremental = _make().partial_fit(ids, labels, classes=[0, 1]).partial_fit(ids, labels)
    assert incremental.n_iter_ == 2
    restored = pickle.loads(pickle.dumps(warm))
    np.testing.assert_array_equal(restored.predict_proba(ids), warm.predict_proba(ids))
    sknn.save(warm, tmp_path / "model.sknn")
    loaded = sknn.load(tmp_path / "model.sknn")
    assert loaded.padding_mask_ and loaded.vocabulary_size_ == warm.vocabulary_size_
    np.testing.assert_array_equal(loaded.predict_proba(ids), warm.predict_proba(ids))
    assert clone(warm).get_params() == warm.get_params()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_masked_sequences():
    X, y = _ragged(n=20)
    gpu = _make(device="cuda", patch_size=4).fit(X, y)
    assert next(gpu.net_.module_.parameters()).is_cuda
    np.testing.assert_allclose(gpu.predict_proba(X),
                               _make(patch_size=4).fit(X, y).predict_proba(X), atol=1e-4)
    texts, labels = _documents(20, seed=0)
    pipe = make_pipeline(TextSequencer(), _make(device="cuda", patch_size=4))
    assert pipe.fit(texts, labels).predict(texts).shape == (20,)


def test_text_pipeline_grid_search():
    texts, labels = _documents(40, seed=0)
    pipe = make_pipeline(TextSequencer(), _make())
    search = GridSearchCV(pipe, {"transformerclassifier__pooling": ["cls", "mean"]}, cv=2)
    search.fit(texts, labels)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.predict(["a good film", ""]).shape == (2,)


def test_fine_tuning_on_token_ids():
    texts, labels = _documents(40, seed=0)
    sequencer = TextSequencer().fit(texts)
    ids = sequencer.transform(texts)
    source = _make(patch_size=3, positional_encoding="learned").fit(ids, labels)
    short = sequencer.transform(texts[:8])[:, :10].view(TokenArray)
    tuned = _make(patch_size=3, positional_encoding="learned",
                  init_from=source).fit(short, labels[:8])
    assert tuned.vocabulary_size_ == source.vocabulary_size_
    assert tuned.net_.module_.tokenizer.n_positions == source.net_.module_.tokenizer.n_positions
    series_model = _make().fit(*_ragged(n=20))
    with pytest.raises(ValueError, match=r"init_from was fitted on sequences of different "
                       r"lengths or token ids \(padding masks\); got fixed-length series"):
        _make(init_from=series_model).fit(np.zeros((4, 2, 5)), [0, 1, 0, 1])


# -- pinned errors: sequences and token ids ---------------------------------------------
def test_max_tokens_refuses_long_sequences_at_fit_and_predict():
    ids = np.random.RandomState(0).randint(1, 50, size=(6, 300)).view(TokenArray)
    y = np.arange(6) % 2
    with pytest.raises(ValueError, match=re.escape(
            "TransformerClassifier: sample 0 has 300 steps, which make 300 tokens of "
            "patch_size=1, more than max_tokens=256 (attention costs grow with the square "
            "of the number of tokens). Use a larger patch_size (at least 2), cut the "
            "sequences (texts: TextSequencer(max_length=...)), or raise max_tokens.")):
        _make(patch_size=1, max_tokens=256).fit(ids, y)
    clf = _make(patch_size=1, max_tokens=256).fit(ids[:, :200], y)
    longer = np.zeros((2, 400), dtype=np.int64)
    longer[1, :] = 3
    with pytest.raises(ValueError, match=r"TransformerClassifier: sample 1 has 400 steps, "
                       r"which make 400 tokens of patch_size=1, more than max_tokens=256"):
        clf.predict(longer)
    series = np.zeros((4, 1, 600))
    with pytest.raises(ValueError, match=r"TransformerRegressor: sample 0 has 600 steps, "
                       r"which make 600 tokens of patch_size=1, more than max_tokens=512.*"
                       r"cut the sequences, or raise max_tokens\.$"):
        _make(TransformerRegressor, patch_size=1).fit(series, np.arange(4.0))
    with pytest.raises(InvalidParameterError, match="'max_tokens' parameter"):
        _make(max_tokens=0).fit(ids, y)


def test_learned_positions_refuse_longer_sequences():
    X, y = _ragged(n=20)
    clf = _make(patch_size=4, positional_encoding="learned").fit(X, y)
    longest = clf.input_shape_[1]
    n_tokens = -(-(longest + 8) // 4)
    with pytest.raises(ValueError, match=re.escape(
            f"TransformerClassifier: a sequence of {longest + 8} steps makes {n_tokens} "
            f"tokens of patch_size=4, more than the {-(-longest // 4)} learned positions "
            "(from the longest training sequence). Use positional_encoding='sinusoidal' "
            "to take longer sequences, or cut them.")):
        clf.predict([np.ones((2, longest + 8)), np.ones((2, 3))])
    sinusoidal = _make(patch_size=4).fit(X, y)  # 'auto': sinusoidal for these
    assert sinusoidal.net_.module_.tokenizer.positions is None
    assert sinusoidal.predict([np.ones((2, longest + 8))]).shape == (1,)
    ids = TokenArray.__new__(TokenArray, (2, 3), dtype=np.int64)
    ids[:] = [[2, 3, 4], [5, 0, 0]]
    tokens = _make(input_kind="tokens", positional_encoding="learned").fit(ids, [0, 1])
    with pytest.raises(ValueError, match=r"more than the 3 learned positions .* or cut them "
                       r"\(TextSequencer\(max_length=\.\.\.\)\)\."):
        tokens.predict(np.full((1, 5), 2))


def test_sequence_list_for_a_fixed_length_model_is_refused(series):
    X, y = series
    clf = _make().fit(X, y)
    with pytest.raises(ValueError, match=re.escape(
            "TransformerClassifier was fitted on fixed-length series (one array of shape "
            "(2, 2, 20) or the like); got a list of sequences of different lengths. Fit on "
            "a list of sequences (then the padding is masked) to predict on them, or pad "
            "them to one length yourself.")):
        clf.predict([X[0], X[1, :, :7]])


def test_input_shape_does_not_apply_to_sequences_or_tokens():
    X, y = _ragged(n=10)
    with pytest.raises(ValueError, match=re.escape(
            "TransformerClassifier: input_shape=(5,) reads 2-D X as fixed-length series; "
            "it does not apply to sequences of different lengths. Leave input_shape=None.")):
        _make(input_shape=(5,)).fit(X, y)
    with pytest.raises(ValueError, match=r"it does not apply to token ids\."):
        _make(input_shape=(5,), input_kind="tokens").fit(np.ones((4, 5), dtype=int),
                                                         [0, 1, 0, 1])


def test_bad_sequences_and_token_ids_name_the_transformer():
    with pytest.raises(ValueError, match=re.escape(
            "TransformerRegressor: sequence 1 is empty (length 0); every sequence needs at "
            "least one time step.")):
        _make(TransformerRegressor).fit([np.ones((2, 5)), np.ones((2, 0))], [0.0, 1.0])
    clf = _make(input_kind="tokens").fit(np.array([[3, 4, 0], [2, 0, 0]]), [0, 1])
    with pytest.raises(ValueError, match=re.escape(
            "TransformerClassifier: token id 9 is outside the vocabulary seen in fit "
            "(ids 0 to 4)")):
        clf.predict([[9, 2]])
    with pytest.raises(TypeError, match=re.escape(
            "TransformerClassifier: token ids must be integers; got X of dtype float64.")):
        _make(input_kind="tokens").fit([[1.5, 2.0], [2.0, 3.0]], [0, 1])


@pytest.mark.parametrize("function", ["to_onnx", "to_torch_export"])
def test_masked_models_do_not_export(function):
    from sknn import export
    clf = _make(input_kind="tokens").fit(np.array([[3, 4, 0], [2, 0, 0]]), [0, 1])
    with pytest.raises(ValueError, match=re.escape(
            f"{function}: this TransformerClassifier was fitted on token ids; its attention "
            "is masked by each sequence's padding, which the exported graph (traced at one "
            "sequence length) does not support. Export is available for Transformers "
            "fitted on tables or fixed-length series; predict with sknn for these.")):
        getattr(export, function)(clf)


def test_conv_stem_tokens_see_the_steps_around_their_patch():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 20)
    nudged = x.clone()
    nudged[0, :, 10] += 1.0  # first step of the third patch of 5
    for stem, changed in [("linear", False), ("conv", True)]:
        tokenizer = PatchTokenizer(2, 20, d_token=8, patch_size=5, stem=stem)
        with torch.no_grad():
            before, after = tokenizer(x), tokenizer(nudged)
        # The second patch (steps 5-9) sees step 10 only through the convolution.
        assert bool((before[0, 1] != after[0, 1]).any()) is changed
        assert bool((before[0, 2] != after[0, 2]).any())
    with pytest.raises(ValueError, match="stem must be one of"):
        PatchTokenizer(2, 20, d_token=8, stem="rnn")


def test_stem_parameter_builds_the_tokenizer():
    X = np.random.RandomState(0).randn(30, 1, 12)
    y = np.arange(30) % 2
    for stem in ("conv", "linear"):
        model = TransformerClassifier(stem=stem, d_token=8, n_blocks=1, n_heads=2,
                                      max_iter=1).fit(X, y)
        projection = model.net_.module_.tokenizer.projection
        assert isinstance(projection, torch.nn.Sequential) is (stem == "conv")
    with pytest.raises(InvalidParameterError, match="'stem' parameter"):
        TransformerClassifier(stem="rnn").fit(X, y)
