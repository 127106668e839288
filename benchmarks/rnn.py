"""RNN and Transformer benchmark: UCR series, movie-review polarity (text), forecasting.

``--models`` picks the sequence estimators (RNN, Transformer or both, in the
same run); ``--set`` overrides RNN parameters, ``--transformer-set``
Transformer ones.

- series: RNNClassifier / TransformerClassifier on GunPoint, ItalyPowerDemand
  and BasicMotions (official splits in ../shared/data/timeseries/*.npz); seeds
  vary the model.
- text: ``make_pipeline(TextSequencer(), RNNClassifier())`` (and the
  Transformer's) on the 2,000 movie reviews of
  ../shared/data/text/review_polarity.tar.gz (Pang & Lee 2004), stratified
  k-fold cross-validation (``--folds``, shuffled with ``random_state=0``;
  ``--max-folds`` runs only the first few), against TF-IDF +
  LogisticRegression on the same folds; seeds vary the network. The note
  column counts the folds where the fit kept only the bag-of-words part
  (``bag_of_words_only_``); the log gives each fit's ``network_weight_``.
  ``--only-folds`` runs chosen folds, e.g. one process per fold.
- forecast: one-step forecasting of daily-min-temperatures.csv from the
  previous 30 days, the last 20% of the windows as test; RMSE of RNNRegressor
  against a persistence forecast (tomorrow = today) and a Ridge on the windows.

Torch runs with ``--n-threads`` threads (default 1: the machine is a shared,
loaded 2-core CPU); fit times are wall-clock, with the process CPU time beside
them. Run from the project root, for example::

    python benchmarks/rnn.py --parts series forecast --seeds 3 --markdown
    python benchmarks/rnn.py --parts text --seeds 1 --max-folds 1 \\
        --text-set max_length=400 --set cell='gru'
"""

from __future__ import annotations

import argparse
import ast
import csv
import statistics
import sys
import tarfile
import time
import warnings
from pathlib import Path

import _environment  # the torch build, threads and load each figure depends on
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline

from sknn import RNNClassifier, RNNRegressor, TransformerClassifier
from sknn.text import TextSequencer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SERIES = ("GunPoint", "ItalyPowerDemand", "BasicMotions")
WINDOW = 30
CLASSIFIERS = {"rnn": ("RNN", RNNClassifier), "transformer": ("Transformer",
                                                             TransformerClassifier)}


def load_series(name):
    data = np.load(DATA / "timeseries" / f"{name}.npz")
    return data["X_train"], data["y_train"], data["X_test"], data["y_test"]


def load_reviews():
    """The 2,000 reviews (in archive order) and their labels (1 positive, 0 negative)."""
    texts, labels = [], []
    with tarfile.open(DATA / "text" / "review_polarity.tar.gz") as archive:
        for member in sorted(archive.getmembers(), key=lambda m: m.name):
            parts = Path(member.name).parts
            if member.isfile() and member.name.endswith(".txt") and parts[-2] in ("pos",
                                                                                  "neg"):
                texts.append(archive.extractfile(member).read().decode("utf-8", "replace"))
                labels.append(int(parts[-2] == "pos"))
    return texts, np.array(labels)


def load_temperatures():
    """Windows of the previous ``WINDOW`` days and the next day's minimum temperature."""
    with open(DATA / "timeseries" / "daily-min-temperatures.csv") as f:
        values = np.array([float(row["Temp"]) for row in csv.DictReader(f)])
    X = np.stack([values[i:i + WINDOW] for i in range(len(values) - WINDOW)])
    y = values[WINDOW:]
    n_train = int(0.8 * len(X))
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def timed_fit(model, X, y):
    start, cpu_start = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return time.perf_counter() - start, time.process_time() - cpu_start


def summary(name, what, scores, times, cpu_times, note=""):
    std = statistics.pstdev(scores) if len(scores) > 1 else 0.0
    return (f"| {name} | {what} | {statistics.mean(scores):.4f} ± {std:.4f} | "
            f"{len(scores)} | {statistics.median(times):.1f} | "
            f"{statistics.median(cpu_times):.1f} | {note} |")


def log(message):
    print("  " + message, file=sys.stderr, flush=True)


def run_series(seeds, models, n_threads):
    for name in SERIES:
        X_train, y_train, X_test, y_test = load_series(name)
        for label, cls, params in models:
            scores, times, cpus = [], [], []
            for seed in seeds:
                model = cls(random_state=seed, n_threads=n_threads, **params)
                wall, cpu = timed_fit(model, X_train, y_train)
                scores.append(model.score(X_test, y_test))
                times.append(wall)
                cpus.append(cpu)
                log(f"{name} {label} seed {seed}: accuracy {scores[-1]:.4f}, fit "
                    f"{wall:.1f} s ({cpu:.1f} s CPU), {model.n_iter_} epochs")
            yield summary(name, f"{label} accuracy, train {X_train.shape}", scores, times,
                          cpus)


def run_text(seeds, models, text_params, n_threads, folds, max_folds, only_folds=None):
    for name, what, scores, times, cpus, note in text_scores(
            seeds, models, text_params, n_threads, folds, max_folds, only_folds):
        yield summary(name, what, scores, times, cpus, note=note)


def text_scores(seeds, models, text_params, n_threads, folds, max_folds, only_folds=None):
    """The baseline's, then each pipeline's test accuracies on the chosen folds:
    (dataset, what, scores, wall times, CPU times, note) per model."""
    texts, labels = load_reviews()
    texts = np.array(texts, dtype=object)
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=0).split(texts, labels))
    fold_numbers = list(range(folds))[:max_folds] if only_folds is None else only_folds
    splits = [splits[k] for k in fold_numbers]
    baseline, base_times, base_cpus = [], [], []
    for fold, (train, test) in zip(fold_numbers, splits):
        model = make_pipeline(TfidfVectorizer(sublinear_tf=True),
                              LogisticRegression(C=10.0, max_iter=1000))
        wall, cpu = timed_fit(model, texts[train], labels[train])
        baseline.append(model.score(texts[test], labels[test]))
        log(f"reviews TF-IDF + LogisticRegression fold {fold}: accuracy {baseline[-1]:.4f}")
        base_times.append(wall)
        base_cpus.append(cpu)
    what = f"folds {fold_numbers} of {folds} stratified folds"
    yield ("reviews", f"TF-IDF + LogisticRegression accuracy, {what}", baseline,
           base_times, base_cpus, "")
    for label, cls, params in models:
        scores, times, cpus, per_seed, bag_only = [], [], [], [], 0
        for seed in seeds:
            fold_scores = []
            for fold, (train, test) in zip(fold_numbers, splits):
                model = make_pipeline(
                    TextSequencer(**text_params),
                    cls(random_state=seed, n_threads=n_threads, **params))
                wall, cpu = timed_fit(model, list(texts[train]), labels[train])
                fold_scores.append(model.score(list(texts[test]), labels[test]))
                times.append(wall)
                cpus.append(cpu)
                bag_only += bool(getattr(model[-1], "bag_of_words_only_", False))
                log(f"reviews {label} seed {seed} fold {fold}: accuracy "
                    f"{fold_scores[-1]:.4f}, fit {wall:.1f} s ({cpu:.1f} s CPU), "
                    f"{model[-1].n_iter_} epochs, network weight "
                    f"{getattr(model[-1], 'network_weight_', None)}, C "
                    f"{getattr(model[-1], 'bag_of_words_C_', None)}")
            per_seed.append(statistics.mean(fold_scores))
            scores += fold_scores
        yield ("reviews", f"TextSequencer + {label} accuracy, {what}", scores, times, cpus,
               "per-seed means " + ", ".join(f"{s:.4f}" for s in per_seed)
               + f"; bag of words only in {bag_only} of {len(scores)} fits")


def rmse(y, pred):
    return float(np.sqrt(np.mean((y - pred) ** 2)))


def run_forecast(seeds, params, n_threads):
    X_train, y_train, X_test, y_test = load_temperatures()
    shape = f"train {X_train.shape}, test {X_test.shape}"
    yield summary("temperatures", f"persistence RMSE, {shape}",
                  [rmse(y_test, X_test[:, -1])], [0.0], [0.0])
    ridge = Ridge(alpha=1.0)
    wall, cpu = timed_fit(ridge, X_train, y_train)
    yield summary("temperatures", "Ridge on the windows RMSE",
                  [rmse(y_test, ridge.predict(X_test))], [wall], [cpu])
    scores, times, cpus = [], [], []
    for seed in seeds:
        model = RNNRegressor(random_state=seed, n_threads=n_threads, **params)
        wall, cpu = timed_fit(model, X_train, y_train)
        scores.append(rmse(y_test, model.predict(X_test)))
        times.append(wall)
        cpus.append(cpu)
        log(f"temperatures seed {seed}: RMSE {scores[-1]:.4f}, fit {wall:.1f} s "
            f"({cpu:.1f} s CPU), {model.n_iter_} epochs")
    yield summary("temperatures", "RNNRegressor RMSE", scores, times, cpus)


def parse_settings(items):
    params = {}
    for item in items:
        key, value = item.split("=", 1)
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params


def main():
    print(_environment.describe_environment(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["series", "text", "forecast"],
                        choices=["series", "text", "forecast"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--max-folds", type=int, default=None)
    parser.add_argument("--only-folds", type=int, nargs="+", default=None, metavar="K",
                        help="run only these folds (0-based), e.g. one fold per process")
    parser.add_argument("--n-threads", type=int, default=1)
    parser.add_argument("--models", nargs="+", default=["rnn", "transformer"],
                        choices=sorted(CLASSIFIERS))
    parser.add_argument("--set", nargs="*", default=[], metavar="PARAM=VALUE",
                        help="non-default RNN estimator parameters")
    parser.add_argument("--transformer-set", nargs="*", default=[], metavar="PARAM=VALUE",
                        help="non-default Transformer estimator parameters")
    parser.add_argument("--text-set", nargs="*", default=[], metavar="PARAM=VALUE",
                        help="non-default TextSequencer parameters")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if args.only_folds is not None:
        if args.max_folds is not None:
            parser.error("give --only-folds or --max-folds, not both")
        if not all(0 <= k < args.folds for k in args.only_folds):
            parser.error(f"--only-folds takes fold numbers from 0 to {args.folds - 1}")
    if not DATA.is_dir():
        sys.exit(f"The benchmark data is not at {DATA}.")
    params, text_params = parse_settings(args.set), parse_settings(args.text_set)
    transformer_params = parse_settings(args.transformer_set)
    models = [(CLASSIFIERS[m][0], CLASSIFIERS[m][1],
               params if m == "rnn" else transformer_params) for m in args.models]
    seeds = range(args.seeds)
    header = ("| data | what | score mean ± std | runs | median fit s | median fit CPU s "
              "| note |")
    print(header if args.markdown else header.replace("|", " ").strip())
    if args.markdown:
        print("|---|---|---|---|---|---|---|")
    parts = {
        "series": lambda: run_series(seeds, models, args.n_threads),
        "text": lambda: run_text(seeds, models, text_params, args.n_threads, args.folds,
                                 args.max_folds, args.only_folds),
        "forecast": lambda: run_forecast(seeds, params, args.n_threads),
    }
    for part in args.parts:
        for row in parts[part]():
            print(row if args.markdown else row.replace("|", " ").strip(), flush=True)


if __name__ == "__main__":
    main()
