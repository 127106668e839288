"""Run a function once on each of PyTorch's OpenMP threads.

Some per-thread settings, such as flushing subnormal floats to zero, belong to
the thread that sets them: ``torch.set_flush_denormal`` changes the calling
thread only, and the OpenMP worker threads that compute the rest of each
parallel operation keep the setting they were created with. To change theirs,
:func:`on_each_thread` opens one OpenMP parallel region (libgomp's
``GOMP_parallel``, in the copy of libgomp that PyTorch loaded) whose threads,
the same pool PyTorch's parallel regions from this thread reuse, each call the
function.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from collections.abc import Callable

import torch

_REGION = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


@functools.cache
def _gomp_parallel():
    """``GOMP_parallel`` of the libgomp in torch's own library folder, or None.

    None off Linux, and where PyTorch runs on another OpenMP runtime or on
    none: other packages' copies of libgomp (scikit-learn ships one) have
    their own threads.
    """
    if not sys.platform.startswith("linux") or "OpenMP" not in torch.__config__.parallel_info():
        return None
    torch_libraries = os.path.join(os.path.dirname(torch.__file__), "lib") + os.sep
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "libgomp" in line}
    except OSError:
        return None
    for path in sorted(paths):
        if not path.startswith(torch_libraries):
            continue
        try:
            function = ctypes.CDLL(path).GOMP_parallel
        except (OSError, AttributeError):
            continue
        function.restype = None
        function.argtypes = [_REGION, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
        return function
    return None


def on_each_thread(function: Callable[[], object]) -> bool:
    """Call ``function()`` on this thread and on each of its OpenMP worker threads.

    Returns whether the workers were reached: False with one thread, or when
    PyTorch's OpenMP runtime is not libgomp (the function then runs on this
    thread only).

    Examples
    --------
    >>> import threading
    >>> from sknn._core._openmp import on_each_thread
    >>> threads = set()
    >>> reached = on_each_thread(lambda: threads.add(threading.get_ident()))
    >>> len(threads) == (torch.get_num_threads() if reached else 1)
    True
    """
    n_threads = torch.get_num_threads()
    gomp_parallel = _gomp_parallel() if n_threads > 1 else None
    if gomp_parallel is None:
        function()
        return False
    errors = []

    def region(_data):
        try:
            function()
        except BaseException as error:  # noqa: BLE001 - re-raised on the calling thread
            errors.append(error)

    gomp_parallel(_REGION(region), None, n_threads, 0)
    if errors:
        raise errors[0]
    return True
