"""CNN accuracy on UCR/UEA series and MNIST, with default settings.

Series: the official train/test splits in ../shared/data/timeseries; MNIST: the
first 8,000 of the 10,000 images in ../shared/data/images for training, the
other 2,000 for testing. Seeds vary the model (``random_state``). Prints one row
per dataset: mean ± std test accuracy, the median fit time and the median CPU
time of a fit (with one thread, about the fit time of an idle machine).
``--models cnn transformer`` also runs TransformerClassifier (defaults, or
``--transformer-set``) on the same datasets in the same run (issue 6).

    python benchmarks/cnn.py --seeds 5 --markdown
    python benchmarks/cnn.py --datasets GunPoint ItalyPowerDemand --models cnn transformer
    python benchmarks/cnn.py --datasets GunPoint --seeds 1 --set max_iter=50
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
import warnings
from pathlib import Path

import _environment  # the torch build, threads and load each figure depends on
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sknn import CNNClassifier, TransformerClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rnn import parse_settings  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SERIES = ("GunPoint", "ItalyPowerDemand", "ArrowHead", "BasicMotions")
TARGETS = {"GunPoint": 0.99, "ItalyPowerDemand": 0.96, "ArrowHead": 0.84,
           "BasicMotions": 0.95, "MNIST": 0.985}


def load_series(name):
    data = np.load(DATA / "timeseries" / f"{name}.npz")
    return data["X_train"], data["y_train"], data["X_test"], data["y_test"]


def read_idx(path):
    """An idx file (MNIST's format): big-endian dims after a 4-byte magic number."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    n_dims = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=n_dims, offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(dims)


def load_mnist(n_train=8000):
    """uint8 images (n, 28, 28) and labels: 8,000 for training, the rest for testing."""
    images = read_idx(DATA / "images" / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(DATA / "images" / "t10k-labels-idx1-ubyte.gz")
    return images[:n_train], labels[:n_train], images[n_train:], labels[n_train:]


def load(name):
    if name == "MNIST":
        X_train, y_train, X_test, y_test = load_mnist()
        return X_train[:, None], y_train, X_test[:, None], y_test  # (n, 1, 28, 28)
    return load_series(name)


MODELS = {"cnn": CNNClassifier, "transformer": TransformerClassifier}


def run(name, seeds, cls, params, n_threads):
    X_train, y_train, X_test, y_test = load(name)
    scores, times, cpu_times = [], [], []
    for seed in seeds:
        model = cls(random_state=seed, n_threads=n_threads, **params)
        start, cpu_start = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
        scores.append(model.score(X_test, y_test))
        print(f"  {name} {cls.__name__} seed {seed}: accuracy {scores[-1]:.4f}, fit "
              f"{times[-1]:.1f} s ({cpu_times[-1]:.1f} s CPU), {model.n_iter_} epochs",
              file=sys.stderr, flush=True)
    return scores, times, cpu_times, X_train.shape


def main():
    print(_environment.describe_environment(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=[*SERIES, "MNIST"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-threads", type=int, default=1)
    parser.add_argument("--set", nargs="*", default=[], metavar="PARAM=VALUE",
                        help="non-default CNNClassifier parameters (for tuning)")
    parser.add_argument("--models", nargs="+", default=["cnn"], choices=sorted(MODELS))
    parser.add_argument("--transformer-set", nargs="*", default=[], metavar="PARAM=VALUE",
                        help="non-default TransformerClassifier parameters")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"The benchmark data is not at {DATA}.")
    settings = {"cnn": parse_settings(args.set),
                "transformer": parse_settings(args.transformer_set)}
    header = ("| dataset | model | train shape | target | accuracy mean ± std | seeds "
              "| median fit s | median fit CPU s |")
    print(header if args.markdown else header.replace("|", " ").strip())
    if args.markdown:
        print("|---|---|---|---|---|---|---|---|")
    for name in args.datasets:
        for model in args.models:
            scores, times, cpu_times, shape = run(name, range(args.seeds), MODELS[model],
                                                  settings[model], args.n_threads)
            std = statistics.pstdev(scores) if len(scores) > 1 else 0.0
            row = (f"| {name} | {MODELS[model].__name__} | {shape} | "
                   f"{TARGETS.get(name, '')} | {statistics.mean(scores):.4f} ± {std:.4f} | "
                   f"{len(scores)} | {statistics.median(times):.1f} | "
                   f"{statistics.median(cpu_times):.1f} |")
            print(row if args.markdown else row.replace("|", " ").strip(), flush=True)


if __name__ == "__main__":
    main()
