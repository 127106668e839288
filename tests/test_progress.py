"""The per-epoch progress bar (``EpochProgressBar``) and the ``verbose`` levels."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from sknn import MLPClassifier, MLPRegressor
from sknn._progress import EpochProgressBar

FAST = {"ensemble_size": 1, "n_threads": 1, "random_state": 0}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    return X, (X[:, 0] > 0).astype(int)


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
