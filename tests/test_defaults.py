"""The MLP's data-sized defaults: batch size, epochs, schedule, numeric embedding,
and the threads of large fits next to busy processes (issue 17)."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits

from sknn import MLPClassifier, MLPRegressor
from sknn._estimators._mlp import AUTO_EPOCH_BOUNDS, AUTO_TRAINING_ROWS


@pytest.mark.parametrize("n_train, batch_size", [
    (50, 50), (1_000, 128), (128_000, 128), (500_000, 500), (2_000_000, 1024)])
def test_auto_batch_size_grows_with_large_tables(n_train, batch_size):
    assert MLPClassifier()._training_plan(n_train).batch_size == batch_size


@pytest.mark.parametrize("n_train, epochs", [
    (1_000, 50), (29_305, 14), (14_860, 27), (200_000, 3), (1_000_000, 3)])
def test_auto_epochs_train_on_a_fixed_number_of_rows(n_train, epochs):
    assert MLPClassifier()._training_plan(n_train, batch_size=128).max_epochs == epochs
    low, high = AUTO_EPOCH_BOUNDS
    assert epochs == max(low, min(high, -(-AUTO_TRAINING_ROWS // n_train)))


def test_the_schedule_ends_a_fit_without_held_out_data():
    # 300 rows: no early stopping; the decaying schedule runs all its epochs
    # (a stall of the training loss does not cut it short).
    X, y = load_digits(return_X_y=True)
    model = MLPClassifier(hidden_layer_sizes=(16,), ensemble_size=1, n_threads=1,
                          random_state=0).fit(X[:300], y[:300])
    assert model.n_iter_ == AUTO_EPOCH_BOUNDS[1]
    assert model.net_.history[-1, "train_loss"] < model.net_.history[0, "train_loss"]


def test_auto_embedding_skips_few_valued_columns():
    # Pixel intensities 0-16: the bins would be a lookup table of the values.
    X, y = load_digits(return_X_y=True)
    model = MLPClassifier(max_iter=1, ensemble_size=1, n_threads=1).fit(X[:200], y[:200])
    assert model.encoder_.numeric_embedding is None
    assert model.encoder_.bin_edges is None


def test_auto_embedding_embeds_measurements():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.exponential(size=300),
                      "count": rng.integers(0, 5, 300), "kind": rng.choice(["x", "y"], 300)})
    y = X["a"].to_numpy() + rng.normal(size=300)
    model = MLPRegressor(max_iter=1, ensemble_size=1, n_threads=1).fit(X, y)
    assert model.encoder_.numeric_embedding == "piecewise_linear"  # 2 of 3 continuous
    assert len(model.encoder_.bin_edges) == 3


def test_an_explicit_embedding_is_kept_on_few_valued_columns():
    X, y = load_digits(return_X_y=True)
    model = MLPClassifier(max_iter=1, ensemble_size=1, n_threads=1,
                          numeric_embedding="piecewise_linear").fit(X[:200], y[:200])
    assert model.encoder_.numeric_embedding == "piecewise_linear"


def test_every_fit_and_prediction_leaves_the_cores_other_processes_use(monkeypatch):
    from sknn._core import _device

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(_device.torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(_device, "_allowed_cpus", lambda: [0, 1])
    monkeypatch.setattr(_device, "cpu_quota_cores", lambda: None)  # the machine's own
    waits = []

    def busy(cores):
        def reading(may_wait=False):
            waits.append(may_wait)
            return cores
        monkeypatch.setattr(_device.LOAD, "busy_cores_elsewhere", reading)

    busy(1.0)
    assert _device.default_n_threads(work_rows=10**6) == 1
    assert _device.default_n_threads(work_rows=1_000) == 1  # small fits look too
    assert _device.default_n_threads() == 1  # and predictions
    assert waits == [True, False, False]  # only large fits may wait for a fresh reading
    busy(0.2)
    assert _device.default_n_threads(work_rows=10**6) == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # an explicit setting wins
    busy(1.0)
    assert _device.default_n_threads(work_rows=10**6) == 2


@pytest.fixture
def cgroups(monkeypatch, tmp_path):
    """A cgroup tree under ``tmp_path``: ``write({relative path: text}, own=...)``
    writes its files and the process's /proc/self/cgroup, and reads the quota."""
    from sknn._core import _device

    root, own = tmp_path / "cgroup", tmp_path / "self_cgroup"
    monkeypatch.setattr(_device, "CGROUP_ROOT", str(root))
    monkeypatch.setattr(_device, "PROC_SELF_CGROUP", str(own))

    def write(files, own_cgroup="0::/\n"):
        import shutil

        shutil.rmtree(root, ignore_errors=True)
        for relative, text in files.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(text)
        own.write_text(own_cgroup)
        _device.cpu_quota_cores.cache_clear()
        return _device.cpu_quota_cores()

    yield write
    _device.cpu_quota_cores.cache_clear()


def test_a_cpu_quota_is_read_from_the_process_cgroup_and_its_parents(cgroups):
    assert cgroups({"cpu.max": "150000 100000\n"}) == 2  # v2: 1.5 cores, rounded up
    assert cgroups({"cpu.max": "max 100000\n"}) is None
    nested = {"a/cpu.max": "100000 100000\n", "a/b/cpu.max": "max 100000\n",
              "cpu.max": "max 100000\n"}
    assert cgroups(nested, own_cgroup="0::/a/b\n") == 1  # a parent's limit holds
    assert cgroups(nested, own_cgroup="0::/\n") is None  # another cgroup's does not
    v1 = {"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}
    assert cgroups(v1, own_cgroup="4:cpu,cpuacct:/\n") == 1
    assert cgroups({"cpu.max": "garbage\n", **v1}) == 1  # an unreadable v2 file: v1
    assert cgroups({"cpu/cpu.cfs_quota_us": "-1\n",
                    "cpu/cpu.cfs_period_us": "100000\n"}) is None
    assert cgroups({}) is None  # no cgroup files: no quota


def test_a_cpu_quota_caps_the_threads(monkeypatch, cgroups):
    from sknn._core import _device

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(_device.torch, "get_num_threads", lambda: 64)
    monkeypatch.setattr(_device.LOAD, "busy_cores_elsewhere", lambda may_wait=False: 0.0)
    cgroups({})
    assert _device.default_n_threads() == 64
    cgroups({"cpu.max": "200000 100000"})
    assert _device.default_n_threads() == 2


def test_the_load_counts_only_the_cpus_this_process_may_run_on(monkeypatch, tmp_path):
    from sknn._core import _device

    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal: busy = all but idle and iowait
    stat.write_text("cpu  400 0 0 400 0 0 0 0 0 0\n"
                    "cpu0 100 0 0 100 0 0 0 0 0 0\n"
                    "cpu1 100 0 50 100 0 0 0 0 0 0\n"
                    "cpu2 30 0 0 100 20 0 0 0 0 0\n"
                    "cpu3 170 0 0 100 0 0 0 0 0 0\n"
                    "intr 1 2 3\n")
    monkeypatch.setattr(_device, "PROC_STAT", str(stat))
    monkeypatch.setattr(_device.os, "cpu_count", lambda: 4)
    ticks = os.sysconf("SC_CLK_TCK")
    monkeypatch.setattr(_device.os, "sched_getaffinity", lambda pid: {1, 2})
    assert _device._busy_seconds() == pytest.approx((150 + 30) / ticks)
    monkeypatch.setattr(_device.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert _device._busy_seconds() == pytest.approx(400 / ticks)  # the first line


def _spinning_process():
    if not os.path.exists("/proc/stat"):
        pytest.skip("needs Linux's /proc/stat")
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def test_the_load_is_read_without_waiting():
    import time

    from sknn._core._device import LoadReadings

    busy = _spinning_process()
    try:
        time.sleep(0.3)  # the interpreter has started and spins
        readings = LoadReadings()
        time.sleep(0.3)
        start = time.perf_counter()
        cores = readings.busy_cores_elsewhere()
        assert time.perf_counter() - start < 0.01
        assert cores >= 0.5
    finally:
        busy.kill()


def test_a_large_fit_measures_afresh_when_the_last_reading_is_old(monkeypatch):
    import time

    from sknn._core import _device

    readings = _device.LoadReadings()
    if readings.busy_cores_elsewhere() is None:
        pytest.skip("needs Linux's /proc/stat")
    monkeypatch.setattr(_device, "LOAD_WINDOW_MAX_SECONDS", 0.0)  # every window is old
    start = time.perf_counter()
    readings.busy_cores_elsewhere(may_wait=False)
    assert time.perf_counter() - start < 0.01
    start = time.perf_counter()
    readings.busy_cores_elsewhere(may_wait=True)
    assert time.perf_counter() - start >= _device.SHARED_CHECK_SECONDS


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_read_its_parents_time_as_another_process_load():
    import warnings

    from sknn._core import _device

    if _device.LOAD.busy_cores_elsewhere() is None:
        pytest.skip("needs Linux's /proc/stat")
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork of a threaded process
        pid = os.fork()
    if pid == 0:  # the child, whose CPU time restarts at 0: report the reading's own time
        os.write(write, f"{_device.LOAD._last[2]} {_device._own_seconds()}".encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    last_own, own_now = map(float, os.read(read, 200).split())
    os.close(read)
    # Else the parent's CPU time until the last reading counts as another process's
    # load: busy cores beyond the machine's, and a child's first fit on one thread.
    assert last_own <= own_now


def test_busy_cores_elsewhere_sees_a_busy_process():
    from sknn._core._device import busy_cores_elsewhere

    busy = _spinning_process()
    try:
        import time

        time.sleep(0.3)  # the interpreter has started and spins
        assert busy_cores_elsewhere(0.2) >= 0.5
    finally:
        busy.kill()


def _table_transformer(n_numeric, n_categorical):
    """A TransformerClassifier whose fitted input is a table of these columns."""
    from sknn import TransformerClassifier

    rng = np.random.RandomState(0)
    frame = pd.DataFrame({f"x{j}": rng.rand(40) for j in range(n_numeric)}
                         | {f"c{j}": list("ab") * 20 for j in range(n_categorical)})
    return TransformerClassifier(d_token=8, n_heads=2, n_blocks=1, max_iter=1,
                                 n_threads=1, random_state=0).fit(frame, np.arange(40) % 2)


@pytest.mark.parametrize("n_numeric, n_categorical, n_train, epochs", [
    (6, 8, 29_305, 10),   # Adult: 15 tokens, 115 batches of 256
    (8, 0, 14_861, 20),   # California: 9 tokens, 59 batches
    (60, 0, 5_000, 58),   # wide: the 1,150-step floor, 20 batches
    (3, 0, 20_000, 32),   # few tokens: 4 tokens, 2,500 steps, 79 batches
    (2, 0, 987, 200),     # banknote, the suite's smallest: the 200-epoch bound
    (2, 0, 899, 30),      # under 900 rows: at most 30 epochs
    (2, 0, 112, 30),      # iris-sized
])
def test_transformer_tables_train_for_a_token_step_budget(n_numeric, n_categorical,
                                                            n_train, epochs):
    from sknn._estimators._transformer_architecture import (
        AUTO_SMALL_TABLE_MAX_EPOCHS,
        AUTO_SMALL_TABLE_ROWS,
        AUTO_TABLE_MIN_STEPS,
        AUTO_TABLE_TOKEN_STEPS,
    )

    model = _table_transformer(n_numeric, n_categorical).set_params(max_iter="auto")
    plan = model._training_plan(n_train)
    assert plan.max_epochs == epochs
    batch_size = plan.batch_size
    n_tokens = n_numeric + n_categorical + 1
    steps = max(AUTO_TABLE_MIN_STEPS, -(-AUTO_TABLE_TOKEN_STEPS // n_tokens))
    n_batches = -(-n_train // batch_size)
    high = AUTO_SMALL_TABLE_MAX_EPOCHS if n_train < AUTO_SMALL_TABLE_ROWS else 200
    assert epochs == max(10, min(high, -(-steps // n_batches)))


def test_transformer_attention_dropout_auto_is_none_on_tables_and_the_papers_elsewhere():
    from sknn import TransformerClassifier

    def dropouts(model):
        return {block.attention_dropout for block in model.net_.module_.blocks}

    assert dropouts(_table_transformer(2, 1)) == {0.0}
    series = np.random.RandomState(0).rand(20, 1, 12)
    model = TransformerClassifier(d_token=8, n_heads=2, max_iter=1, n_threads=1,
                                  random_state=0).fit(series, np.arange(20) % 2)
    assert dropouts(model) == {0.2}
    model.set_params(attention_dropout=0.1).fit(series, np.arange(20) % 2)
    assert dropouts(model) == {0.1}


def test_a_150_row_float64_table_resolves_these_epochs_and_dtypes():
    """What a default fit on iris trains: float64 but for the CNN and Transformer, and
    bounded epochs."""
    from sklearn.datasets import load_iris

    from sknn import CNNClassifier, RNNClassifier, TransformerClassifier
    from sknn._training._plan import resolve_dtype

    X, y = load_iris(return_X_y=True)
    cpu = torch.device("cpu")
    expected = {  # estimator: (dtype, batch size, epochs)
        MLPClassifier: (torch.float64, 128, 50),      # 400,000 rows / 150, at most 50
        CNNClassifier: (torch.float32, 15, 30),       # 4 values: at most 30 epochs
        RNNClassifier: (torch.float64, 32, 100),      # max_iter=100
        TransformerClassifier: (torch.float32, 16, 30),  # under 900 rows: 30
    }
    for estimator, (dtype, batch_size, epochs) in expected.items():
        model = estimator(max_iter=1, n_threads=1, random_state=0).fit(X[::5], y[::5])
        model.set_params(max_iter=estimator().max_iter)  # the default, resolved below
        assert resolve_dtype(model.dtype, X, cpu, model._auto_rules, None) == dtype
        plan = model._training_plan(len(X))
        assert (plan.batch_size, plan.max_epochs) == (batch_size, epochs), estimator.__name__
