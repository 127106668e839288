"""Tabular data inside the estimator: DataFrames, categories, missing values."""

import math
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn import MLPClassifier, MLPRegressor
from sknn._input._tabular import TabularEncoder

FAST = dict(hidden_layer_sizes=(16,), ensemble_size=2, max_iter=8, random_state=0)


def mixed_frame(n=120, seed=0):
    rng = np.random.RandomState(seed)
    frame = pd.DataFrame({
        "age": rng.randint(18, 80, n).astype(float),
        "income": rng.lognormal(10, 1, n),
        "member": rng.rand(n) > 0.5,
        "city": pd.Categorical(rng.choice(["paris", "oslo", "rome"], n)),
        "job": rng.choice(["a", "b", "c", "d"], n).astype(object),
        "joined": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.randint(0, 900, n), "D"),
    })
    frame.loc[::7, "income"] = np.nan
    frame.loc[::11, "job"] = None
    y = (frame["age"] > 45).to_numpy() ^ (frame["city"] == "oslo").to_numpy()
    return frame, y


def test_dataframe_with_every_column_kind_fits_and_predicts():
    X, y = mixed_frame()
    clf = MLPClassifier(**FAST).fit(X, y)
    encoder = clf.encoder_
    assert encoder.kinds == ["numeric", "numeric", "numeric", "categorical",
                             "categorical", "datetime"]
    assert encoder.n_indicators == 1  # income has missing values
    assert encoder.cardinalities == [3 + 2, 4 + 2]  # levels + unknown + missing
    assert list(clf.feature_names_in_) == list(X.columns)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    assert np.allclose(proba.sum(axis=1), 1)


def test_learns_from_categories_and_missing_values():
    X, y = mixed_frame(n=400)
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=60, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.9


def test_unseen_categories_and_missing_values_at_predict_never_fail():
    X, y = mixed_frame()
    clf = MLPClassifier(**FAST).fit(X, y)
    X_new = X.head(4).copy()
    X_new["job"] = ["zzz", None, "", np.nan]
    X_new["city"] = pd.Categorical(["lima", None, "rome", "paris"])
    X_new.loc[:, "age"] = np.nan
    codes = clf.encoder_.transform(X_new)
    job = clf.encoder_.categories[1]
    assert codes[0, -1] == job.unknown_code
    assert (codes[1:, -1] == job.missing_code).all()
    assert np.isfinite(clf.predict_proba(X_new)).all()


def test_missing_numeric_values_in_every_form_are_accepted():
    X, y = mixed_frame()
    X["age"] = X["age"].astype("Float64")
    X.loc[0, "age"] = pd.NA
    X["income"] = X["income"].astype(object)
    X.loc[1, "income"] = None
    clf = MLPClassifier(**FAST).fit(X, y)
    assert clf.encoder_.n_indicators == 2
    assert np.isfinite(clf.predict_proba(X)).all()


def test_numpy_with_nan_is_accepted_and_inf_is_refused():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    X[::5, 1] = np.nan
    y = rng.randn(60)
    reg = MLPRegressor(**FAST).fit(X, y)
    assert np.isfinite(reg.predict(X)).all()
    X[0, 2] = np.inf
    with pytest.raises(ValueError, match="MLPRegressor.*infinity"):
        reg.predict(X)


@pytest.mark.parametrize("spec", [["job", "city"], [3, 4], [False, False, False, True, True,
                                                             False]])
def test_categorical_features_by_name_index_or_mask(spec):
    X, y = mixed_frame()
    clf = MLPClassifier(categorical_features=spec, **FAST).fit(X, y)
    assert clf.encoder_.categorical_index == [3, 4]


def test_integer_coded_categories_in_numpy():
    rng = np.random.RandomState(0)
    codes = rng.randint(0, 5, 200)
    X = np.column_stack([rng.randn(200), codes])
    y = np.isin(codes, [1, 3])
    clf = MLPClassifier(categorical_features=[1], hidden_layer_sizes=(32,), max_iter=80,
                        random_state=0).fit(X, y)
    assert clf.encoder_.cardinalities == [5 + 2]
    assert clf.score(X, y) > 0.95


def test_string_columns_need_from_dtype_or_listing():
    X, y = mixed_frame()
    with pytest.raises(ValueError, match="MLPClassifier: column 'job' holds strings"):
        MLPClassifier(categorical_features=["city"], **FAST).fit(X, y)


@pytest.mark.parametrize("transform", ["quantile", "standard", "none"])
@pytest.mark.parametrize("embedding", [None, "periodic", "piecewise_linear"])
def test_numeric_transforms_and_embeddings(transform, embedding):
    X, y = mixed_frame()
    clf = MLPClassifier(numeric_transform=transform, numeric_embedding=embedding,
                        **FAST).fit(X, y)
    layer = clf.net_.module_[0]
    if embedding is None:
        assert layer.numeric_embedding is None
    else:
        assert type(layer.numeric_embedding).__name__.lower().startswith(embedding[:5])
    assert np.isfinite(clf.predict_proba(X)).all()


def test_quantile_transform_is_normal_and_weighted_like_repetition():
    rng = np.random.RandomState(0)
    values = rng.lognormal(size=(3000, 1))
    encoded = TabularEncoder().fit_transform(values)
    assert abs(encoded.mean()) < 0.05 and abs(encoded.std() - 1) < 0.1
    weights = rng.randint(0, 4, 3000)
    weighted = TabularEncoder()
    weighted.fit_transform(values, weights)
    repeated = TabularEncoder()
    repeated.fit_transform(np.repeat(values, weights, axis=0))
    np.testing.assert_array_equal(weighted.scaler.quantiles, repeated.scaler.quantiles)


def test_reordered_columns_give_identical_predictions():
    X, y = mixed_frame()
    clf = MLPClassifier(**FAST).fit(X, y)
    shuffled = X[list(reversed(X.columns))]
    np.testing.assert_array_equal(clf.predict_proba(shuffled), clf.predict_proba(X))


def test_missing_or_extra_columns_are_refused():
    X, y = mixed_frame()
    clf = MLPClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="(?s)MLPClassifier.*seen at fit time, yet now missing"):
        clf.predict(X.drop(columns="job"))
    with pytest.raises(ValueError, match="(?s)MLPClassifier.*unseen at fit time"):
        clf.predict(X.assign(extra=1.0))


def test_changed_column_type_is_refused():
    X, y = mixed_frame()
    clf = MLPClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="MLPClassifier: column 'age' was numeric at fit "
                                         "time but is categorical now"):
        clf.predict(X.assign(age=X["age"].astype(str) + " years"))
    with pytest.raises(ValueError, match="column 'joined' was datetime"):
        clf.predict(X.assign(joined=1.0))


def test_everything_lives_in_one_pickle_and_clone():
    X, y = mixed_frame()
    clf = MLPClassifier(**FAST).fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    assert not hasattr(clone(clf), "encoder_")


def test_after_column_transformer_with_pandas_output_and_in_grid_search():
    X, y = mixed_frame()
    scale = make_column_transformer((StandardScaler(), ["age"]), remainder="passthrough",
                                    verbose_feature_names_out=False)
    scale.set_output(transform="pandas")
    pipe = make_pipeline(scale, MLPClassifier(**FAST))
    search = GridSearchCV(pipe, {"mlpclassifier__numeric_transform": ["quantile",
                                                                      "standard"]},
                          cv=2).fit(X, y)
    assert search.best_estimator_[-1].encoder_.kinds[3:5] == ["categorical",
                                                             "categorical"]
    assert search.predict(X).shape == (len(X),)


def test_polars_dataframe():
    pl = pytest.importorskip("polars")
    X, y = mixed_frame()
    columns = ["age", "income", "member", "job"]
    X_pl = pl.DataFrame({c: pl.Series(c, X[c].tolist(), strict=False) for c in columns})
    clf = MLPClassifier(**FAST).fit(X_pl, y)
    assert clf.encoder_.kinds == ["numeric", "numeric", "numeric", "categorical"]
    assert list(clf.feature_names_in_) == ["age", "income", "member", "job"]
    assert clf.predict(X_pl).shape == (len(X),)


# -- awkward columns: each works sensibly or fails clearly ---------------------
def test_all_nan_column_works():
    X, y = mixed_frame()
    X["empty"] = np.nan
    clf = MLPClassifier(**FAST).fit(X, y)
    assert np.isfinite(clf.predict_proba(X)).all()


def test_thousands_of_levels():
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"id": [f"user{i}" for i in rng.randint(0, 3000, 6000)],
                      "x": rng.randn(6000)})
    y = rng.rand(6000) > 0.5
    clf = MLPClassifier(**FAST).fit(X, y)
    assert clf.encoder_.cardinalities[0] > 1000
    assert clf.net_.module_[0].embeddings[0].embedding_dim <= 32


def test_constant_columns():
    X, y = mixed_frame()
    X["one"] = 1.0
    X["same"] = "same"
    clf = MLPClassifier(**FAST).fit(X, y)
    assert np.isfinite(clf.predict_proba(X)).all()


def test_mixed_type_object_column_becomes_categorical_strings():
    X, y = mixed_frame()
    X["mixed"] = pd.Series([1, "a", 2.5, None] * 30, dtype=object)
    clf = MLPClassifier(**FAST).fit(X, y)
    assert clf.encoder_.kinds[-1] == "categorical"
    assert set(clf.encoder_.categories[-1].levels) == {"1", "a", "2.5"}


def test_datetime_column_with_timezone_and_missing():
    X, y = mixed_frame()
    X["joined"] = X["joined"].dt.tz_localize("Europe/Paris")
    X.loc[3, "joined"] = pd.NaT
    clf = MLPClassifier(**FAST).fit(X, y)
    assert clf.encoder_.kinds[-1] == "datetime"
    assert np.isfinite(clf.predict_proba(X)).all()


def test_empty_strings_count_as_missing():
    X, y = mixed_frame()
    X.loc[:9, "job"] = ""
    clf = MLPClassifier(**FAST).fit(X, y)
    codes = clf.encoder_.transform(X)[:, -1]
    assert (codes[:10] == clf.encoder_.categories[-1].missing_code).all()


def test_sparse_input_refuses_numeric_embeddings():
    import scipy.sparse as sp

    X = sp.random(50, 5, density=0.3, format="csr", random_state=0)
    y = np.arange(50) % 2
    with pytest.raises(ValueError, match="MLPClassifier: numeric_embedding='periodic' "
                                         "needs dense X"):
        MLPClassifier(numeric_embedding="periodic", **FAST).fit(X, y)


def test_only_string_columns():
    X = np.array([["a", "x"], ["b", "y"]] * 30, dtype=object)
    y = np.array([0, 1] * 30)
    clf = MLPClassifier(**{**FAST, "max_iter": 30}).fit(X, y)
    assert clf.encoder_.n_numeric == 0
    assert clf.score(X, y) == 1.0


def _reference_category_codes(train: pd.Series, test: pd.Series) -> np.ndarray:
    """The category codes of a plain per-value loop (the encoder before it hashed rows)."""
    def normalized(values):
        array = values.to_numpy(dtype=object).copy()
        missing = np.array([v is None or v is pd.NA or v is pd.NaT
                            or (isinstance(v, float) and np.isnan(v))
                            or (isinstance(v, str) and not v.strip()) for v in array], bool)
        array[missing] = None
        if len({type(v) for v in array[~missing]}) > 1:
            array[~missing] = [str(v) for v in array[~missing]]
        return array, missing

    values, missing = normalized(train)
    strings = any(isinstance(v, str) for v in values[~missing])
    if strings:
        values[~missing] = [str(v) for v in values[~missing]]
    counts = pd.Series(values[~missing], dtype=object).value_counts()
    levels = pd.Index(sorted(counts.index[counts.to_numpy() >= 2],
                             key=lambda v: (str(type(v)), v)), dtype=object)
    values, missing = normalized(test)
    if strings:
        values[~missing] = [str(v) for v in values[~missing]]
    codes = levels.get_indexer(values).astype(float)
    codes[codes < 0] = len(levels)
    codes[missing] = len(levels) + 1
    return codes


@pytest.mark.parametrize("seed", range(30))
def test_category_codes_match_a_per_value_loop_on_messy_columns(seed):
    # Rows are hashed in C and only distinct values looked at in Python: the codes
    # must be those of the plain loop for mixed types, every missing form and blanks.
    rng = np.random.default_rng(seed)
    pools = [["a", "b", "c", " ", "", None, np.nan, pd.NA],
             [1, 2, 3, None, np.nan],
             [1, "1", 2.5, "b", None, True, np.int64(2)],
             [1.5, 2.5, np.nan, 3.5],
             [True, False, None]]
    pool = pools[seed % len(pools)]
    draw = lambda n: pd.Series([pool[i] for i in rng.integers(len(pool), size=n)],  # noqa: E731
                               dtype=object)
    train, test = draw(60), draw(40)
    encoder = TabularEncoder(categorical_features=[0])
    encoder.fit_transform(pd.DataFrame({"c": train}))
    got = encoder.transform(pd.DataFrame({"c": test}))[:, -1]
    np.testing.assert_array_equal(got, _reference_category_codes(train, test))


def _mixed_frame(n_rows, n_numeric, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{j}": rng.normal(size=n_rows) for j in range(n_numeric)})
    frame.loc[::7, "x0"] = np.nan
    frame["count"] = rng.integers(0, 1000, n_rows)
    frame["city"] = pd.Categorical(rng.choice(["Lyon", "Oslo", "Lima", None], n_rows))
    return frame


@pytest.mark.parametrize("transform", ["quantile", "standard", "none"])
def test_float32_encoding_is_the_float64_encoding_rounded_once(transform):
    frame = _mixed_frame(3_000, 4)
    exact = TabularEncoder(numeric_transform=transform, n_bins=48).fit_transform(frame)
    encoder = TabularEncoder(numeric_transform=transform, n_bins=48)
    single = encoder.fit_transform(frame, dtype=np.float32)
    assert exact.dtype == np.float64 and single.dtype == np.float32
    np.testing.assert_array_equal(single, exact.astype(np.float32))
    np.testing.assert_array_equal(encoder.transform(frame.iloc[:50]), single[:50])


def test_encoding_a_large_frame_makes_no_float64_copy_of_it():
    # Item 4 of issue 17: besides the float32 encoding, only a few one-column
    # temporaries; reading the columns into a float64 block (and stacking it)
    # used to take two float64 copies of the table.
    import tracemalloc

    frame = _mixed_frame(100_000, 40)
    float64_table = 100_000 * 41 * 8
    for fit in (True, False):
        encoder = TabularEncoder(n_bins=48)
        if not fit:
            encoder.fit_transform(frame, dtype=np.float32)
        tracemalloc.start()
        try:
            encoded = (encoder.fit_transform(frame, dtype=np.float32) if fit
                       else encoder.transform(frame))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert encoded.dtype == np.float32
        assert peak - encoded.nbytes < float64_table / 2


def test_large_tables_are_encoded_straight_to_float32():
    frame = _mixed_frame(4_000, 3)  # 20,000 values: above dtype='auto''s float64 limit
    y = (frame["x1"] > 0).to_numpy()
    clf = MLPClassifier(max_iter=1, ensemble_size=1, random_state=0).fit(frame, y)
    assert clf.encoder_.output_dtype is np.float32
    assert clf.net_.module_dtype() == torch.float32
    small = MLPClassifier(max_iter=1, ensemble_size=1, random_state=0).fit(
        frame.iloc[:500], y[:500])
    assert small.encoder_.output_dtype is np.float64  # exact float64 fits stay exact
    assert small.net_.module_dtype() == torch.float64
    explicit = MLPClassifier(max_iter=1, ensemble_size=1, random_state=0,
                             dtype="float64").fit(frame, y)
    assert explicit.encoder_.output_dtype is np.float64


# -- encoding and embedding, computed the fast way, equal the definitions ----------
def _interpolated_ranks(x, quantiles, references):
    """scikit-learn's QuantileTransformer: mean of forward and backward interpolation."""
    forward = np.interp(x, quantiles, references)
    backward = -np.interp(-x, -quantiles[::-1], -references[::-1])
    return (forward + backward) / 2


@pytest.mark.parametrize("kind", ["continuous", "integer", "constant", "two values"])
def test_quantile_ranks_equal_forward_and_backward_interpolation(kind):
    from sknn._input._numeric import _quantile_ranks

    rng = np.random.RandomState(0)
    train = {"continuous": rng.standard_normal(3000),
             "integer": rng.randint(0, 20, 3000).astype(float),
             "constant": np.full(50, 3.0),
             "two values": np.r_[np.zeros(500), np.ones(10)]}[kind]
    references = np.linspace(0, 1, 100)
    quantiles = np.quantile(train, references, method="inverted_cdf")
    # Values between, on (repeated) and beyond the quantiles, and missing.
    x = np.r_[rng.choice(train, 500), 30 * rng.standard_normal(500), quantiles,
              -1e300, 1e300, np.nan]
    ranks = _quantile_ranks(x, quantiles, references)
    np.testing.assert_allclose(ranks, _interpolated_ranks(x, quantiles, references),
                               rtol=0, atol=1e-15)
    assert np.isnan(ranks[-1])


def test_string_and_category_columns_encode_as_object_columns():
    X, y = mixed_frame()
    X.loc[3, "job"] = " "  # blank: missing, in every dtype
    encoder = TabularEncoder()
    expected = encoder.fit_transform(X)
    for dtype in ["string", "str", "category"]:
        np.testing.assert_array_equal(encoder.transform(X.astype({"job": dtype})), expected)
    as_objects = X.astype({"city": object})
    np.testing.assert_array_equal(encoder.transform(as_objects), expected)


def test_categories_of_mixed_types_are_normalized_by_their_distinct_values():
    from sknn._input._columns import _normalize_categories

    values = [1, "1", "a", None, "a", 2.0, ""]
    for series in (pd.Series(values, dtype=object),
                   pd.Series(pd.Categorical(values[:-1] + [None],
                                            categories=[1, "1", "a", 2.0, "unused"]))):
        uniques, inverse = _normalize_categories(series)
        rows = [None if i < 0 else uniques[i] for i in inverse]
        assert rows == ["1", "1", "a", None, "a", "2.0", None]


def test_piecewise_linear_embedding_equals_its_encoding_times_the_weights():
    from sknn.modules.tabular import PiecewiseLinearEmbedding

    torch.manual_seed(0)
    # Features with different bin counts (padded bins), one with a bin of zero
    # width (edges that differ in float64 are equal in float32).
    edges = [torch.linspace(-2, 2, 6), torch.linspace(-1, 3, 4),
             torch.tensor([0.0, 0.5, 0.5, 2.0]), torch.sort(torch.randn(30)).values]
    layer = PiecewiseLinearEmbedding(edges, d_embedding=8).double()
    x = 3 * torch.randn(400, 4, dtype=torch.float64)
    x[:4] = torch.stack([e[[0, 1, 2, -1]] for e in edges], dim=1).double()  # on edges

    def by_definition(weight, bias):
        encoded = layer.encode(x)
        assert encoded.shape == (400, 4, 29)
        return torch.relu(torch.einsum("bfi,fio->bfo", encoded, weight) + bias).flatten(1)

    def by_lookup(weight, bias):
        state = {"weight": weight, "bias": bias, **dict(layer.named_buffers())}
        return torch.func.functional_call(layer, state, (x,))

    weight, bias = layer.weight.detach(), layer.bias.detach()
    torch.testing.assert_close(by_lookup(weight, bias), by_definition(weight, bias))
    backprop = torch.randn(400, 32, dtype=torch.float64)
    gradients = [torch.func.grad(lambda w, b, f=f: (f(w, b) * backprop).sum(),
                                 argnums=(0, 1))(weight, bias)
                 for f in (by_lookup, by_definition)]
    for lookup, definition in zip(*gradients):
        torch.testing.assert_close(lookup, definition)


def test_piecewise_linear_embedding_of_one_bin_is_linear_on_both_sides():
    from sknn.modules.tabular import PiecewiseLinearEmbedding

    # Every feature with two edges (binary columns): one bin, first and last at once.
    layer = PiecewiseLinearEmbedding([torch.tensor([0.0, 1.0]), torch.tensor([2.0, 4.0])], 3)
    x = torch.tensor([[-1.0, 2.0], [0.5, 3.0], [2.0, 6.0]])
    ratio = (x - torch.tensor([0.0, 2.0])) / torch.tensor([1.0, 2.0])
    expected = torch.relu(ratio[..., None] * layer.weight[:, 0] + layer.bias).flatten(1)
    torch.testing.assert_close(layer(x), expected)
    torch.testing.assert_close(layer.encode(x), ratio[..., None])


def test_quantile_ranks_of_float32_columns_are_computed_in_float64():
    from sknn._input._numeric import _quantile_ranks

    rng = np.random.RandomState(0)
    column = rng.standard_normal(2000).astype(np.float32)
    references = np.linspace(0, 1, 100)
    quantiles = np.quantile(column, references, method="inverted_cdf")  # float32
    ranks = _quantile_ranks(column, quantiles, references)
    assert ranks.dtype == np.float64
    np.testing.assert_allclose(
        ranks, _interpolated_ranks(column.astype(np.float64), quantiles.astype(np.float64),
                                   references), rtol=0, atol=1e-15)


@pytest.mark.parametrize("dtype", [object, "string", "str", "category"])
def test_a_category_column_missing_everywhere_predicts(dtype):
    X, y = mixed_frame()
    clf = MLPClassifier(**FAST).fit(X, y)
    blank = X.head(3).assign(job=None).astype({"job": dtype})
    expected = clf.predict_proba(X.head(3).assign(job=None))
    np.testing.assert_array_equal(clf.predict_proba(blank), expected)


# -- large tables are encoded in blocks of rows, on torch's threads -------------------
def _set_block_rows(monkeypatch, rows):
    import sknn._input._tabular as tabular

    monkeypatch.setattr(tabular, "ENCODE_BLOCK_ROWS", rows)


def _tables_of_every_kind(n_rows):
    frame = _mixed_frame(n_rows, 4)
    rng = np.random.default_rng(1)
    unusual = frame[["x1", "city"]].copy()  # columns pandas reads one by one
    unusual["stamp"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(
        rng.integers(0, 1000, n_rows), unit="D")
    unusual["nullable"] = pd.array(rng.integers(0, 9, n_rows), dtype="Int64")
    unusual.loc[::11, "nullable"] = pd.NA
    return {"frame": frame,
            "frame of unusual kinds": unusual,
            "float array": frame[["x0", "x1", "x2", "x3"]].to_numpy(np.float32),
            "integer array": rng.integers(-50, 50, (n_rows, 3)),
            "object array": frame[["x1", "city"]].to_numpy(object)}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("kind", ["frame", "frame of unusual kinds", "float array",
                                  "integer array", "object array"])
def test_large_tables_encode_in_row_blocks_exactly_as_in_one(monkeypatch, kind, threads):
    from sknn._core._process import torch_threads

    X = _tables_of_every_kind(5_000)[kind]
    spec = [1] if kind == "object array" else "from_dtype"
    encoder = TabularEncoder(categorical_features=spec, n_bins=48)
    whole_fit = encoder.fit_transform(X, dtype=np.float32)
    whole = encoder.transform(X)
    _set_block_rows(monkeypatch, 1_234)  # 5 blocks, the last short
    with torch_threads(threads):
        blocked_encoder = TabularEncoder(categorical_features=spec, n_bins=48)
        np.testing.assert_array_equal(blocked_encoder.fit_transform(X, dtype=np.float32),
                                      whole_fit)
        np.testing.assert_array_equal(encoder.transform(X), whole)
    for edges, blocked_edges in zip(encoder.bin_edges, blocked_encoder.bin_edges):
        np.testing.assert_array_equal(edges, blocked_edges)


@pytest.mark.parametrize("kind", ["frame", "float array"])
def test_an_error_in_a_later_block_of_rows_is_raised_as_without_blocks(monkeypatch, kind):

    X = _tables_of_every_kind(5_000)[kind]
    encoder = TabularEncoder(estimator_name="MLPRegressor")
    encoder.fit_transform(X)
    X = X.copy()
    if kind == "frame":
        X.loc[4_321, "x2"] = np.inf
        expected = "MLPRegressor: column 'x2' contains infinity"
    else:
        X[4_321, 2] = np.inf
        expected = "MLPRegressor: column 2 contains infinity"
    _set_block_rows(monkeypatch, 1_000)
    with pytest.raises(ValueError, match=expected):
        encoder.transform(X)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_the_estimators_threads_encode_a_large_table(monkeypatch, n_threads):
    import concurrent.futures

    import sknn._input._tabular as tabular

    pools = []

    class RecordingPool(concurrent.futures.ThreadPoolExecutor):
        def __init__(self, max_workers):
            pools.append(max_workers)
            super().__init__(max_workers)

    frame = _mixed_frame(3_000, 3)
    y = (frame["x1"] > 0).to_numpy()
    clf = MLPClassifier(max_iter=1, ensemble_size=1, random_state=0, n_threads=n_threads)
    _set_block_rows(monkeypatch, 1_000)
    monkeypatch.setattr(tabular, "ThreadPoolExecutor", RecordingPool)
    clf.fit(frame, y)
    fit_pools = list(pools)
    proba = clf.predict_proba(frame)
    assert fit_pools == [n_threads]
    assert pools[len(fit_pools):] == [n_threads]
    _set_block_rows(monkeypatch, 10_000)  # one block: the same
    np.testing.assert_array_equal(clf.predict_proba(frame), proba)


def test_auto_hidden_layer_sizes_narrow_the_first_layer_after_numeric_embeddings():
    # 'auto': (128, 256) after numeric embeddings (the first layer then mixes a wide
    # input), (256, 256) without them; explicit sizes are used as given.
    frame = _mixed_frame(600, 3)
    y = (frame["x1"] > 0).to_numpy()

    def widths(**params):
        model = MLPClassifier(max_iter=1, random_state=0, **params).fit(frame, y)
        return [layer.out_features for layer in model.net_.module_.modules()
                if isinstance(layer, torch.nn.Linear)]

    assert widths() == [128, 256]  # continuous columns: piecewise-linear embeddings
    assert widths(numeric_embedding="periodic") == [128, 256]
    assert widths(numeric_embedding=None) == [256, 256]
    assert widths(hidden_layer_sizes=(32, 16)) == [32, 16]
    assert widths(ensemble_size=1) == [128, 256, 2]
    assert MLPRegressor().hidden_layer_sizes == MLPClassifier().hidden_layer_sizes == "auto"


@pytest.mark.parametrize("n_values", [0, 1, 2, 7, 8, 9, 1000, 1024])
def test_branch_free_search_equals_numpys(n_values):
    from sknn._input._numeric import _count_at_or_below

    rng = np.random.default_rng(n_values)
    values = np.unique(rng.normal(size=n_values) * 10.0 ** rng.integers(-40, 40, n_values))
    for size in (5, 5_000):  # np.searchsorted itself below 1,024 values of x
        x = np.concatenate([rng.choice(np.append(values, [-0.0, 0.0, 1e300, -1e300]), size),
                            rng.normal(size=size), [-np.inf, np.inf]])
        for dtype in (np.float64, np.float32):
            with np.errstate(over="ignore"):  # 1e300 is infinite in float32
                typed = x.astype(dtype)
            np.testing.assert_array_equal(_count_at_or_below(values, typed),
                                          np.searchsorted(values, typed, side="right"))


def test_a_category_column_of_mixed_types_encodes_the_same_in_blocks(monkeypatch):
    # A string among integer codes makes the whole column strings (so every code is
    # unseen here), whichever block of rows the string is in.
    rng = np.random.default_rng(0)
    fit = pd.DataFrame({"x": rng.normal(size=500), "k": rng.integers(0, 3, 500)})
    encoder = TabularEncoder(categorical_features=["k"])
    encoder.fit_transform(fit)
    X = pd.DataFrame({"x": rng.normal(size=5_000),
                      "k": pd.Series(rng.integers(0, 3, 5_000), dtype=object)})
    X.loc[4_999, "k"] = "new level"
    whole = encoder.transform(X)
    _set_block_rows(monkeypatch, 1_000)
    np.testing.assert_array_equal(encoder.transform(X), whole)


def test_the_first_invalid_column_is_named_whichever_block_fails_first(monkeypatch):
    X = _tables_of_every_kind(5_000)["frame"]
    encoder = TabularEncoder(estimator_name="MLPRegressor")
    encoder.fit_transform(X)
    X = X.copy()
    X.loc[4_000, "x0"] = np.inf  # the first column, in the last block
    X.loc[3, "x2"] = np.inf  # a later column, in the first block
    _set_block_rows(monkeypatch, 1_000)
    with pytest.raises(ValueError, match="MLPRegressor: column 'x0' contains infinity"):
        encoder.transform(X)


def _searchsorted_slots(search, x):
    """What the guide-table search must equal: the last edge below each value."""
    below = torch.searchsorted(search.searched_edges, x.T.to(search.dtype).contiguous())
    return (below - 1).clamp(0, search.n_slots - 1).T


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_slot_search_equals_searchsorted_on_and_beside_every_edge(dtype):
    from sknn.modules.tabular import PiecewiseLinearEmbedding

    torch.manual_seed(0)
    edges = [torch.sort(torch.randn(49)).values,  # a quantile-normal column's
             torch.sort(torch.randn(49).exp()).values,  # a heavy-tailed one's
             torch.tensor([0.0, 1.0, 2.0, 3.0]),  # an integer column's: fewer bins
             torch.tensor([0.0, 0.5, 0.5, 2.0]),  # a bin of zero width
             torch.tensor([-1.0, 1.0])]  # one bin
    layer = PiecewiseLinearEmbedding(edges, 4).to(dtype)
    near = []
    for e in edges:
        e = e.to(dtype)
        near.append(torch.cat([e, torch.nextafter(e, torch.tensor(-math.inf, dtype=dtype)),
                               torch.nextafter(e, torch.tensor(math.inf, dtype=dtype)),
                               3 * torch.randn(40, dtype=dtype),
                               torch.tensor([-1e30, 1e30, 0.0], dtype=dtype)]))
    n = min(len(v) for v in near)
    x = torch.cat([torch.stack([v[torch.randperm(len(v))[:n]] for v in near], dim=1),
                   torch.stack([v[:n] for v in near], dim=1)])
    search = layer._search_for(x)
    assert search.n_checks <= search.MAX_CHECKS  # the guide table, not the fallback
    torch.testing.assert_close(search.slots(x), _searchsorted_slots(search, x), rtol=0, atol=0)


def test_slot_search_falls_back_to_searchsorted_when_edges_crowd():
    from sknn.modules.tabular import PiecewiseLinearEmbedding

    # Edges spread over 12 orders of magnitude ('standard' scaling of a skewed
    # column): almost all of them fall in the first of the equal cells.
    layer = PiecewiseLinearEmbedding([torch.logspace(-6, 6, 30), torch.linspace(0, 1, 30)], 4)
    x = torch.cat([torch.logspace(-7, 7, 200)[:, None], torch.rand(200, 1)], dim=1)
    search = layer._search_for(x)
    assert search.n_checks > search.MAX_CHECKS
    torch.testing.assert_close(search.slots(x), _searchsorted_slots(search, x), rtol=0, atol=0)


def test_piecewise_linear_embedding_stops_a_shorter_feature_at_its_last_edge():
    from sknn.modules.tabular import PiecewiseLinearEmbedding

    layer = PiecewiseLinearEmbedding([torch.linspace(0, 4, 5), torch.tensor([0.0, 1.0, 2.0])], 2)
    x = torch.tensor([[5.0, 2.0], [9.0, 3.0], [-2.0, 50.0]])
    by_definition = torch.relu(torch.einsum("bfi,fio->bfo", layer.encode(x), layer.weight)
                               + layer.bias).flatten(1)
    torch.testing.assert_close(layer(x), by_definition)
    # The shorter feature saturates beyond its last edge; the longer one extends.
    torch.testing.assert_close(layer(x)[1, 2:], layer(x)[0, 2:])
    assert not torch.equal(layer(x)[1, :2], layer(x)[0, :2])


def test_piecewise_linear_embedding_search_follows_its_buffers_and_is_not_saved(tmp_path):
    import pickle

    from sknn.modules.tabular import PiecewiseLinearEmbedding

    torch.manual_seed(0)
    layer = PiecewiseLinearEmbedding([torch.linspace(0, 1, 9), torch.linspace(-3, 3, 9)], 3)
    other = PiecewiseLinearEmbedding([torch.linspace(5, 6, 9), torch.linspace(0, 9, 9)], 3)
    x = torch.rand(30, 2) * 10 - 3
    layer(x)
    assert "_search" in vars(layer)
    restored = pickle.loads(pickle.dumps(layer))
    assert "_search" not in vars(restored)
    torch.testing.assert_close(restored(x), layer(x))
    layer.load_state_dict(other.state_dict())  # the buffers change in place
    torch.testing.assert_close(layer(x), other(x))
    torch.testing.assert_close(layer.double()(x.double()), other.double()(x.double()))


def test_piecewise_linear_embedding_of_nan_is_nan():
    from sknn.modules.tabular import PiecewiseLinearEmbedding

    layer = PiecewiseLinearEmbedding([torch.linspace(0, 1, 5)], 3)
    assert torch.isnan(layer(torch.tensor([[math.nan]]))).all()


def test_piecewise_linear_embedding_saturates_a_shorter_feature_at_infinity():
    from sknn.modules.tabular import PiecewiseLinearEmbedding

    layer = PiecewiseLinearEmbedding([torch.linspace(0, 3, 4), torch.tensor([0.0, 1.0])], 3)
    x = torch.tensor([[0.5, math.inf], [0.5, 1e38], [0.5, 2.0]])
    embedded = layer(x)
    assert torch.isfinite(embedded).all()
    torch.testing.assert_close(embedded[0], embedded[2])
    torch.testing.assert_close(embedded, torch.relu(torch.einsum(
        "bfi,fio->bfo", layer.encode(x), layer.weight) + layer.bias).flatten(1))


@pytest.mark.parametrize("empty, later", [
    (pd.Series([np.nan] * 40), np.arange(40.0)),                         # floats
    (pd.Series([None] * 40, dtype=object), ["new"] * 40),                # no type at all
    (pd.Series(pd.Categorical([None] * 40, categories=["x", "y"])), ["x"] * 40),
])
def test_a_column_missing_at_fit_moves_nothing_when_it_has_values_later(empty, later):
    # scikit-learn's imputers drop a column without observed values; sknn reads it
    # as missing in every row, whatever it holds later.
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"a": rng.randn(40), "empty": empty})
    y = frame["a"] * 2
    est = MLPRegressor(max_iter=3, ensemble_size=1, n_threads=1, random_state=0)
    est.fit(frame, y)
    filled = frame.assign(empty=later)
    np.testing.assert_array_equal(est.predict(filled), est.predict(frame))
    encoder = est.encoder_
    if encoder.kinds[1] == "categorical":
        assert [column.observed for column in encoder.categories] == [False]
    else:
        assert encoder.unobserved_index == (1,)


def test_a_column_of_words_is_told_without_parsing_all_its_values(monkeypatch):
    from sknn._input import _columns

    parsed_sizes = []
    to_numeric = pd.to_numeric

    def recording(values, **kwargs):
        parsed_sizes.append(len(values))
        return to_numeric(values, **kwargs)

    monkeypatch.setattr(pd, "to_numeric", recording)
    names = pd.Series([f"name {i}" for i in range(5 * _columns.TEXT_PROBE_VALUES)])
    assert _columns._column_kind(names) == _columns.CATEGORICAL
    assert max(parsed_sizes) <= _columns.TEXT_PROBE_VALUES  # 0.6 s on 1M names otherwise
    # Numbers' text is still parsed whole: a word after the first values is seen.
    numbers = pd.Series([str(i) for i in range(5 * _columns.TEXT_PROBE_VALUES)] + ["word"])
    assert _columns._column_kind(numbers) == _columns.CATEGORICAL
    assert _columns._column_kind(numbers[:-1]) == _columns.NUMERIC
