"""Memory the C library hands back to the kernel, and how often it is faulted in again.

PyTorch allocates CPU tensors with ``malloc``. glibc's ``malloc`` gives the free
memory at the top of its heap back to the kernel once more than
``M_TRIM_THRESHOLD`` bytes are free there, and serves blocks larger than
``M_MMAP_THRESHOLD`` with a fresh mapping; both start at 128 KiB and grow, as
large blocks are freed, up to 32 MiB and 64 MiB. Each batch of a prediction
allocates and frees a few MiB of activations (4 members x 256 floats a row), so
every batch got its memory back from the kernel, one zeroed page at a time: an
Adult ``predict_proba`` faulted 33,000 pages in and spent a third of its time on
them (benchmarks/RESULTS.md). :func:`keep_freed_memory` puts the two thresholds
where glibc's own rule would end anyway, once per process; a process keeps at
most 64 MiB of free memory at the top of its heap for reuse.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys

# mallopt's parameter numbers (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# glibc's upper bound of its dynamic mmap threshold on 64-bit systems
# (DEFAULT_MMAP_THRESHOLD_MAX), and twice it for trimming, as glibc sets it.
MMAP_THRESHOLD_BYTES = 32 * 2**20
TRIM_THRESHOLD_BYTES = 2 * MMAP_THRESHOLD_BYTES
# The user's own settings of the same thresholds, which win: environment variables,
# or glibc tunables (GLIBC_TUNABLES=glibc.malloc.trim_threshold=...:...).
GLIBC_VARIABLES = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")
GLIBC_TUNABLES = ("glibc.malloc.trim_threshold", "glibc.malloc.mmap_threshold")


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc's trim and mmap thresholds to 64 and 32 MiB, once per process.

    Only on Linux with glibc, and only if the environment sets neither
    threshold (``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_MMAP_THRESHOLD_``, or their
    tunables in ``GLIBC_TUNABLES``). Returns whether the thresholds were set.

    Examples
    --------
    >>> from sknn._core._memory import keep_freed_memory
    >>> isinstance(keep_freed_memory(), bool)
    True
    """
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if (not sys.platform.startswith("linux") or any(v in os.environ for v in GLIBC_VARIABLES)
            or any(name in tunables for name in GLIBC_TUNABLES)):
        return False
    try:
        libc = ctypes.CDLL(None)  # the C library this process already runs on
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return False  # not glibc (musl has no such thresholds)
    mallopt = libc.mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
