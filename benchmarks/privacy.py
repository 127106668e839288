"""Differentially private training (DP-SGD): Adult accuracy and membership leakage.

Data: Adult's official split, read raw from ``../shared/data/tabular`` as
``benchmarks/tabular.py`` reads it (strings, ``?`` as missing). Model, the same
for every epsilon: ``MLPClassifier(hidden_layer_sizes=(64,), ensemble_size=1,
batch_size=512, max_iter=10, learning_rate_init=3e-3,
learning_rate='warmup_cosine', early_stopping=False)``
with its default tabular layer (quantile scaling, piecewise-linear numeric
embeddings, categorical embeddings), private with ``dp_epsilon`` in
{1, 3, 8} (``dp_delta='auto'``: 1 / (10 n_train), ``dp_max_grad_norm=1``) and
without it ("inf"). Seeds vary ``random_state`` (weights, Poisson batches,
noise).

1. Accuracy: trained on all 32,561 training rows, accuracy on the 16,281
   test rows; ``epsilon_`` is the budget the fit spent.
2. Membership inference: a loss-threshold attack (Yeom et al. 2018) on a
   model trained, to overfit, on 1,000 training rows drawn by the seed for 100
   epochs of batches of 100: the AUC with which the per-row log-loss tells
   those 1,000 members from 1,000 test rows (0.5: no leak).

Prints mean ± std over the seeds and the median fit time and CPU time. Torch
runs on one thread (``n_threads=1``)::

    python benchmarks/privacy.py --seeds 3 --markdown
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from sknn import MLPClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from adversarial import mean_std, write_table  # noqa: E402
from tabular import load_adult  # noqa: E402

EPSILONS = (1.0, 3.0, 8.0, math.inf)
MODEL = {"hidden_layer_sizes": (64,), "ensemble_size": 1, "learning_rate_init": 3e-3,
         "learning_rate": "warmup_cosine", "early_stopping": False, "n_threads": 1}
ACCURACY_RUN = {"batch_size": 512, "max_iter": 10}
MEMBERSHIP_RUN = {"batch_size": 100, "max_iter": 100}
N_MEMBERS = 1_000


def fit(epsilon, seed, X, y, run):
    model = MLPClassifier(**MODEL, **run, random_state=seed,
                          dp_epsilon=None if math.isinf(epsilon) else epsilon)
    start, cpu_start = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter ends the non-private fits
        model.fit(X, y)
    return model, time.perf_counter() - start, time.process_time() - cpu_start


def membership_auc(model, X_members, y_members, X_outside, y_outside):
    """AUC of the loss-threshold attack: members have the lower log-loss."""
    def row_losses(X, y):
        proba = model.predict_proba(X)[np.arange(len(y)), np.searchsorted(model.classes_, y)]
        return -np.log(np.clip(proba, 1e-12, None))

    losses = np.concatenate([row_losses(X_members, y_members),
                             row_losses(X_outside, y_outside)])
    is_member = np.r_[np.ones(len(y_members)), np.zeros(len(y_outside))]
    return roc_auc_score(is_member, -losses)


def run(seeds):
    """Results over ``seeds`` (an iterable of random states)."""
    X_train, X_test, y_train, y_test = load_adult()
    results = {e: {key: [] for key in ("accuracy", "epsilon", "fit_time", "cpu_time", "auc",
                                       "member_accuracy")}
               for e in EPSILONS}
    for seed in seeds:
        rng = np.random.RandomState(seed)
        members = rng.choice(len(X_train), N_MEMBERS, replace=False)
        outside = rng.choice(len(X_test), N_MEMBERS, replace=False)
        for epsilon in EPSILONS:
            model, wall, cpu = fit(epsilon, seed, X_train, y_train, ACCURACY_RUN)
            row = results[epsilon]
            row["accuracy"].append(model.score(X_test, y_test))
            row["epsilon"].append(model.epsilon_ if model.epsilon_ is not None else math.inf)
            row["fit_time"].append(wall)
            row["cpu_time"].append(cpu)
            small, _, _ = fit(epsilon, seed, X_train.iloc[members], y_train[members],
                              MEMBERSHIP_RUN)
            row["auc"].append(membership_auc(small, X_train.iloc[members], y_train[members],
                                             X_test.iloc[outside], y_test[outside]))
            row["member_accuracy"].append(small.score(X_test, y_test))
            print(f"seed {seed} epsilon {epsilon}: accuracy {row['accuracy'][-1]:.4f} "
                  f"(spent {row['epsilon'][-1]:.3f}, {wall:.0f} s, {cpu:.0f} s CPU), "
                  f"membership AUC {row['auc'][-1]:.3f}", flush=True)
    return results


def print_table(results, markdown):
    header = ["epsilon (target)", "epsilon_ spent", "Adult test accuracy",
              "fit time (median s)", "fit CPU time (median s)",
              "membership AUC (1,000 rows)", "its test accuracy"]
    rows = []
    for epsilon, row in results.items():
        spent = "-" if math.isinf(epsilon) else f"{max(row['epsilon']):.3f} (max)"
        rows.append([f"{epsilon:g}", spent, mean_std(row["accuracy"], 4),
                     f"{statistics.median(row['fit_time']):.0f}",
                     f"{statistics.median(row['cpu_time']):.0f}",
                     mean_std(row["auc"], 3), mean_std(row["member_accuracy"], 3)])
    write_table(header, rows, markdown)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    print_table(run(range(args.seeds)), args.markdown)


if __name__ == "__main__":
    main()
