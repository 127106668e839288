"""Default fits of two revisions of sknn, interleaved in one run: same predictions, same time?

A refactoring that changes no behaviour must leave every default fit as it was:
the same predictions, bit for bit (same seed, same threads, the CPU), at the
same speed. This script checks out ``--before`` (a git revision) into a
temporary worktree and runs each fit in a fresh process against either
revision (``PYTHONPATH`` puts that revision's ``sknn`` first), alternating
before and after for every dataset, model and seed so that both see the same
machine. It prints the median fit time of each and their ratio, the score,
and whether the test predictions are identical.

Fits (data from ``../shared/data/tabular``, loaded as ``benchmarks/tabular.py``
does): ``MLPClassifier()`` on Adult (official split, accuracy), ``MLPRegressor()``
and ``TransformerRegressor()`` on California (80/20 split of the seed, RMSE).
Run from the project root::

    python benchmarks/revisions.py --before 4cb363f --seeds 2 --threads 1 --markdown
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import _environment

ROOT = Path(__file__).resolve().parents[1]
FITS = {  # name: (dataset, estimator)
    "MLP, Adult (accuracy)": ("adult", "MLPClassifier"),
    "MLP, California (RMSE)": ("california", "MLPRegressor"),
    "Transformer, California (RMSE)": ("california", "TransformerRegressor"),
}

ONE_FIT = r"""
import json, sys, time, warnings
import numpy as np
sys.path.insert(0, {benchmarks!r})
warnings.simplefilter("ignore")
import sknn
from sklearn.model_selection import train_test_split
from tabular import load_adult, load_california
dataset, estimator, seed, threads, out = {args!r}
if dataset == "adult":
    X_train, X_test, y_train, y_test = load_adult()
else:
    X, y = load_california()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=seed)
model = getattr(sknn, estimator)(random_state=seed, n_threads=threads)
start = time.perf_counter()
model.fit(X_train, y_train)
seconds = time.perf_counter() - start
predictions = model.predict(X_test)
np.save(out, predictions)
score = (float(np.mean(predictions == y_test)) if dataset == "adult"
         else float(np.sqrt(np.mean((predictions - y_test) ** 2))))
print(json.dumps({{"seconds": seconds, "score": score, "sknn": sknn.__file__}}))
"""


def run_fit(source: Path, dataset: str, estimator: str, seed: int, threads: int,
            out: Path) -> dict:
    code = ONE_FIT.format(benchmarks=str(ROOT / "benchmarks"),
                          args=(dataset, estimator, seed, threads, str(out)))
    env = {"PYTHONPATH": str(source), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, check=True, cwd=source)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git revision to compare with")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fits", nargs="+", default=list(FITS), choices=list(FITS))
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    print(_environment.describe_environment())
    with tempfile.TemporaryDirectory() as tmp:
        worktree = Path(tmp) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", str(worktree), args.before],
                       cwd=ROOT, check=True, capture_output=True)
        try:
            rows = compare(args, {"before": worktree, "after": ROOT}, Path(tmp))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)],
                           cwd=ROOT, check=False, capture_output=True)
    print_rows(rows, args)


def compare(args, sources: dict, tmp: Path) -> list:
    rows = []
    for name in args.fits:
        dataset, estimator = FITS[name]
        runs = {"before": [], "after": []}
        identical = True
        for seed in range(args.seeds):
            predictions = {}
            for label, source in sources.items():  # interleaved: before, after, ...
                out = tmp / f"{label}.npy"
                result = run_fit(source, dataset, estimator, seed, args.threads, out)
                assert Path(result["sknn"]).is_relative_to(source), result["sknn"]
                runs[label].append(result)
                predictions[label] = __import__("numpy").load(out)
            identical &= bool((predictions["before"] == predictions["after"]).all())
        rows.append((name, runs, identical))
    return rows


def print_rows(rows, args) -> None:
    print(f"\n{args.seeds} seeds, torch threads {args.threads}; medians of fit seconds\n")
    header = ("fit", "s before", "s after", "after/before", "score before", "score after",
              "same predictions")
    print("| " + " | ".join(header) + " |" if args.markdown else "\t".join(header))
    if args.markdown:
        print("|" + "---|" * len(header))
    for name, runs, identical in rows:
        seconds = {label: statistics.median(r["seconds"] for r in results)
                   for label, results in runs.items()}
        scores = {label: statistics.mean(r["score"] for r in results)
                  for label, results in runs.items()}
        cells = (name, f"{seconds['before']:.1f}", f"{seconds['after']:.1f}",
                 f"{seconds['after'] / seconds['before']:.2f}", f"{scores['before']:.4f}",
                 f"{scores['after']:.4f}", "yes" if identical else "NO")
        print("| " + " | ".join(cells) + " |" if args.markdown else "\t".join(cells))


if __name__ == "__main__":
    main()
