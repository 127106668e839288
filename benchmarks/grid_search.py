"""GridSearchCV over sknn's default MLP on Adult: how long a user waits (issue 17).

``GridSearchCV(MLPClassifier(), 4 candidates, cv=5)`` on Adult's official training
split (the raw CSV from ``../shared/data/tabular``), with ``n_jobs`` as a user would
set it on this machine: one worker per core. joblib's workers set
``OMP_NUM_THREADS`` to ``cores // n_jobs``, which sknn follows, so the cores are not
oversubscribed. Prints the wall time, the best parameters, the cross-validated and
the test accuracy.

Run from the project root::

    python benchmarks/grid_search.py --n-jobs 2
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import _environment  # the torch build, threads and load each figure depends on
import numpy as np
from tabular import load_adult

GRID = {"alpha": [1e-5, 1e-4], "learning_rate_init": [1e-3, 3e-3]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-jobs", type=int, default=os.cpu_count())
    parser.add_argument("--cv", type=int, default=5)
    args = parser.parse_args(argv)
    print(_environment.describe_environment(), flush=True)
    from sklearn.model_selection import GridSearchCV

    from sknn import MLPClassifier

    X_train, X_test, y_train, y_test = load_adult()
    search = GridSearchCV(MLPClassifier(random_state=0), GRID, cv=args.cv,
                          n_jobs=args.n_jobs)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    fits = len(search.cv_results_["params"]) * args.cv + 1
    print(f"GridSearchCV({len(search.cv_results_['params'])} candidates, cv={args.cv}, "
          f"n_jobs={args.n_jobs}): {fits} fits in {seconds:.0f} s wall "
          f"({seconds / 60:.1f} min); median fit "
          f"{np.median(search.cv_results_['mean_fit_time']):.1f} s in a worker")
    print(f"best {search.best_params_}: cross-validated accuracy "
          f"{search.best_score_:.4f}, test accuracy {search.score(X_test, y_test):.4f}")


if __name__ == "__main__":
    main()
