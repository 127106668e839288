"""GPU placement of parallel workers and GPU memory between fits, without a GPU.

CUDA is simulated (``torch.cuda.is_available``/``device_count`` patched) and
worker identities are real (joblib's loky workers) or set through
``LOCAL_RANK`` as torchrun sets it.
"""

import multiprocessing
import time

import joblib
import pytest
import torch
from sklearn.datasets import make_classification

from sknn import MLPClassifier
from sknn._core._device import gpu_for_worker, resolve_device, worker_index


@pytest.fixture
def gpus(monkeypatch):
    """Pretend that ``n`` CUDA devices are visible; returns the setter."""
    def visible(n):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)
    return visible


@pytest.fixture
def main_process(monkeypatch):
    """This process as the main process of a search: no worker identity."""
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setattr(multiprocessing.current_process(), "_identity", ())


@pytest.mark.parametrize("n_gpus", [1, 2, 3, 4])
def test_gpu_for_worker_gives_consecutive_workers_different_gpus(n_gpus):
    assignment = [gpu_for_worker(n_gpus, worker) for worker in range(2 * n_gpus)]
    assert sorted(assignment[:n_gpus]) == list(range(n_gpus))  # one GPU each
    assert assignment[n_gpus:] == assignment[:n_gpus]  # then round robin
    assert gpu_for_worker(n_gpus, None) is None


@pytest.mark.parametrize("n_workers", [2, 4])
def test_auto_device_spreads_workers_over_gpus(gpus, monkeypatch, n_workers):
    gpus(4)
    devices = []
    for rank in range(n_workers):
        monkeypatch.setenv("LOCAL_RANK", str(rank))
        devices.append(resolve_device("auto", "MLPClassifier"))
    assert devices == [torch.device("cuda", rank) for rank in range(n_workers)]


def test_auto_device_respects_cuda_visible_devices(gpus, monkeypatch):
    # CUDA_VISIBLE_DEVICES=3 for worker 3: torch then sees one GPU, index 0.
    gpus(1)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert resolve_device("auto", "MLPClassifier") == torch.device("cuda", 0)


def test_auto_device_in_main_process_is_the_current_gpu(gpus, main_process):
    gpus(4)
    assert worker_index() is None
    assert resolve_device("auto", "MLPClassifier") == torch.device("cuda")


def test_auto_device_without_gpu_is_cpu(gpus, monkeypatch):
    gpus(0)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert resolve_device("auto", "MLPClassifier") == torch.device("cpu")


def test_local_rank_decides_the_worker_index(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "5")
    assert worker_index() == 5
    assert gpu_for_worker(4, worker_index()) == 1


def _slow_worker_index():
    time.sleep(0.5)  # keep the task long enough for both workers to take some
    return worker_index()


def test_loky_workers_land_on_different_gpus(main_process):
    """The two process workers of ``n_jobs=2`` would take one GPU each of two."""
    indices = joblib.Parallel(n_jobs=2, backend="loky")(
        joblib.delayed(_slow_worker_index)() for _ in range(4))
    assert None not in indices
    assert {gpu_for_worker(2, index) for index in indices} == {0, 1}


def test_fit_releases_cached_gpu_memory(monkeypatch):
    """Every fit ends by handing the allocator's cached blocks back (also on failure)."""
    calls = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: calls.append("empty"))
    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    clf = MLPClassifier((4,), ensemble_size=1, max_iter=2, random_state=0)
    clf.fit(X, y)
    clf.partial_fit(X, y)
    assert calls == ["empty", "empty"]
    with pytest.raises(ValueError, match="CUDA is not available"):
        clf.set_params(device="cuda:7").fit(X, y)
    assert len(calls) == 3


# -- glibc's malloc thresholds (sknn/_core/_memory.py) --------------------------------
def _glibc() -> bool:
    import ctypes
    import sys

    return sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None),
                                                        "gnu_get_libc_version")


@pytest.mark.parametrize("variable, value", [
    ("MALLOC_TRIM_THRESHOLD_", "131072"), ("MALLOC_MMAP_THRESHOLD_", "131072"),
    ("GLIBC_TUNABLES", "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=131072"),
    ("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=131072"),
])
def test_malloc_thresholds_set_by_the_user_are_left_alone(monkeypatch, variable, value):
    from sknn._core._memory import keep_freed_memory

    monkeypatch.setenv(variable, value)
    assert keep_freed_memory.__wrapped__() is False


def test_malloc_thresholds_are_set_on_glibc_only(monkeypatch):
    from sknn._core import _memory

    for variable in _memory.GLIBC_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")  # other tunables
    assert _memory.keep_freed_memory.__wrapped__() is _glibc()
    monkeypatch.setattr(_memory.sys, "platform", "darwin")
    assert _memory.keep_freed_memory.__wrapped__() is False


# Measured in a fresh process: in the test session's worker the heap's layout
# depends on which tests ran before, and a fragmented heap can fault pages in
# for reasons that have nothing to do with the thresholds (CI saw 18,000).
PAGE_FAULTS_OF_A_PREDICTION = """
import resource
import numpy as np
from sklearn.datasets import make_classification
from sknn import MLPClassifier

X, y = make_classification(20_000, 20, random_state=0)
X = X.astype(np.float32)
clf = MLPClassifier(max_iter=1, numeric_embedding=None, random_state=0, n_threads=1)
clf.fit(X[:2000], y[:2000])
clf.predict_proba(X)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
clf.predict_proba(X)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not _glibc(), reason="glibc's malloc thresholds: Linux with glibc only")
def test_prediction_batches_reuse_freed_memory_instead_of_faulting_pages_in():
    # A default-sized network (4 members x 256 units: 8 MiB of activations a
    # 2,048-row batch) on 20,000 rows: with glibc's thresholds at their start
    # values every batch faulted its activations in again, at least 20,000 pages
    # (80 MiB) here. A heap that grows once more by a batch's activations
    # (4,000 pages) is not that.
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    result = subprocess.run([sys.executable, "-c", PAGE_FAULTS_OF_A_PREDICTION], env=env,
                            capture_output=True, text=True, timeout=300, check=True)
    assert int(result.stdout.split()[-1]) < 6_000
