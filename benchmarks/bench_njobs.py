"""Does GridSearchCV(n_jobs=2) over sknn.MLPClassifier beat n_jobs=1?

What it measures
----------------
Wall time of ``GridSearchCV(sknn.MLPClassifier(max_iter=5,
early_stopping=False, random_state=0), param_grid, cv=3).fit(X, y)`` on
``make_classification(20_000, 32, n_classes=3, n_informative=16,
random_state=0)`` (X as float32), with a grid of 4 candidates
(``hidden_layer_sizes`` in [(64,), (128,)] x ``alpha`` in [1e-4, 1e-3]): 12 fits
plus the refit of the best candidate on all rows (``--no-refit`` leaves it
out; it runs in the main process either way).

Configurations:

* ``n_jobs=1``: the fits run one after the other in this process; sknn's
  default ``n_threads=None`` gives torch its default thread count (or
  ``OMP_NUM_THREADS`` when set);
* ``n_jobs=2``: joblib's loky workers, where loky sets ``OMP_NUM_THREADS`` to
  ``cpu_count // n_jobs``, which ``n_threads=None`` follows, so the two workers
  do not oversubscribe the cores;
* ``n_jobs=2, n_threads=1`` (with ``--with-threads-pinned``): the same with
  the thread count given explicitly.

Runs are interleaved (for each repeat, every configuration, in an order
rotated by one each repeat) after one untimed warm-up search per configuration
(which also starts the loky workers and imports torch in them). The script
reports the median wall time of each configuration and the ratio
``t(n_jobs=2) / t(n_jobs=1)``; the target is <= 0.75 on a 2-core machine.
It also prints what the workers see (``OMP_NUM_THREADS``, torch threads).

How to run
----------
Full run (on a quiet machine)::

    python benchmarks/bench_njobs.py --repeats 3 --with-threads-pinned

Smoke test::

    python benchmarks/bench_njobs.py --rows 2000 --max-iter 1 --repeats 1 \\
        --with-threads-pinned
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings

import _environment  # the torch build, threads and load each figure depends on

# Silence ConvergenceWarning (max_iter=5 on purpose) in the loky workers too;
# they inherit the environment when they start.
os.environ.setdefault("PYTHONWARNINGS", "ignore")

import joblib  # noqa: E402
import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

import sknn  # noqa: E402

PARAM_GRID = {"hidden_layer_sizes": [(64,), (128,)], "alpha": [1e-4, 1e-3]}
TARGET_RATIO = 0.75
# Parameters that make sknn's MLPClassifier a plain MLP (--plain); only those
# this version of sknn has are passed.
SKNN_PLAIN = {
    "ensemble_size": 1,
    "numeric_transform": "none",
    "numeric_embedding": None,
    "categorical_features": None,
}


def make_data(n_rows: int, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(
        n_samples=n_rows, n_features=n_features, n_classes=3,
        n_informative=min(16, n_features), n_redundant=0, random_state=0,
    )
    return X.astype(np.float32), y


def make_search(n_jobs: int, n_threads: int | None, args) -> GridSearchCV:
    extra = {}
    if args.plain:
        params = sknn.MLPClassifier().get_params()
        extra = {k: v for k, v in SKNN_PLAIN.items() if k in params}
    estimator = sknn.MLPClassifier(
        max_iter=args.max_iter, early_stopping=False, random_state=0,
        n_threads=n_threads, device="cpu", **extra,
    )
    return GridSearchCV(estimator, PARAM_GRID, cv=args.cv, n_jobs=n_jobs,
                        refit=args.refit)


def _probe():
    """What a worker sees: pid, OMP_NUM_THREADS, threads sknn would give torch."""
    from sknn._core._device import default_n_threads

    return os.getpid(), os.environ.get("OMP_NUM_THREADS"), default_n_threads()


def environment() -> str:
    from sknn._core._device import default_n_threads

    workers = sorted(set(joblib.Parallel(n_jobs=2)(
        joblib.delayed(_probe)() for _ in range(8))))
    lines = [
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"sklearn {sklearn.__version__}, joblib {joblib.__version__}, "
        f"sknn {sknn.__version__}",
        f"os.cpu_count()={os.cpu_count()}, joblib.cpu_count()={joblib.cpu_count()}, "
        f"physical cores={joblib.cpu_count(only_physical_cores=True)}",
        f"main process: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
        f"torch threads={torch.get_num_threads()}, "
        f"sknn n_threads=None -> {default_n_threads()}",
    ]
    for pid, omp, threads in workers:
        lines.append(f"n_jobs=2 worker pid {pid}: OMP_NUM_THREADS={omp}, "
                     f"sknn n_threads=None -> {threads}")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=20_000,
                        help="rows (default 20000)")
    parser.add_argument("--features", type=int, default=32,
                        help="features (default 32)")
    parser.add_argument("--max-iter", type=int, default=5,
                        help="epochs per fit (default 5)")
    parser.add_argument("--cv", type=int, default=3, help="folds (default 3)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs of every configuration (default 3)")
    parser.add_argument("--refit", action=argparse.BooleanOptionalAction, default=True,
                        help="refit the best candidate on all rows (default: yes)")
    parser.add_argument("--with-threads-pinned", action="store_true",
                        help="also time n_jobs=2 with n_threads=1 given explicitly")
    parser.add_argument("--plain", action="store_true",
                        help="plain MLP (ensemble_size=1, no numeric transform or "
                             "embedding) instead of the estimator's defaults")
    parser.add_argument("--markdown", action="store_true",
                        help="also print a markdown table for benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    if min(args.rows, args.features, args.max_iter, args.repeats) < 1 or args.cv < 2:
        parser.error("sizes and counts must be positive and --cv at least 2")
    return args


def run(args) -> None:
    print(environment())
    n_candidates = len(PARAM_GRID["hidden_layer_sizes"]) * len(PARAM_GRID["alpha"])
    print(f"rows={args.rows} features={args.features} max_iter={args.max_iter} "
          f"cv={args.cv} candidates={n_candidates} fits={n_candidates * args.cv}"
          f"{' + refit' if args.refit else ''} repeats={args.repeats} "
          f"plain={args.plain}")

    configs = [("n_jobs=1", 1, None), ("n_jobs=2", 2, None)]
    if args.with_threads_pinned:
        configs.append(("n_jobs=2, n_threads=1", 2, 1))

    X, y = make_data(args.rows, args.features)
    X_warm, y_warm = X[:600], y[:600]
    for label, n_jobs, n_threads in configs:
        start = time.perf_counter()
        warm_args = argparse.Namespace(**{**vars(args), "max_iter": 1})
        make_search(n_jobs, n_threads, warm_args).fit(X_warm, y_warm)
        print(f"warm-up {label:<22} {time.perf_counter() - start:7.2f} s")

    times = {label: [] for label, _, _ in configs}
    for repeat in range(args.repeats):
        shift = repeat % len(configs)
        for label, n_jobs, n_threads in configs[shift:] + configs[:shift]:
            search = make_search(n_jobs, n_threads, args)
            start = time.perf_counter()
            search.fit(X, y)
            elapsed = time.perf_counter() - start
            times[label].append(elapsed)
            print(f"repeat {repeat + 1}/{args.repeats} {label:<22} {elapsed:8.2f} s "
                  f"(best {search.best_params_}, cv score {search.best_score_:.3f})",
                  flush=True)

    reference = statistics.median(times["n_jobs=1"])
    rows = []
    for label, _, _ in configs:
        med = statistics.median(times[label])
        rows.append((label, med, min(times[label]), max(times[label]), med / reference))

    print()
    print(f"{'configuration':<22} {'median s':>9} {'min':>8} {'max':>8} "
          f"{'t / t(n_jobs=1)':>16}")
    for label, med, lo, hi, ratio in rows:
        print(f"{label:<22} {med:>9.2f} {lo:>8.2f} {hi:>8.2f} {ratio:>16.2f}")
    ratio = rows[1][4]
    verdict = "meets" if ratio <= TARGET_RATIO else "misses"
    print(f"\nt(n_jobs=2) / t(n_jobs=1) = {ratio:.2f}: {verdict} the target "
          f"<= {TARGET_RATIO}")

    if args.markdown:
        print()
        print(f"GridSearchCV over sknn.MLPClassifier, {args.rows:,} x {args.features}, "
              f"{n_candidates} candidates x cv={args.cv}"
              f"{' + refit' if args.refit else ''}, max_iter={args.max_iter}, "
              f"{os.cpu_count()} CPUs; median of {args.repeats} runs.")
        print()
        print("| configuration | median (s) | ratio to n_jobs=1 |")
        print("|---|---:|---:|")
        for label, med, _, _, r in rows:
            print(f"| {label} | {med:.2f} | {r:.2f} |")


def main(argv=None) -> None:
    print(_environment.describe_environment(), flush=True)
    args = parse_args(argv)
    warnings.filterwarnings("ignore")
    run(args)


if __name__ == "__main__":
    main()
