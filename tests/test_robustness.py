"""robustness_report and RobustnessDisplay: scores under noise, FGSM and PGD."""

import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn import CNNClassifier, MLPClassifier, MLPRegressor, RNNClassifier
from sknn.inspection import RobustnessDisplay, robustness_report
from sknn.text import TextSequencer

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FAST = {"n_threads": 1, "random_state": 0}
EPSILONS = [0.0, 0.05, 0.2, 0.5]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


@pytest.fixture(scope="module")
def clf(blobs):
    return MLPClassifier((32,), ensemble_size=1, max_iter=60, **FAST).fit(*blobs)


@pytest.fixture(scope="module")
def report(clf, blobs):
    return robustness_report(clf, *blobs, epsilons=EPSILONS, random_state=0)


def test_scores_without_perturbation_are_the_estimators_score(report, clf, blobs):
    assert list(report.columns) == ["noise", "fgsm", "pgd"]
    assert report.index.name == "epsilon" and report.index.tolist() == EPSILONS
    assert (report.loc[0.0] == clf.score(*blobs)).all()


def test_attacks_lower_the_score_as_the_budget_grows_and_pgd_is_the_strongest(report):
    pgd = report["pgd"].to_numpy()
    assert (np.diff(pgd) <= 0).all() and pgd[-1] < pgd[0] - 0.2
    assert report["pgd"].mean() <= report["fgsm"].mean() + 0.01
    assert (report["noise"] >= report["pgd"] - 0.02).all()  # noise is the weakest


def test_regressors_are_scored_by_r2(blobs):
    X, _ = blobs
    y = 10 + 4 * X[:, 0]
    reg = MLPRegressor((16,), ensemble_size=1, max_iter=40, **FAST).fit(X, y)
    report = robustness_report(reg, X, y, epsilons=[0, 0.3], attacks=["fgsm"])
    assert report.attrs["score"] == "R²"
    assert report.loc[0.0, "fgsm"] == pytest.approx(reg.score(X, y), abs=1e-12)
    assert report.loc[0.3, "fgsm"] < report.loc[0.0, "fgsm"]


def test_categorical_codes_and_missing_values_are_never_perturbed():
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200),
                      "color": pd.Categorical(rng.choice(["red", "blue", "green"], 200))})
    X.loc[::5, "b"] = np.nan
    y = ((X["a"] > 0) ^ (X["color"] == "red")).astype(int)
    clf = MLPClassifier((16,), ensemble_size=1, max_iter=20, **FAST).fit(X, y)
    encoded = torch.as_tensor(clf.encoder_.transform(X))
    seen = []
    hook = clf.net_.module_.register_forward_pre_hook(
        lambda module, args: seen.append(args[0].detach().clone()))
    try:
        report = robustness_report(clf, X, y, epsilons=[0.0, 0.5], random_state=0)
    finally:
        hook.remove()
    # [a, b | indicator of b | code of color], in every batch every attack ran on.
    full = [batch for batch in seen if len(batch) == len(X)]
    assert len(full) >= 4
    for batch in full:
        np.testing.assert_array_equal(batch[:, 2:], encoded[:, 2:])  # indicator, codes
        np.testing.assert_array_equal(batch[::5, 1], encoded[::5, 1])  # missing b
    assert any((batch[:, 0] != encoded[:, 0]).any() for batch in full)
    assert report.attrs["perturbed_features"] == ["a", "b"]
    assert report.attrs["unperturbed_features"] == ["color"]
    assert "categorical columns, missing values and their indicators never perturbed" in (
        report.attrs["input_scale"])


def test_images_are_attacked_in_their_own_units_within_bounds():
    X, y = load_digits(return_X_y=True)
    cnn = CNNClassifier(architecture="plain", n_filters=(8,), input_shape=(8, 8),
                        max_iter=5, **FAST).fit(X[:300], y[:300])
    seen = []
    hook = cnn.net_.module_.register_forward_pre_hook(
        lambda module, args: seen.append(args[0].detach().clone()))
    try:
        report = robustness_report(cnn, X[300:400], y[300:400], epsilons=[0, 2.0],
                                   attacks=["pgd"], bounds=(0, 16))
    finally:
        hook.remove()
    assert report.loc[0.0, "pgd"] == cnn.score(X[300:400], y[300:400])
    attacked = seen[-1].reshape(100, 64).double()
    assert attacked.min() >= 0 and attacked.max() <= 16
    assert (attacked - torch.as_tensor(X[300:400])).abs().max() <= 2.0 + 1e-6
    assert report.attrs["input_scale"].startswith("pixels as given")


def test_a_pipeline_is_attacked_after_its_earlier_steps(blobs):
    X, y = blobs
    pipe = make_pipeline(StandardScaler(), MLPClassifier((8,), ensemble_size=1,
                                                         max_iter=20, **FAST)).fit(X, y)
    report = robustness_report(pipe, X, y, epsilons=[0.0, 0.1], attacks=["noise"],
                               random_state=0)
    assert report.loc[0.0, "noise"] == pipe.score(X, y)
    again = robustness_report(pipe, X, y, epsilons=[0.0, 0.1], attacks=["noise"],
                              random_state=0)
    pd.testing.assert_frame_equal(report, again)  # the noise is seeded


def test_series_are_scored(blobs):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 1, 10))
    y = (X[:, 0, 5] > 0).astype(int)
    rnn = RNNClassifier(hidden_size=8, max_iter=10, **FAST).fit(X, y)
    report = robustness_report(rnn, X, y, epsilons=[0.0, 0.5], attacks=["fgsm", "pgd"])
    assert report.loc[0.0, "pgd"] == rnn.score(X, y)
    assert report.attrs["input_scale"] == "series values as given (valid steps only)"


def test_bad_arguments_and_token_ids_are_refused(clf, blobs):
    X, y = blobs
    with pytest.raises(ValueError, match=r"robustness_report: epsilons must be a non-empty "
                       r"1-D sequence of finite numbers >= 0; got \[0.1, -1\]\."):
        robustness_report(clf, X, y, epsilons=[0.1, -1])
    with pytest.raises(ValueError, match=r"robustness_report: attacks must be distinct names "
                       r"among \('noise', 'fgsm', 'pgd'\); got \['cw'\]\."):
        robustness_report(clf, X, y, attacks=["cw"])
    with pytest.raises(ValueError, match=r"robustness_report: bounds must be \(low, high\) "
                       r"with low < high; got \(1, 0\)\."):
        robustness_report(clf, X, y, bounds=(1, 0))
    documents, labels = ["good fine", "bad poor"] * 10, [1, 0] * 10
    pipe = make_pipeline(TextSequencer(), RNNClassifier(hidden_size=4, max_iter=2, **FAST))
    pipe.fit(documents, labels)
    with pytest.raises(ValueError, match=r"robustness_report: RNNClassifier reads token ids, "
                       r"which cannot be perturbed by a small amount"):
        robustness_report(pipe, documents, labels)


def test_without_captum_the_error_names_the_extra(monkeypatch, clf, blobs):
    monkeypatch.setitem(sys.modules, "captum", None)
    monkeypatch.setitem(sys.modules, "captum.robust", None)
    with pytest.raises(ImportError, match=r'robustness_report needs Captum, an optional '
                       r'dependency of sknn; install it with: pip install "sknn\[explain\]"'):
        robustness_report(clf, *blobs)
    noise = robustness_report(clf, *blobs, attacks=["noise"], epsilons=[0.0])
    assert noise.loc[0.0, "noise"] == clf.score(*blobs)  # noise alone needs no Captum


def test_display_draws_one_curve_per_attack(report, clf, blobs):
    display = RobustnessDisplay(report, estimator_name="MLP").plot()
    assert sorted(display.lines_) == ["fgsm", "noise", "pgd"]
    np.testing.assert_allclose(display.lines_["pgd"].get_xdata(), EPSILONS)
    np.testing.assert_allclose(display.lines_["pgd"].get_ydata(), report["pgd"])
    assert display.ax_.get_ylabel() == "accuracy" and display.ax_.get_title() == "MLP"
    fig, ax = plt.subplots()
    built = RobustnessDisplay.from_estimator(clf, *blobs, epsilons=[0, 0.1],
                                             attacks=["fgsm"], ax=ax)
    assert built.ax_ is ax and built.figure_ is fig and list(built.lines_) == ["fgsm"]
    assert ax.get_title() == "MLPClassifier"
