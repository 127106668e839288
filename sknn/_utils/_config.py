"""sknn's process-wide settings: :func:`set_config`, :func:`get_config`, :func:`config_context`.

:func:`set_config` changes the settings of every thread of the process;
:func:`config_context` those of the calling thread inside a block (a search's
threads run side by side). The settings are read at every fit and prediction
by :mod:`sknn._core._process`, the one module that applies them. Worker
processes (joblib's loky workers, dask workers) start from the defaults: call
``set_config`` in them, or set ``OMP_NUM_THREADS``, which they inherit.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from numbers import Integral

_GLOBAL_CONFIG = {
    "n_threads": "auto",
    "avoid_busy_cores": True,
    "flush_subnormals": True,
    "keep_freed_memory": True,
}
_THREAD_LOCAL = threading.local()


def _thread_overrides() -> dict:
    """What config_context blocks set in the calling thread, over the global settings."""
    if not hasattr(_THREAD_LOCAL, "overrides"):
        _THREAD_LOCAL.overrides = {}
    return _THREAD_LOCAL.overrides


def get_config() -> dict:
    """sknn's process-wide settings, as :func:`set_config` describes them.

    Returns
    -------
    config : dict
        A copy of the settings in force in the calling thread.

    Examples
    --------
    >>> import sknn
    >>> sknn.get_config()["flush_subnormals"]
    True
    """
    return {**_GLOBAL_CONFIG, **_thread_overrides()}


def _checked(name: str, value, caller: str):
    if name == "n_threads":
        if value != "auto" and not (isinstance(value, Integral) and not isinstance(value, bool)
                                    and value >= 1):
            raise ValueError(f"{caller}: n_threads must be 'auto' or an integer of "
                             f"at least 1; got {value!r}.")
    elif not isinstance(value, bool):
        raise TypeError(f"{caller}: {name} must be True or False; got {value!r}.")
    return value


def set_config(n_threads=None, avoid_busy_cores=None, flush_subnormals=None,
               keep_freed_memory=None) -> None:
    """Set sknn's process-wide settings, for every thread (None: unchanged).

    Each setting changes something that is not the estimator's own but the
    process's: PyTorch's thread count, the CPU's floating-point mode, the C
    library's memory allocator. sknn sets each during ``fit`` and ``predict``
    (restoring the first two after) from one place, :mod:`sknn._core._process`.

    Parameters
    ----------
    n_threads : int or 'auto', default=None
        Threads for estimators whose ``n_threads`` is None. 'auto' (the
        initial setting): ``OMP_NUM_THREADS`` when it is set, one inside a dask
        worker, else torch's default (one per physical core), at most the cores
        a container's CPU quota allows, less the cores other processes keep
        busy (``avoid_busy_cores``). An estimator's own ``n_threads`` wins.
    avoid_busy_cores : bool, default=None
        Leave the cores that other processes keep busy (read from
        ``/proc/stat``, about 50 µs a fit or prediction) when choosing the
        threads under 'auto' (initially True). Next to a busy process, two
        threads on two cores ran an epoch several times slower than one.
    flush_subnormals : bool, default=None
        Flush subnormal floats (below 1.2e-38 in float32) to zero during fit
        and predict, on the calling thread and its OpenMP workers (initially
        True): on many x86 CPUs each operation on one takes a slow path, and a
        default Adult fit ran its late epochs 2-4x slower without. The setting
        is restored after each call. False computes with IEEE subnormals.
    keep_freed_memory : bool, default=None
        Let glibc keep up to 64 MiB of freed memory for reuse (its trim and mmap
        thresholds, set once per process at the first fit or prediction; an
        environment that sets them wins) (initially True): a prediction's
        batches otherwise fault their memory in from the kernel again, a third
        of an Adult ``predict_proba``. False before the first fit leaves
        glibc's own thresholds; once set, sknn does not reset them.

    Raises
    ------
    ValueError
        When ``n_threads`` is neither 'auto' nor a positive integer.
    TypeError
        When a switch is not a bool. Nothing changes when a setting is refused.

    Examples
    --------
    >>> import sknn
    >>> sknn.set_config(n_threads=1)
    >>> sknn.get_config()["n_threads"]
    1
    >>> sknn.set_config(n_threads="auto")
    """
    given = {"n_threads": n_threads, "avoid_busy_cores": avoid_busy_cores,
             "flush_subnormals": flush_subnormals, "keep_freed_memory": keep_freed_memory}
    _GLOBAL_CONFIG.update(_changes(given, "sknn.set_config"))


def _changes(given: dict, caller: str) -> dict:
    """The settings that are not None, each checked (all before any is applied)."""
    return {name: _checked(name, value, caller) for name, value in given.items()
            if value is not None}


@contextlib.contextmanager
def config_context(*, n_threads=None, avoid_busy_cores=None, flush_subnormals=None,
                   keep_freed_memory=None) -> Iterator[None]:
    """Change sknn's settings in the calling thread inside a ``with`` block (None: unchanged).

    The parameters are :func:`set_config`'s; the previous settings come back
    when the block ends, even on an error. Other threads keep theirs.

    Parameters
    ----------
    n_threads : int or 'auto', default=None
    avoid_busy_cores : bool, default=None
    flush_subnormals : bool, default=None
    keep_freed_memory : bool, default=None

    Yields
    ------
    None

    Examples
    --------
    >>> import numpy as np
    >>> import sknn
    >>> X, y = np.random.RandomState(0).rand(40, 3), np.arange(40) % 2
    >>> with sknn.config_context(n_threads=1, flush_subnormals=False):
    ...     model = sknn.MLPClassifier(max_iter=2, random_state=0).fit(X, y)
    >>> sknn.get_config()["n_threads"]
    'auto'
    """
    overrides = _thread_overrides()
    previous = overrides.copy()
    overrides.update(_changes({
        "n_threads": n_threads, "avoid_busy_cores": avoid_busy_cores,
        "flush_subnormals": flush_subnormals, "keep_freed_memory": keep_freed_memory},
        "sknn.config_context"))
    try:
        yield
    finally:
        overrides.clear()
        overrides.update(previous)
