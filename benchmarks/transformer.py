"""Transformer benchmark: TransformerClassifier/Regressor with default parameters.

Tables (loaders from ``benchmarks/tabular.py``, same splits): Adult accuracy on
the official test set from the raw CSV (seeds vary the model); California
RMSE in $100k on 80/20 splits with ``random_state=seed``. Series (UCR,
``../shared/data/timeseries/*.npz`` with X_train, y_train, X_test, y_test):
GunPoint and ItalyPowerDemand test accuracy, seeds vary the model.

Run from the project root, for example::

    python benchmarks/transformer.py --seeds 3 --markdown
    python benchmarks/transformer.py --datasets california --seeds 1 \\
        --params '{"d_token": 32}'

``--variants`` compares settings in one run, interleaved seed by seed (each
JSON is applied on top of ``--params``). On a GPU, bfloat16 autocast against
float32::

    python benchmarks/transformer.py --datasets adult california --threads 8 \\
        --params '{"device": "cuda"}' --variants '{}' '{"autocast": "bfloat16"}'

Torch runs with ``--threads`` threads (default 1: the benchmark machine is a
shared 2-core CPU). Fit times are wall-clock; the process CPU time beside them
is what a fit costs when the machine is not loaded by other jobs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import _environment  # the torch build, threads and load each figure depends on
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tabular import load_adult, load_california  # noqa: E402

SERIES = Path(__file__).resolve().parents[2] / "shared" / "data" / "timeseries"
DATASETS = ["adult", "california", "gunpoint", "italypowerdemand"]
TASKS = {"california": "regression"}


def load_series(name):
    file = {"gunpoint": "GunPoint", "italypowerdemand": "ItalyPowerDemand"}[name]
    data = np.load(SERIES / f"{file}.npz", allow_pickle=True)
    X_train, X_test = (data[k].astype(np.float32) for k in ("X_train", "X_test"))
    if X_train.ndim == 2:  # one channel
        X_train, X_test = X_train[:, None], X_test[:, None]
    return X_train, X_test, data["y_train"], data["y_test"]


def runs(dataset, seeds):
    if dataset == "adult":
        data = load_adult()
        for seed in seeds:
            yield seed, data
    elif dataset == "california":
        from sklearn.model_selection import train_test_split

        X, y = load_california()
        for seed in seeds:
            yield seed, train_test_split(X, y, test_size=0.2, random_state=seed)
    else:
        data = load_series(dataset)
        for seed in seeds:
            yield seed, data


def evaluate(dataset, data, seed, threads, params):
    from sknn import TransformerClassifier, TransformerRegressor

    X_train, X_test, y_train, y_test = data
    regression = TASKS.get(dataset) == "regression"
    cls = TransformerRegressor if regression else TransformerClassifier
    model = cls(random_state=seed, n_threads=threads, **params)
    start, cpu_start = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    prediction = model.predict(X_test)
    if regression:
        score = float(np.sqrt(np.mean((np.ravel(prediction) - y_test) ** 2)))
    else:
        score = float(np.mean(np.asarray(prediction) == np.asarray(y_test)))
    return score, seconds, cpu_seconds, model.n_iter_


def main(argv=None):
    print(_environment.describe_environment(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=DATASETS, choices=DATASETS)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--params", default="{}",
                        help="JSON of estimator parameters to override the defaults")
    parser.add_argument("--variants", nargs="+", default=["{}"], metavar="JSON",
                        help="settings compared in the same run, each on top of --params")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)

    import torch
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    params = json.loads(args.params)
    variants = [json.loads(v) for v in args.variants]
    results = {}
    for dataset in args.datasets:
        for seed, data in runs(dataset, range(args.seeds)):
            for variant in variants:
                score, seconds, cpu, epochs = evaluate(dataset, data, seed, args.threads,
                                                       {**params, **variant})
                label = json.dumps(variant) if len(variants) > 1 else ""
                results.setdefault((dataset, label), []).append((score, seconds, cpu))
                print(f"{dataset:<17}{label} seed {seed}: score {score:.4f} fit "
                      f"{seconds:7.1f}s (CPU {cpu:.1f}s, {epochs} epochs)", flush=True)
    print_table(results, args.markdown)


def print_table(results, markdown):
    header = ["dataset", "variant", "metric", "mean ± std", "seeds", "median fit s",
              "max fit s", "median fit CPU s"]
    rows = []
    for (dataset, variant), runs in results.items():
        scores = np.array([s for s, _, _ in runs])
        seconds = [t for _, t, _ in runs]
        metric = "RMSE" if TASKS.get(dataset) == "regression" else "accuracy"
        spread = scores.std(ddof=1) if len(scores) > 1 else 0.0
        rows.append([dataset, variant or "-", metric, f"{scores.mean():.4f} ± {spread:.4f}",
                     str(len(scores)), f"{np.median(seconds):.1f}", f"{max(seconds):.1f}",
                     f"{np.median([c for _, _, c in runs]):.1f}"])
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        for row in [header] + rows:
            print("".join(f"{cell:<18}" for cell in row))


if __name__ == "__main__":
    main()
