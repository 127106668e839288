"""glibc's malloc thresholds: sknn's setting against glibc's defaults (issue 17, item 5).

sknn sets glibc's trim and mmap thresholds to 64 and 32 MiB once per process
(``sknn/_core/_memory.py``), so that the activations each prediction batch
frees are reused rather than handed back to the kernel and faulted in again.
The setting lasts for the process, so each configuration runs in its own child
process, alternating, ``--rounds`` times: a default fit of the dataset, then
``predict_proba`` (``predict``) on its test set ``--repeats`` times. The table
gives medians over the rounds of the fit time, of each child's median predict
time and of its page faults per prediction.

Run from the project root::

    python benchmarks/allocator.py --markdown
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import warnings

import _environment  # the torch build, threads and load each figure depends on


def child(dataset: str, allocator: str, repeats: int) -> dict:
    import tabular

    import sknn

    if allocator == "glibc defaults":
        sknn.set_config(keep_freed_memory=False)  # before the first fit: glibc's own
    from sknn import MLPClassifier, MLPRegressor

    if dataset == "adult":
        X_train, X_test, y_train, _ = tabular.load_adult()
        model, predict = MLPClassifier(random_state=0), "predict_proba"
    else:
        from sklearn.model_selection import train_test_split

        X, y = tabular.load_california()
        X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=0)
        model, predict = MLPRegressor(random_state=0), "predict"
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    getattr(model, predict)(X_test)
    seconds = []
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(repeats):
        start = time.perf_counter()
        getattr(model, predict)(X_test)
        seconds.append(time.perf_counter() - start)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / repeats
    return {"fit_s": fit_seconds, "predict_s": statistics.median(seconds),
            "rows_per_s": len(X_test) / statistics.median(seconds), "faults": faults}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["adult", "california"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child, args.repeats)))
        return
    print(_environment.describe_environment(), flush=True)
    allocators = ["sknn (64/32 MiB)", "glibc defaults"]
    runs: dict[tuple, list[dict]] = {}
    for _ in range(args.rounds):
        for dataset in args.datasets:
            for allocator in allocators:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", dataset, allocator,
                     "--repeats", str(args.repeats)],
                    capture_output=True, text=True, check=True).stdout
                runs.setdefault((dataset, allocator), []).append(
                    json.loads(out.strip().splitlines()[-1]))
                print(dataset, allocator, runs[(dataset, allocator)][-1], flush=True)
    if args.markdown:
        print("| dataset | malloc thresholds | rounds | median fit s | median predict s "
              "| rows/s | page faults per prediction |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for (dataset, allocator), results in runs.items():
            def median(key, results=results):
                return statistics.median(r[key] for r in results)
            print(f"| {dataset} | {allocator} | {len(results)} | {median('fit_s'):.1f} "
                  f"| {median('predict_s'):.3f} | {median('rows_per_s'):,.0f} "
                  f"| {median('faults'):,.0f} |")


if __name__ == "__main__":
    main()
