"""Where and how wide sknn trains: the device, GPU placement of parallel workers, threads.

``device='auto'`` on a machine with several GPUs spreads parallel workers
(joblib's process workers, dask workers, torchrun's processes) over the visible
GPUs instead of piling them onto GPU 0. The placement is a pure function of
the number of visible GPUs and the worker's index (:func:`gpu_for_worker`), so
it is tested without a GPU.
"""

from __future__ import annotations

import contextlib
import functools
import math
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Iterator

import torch

from sknn._utils._config import get_config


def fused_optimizer_runs_on(device: torch.device) -> bool:
    """Whether torch has one-kernel ('fused') optimizer steps for ``device``.

    On the CPU they take a quarter of the time of the per-tensor loop (0.11 against
    0.46 ms per Adam step of the default MLP), 6% of a default tabular fit.
    """
    major, minor = (int(part) for part in torch.__version__.split(".")[:2])
    return device.type == "cuda" or (device.type == "cpu" and (major, minor) >= (2, 4))


def resolve_device(device: str | torch.device, estimator_name: str) -> torch.device:
    """Turn the ``device`` parameter into a usable :class:`torch.device`.

    'auto' picks a CUDA device when one is available, else the CPU: in a
    parallel worker, the GPU :func:`gpu_for_worker` assigns to it; in the
    main process, the current CUDA device (GPU 0 unless changed).
    """
    if isinstance(device, str) and device == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        index = gpu_for_worker(torch.cuda.device_count(), worker_index())
        return torch.device("cuda", index) if index is not None else torch.device("cuda")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"{estimator_name}: device={device!r} is not a device; expected 'auto', "
            "'cpu', 'cuda' or 'cuda:N'."
        ) from error
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{estimator_name}: device={device!r} was requested but CUDA is not "
                "available here; use device='auto' or 'cpu'."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"{estimator_name}: device={device!r} was requested but only "
                f"{torch.cuda.device_count()} CUDA device(s) are visible."
            )
    elif resolved.type != "cpu":
        raise ValueError(
            f"{estimator_name}: device={device!r} is not supported; expected 'auto', "
            "'cpu', 'cuda' or 'cuda:N'."
        )
    return resolved


def gpu_for_worker(n_gpus: int, worker: int | None) -> int | None:
    """Index of the visible GPU that worker number ``worker`` trains on.

    Round robin: consecutive workers land on different GPUs, so ``k`` workers
    on ``k`` GPUs get one each. ``None`` (not a parallel worker) means the
    current CUDA device. GPUs hidden by ``CUDA_VISIBLE_DEVICES`` are not
    counted, so a worker limited to one GPU always gets that one.
    """
    if worker is None:
        return None
    return worker % max(n_gpus, 1)


def worker_index() -> int | None:
    """This process's index among parallel workers on its machine, or None.

    In order: ``LOCAL_RANK`` (set by torchrun for each process it starts), the
    name of a dask worker when it is an integer (``LocalCluster`` numbers its
    workers 0, 1, ...; the name survives restarts), and the start order of a
    process started by ``multiprocessing`` or joblib's loky workers (1, 2, ...
    counted by the parent, so consecutive workers differ). The main process
    gets None.
    """
    local_rank = os.environ.get("LOCAL_RANK", "")
    if local_rank.isdigit():
        return int(local_rank)
    worker = _dask_worker()
    if worker is not None and isinstance(worker.name, int):
        return worker.name
    identity = multiprocessing.current_process()._identity
    return identity[0] - 1 if identity else None


def _dask_worker():
    """The dask worker running this task, or None outside one."""
    if "distributed" not in sys.modules:  # never import dask just to ask
        return None
    try:
        return sys.modules["distributed"].get_worker()
    except (AttributeError, ValueError):
        return None


# Every fit and prediction with n_threads=None leaves the cores other processes keep
# busy (next to a busy process, two torch threads on two cores ran short fits 5-35x
# and predictions 2-8x slower than one). The load is read without waiting: the
# machine's and this process's busy time since the previous reading (at the latest,
# sknn's import), over at least LOAD_WINDOW_MIN_SECONDS. A window longer than
# LOAD_WINDOW_MAX_SECONDS may average away a process that started since: a training
# of at least SHARED_CHECK_MIN_ROWS rows (epochs x rows), for which
# SHARED_CHECK_SECONDS is under 1%, then measures afresh.
LOAD_WINDOW_MIN_SECONDS = 0.05
LOAD_WINDOW_MAX_SECONDS = 2.0
SHARED_CHECK_MIN_ROWS = 100_000
SHARED_CHECK_SECONDS = 0.1


def default_n_threads(work_rows: int = 0) -> int:
    """Threads torch uses when ``n_threads=None``.

    ``sknn.set_config(n_threads=...)`` wins when it is not 'auto'. Then an
    explicit ``OMP_NUM_THREADS`` wins (joblib's loky workers set it to
    ``cpu_count // n_jobs``, dask's nannies to 1, so parallel searches do not
    oversubscribe). Inside a dask worker without it, 1: each of the worker's
    threads runs its own task, so its cores are already taken. Otherwise
    torch's own default, the number of physical cores, at most the cores a
    container's CPU quota allows (:func:`cpu_quota_cores`), less the cores
    that other processes keep busy among those this process may run on
    (:data:`LOAD`): torch's waiting OpenMP threads
    spin, and next to a busy process two threads on two cores ran an epoch
    4-15x slower than one thread (benchmarks/RESULTS.md). ``work_rows``: the
    rows a training will go through; a large one may wait
    ``SHARED_CHECK_SECONDS`` for a fresh reading of the load.
    """
    config = get_config()
    if config["n_threads"] != "auto":
        return config["n_threads"]
    from_env = os.environ.get("OMP_NUM_THREADS", "")
    if from_env.isdigit() and int(from_env) > 0:
        return int(from_env)
    if _dask_worker() is not None:
        return 1
    threads = min(torch.get_num_threads(), cpu_quota_cores() or torch.get_num_threads())
    if threads > 1 and config["avoid_busy_cores"]:
        busy = LOAD.busy_cores_elsewhere(may_wait=work_rows >= SHARED_CHECK_MIN_ROWS)
        if busy is not None and busy >= 0.5:
            threads = max(1, min(threads, len(_allowed_cpus()) - round(busy)))
    return threads


# A container's CPU limit: cgroup v2's cpu.max ("quota period" or "max period") in the
# process's cgroup or any parent, or cgroup v1's quota and period files (-1: none).
CGROUP_ROOT = "/sys/fs/cgroup"
PROC_SELF_CGROUP = "/proc/self/cgroup"
CGROUP_V1_CPU_FILES = ("cpu.cfs_quota_us", "cpu.cfs_period_us")
PROC_STAT = "/proc/stat"


@functools.cache
def cpu_quota_cores() -> int | None:
    """The cores the process's CPU quota allows (rounded up), or None without one.

    The smallest quota of the process's cgroup and its parents (a container, a
    systemd ``CPUQuota=``, a Slurm job), from cgroup v2, else v1. torch starts
    one thread per physical core of the host, whatever the quota: in a
    container limited to 2 cores of a 64-core host, 64 threads would take
    turns on 2 cores' worth of time.
    """
    quotas = _v2_quotas() or _v1_quotas()
    return max(1, math.ceil(min(quotas))) if quotas else None


def _own_cgroups() -> dict[str, str]:
    """The process's cgroup path per hierarchy: '' for v2, a controller list for v1."""
    paths = {}
    try:
        with open(PROC_SELF_CGROUP) as file:
            for line in file:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                paths[controllers] = path
    except (OSError, ValueError):
        pass
    return paths


def _with_parents(root: str, path: str) -> list[str]:
    """``root/path`` and each of its parents up to ``root``."""
    parts = [part for part in path.split("/") if part and part != ".."]
    return [os.path.join(root, *parts[:end]) for end in range(len(parts), -1, -1)]


def _v2_quotas() -> list[float]:
    quotas = []
    for folder in _with_parents(CGROUP_ROOT, _own_cgroups().get("", "/")):
        values = _read_numbers(os.path.join(folder, "cpu.max"), max_is=-1)
        if values is not None and len(values) >= 2 and values[0] > 0 and values[1] > 0:
            quotas.append(values[0] / values[1])
    return quotas


def _v1_quotas() -> list[float]:
    v1_path = next((path for controllers, path in _own_cgroups().items()
                    if "cpu" in controllers.split(",")), "/")
    quotas = []
    for name in ("cpu", "cpu,cpuacct"):
        for folder in _with_parents(os.path.join(CGROUP_ROOT, name), v1_path):
            quota, period = (_read_numbers(os.path.join(folder, file))
                             for file in CGROUP_V1_CPU_FILES)
            if quota and period and quota[0] > 0 and period[0] > 0:
                quotas.append(quota[0] / period[0])
    return quotas


def _read_numbers(path: str, max_is: int | None = None) -> list[int] | None:
    """The integers a cgroup file holds ('max' read as ``max_is``), or None."""
    try:
        with open(path) as file:
            words = file.read().split()
        return [max_is if word == "max" and max_is is not None else int(word)
                for word in words]
    except (OSError, ValueError):
        return None


def _allowed_cpus() -> list[int]:
    """The CPUs this process may run on (all of them where affinity is unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


class LoadReadings:
    """The cores other processes keep busy, from readings of ``/proc/stat``.

    Each call compares the machine's and this process's busy time with the
    previous reading, so it costs a file read (about 30 µs), not a wait; the
    first reading is taken at import. None off Linux.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._last = _reading()
        self._busy: float | None = None

    def busy_cores_elsewhere(self, may_wait: bool = False) -> float | None:
        """The latest estimate; ``may_wait``: measure afresh if the window is stale."""
        with self._lock:
            now = _reading()
            if now is None or self._last is None:
                return None
            if may_wait and now[0] - self._last[0] > LOAD_WINDOW_MAX_SECONDS:
                self._last = now
                time.sleep(SHARED_CHECK_SECONDS)
                now = _reading()
            if now[0] - self._last[0] >= LOAD_WINDOW_MIN_SECONDS or self._busy is None:
                self._busy = _busy_between(self._last, now)
                self._last = now
            return self._busy

    def forked(self, parent_own_seconds: float) -> None:
        """In a forked child, whose own CPU time restarts at 0: the parent's time since
        the last reading stays this process's own, not another process's load."""
        self._lock = threading.Lock()  # the parent's may have been held by another thread
        if self._last is not None:
            when, machine, own = self._last
            self._last = (when, machine, own - parent_own_seconds)


def _reading() -> tuple[float, float, float] | None:
    """(monotonic time, the machine's busy seconds, this process's), or None."""
    try:
        return time.monotonic(), _busy_seconds(), _own_seconds()
    except (OSError, ValueError, IndexError):
        return None


def _busy_between(before, after) -> float:
    """Cores that other processes kept busy between two readings."""
    elapsed = max(after[0] - before[0], 1e-9)
    others = (after[1] - before[1]) - (after[2] - before[2])
    return max(0.0, others) / elapsed


def busy_cores_elsewhere(seconds: float) -> float | None:
    """Cores that other processes kept busy over the next ``seconds`` (None off Linux).

    The machine's busy time from ``/proc/stat``, less this process's own.
    """
    before = _reading()
    time.sleep(seconds)
    after = _reading()
    if before is None or after is None:
        return None
    return _busy_between(before, after)


def _busy_seconds() -> float:
    """Busy seconds of the CPUs this process may run on, from ``/proc/stat``.

    The first line sums every CPU of the host; a process pinned to some (a
    container's cpuset, ``taskset``) counts only theirs, so that other
    containers' work on other cores is not taken for its own cores' load.
    """
    allowed = _allowed_cpus()
    with open(PROC_STAT) as stat:
        lines = stat.readlines() if len(allowed) < (os.cpu_count() or 0) else [stat.readline()]
    wanted = {f"cpu{cpu}" for cpu in allowed} if len(lines) > 1 else {"cpu"}
    busy = 0
    for line in lines:
        name, *values = line.split()
        if name in wanted:
            fields = [int(value) for value in values]
            busy += sum(fields[:8]) - fields[3] - fields[4]  # less idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system


LOAD = LoadReadings()
_own_seconds_at_fork = [0.0]


def _before_fork() -> None:
    _own_seconds_at_fork[0] = _own_seconds()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork,
                        after_in_child=lambda: LOAD.forked(_own_seconds_at_fork[0]))


@contextlib.contextmanager
def on_device(device: torch.device) -> Iterator[None]:
    """Make ``device`` the current CUDA device for the duration (no-op on the CPU).

    Whatever torch allocates implicitly (streams, contexts, RNG states) then
    lands on the worker's GPU, not on GPU 0.
    """
    if device.type != "cuda":
        yield
        return
    with torch.cuda.device(device):
        yield
