"""Classify series of different lengths with an RNN, without padding them yourself.
==================================================================================

BasicMotions (UEA): accelerometer and gyroscope recordings (6 channels) of four
activities. To show variable-length input, each series is cut to a random
length between 30 and 100 time points; the list of ``(n_channels, length)``
arrays goes straight into :class:`sknn.RNNClassifier`, which pads them into one
tensor with a validity channel and packs each minibatch to the true lengths, so
the padding never enters the LSTM and nothing is truncated.

Reads ``../shared/data/timeseries/BasicMotions.npz`` (next to a clone of this
project); set ``SKNN_EXAMPLE_FAST=1`` for a quick run with a small network.
"""

import os
import sys
import time
from pathlib import Path

import numpy as np

from sknn import RNNClassifier

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "timeseries"
if not DATA.is_dir():
    sys.exit(f"This example reads the UEA series from {DATA}, which is not here.")

data = np.load(DATA / "BasicMotions.npz")
rng = np.random.RandomState(0)


def cut(X):
    """Each series truncated to a random length (the data we pretend to have)."""
    return [x[:, :rng.randint(30, X.shape[2] + 1)] for x in X]


X_train, X_test = cut(data["X_train"]), cut(data["X_test"])
y_train, y_test = data["y_train"], data["y_test"]
print(f"{len(X_train)} training series of {X_train[0].shape[0]} channels and lengths "
      f"{min(x.shape[1] for x in X_train)}-{max(x.shape[1] for x in X_train)}")

fast = {"hidden_size": 16, "max_iter": 10} if os.environ.get("SKNN_EXAMPLE_FAST") else {}
model = RNNClassifier(bidirectional=True, pooling="mean", n_threads=1, random_state=0,
                      **fast)
start = time.perf_counter()
model.fit(X_train, y_train)
print(f"trained a bidirectional {model.cell.upper()} in {time.perf_counter() - start:.1f} s "
      f"({model.n_iter_} epochs)")
print(f"test accuracy: {model.score(X_test, y_test):.4f}")
