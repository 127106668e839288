"""One model trained by two processes (DDP over gloo on the CPU).

Each process runs exactly the user's code (the same data, ``fit``) inside a
``torch.distributed`` group; the model must be the one a single process
trains, the same in both processes.
"""

import multiprocessing
import traceback
from datetime import timedelta

import numpy as np
import pytest
import torch.distributed as dist
from sklearn.datasets import make_classification, make_regression

from sknn import MLPClassifier, MLPRegressor

WORLD_SIZE = 2
pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason="needs torch.distributed with gloo")


def _data():
    # 101 rows in batches of 32: the last batch of 5 splits 3 + 2 over the
    # processes. 82 rows with 17 held out: 65 train, the last batch of 1
    # leaves process 1 without a row.
    X_reg, y_reg = make_regression(n_samples=101, n_features=5, noise=1.0, random_state=0)
    X_clf, y_clf = make_classification(n_samples=82, n_features=5, random_state=0)
    return X_reg, y_reg, X_clf, y_clf


def _fit(random_state):
    X_reg, y_reg, X_clf, y_clf = _data()
    regressor = MLPRegressor((8,), ensemble_size=1, batch_size=32, max_iter=12,
                             n_threads=1, random_state=random_state).fit(X_reg, y_reg)
    classifier = MLPClassifier((8,), ensemble_size=1, batch_size=32, max_iter=30,
                               early_stopping=True, validation_fraction=0.2,
                               n_iter_no_change=3, learning_rate_init=0.05,
                               n_threads=1, random_state=random_state).fit(X_clf, y_clf)
    return {
        "regressor_loss": np.array(regressor.loss_curve_),
        "regressor_prediction": regressor.predict(X_reg),
        "classifier_loss": np.array(classifier.loss_curve_),
        "classifier_scores": np.array(classifier.validation_scores_),
        "classifier_proba": classifier.predict_proba(X_clf),
    }


def _process(rank, store, results):
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank,
                            world_size=WORLD_SIZE, timeout=timedelta(seconds=60))
    try:
        # Process 1 leaves random_state unset: process 0's seed is used.
        results.put((rank, _fit(random_state=0 if rank == 0 else None)))
    except Exception:
        results.put((rank, traceback.format_exc()))
    finally:
        dist.destroy_process_group()


def test_two_processes_train_the_single_process_model(tmp_path):
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [context.Process(target=_process, args=(rank, tmp_path / "store", results))
                 for rank in range(WORLD_SIZE)]
    for process in processes:
        process.start()
    by_rank = dict(results.get(timeout=120) for _ in processes)
    failures = [result for result in by_rank.values() if isinstance(result, str)]
    assert not failures, failures[0]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    single = _fit(random_state=0)
    for key, expected in single.items():
        # Both processes hold the same model ...
        np.testing.assert_array_equal(by_rank[0][key], by_rank[1][key], err_msg=key)
        # ... the one a single process trains, up to the order of float sums.
        np.testing.assert_allclose(by_rank[0][key], expected, rtol=1e-9, atol=1e-12,
                                   err_msg=key)
    # Early stopping stopped both at the same epoch, before max_iter.
    assert len(by_rank[0]["classifier_loss"]) < 30
