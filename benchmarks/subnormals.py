"""Subnormal weights: what flushing them saves, per CPU (issue 17, item 8).

Weights that stop receiving gradient (piecewise-linear bins no row reaches, rare
categories, dead units) decay under weight decay and Adam's moving averages
until they fall below float32's smallest normal number (1.2e-38). Intel CPUs
compute with such subnormal values through a slow microcode path (AMD's Zen
cores much less so), and a weight is used by every row of every batch. sknn
therefore trains with subnormal results flushed to zero on the fitting thread
and zeroes subnormal weights and optimizer state every 64 steps and after each
fit (``SknnNet.flush_subnormals_``).

This benchmark fits the default ``MLPClassifier`` (Adult, official split, raw
CSV) and ``MLPRegressor`` (California, 80/20 split per seed) with that flush and
with it turned off (the two functions patched to do nothing), interleaved seed by
seed in one process, and reports fit time, the first and last epochs' seconds,
the score and ``predict``/``predict_proba`` rows per second, with the subnormal
weights left after the fit.

Run from the project root::

    python benchmarks/subnormals.py --seeds 3 --markdown
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
import warnings

import _environment  # the torch build, threads and load each figure depends on
import numpy as np
import torch
from tabular import california_runs, load_adult


def subnormal_weights(model) -> int:
    count = 0
    for parameter in model.net_.module_.parameters():
        tiny = torch.finfo(parameter.dtype).tiny
        count += int(((parameter != 0) & (parameter.abs() < tiny)).sum())
    return count


@contextlib.contextmanager
def flush(enabled: bool):
    """sknn as it is, or with its subnormal flush turned off."""
    import sknn
    from sknn._core import _net

    saved = _net.SknnNet.flush_subnormals_
    if not enabled:
        _net.SknnNet.flush_subnormals_ = lambda net: None  # the weights' sweep too
    try:
        with sknn.config_context(flush_subnormals=enabled):
            yield
    finally:
        _net.SknnNet.flush_subnormals_ = saved


def run(dataset, seed, enabled):
    import sknn

    if dataset == "adult":
        X_train, X_test, y_train, y_test = load_adult()
        model = sknn.MLPClassifier(random_state=seed)
    else:
        _, (X_train, X_test, y_train, y_test), _ = next(california_runs([seed]))
        model = sknn.MLPRegressor(random_state=seed)
    with flush(enabled), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        predict = model.predict_proba if dataset == "adult" else model.predict
        predict(X_test)
        start = time.perf_counter()
        predict(X_test)
        rows_per_second = len(X_test) / (time.perf_counter() - start)
    prediction = model.predict(X_test)
    score = (float(np.mean(prediction == y_test)) if dataset == "adult"
             else float(np.sqrt(np.mean((prediction - y_test) ** 2))))
    epochs = list(model.net_.history[:, "dur"])
    return {"fit": seconds, "first": epochs[0], "last": epochs[-1], "score": score,
            "predict": rows_per_second, "subnormal": subnormal_weights(model)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=["adult", "california"])
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    print(_environment.describe_environment(), flush=True)
    results = {}
    for dataset in args.datasets:
        for seed in range(args.seeds):
            for enabled in (True, False):
                row = run(dataset, seed, enabled)
                results.setdefault((dataset, enabled), []).append(row)
                print(f"{dataset} seed {seed} flush {'on ' if enabled else 'off'}: "
                      + ", ".join(f"{k} {v:,.4g}" for k, v in row.items()), flush=True)
    header = ["dataset", "subnormals", "median fit s", "first epoch s", "last epoch s",
              "score (mean)", "median predict rows/s", "subnormal weights left"]
    lines = []
    for (dataset, enabled), rows in results.items():
        def median(key, rows=rows):
            return statistics.median(r[key] for r in rows)
        lines.append([dataset, "flushed (sknn)" if enabled else "kept (flush off)",
                      f"{median('fit'):.1f}", f"{median('first'):.2f}", f"{median('last'):.2f}",
                      f"{statistics.mean(r['score'] for r in rows):.4f}",
                      f"{median('predict'):,.0f}", f"{median('subnormal'):,.0f}"])
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        for line in [header, *lines]:
            print("  ".join(f"{cell:>18}" for cell in line))


if __name__ == "__main__":
    main()
