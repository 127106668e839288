"""Model files written by an earlier sknn load and predict as they did when saved.

The files in ``tests/model_files/`` were written by ``sknn.save`` (see
``make_model_files.py`` there) and are committed unchanged: refactoring the
estimators must keep them loadable, with the same predictions.
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import sknn

MODEL_FILES = Path(__file__).resolve().parent / "model_files"
sys.path.insert(0, str(MODEL_FILES))
from make_model_files import INPUTS  # noqa: E402

NAMES = sorted(path.stem for path in MODEL_FILES.glob("*.sknn"))


def test_every_model_has_a_file_and_expected_outputs():
    assert NAMES == sorted(INPUTS)
    for name in NAMES:
        assert (MODEL_FILES / f"{name}.npz").exists(), name


@pytest.mark.parametrize("name", NAMES)
def test_a_committed_model_file_loads_and_predicts_as_when_saved(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a file written by another version warns so
        model = sknn.load(MODEL_FILES / f"{name}.sknn")
    expected = np.load(MODEL_FILES / f"{name}.npz")
    X = INPUTS[name]()
    predicted = np.asarray(model.predict(X))
    if predicted.dtype.kind in "fc":
        np.testing.assert_allclose(predicted, expected["predict"], rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_array_equal(predicted, expected["predict"])
    if "predict_proba" in expected:
        np.testing.assert_allclose(model.predict_proba(X), expected["predict_proba"],
                                   rtol=1e-5, atol=1e-6)
