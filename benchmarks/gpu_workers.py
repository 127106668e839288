"""Parallel searches and one model on several GPUs: where each worker trains.

What it measures
----------------
``--workers N`` (default 4): ``N`` joblib process workers each fit
``MLPClassifier(device='auto')`` on ``make_classification(--rows, 32)``; the
script prints, per fit, the worker's index and the device it trained on, the
GPU memory it still holds after ``fit`` (allocated: the fitted model;
reserved: what the allocator kept, which ``fit`` hands back) and its peak,
then the number of distinct GPUs used (expected ``min(N, visible GPUs)``).
Then the wall time of ``GridSearchCV(cv=2)`` over 4 candidates with
``n_jobs=N`` against ``n_jobs=1``, and the largest difference of their mean
test scores.

Under ``torchrun --nproc_per_node=K`` (``--ddp``), every process fits one
``MLPClassifier`` on the same data, trained across the processes
(DistributedDataParallel, NCCL on GPUs, gloo on CPUs); each process prints its
device, fit time, epochs and training accuracy. Run the same command without
torchrun for the single-process figures to compare against.

How to run
----------
On a machine with several GPUs::

    python benchmarks/gpu_workers.py --workers 4
    torchrun --nproc_per_node=4 benchmarks/gpu_workers.py --ddp
    python benchmarks/gpu_workers.py --ddp

Smoke test (CPU)::

    python benchmarks/gpu_workers.py --workers 2 --rows 2000 --max-iter 2
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import joblib
import numpy as np
import torch
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from sknn import MLPClassifier
from sknn._core._device import worker_index

MIB = 2**20


def _data(rows: int):
    X, y = make_classification(rows, 32, n_informative=16, n_classes=3, random_state=0)
    return X.astype(np.float32), y


def _estimator(max_iter: int) -> MLPClassifier:
    return MLPClassifier((256, 256), max_iter=max_iter, early_stopping=False,
                         random_state=0)


def _fit_and_report(rows: int, max_iter: int, seed: int) -> dict:
    X, y = _data(rows)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # in the worker
    model = _estimator(max_iter).set_params(random_state=seed).fit(X, y)
    device = torch.device(model.net_.device)
    memory = {}
    if device.type == "cuda":
        memory = {
            "allocated_mib": torch.cuda.memory_allocated(device) / MIB,
            "reserved_mib": torch.cuda.memory_reserved(device) / MIB,
            "peak_reserved_mib": torch.cuda.max_memory_reserved(device) / MIB,
        }
    return {"pid": os.getpid(), "worker": worker_index(), "device": str(device), **memory}


def placement(workers: int, rows: int, max_iter: int) -> None:
    print(f"visible GPUs: {torch.cuda.device_count()}, workers: {workers}")
    reports = joblib.Parallel(n_jobs=workers)(
        joblib.delayed(_fit_and_report)(rows, max_iter, seed) for seed in range(2 * workers))
    for report in reports:
        print("  " + ", ".join(f"{key}={value:.0f}" if isinstance(value, float)
                                else f"{key}={value}" for key, value in report.items()))
    print(f"distinct devices: {len({report['device'] for report in reports})}")


def search_times(workers: int, rows: int, max_iter: int) -> None:
    X, y = _data(rows)
    grid = {"alpha": [1e-4, 1e-3], "learning_rate_init": [1e-3, 3e-3]}
    results = {}
    for n_jobs in (1, workers):
        search = GridSearchCV(_estimator(max_iter), grid, cv=2, n_jobs=n_jobs, refit=False)
        start = time.perf_counter()
        search.fit(X, y)
        results[n_jobs] = (time.perf_counter() - start, search.cv_results_["mean_test_score"])
    (t_serial, serial), (t_parallel, parallel) = results[1], results[workers]
    print(f"GridSearchCV 4 candidates x 2 folds: n_jobs=1 {t_serial:.1f} s, "
          f"n_jobs={workers} {t_parallel:.1f} s ({t_parallel / t_serial:.2f}x); "
          f"largest mean-score difference {np.max(np.abs(serial - parallel)):.2e}")


def data_parallel_fit(rows: int, max_iter: int) -> None:
    import torch.distributed as dist

    in_group = "LOCAL_RANK" in os.environ
    if in_group:
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    X, y = _data(rows)
    start = time.perf_counter()
    model = _estimator(max_iter).fit(X, y)
    seconds = time.perf_counter() - start
    rank = dist.get_rank() if in_group else 0
    print(f"process {rank}: device {model.net_.device}, fit {seconds:.1f} s, "
          f"{model.n_iter_} epochs, training accuracy {model.score(X, y):.4f}")
    if in_group:
        dist.destroy_process_group()


def main() -> None:
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # fixed epoch budgets
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--max-iter", type=int, default=10)
    parser.add_argument("--ddp", action="store_true",
                        help="one fit, across the processes when run under torchrun")
    args = parser.parse_args()
    if args.ddp:
        data_parallel_fit(args.rows, args.max_iter)
        return
    placement(args.workers, args.rows, args.max_iter)
    search_times(args.workers, args.rows, args.max_iter)


if __name__ == "__main__":
    main()
