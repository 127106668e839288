"""Predict census income straight from the raw Adult CSV: no preprocessing code.
=============================================================================

The UCI Adult files hold numbers, strings with leading spaces, ``?`` for
missing values and test labels ending in ``.``. sknn's MLPClassifier takes the
DataFrame as pandas reads it: string columns become learned embeddings,
missing values get their own codes and indicators, numbers are quantile-scaled
and embedded, all inside the estimator.

Reads ``../shared/data/tabular/adult-*.csv`` (next to a clone of this project);
set ``SKNN_EXAMPLE_FAST=1`` to train on a subsample for a quick run.
"""

import os
import sys
import time
from pathlib import Path

import pandas as pd

from sknn import MLPClassifier

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tabular"
if not DATA.is_dir():
    sys.exit(f"This example reads the Adult CSV files from {DATA}, which is not here.")

columns = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
           "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
           "hours-per-week", "native-country", "income"]
train, test = (pd.read_csv(DATA / name, names=columns, na_values="?", skipinitialspace=True)
               for name in ("adult-train.csv", "adult-test.csv"))
if os.environ.get("SKNN_EXAMPLE_FAST"):
    train = train.sample(4000, random_state=0)
y_train = train.pop("income") == ">50K"
y_test = test.pop("income").str.rstrip(".") == ">50K"

start = time.perf_counter()
model = MLPClassifier(random_state=0).fit(train, y_train)
print(f"trained on {len(train)} raw rows in {time.perf_counter() - start:.1f} s "
      f"({model.n_iter_} epochs)")
print("columns embedded as categories:",
      [model.feature_names_in_[j] for j in model.encoder_.categorical_index])
print(f"test accuracy: {model.score(test, y_test):.4f}")
