"""Hyperparameter searches on a dask.distributed cluster (joblib's dask backend).

A real ``LocalCluster`` of two single-threaded worker processes runs the
searches; each must give exactly the results of the same search run with
``n_jobs=1`` in this process.
"""

import os

import joblib
import numpy as np
import pytest
import torch
from scipy.stats import loguniform
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from skorch.callbacks import Callback

from sknn import MLPClassifier, MLPRegressor
from sknn._core._device import default_n_threads, gpu_for_worker, worker_index

distributed = pytest.importorskip(
    "distributed", reason="needs dask.distributed (pip install 'dask[distributed]')"
)

# Everything compared between the cluster and the serial search.
COMPARED_RESULTS = ("mean_test_score", "split0_test_score", "split1_test_score",
                    "rank_test_score")


@pytest.fixture(scope="module")
def client():
    """A two-process cluster on this machine, one thread per worker."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as dask_client:
            yield dask_client


def _run_search(search, X, y, backend):
    with joblib.parallel_config(backend=backend):
        return search.fit(X, y)


def _assert_same_results(on_cluster, serial):
    for key in COMPARED_RESULTS:
        np.testing.assert_array_equal(on_cluster.cv_results_[key],
                                      serial.cv_results_[key], err_msg=key)
    assert on_cluster.cv_results_["params"] == serial.cv_results_["params"]
    assert on_cluster.best_params_ == serial.best_params_
    assert on_cluster.best_score_ == serial.best_score_


def _search_on_cluster_and_serially(client, make_search, X, y, monkeypatch):
    """Fit ``make_search(n_jobs)`` on the cluster, then serially in this process."""
    with distributed.get_task_stream(client) as tasks:
        on_cluster = _run_search(make_search(n_jobs=-1), X, y, backend="dask")
    workers = {task["worker"] for task in tasks.data}
    assert workers and workers <= set(client.scheduler_info()["workers"])
    # The cluster's workers train with one torch thread (dask's nannies set
    # OMP_NUM_THREADS=1); so does this process for the comparison.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    serial = _run_search(make_search(n_jobs=1), X, y, backend="loky")
    return on_cluster, serial


def test_grid_search_on_dask_cluster_equals_serial_search(client, monkeypatch):
    X, y = make_classification(n_samples=120, n_features=6, random_state=0)

    def make_search(n_jobs):
        estimator = MLPClassifier(hidden_layer_sizes=(8,), ensemble_size=1, max_iter=8,
                                  random_state=0)
        grid = {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 3e-2]}
        return GridSearchCV(estimator, grid, cv=2, n_jobs=n_jobs)

    on_cluster, serial = _search_on_cluster_and_serially(client, make_search, X, y,
                                                         monkeypatch)
    _assert_same_results(on_cluster, serial)
    assert len(on_cluster.cv_results_["params"]) == 4
    np.testing.assert_array_equal(on_cluster.predict(X), serial.predict(X))


def test_randomized_search_on_dask_cluster_equals_serial_search(client, monkeypatch):
    X, y = make_regression(n_samples=100, n_features=5, noise=1.0, random_state=0)

    def make_search(n_jobs):
        estimator = MLPRegressor(hidden_layer_sizes=(8,), ensemble_size=1, max_iter=8,
                                 random_state=0)
        distributions = {"alpha": loguniform(1e-5, 1e-1),
                         "learning_rate_init": loguniform(1e-3, 3e-2)}
        return RandomizedSearchCV(estimator, distributions, n_iter=3, cv=2,
                                  random_state=0, n_jobs=n_jobs)

    on_cluster, serial = _search_on_cluster_and_serially(client, make_search, X, y,
                                                         monkeypatch)
    _assert_same_results(on_cluster, serial)


class _RecordThreads(Callback):
    """Record torch's thread count at every epoch of a fit."""

    def initialize(self):
        self.threads_ = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.threads_.append(torch.get_num_threads())


def _torch_threads_during_fit(omp_num_threads):
    """Fit on a dask worker with ``OMP_NUM_THREADS`` as given (None: unset)."""
    previous = os.environ.pop("OMP_NUM_THREADS", None)
    if omp_num_threads is not None:
        os.environ["OMP_NUM_THREADS"] = omp_num_threads
    try:
        recorder = _RecordThreads()
        X, y = make_regression(n_samples=40, n_features=3, random_state=0)
        MLPRegressor((4,), ensemble_size=1, max_iter=2, random_state=0,
                     callbacks=[recorder]).fit(X, y)
        return default_n_threads(), set(recorder.threads_)
    finally:
        os.environ.pop("OMP_NUM_THREADS", None)
        if previous is not None:
            os.environ["OMP_NUM_THREADS"] = previous


@pytest.mark.parametrize("omp_num_threads", [None, "1", "2"])
def test_dask_worker_threads(client, omp_num_threads):
    """A single-threaded dask worker gives torch one thread unless told otherwise.

    Dask's nannies set OMP_NUM_THREADS=1; without it (dask-worker --no-nanny,
    a changed dask config), sknn still gives each task one thread; an explicit
    value wins.
    """
    futures = [client.submit(_torch_threads_during_fit, omp_num_threads, pure=False,
                             workers=[address])
               for address in client.scheduler_info()["workers"]]
    expected = 1 if omp_num_threads is None else int(omp_num_threads)
    assert client.gather(futures) == [(expected, {expected})] * 2


def test_dask_workers_get_different_gpus(client):
    """With device='auto', the two workers would train on different GPUs of two."""
    futures = [client.submit(worker_index, pure=False, workers=[address])
               for address in client.scheduler_info()["workers"]]
    indices = client.gather(futures)
    assert sorted(indices) == [0, 1]  # LocalCluster's worker names
    assert {gpu_for_worker(2, index) for index in indices} == {0, 1}
