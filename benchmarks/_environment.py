"""What a benchmark's figures depend on besides the code: printed before them.

The same default fit took 7-11x longer on another machine of the same kind; the
causes were torch's spinning OpenMP threads next to another job and, on Intel
CPUs, subnormal weights (RESULTS.md, "The same speed on every machine"). Every
benchmark prints this block so that a figure always comes with the CPU model, the
torch build, its parallel backend, the thread counts, the machine's load and the
environment variables that change them.
"""

from __future__ import annotations

import os
import platform

ENVIRONMENT_VARIABLES = (
    "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MKL_NUM_THREADS",
    "KMP_BLOCKTIME", "KMP_AFFINITY", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE", "CUDA_VISIBLE_DEVICES",
)


def describe_environment() -> str:
    """Lines naming the torch build, threads, CPU, load and thread-related variables."""
    import torch

    info = torch.__config__.parallel_info()
    backend = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                    if line.startswith("ATen parallel backend")), "unknown")
    libraries = [line.split(" for ")[0].strip() for line in info.splitlines()
                 if line.startswith(("OpenMP", "Intel(R) oneAPI", "Intel(R) MKL-DNN"))]
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    variables = ", ".join(f"{name}={os.environ[name]}" for name in ENVIRONMENT_VARIABLES
                          if name in os.environ) or "none set"
    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
    cpu = cpu_model() or platform.processor() or platform.machine()
    return "\n".join([
        f"# torch {torch.__version__} ({backend} backend: {'; '.join(libraries)})",
        f"# torch threads: {torch.get_num_threads()} intra-op, "
        f"{torch.get_num_interop_threads()} inter-op; {os.cpu_count()} CPUs "
        f"({cpu}; {torch.backends.cpu.get_cpu_capability()}), load average {load}; {cuda}",
        f"# environment: {variables}",
    ])


def cpu_model() -> str | None:
    """The CPU's model name (Linux), e.g. Intel Xeon or AMD EPYC: they differ in how
    slowly they compute with subnormal floats."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None
