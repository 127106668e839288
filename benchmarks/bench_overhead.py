"""Training and prediction overhead of sknn against plain PyTorch, skorch and sklearn.

What it measures
----------------
The same network -- two hidden layers of 256 ReLU units, 4 output logits,
Adam at lr 1e-3 without weight decay, 10 epochs, no validation split and no
early stopping -- is trained on ``make_classification(100_000, 64,
n_classes=4, n_informative=32, random_state=0)`` (X as float32) by

* ``sknn``: ``sknn.MLPClassifier`` (plain MLP: ``ensemble_size=1`` and no
  numeric transform or embedding where this version of sknn has those
  parameters; ``dtype='float32'``);
* ``torch``: a hand-written PyTorch loop (``torch.randperm`` each epoch, slice
  the permutation, index X and y, ``zero_grad``, ``CrossEntropyLoss``,
  ``backward``, ``Adam.step``) -- the reference every ratio is taken against;
* ``skorch``: ``skorch.NeuralNetClassifier`` with its defaults (its
  ``Dataset``/``DataLoader`` path) except module, criterion, optimizer, lr,
  max_epochs, batch_size, ``train_split=None`` and ``verbose=0``;
* ``sklearn``: ``sklearn.neural_network.MLPClassifier`` (solver 'adam',
  ``alpha=0``, ``tol=0``, early stopping off; CPU only, float32 input).

at batch sizes 64, 256 and 1024. Each timed fit goes from the numpy arrays to a
trained model: building the model and moving the data to the device are
included for every library. Runs are interleaved -- for each repeat, for each
batch size, the libraries in an order rotated by one at every step -- so slow
drifts of the machine spread over all configurations. The script reports the
median fit time of each (library, batch size) and its ratio to the hand loop's
median.

It then measures ``predict_proba`` throughput (rows per second) on 200,000
fresh rows with the same generator settings: sknn's ``predict_proba``; a raw
forward pass under ``torch.inference_mode()`` in chunks of 8192 rows followed
by a softmax (numpy in, numpy out, transfers included); skorch's
``predict_proba`` (with ``iterator_valid__batch_size=8192``, the raw loop's
chunk size); sklearn's ``predict_proba``. Ratios are to the raw torch pass.

Each library is warmed up once with a tiny run before anything is timed. Torch
runs with ``torch.set_num_threads(threads)`` (and sknn with
``n_threads=threads``); BLAS/OpenMP pools (sklearn's numpy) are limited to the
same count with threadpoolctl.

How to run
----------
Full run on the CPU (about tens of minutes; sklearn at batch size 64 is the
slow part, ``--skip-sklearn`` leaves it out)::

    python benchmarks/bench_overhead.py --threads 2 --repeats 3 --markdown

On a GPU (sklearn is skipped there)::

    python benchmarks/bench_overhead.py --device cuda --repeats 3 --markdown

Smoke test::

    python benchmarks/bench_overhead.py --rows 2000 --predict-rows 5000 \\
        --epochs 1 --repeats 1
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings

import _environment  # the torch build, threads and load each figure depends on
import numpy as np
import sklearn
import skorch
import torch
from sklearn.datasets import make_classification
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from threadpoolctl import threadpool_limits
from torch import nn

import sknn

N_FEATURES = 64
N_CLASSES = 4
N_INFORMATIVE = 32
HIDDEN = (256, 256)
LR = 1e-3
PREDICT_CHUNK = 8192
NEVER = 10**9  # n_iter_no_change that never stops training

# Parameters that make sknn's MLPClassifier a plain MLP on the raw features;
# only those this version of sknn has are passed.
SKNN_PLAIN = {
    "ensemble_size": 1,
    "numeric_transform": "none",
    "numeric_embedding": None,
    "categorical_features": None,
}


# -- data and models ---------------------------------------------------------------
def make_data(n_rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(
        n_samples=n_rows, n_features=N_FEATURES, n_classes=N_CLASSES,
        n_informative=N_INFORMATIVE, random_state=seed,
    )
    return X.astype(np.float32), y.astype(np.int64)


def make_module() -> nn.Module:
    """The network every torch-based contender trains: 64 -> 256 -> 256 -> 4 logits."""
    layers: list[nn.Module] = []
    width = N_FEATURES
    for size in HIDDEN:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, N_CLASSES))
    return nn.Sequential(*layers)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def n_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class HandLoop:
    """The reference: a hand-written PyTorch training loop and forward pass."""

    name = "torch"

    def __init__(self, device: str):
        self.device = device

    def fit(self, X, y, batch_size, epochs) -> nn.Module:
        torch.manual_seed(0)
        device = self.device
        X_t = torch.from_numpy(X).to(device)
        y_t = torch.from_numpy(y).to(device)
        model = make_module().to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=LR)
        criterion = nn.CrossEntropyLoss()
        n = len(X_t)
        model.train()
        for _ in range(epochs):
            perm = torch.randperm(n, device=device)
            for i in range(0, n, batch_size):
                idx = perm[i:i + batch_size]
                optimizer.zero_grad()
                loss = criterion(model(X_t[idx]), y_t[idx])
                loss.backward()
                optimizer.step()
        return model

    def predict_proba(self, model, X):
        model.eval()
        X_t = torch.from_numpy(X).to(self.device)
        out = []
        with torch.inference_mode():
            for i in range(0, len(X_t), PREDICT_CHUNK):
                out.append(torch.softmax(model(X_t[i:i + PREDICT_CHUNK]), dim=1))
        return torch.cat(out).cpu().numpy()

    @staticmethod
    def n_params(model):
        return n_parameters(model)


class Sknn:
    name = "sknn"

    def __init__(self, device: str, threads: int):
        self.device = device
        self.threads = threads

    def fit(self, X, y, batch_size, epochs):
        params = sknn.MLPClassifier().get_params()
        plain = {k: v for k, v in SKNN_PLAIN.items() if k in params}
        return sknn.MLPClassifier(
            hidden_layer_sizes=HIDDEN, activation="relu", solver="adam",
            learning_rate_init=LR, alpha=0.0, batch_size=batch_size, max_iter=epochs,
            early_stopping=False, tol=0.0, n_iter_no_change=NEVER, random_state=0,
            device=self.device, n_threads=self.threads, dtype="float32", **plain,
        ).fit(X, y)

    @staticmethod
    def predict_proba(model, X):
        return model.predict_proba(X)

    @staticmethod
    def n_params(model):
        return n_parameters(model.net_.module_)


class Skorch:
    name = "skorch"

    def __init__(self, device: str):
        self.device = device

    def fit(self, X, y, batch_size, epochs):
        torch.manual_seed(0)
        return skorch.NeuralNetClassifier(
            module=make_module, criterion=nn.CrossEntropyLoss,
            optimizer=torch.optim.Adam, lr=LR, max_epochs=epochs,
            batch_size=batch_size, train_split=None, verbose=0, device=self.device,
            iterator_valid__batch_size=PREDICT_CHUNK,  # predict only (no validation)
        ).fit(X, y)

    @staticmethod
    def predict_proba(model, X):
        return model.predict_proba(X)

    @staticmethod
    def n_params(model):
        return n_parameters(model.module_)


class Sklearn:
    name = "sklearn"

    def fit(self, X, y, batch_size, epochs):
        return SklearnMLPClassifier(
            hidden_layer_sizes=HIDDEN, activation="relu", solver="adam", alpha=0.0,
            batch_size=batch_size, learning_rate_init=LR, max_iter=epochs,
            shuffle=True, tol=0.0, n_iter_no_change=NEVER, early_stopping=False,
            random_state=0,
        ).fit(X, y)

    @staticmethod
    def predict_proba(model, X):
        return model.predict_proba(X)

    @staticmethod
    def n_params(model):
        return sum(w.size for w in model.coefs_) + sum(b.size for b in model.intercepts_)


# -- timing -----------------------------------------------------------------------------
def time_fit(contender, X, y, batch_size, epochs, device) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of one fit.

    CPU time is reported beside wall time because this shared machine's other
    load stretches wall time but not the CPU work of a pinned-thread run.
    """
    sync(device)
    start, start_cpu = time.perf_counter(), time.process_time()
    model = contender.fit(X, y, batch_size, epochs)
    sync(device)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    del model
    return elapsed, cpu


def time_predict(contender, model, X, device) -> float:
    sync(device)
    start = time.perf_counter()
    proba = contender.predict_proba(model, X)
    sync(device)
    elapsed = time.perf_counter() - start
    if proba.shape != (len(X), N_CLASSES):
        raise RuntimeError(f"{contender.name}: predict_proba shape {proba.shape}")
    return elapsed


def rotated(items: list, shift: int) -> list:
    shift %= len(items)
    return items[shift:] + items[:shift]


# -- reporting --------------------------------------------------------------------------
def fit_rows(times, cpu_times, names, batch_sizes):
    rows = []
    for bs in batch_sizes:
        ref = statistics.median(times[("torch", bs)])
        ref_cpu = statistics.median(cpu_times[("torch", bs)])
        for name in names:
            runs = times[(name, bs)]
            med = statistics.median(runs)
            med_cpu = statistics.median(cpu_times[(name, bs)])
            rows.append((name, bs, med, min(runs), max(runs), med / ref, len(runs),
                         med_cpu, med_cpu / ref_cpu))
    return rows


def predict_rows(times, names, n_rows):
    ref = n_rows / statistics.median(times["torch"])
    rows = []
    for name in names:
        runs = times[name]
        rate = n_rows / statistics.median(runs)
        rows.append((name, rate, rate / ref, len(runs)))
    return rows


def print_text(fit, predict, args):
    print()
    print(f"fit: {args.rows} rows x {N_FEATURES}, {args.epochs} epochs "
          f"(seconds; ratio = median / torch median)")
    print(f"{'library':<8} {'batch':>6} {'median':>9} {'min':>9} {'max':>9} "
          f"{'ratio':>7} {'runs':>5} {'cpu med':>9} {'cpu ratio':>9}")
    for name, bs, med, lo, hi, ratio, n, cpu, cpu_ratio in fit:
        print(f"{name:<8} {bs:>6} {med:>9.3f} {lo:>9.3f} {hi:>9.3f} {ratio:>7.2f} {n:>5}"
              f" {cpu:>9.3f} {cpu_ratio:>9.2f}")
    if not predict:
        return
    print()
    print(f"predict_proba: {args.predict_rows} rows (rows/s; ratio = rate / torch rate)")
    print(f"{'library':<8} {'rows/s':>12} {'ratio':>7} {'runs':>5}")
    for name, rate, ratio, n in predict:
        print(f"{name:<8} {rate:>12,.0f} {ratio:>7.2f} {n:>5}")


def print_markdown(fit, predict, args, env):
    print()
    print(f"Fit, {args.rows:,} x {N_FEATURES} float32, 4 classes, MLP {HIDDEN}, "
          f"Adam lr {LR}, {args.epochs} epochs, {env}; median of {args.repeats} "
          "runs; ratio to the hand-written PyTorch loop.")
    print()
    print("| library | batch size | median fit (s) | ratio to torch | median CPU (s) "
          "| CPU ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, bs, med, _, _, ratio, _, cpu, cpu_ratio in fit:
        print(f"| {name} | {bs} | {med:.2f} | {ratio:.2f} | {cpu:.2f} | {cpu_ratio:.2f} |")
    if not predict:
        return
    print()
    print(f"predict_proba on {args.predict_rows:,} rows, median of {2 * args.repeats} "
          "runs (two per repeat, in opposite orders); ratio to a raw "
          f"`torch.inference_mode()` forward in chunks of {PREDICT_CHUNK} + softmax.")
    print()
    print("| library | rows/s | ratio to torch |")
    print("|---|---:|---:|")
    for name, rate, ratio, _ in predict:
        print(f"| {name} | {rate:,.0f} | {ratio:.2f} |")


# -- main -------------------------------------------------------------------------------
def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=100_000,
                        help="training rows (default 100000)")
    parser.add_argument("--predict-rows", type=int, default=200_000,
                        help="rows for predict_proba (default 200000)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs (default 10)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs of every configuration (default 3)")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch (and BLAS) threads (default 2)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256, 1024],
                        help="batch sizes (default 64 256 1024)")
    parser.add_argument("--skip-sklearn", action="store_true",
                        help="leave out sklearn's MLPClassifier (slow at batch size 64)")
    parser.add_argument("--skip-skorch", action="store_true",
                        help="leave out skorch's NeuralNetClassifier")
    parser.add_argument("--skip-predict", action="store_true",
                        help="leave out the predict_proba benchmark")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="cpu or cuda (default cpu; sklearn is skipped on cuda)")
    parser.add_argument("--markdown", action="store_true",
                        help="also print markdown tables for benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available")
    if min(args.rows, args.predict_rows, args.epochs, args.repeats, args.threads,
           *args.batch_sizes) < 1:
        parser.error("sizes, counts and threads must be positive")
    return args


def environment(args) -> str:
    device = args.device
    if device == "cuda":
        device = f"cuda ({torch.cuda.get_device_name(0)})"
    lines = [
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"skorch {skorch.__version__}, sklearn {sklearn.__version__}, "
        f"sknn {sknn.__version__}, numpy {np.__version__}",
        f"device: {device}; torch threads: {torch.get_num_threads()}; "
        f"os.cpu_count(): {os.cpu_count()}; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; "
        f"platform: {platform.platform()}; "
        f"cpu: {_environment.cpu_model() or platform.processor() or '?'}",
    ]
    return "\n".join(lines)


def run(args) -> None:
    device = args.device
    torch.set_num_threads(args.threads)
    print(environment(args))
    print(f"rows={args.rows} predict_rows={args.predict_rows} epochs={args.epochs} "
          f"repeats={args.repeats} batch_sizes={args.batch_sizes}")

    contenders = [HandLoop(device), Sknn(device, args.threads)]
    if not args.skip_skorch:
        contenders.append(Skorch(device))
    if not args.skip_sklearn and device == "cpu":
        contenders.append(Sklearn())
    names = [c.name for c in contenders]

    X, y = make_data(args.rows, seed=0)
    X_pred = make_data(args.predict_rows, seed=1)[0] if not args.skip_predict else None

    # Warm-up: one tiny fit (and predict) each; the fitted models are kept for the
    # predict_proba benchmark (throughput does not depend on the weights).
    X_warm, y_warm = X[:4096], y[:4096]
    models = {}
    for contender in contenders:
        start = time.perf_counter()
        model = contender.fit(X_warm, y_warm, min(args.batch_sizes), 1)
        contender.predict_proba(model, X_warm)
        sync(device)
        models[contender.name] = model
        print(f"warm-up {contender.name:<8} {time.perf_counter() - start:6.2f} s "
              f"({contender.n_params(model):,} parameters)")

    fit_times = {(c.name, bs): [] for c in contenders for bs in args.batch_sizes}
    cpu_times = {key: [] for key in fit_times}
    predict_times = {c.name: [] for c in contenders}
    step = 0
    for repeat in range(args.repeats):
        for bs in args.batch_sizes:
            for contender in rotated(contenders, step):
                t, cpu = time_fit(contender, X, y, bs, args.epochs, device)
                fit_times[(contender.name, bs)].append(t)
                cpu_times[(contender.name, bs)].append(cpu)
                print(f"repeat {repeat + 1}/{args.repeats} bs={bs:<5} "
                      f"{contender.name:<8} fit {t:8.3f} s (cpu {cpu:8.3f} s)", flush=True)
            step += 1
        if X_pred is not None:
            # Twice, in opposite orders: whoever runs first after a fit pays for
            # cold caches, and a rotation of two contenders over an even number
            # of steps would always put the same one first.
            order = list(rotated(contenders, step))
            for contender in order + order[::-1]:
                t = time_predict(contender, models[contender.name], X_pred, device)
                predict_times[contender.name].append(t)
                print(f"repeat {repeat + 1}/{args.repeats} predict_proba "
                      f"{contender.name:<8} {len(X_pred) / t:12,.0f} rows/s", flush=True)
            step += 1

    fit = fit_rows(fit_times, cpu_times, names, args.batch_sizes)
    predict = predict_rows(predict_times, names, len(X_pred)) if X_pred is not None else []
    print_text(fit, predict, args)
    if args.markdown:
        env = (f"{device}, {args.threads} torch threads, torch {torch.__version__}"
               if device == "cpu" else f"{device} ({torch.cuda.get_device_name(0)}), "
               f"torch {torch.__version__}")
        print_markdown(fit, predict, args, env)


def main(argv=None) -> None:
    print(_environment.describe_environment(), flush=True)
    args = parse_args(argv)
    warnings.filterwarnings("ignore")  # ConvergenceWarning after the fixed epochs
    with threadpool_limits(limits=args.threads):
        run(args)


if __name__ == "__main__":
    main()
