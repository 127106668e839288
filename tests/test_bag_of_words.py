"""The bag-of-words (TF-IDF linear) branch of the token-id estimators."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline

import sknn._input._bag_of_words as bag_of_words_module
from sknn import RNNClassifier, RNNRegressor, TransformerClassifier, TransformerRegressor
from sknn._core._data import TensorData
from sknn._input._bag_of_words import C_GRID, NETWORK_WEIGHTS, fit_bag_of_words
from sknn.modules.rnn import with_mask
from sknn.modules.text import BagOfWords
from sknn.text import TextSequencer

WORDS = {0: ["dull", "boring", "slow"], 1: ["fine", "decent", "okay"],
         2: ["great", "superb", "moving"]}
FILLER = ["the", "film", "plot", "actor", "scene", "a", "it", "was"]
SMALL_TRANSFORMER = {"d_token": 16, "n_blocks": 1, "n_heads": 2}
CLASSIFIERS = [(RNNClassifier, {}), (TransformerClassifier, SMALL_TRANSFORMER)]
REGRESSORS = [(RNNRegressor, {}), (TransformerRegressor, SMALL_TRANSFORMER)]


def _documents(n, seed=0):
    """Documents of filler words with two to four words of their class's list."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    texts = []
    for label in labels:
        words = list(rng.choice(FILLER, rng.integers(3, 12)))
        words += list(rng.choice(WORDS[label], rng.integers(2, 5)))
        rng.shuffle(words)
        texts.append(" ".join(words))
    return texts, labels


def _token_input(texts, sequencer):
    ids = torch.as_tensor(np.asarray(sequencer.transform(texts)), dtype=torch.float64)
    lengths = (ids > 0).sum(dim=1)
    return with_mask(ids[:, None], lengths)


def test_tfidf_vectors_equal_tfidf_vectorizer():
    texts, _ = _documents(40)
    sequencer = TextSequencer().fit(texts)
    X = _token_input(texts, sequencer)
    bag = BagOfWords(sequencer.n_tokens_, n_outputs=1).double()
    vectorizer = TfidfVectorizer(sublinear_tf=True, token_pattern=r"(?u)\b\w+\b",
                                 vocabulary=sorted(sequencer.vocabulary_)).fit(texts)
    n = len(texts)
    document_frequency = (bag.counts(X) > 0).sum(dim=0).double()
    bag.idf.copy_(torch.log((1 + n) / (1 + document_frequency)) + 1)
    bag.idf[:2] = 0.0
    expected = vectorizer.transform(texts).toarray()
    got = bag.tfidf(X).numpy()
    order = [sequencer.vocabulary_[w] for w in vectorizer.get_feature_names_out()]
    np.testing.assert_allclose(got[:, order], expected, atol=1e-12)
    assert np.all(got[:, :2] == 0)  # padding and unknown ids are not words


@pytest.mark.parametrize("cls, params", CLASSIFIERS)
@pytest.mark.parametrize("n_classes, C", [(3, 3.0), (2, 3.0), (2, 100.0)])
def test_fitted_branch_is_logistic_regression(cls, params, n_classes, C):
    texts, labels = _documents(120)
    labels = np.minimum(labels, n_classes - 1)
    pipe = make_pipeline(TextSequencer(), cls(
        max_iter=1, early_stopping=False, bag_of_words_C=C, random_state=0,
        dtype="float64", **params))
    pipe.fit(texts, labels)
    bag = pipe[-1].net_.module_.bag
    vectorizer = TfidfVectorizer(sublinear_tf=True, token_pattern=r"(?u)\b\w+\b",
                                 vocabulary=sorted(pipe[0].vocabulary_)).fit(texts)
    # Two classes: scikit-learn's binary model, with the same C.
    reference = LogisticRegression(C=C, tol=1e-10, max_iter=5000).fit(
        vectorizer.transform(texts), labels)
    X = _token_input(texts, pipe[0])
    got = torch.softmax(bag(X), dim=1).detach().numpy()
    np.testing.assert_allclose(got, reference.predict_proba(vectorizer.transform(texts)),
                               atol=2e-4)


def test_multilabel_branch_is_one_logistic_regression_per_label():
    texts, labels = _documents(120)
    Y = np.column_stack([labels == 2, labels >= 1]).astype(int)
    pipe = make_pipeline(TextSequencer(), RNNClassifier(
        max_iter=1, early_stopping=False, bag_of_words_C=3.0, random_state=0,
        dtype="float64"))
    pipe.fit(texts, Y)
    vectorizer = TfidfVectorizer(sublinear_tf=True, token_pattern=r"(?u)\b\w+\b",
                                 vocabulary=sorted(pipe[0].vocabulary_)).fit(texts)
    tfidf = vectorizer.transform(texts)
    expected = np.column_stack([
        LogisticRegression(C=3.0, tol=1e-10, max_iter=5000).fit(tfidf, Y[:, k])
        .predict_proba(tfidf)[:, 1] for k in range(2)])
    got = torch.sigmoid(pipe[-1].net_.module_.bag(_token_input(texts, pipe[0])))
    np.testing.assert_allclose(got.detach().numpy(), expected, atol=2e-4)


@pytest.mark.parametrize("cls, params", REGRESSORS)
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_regressor_branch_is_ridge_regression(cls, params, n_outputs):
    texts, labels = _documents(120, seed=1)
    y = labels * 2.0 + 1.0
    if n_outputs == 2:
        y = np.column_stack([y, np.random.default_rng(0).normal(size=len(y)) - labels])
    pipe = make_pipeline(TextSequencer(), cls(
        max_iter=1, early_stopping=False, bag_of_words_C=2.0, random_state=0,
        dtype="float64", **params))
    pipe.fit(texts, y)
    model = pipe[-1]
    vectorizer = TfidfVectorizer(sublinear_tf=True, token_pattern=r"(?u)\b\w+\b",
                                 vocabulary=sorted(pipe[0].vocabulary_)).fit(texts)
    # Mean squared error on the standardized target plus ||w||^2 / (2 C n) is
    # Ridge on that target with alpha = 1 / (2 C).
    task = model.task_
    standardized = (y - task.mean) / task.scale
    reference = Ridge(alpha=1 / (2 * 2.0), tol=1e-12).fit(vectorizer.transform(texts),
                                                          standardized)
    X = _token_input(texts, pipe[0])
    got = model.net_.module_.bag(X).detach().numpy()
    expected = reference.predict(vectorizer.transform(texts)).reshape(len(y), -1)
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_branch_learns_from_training_rows_only():
    texts, labels = _documents(60)
    sequencer = TextSequencer().fit(texts)
    X = _token_input(texts, sequencer)
    y = torch.as_tensor(labels)
    train_rows = torch.arange(30)
    net = make_pipeline(sequencer, RNNClassifier(max_iter=1, early_stopping=False)).fit(
        texts, labels)[-1].net_
    bag = BagOfWords(sequencer.n_tokens_, 3).double()
    fit_bag_of_words(bag, net, TensorData(X, y, indices=train_rows), C=10.0)
    document_frequency = (bag.counts(X[:30]) > 0).sum(dim=0).double()
    expected = torch.log(torch.tensor(31.0, dtype=torch.float64) / (1 + document_frequency)) + 1
    np.testing.assert_allclose(bag.idf[2:].numpy(), expected[2:].numpy())


@pytest.mark.parametrize("cls, params", CLASSIFIERS)
def test_fixed_during_gradient_descent_and_optional(cls, params):
    texts, labels = _documents(80)
    pipe = make_pipeline(TextSequencer(), cls(max_iter=3, random_state=0, **params))
    pipe.fit(texts, labels)
    model = pipe[-1]
    assert not any(p is model.net_.module_.bag.weight
                   for p in model.net_.module_.parameters())
    before = model.net_.module_.bag.weight.clone()
    model.set_params(warm_start=True).fit(pipe[0].transform(texts), labels)
    torch.testing.assert_close(model.net_.module_.bag.weight, before)
    plain = make_pipeline(TextSequencer(), cls(bag_of_words=False, max_iter=1, **params))
    assert plain.fit(texts, labels)[-1].net_.module_.bag is None


@pytest.mark.parametrize("cls, params", CLASSIFIERS)
def test_series_and_tables_have_no_branch(cls, params):
    X = np.random.default_rng(0).normal(size=(20, 1, 8))
    model = cls(max_iter=1, **params).fit(X, np.arange(20) % 2)
    assert getattr(model.net_.module_, "bag", None) is None
    if cls is TransformerClassifier:
        table = cls(max_iter=1, **params).fit(X[:, 0], np.arange(20) % 2)
        assert table.net_.module_.bag is None


@pytest.mark.parametrize("cls, params", CLASSIFIERS)
@pytest.mark.parametrize("value", [0.0, -1.0])
def test_c_must_be_positive(cls, params, value):
    texts, labels = _documents(10)
    with pytest.raises(ValueError, match="bag_of_words_C"):
        make_pipeline(TextSequencer(), cls(bag_of_words_C=value, **params)).fit(texts,
                                                                                labels)


def test_saved_and_loaded_with_the_branch(tmp_path):
    import sknn

    texts, labels = _documents(60)
    sequencer = TextSequencer().fit(texts)
    X = sequencer.transform(texts)
    model = RNNClassifier(max_iter=2, random_state=0).fit(X, labels)
    sknn.save(model, tmp_path / "model.safetensors")
    loaded = sknn.load(tmp_path / "model.safetensors")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    torch.testing.assert_close(loaded.net_.module_.bag.idf, model.net_.module_.bag.idf)


def test_onnx_of_a_token_rnn_includes_the_branch():
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    from sknn.export import prepare_input, to_onnx

    texts, labels = _documents(120)
    long_enough = np.array([len(t.split()) >= 8 for t in texts])
    # Fixed-length sequences (no padding): the limit of the RNN graphs.
    X = TextSequencer(max_length=8).fit_transform(list(np.array(texts)[long_enough]))
    model = RNNClassifier(max_iter=2, random_state=0).fit(X, labels[long_enough])
    session = ort.InferenceSession(to_onnx(model), providers=["CPUExecutionProvider"])
    got = session.run(None, {"X": prepare_input(model, X)})[0]
    assert np.abs(model.net_.module_.bag.weight.numpy()).max() > 0
    np.testing.assert_allclose(got, model.predict_proba(X), atol=1e-5)


def test_network_weighed_on_the_validation_rows_then_branch_refitted():
    texts, labels = _documents(400, seed=2)
    model = make_pipeline(TextSequencer(), RNNClassifier(
        max_iter=3, early_stopping=True, random_state=0))
    model.fit(texts, labels)
    estimator = model[-1]
    assert estimator.network_weight_ in NETWORK_WEIGHTS
    assert estimator.bag_of_words_only_ is (estimator.network_weight_ == 0.0)
    # The linear part is refitted on every row, validation rows included.
    sequencer = model[0]
    X = _token_input(texts, sequencer).float()
    document_frequency = (estimator.net_.module_.bag.counts(X) > 0).sum(dim=0)
    expected = torch.log(torch.tensor(401.0) / (1 + document_frequency)) + 1
    np.testing.assert_allclose(estimator.net_.module_.bag.idf[2:].numpy(),
                               expected[2:].numpy(), rtol=1e-6)
    plain = make_pipeline(TextSequencer(), RNNClassifier(max_iter=1, early_stopping=False))
    plain.fit(texts, labels)
    assert plain[-1].network_weight_ == 1.0
    assert plain[-1].bag_of_words_only_ is False
    numeric = RNNClassifier(max_iter=1).fit(np.random.default_rng(0).normal(size=(30, 5)),
                                            np.arange(30) % 2)
    assert numeric.network_weight_ is None and numeric.bag_of_words_only_ is None


@pytest.mark.parametrize("network_kind", ["right", "wrong", "mostly right", "noise"])
def test_network_weight_follows_the_one_standard_error_rule(monkeypatch, network_kind):
    texts, labels = _documents(200, seed=4)
    sequencer = TextSequencer().fit(texts)
    estimator = RNNClassifier(max_iter=1, early_stopping=False, random_state=0)
    estimator.fit(sequencer.transform(texts), labels)
    net, bag = estimator.net_, estimator.net_.module_.bag
    y = torch.as_tensor(labels)
    valid = TensorData(_token_input(texts, sequencer).float(), y)
    right = 4.0 * torch.nn.functional.one_hot(y, 3).float()
    network = {
        "right": right,
        "wrong": -right,
        # right on 3 rows in 4, as confidently wrong on the rest
        "mostly right": torch.where((torch.arange(len(y)) % 4 == 0)[:, None], -right, right),
        "noise": torch.randn(len(y), 3, generator=torch.Generator().manual_seed(0)),
    }[network_kind]
    monkeypatch.setattr(bag_of_words_module, "_network_outputs", lambda net, data: network)
    output = bag_of_words_module._output_layer(net.module_)
    before = output.weight.clone()
    with torch.no_grad():
        chosen = bag_of_words_module._weigh_network(net, bag, valid)
        bag_only = bag(valid.X)
    losses = np.array([torch.nn.functional.cross_entropy(
        bag_only + w * network, y, reduction="none").numpy() for w in NETWORK_WEIGHTS])
    argmin = NETWORK_WEIGHTS[int(losses.mean(axis=1).argmin())]
    differences = losses - losses[NETWORK_WEIGHTS.index(argmin)]
    within = differences.mean(axis=1) <= differences.std(axis=1, ddof=1) / np.sqrt(len(y))
    assert chosen == NETWORK_WEIGHTS[int(np.flatnonzero(within)[0])] <= argmin
    expected = {"right": (0.5, 1.0), "wrong": (0.0, 0.0), "noise": (0.0, 0.0),
                "mostly right": (0.05, argmin - 0.05)}[network_kind]
    assert expected[0] <= chosen <= expected[1]
    torch.testing.assert_close(output.weight, chosen * before)


def test_auto_c_is_picked_by_cross_validation_on_the_training_rows():
    texts, labels = _documents(150, seed=3)
    model = make_pipeline(TextSequencer(), RNNClassifier(max_iter=1, early_stopping=False,
                                                         random_state=0))
    clean = model.fit(texts, labels)[-1].bag_of_words_C_
    noise = np.random.default_rng(0).integers(0, 3, len(labels))
    noisy = model.fit(texts, noise)[-1].bag_of_words_C_
    assert {clean, noisy} <= set(C_GRID)
    assert noisy == min(C_GRID) < clean  # no signal: the strongest penalty
    fixed = make_pipeline(TextSequencer(), RNNClassifier(bag_of_words_C=3.0, max_iter=1))
    assert fixed.fit(texts, labels)[-1].bag_of_words_C_ == 3.0


def test_a_solve_that_does_not_converge_warns(monkeypatch):
    texts, labels = _documents(100)
    monkeypatch.setattr(bag_of_words_module, "MAX_LBFGS_ITERATIONS", 2)
    pipe = make_pipeline(TextSequencer(), RNNClassifier(
        max_iter=1, early_stopping=False, bag_of_words_C=100.0, random_state=0))
    with pytest.warns(ConvergenceWarning, match=(
            r"^RNNClassifier: the bag-of-words model \(C=100.0\) did not converge in 2 "
            r"L-BFGS iterations; a smaller bag_of_words_C converges faster.$")):
        pipe.fit(texts, labels)


def test_a_diverged_solve_names_the_estimator():
    texts, labels = _documents(40)
    sequencer = TextSequencer().fit(texts)
    X = _token_input(texts, sequencer)
    net = RNNRegressor(max_iter=1, dtype="float64").fit(
        sequencer.transform(texts), labels.astype(float)).net_
    bag = BagOfWords(sequencer.n_tokens_, 1).double()
    y = torch.full((len(texts), 1), float("nan"), dtype=torch.float64)
    with pytest.raises(ValueError, match=(
            r"^RNNRegressor: the bag-of-words model diverged \(loss nan\); check the "
            r"targets for extreme values.$")):
        fit_bag_of_words(bag, net, TensorData(X, y), C=1.0, owner="RNNRegressor")


def test_non_finite_network_outputs_leave_the_branch_alone(monkeypatch):
    texts, labels = _documents(100)
    sequencer = TextSequencer().fit(texts)
    estimator = RNNClassifier(max_iter=1, early_stopping=False, random_state=0)
    estimator.fit(sequencer.transform(texts), labels)
    net, bag = estimator.net_, estimator.net_.module_.bag
    valid = TensorData(_token_input(texts, sequencer).float(), torch.as_tensor(labels))
    network = torch.zeros(len(labels), 3)
    network[0, 0] = float("inf")
    monkeypatch.setattr(bag_of_words_module, "_network_outputs", lambda net, data: network)
    with torch.no_grad():
        assert bag_of_words_module._weigh_network(net, bag, valid) == 0.0
    output = bag_of_words_module._output_layer(net.module_)
    assert bool((output.weight == 0).all())
