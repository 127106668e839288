"""Trust: do sknn's attributions agree with permutation importance, and how robust is a model?

Attributions (``--attributions``): the official Adult split (raw CSV, strings
and ``?`` as pandas reads them), one ``MLPClassifier`` (defaults but
``max_iter``), then on a random subsample of the test rows the global
ranking of the 14 columns by mean |attribution| (``feature_attributions``:
integrated gradients, saliency, occlusion) against scikit-learn's
``permutation_importance`` of the same model on the same rows (log-loss and
accuracy scoring): Spearman's rank correlation of each pair.

Robustness (``--robustness``): ``robustness_report`` of the same Adult model
on test rows (epsilon in quantile-normal units; categorical columns never
perturbed), and of a small CNN trained on half of scikit-learn's digits,
attacked on the other half (pixels 0-16, clipped to that range).

One seed; everything runs on one torch/OpenMP thread.

    python benchmarks/trust.py --attributions --markdown
    python benchmarks/trust.py --robustness --markdown
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import _environment  # the torch build, threads and load each figure depends on

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.inspection import permutation_importance  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tabular import load_adult  # noqa: E402

from sknn import CNNClassifier, MLPClassifier  # noqa: E402
from sknn.inspection import feature_attributions, robustness_report  # noqa: E402

METHODS = ("integrated_gradients", "saliency", "occlusion")


def fit_adult(epochs, seed):
    train, test, y_train, y_test = load_adult()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier(max_iter=epochs, random_state=seed, n_threads=1).fit(
            train, y_train)
    fit_seconds = time.perf_counter() - start
    return model, test, y_test, fit_seconds


def attribution_rankings(epochs, seed, n_rows, repeats):
    """Fit the Adult MLP and rank its columns by each attribution method and by
    ``permutation_importance`` (both scorings) on ``n_rows`` random test rows.

    Returns the model, its fit seconds, the test accuracy, the rows' ``X``, the
    importances (method -> Series), the permutation importances (scoring ->
    Series), the Spearman correlations (a frame: methods x scorings) and the
    seconds each took."""
    model, test, y_test, fit_seconds = fit_adult(epochs, seed)
    rows = np.random.default_rng(seed).choice(len(test), n_rows, replace=False)
    X, y = test.iloc[rows], y_test[rows]
    importances, seconds = {}, {}
    for method in METHODS:
        start = time.perf_counter()
        importances[method] = feature_attributions(model, X, method=method).importances()
        seconds[method] = time.perf_counter() - start
    permutation = {}
    for scoring in ("neg_log_loss", "accuracy"):
        start = time.perf_counter()
        result = permutation_importance(model, X, y, scoring=scoring,
                                        n_repeats=repeats, random_state=seed)
        permutation[scoring] = pd.Series(result.importances_mean, index=X.columns)
        seconds[f"permutation ({scoring})"] = time.perf_counter() - start
    correlations = pd.DataFrame(
        {f"vs permutation ({s})": [spearmanr(importances[m], permutation[s]).statistic
                                   for m in METHODS] for s in permutation},
        index=pd.Index(METHODS, name="attribution"))
    return (model, fit_seconds, model.score(test, y_test), X, importances, permutation,
            correlations, seconds)


def attributions(args):
    (model, fit_seconds, accuracy, X, importances, permutation, correlations,
     seconds) = attribution_rankings(args.epochs, args.seed, args.rows, args.repeats)
    print(f"Adult MLPClassifier(max_iter={args.epochs}, random_state={args.seed}), "
          f"{model.n_iter_} epochs in {fit_seconds:.0f} s; test accuracy "
          f"{accuracy:.4f}; {args.rows} random test rows explained")
    # Column titles without "|", which would split a Markdown table's cells.
    table = pd.DataFrame({**{f"{m} (mean abs)": importances[m] for m in METHODS},
                          **{f"permutation ({s})": permutation[s] for s in permutation}})
    table = table.sort_values("integrated_gradients (mean abs)", ascending=False)
    print_table(table.reset_index(names="column"), args.markdown, digits=4)
    correlations["seconds"] = [seconds[m] for m in METHODS]
    print("\nSpearman rank correlation of the global rankings (14 columns):")
    print_table(correlations.reset_index(), args.markdown, digits=3)
    print("permutation_importance seconds:",
          {k: round(v, 1) for k, v in seconds.items() if k.startswith("permutation")})


def robustness(args):
    model, test, y_test, _ = fit_adult(args.epochs, args.seed)
    rows = np.random.default_rng(args.seed).choice(len(test), args.rows, replace=False)
    start = time.perf_counter()
    report = robustness_report(model, test.iloc[rows], y_test[rows],
                               epsilons=[0, 0.05, 0.1, 0.2, 0.5], random_state=args.seed)
    print(f"Adult MLPClassifier(max_iter={args.epochs}), {args.rows} random test rows "
          f"({time.perf_counter() - start:.0f} s); {report.attrs['input_scale']}")
    print_table(report.reset_index(), args.markdown, digits=4)
    X, y = load_digits(return_X_y=True)
    half = len(X) // 2
    cnn = CNNClassifier(input_shape=(8, 8), random_state=args.seed, n_threads=1).fit(
        X[:half], y[:half])
    start = time.perf_counter()
    report = robustness_report(cnn, X[half:], y[half:], epsilons=[0, 0.5, 1, 2, 4],
                               bounds=(0, 16), random_state=args.seed)
    print(f"\ndigits CNNClassifier(input_shape=(8, 8)) on {len(X) - half} held-out images "
          f"({time.perf_counter() - start:.0f} s); pixels 0-16, clipped to that range")
    print_table(report.reset_index(), args.markdown, digits=4)


def print_table(frame, markdown, digits):
    if markdown:
        print(frame.to_markdown(index=False, floatfmt=f".{digits}f"))
    else:
        print(frame.round(digits).to_string(index=False))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attributions", action="store_true")
    parser.add_argument("--robustness", action="store_true")
    parser.add_argument("--epochs", type=int, default=20, help="max_iter of the Adult MLP")
    parser.add_argument("--rows", type=int, default=1000, help="test rows used")
    parser.add_argument("--repeats", type=int, default=5,
                        help="n_repeats of permutation_importance")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if not (args.attributions or args.robustness):
        parser.error("choose --attributions or --robustness")
    print(_environment.describe_environment(), flush=True)
    if args.attributions:
        attributions(args)
    if args.robustness:
        robustness(args)


if __name__ == "__main__":
    main()
