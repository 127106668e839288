"""Subnormals flushed on PyTorch's OpenMP workers too, or on the calling thread only.

A default ``MLPClassifier`` fitted on 100,000 rows of ``scaling.py``'s 50-column
synthetic table predicts ``--rows`` fresh rows with subnormal results flushed to
zero on every OpenMP thread (sknn's behaviour since it reaches libgomp's
workers, ``sknn/_core/_openmp.py``) and on the calling thread only (before),
interleaved, ``--repeats`` times. Other PyTorch work runs first, as in a process
that does more than predict, so the workers exist and do not flush: a worker
keeps the setting of the thread that created it, and after a fit sknn leaves
them as the calling thread had them.

Run from the project root::

    python benchmarks/openmp_workers.py --markdown
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import _environment  # the torch build, threads and load each figure depends on
import scaling
import torch

import sknn._core._net as net_module
from sknn import MLPClassifier


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    print(_environment.describe_environment(), flush=True)
    X, y = scaling.make_table(100_000, seed=0)
    X_new, _ = scaling.make_table(args.rows, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier(random_state=0).fit(X, y)
    other = torch.randn(2000, 2000)
    (other @ other).sum()  # other PyTorch work, on workers that do not flush
    flushed = net_module.subnormals_flushed
    settings = {"every OpenMP thread (sknn)": True, "calling thread only (before)": False}
    seconds: dict[str, list[float]] = {label: [] for label in settings}
    for _ in range(args.repeats):
        for label, workers in settings.items():
            net_module.subnormals_flushed = lambda workers=True, _w=workers: flushed(workers=_w)
            start = time.perf_counter()
            model.predict_proba(X_new)
            seconds[label].append(time.perf_counter() - start)
    net_module.subnormals_flushed = flushed
    rates = {label: args.rows / statistics.median(s) for label, s in seconds.items()}
    if args.markdown:
        print(f"| subnormals flushed on | predict_proba rows/s ({args.rows:,} rows, "
              f"median of {args.repeats}) |")
        print("|---|---:|")
    for label, rate in rates.items():
        print(f"| {label} | {rate:,.0f} |" if args.markdown else f"{label}: {rate:,.0f} rows/s")


if __name__ == "__main__":
    main()
