"""Prediction throughput: sknn's default MLP against HistGradientBoosting (issue 17, item 5).

Rows per second of ``predict_proba`` (``predict`` for regression) on:

- Adult's official test set (16,281 rows; read from ``../shared/data/tabular``):
  sknn on the raw DataFrame (string columns) and on the same frame with pandas
  ``category`` columns, HistGradientBoosting (native categoricals) on the latter;
- California housing's 20% test split (4,128 rows);
- the synthetic 50-column table of ``scaling.py`` (40 numeric, 10 categorical
  columns), 1,000,000 fresh rows, with both models fitted on 100,000 rows of it
  (the rows a model was fitted on do not change what a prediction costs).

Each model is fitted once with its defaults; then the predictions run
``--repeats`` times, models interleaved within each repeat, and the table gives
medians. sknn's time is also split into encoding the table (validation,
scaling, category codes) and running the network. With ``--predict-rows N ...``
sknn's network runs in batches of each of those row counts, and with
``--variants JSON ...`` sknn models with other parameters are timed too, all
interleaved.

Run from the project root::

    python benchmarks/prediction.py --markdown
    python benchmarks/prediction.py --datasets adult --predict-rows 1024 2048
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import _environment  # the torch build, threads and load each figure depends on
import scaling
import tabular


def adult():
    X_train, X_test, y_train, _ = tabular.load_adult()
    native_train, native_test, _, _ = tabular.load_adult(categories_as_category=True)
    return "classification", (X_train, y_train), {
        "raw frame": X_test, "category frame": native_test}, (native_train, native_test)


def california():
    from sklearn.model_selection import train_test_split

    X, y = tabular.load_california()
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=0)
    return "regression", (X_train, y_train), {"frame": X_test}, (X_train, X_test)


def synthetic(fit_rows=100_000, predict_rows=1_000_000):
    X_train, y_train = scaling.make_table(fit_rows, seed=0)
    X_test, _ = scaling.make_table(predict_rows, seed=1)
    return "classification", (X_train, y_train), {"frame": X_test}, (X_train, X_test)


DATASETS = {"adult": adult, "california": california, "synthetic": synthetic}


def _seconds(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def run(name: str, repeats: int, predict_rows: list[int], variants: list[str]) -> list[dict]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    from sknn import MLPClassifier, MLPRegressor

    task, (X, y), sknn_inputs, (hgb_train, hgb_test) = DATASETS[name]()
    classification = task == "classification"
    sknn_models = {
        variant: (MLPClassifier if classification else MLPRegressor)(
            random_state=0, **json.loads(variant or "{}"))
        for variant in ["", *variants]
    }
    hgb = (HistGradientBoostingClassifier if classification
           else HistGradientBoostingRegressor)(categorical_features="from_dtype",
                                                random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for model in sknn_models.values():
            model.fit(X, y)
    hgb.fit(hgb_train, y)

    def sknn_predict(sknn, frame):
        return sknn.predict_proba(frame) if classification else sknn.predict(frame)

    def hgb_predict(frame):
        return hgb.predict_proba(frame) if classification else hgb.predict(frame)

    def encode(sknn, frame):
        sknn._encoded_rows(sknn._validate_X(frame, reset=False), None, fit=False)

    timings: dict[tuple, list[float]] = {}
    for _ in range(repeats):
        for label, frame in sknn_inputs.items():
            for variant, sknn in sknn_models.items():
                for rows in predict_rows:
                    sknn.net_.predict_batch_size = rows
                    timings.setdefault((f"sknn {variant}".strip(), label, rows), []).append(
                        _seconds(sknn_predict, sknn, frame))
            timings.setdefault(("sknn encoding", label, None), []).append(
                _seconds(encode, sknn_models[""], frame))
        timings.setdefault(("HistGradientBoosting", "category frame", None), []).append(
            _seconds(hgb_predict, hgb_test))
    n_rows = len(hgb_test)
    hgb_seconds = statistics.median(timings[("HistGradientBoosting", "category frame", None)])
    results = []
    for (model, label, rows), seconds in timings.items():
        median = statistics.median(seconds)
        results.append({
            "dataset": name, "rows": n_rows, "model": model, "input": label,
            "batch_rows": rows, "median_s": median, "rows_per_s": n_rows / median,
            "vs_hgb": hgb_seconds / median, "repeats": len(seconds),
        })
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--predict-rows", nargs="+", type=int, default=None,
                        help="rows per network batch (default: sknn's own)")
    parser.add_argument("--variants", nargs="+", default=[], metavar="JSON",
                        help="sknn parameters to time next to the defaults")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    from sknn._core._net import PREDICT_BATCH_ROWS

    print(_environment.describe_environment(), flush=True)
    results = []
    for name in args.datasets:
        for row in run(name, args.repeats, args.predict_rows or [PREDICT_BATCH_ROWS],
                       args.variants):
            results.append(row)
            print(row, flush=True)
    if args.markdown:
        print("| dataset | rows | model | input | batch rows | median s | rows/s "
              "| speed / HGB's |")
        print("|---|---:|---|---|---:|---:|---:|---:|")
        for row in results:
            batch = "" if row["batch_rows"] is None else f"{row['batch_rows']:,}"
            speed = "" if row["model"] == "sknn encoding" else f"{row['vs_hgb']:.2f}x"
            print(f"| {row['dataset']} | {row['rows']:,} | {row['model']} | {row['input']} "
                  f"| {batch} | {row['median_s']:.3f} | {row['rows_per_s']:,.0f} | {speed} |")


if __name__ == "__main__":
    main()
