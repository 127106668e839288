"""Data larger than memory: memory-mapped X, chunks through partial_fit, Parquet files."""

import gc
import json
import os
import subprocess
import sys
import weakref

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import record_batch_sizes
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import SGDClassifier

from sknn import CNNClassifier, MLPClassifier, MLPRegressor, TransformerRegressor
from sknn._core import _data as data_module
from sknn._core._data import EncodedRows, TensorData, encoder_sample, is_memory_mapped
from sknn.stream import fit_batches, iter_parquet

FAST = {"device": "cpu", "hidden_layer_sizes": (16,), "batch_size": 32,
        "learning_rate_init": 0.01, "max_iter": 4, "random_state": 0, "ensemble_size": 1}


@pytest.fixture(autouse=True)
def stream_small_memmaps(monkeypatch):
    """Read even the small memmaps of these tests from disk, as large ones are."""
    monkeypatch.setattr(data_module, "STREAM_MIN_BYTES", 0)


def to_memmap(array, path):
    """``array`` written to ``path`` and opened again read-only, as a memmap."""
    written = np.lib.format.open_memmap(path, mode="w+", dtype=array.dtype,
                                        shape=array.shape)
    written[:] = array
    written.flush()
    del written
    return np.load(path, mmap_mode="r")


def spy_on_batches(monkeypatch):
    """Record the number of rows of every block EncodedRows reads from disk."""
    return record_batch_sizes(monkeypatch, EncodedRows, "take")


# -- memory-mapped X ----------------------------------------------------------------
def test_memory_mapped_arrays_are_recognized(tmp_path):
    X = np.arange(12.0).reshape(4, 3)
    mapped = to_memmap(X, tmp_path / "x.npy")
    assert is_memory_mapped(mapped)
    assert is_memory_mapped(np.asarray(mapped)[1:, :2])  # views, as validation returns
    assert is_memory_mapped(np.memmap(tmp_path / "raw.dat", mode="w+", shape=(2,)))
    assert not is_memory_mapped(X)
    assert not is_memory_mapped(np.array(mapped))  # a copy lives in memory
    assert not is_memory_mapped(pd.DataFrame(X))


def test_small_memmaps_are_loaded_and_large_ones_stay_on_disk(tmp_path, monkeypatch):
    X, y = make_classification(200, 4, random_state=0)
    mapped = to_memmap(X, tmp_path / "x.npy")
    monkeypatch.setattr(data_module, "STREAM_MIN_BYTES", X.nbytes + 1)
    assert not data_module.stays_on_disk(mapped)
    sizes = spy_on_batches(monkeypatch)
    MLPClassifier(**FAST).fit(mapped, y).predict(mapped)
    assert sizes == []  # loaded and encoded once, as an in-memory array
    monkeypatch.setattr(data_module, "STREAM_MIN_BYTES", X.nbytes)
    assert data_module.stays_on_disk(mapped) and not data_module.stays_on_disk(X)
    MLPClassifier(**FAST).fit(mapped, y)
    assert max(sizes) == 32


def test_encoded_rows_read_in_file_order_and_return_the_asked_order():
    source = np.arange(40.0).reshape(10, 4)
    read = []

    def encode(block):
        read.append(block[:, 0] // 4)
        return block * 2

    rows = EncodedRows(source, encode, dtype=np.float32)
    assert rows.shape == (10, 4) and len(rows) == 10 and rows.dtype == np.float32
    wanted = np.array([7, 2, 9, 0, 2])
    batch = rows.take(wanted)
    assert_array_equal(read[-1], np.sort(wanted))  # one sorted read
    assert_array_equal(batch, (source[wanted] * 2).astype(np.float32))
    assert batch.dtype == np.float32 and batch.flags.writeable
    assert_array_equal(rows.take(slice(3, 5)), source[3:5] * 2)


def test_encoder_sample_takes_all_rows_of_small_data_and_a_bounded_sample_else():
    assert encoder_sample((500, 10), seed=0) == slice(None)
    sample = encoder_sample((10**6, 50), seed=0)
    low, high = data_module.ENCODER_SAMPLE_ROWS
    assert len(sample) == min(high, max(low, data_module.ENCODER_SAMPLE_VALUES // 50))
    assert np.all(np.diff(sample) > 0) and sample[-1] < 10**6  # sorted, unique
    assert_array_equal(sample, encoder_sample((10**6, 50), seed=0))
    assert len(encoder_sample((10**6, 10**6), seed=0)) == low  # wide rows: the floor


@pytest.mark.parametrize("early_stopping", [False, True])
def test_memmap_fit_equals_in_memory_fit_and_reads_minibatches(tmp_path, monkeypatch,
                                                               early_stopping):
    X, y = make_classification(1200, 6, random_state=0)
    X[::7, 2] = np.nan  # missing values: indicator columns
    X = X.astype(np.float32)
    params = dict(FAST, early_stopping=early_stopping)  # default quantile + embedding
    in_memory = MLPClassifier(**params).fit(X, y)
    mapped = to_memmap(X, tmp_path / "x.npy")
    sizes = spy_on_batches(monkeypatch)
    clf = MLPClassifier(**params).fit(mapped, y)
    # Every epoch read in minibatches; a held-out set is predicted in one batch.
    assert sizes.count(32) >= 4 * (1080 // 32)
    assert max(sizes) == (120 if early_stopping else 32)
    sizes.clear()
    proba = clf.predict_proba(mapped)
    assert sizes and sum(sizes) == len(X)
    assert_array_equal(proba, in_memory.predict_proba(X))
    assert clf.loss_curve_ == in_memory.loss_curve_
    assert_array_equal(clf.encoder_.indicator_index, [2])


def test_memmap_regression_and_images_equal_in_memory(tmp_path):
    X, y = make_regression(300, 5, noise=1.0, random_state=0)
    mapped = to_memmap(X, tmp_path / "x.npy")
    for estimator in (MLPRegressor(**FAST), TransformerRegressor(
            device="cpu", max_iter=2, random_state=0, n_blocks=1, d_token=16)):
        assert_array_equal(clone(estimator).fit(mapped, y).predict(mapped),
                           clone(estimator).fit(X, y).predict(X))
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, size=(80, 1, 8, 8)).astype(np.uint8)
    labels = (images[:, 0, :4].mean(axis=(1, 2)) > 127).astype(int)
    mapped_images = to_memmap(images, tmp_path / "images.npy")
    cnn = CNNClassifier(device="cpu", max_iter=2, random_state=0, batch_size=16)
    assert_array_equal(clone(cnn).fit(mapped_images, labels).predict_proba(mapped_images),
                       clone(cnn).fit(images, labels).predict_proba(images))


def test_memmap_partial_fit_and_warm_start_continue_on_disk(tmp_path, monkeypatch):
    X, y = make_classification(400, 5, random_state=0)
    mapped = to_memmap(X, tmp_path / "x.npy")
    sizes = spy_on_batches(monkeypatch)
    clf = MLPClassifier(**FAST).partial_fit(mapped, y, classes=[0, 1])
    clf.partial_fit(mapped, y)
    assert clf.n_iter_ == 2 and max(sizes) == 32
    reference = MLPClassifier(**FAST).partial_fit(X, y, classes=[0, 1]).partial_fit(X, y)
    assert_array_equal(clf.predict_proba(X), reference.predict_proba(X))


def test_large_memmap_encoding_is_learned_from_a_sample(tmp_path, monkeypatch):
    monkeypatch.setattr(data_module, "ENCODER_SAMPLE_ROWS", (200, 200))
    X, y = make_classification(2000, 5, random_state=0)
    mapped = to_memmap(X, tmp_path / "x.npy")
    params = dict(FAST, numeric_transform="standard", numeric_embedding=None)
    clf = MLPClassifier(**params).fit(mapped, y)
    full = MLPClassifier(**params).fit(X, y)
    sample = X[encoder_sample(X.shape, clf._seed())]
    assert_allclose(clf.encoder_.scaler.mean, sample.mean(axis=0))  # the sample's
    assert not np.allclose(clf.encoder_.scaler.mean, full.encoder_.scaler.mean)
    assert clf.score(mapped, y) > full.score(X, y) - 0.05


MEMORY_SCRIPT = r"""
import json, sys, threading, time, tracemalloc
import numpy as np
from sknn import MLPClassifier

def anonymous_bytes():
    # Resident memory not backed by a file: the mapped file's pages are excluded.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024

class PeakSampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.baseline = self.peak = anonymous_bytes()
        self.running = True
    def run(self):
        while self.running:
            self.peak = max(self.peak, anonymous_bytes())
            time.sleep(0.002)
    def growth(self):
        self.running = False
        self.join()
        return max(self.peak, anonymous_bytes()) - self.baseline

path, n_rows, n_features = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
weights = rng.normal(size=n_features).astype(np.float32)
file = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                 shape=(n_rows, n_features))
y = np.empty(n_rows, dtype=np.int64)
for start in range(0, n_rows, 20_000):
    block = rng.random((min(20_000, n_rows - start), n_features), dtype=np.float32)
    file[start:start + len(block)] = block
    y[start:start + len(block)] = block @ weights > weights.sum() / 2
del file
X = np.load(path, mmap_mode="r")
params = dict(hidden_layer_sizes=(16,), ensemble_size=1, numeric_embedding=None,
              numeric_transform="standard", batch_size=4096, max_iter=1,
              random_state=0, device="cpu", n_threads=1)
MLPClassifier(**params).fit(X[:5000], y[:5000]).predict(X[:5000])  # lazy imports
tracemalloc.start()
sampler = PeakSampler()
sampler.start()
started = time.perf_counter()
clf = MLPClassifier(**params, early_stopping=True).fit(X, y)
fitted = time.perf_counter()
accuracy = float((clf.predict(X) == y).mean())
predicted = time.perf_counter()
print(json.dumps({
    "anonymous_growth": sampler.growth(),
    "traced_peak": tracemalloc.get_traced_memory()[1],
    "file_bytes": X.nbytes, "accuracy": accuracy,
    "fit_s": fitted - started, "predict_s": predicted - fitted,
    "epochs": clf.n_iter_, "validation": clf.validation_scores_ is not None,
}))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"),
                    reason="reads anonymous memory from Linux's /proc")
def test_memmap_of_300_mb_trains_and_predicts_in_bounded_memory(tmp_path):
    """Fit and predict on a 300 MB memmap; peak memory stays far below the file."""
    n_rows, n_features = 300_000, 250  # float32: 300 MB
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(tmp_path / "x.npy"), str(n_rows),
         str(n_features)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    file_bytes = figures["file_bytes"]
    assert file_bytes == n_rows * n_features * 4
    assert figures["epochs"] == 1 and figures["validation"]
    assert figures["accuracy"] > 0.8, figures
    # One float32 copy of X would be 300 MB and the float64 encoding 600 MB.
    assert figures["anonymous_growth"] < file_bytes / 4, figures
    assert figures["traced_peak"] < file_bytes / 4, figures


# -- iterables of chunks --------------------------------------------------------------
@pytest.fixture
def chunks():
    X, y = make_classification(1200, 6, random_state=0)
    return [(X[i:i + 300], y[i:i + 300]) for i in range(0, 1200, 300)]


def test_fit_batches_equals_partial_fit_calls_and_reads_again_each_epoch(chunks):
    streamed = fit_batches(MLPClassifier(**FAST), chunks, classes=[0, 1], n_epochs=2)
    reference = MLPClassifier(**FAST)
    for _ in range(2):
        for X, y in chunks:
            reference.partial_fit(X, y, classes=[0, 1])
    assert streamed.n_iter_ == reference.n_iter_ == 8
    X_all = np.vstack([X for X, _ in chunks])
    assert_array_equal(streamed.predict_proba(X_all), reference.predict_proba(X_all))
    calls = []

    def factory():
        calls.append(1)
        return iter(chunks)

    fit_batches(MLPClassifier(**FAST), factory, classes=[0, 1], n_epochs=3)
    assert len(calls) == 3


def test_fit_batches_learns_as_well_as_fit_in_memory(chunks):
    X_all = np.vstack([X for X, _ in chunks])
    y_all = np.concatenate([y for _, y in chunks])
    params = dict(FAST, max_iter=10, early_stopping=False)
    streamed = fit_batches(MLPClassifier(**params), chunks, classes=[0, 1], n_epochs=10)
    in_memory = MLPClassifier(**params).fit(X_all, y_all)
    assert streamed.score(X_all, y_all) > in_memory.score(X_all, y_all) - 0.03
    weighted = [(X, y, np.full(len(y), 2.0)) for X, y in chunks]
    linear = fit_batches(SGDClassifier(random_state=0), weighted, classes=[0, 1])
    assert linear.score(X_all, y_all) > 0.7  # any estimator with partial_fit


def test_fit_batches_keeps_one_chunk_in_memory_at_a_time():
    X, y = make_regression(1000, 4, random_state=0)
    alive = []

    def read_chunk(start):
        chunk_X = X[start:start + 250].copy()
        refs.append(weakref.ref(chunk_X))
        return chunk_X, y[start:start + 250]

    def chunk_stream():  # keeps no reference to the chunks it yields
        for start in range(0, 1000, 250):
            gc.collect()
            alive.append(sum(ref() is not None for ref in refs))
            yield read_chunk(start)

    refs = []
    fit_batches(MLPRegressor(**FAST), chunk_stream())
    assert alive == [0, 0, 0, 0]  # the previous chunk was released before the next


def test_fit_batches_errors(chunks):
    with pytest.raises(ValueError, match="fit_batches: n_epochs=2 needs chunks that can "
                                         "be read again.*one-shot generator"):
        fit_batches(MLPClassifier(**FAST), (c for c in chunks), classes=[0, 1], n_epochs=2)
    with pytest.raises(TypeError, match=r"fit_batches: each chunk must be a tuple \(X, y\) "
                                        r"or \(X, y, sample_weight\); chunk 2 is a ndarray"):
        fit_batches(MLPClassifier(**FAST), [chunks[0], chunks[1][0]], classes=[0, 1])
    with pytest.raises(TypeError, match="chunk 1 is a 4-tuple"):
        fit_batches(MLPClassifier(**FAST), [(*chunks[0], None, None)], classes=[0, 1])
    with pytest.raises(ValueError, match="fit_batches: batches held no chunk in epoch 1"):
        fit_batches(MLPClassifier(**FAST), [], classes=[0, 1])
    with pytest.raises(ValueError, match="fit_batches: classes is for classifiers; got "
                                         r"classes=\[0, 1\] with MLPRegressor"):
        fit_batches(MLPRegressor(**FAST), chunks, classes=[0, 1])
    with pytest.raises(ValueError, match="'n_epochs' parameter of fit_batches"):
        fit_batches(MLPClassifier(**FAST), chunks, n_epochs=0)
    with pytest.raises(ValueError, match="'estimator' parameter of fit_batches"):
        fit_batches(object(), chunks)
    with pytest.raises(ValueError, match=r"MLPClassifier.partial_fit needs classes=\.\.\."):
        fit_batches(MLPClassifier(**FAST), chunks)


# -- Parquet ----------------------------------------------------------------------------
@pytest.fixture
def parquet_file(tmp_path):
    pytest.importorskip("pyarrow")
    rng = np.random.RandomState(0)
    n_rows = 2000
    frame = pd.DataFrame({
        "x0": rng.normal(size=n_rows),
        "x1": rng.normal(size=n_rows),
        "city": rng.choice(["oslo", "rome", "lima"], size=n_rows),
    })
    shift = frame["city"].map({"oslo": -1.0, "rome": 0.0, "lima": 1.0})
    frame["label"] = (frame["x0"] + shift > 0).astype(int)
    path = tmp_path / "train.parquet"
    frame.to_parquet(path, row_group_size=700)
    return path, frame


def test_iter_parquet_yields_bounded_chunks_of_the_file(parquet_file):
    path, frame = parquet_file
    pieces = list(iter_parquet(path, "label", batch_size=300))
    assert max(len(X) for X, _ in pieces) == 300 and len(pieces) > 2000 // 300
    X_all = pd.concat([X for X, _ in pieces], ignore_index=True)
    assert list(X_all.columns) == ["x0", "x1", "city"]
    assert_array_equal(X_all.to_numpy(), frame[["x0", "x1", "city"]].to_numpy())
    assert_array_equal(np.concatenate([y for _, y in pieces]), frame["label"])
    X, y = next(iter_parquet(str(path), columns=["city", "x1"], batch_size=10))
    assert y is None and list(X.columns) == ["city", "x1"] and len(X) == 10


def test_parquet_chunks_train_a_tabular_model_close_to_in_memory(parquet_file):
    path, frame = parquet_file
    params = dict(FAST, max_iter=8, early_stopping=False, batch_size=64)
    streamed = fit_batches(MLPClassifier(**params),
                           lambda: iter_parquet(path, "label", batch_size=500),
                           classes=[0, 1], n_epochs=8)
    assert streamed.encoder_.categorical_index == [2]  # city embedded
    X, y = frame.drop(columns="label"), frame["label"]
    in_memory = MLPClassifier(**params).fit(X, y)
    streamed_predictions = np.concatenate(
        [streamed.predict(chunk) for chunk, _ in iter_parquet(path, "label")])
    assert_array_equal(streamed_predictions, streamed.predict(X))
    assert streamed.score(X, y) > in_memory.score(X, y) - 0.03
    assert streamed.score(X, y) > 0.9


def test_iter_parquet_errors(parquet_file, monkeypatch):
    path, _ = parquet_file
    with pytest.raises(ValueError, match="iter_parquet: target='price' is not a column"):
        iter_parquet(path, "price")
    with pytest.raises(ValueError, match=r"iter_parquet: columns \['size'\] are not in"):
        iter_parquet(path, "label", columns=["x0", "size"])
    with pytest.raises(ValueError, match="iter_parquet: the target 'label' is also listed"):
        iter_parquet(path, "label", columns=["x0", "label"])
    with pytest.raises(ValueError, match="'batch_size' parameter of iter_parquet"):
        iter_parquet(path, "label", batch_size=0)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError, match=r"iter_parquet reads Parquet files with pyarrow, "
                                          r"which is not installed.*sknn\[parquet\]"):
        iter_parquet(path, "label")


def test_tensor_data_over_encoded_rows_delivers_tensors(tmp_path):
    mapped = to_memmap(np.arange(20.0).reshape(10, 2), tmp_path / "x.npy")
    rows = data_module.as_tensor(EncodedRows(mapped, lambda block: block * 1.0),
                                 device=torch.device("cpu"))
    assert isinstance(rows, EncodedRows) and rows.dtype == np.float32
    data = TensorData(rows, device="cpu")
    batches = list(data_module.BatchIterator(data, batch_size=4))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert_array_equal(np.vstack([b[0].numpy() for b in batches]), mapped)


def test_memmap_rows_are_encoded_with_subnormal_inputs_kept(tmp_path):
    # Training and prediction flush subnormal results, a flag NumPy obeys too; the
    # minibatches of a memmap are encoded inside them, and must be encoded as an
    # in-memory table is (a float32 value below 1.2e-38 is not zero).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3)).astype(np.float32)
    X[:, 0] = rng.uniform(0, 1e-38, len(X)).astype(np.float32)
    y = X[:, 0] * 1e38 + X[:, 1]
    reg = MLPRegressor(hidden_layer_sizes=(16,), numeric_transform="standard",
                       numeric_embedding=None, max_iter=5, random_state=0, n_threads=1,
                       ensemble_size=1).fit(X, y)
    mapped = to_memmap(X, tmp_path / "X.npy")
    assert_array_equal(reg.predict(mapped), reg.predict(X))
    from_disk = clone(reg).fit(mapped, y)
    assert_array_equal(from_disk.predict(X), clone(reg).fit(X, y).predict(X))
