"""Write the model files that ``tests/test_model_files.py`` loads.

Each file is written by ``sknn.save`` from a small model fitted on data made
here (``INPUTS`` makes it again for the test), next to a ``.npz`` of what the
model predicted before saving. The files are committed: they are the models a user saved with an
earlier sknn, and the test checks that today's sknn still loads them and
predicts the same. Rerun this script only to add a model (an existing file's
bytes must not change; a new file records the sknn version that wrote it)::

    python tests/model_files/make_model_files.py
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sknn

HERE = Path(__file__).resolve().parent


def _table(seed=0, n=120):
    rng = np.random.RandomState(seed)
    frame = pd.DataFrame({
        "age": rng.normal(40, 10, n).round(),
        "income": np.where(rng.rand(n) < 0.1, np.nan, rng.lognormal(10, 1, n)),
        "city": pd.Categorical(rng.choice(["Lyon", "Oslo", "Lima"], n)),
        "plan": rng.choice(["basic", "pro", None], n),
    })
    y = (frame["age"] + 5 * (frame["city"] == "Oslo") + rng.normal(0, 5, n) > 42)
    return frame, np.where(y, "yes", "no")


def _series(seed=0, n=40, length=24):
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 2
    X = rng.normal(0, 1, (n, 1, length)) + y[:, None, None] * np.sin(np.arange(length))
    return X.astype(np.float32), y


def _numbers():
    numbers = np.random.RandomState(1).normal(size=(100, 5))
    return numbers, numbers @ np.arange(1, 6) + np.sin(numbers[:, 0])


# The input each model's predictions are taken on (its training input).
INPUTS = {
    "mlp_classifier_frame": lambda: _table()[0],
    "mlp_regressor_ensemble": lambda: _numbers()[0],
    "cnn_classifier_series": lambda: _series()[0],
    "rnn_regressor_series": lambda: _series()[0],
    "transformer_classifier_frame": lambda: _table()[0],
    "pipeline_scaler_mlp": lambda: _numbers()[0],
}


def models():
    """Name, fitted model and the input its predictions are taken on."""
    frame, labels = _table()
    X_series, y_series = _series()
    numbers, target = _numbers()
    common = {"random_state": 0, "n_threads": 1}
    yield "mlp_classifier_frame", sknn.MLPClassifier(
        max_iter=3, **common).fit(frame, labels), frame
    yield "mlp_regressor_ensemble", sknn.MLPRegressor(
        hidden_layer_sizes=(16,), ensemble_size=4, max_iter=3, **common
    ).fit(numbers, target), numbers
    yield "cnn_classifier_series", sknn.CNNClassifier(
        n_filters=(4, 8, 8), max_iter=3, **common).fit(X_series, y_series), X_series
    yield "rnn_regressor_series", sknn.RNNRegressor(
        hidden_size=8, max_iter=3, **common).fit(X_series, y_series * 1.5), X_series
    yield "transformer_classifier_frame", sknn.TransformerClassifier(
        d_token=8, n_heads=2, max_iter=3, **common).fit(frame, labels), frame
    yield "pipeline_scaler_mlp", make_pipeline(StandardScaler(), sknn.MLPRegressor(
        hidden_layer_sizes=(8,), max_iter=3, **common)).fit(numbers, target), numbers


def outputs(model, X) -> dict[str, np.ndarray]:
    """What the tests compare: predict, and predict_proba where there is one."""
    result = {"predict": np.asarray(model.predict(X))}
    if hasattr(model, "predict_proba"):
        result["predict_proba"] = np.asarray(model.predict_proba(X))
    return result


def main() -> int:
    torch.manual_seed(0)
    for name, model, X in models():
        path = HERE / f"{name}.sknn"
        if path.exists():
            print(f"{path.name}: exists, kept")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sknn.save(model, path)
        np.savez(HERE / f"{name}.npz", **outputs(model, X))
        print(f"{path.name}: {path.stat().st_size:,} bytes, sknn {sknn.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
