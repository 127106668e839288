"""feature_attributions and AttributionDisplay: what they rank, completeness, every
input kind, Pipelines, and their errors."""

import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn import (
    CNNClassifier,
    MLPClassifier,
    MLPRegressor,
    RNNClassifier,
    RNNRegressor,
    TransformerClassifier,
    TransformerRegressor,
)
from sknn.inspection import AttributionDisplay, FeatureAttributions, feature_attributions
from sknn.text import TextSequencer

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FAST = {"n_threads": 1, "random_state": 0}
TRANSFORMER = {"d_token": 16, "n_heads": 2, "n_blocks": 1, **FAST}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def two_of_ten():
    """10 numeric columns of which only x3 and x7 determine y."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 10))
    y = (X[:, 3] + 1.5 * X[:, 7] > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def mlp(two_of_ten):
    return MLPClassifier((32,), max_iter=40, **FAST).fit(*two_of_ten)


@pytest.fixture(scope="module")
def colors():
    """A DataFrame whose categorical column 'color' decides y together with 'a'."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a", "b", "c", "d"],
                         index=np.arange(1000, 1300))
    frame["color"] = pd.Categorical(rng.choice(["red", "green", "blue"], 300))
    y = np.where((frame["color"] == "red") ^ (frame["a"] > 0), "yes", "no")
    return frame, y


@pytest.fixture(scope="module")
def digits_cnn():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    cnn = CNNClassifier(architecture="plain", n_filters=(8,), input_shape=(8, 8),
                        max_iter=3, **FAST).fit(X[:150], y[:150])
    return cnn, X[150:160]


@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 2, 12))
    return X, (X[:, 0, 6:9].mean(axis=1) > 0).astype(int)


@pytest.fixture(scope="module")
def texts():
    documents = ["good great fine", "bad awful poor", "great good", "poor bad"] * 10
    labels = np.array([1, 0, 1, 0] * 10)
    return documents, labels


def top(result, k=2):
    return set(result.importances().sort_values(ascending=False).index[:k])


# -- what the attributions say -------------------------------------------------------
@pytest.mark.parametrize("method", ["integrated_gradients", "saliency", "occlusion"])
def test_the_two_columns_that_determine_y_rank_first(mlp, two_of_ten, method):
    result = feature_attributions(mlp, two_of_ten[0][:40], method=method)
    assert top(result) == {"x3", "x7"}
    assert result.values.shape == (40, 10)
    assert list(result.feature_names) == [f"x{j}" for j in range(10)]


def test_a_categorical_column_that_matters_ranks_with_the_numeric_one(colors):
    X, y = colors
    clf = MLPClassifier((32,), max_iter=60, **FAST).fit(X, y)
    for method in ("integrated_gradients", "occlusion"):
        result = feature_attributions(clf, X.iloc[:40], method=method)
        assert top(result) == {"a", "color"}, method
    frame = result.to_frame()
    assert list(frame.columns) == ["a", "b", "c", "d", "color"]
    assert frame.index.equals(X.index[:40])


def test_transformer_tables_attribute_categories_through_their_embeddings(colors):
    X, y = colors
    clf = TransformerClassifier(max_iter=25, **TRANSFORMER).fit(X, y)
    result = feature_attributions(clf, X.iloc[:30], method="occlusion")
    assert top(result) == {"a", "color"}
    gradients = feature_attributions(clf, X.iloc[:10])
    assert np.abs(gradients.values[:, 4]).sum() > 0  # the categorical column


# -- completeness ------------------------------------------------------------------------
def test_integrated_gradients_sum_to_the_change_of_the_explained_probability(mlp,
                                                                             two_of_ten):
    X, center = two_of_ten[0][:30], two_of_ten[0].mean(axis=0)[None]
    result = feature_attributions(mlp, X, baseline=center)
    proba = mlp.predict_proba(X)
    columns = np.searchsorted(mlp.classes_, mlp.predict(X))
    np.testing.assert_allclose(result.outputs, proba[np.arange(30), columns], atol=1e-6)
    np.testing.assert_allclose(
        result.baseline_outputs, mlp.predict_proba(center)[0, columns],
        atol=1e-6)
    np.testing.assert_array_equal(result.target, mlp.predict(X))
    gap = result.outputs - result.baseline_outputs
    np.testing.assert_allclose(result.values.sum(axis=1), gap, rtol=0.01, atol=1e-4)
    np.testing.assert_allclose(result.convergence_delta, result.values.sum(axis=1) - gap,
                               atol=1e-9)


def test_integrated_gradients_of_a_regressor_are_in_the_units_of_y(colors):
    X, _ = colors
    y = 1000 + 300 * X["a"] + 200 * (X["color"] == "blue")
    reg = MLPRegressor((32,), max_iter=40, **FAST).fit(X, y)
    result = feature_attributions(reg, X.iloc[:20])
    assert result.output == "prediction" and result.target is None
    np.testing.assert_allclose(result.outputs, reg.predict(X.iloc[:20]), rtol=1e-9)
    gap = result.outputs - result.baseline_outputs
    np.testing.assert_allclose(result.values.sum(axis=1), gap, rtol=0.01, atol=1.0)
    assert top(result) == {"a", "color"}


def test_without_refinement_fewer_steps_miss_the_gap_by_more(mlp, two_of_ten):
    X = two_of_ten[0][:20]
    coarse = feature_attributions(mlp, X, n_steps=4, tol=None)
    refined = feature_attributions(mlp, X, n_steps=4)
    assert np.abs(refined.convergence_delta).max() < np.abs(coarse.convergence_delta).max()


# -- targets ---------------------------------------------------------------------------
def test_a_class_label_is_explained_in_every_row(colors):
    X, y = colors
    clf = MLPClassifier((16,), ensemble_size=1, max_iter=20, **FAST).fit(X, y)
    result = feature_attributions(clf, X.iloc[:10], target="yes", method="saliency")
    assert (result.target == "yes").all()
    np.testing.assert_allclose(result.outputs, clf.predict_proba(X.iloc[:10])[:, 1],
                               atol=1e-6)
    per_row = feature_attributions(clf, X.iloc[:2], target=["no", "yes"], method="saliency")
    assert per_row.target.tolist() == ["no", "yes"]
    with pytest.raises(ValueError, match=r"feature_attributions: target must be one of "
                       r"classes_ \['no', 'yes'\], or one of them per row of X \(10 rows\); "
                       r"got 'maybe'\."):
        feature_attributions(clf, X.iloc[:10], target="maybe")


def test_multi_output_regressors_need_the_index_of_the_output(two_of_ten):
    X = two_of_ten[0]
    reg = MLPRegressor((8,), ensemble_size=1, max_iter=5, **FAST).fit(X, X[:, :2])
    result = feature_attributions(reg, X[:5], target=1, method="saliency")
    np.testing.assert_allclose(result.outputs, reg.predict(X[:5])[:, 1], rtol=1e-9)
    with pytest.raises(ValueError, match=r"feature_attributions: MLPRegressor predicts 2 "
                       r"output\(s\); target must be an output index from 0 to 1; got "
                       r"None\."):
        feature_attributions(reg, X[:5])


# -- Pipelines and other inputs ------------------------------------------------------------
def test_a_pipeline_explains_its_last_step_on_the_transformed_columns(two_of_ten):
    X, y = two_of_ten
    pipe = make_pipeline(StandardScaler(), MLPClassifier((16,), ensemble_size=1,
                                                         max_iter=30, **FAST)).fit(X, y)
    result = feature_attributions(pipe, X[:20], method="saliency")
    direct = feature_attributions(pipe[-1], pipe[0].transform(X[:20]), method="saliency")
    np.testing.assert_allclose(result.values, direct.values)
    assert top(result) == {"x3", "x7"}


def test_images_get_a_map_of_their_shape(digits_cnn):
    cnn, X = digits_cnn
    for method in ("integrated_gradients", "saliency", "occlusion"):
        result = feature_attributions(cnn, X, method=method)
        assert result.kind == "image" and result.values.shape == (10, 1, 8, 8)
        assert result.inputs.shape == (10, 1, 8, 8) and result.feature_names is None
    windowed = feature_attributions(cnn, X[:2], method="occlusion", window=(2, 3))
    assert windowed.values.shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match=r"feature_attributions: window must be a positive "
                       r"int or a tuple of 2 of them, none larger than the input's \(8, 8\);"
                       r" got \(9, 1\)\."):
        feature_attributions(cnn, X[:2], method="occlusion", window=(9, 1))
    with pytest.raises(ValueError, match=r"FeatureAttributions.to_frame: only tables have "
                       r"one attribution per column; these are of image"):
        result.to_frame()


@pytest.mark.parametrize("family", [RNNClassifier, TransformerClassifier])
def test_series_get_a_map_per_step_and_channel(series, family):
    X, y = series
    params = TRANSFORMER if family is TransformerClassifier else {"hidden_size": 8, **FAST}
    model = family(max_iter=5, **params).fit(X, y)
    result = feature_attributions(model, X[:6])
    assert result.kind == "series" and result.values.shape == (6, 2, 12)
    gap = result.outputs - result.baseline_outputs
    np.testing.assert_allclose(result.values.sum(axis=(1, 2)), gap, rtol=0.01, atol=1e-4)


def test_sequences_of_different_lengths_get_nothing_beyond_their_end(series):
    X, y = series
    rnn = RNNRegressor(hidden_size=8, max_iter=5, **FAST).fit(
        [x[:, :8 + i % 5] for i, x in enumerate(X)], y.astype(float))
    result = feature_attributions(rnn, [X[0][:, :9], X[1]], method="saliency")
    assert result.values.shape == (2, 2, 12)
    assert (result.values[0, :, 9:] == 0).all() and (result.values[0, :, :9] != 0).any()


def test_fixed_length_transformer_series_regressor(series):
    X, _ = series
    reg = TransformerRegressor(max_iter=5, **TRANSFORMER).fit(X, X[:, 0, 6])
    result = feature_attributions(reg, X[:4], method="saliency")
    assert result.values.shape == (4, 2, 12) and result.output == "prediction"


def test_token_ids_refuse_gradients_and_take_occlusion(texts):
    documents, labels = texts
    pipe = make_pipeline(TextSequencer(), RNNClassifier(hidden_size=8, max_iter=10,
                                                        **FAST)).fit(documents, labels)
    with pytest.raises(ValueError, match=r"feature_attributions: RNNClassifier reads token "
                       r"ids, integers that no gradient can move; "
                       r"method='integrated_gradients' needs a continuous input\. Use "
                       r"method='occlusion'\."):
        feature_attributions(pipe, documents[:4])
    result = feature_attributions(pipe, documents[:4], method="occlusion", target=1)
    assert result.kind == "tokens" and result.values.shape == (4, 3)
    ids = result.inputs
    np.testing.assert_array_equal(ids, np.asarray(pipe[0].transform(documents[:4])))
    assert (result.values[ids == 0] == 0).all()  # padding: nothing to remove
    assert (result.values[0] > 0).all()  # 'good great fine' speaks for class 1


# -- baselines and errors ---------------------------------------------------------------
def test_a_baseline_like_x_of_another_shape_is_refused(mlp, two_of_ten):
    X = two_of_ten[0]
    with pytest.raises(ValueError, match=r"feature_attributions: baseline encodes to shape "
                       r"\(2, 10\) and X to shape \(5, 10\); give a baseline like X, one row "
                       r"or as many rows as X\."):
        feature_attributions(mlp, X[:5], baseline=X[:2])


def test_unknown_methods_are_refused(mlp, two_of_ten):
    with pytest.raises(ValueError, match=r"The 'method' parameter of feature_attributions "
                       r"must be a str among"):
        feature_attributions(mlp, two_of_ten[0][:2], method="shap")


def test_an_unfitted_estimator_is_refused(two_of_ten):
    with pytest.raises(NotFittedError, match=r"feature_attributions: this MLPClassifier "
                       r"instance is not fitted yet; call fit before explaining or "
                       r"attacking it\."):
        feature_attributions(MLPClassifier(), two_of_ten[0])
    with pytest.raises(TypeError, match=r"feature_attributions expects a fitted sknn "
                       r"classifier or regressor \(MLP, CNN, RNN or Transformer\), or a "
                       r"Pipeline ending in one; got LogisticRegression\."):
        feature_attributions(LogisticRegression().fit(*two_of_ten), two_of_ten[0])


def test_without_captum_the_error_names_the_extra(monkeypatch, mlp, two_of_ten):
    monkeypatch.setitem(sys.modules, "captum", None)
    monkeypatch.setitem(sys.modules, "captum.attr", None)
    with pytest.raises(ImportError, match=r'feature_attributions needs Captum, an optional '
                       r'dependency of sknn; install it with: pip install "sknn\[explain\]"'):
        feature_attributions(mlp, two_of_ten[0][:2])


# -- AttributionDisplay -------------------------------------------------------------------
def test_table_bars_go_from_the_most_important_column_down(mlp, two_of_ten):
    result = feature_attributions(mlp, two_of_ten[0][:30], method="saliency")
    display = AttributionDisplay.from_attributions(result, max_features=4)
    importances = result.importances().sort_values(ascending=False)
    labels = [label.get_text() for label in display.ax_.get_yticklabels()]
    assert labels == list(importances.index[:4])
    tops = {bar.get_y(): bar.get_width() for bar in display.bars_}
    widths = [tops[y] for y in sorted(tops, reverse=True)]  # from the top bar down
    np.testing.assert_allclose(widths, importances.to_numpy()[:4])
    assert display.figure_ is display.ax_.figure
    one_row = display.plot(sample_index=0, max_features=4)
    assert len(one_row.bars_) == 4 and one_row.image_ is None


def test_images_draw_a_heatmap_of_the_image(digits_cnn):
    cnn, X = digits_cnn
    fig, ax = plt.subplots()
    display = AttributionDisplay.from_estimator(cnn, X, method="saliency", ax=ax)
    assert display.ax_ is ax and display.image_.get_array().shape == (8, 8)
    mean = np.abs(display.attributions.values).mean(axis=0).sum(axis=0)
    np.testing.assert_allclose(display.image_.get_array(), mean)
    single = display.plot(sample_index=3)
    np.testing.assert_allclose(single.image_.get_array(),
                               display.attributions.values[3].sum(axis=0))


def test_series_draw_one_curve_per_channel(series):
    X, y = series
    rnn = RNNClassifier(hidden_size=8, max_iter=3, **FAST).fit(X, y)
    display = AttributionDisplay.from_estimator(rnn, X[:5], method="saliency",
                                                sample_index=1)
    assert len(display.lines_) == 2
    np.testing.assert_allclose(display.lines_[0].get_ydata(),
                               display.attributions.values[1, 0])
    assert display.ax_.get_xlabel() == "time step"


def test_display_errors_name_what_was_expected(mlp, two_of_ten):
    result = feature_attributions(mlp, two_of_ten[0][:5], method="saliency")
    with pytest.raises(ValueError, match=r"AttributionDisplay: sample_index must be None or "
                       r"a row index below 5; got 7\."):
        AttributionDisplay(result).plot(sample_index=7)
    with pytest.raises(TypeError, match=r"AttributionDisplay.from_attributions expects what "
                       r"feature_attributions returns \(FeatureAttributions\); got ndarray\."):
        AttributionDisplay.from_attributions(result.values)
    assert isinstance(result, FeatureAttributions) and len(result) == 5
