"""Process-wide settings, applied from this one module at every fit and prediction.

sknn changes three things that belong to the process, not to an estimator:
PyTorch's intra-op thread count (:func:`torch_threads`), the flush of subnormal
floats on the calling thread and its OpenMP workers (:func:`subnormals_flushed`),
and glibc's malloc thresholds (:func:`~sknn._core._memory.keep_freed_memory`).
Each is switched by :func:`sknn.set_config` / :func:`sknn.config_context`
(:mod:`sknn._utils._config`); the mechanisms live in :mod:`sknn._core._device`
(the thread rule and the load of other processes), :mod:`sknn._core._openmp`
and :mod:`sknn._core._memory`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from sknn._core._device import default_n_threads
from sknn._core._memory import keep_freed_memory
from sknn._core._openmp import on_each_thread
from sknn._utils._config import get_config


@contextlib.contextmanager
def cpu_settings(n_threads: int | None, work_rows: int = 0) -> Iterator[None]:
    """The process settings of a fit or prediction: malloc thresholds and threads.

    ``n_threads``: the estimator's parameter (None: :func:`default_n_threads`);
    ``work_rows``: the rows a training goes through.
    """
    if get_config()["keep_freed_memory"]:
        keep_freed_memory()  # the CPU side of any device: encoding, batches, outputs
    with torch_threads(n_threads, work_rows):
        yield


@contextlib.contextmanager
def torch_threads(n_threads: int | None, work_rows: int = 0) -> Iterator[None]:
    """Run torch with ``n_threads`` intra-op threads, restoring the old count after.

    ``work_rows``: the rows a training will go through, for ``n_threads=None``.
    """
    wanted = default_n_threads(work_rows) if n_threads is None else n_threads
    previous = torch.get_num_threads()
    if wanted != previous:
        torch.set_num_threads(wanted)
    try:
        yield
    finally:
        if wanted != previous:
            torch.set_num_threads(previous)


def subnormals_flushed(workers: bool = True):
    """Flush subnormal floats to zero inside the block, restored after.

    On this thread and, with ``workers``, on its OpenMP worker threads, which
    compute the rest of each parallel operation and otherwise keep the setting
    they were created with: flushed on this thread only, a default model of a
    50-column table predicted 2-3x slower than flushed on both when other
    PyTorch work had created the workers. The workers are reached through
    libgomp (PyTorch's OpenMP runtime on Linux; :mod:`sknn._core._openmp`), at
    about 0.1 ms per change; elsewhere only this thread flushes.
    """
    if not get_config()["flush_subnormals"]:
        return contextlib.nullcontext()
    return _subnormal_flushing(True, workers)


def subnormals_kept():
    """Keep subnormal floats on this thread inside the block (restored after).

    For encoding inside a flushed training or prediction: the flag changes NumPy
    too, and an input value below 1.2e-38 must be encoded as it is when the
    table is encoded up front. The OpenMP workers, which NumPy does not use,
    keep flushing.
    """
    return _subnormal_flushing(False, workers=False)


@contextlib.contextmanager
def _subnormal_flushing(flush: bool, workers: bool):
    """Set the flush of subnormal floats inside the block, and restore it after.

    ``torch.set_flush_denormal`` has no getter, so this thread's setting is read
    off an operation that underflows. The workers' own settings cannot be read:
    they start like this thread's and are left like it afterwards.
    """
    def set_flushing(enabled: bool) -> None:
        if workers:
            on_each_thread(lambda: torch.set_flush_denormal(enabled))
        else:
            torch.set_flush_denormal(enabled)

    was_flushing = _flushing_subnormals()
    if workers or was_flushing != flush:  # the workers' setting is unknown: set it
        set_flushing(flush)
    try:
        yield
    finally:
        if was_flushing != flush:
            set_flushing(was_flushing)


def _flushing_subnormals() -> bool:
    """Whether this thread flushes subnormal results to zero (FTZ/DAZ)."""
    return bool(torch.tensor(1e-30, dtype=torch.float32) * 1e-10 == 0)
