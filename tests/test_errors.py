"""Bad input raises a clear error naming the estimator; failures leave no debris."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from helpers import make_estimator
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from sknn import MLPClassifier, MLPRegressor

FAST = {"device": "cpu", "hidden_layer_sizes": (8,), "batch_size": 16,
        "learning_rate_init": 0.01, "max_iter": 5, "random_state": 0, "ensemble_size": 1,
        "numeric_embedding": None}


def _make(cls, **params):
    return make_estimator(cls, FAST, **params)


def _assert_unfitted(est):
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    assert not hasattr(est, "n_features_in_")
    left = [k for k in vars(est) if k.endswith("_") and not k.startswith("__")]
    assert left == []


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(30, 3)
    y = np.array([0, 1] * 15)
    return X, y


@pytest.fixture(params=[MLPClassifier, MLPRegressor], ids=["clf", "reg"])
def cls(request):
    return request.param


# -- X --------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["fit", "predict"])
def test_infinity_in_X(data, cls, where):
    X, y = data
    bad = X.copy()
    bad[4, 1] = np.inf
    est = _make(cls)
    match = rf"{cls.__name__}: Input contains infinity"
    if where == "fit":
        with pytest.raises(ValueError, match=match):
            est.fit(bad, y)
        _assert_unfitted(est)
    else:
        est.fit(X, y)
        with pytest.raises(ValueError, match=match):
            est.predict(bad)


def test_nan_in_sparse_X(data, cls):
    X, y = data
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match=rf"{cls.__name__}: Input contains NaN"):
        _make(cls).fit(sp.csr_matrix(bad), y)


def test_different_feature_count_at_predict(data, cls):
    X, y = data
    est = _make(cls).fit(X, y)
    with pytest.raises(ValueError, match=rf"X has 2 features, but {cls.__name__} is "
                                         "expecting 3 features as input"):
        est.predict(X[:, :2])
    with pytest.raises(ValueError, match=rf"X has 4 features, but {cls.__name__}"):
        est.predict(np.hstack([X, X[:, :1]]))


def test_missing_dataframe_column_at_predict(data, cls):
    X, y = data
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    est = _make(cls).fit(frame, y)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: The feature names should "
                                         r"match those that were passed during fit"):
        est.predict(frame[["a", "c"]])
    with pytest.raises(ValueError, match=r"unseen at fit time:\n- z"):
        est.predict(frame.rename(columns={"b": "z"}))


def test_empty_X(data, cls):
    X, y = data
    est = _make(cls)
    with pytest.raises(ValueError, match=rf"0 sample\(s\) \(shape=\(0, 3\)\) while a "
                                         rf"minimum of 1 is required by {cls.__name__}"):
        est.fit(X[:0], y[:0])
    _assert_unfitted(est)
    with pytest.raises(ValueError, match=rf"0 feature\(s\).*{cls.__name__}"):
        est.fit(X[:, :0], y)


def test_empty_X_at_predict(data, cls):
    X, y = data
    est = _make(cls).fit(X, y)
    with pytest.raises(ValueError, match=rf"0 sample\(s\).*{cls.__name__}"):
        est.predict(X[:0])


def test_three_dimensional_X(data, cls):
    X, y = data
    est = _make(cls)
    with pytest.raises(ValueError, match=rf"{cls.__name__} reads tables of shape"):
        est.fit(X.reshape(30, 3, 1), y)
    _assert_unfitted(est)
    est.fit(X, y)
    with pytest.raises(ValueError, match=rf"{cls.__name__} was fitted on a table of 3 "
                       r"columns; got X of shape \(30, 3, 1\)\."):
        est.predict(X.reshape(30, 3, 1))


def test_one_dimensional_X(data, cls):
    X, y = data
    with pytest.raises(ValueError, match=rf"{cls.__name__}: Expected 2D array, got 1D"):
        _make(cls).fit(X[:, 0], y)


def test_complex_X(data, cls):
    X, y = data
    with pytest.raises(ValueError, match=rf"{cls.__name__}: Complex data not supported"):
        _make(cls).fit(X.astype(complex), y)


def test_strings_in_numeric_column_at_predict(data, cls):
    X, y = data
    est = _make(cls).fit(X, y)
    bad = X.astype(object)
    bad[3, 0] = "foo"
    with pytest.raises(ValueError, match=rf"{cls.__name__}: column 0 was numeric at fit "
                                         "time but is categorical now"):
        est.predict(bad)


def test_strings_in_X_not_declared_categorical(data, cls):
    X, y = data
    bad = X.astype(object)
    bad[:, 1] = np.array(["x", "y", "z"] * 10, dtype=object)
    est = _make(cls, categorical_features=None)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: column 1 holds strings"):
        est.fit(bad, y)
    _assert_unfitted(est)


# -- y --------------------------------------------------------------------------------
def test_one_class_only(data):
    X, _ = data
    est = _make(MLPClassifier)
    with pytest.raises(ValueError, match=r"MLPClassifier needs samples of at least 2 "
                                         r"classes in the data; got only one class: \[7\]"):
        est.fit(X, np.full(30, 7))
    _assert_unfitted(est)


def test_nan_in_y(data, cls):
    X, y = data
    bad = y.astype(float)
    bad[3] = np.nan
    est = _make(cls)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: Input y contains NaN"):
        est.fit(X, bad)
    _assert_unfitted(est)


def test_infinity_in_regression_y(data):
    X, y = data
    bad = y.astype(float)
    bad[0] = np.inf
    with pytest.raises(ValueError, match=r"MLPRegressor: Input y contains infinity"):
        _make(MLPRegressor).fit(X, bad)


def test_string_regression_target(data):
    X, _ = data
    with pytest.raises(ValueError, match=r"MLPRegressor needs numeric regression targets"):
        _make(MLPRegressor).fit(X, np.array(["a", "b", "c"] * 10))


def test_y_none(data, cls):
    X, _ = data
    with pytest.raises(ValueError, match=rf"{cls.__name__} requires y to be passed"):
        _make(cls).fit(X, None)


def test_mismatched_lengths(data, cls):
    X, y = data
    est = _make(cls)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: Found input variables with "
                                         r"inconsistent numbers of samples: \[30, 29\]"):
        est.fit(X, y[:-1])
    _assert_unfitted(est)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: sample_weight.shape == "
                                         r"\(29,\), expected \(30,\)"):
        est.fit(X, y, sample_weight=np.ones(29))


def test_bad_sample_weight(data, cls):
    X, y = data
    with pytest.raises(ValueError, match=rf"{cls.__name__}: Negative values in data "
                                         "passed to `sample_weight`"):
        _make(cls).fit(X, y, sample_weight=-np.ones(30))
    with pytest.raises(ValueError, match=rf"{cls.__name__}: Sample weights must contain "
                                         "at least one non-zero number"):
        _make(cls).fit(X, y, sample_weight=np.zeros(30))


def test_multiclass_multioutput_target(data):
    X, y = data
    with pytest.raises(ValueError, match=r"MLPClassifier supports single-label and "
                                         r"multilabel-indicator targets; got a "
                                         r"multiclass-multioutput"):
        _make(MLPClassifier).fit(X, np.column_stack([y, np.arange(30) % 3]))


# -- parameters and devices ----------------------------------------------------------
@pytest.mark.parametrize("params, match", [
    ({"solver": "foo"}, r"The 'solver' parameter of {name} must be a str among"),
    ({"learning_rate_init": 0}, r"The 'learning_rate_init' parameter of {name} must be"),
    ({"max_iter": 0}, r"The 'max_iter' parameter of {name} must be"),
    ({"learning_rate": "cyclic"}, r"The 'learning_rate' parameter of {name} must be"),
    ({"batch_size": 0}, r"The 'batch_size' parameter of {name} must be"),
    ({"dtype": "float16"}, r"The 'dtype' parameter of {name} must be"),
    ({"hidden_layer_sizes": -1}, r"The 'hidden_layer_sizes' parameter of {name} must"),
])
def test_invalid_parameters(data, cls, params, match):
    X, y = data
    est = _make(cls, **params)
    with pytest.raises(InvalidParameterError, match=match.format(name=cls.__name__)):
        est.fit(X, y)
    _assert_unfitted(est)


@pytest.mark.parametrize("sizes", [(0,), (8, 0), (2.5,)])
def test_invalid_hidden_layer_sizes(data, cls, sizes):
    X, y = data
    est = _make(cls, hidden_layer_sizes=sizes)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: hidden_layer_sizes must be "
                                         "positive integers"):
        est.fit(X, y)
    _assert_unfitted(est)


def test_invalid_class_weight(data):
    X, y = data
    with pytest.raises(InvalidParameterError,
                       match=r"The 'class_weight' parameter of MLPClassifier must be"):
        _make(MLPClassifier, class_weight="unbalanced").fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_device_without_cuda(data, cls):
    X, y = data
    est = _make(cls, device="cuda")
    with pytest.raises(ValueError, match=rf"{cls.__name__}: device='cuda' was requested "
                                         "but CUDA is not available"):
        est.fit(X, y)
    _assert_unfitted(est)


@pytest.mark.parametrize("device", ["tpu", "nonsense"])
def test_unknown_device(data, device):
    X, y = data
    with pytest.raises(ValueError, match=rf"MLPClassifier: device='{device}' is not a "
                                         "device"):
        _make(MLPClassifier, device=device).fit(X, y)


# -- partial_fit --------------------------------------------------------------------
def test_partial_fit_with_unseen_labels(data):
    X, y = data
    clf = _make(MLPClassifier).partial_fit(X, y, classes=[0, 1])
    before = clf.predict_proba(X)
    with pytest.raises(ValueError, match=r"MLPClassifier: y contains labels \[2\] unseen "
                                         r"at the first fit \(classes_=\[0, 1\]\)"):
        clf.partial_fit(X, np.array([0, 1, 2] * 10))
    # The failed call changed nothing.
    assert clf.n_iter_ == 1
    assert np.array_equal(clf.predict_proba(X), before)


def test_partial_fit_labels_outside_classes(data):
    X, y = data
    clf = _make(MLPClassifier)
    with pytest.raises(ValueError, match=r"MLPClassifier: y contains labels \[1\] that "
                                         r"are not in classes=\[0, 2\]"):
        clf.partial_fit(X, y, classes=[0, 2])
    _assert_unfitted(clf)


def test_partial_fit_with_other_classes_later(data):
    X, y = data
    clf = _make(MLPClassifier).partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match=r"MLPClassifier.partial_fit: classes=\[0, 1, 2\] "
                                         r"differ from the first call's"):
        clf.partial_fit(X, y, classes=[0, 1, 2])


def test_partial_fit_with_other_feature_count(data):
    X, y = data
    clf = _make(MLPClassifier).partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match=r"X has 2 features, but MLPClassifier is "
                                         "expecting 3"):
        clf.partial_fit(X[:, :2], y)
    assert clf.n_iter_ == 1
    assert clf.n_features_in_ == 3


# -- failed fits leave no half-fitted state -------------------------------------------
def test_failed_refit_discards_the_old_model(data):
    X, y = data
    est = _make(MLPClassifier).fit(X, y)
    with pytest.raises(ValueError, match="MLPClassifier needs samples of at least 2"):
        est.fit(X, np.zeros(30))
    _assert_unfitted(est)


def test_failed_warm_start_fit_keeps_the_previous_model(data):
    X, y = data
    est = _make(MLPClassifier, warm_start=True).fit(X, y)
    before = est.predict_proba(X)
    n_iter, curve = est.n_iter_, list(est.loss_curve_)
    with pytest.raises(ValueError, match=r"MLPClassifier: y contains labels \[5\] unseen"):
        est.fit(X, np.where(y == 0, 5, 1))
    assert est.n_iter_ == n_iter
    assert est.loss_curve_ == curve
    assert len(est.net_.history) == n_iter
    assert np.array_equal(est.predict_proba(X), before)


def _diverging_regressor():
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3) * 1e6
    y = X @ np.array([1.0, 2.0, 3.0])
    reg = _make(MLPRegressor, solver="sgd", learning_rate_init=1e6, max_iter=20)
    if "numeric_transform" in reg.get_params():
        reg.set_params(numeric_transform="none")  # keep X unscaled
    return reg, X, y


def test_diverging_fit_raises(data):
    reg, X, y = _diverging_regressor()
    with pytest.raises(ValueError, match=r"MLPRegressor: training diverged \(the "
                                         r"training loss became (inf|nan)"):
        reg.fit(X, y)
    _assert_unfitted(reg)


def test_diverging_classifier_raises(data):
    X, y = data
    clf = _make(MLPClassifier, solver="sgd", learning_rate_init=1e8, max_iter=20)
    with pytest.raises(ValueError, match="MLPClassifier: training diverged"):
        clf.fit(X * 1e6, y)
    _assert_unfitted(clf)


class InterruptAt(Callback):
    """Raise KeyboardInterrupt (as Ctrl-C does) at the end of one epoch."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("early_stopping", [False, True])
def test_keyboard_interrupt_keeps_the_model(data, early_stopping):
    X, y = data
    X = np.vstack([X, X + 0.1])
    y = np.concatenate([y, y])
    clf = _make(MLPClassifier, max_iter=50, early_stopping=early_stopping,
                validation_fraction=0.2, callbacks=[InterruptAt(3)])
    with pytest.warns(UserWarning, match=r"MLPClassifier: fit was interrupted "
                                         r"\(KeyboardInterrupt\) after 3 epochs"):
        returned = clf.fit(X, y)
    assert returned is clf
    check_is_fitted(clf)
    assert clf.n_iter_ == 3
    assert len(clf.loss_curve_) == 3
    assert clf.predict(X).shape == (len(X),)
    if early_stopping:
        assert len(clf.validation_scores_) == 3


def test_keyboard_interrupt_does_not_warn_about_convergence(data):
    X, y = data
    clf = _make(MLPClassifier, max_iter=3, callbacks=[InterruptAt(3)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X, y)
    messages = [str(w.message) for w in caught]
    assert any("interrupted" in m for m in messages)
    assert not any("hasn't converged" in m for m in messages)


def test_predict_before_fit(data, cls):
    X, _ = data
    with pytest.raises(NotFittedError, match=rf"This {cls.__name__} instance is not "
                                             "fitted yet"):
        _make(cls).predict(X)


# -- a new user's inputs (issue 26, item 5) ------------------------------------------------
@pytest.mark.parametrize("missing", [None, np.nan, pd.NA])
def test_a_missing_label_in_y_is_named_with_its_row(data, missing):
    X, _ = data
    y = pd.Series(["a", "b"] * 15, dtype=object)
    y[4] = missing
    with pytest.raises(ValueError, match=r"MLPClassifier: y has 1 missing value \(None, NaN "
                       r"or pd\.NA\) at row 4; drop those rows or fill them in"):
        _make(MLPClassifier).fit(X, y)


def test_missing_targets_of_a_nullable_regression_y_are_named(data):
    X, _ = data
    y = pd.Series(list(np.arange(30.0)), dtype=object)
    y[[2, 7]] = [None, pd.NA]
    with pytest.raises(ValueError, match=r"MLPRegressor: y has 2 missing values .* at rows "
                       r"2, 7;"):
        _make(MLPRegressor).fit(X, y)


def test_a_numeric_y_with_nan_keeps_scikit_learns_message(data):
    X, _ = data
    y = np.arange(30.0)
    y[3] = np.nan
    with pytest.raises(ValueError, match="MLPRegressor: Input y contains NaN"):
        _make(MLPRegressor).fit(X, y)


def test_class_weight_keys_that_are_not_labels_are_refused(data):
    X, _ = data
    y = np.array(["cat", "dog"] * 15)
    # Every label weighted plus a typo: scikit-learn would ignore the typo silently.
    est = _make(MLPClassifier, class_weight={"cat": 1.0, "dog": 2.0, "dgo": 5.0})
    with pytest.raises(ValueError, match=r"MLPClassifier: class_weight has keys \['dgo'\] "
                       r"that are not labels of y; the labels are \['cat', 'dog'\]"):
        est.fit(X, y)
    _make(MLPClassifier, class_weight={"dog": 2.0}).fit(X, y)  # a subset is fine


def test_class_weight_keys_are_checked_against_partial_fits_classes(data):
    X, y = data
    est = _make(MLPClassifier, class_weight={0: 1.0, 2: 3.0})
    est.partial_fit(X, y, classes=[0, 1, 2])  # 2 is a label, though not in this batch
    with pytest.raises(ValueError, match=r"class_weight has keys \[5\]"):
        _make(MLPClassifier, class_weight={5: 1.0}).partial_fit(X, y, classes=[0, 1])


@pytest.mark.parametrize("cls, kind", [(MLPClassifier, "Classifier"),
                                       (MLPRegressor, "Regressor")])
def test_three_dimensional_input_to_the_mlp_points_to_the_sequence_estimators(data, cls,
                                                                               kind):
    X, y = data
    with pytest.raises(ValueError, match=(
            rf"{cls.__name__} reads tables of shape \(n_samples, n_features\); got X of "
            rf"shape \(30, 3, 1\)\. For sequences or images use CNN{kind}, RNN{kind} or "
            rf"Transformer{kind}, or flatten X")):
        _make(cls).fit(X.reshape(30, 3, 1), y)


def test_an_arrow_list_column_is_refused_naming_the_column(data):
    pa = pytest.importorskip("pyarrow")
    X, y = data
    tags = pd.Series([None, ["x", "y"], ["z"]] * 10, dtype=pd.ArrowDtype(pa.list_(pa.string())))
    with pytest.raises(TypeError, match=r"MLPClassifier: column 'tags' holds a "
                                        r"list<item: string> \(first at row 1\); each cell"):
        _make(MLPClassifier).fit(pd.DataFrame({"a": X[:, 0], "tags": tags}), y)


def test_ragged_rows_and_labels_are_refused_naming_the_estimator():
    with pytest.raises(ValueError, match=r"^MLPClassifier: setting an array element with a "
                                         r"sequence"):
        _make(MLPClassifier).fit([[1.0, 2.0], [3.0]], [0, 1])
    with pytest.raises(ValueError, match=r"^MLPClassifier: setting an array element with a "
                                         r"sequence"):  # ragged labels too
        _make(MLPClassifier).fit(np.ones((2, 2)), [[1, 2], [3]])


@pytest.mark.parametrize("value, type_name", [([1, 2], "list"), ({"k": 1}, "dict"),
                                              ((1, 2), "tuple"), (np.ones(2), "ndarray")])
def test_a_column_of_lists_or_dicts_is_refused_at_fit_and_predict(data, value, type_name):
    X, y = data
    frame = pd.DataFrame({"a": X[:, 0], "tags": ["x", "y"] * 15})
    bad = frame.astype({"tags": object})
    bad.at[3, "tags"] = value
    message = (rf"MLPClassifier: column 'tags' holds a {type_name} \(first at row 3\); each "
               r"cell must be one number, string, date or category\. Expand it into columns "
               r"first \(for example pd\.DataFrame\(df\['tags'\]\.tolist\(\)\)\) or join")
    with pytest.raises(TypeError, match=message):
        _make(MLPClassifier).fit(bad, y)
    with pytest.raises(TypeError, match=message):  # also when listed as categorical
        _make(MLPClassifier, categorical_features=["tags"]).fit(bad, y)
    est = _make(MLPClassifier).fit(frame, y)
    with pytest.raises(TypeError, match=message):
        est.predict(bad)
