"""How sknn's default MLP scales with the number of rows, and how fast it predicts (issue 17).

Synthetic tables of 10k, 100k and 1M rows x 50 columns: 40 numeric (Gaussian, some
heavy-tailed) and 10 categorical (pandas ``category``, 4-60 levels); a binary target
from a nonlinear function of a few of each. Each size runs in its own process, so
its peak memory (``ru_maxrss``) is its own. For each: the default
``MLPClassifier``'s epochs, time per epoch and per row, total fit time, the
process's peak memory by the end of the fit and how far it rose above the
memory in use before the fit (the table and torch already loaded): what the fit
itself needed; then ``predict_proba`` throughput (rows per second) of sknn and of
``HistGradientBoostingClassifier`` (native categoricals), fitted on the same rows.

Run from the project root::

    python benchmarks/scaling.py --sizes 10000 100000 1000000 --markdown
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings

import _environment  # the torch build, threads and load each figure depends on
import numpy as np
import pandas as pd

N_NUMERIC, N_CATEGORICAL = 40, 10


def make_table(n_rows: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    numeric = rng.standard_normal((n_rows, N_NUMERIC)).astype(np.float32)
    numeric[:, ::5] = np.exp(numeric[:, ::5])  # heavy-tailed columns
    levels = [4 + 6 * j for j in range(N_CATEGORICAL)]
    codes = [rng.integers(0, k, n_rows) for k in levels]
    frame = pd.DataFrame(numeric, columns=[f"x{j}" for j in range(N_NUMERIC)])
    for j, (k, c) in enumerate(zip(levels, codes)):
        frame[f"c{j}"] = pd.Categorical.from_codes(c, [f"level{i}" for i in range(k)])
    effect = [rng.standard_normal(k) for k in levels[:3]]
    logit = (np.sin(2 * numeric[:, 1]) + numeric[:, 2] * numeric[:, 3]
             - np.log1p(numeric[:, 0]) + sum(e[c] for e, c in zip(effect, codes[:3])))
    y = (logit + 0.5 * rng.standard_normal(n_rows) > np.median(logit)).astype(int)
    return frame, y


def throughput(model, X, repeats: int = 3) -> float:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_proba(X)
        seconds.append(time.perf_counter() - start)
    return len(X) / float(np.median(seconds))


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _resident_mib() -> float:
    """Memory in use now (resident set, Linux), in MiB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def run_size(n_rows: int) -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from sknn import MLPClassifier

    X, y = make_table(n_rows)
    before_fit = _resident_mib()
    model = MLPClassifier(random_state=0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    fit = time.perf_counter() - start
    fit_peak = _peak_mib()
    epoch_seconds = [float(d) for d in model.net_.history[:, "dur"]]
    n_train = len(X) - int(round(model.validation_fraction * len(X)))
    hgb = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    start = time.perf_counter()
    hgb.fit(X, y)
    hgb_fit = time.perf_counter() - start
    return {
        "rows": n_rows, "epochs": model.n_iter_, "batch": model.net_.batch_size,
        "epoch_s": float(np.median(epoch_seconds)), "fit_s": fit,
        "us_per_row": 1e6 * float(np.median(epoch_seconds)) / n_train,
        "peak_mib": fit_peak, "fit_extra_mib": fit_peak - before_fit,
        "table_mib": X.memory_usage(deep=True).sum() / 2**20,
        "sknn_rows_per_s": throughput(model, X), "hgb_rows_per_s": throughput(hgb, X),
        "hgb_fit_s": hgb_fit,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child process
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_size(args.one)))
        return
    print(_environment.describe_environment(), flush=True)
    rows = []
    for n_rows in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n_rows)],
                             capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    header = ("rows", "epochs", "batch", "s per epoch", "us per row and epoch", "fit s",
              "peak MiB after fit", "fit's MiB above the table", "table MiB",
              "sknn predict_proba rows/s", "HGB rows/s", "HGB fit s")
    keys = ("rows", "epochs", "batch", "epoch_s", "us_per_row", "fit_s", "peak_mib",
            "fit_extra_mib", "table_mib", "sknn_rows_per_s", "hgb_rows_per_s", "hgb_fit_s")
    print("| " + " | ".join(header) + " |")
    print("|" + "---:|" * len(header))
    for row in rows:
        print("| " + " | ".join(f"{row[k]:,.0f}" if row[k] >= 100 else f"{row[k]:.2f}"
                                for k in keys) + " |")


if __name__ == "__main__":
    main()
