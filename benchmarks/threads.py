"""Why the same fit ran 7-11x slower on another machine: OpenMP threads that spin (issue 17).

Trains sknn's default ``MLPClassifier`` on Adult's training set for 4 epochs, each
configuration in a fresh process: 2 torch threads with libgomp's default wait
policy (waiting threads spin for a while before they sleep), 2 threads with
``OMP_WAIT_POLICY=PASSIVE`` (they sleep at once), 1 thread, and ``n_threads=None``
(sknn's default: torch's thread count, less the cores other processes keep busy
when the training is large); each on the machine as it is and next to a busy
process holding one core (what a shared machine, or a second job, does).
Configurations are interleaved over the repeats; the table gives the median
seconds per epoch.

Run from the project root::

    python benchmarks/threads.py --repeats 2 --markdown
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

import _environment  # the torch build, threads and load each figure depends on

CHILD = """
import json, os, sys, warnings
{policy}
import sknn, torch
sys.path.insert(0, "benchmarks")
from tabular import load_adult
X, _, y, _ = load_adult()
warnings.simplefilter("ignore")
model = sknn.MLPClassifier(max_iter=4, early_stopping=False, random_state=0, n_threads={threads})
model.fit(X, y)
print(json.dumps([float(d) for d in model.net_.history[:, "dur"]]))
"""
PASSIVE = "os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'"
CONFIGS = {
    "2 threads, libgomp's default wait policy": ("", 2),
    "2 threads, OMP_WAIT_POLICY=PASSIVE": (PASSIVE, 2),
    "1 thread": ("", 1),
    "n_threads=None (sknn's default)": ("", None),
}
BUSY = "while True: pass"


def epoch_seconds(policy: str, threads: int | None) -> float:
    code = CHILD.format(policy=policy, threads=threads)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return statistics.median(json.loads(out.strip().splitlines()[-1]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    print(_environment.describe_environment(), flush=True)
    times = {}
    for _ in range(args.repeats):
        for busy in (False, True):
            neighbour = subprocess.Popen([sys.executable, "-c", BUSY]) if busy else None
            try:
                for name, (policy, threads) in CONFIGS.items():
                    seconds = epoch_seconds(policy, threads)
                    times.setdefault((name, busy), []).append(seconds)
                    print(f"{name}, {'busy neighbour' if busy else 'alone'}: "
                          f"{seconds:.2f} s per epoch", flush=True)
            finally:
                if neighbour is not None:
                    neighbour.kill()
    print("| configuration | s per epoch, alone | s per epoch, one core busy |")
    print("|---|---:|---:|")
    for name in CONFIGS:
        alone, busy = (statistics.median(times[name, b]) for b in (False, True))
        print(f"| {name} | {alone:.2f} | {busy:.2f} |")


if __name__ == "__main__":
    main()
