"""Small data is fast: default fits of every estimator on tiny tables, timed and scored.

Each sknn classifier (MLP, CNN, RNN, Transformer) is fitted with its default
parameters on iris (150 rows), digits (1,797 x 64) and a 50-row table
(``make_classification``: 50 training rows, 200 test rows); each regressor on
diabetes (442 x 10), a digits-sized table (``make_friedman1``, 1,797 x 64) and
a 50-row one (``make_friedman1``: 50 training rows, 200 test rows). Iris,
digits and diabetes are split 75/25 (stratified for classifiers) by the seed,
which also seeds the network. The figures are the median fit time over the
seeds (wall-clock, torch pinned to ``--threads``) and the mean test accuracy
(classifiers) or R^2 (regressors), with the resolved epochs and dtype.

The first fit in a process imports ``torch._dynamo`` (about 1.5 s; torch.optim's
first optimizer does it): a one-time cost per process, measured separately and
printed, and paid before the timed fits.

``--compare-caps`` fits each estimator twice per seed, interleaved: with the
small-input epoch caps of issue 26 (the CNN's on inputs of at most 16 values,
the Transformer's on tables of fewer than 900 training rows) and with each cap lifted
to the family's upper bound (the rule before them), so the two columns differ
in nothing else. ``--cnn-cap N`` tries another value of the CNN's cap.

``--compare-float64`` fits each estimator twice per seed, interleaved: with its
family's ``dtype='auto'`` rule and with float64 for inputs of at most 10,000
values (the base's rule, which the Transformer had before issue 26's last step).

``--check-estimator`` instead times scikit-learn's ``check_estimator`` on each
public estimator with its default parameters. Run from the project root::

    python benchmarks/small_data.py --seeds 3 --threads 1 --markdown
    python benchmarks/small_data.py --datasets iris "50 rows" diabetes --families CNN
    python benchmarks/small_data.py --check-estimator --threads 1
    python benchmarks/small_data.py --compare-caps --seeds 5 --markdown \
        --families CNN Transformer --datasets iris "50 rows" diabetes digits
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

import _environment  # the torch build, threads and load each figure depends on
import torch
from sklearn.datasets import (
    load_diabetes,
    load_digits,
    load_iris,
    make_classification,
    make_friedman1,
)
from sklearn.model_selection import train_test_split

FAMILIES = ("MLP", "CNN", "RNN", "Transformer")


def _split(X, y, seed, stratify):
    return train_test_split(X, y, test_size=0.25, random_state=seed,
                            stratify=y if stratify else None)


def _fifty(X, y):
    return X[:50], X[50:], y[:50], y[50:]


DATASETS = {
    "classifier": {
        "iris": lambda seed: _split(*load_iris(return_X_y=True), seed, True),
        "digits": lambda seed: _split(*load_digits(return_X_y=True), seed, True),
        "50 rows": lambda seed: _fifty(*make_classification(
            250, 10, n_informative=5, random_state=seed)),
    },
    "regressor": {
        "diabetes": lambda seed: _split(*load_diabetes(return_X_y=True), seed, False),
        "digits-sized": lambda seed: _split(*make_friedman1(1797, 64, random_state=seed),
                                            seed, False),
        "50 rows": lambda seed: _fifty(*make_friedman1(250, 10, random_state=seed)),
    },
}


def one_time_import_cost() -> float:
    """Seconds of the first optimizer's import of ``torch._dynamo`` in this process."""
    start = time.perf_counter()
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    return time.perf_counter() - start


def epoch_caps(capped, cnn_cap=None):
    """Set the small-input epoch caps: today's (``capped``) or lifted (the rule before)."""
    from sknn._estimators import _cnn
    from sknn._estimators import _transformer_architecture as transformer

    _cnn.AUTO_SHORT_INPUT_MAX_EPOCHS = (
        (cnn_cap or CAPS["cnn"]) if capped else _cnn.AUTO_EPOCH_BOUNDS[1])
    transformer.AUTO_SMALL_TABLE_MAX_EPOCHS = (
        CAPS["transformer"] if capped else transformer.AUTO_EPOCH_BOUNDS[1])


def _read_caps():
    from sknn._estimators import _cnn
    from sknn._estimators import _transformer_architecture as transformer

    return {"cnn": _cnn.AUTO_SHORT_INPUT_MAX_EPOCHS,
            "transformer": transformer.AUTO_SMALL_TABLE_MAX_EPOCHS}


CAPS = _read_caps()


def fit_once(family, task, dataset, seed, threads):
    import sknn

    X_train, X_test, y_train, y_test = DATASETS[task][dataset](seed)
    name = family + ("Classifier" if task == "classifier" else "Regressor")
    estimator = getattr(sknn, name)(random_state=seed, n_threads=threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        estimator.fit(X_train, y_train)
        seconds = time.perf_counter() - start
    dtype = str(next(estimator.net_.module_.parameters()).dtype).removeprefix("torch.")
    return seconds, estimator.score(X_test, y_test), estimator.n_iter_, dtype


def float64_limit(family, rule):
    """The family's float64 limit of dtype='auto': its own, or the base's 10,000 values."""
    import dataclasses

    import sknn

    architecture = getattr(sknn, f"{family}Classifier")._architecture
    if not hasattr(architecture, "own_rules"):
        architecture.own_rules = architecture.auto_rules
    architecture.auto_rules = (architecture.own_rules if rule != "float64" else
                               dataclasses.replace(architecture.own_rules,
                                                   float64_max_values=10_000))


def run_grid(args):
    rules = (("capped", "before") if args.compare_caps else
             ("capped", "float64") if args.compare_float64 else ("capped",))
    configs = [(family, task, dataset, rule) for task in args.tasks
               for family in args.families for dataset in DATASETS[task]
               if dataset in args.datasets for rule in rules]
    results = {config: [] for config in configs}
    for seed in range(args.seeds):
        rotated = configs[seed % len(configs):] + configs[:seed % len(configs)]
        for config in rotated:
            epoch_caps(config[3] != "before", args.cnn_cap)
            float64_limit(config[0], config[3])
            result = fit_once(*config[:3], seed, args.threads)
            results[config].append(result)
            print(f"# seed {seed} {config}: {result[0]:.2f} s, score {result[1]:.4f}, "
                  f"{result[2]} epochs, {result[3]}, load {os.getloadavg()[0]:.2f}",
                  flush=True)
    return results


def print_table(results, markdown):
    print(f"\n# load averages {os.getloadavg()}")
    header = ("estimator", "data", "rule", "fit s (median)", "score (mean)", "epochs",
              "dtype")
    if markdown:
        print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for (family, task, dataset, rule), runs in results.items():
        name = family + ("Classifier" if task == "classifier" else "Regressor")
        seconds = statistics.median(run[0] for run in runs)
        score = statistics.mean(run[1] for run in runs)
        epochs = "/".join(str(run[2]) for run in runs)
        row = (name, dataset, rule, f"{seconds:.2f}", f"{score:.3f}", epochs, runs[0][3])
        print("| " + " | ".join(row) + " |" if markdown else "  ".join(row))


def check_estimators(threads, names):
    from sklearn.utils.estimator_checks import check_estimator

    import sknn

    for name in names:
        estimator = getattr(sknn, name)(n_threads=threads)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            failed = [check for check, outcome in (
                (entry["check_name"], entry["status"]) for entry in
                check_estimator(estimator, on_fail=None)) if outcome == "failed"]
        print(f"{name}: check_estimator {time.perf_counter() - start:.1f} s, "
              f"failed: {failed or 'none'}, load {os.getloadavg()}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--families", nargs="+", default=FAMILIES, choices=FAMILIES)
    parser.add_argument("--tasks", nargs="+", default=("classifier", "regressor"),
                        choices=("classifier", "regressor"))
    parser.add_argument("--datasets", nargs="+", default=[
        name for task in DATASETS.values() for name in task])
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--check-estimator", action="store_true")
    parser.add_argument("--compare-caps", action="store_true")
    parser.add_argument("--cnn-cap", type=int, default=None)
    parser.add_argument("--compare-float64", action="store_true",
                        help="the families' own dtype='auto' rule against float64 for "
                             "inputs of at most 10,000 values (the rule before)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(_environment.describe_environment())
    print(f"# one-time import of torch._dynamo by the first optimizer: "
          f"{one_time_import_cost():.2f} s (not in the fit times below)")
    if args.check_estimator:
        names = [family + kind for family in args.families
                 for kind in ("Classifier", "Regressor")]
        check_estimators(args.threads, names)
        return
    print_table(run_grid(args), args.markdown)


if __name__ == "__main__":
    sys.exit(main())
