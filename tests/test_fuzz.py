"""Property-based fuzzing: bad input never crashes an estimator (issue 9, item 5).

Every public estimator gets random data built from a valid base (a table, a
DataFrame, a series, an image batch or a list of variable-length sequences)
with random damage: shapes (0 or 1 row, 0 or 1 column, other
dimensionality), dtypes (int, uint8, bool, float16/32/64, complex, object,
strings), NaN, infinity, huge values, ragged lists, odd DataFrame columns, a
y of another length, with NaN or one class, bad sample weights, and a wrong X
at predict time (other feature count, column names or dimensionality). Each
call must either succeed correctly (finite predictions of the right shape,
valid probabilities) or raise a ValueError or TypeError (NotFittedError
included) whose message names the estimator: never another exception type,
a crash or a hang.

The default run is small and reproducible (``derandomize=True``): it prints
how many cases ran. ``SKNN_FUZZ_EXAMPLES=N`` runs N cases per estimator (a
long campaign, see benchmarks/RESULTS.md), ``SKNN_FUZZ_SEED=S`` draws other
cases, and ``SKNN_FUZZ_REPORT=path.json`` records the outcomes and the
distinct errors.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge

import sknn
from sknn import (
    AutoencoderTransformer,
    CNNClassifier,
    CNNRegressor,
    MLPClassifier,
    MLPRegressor,
    ResNetClassifier,
    ResNetRegressor,
    RNNClassifier,
    RNNRegressor,
)
from sknn._core._task import RegressionTask

EXAMPLES = int(os.environ.get("SKNN_FUZZ_EXAMPLES", "40"))
SEED = os.environ.get("SKNN_FUZZ_SEED")
REPORT = os.environ.get("SKNN_FUZZ_REPORT")
# Generous for a loaded 2-core CI machine: the tiny fits take tens of milliseconds.
DEADLINE = timedelta(seconds=20)
# A call still running after this long is a hang: fail it rather than block the run.
HANG_SECONDS = 120

COMMON = {"max_iter": 2, "random_state": 0, "device": "cpu", "n_threads": 1}
MLP = {**COMMON, "hidden_layer_sizes": (4,), "ensemble_size": 2}
CNN = {**COMMON, "n_filters": (2,), "kernel_size": 3}
RNN = {**COMMON, "hidden_size": 4}
TRANSFORMER = {**COMMON, "d_token": 4, "n_heads": 1, "n_blocks": 1}
RESNET = {**COMMON, "width": 4, "n_blocks": 1}
STUDENT = {**MLP, "ensemble_size": 1}

TABLE, FRAME, SERIES, IMAGE, SEQUENCES = "table", "frame", "series", "image", "sequences"


@dataclass(frozen=True)
class Spec:
    """An estimator under fuzzing: how to make it and the layouts of X it reads."""

    make: object
    layouts: tuple
    kind: str  # 'classifier', 'regressor' or 'transformer'


SPECS = {
    "MLPClassifier": Spec(lambda: MLPClassifier(**MLP), (TABLE, FRAME), "classifier"),
    "MLPRegressor": Spec(lambda: MLPRegressor(**MLP), (TABLE, FRAME), "regressor"),
    "ResNetClassifier": Spec(lambda: ResNetClassifier(**RESNET), (TABLE, FRAME), "classifier"),
    "ResNetRegressor": Spec(lambda: ResNetRegressor(**RESNET), (TABLE, FRAME), "regressor"),
    "CNNClassifier": Spec(lambda: CNNClassifier(**CNN), (TABLE, SERIES, IMAGE), "classifier"),
    "CNNRegressor": Spec(lambda: CNNRegressor(**CNN), (TABLE, SERIES, IMAGE), "regressor"),
    "RNNClassifier": Spec(lambda: RNNClassifier(**RNN), (TABLE, SERIES, SEQUENCES),
                          "classifier"),
    "RNNRegressor": Spec(lambda: RNNRegressor(**RNN), (TABLE, SERIES, SEQUENCES), "regressor"),
    "TransformerClassifier": Spec(lambda: sknn.TransformerClassifier(**TRANSFORMER),
                                  (TABLE, FRAME, SERIES), "classifier"),
    "TransformerRegressor": Spec(lambda: sknn.TransformerRegressor(**TRANSFORMER),
                                 (TABLE, FRAME, SERIES), "regressor"),
    "DistilledClassifier": Spec(
        lambda: sknn.DistilledClassifier(MLPClassifier(**STUDENT), LogisticRegression(),
                                         fit_teacher=True), (TABLE,), "classifier"),
    "DistilledRegressor": Spec(
        lambda: sknn.DistilledRegressor(MLPRegressor(**STUDENT), Ridge(), fit_teacher=True),
        (TABLE,), "regressor"),
    "AutoencoderTransformer": Spec(
        lambda: AutoencoderTransformer(n_components=2, hidden_layer_sizes=(4,), max_iter=2,
                                       random_state=0, device="cpu", n_threads=1),
        (TABLE,), "transformer"),
}

# -- what can go wrong ----------------------------------------------------------------
VALUES = ("nan", "inf", "-inf", "huge", "-huge", "1e30", "float32_max", "zeros", "constant",
          "big_int", "tiny")
DTYPES = ("int64", "uint8", "bool", "float16", "float32", "float64", "complex128", "object",
          "str", "words", "object_mixed")
SHAPES = ("rows0", "rows1", "rows2", "cols0", "cols1", "flat", "add_axis", "drop_axis", "5d",
          "scalar")
CONTAINERS = ("list", "tuple", "ragged", "frame", "polars", "csr", "coo", "none", "string",
              "dict")
COLUMNS = ("int_names", "mixed_names", "duplicate_names", "nullable_int", "datetime",
           "tz_datetime", "timedelta", "string_dtype", "all_nan", "nullable_bool",
           "category_nan", "object_numbers", "one_level")
SEQUENCE_DAMAGE = ("channel_mismatch", "empty_sequence", "nested_deeper")
PREDICT_CHANGES = ("same", "new_rows", "features+1", "features-1", "channels", "names",
                   "frame_to_array", "array_to_frame", "flat", "add_axis", "drop_axis",
                   "longer", "sequences")
# Valid targets first, then broken ones; cases draw valid ones two times in three.
Y_KINDS = {
    "classifier": (("binary", "multiclass", "strings", "bool", "float_labels", "multilabel",
                    "column", "object", "series"),
                   ("one_class", "continuous", "multioutput", "nan", "inf", "none", "mixed",
                    "object_none", "frame2")),
    "regressor": (("continuous", "outputs2", "int", "bool", "constant", "column", "object",
                   "series", "huge"),
                  ("nan", "inf", "strings", "none", "complex", "object_none")),
    "transformer": (("none",), ("continuous",)),
}
Y_DAMAGE = ("length+1", "length-1", "empty", "scalar", "3d")
WEIGHTS = ("nan", "inf", "negative", "zeros", "huge", "length", "ints", "scalar", "2d")


@dataclass
class Case:
    """One drawn fuzz case: the base data and the damage done to it."""

    layout: str
    n_rows: int
    dims: tuple
    seed: int
    x_damage: list = field(default_factory=list)
    y_kind: str = "binary"
    y_damage: list = field(default_factory=list)
    weights: str | None = None
    predict_change: str = "same"
    predict_damage: list = field(default_factory=list)
    partial_fit: bool = False
    float32: bool = False


DAMAGE = st.one_of(
    st.sampled_from(VALUES).map(lambda d: ("value", d)),
    st.sampled_from(DTYPES).map(lambda d: ("dtype", d)),
    st.sampled_from(SHAPES).map(lambda d: ("shape", d)),
    st.sampled_from(CONTAINERS).map(lambda d: ("container", d)),
    st.sampled_from(COLUMNS).map(lambda d: ("columns", d)),
    st.sampled_from(SEQUENCE_DAMAGE).map(lambda d: ("sequences", d)),
)


@st.composite
def cases(draw, spec: Spec):
    """Cases with clean X half of the time and a valid y two times in three.

    So that a good share of fits succeeds and the predict-time damage is
    reached too.
    """
    y_kinds = Y_KINDS[spec.kind]
    return Case(
        layout=draw(st.sampled_from(spec.layouts)),
        n_rows=draw(st.integers(2, 12)),
        dims=(draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.integers(1, 4))),
        seed=draw(st.integers(0, 2**16)),
        x_damage=draw(st.one_of(st.just([]), st.lists(DAMAGE, min_size=1, max_size=2))),
        y_kind=draw(st.one_of(*map(st.sampled_from, y_kinds[:1] * 2 + y_kinds[1:]))),
        y_damage=draw(st.lists(st.sampled_from(Y_DAMAGE), max_size=1)),
        weights=draw(st.one_of(st.none(), st.none(), st.sampled_from(WEIGHTS))),
        predict_change=draw(st.sampled_from(PREDICT_CHANGES)),
        predict_damage=draw(st.lists(DAMAGE, max_size=1)),
        partial_fit=draw(st.booleans()),
        float32=draw(st.booleans()),
    )


# -- building the data ----------------------------------------------------------------
def base_X(layout: str, n_rows: int, dims: tuple, rng, names=None):
    """Valid X of the layout, float64 values (a DataFrame for 'frame')."""
    channels, length, extra = dims
    if layout == TABLE:
        return rng.randn(n_rows, length)
    if layout == SERIES:
        return rng.randn(n_rows, channels, length + 1)
    if layout == IMAGE:
        return rng.randn(n_rows, channels, length + 1, extra + 1)
    if layout == SEQUENCES:
        return [rng.randn(channels, rng.randint(1, length + 3)) for _ in range(n_rows)]
    names = names or [f"c{j}" for j in range(length + 1)]
    frame = pd.DataFrame(rng.randn(n_rows, len(names)), columns=names)
    frame[names[-1]] = pd.Categorical(rng.choice(["a", "b", "c"], n_rows))
    return frame


SPECIAL_VALUES = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "huge": 1e300,
                  "-huge": -1e300, "1e30": 1e30,
                  "float32_max": float(np.finfo(np.float32).max), "big_int": float(2**62),
                  "tiny": 1e-310}


def damage_values(X: np.ndarray, what: str, rng) -> np.ndarray:
    X = X.copy()
    flat = X.reshape(-1)
    if flat.size == 0:
        return X
    if what == "zeros":
        flat[:] = 0.0
    elif what == "constant":
        flat[:] = 3.0
    else:
        flat[rng.randint(flat.size)] = SPECIAL_VALUES[what]
    return X


def cast(X: np.ndarray, dtype: str, rng) -> np.ndarray:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dtype == "words":
            return rng.choice(np.array(["x", "y", "", "nan"]), size=X.shape)
        if dtype == "str":
            return X.astype(str)
        if dtype == "object_mixed":
            out = X.astype(object)
            flat = out.reshape(-1)
            if flat.size:
                flat[rng.randint(flat.size)] = rng.choice(["z", None, "1.5"])
            return out
        try:
            return X.astype(dtype)
        except (TypeError, ValueError):  # None or words cannot become numbers
            return X


def reshape(X: np.ndarray, what: str):
    if what.startswith("rows"):
        return X[:int(what[4:])]
    if what in ("cols0", "cols1"):
        return X[:, :int(what[4:])] if X.ndim >= 2 else X
    if what == "flat":
        return X.reshape(-1)
    if what == "add_axis":
        return X[..., None]
    if what == "drop_axis":
        return X.reshape(len(X), math.prod(X.shape[1:])) if X.ndim > 2 else X[..., 0]
    if what == "5d":
        return X.reshape(X.shape + (1,) * (5 - X.ndim)) if X.ndim < 5 else X
    return X.reshape(-1)[0] if X.size else np.float64(1.0)  # scalar


def contain(X: np.ndarray, what: str):
    """X in another container, or something that is no X at all."""
    if what in ("none", "string", "dict"):
        return {"none": None, "string": "not an array", "dict": {"a": [1.0, 2.0]}}[what]
    if X.ndim == 0:
        return X
    if what == "list":
        return X.tolist()
    if what == "tuple":
        return tuple(map(tuple, X.tolist())) if X.ndim == 2 else X.tolist()
    if what == "ragged":
        rows = X.tolist()
        if rows and isinstance(rows[0], list) and rows[0]:
            rows[0] = rows[0][:-1]
        return rows
    if X.ndim != 2:
        return X
    if what in ("frame", "polars"):
        frame = pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])])
        return as_polars(frame) if what == "polars" else frame
    if X.dtype.kind in "biuf":
        return sp.csr_matrix(X) if what == "csr" else sp.coo_matrix(X)
    return X


def as_polars(frame: pd.DataFrame):
    try:
        import polars
    except ImportError:
        return frame
    try:
        return polars.from_pandas(frame)
    except Exception:  # a column polars cannot hold: keep the pandas frame
        return frame


def damage_columns(frame: pd.DataFrame, what: str, rng) -> pd.DataFrame:
    """Odd but real DataFrame columns and column names."""
    frame = frame.copy()
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        return frame
    first, n = frame.columns[0], len(frame)
    if what == "int_names":
        frame.columns = list(range(frame.shape[1]))
    elif what == "mixed_names":
        frame.columns = [0] + [str(c) for c in frame.columns[1:]]
    elif what == "duplicate_names":
        frame.columns = ["c"] * frame.shape[1]
    elif what == "nullable_int":
        frame[first] = pd.array([None] + list(range(n - 1)), dtype="Int64")
    elif what in ("datetime", "tz_datetime"):
        frame[first] = pd.date_range("2020-01-01", periods=n, freq="D",
                                     tz="UTC" if what == "tz_datetime" else None)
    elif what == "timedelta":
        frame[first] = pd.to_timedelta(np.arange(n), unit="h")
    elif what == "string_dtype":
        frame[first] = pd.array(rng.choice(["u", "v", None], n), dtype="string")
    elif what == "all_nan":
        frame[first] = np.nan
    elif what == "nullable_bool":
        frame[first] = pd.array([None] + [True, False] * n, dtype="boolean")[:n]
    elif what == "category_nan":
        frame[first] = pd.Categorical([None] * n, categories=["a"])
    elif what == "object_numbers":
        frame[first] = pd.Series([1, 2.5, None, True] * n, dtype=object)[:n].to_numpy()
    elif what == "one_level":
        frame[first] = pd.Categorical(["a"] * n)
    return frame


def damage_sequences(items: list, what: str, rng) -> list:
    items = list(items)
    if not items:
        return items
    if what == "channel_mismatch":
        items[0] = np.vstack([items[0], items[0]])
    elif what == "empty_sequence":
        items[0] = items[0][:, :0]
    else:  # nested_deeper
        items[0] = items[0][None]
    return items


def damage(X, damages, rng):
    """Apply (kind, what) damages to X: values, dtypes, shapes, then containers."""
    order = {"value": 0, "dtype": 1, "columns": 2, "sequences": 2, "shape": 3, "container": 4}
    for kind, what in sorted(damages, key=lambda d: order[d[0]]):
        if isinstance(X, pd.DataFrame):
            X = damage_frame(X, kind, what, rng)
        elif isinstance(X, list):
            X = damage_list(X, kind, what, rng)
        elif isinstance(X, np.ndarray):
            X = damage_array(X, kind, what, rng)
    return X


def damage_array(X: np.ndarray, kind: str, what: str, rng):
    if kind == "value" and X.dtype.kind == "f":
        return damage_values(X, what, rng)
    if kind == "dtype":
        return cast(X, what, rng)
    if kind == "shape":
        return reshape(X, what)
    if kind == "container":
        return contain(X, what)
    return X


def damage_list(items: list, kind: str, what: str, rng):
    """Damage variable-length sequences (one of them, or the list)."""
    if kind in ("value", "dtype") and items and isinstance(items[0], np.ndarray):
        items = list(items)
        items[0] = damage_array(items[0], kind, what, rng)
        return items
    if kind == "sequences":
        return damage_sequences(items, what, rng)
    if kind == "shape" and what.startswith("rows"):
        return items[:int(what[4:])]
    if kind == "container" and what in ("none", "string", "dict", "list"):
        return contain(np.empty(0), what) if what != "list" else [
            x.tolist() if isinstance(x, np.ndarray) else x for x in items]
    return items


def damage_frame(frame: pd.DataFrame, kind: str, what: str, rng):
    if kind == "columns":
        return damage_columns(frame, what, rng)
    if kind == "container":
        if what == "polars":
            return as_polars(frame)
        if what in ("none", "string", "dict"):
            return contain(np.empty(0), what)
        return frame
    frame = frame.copy()
    if frame.shape[1] == 0:
        return frame
    first = frame.columns[0]
    if kind in ("value", "dtype") and frame[first].dtype.kind == "f":
        column = frame[first].to_numpy()
        frame[first] = (damage_values(column, what, rng) if kind == "value"
                        else cast(column, what, rng))
    elif kind == "shape" and what.startswith("rows"):
        frame = frame.iloc[:int(what[4:])]
    elif kind == "shape" and what in ("cols0", "cols1"):
        frame = frame.iloc[:, :int(what[4:])]
    return frame


def make_y(kind: str, n_rows: int, rng):
    """Targets of the kind, one per row."""
    if kind == "none":
        return None
    alternating = np.arange(n_rows) % 2
    first = np.arange(n_rows) == 0
    targets = {
        "binary": lambda: alternating,
        "multiclass": lambda: np.arange(n_rows) % 3,
        "strings": lambda: np.array(["cat", "dog"])[alternating],
        "bool": lambda: alternating == 0,
        "one_class": lambda: np.ones(n_rows, dtype=int),
        "float_labels": lambda: alternating.astype(float),
        "continuous": lambda: rng.randn(n_rows),
        "multilabel": lambda: np.column_stack([alternating, np.arange(n_rows) // 2 % 2]),
        "multioutput": lambda: np.column_stack([np.arange(n_rows) % 3, alternating]),
        "nan": lambda: np.where(first, np.nan, alternating),
        "inf": lambda: np.where(first, np.inf, rng.randn(n_rows)),
        "huge": lambda: np.where(first, 1e300, rng.randn(n_rows)),
        "mixed": lambda: np.array([1, "a"] * n_rows, dtype=object)[:n_rows],
        "object_none": lambda: np.where(first, None, alternating).astype(object),
        "column": lambda: alternating[:, None],
        "object": lambda: alternating.astype(object),
        "series": lambda: pd.Series(alternating, index=np.arange(n_rows)[::-1] + 5),
        "frame2": lambda: pd.DataFrame({"a": alternating, "b": np.arange(n_rows) % 3}),
        "outputs2": lambda: rng.randn(n_rows, 2),
        "int": lambda: np.arange(n_rows),
        "constant": lambda: np.full(n_rows, 2.5),
        "complex": lambda: rng.randn(n_rows) + 1j,
    }
    return targets[kind]()


def damage_y(y, what: str):
    if y is None:
        return y
    y = np.asarray(y)
    if what == "length+1":
        return np.concatenate([y, y[:1]]) if len(y) else np.zeros(1)
    if what == "length-1":
        return y[:-1]
    if what == "empty":
        return y[:0]
    if what == "3d":
        return y[:, None, None]
    return y[0] if len(y) else 0  # scalar


def make_weights(kind: str | None, n_rows: int, rng):
    if kind is None:
        return None
    weights = rng.uniform(0.5, 2.0, n_rows)
    if kind in ("nan", "inf", "negative", "huge") and n_rows:
        weights[0] = {"nan": np.nan, "inf": np.inf, "negative": -1.0, "huge": 1e300}[kind]
    return {"zeros": np.zeros(n_rows), "length": weights[:-1], "ints": np.arange(n_rows),
            "scalar": 2.0, "2d": weights[:, None]}.get(kind, weights)


def predict_X(case: Case, X_fit, rng):
    """X for predict: the training X or a new X, possibly of another shape or kind."""
    change = case.predict_change
    if change == "same":
        return X_fit
    channels, length, extra = case.dims
    n_new = rng.randint(0, 4)
    layout = case.layout
    if change == "features+1":
        length += 1
    elif change == "features-1":
        length = max(length - 1, 0)
    elif change == "channels":
        channels += 1
    elif change == "longer":
        length += 5
    elif change == "array_to_frame" and layout == TABLE:
        layout, length = FRAME, length - 1
    elif change == "frame_to_array" and layout == FRAME:
        layout, length = TABLE, length + 1
    elif change == "sequences":
        layout = SEQUENCES
    names = [f"c{j}" for j in range(length + 1)]
    if change == "names":
        names[0] = "renamed"
    X = base_X(layout, n_new, (channels, length, extra), rng, names=names)
    if isinstance(X, np.ndarray) and change in ("flat", "add_axis", "drop_axis"):
        X = reshape(X, change)
    return damage(X, case.predict_damage, rng)


# -- running and checking -------------------------------------------------------------
class Hang(Exception):
    """A call ran for HANG_SECONDS."""


@contextlib.contextmanager
def hang_guard():
    """Turn a call that runs for HANG_SECONDS into a failure (POSIX main thread only)."""
    def on_alarm(signum, frame):
        raise Hang(f"no answer after {HANG_SECONDS} s")

    try:
        previous = signal.signal(signal.SIGALRM, on_alarm)
    except (ValueError, AttributeError):  # not the main thread, or no SIGALRM
        yield
        return
    signal.alarm(HANG_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


class Tally:
    """Counts of cases and outcomes per estimator, with the distinct errors seen."""

    def __init__(self):
        self.cases = Counter()
        self.outcomes = Counter()
        self.errors = Counter()

    def record(self, name: str, step: str, error=None):
        self.outcomes[name, step, "ok" if error is None else "refused"] += 1
        if error is not None:
            first_line = str(error).split("\n")[0][:200]
            self.errors[name, step, type(error).__name__, first_line] += 1

    def summary(self) -> str:
        total = sum(self.cases.values())
        fitted = sum(n for (_, step, outcome), n in self.outcomes.items()
                     if step in ("fit", "partial_fit") and outcome == "ok")
        calls = sum(self.outcomes.values())
        return (f"{total} fuzz cases over {len(self.cases)} estimators ({calls} calls): "
                f"{fitted} fitted, {total - fitted} refused at fit with a clear error")

    def dump(self, path: str):
        data = {
            "summary": self.summary(),
            "cases": dict(self.cases),
            "outcomes": [[*key, n] for key, n in sorted(self.outcomes.items())],
            "errors": [[*key, n] for key, n in sorted(self.errors.items())],
        }
        with open(path, "w") as handle:
            json.dump(data, handle, indent=1)


TALLY = Tally()


@pytest.fixture(scope="module", autouse=True)
def report_tally(request):
    yield
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None and TALLY.cases:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\ntest_fuzz: {TALLY.summary()}")
    if REPORT:
        TALLY.dump(REPORT)


def call(name: str, step: str, method, *args, **kwargs):
    """Run ``method``: (True, result), or (False, error) for an allowed error; else fail."""
    with hang_guard():
        try:
            result = method(*args, **kwargs)
        except (ValueError, TypeError) as error:  # NotFittedError is a ValueError
            TALLY.record(name, step, error)
            assert name in str(error), (
                f"{name}.{step} raised {type(error).__name__} without naming the "
                f"estimator: {error}")
            assert not isinstance(error, AttributeError | KeyError | IndexError) or (
                type(error).__name__ == "NotFittedError"), (
                f"{name}.{step} raised {type(error).__name__}: {error}")
            return False, error
    TALLY.record(name, step)
    return True, result


def n_rows(X) -> int:
    shape = getattr(X, "shape", None)
    if shape is None:
        return len(X)
    return shape[0] if len(shape) else 1


def check_predictions(name: str, est, kind: str, X, y_fit) -> bool:
    """Predictions on X are finite, of the right shape, and valid probabilities."""
    if kind == "transformer":
        return check_transform(name, est, X)
    ok, predicted = call(name, "predict", est.predict, X)
    if not ok:
        return False
    rows = n_rows(X)
    predicted = np.asarray(predicted)
    assert predicted.shape[0] == rows
    y_shape = np.shape(y_fit)[1:]
    if kind == "regressor":
        assert predicted.shape[1:] == y_shape
        assert np.isfinite(predicted).all()
        return True
    if len(y_shape) and predicted.ndim == 2:  # multilabel indicators
        assert set(np.unique(predicted)) <= {0, 1}
    else:
        assert predicted.ndim == 1
        assert np.isin(predicted, est.classes_).all()
    for method in ("predict_proba", "predict_log_proba"):
        ok, proba = call(name, method, getattr(est, method), X)
        assert ok, f"{name}.{method} refused X that predict took"
        assert proba.shape == (rows, len(est.classes_))
        proba = np.exp(proba) if method == "predict_log_proba" else proba
        assert np.isfinite(proba).all()
        assert ((proba >= 0) & (proba <= 1)).all()
        if predicted.ndim == 1:
            np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    return True


def check_transform(name: str, est, X) -> bool:
    """Codes, reconstructions and scores of the autoencoder are finite and well shaped."""
    ok, codes = call(name, "transform", est.transform, X)
    if not ok:
        return False
    rows = n_rows(X)
    assert codes.shape == (rows, est.n_components) and np.isfinite(codes).all()
    ok, scores = call(name, "score_samples", est.score_samples, X)
    # -inf: a row whose squared reconstruction error overflows (beyond 1e154 standard
    # deviations of the training data) is as anomalous as can be; never NaN or +inf.
    assert ok and scores.shape == (rows,) and (np.isfinite(scores) | (scores == -np.inf)).all()
    ok, decoded = call(name, "inverse_transform", est.inverse_transform, codes)
    assert ok and decoded.shape == (rows, est.n_features_in_)
    assert np.isfinite(decoded).all()
    call(name, "inverse_transform", est.inverse_transform, np.hstack([codes, codes]))
    return True


def classes_of(y):
    """The labels of a 1-D y, as partial_fit's classes (None otherwise)."""
    if y is None or np.ndim(y) != 1:
        return None
    try:
        return np.unique(np.asarray(y))
    except TypeError:  # labels of mixed types cannot be sorted
        return np.asarray(y)


def fit(name: str, est, spec: Spec, case: Case, X, y, weights) -> bool:
    """Fit (or a first partial_fit); True if it succeeded."""
    if spec.kind == "transformer":
        ok, _ = call(name, "fit", est.fit, X, sample_weight=weights)
        return ok
    if case.partial_fit and hasattr(est, "partial_fit"):
        kwargs = {"classes": classes_of(y)} if spec.kind == "classifier" else {}
        ok, _ = call(name, "partial_fit", est.partial_fit, X, y, sample_weight=weights,
                     **kwargs)
        return ok
    ok, _ = call(name, "fit", est.fit, X, y, sample_weight=weights)
    return ok


def continue_training(name: str, est, spec: Spec, case: Case, X, X_new, y, rng):
    """partial_fit on the predict-time X: it trains, or refuses and keeps the model."""
    if not hasattr(est, "partial_fit") or case.y_kind in Y_KINDS[spec.kind][1]:
        return
    rows = n_rows(X_new) if hasattr(X_new, "shape") or isinstance(X_new, list) else 0
    y_new = make_y(case.y_kind, rows, rng)  # labels among those of the first fit
    ok, _ = call(name, "partial_fit again", est.partial_fit, X_new, y_new)
    if ok:
        check_predictions(name, est, spec.kind, X_new, y)
    assert check_predictions(name, est, spec.kind, X, y), (
        f"{name}: the model no longer predicts on its training X after partial_fit "
        f"{'succeeded' if ok else 'failed'}")


def run_case(name: str, case: Case):
    spec = SPECS[name]
    TALLY.cases[name] += 1
    rng = np.random.RandomState(case.seed)
    X = damage(base_X(case.layout, case.n_rows, case.dims, rng), case.x_damage, rng)
    rows = n_rows(X) if hasattr(X, "shape") or isinstance(X, list) else case.n_rows
    y = make_y(case.y_kind, rows, rng)
    for what in case.y_damage:
        y = damage_y(y, what)
    weights = make_weights(case.weights, rows, rng)
    est = spec.make()
    if case.float32:  # small float64 data trains in float64 by default
        params = est.get_params()
        est.set_params(**{key: "float32" for key in ("dtype", "student__dtype")
                          if key in params})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not fit(name, est, spec, case, X, y, weights):
            method = est.transform if spec.kind == "transformer" else est.predict
            ok, _ = call(name, "predict", method, X)
            assert not ok, f"{name}: predict succeeded after a failed fit"
            return
        assert check_predictions(name, est, spec.kind, X, y), (
            f"{name}: refused to predict on its own training X")
        X_new = predict_X(case, X, rng)
        check_predictions(name, est, spec.kind, X_new, y)
        continue_training(name, est, spec, case, X, X_new, y, rng)


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES, derandomize=SEED is None, deadline=DEADLINE, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)


def test_every_public_estimator_is_fuzzed():
    public = {name for name in sknn.__all__
              if isinstance(getattr(sknn, name), type)
              and issubclass(getattr(sknn, name), BaseEstimator)}
    assert set(SPECS) == public


@pytest.mark.parametrize("name", list(SPECS))
def test_bad_input_never_crashes(name):
    @FUZZ_SETTINGS
    @given(case=cases(SPECS[name]))
    def fuzz(case):
        run_case(name, case)

    if SEED is not None:
        fuzz = seed(int(SEED))(fuzz)
    fuzz()


# -- what the fuzzing found, pinned ---------------------------------------------------
@pytest.fixture
def small():
    rng = np.random.RandomState(0)
    return rng.randn(20, 3), np.arange(20) % 2


def test_classifier_target_errors_name_the_estimator(small):
    X, y = small
    with pytest.raises(ValueError, match=r"MLPClassifier: Unknown label type: continuous"):
        MLPClassifier(**MLP).fit(X, np.linspace(0, 1, len(X)))
    with pytest.raises(ValueError, match=r"RNNClassifier: Expected array-like \(array or "
                                         r"non-string sequence\), got 0"):
        RNNClassifier(**RNN).partial_fit(X, 0)


@pytest.mark.filterwarnings("ignore:X has feature names")
def test_distiller_errors_name_the_distiller(small):
    X, y = small
    regressor = sknn.DistilledRegressor(MLPRegressor(**STUDENT), Ridge(), fit_teacher=True)
    with pytest.raises(ValueError, match=r"DistilledRegressor: Input y contains NaN"):
        regressor.fit(X, np.where(y == 0, np.nan, 1.0))
    classifier = sknn.DistilledClassifier(MLPClassifier(**STUDENT), LogisticRegression(),
                                          fit_teacher=True).fit(X, y)
    with pytest.raises(ValueError, match=r"DistilledClassifier: Expected 2D array, got 1D"):
        classifier.predict_proba(X[:, 0])
    with pytest.raises(ValueError, match=r"DistilledClassifier: .*column 'a' was numeric"):
        classifier.predict(pd.DataFrame({"a": ["u"] * 3, "b": [1.0] * 3, "c": [1.0] * 3}))


def test_failed_distiller_fit_leaves_no_fitted_state(small):
    X, y = small
    classifier = sknn.DistilledClassifier(MLPClassifier(**STUDENT), LogisticRegression(),
                                          fit_teacher=True).fit(X, y)
    with pytest.raises(ValueError, match=r"DistilledClassifier: Found input variables "
                                         r"with inconsistent numbers of samples"):
        classifier.fit(X, y[:-1])
    assert [k for k in vars(classifier) if k.endswith("_")] == []
    with pytest.raises(NotFittedError, match="This DistilledClassifier instance is not "
                                             "fitted yet"):
        classifier.predict(X)


def test_huge_regression_targets_standardize_without_overflow(small):
    X, _ = small
    y = np.linspace(-1.0, 1.0, len(X)) * 1e300
    predicted = MLPRegressor(**MLP).fit(X, y).predict(X)
    assert np.isfinite(predicted).all()
    assert np.abs(predicted).max() > 1e298


def test_target_standardization_of_ordinary_targets_is_unchanged():
    y = np.random.RandomState(0).randn(50, 2) * [7.0, 0.001] + [3.0, -2.0]
    task = RegressionTask.from_target(y)
    np.testing.assert_array_equal(task.mean, y.mean(axis=0))
    np.testing.assert_array_equal(task.scale, y.std(axis=0))
    constant = RegressionTask.from_target(np.full(5, 4.0))
    assert constant.mean.tolist() == [4.0] and constant.scale.tolist() == [1.0]


@pytest.mark.parametrize("where", ["fit", "predict"])
def test_complex_dataframe_column(small, where):
    X, y = small
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    complex_frame = frame.assign(a=frame["a"] + 1j)
    model = MLPClassifier(**MLP)
    message = r"MLPClassifier: column 'a' holds complex numbers; only real numbers"
    with pytest.raises(ValueError, match=message):
        if where == "fit":
            model.fit(complex_frame, y)
        else:
            model.fit(frame, y).predict(complex_frame)


@pytest.mark.filterwarnings("ignore:X has feature names")
def test_model_fitted_on_sparse_X_refuses_missing_and_non_numeric_values(small):
    X, y = small
    model = MLPClassifier(**MLP).fit(sp.csr_matrix(X), y)
    with_nan = X.copy()
    with_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"MLPClassifier: Input contains NaN"):
        model.predict(with_nan)
    with pytest.raises(ValueError, match=r"MLPClassifier: could not convert string to "
                                         r"float: 'u'"):
        model.predict(pd.DataFrame({"a": X[:, 0], "b": X[:, 1],
                                    "c": pd.Categorical(["u"] * len(X))}))
    assert model.predict(X).shape == (len(X),)


@pytest.mark.parametrize("shape", [(3, 1), (1, 1), (3, 1, 1, 1)])
def test_batch_norm_trains_on_a_single_value_per_channel(shape):
    # A minibatch of one sample of one time step (or pixel) has no variance.
    X = np.random.RandomState(0).randn(*shape)
    y = np.arange(shape[0]) * 1.0
    model = CNNRegressor(**{**CNN, "batch_size": 2}).fit(X, y)
    assert np.isfinite(model.predict(X)).all()


def test_sequences_without_channels(small):
    with pytest.raises(ValueError, match=r"RNNRegressor: sequences need at least one "
                                         r"channel; got X of shape \(4, 0, 3\)"):
        RNNRegressor(**RNN).fit(np.zeros((4, 0, 3)), np.arange(4.0))


@pytest.mark.parametrize("make", [
    lambda: CNNClassifier(**CNN, dtype="float32"),
    lambda: MLPRegressor(**MLP, dtype="float32", numeric_transform="none",
                         numeric_embedding=None),
    lambda: AutoencoderTransformer(n_components=2, max_iter=2, dtype="float32"),
], ids=["CNNClassifier", "MLPRegressor", "AutoencoderTransformer"])
def test_overflowing_network_refuses_to_predict(small, make):
    # 1e300 is a finite float64 but overflows a float32 network: NaN predictions before.
    X, y = small
    model = make().fit(X, y)
    far = X[:3].copy()
    far[1, 0] = 1e300
    name = type(model).__name__
    with pytest.raises(ValueError, match=rf"{name}: the network overflowed on 1 of 3 rows "
                                         r"of X \(its outputs are not finite\)"):
        model.transform(far) if name == "AutoencoderTransformer" else model.predict(far)
