"""Fits and predictions of 1k-1M rows with ``n_threads=None``, alone and next to a busy process.

Each configuration runs in a fresh process (torch's OpenMP pool is per process):
``n_threads=1``, torch's default (``n_threads`` = ``torch.get_num_threads()``,
one thread per physical core) and sknn's default ``n_threads=None`` (torch's
default less the cores other processes keep busy, read from ``/proc/stat`` at
every fit and prediction). A child fits sknn's default ``MLPRegressor`` for
``--epochs`` epochs on a synthetic table of 20 numeric columns and then predicts
a second table; each size pairs a fit with a prediction (1k/1k, 10k/100k and
100k/1M rows). Each is timed on the machine as it is and next to a process that
keeps one core busy (a second job, a shared machine). Configurations and sizes
are interleaved over the repeats; the table gives medians and each
configuration's time as a multiple of the fastest of the three.

Run from the project root::

    python benchmarks/threads.py --repeats 2 --markdown
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

import _environment  # the torch build, threads and load each figure depends on

CHILD = """
import json, time, warnings
import numpy as np, torch
import sknn

def table(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 20))
    return X, X[:, :5] @ np.arange(1.0, 6.0) + np.sin(3 * X[:, 5])

warnings.simplefilter("ignore")
threads = {threads}
threads = torch.get_num_threads() if threads == "torch" else threads
X, y = table({n_fit}, 0)
X_new, _ = table({n_predict}, 1)
model = sknn.MLPRegressor(max_iter={epochs}, early_stopping=False, random_state=0,
                          n_threads=threads)
start = time.perf_counter()
model.fit(X, y)
fit = time.perf_counter() - start
start = time.perf_counter()
model.predict(X_new)
print(json.dumps([fit, time.perf_counter() - start]))
"""
CONFIGS = {"n_threads=1": 1, "torch's default (2 threads here)": '"torch"',
           "n_threads=None (sknn's default)": None}
SIZES = ((1_000, 1_000), (10_000, 100_000), (100_000, 1_000_000))
BUSY = "while True: pass"


def fit_and_predict_seconds(threads, n_fit: int, n_predict: int, epochs: int):
    code = CHILD.format(threads=threads, n_fit=n_fit, n_predict=n_predict, epochs=epochs)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    print(_environment.describe_environment(), flush=True)
    times = {}
    for _ in range(args.repeats):
        for busy in (False, True):
            neighbour = subprocess.Popen([sys.executable, "-c", BUSY]) if busy else None
            try:
                for n_fit, n_predict in SIZES:
                    for name, threads in CONFIGS.items():
                        fit, predict = fit_and_predict_seconds(threads, n_fit, n_predict,
                                                               args.epochs)
                        times.setdefault((name, busy, n_fit), []).append((fit, predict))
                        print(f"{name}, {'busy neighbour' if busy else 'alone'}, fit "
                              f"{n_fit:,} rows: {fit:.2f} s, predict {n_predict:,}: "
                              f"{predict:.3f} s", flush=True)
            finally:
                if neighbour is not None:
                    neighbour.kill()
    print(_environment.describe_environment().splitlines()[-1])  # the load after
    print("\n| rows (fit / predict) | configuration | fit s, alone | fit s, busy "
          "| predict s, alone | predict s, busy |")
    print("|---|---|---:|---:|---:|---:|")
    for n_fit, n_predict in SIZES:
        medians = {(name, busy): [statistics.median(t[i] for t in times[name, busy, n_fit])
                                  for i in (0, 1)]
                   for name in CONFIGS for busy in (False, True)}
        best = {(busy, i): min(medians[name, busy][i] for name in CONFIGS)
                for busy in (False, True) for i in (0, 1)}
        for name in CONFIGS:
            cells = [f"{medians[name, busy][i]:.3f} ({medians[name, busy][i] / best[busy, i]:.2f}x)"
                     for i in (0, 1) for busy in (False, True)]
            print(f"| {n_fit:,} / {n_predict:,} | {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
