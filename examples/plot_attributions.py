"""Explain predictions: which columns of a census table, which pixels of a digit.
==============================================================================

:func:`sknn.inspection.feature_attributions` attributes a fitted network's
predictions to its inputs with Captum (``pip install "sknn[explain]"``);
:class:`sknn.inspection.AttributionDisplay` plots them.

First the raw Adult census CSV: an MLP reads the DataFrame as pandas gives
it, and integrated gradients, computed on the numbers after sknn's scaling
and on the categorical columns' embeddings, are summed back to the 14
columns of the file. Then scikit-learn's 8x8 digits: a CNN, and a heatmap of
the pixels that made it read one image as the digit it predicted.

Reads ``../shared/data/tabular/adult-*.csv`` (next to a clone of this project);
set ``SKNN_EXAMPLE_FAST=1`` to train on a subsample for a quick run.
"""

import os
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_digits

from sknn import CNNClassifier, MLPClassifier
from sknn.inspection import AttributionDisplay, feature_attributions

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tabular"
if not DATA.is_dir():
    sys.exit(f"This example reads the Adult CSV files from {DATA}, which is not here.")
FAST = bool(os.environ.get("SKNN_EXAMPLE_FAST"))

# %%
# Census income from the raw CSV
# ------------------------------
columns = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
           "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
           "hours-per-week", "native-country", "income"]
train, test = (pd.read_csv(DATA / name, names=columns, na_values="?", skipinitialspace=True)
               for name in ("adult-train.csv", "adult-test.csv"))
if FAST:
    train = train.sample(4000, random_state=0)
y_train = train.pop("income") == ">50K"
y_test = test.pop("income").str.rstrip(".") == ">50K"

model = MLPClassifier(max_iter=10 if FAST else 40, random_state=0).fit(train, y_train)
print(f"test accuracy: {model.score(test, y_test):.4f}")

# %%
# Each row's attributions explain the probability of the class predicted for it;
# their mean absolute value over 300 test rows ranks the columns.
explained = test.sample(100 if FAST else 300, random_state=0)
attributions = feature_attributions(model, explained)
print("columns by mean |attribution| to the predicted class's probability:")
print(attributions.importances().sort_values(ascending=False).round(4).to_string())

# %%
# One person: what pushed the probability of the predicted class up or down,
# from its value at the baseline (numbers at their median, categories at their
# average embedding) to the prediction.
row = attributions.to_frame().iloc[0]
print(f"\nrow {row.name}: predicted {attributions.target[0]} with probability "
      f"{attributions.outputs[0]:.3f} (baseline {attributions.baseline_outputs[0]:.3f})")
print(row.reindex(row.abs().sort_values(ascending=False).index).head(4).round(3).to_string())

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
AttributionDisplay.from_attributions(attributions, ax=left, max_features=10)
AttributionDisplay.from_attributions(attributions, sample_index=0, ax=right, max_features=10)
fig.tight_layout()

# %%
# Which pixels make the digit
# ---------------------------
X, y = load_digits(return_X_y=True)
cnn = CNNClassifier(input_shape=(8, 8), max_iter=10 if FAST else "auto", random_state=0)
cnn.fit(X[:1200], y[:1200])
print(f"\ndigits CNN test accuracy: {cnn.score(X[1200:], y[1200:]):.4f}")

digits = feature_attributions(cnn, X[1200:1210])
print(f"image 0 read as {digits.target[0]}; its pixels' attributions sum to "
      f"{digits.values[0].sum():.3f} = {digits.outputs[0]:.3f} - "
      f"{digits.baseline_outputs[0]:.3f} (a black image)")

fig, (image, heat) = plt.subplots(1, 2, figsize=(8, 3.5))
image.imshow(X[1200].reshape(8, 8), cmap="gray_r")
image.set_title(f"digit {y[1200]}")
image.set_axis_off()
AttributionDisplay.from_attributions(digits, sample_index=0, ax=heat)
fig.tight_layout()
peak = np.unravel_index(np.abs(digits.values[0, 0]).argmax(), (8, 8))
print(f"largest attribution at pixel (row, column) = {tuple(int(i) for i in peak)}")
plt.show()
