"""Soak test: many consecutive fits and predicts in one process, watching for leaks.

What it measures
----------------
``--fits`` (default 1,000) consecutive cycles in one Python process. Each cycle
fits one small model on fresh random data and predicts with it, rotating over
six estimators: ``MLPClassifier`` on a DataFrame with a categorical column
and missing values, ``MLPRegressor``, ``CNNClassifier`` on series,
``RNNRegressor`` on series, ``TransformerClassifier`` on a table and
``AutoencoderTransformer`` (transform and score_samples). Every tenth cycle
also saves the model with ``sknn.save``, loads it with ``sknn.load`` and
predicts again (file handles, memory maps). Nothing is kept between cycles
and the garbage collector is left to run on its own, as in a long-running
service that refits models.

Every ``--every`` cycles (and after the first) it records the resident set
size (``VmRSS`` from ``/proc/self/status``), the number of open file
descriptors (``/proc/self/fd``) and the number of threads. The first
``--warmup`` cycles fill the allocator's pools and torch's caches; growth is
measured after them: the RSS at the end against the RSS after warm-up, and
the least-squares slope of RSS over the later samples (MB per 100 fits).
The run passes when, after warm-up, RSS grows by less than ``--max-growth-mb``
(default 20 MB) and the number of file descriptors and threads does not grow.

How to run
----------
Linux only (it reads ``/proc``). On one core with one torch thread::

    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/soak.py --markdown

Smoke test::

    python benchmarks/soak.py --fits 60 --every 10 --warmup 20
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import warnings

import _environment  # the torch build, threads and load each figure depends on
import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

import sknn

TINY_MLP = dict(hidden_layer_sizes=(16,), ensemble_size=2, max_iter=3)
TINY_CNN = dict(architecture="plain", n_filters=(8,), kernel_size=(3,), max_iter=3)


def _table(rng, n=200):
    frame = pd.DataFrame({
        "a": rng.randn(n), "b": rng.randn(n),
        "colour": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
    })
    frame.loc[rng.rand(n) < 0.05, "a"] = np.nan
    return frame, (frame["b"] > 0).to_numpy().astype(int)


def _series(rng, n=120, length=32):
    X = rng.randn(n, 2, length).astype(np.float32)
    return X, X[:, 0].mean(axis=1)


def _mlp_classifier(rng, seed):
    X, y = _table(rng)
    model = sknn.MLPClassifier(**TINY_MLP, random_state=seed, n_threads=1).fit(X, y)
    return model, X, model.predict_proba


def _mlp_regressor(rng, seed):
    X = rng.randn(200, 8)
    model = sknn.MLPRegressor(**TINY_MLP, random_state=seed, n_threads=1).fit(X, X[:, 0])
    return model, X, model.predict


def _cnn_classifier(rng, seed):
    X, y = _series(rng)
    model = sknn.CNNClassifier(**TINY_CNN, random_state=seed, n_threads=1).fit(X, y > 0)
    return model, X, model.predict_proba


def _rnn_regressor(rng, seed):
    X, y = _series(rng)
    model = sknn.RNNRegressor(hidden_size=8, max_iter=3, random_state=seed,
                              n_threads=1).fit(X, y)
    return model, X, model.predict


def _transformer_classifier(rng, seed):
    X = rng.randn(200, 6)
    model = sknn.TransformerClassifier(n_blocks=1, d_token=8, n_heads=2, max_iter=3,
                                       random_state=seed, n_threads=1).fit(X, X[:, 0] > 0)
    return model, X, model.predict_proba


def _autoencoder(rng, seed):
    X = rng.randn(200, 8)
    model = sknn.AutoencoderTransformer(n_components=2, hidden_layer_sizes=(8,), max_iter=3,
                                        random_state=seed, n_threads=1).fit(X)
    model.score_samples(X)
    return model, X, model.transform


CYCLE = [_mlp_classifier, _mlp_regressor, _cnn_classifier, _rnn_regressor,
         _transformer_classifier, _autoencoder]


def resources() -> dict:
    """RSS in MB, open file descriptors and threads of this process (Linux)."""
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    return {
        "rss_mb": int(fields["VmRSS"].split()[0]) / 1024,
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": int(fields["Threads"]),
        "python_threads": threading.active_count(),
    }


def one_cycle(index: int, directory: str) -> None:
    rng = np.random.RandomState(index)
    model, X, predict = CYCLE[index % len(CYCLE)](rng, index)
    expected = predict(X)
    if index % 10 == 0:
        path = os.path.join(directory, "model.sknn")
        sknn.save(model, path)
        loaded = sknn.load(path)
        method = getattr(loaded, predict.__name__)
        if not np.array_equal(method(X), expected):
            raise AssertionError(f"cycle {index}: the loaded model predicts differently")


def run(n_fits: int, every: int) -> list[dict]:
    samples = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        for index in range(n_fits):
            one_cycle(index, directory)
            done = index + 1
            if done == 1 or done % every == 0 or done == n_fits:
                samples.append({"fits": done, "seconds": time.perf_counter() - start,
                                **resources()})
                print(_row(samples[-1]), flush=True)
    return samples


def summarize(samples: list[dict], warmup: int, max_growth_mb: float) -> dict:
    later = [s for s in samples if s["fits"] >= warmup]
    base, end = later[0], later[-1]
    fits = np.array([s["fits"] for s in later], dtype=float)
    rss = np.array([s["rss_mb"] for s in later])
    slope = float(np.polyfit(fits, rss, 1)[0] * 100) if len(later) > 1 else 0.0
    summary = {
        "warmup_fits": base["fits"], "final_fits": end["fits"],
        "rss_after_warmup_mb": base["rss_mb"], "rss_end_mb": end["rss_mb"],
        "rss_max_mb": max(s["rss_mb"] for s in later),
        "rss_growth_mb": end["rss_mb"] - base["rss_mb"],
        "rss_slope_mb_per_100_fits": slope,
        "fds": sorted({s["fds"] for s in later}),
        "threads": sorted({s["threads"] for s in later}),
        "seconds": end["seconds"],
    }
    summary["passed"] = bool(
        summary["rss_growth_mb"] < max_growth_mb
        and end["fds"] <= base["fds"] and end["threads"] <= base["threads"]
    )
    return summary


def _row(sample: dict) -> str:
    return (f"| {sample['fits']:>5} | {sample['seconds']:7.1f} | {sample['rss_mb']:8.1f} | "
            f"{sample['fds']:>3} | {sample['threads']:>3} |")


def main(argv=None) -> int:
    print(_environment.describe_environment(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fits", type=int, default=1000)
    parser.add_argument("--every", type=int, default=50, help="sample every N fits")
    parser.add_argument("--warmup", type=int, default=100,
                        help="fits before growth is measured")
    parser.add_argument("--max-growth-mb", type=float, default=20.0)
    parser.add_argument("--markdown", action="store_true", help="print a summary table")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    print("|  fits | seconds |   RSS MB | fds | threads |")
    print("|------:|--------:|---------:|----:|--------:|")
    samples = run(args.fits, args.every)
    summary = summarize(samples, args.warmup, args.max_growth_mb)
    if args.markdown:
        print()
        print("| measure | value |")
        print("|---|---|")
        for key, value in summary.items():
            shown = f"{value:.1f}" if isinstance(value, float) else value
            print(f"| {key} | {shown} |")
    else:
        print(summary)
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
