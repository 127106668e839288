"""Classify UCR time series (GunPoint) with a residual CNN, straight from the arrays.
==================================================================================

GunPoint: 50 training and 150 test series of one channel and 150 time points,
in the aeon/sktime layout ``(n_samples, n_channels, n_timepoints)``, with the
official train/test split. The default CNNClassifier is the ResNet of Wang et
al. (2017); published test accuracy 0.991 (FCN 1.000).

Reads ``../shared/data/timeseries/GunPoint.npz`` (next to a clone of this
project); set ``SKNN_EXAMPLE_FAST=1`` for a quick run with a small network.
"""

import os
import sys
import time
from pathlib import Path

import numpy as np

from sknn import CNNClassifier

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "timeseries"
if not DATA.is_dir():
    sys.exit(f"This example reads the UCR series from {DATA}, which is not here.")

data = np.load(DATA / "GunPoint.npz")
X_train, y_train, X_test, y_test = (data[k] for k in ("X_train", "y_train", "X_test", "y_test"))
print(f"train {X_train.shape}, test {X_test.shape} (n_samples, n_channels, n_timepoints)")

fast = {"n_filters": (16, 16), "max_iter": 20} if os.environ.get("SKNN_EXAMPLE_FAST") else {}
model = CNNClassifier(random_state=0, n_threads=1, **fast)
start = time.perf_counter()
model.fit(X_train, y_train)
print(f"trained a {model.architecture} on samples of shape {model.input_shape_} in "
      f"{time.perf_counter() - start:.1f} s ({model.n_iter_} epochs)")
print(f"test accuracy: {model.score(X_test, y_test):.4f}")
