"""RNNClassifier, RNNRegressor and TextSequencer: layouts, lengths, text, training, errors."""

import pickle
import re

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from sknn import RNNClassifier, RNNRegressor
from sknn.modules import RNN, SequencePooling, with_mask
from sknn.text import TextSequencer, TokenArray

FAST = {"hidden_size": 8, "max_iter": 3, "batch_size": 16, "device": "cpu",
        "n_threads": 1, "random_state": 0}


def _make(cls=RNNClassifier, **params):
    return cls(**{**FAST, **params})


def _series(n=32, channels=2, length=12, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, channels, length).astype(np.float32)
    y = np.where(X[:, 0, :4].mean(axis=1) > 0, "up", "down")
    return X, y


def _ragged(n=32, channels=2, seed=0):
    rng = np.random.RandomState(seed)
    X = [rng.randn(channels, k).astype(np.float32) for k in rng.randint(1, 15, size=n)]
    y = np.array([int(x[0, -1] > 0) for x in X])
    return X, y


TEXTS = ["a good film", "a bad film", "great fun, good acting", "dull and bad",
         "good good good", "bad plot, bad acting", "fun and great", "boring, dull film"] * 4
LABELS = np.array([1, 0, 1, 0, 1, 0, 1, 0] * 4)


def _proba(est, X):
    return est.predict_proba(X)


# -- modules -------------------------------------------------------------------------
def test_packing_ignores_padding():
    torch.manual_seed(0)
    net = RNN(2, 3, cell="lstm", bidirectional=True, pooling="attention").eval()
    x = torch.randn(1, 2, 5)
    alone = net(with_mask(x))
    padded = torch.cat([x, torch.full((1, 2, 4), 7.0)], dim=2)
    batch = torch.cat([padded, torch.randn(1, 2, 9)])
    together = net(with_mask(batch, torch.tensor([5, 9])))
    torch.testing.assert_close(together[:1], alone)


@pytest.mark.parametrize("kind", ["last", "mean", "attention"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_module_cells_and_pooling(cell, kind):
    net = RNN(1, 2, cell=cell, pooling=kind, num_layers=2, dropout=0.1,
              vocabulary_size=9, embedding_dim=4)
    x = with_mask(torch.tensor([[[3.0, 4.0, 0.0]], [[0.0, 0.0, 0.0]]]), torch.tensor([2, 0]))
    assert net(x).shape == (2, 2)
    with pytest.raises(ValueError, match="pooling must be one of"):
        SequencePooling("max", 4)


# -- data layouts ----------------------------------------------------------------------
def test_3d_series_and_2d_univariate():
    X, y = _series()
    clf = _make().fit(X, y)
    assert clf.input_shape_ == (2, 12) and clf.n_features_in_ == 2
    assert clf.input_kind_ == "series"
    assert clf.predict(X[:5, :, :7]).shape == (5,)  # other lengths at predict
    flat = _make().fit(X[:, 0], y)
    np.testing.assert_array_equal(_proba(flat, X[:, 0]), _proba(_make().fit(X[:, :1], y),
                                                               X[:, :1]))


def test_variable_length_sequences_are_packed_not_truncated():
    X, y = _ragged()
    clf = _make().fit(X, y)
    assert clf.input_shape_ == (2, max(x.shape[1] for x in X))
    proba = _proba(clf, X)
    # One sequence alone (no padding) gets the same prediction as in the batch.
    for i in (0, 5):
        np.testing.assert_allclose(_proba(clf, X[i][None]), proba[i:i + 1], rtol=1e-5)
    as_objects = np.empty(len(X), dtype=object)
    as_objects[:] = X
    np.testing.assert_array_equal(_proba(clf, as_objects), proba)
    longer = [np.ones((2, 40), dtype=np.float32)]
    assert _proba(clf, longer).shape == (1, 2)


def test_standardization_is_fitted_on_valid_steps():
    X, y = _ragged()
    shifted = [x * 100 + 50 for x in X]
    clf = _make().fit(shifted, y)
    values = np.concatenate([x for x in shifted], axis=1)
    np.testing.assert_allclose(clf.input_mean_, values.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(clf.input_scale_, values.std(axis=1), rtol=1e-5)
    np.testing.assert_allclose(_proba(clf, shifted), _proba(_make().fit(X, y), X),
                               rtol=1e-4, atol=1e-5)


def test_token_ids_go_through_an_embedding():
    rng = np.random.RandomState(0)
    X = [rng.randint(1, 20, size=k) for k in rng.randint(1, 10, size=30)]
    y = np.array([int(x[0] > 10) for x in X])
    clf = _make(input_kind="tokens").fit(X, y)
    assert isinstance(clf.net_.module_.embedding, torch.nn.Embedding)
    assert clf.vocabulary_size_ == max(x.max() for x in X) + 1
    assert clf.n_features_in_ == 1
    assert clf.predict(X).shape == (30,)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("pooling", ["last", "mean", "attention"])
def test_cells_pooling_and_depth(cell, pooling):
    X, y = _ragged()
    clf = _make(cell=cell, pooling=pooling, num_layers=2, bidirectional=True,
                dropout=0.1).fit(X, y)
    rnn = clf.net_.module_.rnn
    assert type(rnn).__name__ == cell.upper()
    assert rnn.num_layers == 2 and rnn.bidirectional
    assert np.isfinite(_proba(clf, X)).all()


def test_regression_single_and_multi_output_forecast():
    series = np.sin(np.arange(260) / 4)
    X = np.stack([series[i:i + 10] for i in range(240)])
    y = np.stack([series[i + 10:i + 12] for i in range(240)])
    reg = _make(RNNRegressor, cell="gru", hidden_size=16, max_iter=30,
                learning_rate_init=0.01, batch_size=64)
    assert reg.fit(X, y[:, 0]).predict(X).shape == (240,)
    assert reg.score(X, y[:, 0]) > 0.9
    multi = clone(reg).fit(X, y)
    assert multi.predict(X).shape == (240, 2)
    assert multi.score(X, y) > 0.9


# -- the core behaviour ----------------------------------------------------------------
def test_random_state_is_bit_identical():
    X, y = _ragged()
    a, b = _make().fit(X, y), _make().fit(X, y)
    np.testing.assert_array_equal(_proba(a, X), _proba(b, X))
    assert a.loss_curve_ == b.loss_curve_
    assert not np.array_equal(_proba(a, X), _proba(_make(random_state=1).fit(X, y), X))


def test_gradient_clipping_is_on_by_default():
    X, y = _series()
    assert _make().fit(X, y).net_.clip_grad_norm == 1.0
    assert _make(clip_grad_norm=None).fit(X, y).net_.clip_grad_norm is None


def test_early_stopping_sample_weight_and_class_weight():
    X, y = _ragged(n=48)
    # The held-out loss keeps falling long after accuracy reaches 1.0: room to stop.
    stopped = _make(early_stopping=True, max_iter=200, n_iter_no_change=2).fit(X, y)
    assert len(stopped.validation_scores_) == stopped.n_iter_ < 200
    base = _proba(_make().fit(X, y), X)
    weights = np.where(y == 1, 5.0, 1.0)
    assert not np.array_equal(_proba(_make().fit(X, y, sample_weight=weights), X), base)
    assert not np.array_equal(_proba(_make(class_weight="balanced").fit(X, y), X), base)


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_persistence(dump, tmp_path):
    pipe = make_pipeline(TextSequencer(), _make()).fit(TEXTS, LABELS)
    if dump == "pickle":
        loaded = pickle.loads(pickle.dumps(pipe))
    else:
        joblib.dump(pipe, tmp_path / "model.joblib")
        loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), pipe.predict_proba(TEXTS))
    assert isinstance(pickle.loads(pickle.dumps(pipe[0].transform(TEXTS))), TokenArray)


def test_text_pipeline_learns_and_grid_searches():
    pipe = make_pipeline(TextSequencer(), _make(max_iter=30, learning_rate_init=0.02,
                                                pooling="mean"))
    assert pipe.fit(TEXTS, LABELS).score(TEXTS, LABELS) == 1.0
    search = GridSearchCV(pipe, {"textsequencer__max_features": [1, None],
                                 "rnnclassifier__cell": ["gru"]}, cv=2)
    search.fit(TEXTS, LABELS)
    assert search.best_params_["textsequencer__max_features"] is None
    assert search.predict(["a good film", ""]).shape == (2,)


def test_warm_start_and_partial_fit_continue():
    X, y = _ragged()
    clf = _make(warm_start=True).fit(X, y)
    clf.fit(X, y)
    assert clf.n_iter_ == 2 * FAST["max_iter"]
    inc = _make().partial_fit(X, y, classes=[0, 1]).partial_fit(X, y)
    assert inc.n_iter_ == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda():
    X, y = _ragged()
    clf = _make(device="cuda").fit(X, y)
    assert next(clf.net_.module_.parameters()).is_cuda
    np.testing.assert_allclose(_proba(clf, X), _proba(_make().fit(X, y), X), atol=1e-4)


# -- TextSequencer ---------------------------------------------------------------------
def test_text_sequencer_vocabulary_and_ids():
    seq = TextSequencer().fit(["The cat, the HAT.", "a cat"])
    assert seq.vocabulary_ == {"a": 2, "cat": 3, "hat": 4, "the": 5}
    assert seq.n_tokens_ == 6
    ids = seq.transform(["the dog", "", "Cat hat the a"])
    assert isinstance(ids, TokenArray) and ids.dtype == np.int64
    np.testing.assert_array_equal(ids, [[5, 1, 0, 0], [0, 0, 0, 0], [3, 4, 5, 2]])
    cased = TextSequencer(lowercase=False, token_pattern=r"\S+").fit(["The cat, the"])
    assert set(cased.vocabulary_) == {"The", "cat,", "the"}


def test_text_sequencer_max_features_and_max_length():
    seq = TextSequencer(max_features=2).fit(["b b b a a c", "c b"])
    assert seq.vocabulary_ == {"a": 2, "b": 3}  # b 4 times; a and c twice: a wins the tie
    short = TextSequencer(max_length=2).fit(["x y z z z", "w"])
    assert set(short.vocabulary_) == {"x", "y", "w"}  # counted within max_length only
    assert short.transform(["z x y w"]).shape == (1, 2)


def test_text_sequencer_contract():
    seq = TextSequencer(max_features=5)
    check_parameters_default_constructible("TextSequencer", seq)
    check_no_attributes_set_in_init("TextSequencer", seq)
    check_get_params_invariance("TextSequencer", seq)
    check_set_params("TextSequencer", seq)
    with pytest.raises(Exception, match="not fitted"):
        seq.transform(TEXTS)
    np.testing.assert_array_equal(clone(seq).fit_transform(TEXTS),
                                  clone(seq).fit(TEXTS).transform(TEXTS))
    first = clone(seq).fit(TEXTS).vocabulary_
    assert clone(seq).fit(TEXTS).vocabulary_ == first
    assert seq.fit(np.array(TEXTS, dtype=object)).vocabulary_ == first
    with pytest.raises(InvalidParameterError, match="max_features"):
        TextSequencer(max_features=0).fit(TEXTS)


# -- bad input: clear errors -----------------------------------------------------------
@pytest.fixture(params=[RNNClassifier, RNNRegressor], ids=["clf", "reg"])
def cls(request):
    return request.param


def _target(cls, n):
    return np.arange(n) % 2 if cls is RNNClassifier else np.linspace(0, 1, n)


def _assert_unfitted(est):
    assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("__")]


@pytest.mark.parametrize(("X", "error", "message"), [
    ([np.ones((2, 5)), np.ones((2, 0)), np.ones((2, 3))], ValueError,
     "{name}: sequence 1 is empty (length 0); every sequence needs at least one time "
     "step."),
    ([np.ones((2, 5)), np.ones((3, 4)), np.ones((2, 3))], ValueError,
     "{name}: every sequence needs the same number of channels; sequence 0 has 2, "
     "sequence 1 has 3."),
    ([np.ones((2, 5)), np.array([[1.0, np.nan]] * 2), np.ones((2, 3))], ValueError,
     "{name}: Input X contains NaN. (X of shape (3, 2, 5))"),
    ([np.ones(5), np.array(["a", "b"]), np.ones(3)], TypeError,
     "{name}: sequence 1 has dtype <U1; expected numbers."),
    ([np.ones((2, 5)), np.ones((1, 2, 3)), np.ones(3)], ValueError,
     "{name} expects each sequence as a 2-D array (n_channels, length) or a 1-D array "
     "(length,); sequence 1 has shape (1, 2, 3)."),
    (np.zeros((3, 1, 2, 2)), ValueError,
     "{name} expects 2-D X (n_samples, n_timepoints), series (n_samples, n_channels, "
     "n_timepoints) or a list of (n_channels, length) arrays; got 4-D X of shape "
     "(3, 1, 2, 2)."),
    (np.zeros((3, 2, 0)), ValueError,
     "{name}: sequences of length 0 cannot be read; got X of shape (3, 2, 0)."),
], ids=["empty", "channels", "nan", "strings", "3d-item", "4d", "zero-length"])
def test_bad_sequences(cls, X, error, message):
    est = _make(cls)
    with pytest.raises(error, match=re.escape(message.format(name=cls.__name__))):
        est.fit(X, _target(cls, len(X)))
    _assert_unfitted(est)


def test_bad_token_ids(cls):
    X = np.array([[3, 4, 0], [2, 0, 0]])
    name = cls.__name__
    est = _make(cls, input_kind="tokens").fit(X, _target(cls, 2))
    with pytest.raises(ValueError, match=re.escape(
            f"{name}: token id 9 is outside the vocabulary seen in fit (ids 0 to 4)")):
        est.predict([[9, 2]])
    with pytest.raises(ValueError, match=re.escape(
            f"{name}: token ids must be non-negative (0 is padding); got -1.")):
        _make(cls, input_kind="tokens").fit([[1, -1], [2, 3]], _target(cls, 2))
    with pytest.raises(TypeError, match=re.escape(
            f"{name}: token ids must be integers; got X of dtype float64.")):
        _make(cls, input_kind="tokens").fit([[1.5, 2.0], [2.0, 3.0]], _target(cls, 2))


def test_channel_count_mismatch_at_predict(cls):
    X, _ = _ragged(channels=2)
    est = _make(cls).fit(X, _target(cls, len(X)))
    with pytest.raises(ValueError, match=re.escape(
            f"{cls.__name__} was fitted on series of 2 channels")):
        est.predict([np.ones((3, 4)), np.ones((3, 6))])


@pytest.mark.parametrize(("texts", "error", "message"), [
    (["fine", None], TypeError, "TextSequencer expects every document to be a string; "
     "document 1 is None of type NoneType. Replace missing texts by '' (an empty "
     "document) first."),
    (["fine", 3.5], TypeError, "TextSequencer expects every document to be a string; "
     "document 1 is 3.5 of type float."),
    ("one string", ValueError, "TextSequencer expects an iterable of strings (one per "
     "document); got a single string. Wrap it in a list: [text]."),
    (np.array([["a", "b"]]), ValueError, "TextSequencer expects a 1-D iterable of "
     "strings (one per document); got an array of shape (1, 2)."),
    ([], ValueError, "TextSequencer needs at least one document; got 0."),
])
def test_bad_text(texts, error, message):
    with pytest.raises(error, match=re.escape(message)):
        TextSequencer().fit(texts)


def test_bad_parameters(cls):
    X, _ = _ragged()
    with pytest.raises(InvalidParameterError, match="'cell' parameter"):
        _make(cls, cell="transformer").fit(X, _target(cls, len(X)))
    with pytest.raises(InvalidParameterError, match="'pooling' parameter"):
        _make(cls, pooling="max").fit(X, _target(cls, len(X)))


# -- windows of steps (patch_size) -------------------------------------------------
TEXTS_AS_IDS = [np.arange(1, 1 + len(text.split())) for text in TEXTS]


def test_windows_read_the_mean_of_their_valid_steps():
    from sknn.modules.rnn import window_means

    torch.manual_seed(0)
    values = torch.randn(3, 2, 7, dtype=torch.float64)
    x = with_mask(values, torch.tensor([7, 5, 1]))
    windowed = RNN(2, 3, cell="gru", pooling="mean", patch_size=3).double()
    plain = RNN(2, 3, cell="gru", pooling="mean").double()
    plain.load_state_dict(windowed.state_dict())
    # The windows by hand: steps 0-2, 3-5 and 6, padding left out of each mean.
    means, mask = window_means(values.transpose(1, 2), x[:, -1], 3)
    assert mask.tolist() == [[1, 1, 1], [1, 1, 0], [1, 0, 0]]
    by_hand = [values[1, :, 3:5].mean(dim=1), values[2, :, 0]]
    torch.testing.assert_close(means[1, 1], by_hand[0])
    torch.testing.assert_close(means[2, 0], by_hand[1])
    torch.testing.assert_close(
        windowed(x), plain(torch.cat([means.transpose(1, 2), mask[:, None]], dim=1)))


def test_patch_size_auto_windows_token_ids_only():
    from sknn._estimators._rnn import AUTO_MAX_TOKEN_STEPS

    rng = np.random.RandomState(0)
    long_texts = [rng.randint(1, 50, size=k) for k in rng.randint(1, 300, size=30)]
    y = np.arange(30) % 2
    longest = max(len(x) for x in long_texts)
    clf = _make(input_kind="tokens").fit(long_texts, y)
    assert clf.net_.module_.patch_size == -(-longest // AUTO_MAX_TOKEN_STEPS) == 3
    assert clf.get_params()["patch_size"] == "auto"  # resolved, not written back
    assert clf.predict(long_texts[:5] + [rng.randint(1, 50, size=600)]).shape == (6,)
    assert _make(input_kind="tokens").fit(TEXTS_AS_IDS, LABELS).net_.module_.patch_size == 1
    assert _make().fit(*_series(length=400)).net_.module_.patch_size == 1  # series
    assert _make(patch_size=4).fit(*_series()).net_.module_.patch_size == 4



def test_fine_tuning_keeps_the_sources_windows(tmp_path):
    import sknn

    rng = np.random.RandomState(0)
    long_texts = [rng.randint(1, 50, size=k) for k in rng.randint(200, 300, size=20)]
    short_texts = [rng.randint(1, 50, size=k) for k in rng.randint(2, 9, size=20)]
    y = np.arange(20) % 2
    source = _make(input_kind="tokens").fit(long_texts, y)
    assert source.net_.module_.patch_size == 3
    tuned = _make(input_kind="tokens", init_from=source).fit(short_texts, y)
    assert tuned.net_.module_.patch_size == 3  # not 1, as the short texts alone give
    sknn.save(tuned, tmp_path / "tuned.sknn")
    loaded = sknn.load(tmp_path / "tuned.sknn")
    assert loaded.net_.module_.patch_size == 3
    np.testing.assert_allclose(loaded.predict_proba(short_texts),
                               tuned.predict_proba(short_texts))


def test_a_token_model_file_from_before_windows_loads_without_them(tmp_path):
    from helpers import rewrite_sknn_file

    import sknn

    rng = np.random.RandomState(0)
    texts = [rng.randint(1, 50, size=k) for k in rng.randint(200, 300, size=20)]
    y = np.arange(20) % 2
    model = _make(input_kind="tokens", patch_size=1).fit(texts, y)
    path = tmp_path / "old.sknn"
    sknn.save(model, path)

    def drop_the_parameter(document):  # as sknn wrote files before patch_size
        del document["estimator"]["params"]["patch_size"]

    rewrite_sknn_file(path, drop_the_parameter)
    loaded = sknn.load(path)
    assert loaded.patch_size == 1 and loaded.net_.module_.patch_size == 1
    np.testing.assert_allclose(loaded.predict_proba(texts), model.predict_proba(texts))
    old_pickle = pickle.loads(pickle.dumps(model))
    del old_pickle.__dict__["patch_size"], old_pickle.net_.module_.__dict__["patch_size"]
    revived = pickle.loads(pickle.dumps(old_pickle))
    assert revived.get_params()["patch_size"] == 1
    np.testing.assert_allclose(revived.predict_proba(texts), model.predict_proba(texts))
