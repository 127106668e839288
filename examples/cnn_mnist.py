"""Recognize handwritten digits with a small residual CNN, from raw uint8 pixels.
==============================================================================

MNIST's 10,000 test images (``../shared/data/images``, idx format) split into
8,000 for training and 2,000 for testing. The images go in as the uint8
``(n_samples, height, width)`` array they are stored as: ``input_shape=(28, 28)``
says they are grayscale images, and uint8 pixels are scaled to [0, 1] inside.
``augment=True`` would add random shifts of up to 10% during training.

Set ``SKNN_EXAMPLE_FAST=1`` for a quick run on a subsample with a small network.
"""

import gzip
import os
import sys
import time
from pathlib import Path

import numpy as np

from sknn import CNNClassifier

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "images"
if not DATA.is_dir():
    sys.exit(f"This example reads MNIST from {DATA}, which is not here.")


def read_idx(path):
    """An idx file: a 4-byte magic number (its last byte the number of dims), dims, data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = np.frombuffer(raw, dtype=">u4", count=raw[3], offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * raw[3]).reshape(dims)


images = read_idx(DATA / "t10k-images-idx3-ubyte.gz")  # (10000, 28, 28) uint8
labels = read_idx(DATA / "t10k-labels-idx1-ubyte.gz")
n_train, params = 8000, {}
if os.environ.get("SKNN_EXAMPLE_FAST"):
    n_train, params = 2000, {"n_filters": (16, 32), "max_iter": 5, "learning_rate_init": 3e-3}
X_train, y_train = images[:n_train], labels[:n_train]
X_test, y_test = images[8000:], labels[8000:]

model = CNNClassifier(input_shape=(28, 28), random_state=0, n_threads=1, **params)
start = time.perf_counter()
model.fit(X_train, y_train)
print(f"trained on {len(X_train)} images in {time.perf_counter() - start:.1f} s "
      f"({model.n_iter_} epochs)")
print(f"test accuracy on {len(X_test)} images: {model.score(X_test, y_test):.4f}")
