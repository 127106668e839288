"""FT-Transformer on the raw Adult census table: one token per column.
=====================================================================

TransformerClassifier reads the Adult DataFrame as pandas reads it, through
the same tabular layer as MLPClassifier (string columns become categories,
``?`` becomes a missing value with its own code), then turns every column
into a token: numbers by a learned per-feature linear map, categories by
embeddings. A [CLS] token is added, three pre-norm Transformer blocks attend
over the tokens, and the head reads the [CLS] token (Gorishniy et al. 2021).

Reads ``../shared/data/tabular/adult-*.csv`` (next to a clone of this project);
set ``SKNN_EXAMPLE_FAST=1`` to train a narrow model on a subsample for a quick
run.
"""

import os
import sys
import time
from pathlib import Path

import pandas as pd

from sknn import TransformerClassifier

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tabular"
if not DATA.is_dir():
    sys.exit(f"This example reads the Adult CSV files from {DATA}, which is not here.")

columns = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
           "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
           "hours-per-week", "native-country", "income"]
train, test = (pd.read_csv(DATA / name, names=columns, na_values="?", skipinitialspace=True)
               for name in ("adult-train.csv", "adult-test.csv"))
params = {}
if os.environ.get("SKNN_EXAMPLE_FAST"):
    train = train.sample(2000, random_state=0)
    params = {"d_token": 16, "n_blocks": 1, "max_iter": 30, "learning_rate_init": 3e-3}
y_train = train.pop("income") == ">50K"
y_test = test.pop("income").str.rstrip(".") == ">50K"

start = time.perf_counter()
model = TransformerClassifier(random_state=0, **params).fit(train, y_train)
print(f"trained on {len(train)} raw rows in {time.perf_counter() - start:.1f} s "
      f"({model.n_iter_} epochs)")
print(f"{model.net_.module_.tokenizer.n_tokens} tokens per row, one per column, "
      "plus the [CLS] token")
print(f"test accuracy: {model.score(test, y_test):.4f}")
