"""What a user sees of training: the progress bar (``verbose``), TrainingCurveDisplay
and the estimators' HTML representation."""

import pickle
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_html_repr

from sknn import MLPClassifier, MLPRegressor
from sknn._core._progress import EpochProgressBar
from sknn.inspection import TrainingCurveDisplay

FAST = {"ensemble_size": 1, "n_threads": 1, "random_state": 0}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    return X, (X[:, 0] > 0).astype(int)


# -- progress bar --------------------------------------------------------------
def final_bar(stderr: str) -> str:
    """The last state of a text bar (tqdm redraws it after carriage returns)."""
    return stderr.replace("\r", "\n").strip().splitlines()[-1]


def test_bar_advances_per_epoch_with_loss_in_the_postfix(capsys, data):
    MLPClassifier(max_iter=3, callbacks=[EpochProgressBar()], **FAST).fit(*data)
    captured = capsys.readouterr()
    assert captured.out == ""
    line = final_bar(captured.err)
    assert "3/3" in line and "train_loss=" in line and "valid_score" not in line


def test_bar_shows_validation_and_completes_when_stopping_early(capsys, data):
    model = MLPRegressor(max_iter=200, early_stopping=True, n_iter_no_change=2,
                         tol=10.0, callbacks=[EpochProgressBar()], **FAST)
    model.fit(data[0], data[0][:, 0])
    line = final_bar(capsys.readouterr().err)
    assert model.n_iter_ < 200
    assert "100%" in line and f"{model.n_iter_}/{model.n_iter_}" in line
    assert "valid_loss=" in line and "valid_score=" in line


def test_fitted_model_with_a_bar_pickles_clones_and_refits(capsys, data):
    model = MLPClassifier(max_iter=2, callbacks=[EpochProgressBar()], **FAST).fit(*data)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(data[0]), model.predict(data[0]))
    clone(model).partial_fit(*data, classes=[0, 1])
    assert "1/1" in final_bar(capsys.readouterr().err)


def test_postfix_formats_history_values():
    bar = EpochProgressBar(keys=("train_loss", "valid_score", "absent"))
    row = {"train_loss": 0.123456, "valid_score": float("nan")}
    assert bar.postfix(row) == {"train_loss": "0.1235", "valid_score": "nan"}


def wired(model) -> bool:
    return any(isinstance(cb, EpochProgressBar) for _, cb in model.net_.callbacks_)


def test_verbose_1_shows_the_bar_and_verbose_2_the_epoch_table(capsys, data):
    """End to end; needs ``SknnNet._default_callbacks`` to add the bar for verbose=1."""
    bar = MLPClassifier(max_iter=2, verbose=1, **FAST).fit(*data)
    captured = capsys.readouterr()
    if not wired(bar):
        pytest.skip("verbose=1 is not wired to EpochProgressBar in "
                    "SknnNet._default_callbacks yet")
    assert captured.out == ""
    assert "2/2" in final_bar(captured.err)
    table = MLPClassifier(max_iter=2, verbose=2, **FAST).fit(*data)
    captured = capsys.readouterr()
    assert not wired(table)
    assert "train_loss" in captured.out and "epoch" in captured.out
    MLPClassifier(max_iter=2, **FAST).fit(*data)
    assert capsys.readouterr() == ("", "")


# -- training curves -----------------------------------------------------------
@pytest.fixture
def pyplot():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_display_renders_loss_and_validation_curves_to_png(pyplot, data, tmp_path):
    model = MLPClassifier(max_iter=6, early_stopping=True, n_iter_no_change=50, **FAST)
    display = TrainingCurveDisplay.from_estimator(model.fit(*data))
    np.testing.assert_allclose(display.line_.get_ydata(), model.loss_curve_)
    np.testing.assert_array_equal(display.line_.get_xdata(), np.arange(1, 7))
    np.testing.assert_allclose(display.validation_score_line_.get_ydata(),
                               model.validation_scores_)
    assert len(display.validation_loss_line_.get_xdata()) == 6
    assert display.score_ax_.get_ylabel() == "validation accuracy"
    assert display.ax_.get_title() == "MLPClassifier"
    assert display.figure_ is display.ax_.figure
    display.figure_.savefig(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG")


def test_display_on_given_axes_pipeline_and_sklearn_mlp(pyplot, data):
    X, y = data
    _, (left, right) = pyplot.subplots(1, 2)
    pipeline = make_pipeline(StandardScaler(), MLPRegressor(max_iter=3, **FAST))
    display = TrainingCurveDisplay.from_estimator(pipeline.fit(X, X[:, 0]), ax=left,
                                                  name="sknn", loss_kw={"color": "k"})
    assert display.ax_ is left and display.ax_.get_title() == "sknn"
    assert display.validation_score_line_ is None and display.score_ax_ is None
    assert display.line_.get_color() == "k"
    sklearn_mlp = SklearnMLP(max_iter=5, early_stopping=True).fit(X, y)
    display = TrainingCurveDisplay.from_estimator(sklearn_mlp, ax=right)
    assert len(display.line_.get_xdata()) == sklearn_mlp.n_iter_
    assert display.validation_loss_line_ is None
    assert display.validation_score_line_ is not None


def test_display_errors(pyplot, data):
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(NotFittedError):
        TrainingCurveDisplay.from_estimator(MLPClassifier())
    with pytest.raises(TypeError, match="needs an estimator that records loss_curve_"):
        TrainingCurveDisplay.from_estimator(LogisticRegression().fit(*data))


def test_display_without_matplotlib_says_how_to_get_it(monkeypatch, data):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    model = MLPClassifier(max_iter=1, **FAST).fit(*data)
    message = ("TrainingCurveDisplay needs matplotlib, an optional dependency of sknn; "
               "install it with: pip install matplotlib")
    with pytest.raises(ImportError, match=message):
        TrainingCurveDisplay.from_estimator(model)
    with pytest.raises(ImportError, match=message):
        TrainingCurveDisplay(loss_curve=[1.0, 0.5]).plot()


def test_html_repr_of_estimators_fitted_and_in_pipelines(data):
    model = MLPClassifier(hidden_layer_sizes=(32,), callbacks=[EpochProgressBar()])
    html = estimator_html_repr(model)
    assert "MLPClassifier" in html and "hidden_layer_sizes" in html
    assert "(32,)" in html
    fitted = make_pipeline(StandardScaler(), MLPRegressor(max_iter=1, **FAST))
    fitted.fit(data[0], data[0][:, 0])
    html = fitted._repr_html_()
    assert "StandardScaler" in html and "MLPRegressor" in html
    assert "fitted" in html.lower()
