"""ONNX export of every architecture: agreement with sknn and prediction throughput.

For each of MLP (on a table with categories and missing values), CNN, RNN and
Transformer (on series), fit a small default-sized model, export it with
``sknn.export.to_onnx``, and report the largest absolute difference between the
onnxruntime outputs and ``predict_proba``, and rows per second of each
(median of ``--repeats``; onnxruntime and torch on ``--threads`` threads)::

    python benchmarks/export.py --threads 1 --markdown
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import _environment  # the torch build, threads and load each figure depends on
import numpy as np
import pandas as pd


def datasets(rng):
    n = 4000
    table = pd.DataFrame({"a": rng.normal(size=n), "b": rng.exponential(size=n),
                          "city": rng.choice(["x", "y", "z", None], n)})
    table.loc[::9, "a"] = np.nan
    y_table = ((table["a"].fillna(0) + (table["city"] == "x")) > 0.5).to_numpy()
    series = rng.normal(size=(n, 2, 64)).astype(np.float32)
    y_series = (series[:, 0, :16].mean(axis=1) > 0).astype(int)
    return {"table": (table, y_table), "series": (series, y_series)}


def models(threads):
    import sknn

    common = {"max_iter": 3, "n_threads": threads, "random_state": 0}
    return [("MLPClassifier", "table", sknn.MLPClassifier(**common)),
            ("CNNClassifier", "series", sknn.CNNClassifier(**common)),
            ("RNNClassifier", "series", sknn.RNNClassifier(**common)),
            ("TransformerClassifier", "series", sknn.TransformerClassifier(**common))]


def run_onnx(arguments):
    """Raw X to probabilities through the graph (``prepare_input`` included)."""
    from sknn.export import prepare_input

    session, model, X = arguments
    return session.run(None, {"X": prepare_input(model, X)})[0]


def median_seconds(function, argument, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(argument)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    print(_environment.describe_environment(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    import onnxruntime as ort
    import torch

    from sknn.export import prepare_input, to_onnx

    torch.set_num_threads(args.threads)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = args.threads
    data = datasets(np.random.default_rng(0))
    rows = []
    for name, kind, model in models(args.threads):
        X, y = data[kind]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
        session = ort.InferenceSession(to_onnx(model), options,
                                       providers=["CPUExecutionProvider"])
        inputs = {"X": prepare_input(model, X)}
        difference = np.abs(session.run(None, inputs)[0] - model.predict_proba(X)).max()
        sknn_s = median_seconds(model.predict_proba, X, args.repeats)
        onnx_s = median_seconds(run_onnx, (session, model, X), args.repeats)
        rows.append((name, kind, difference, len(X) / sknn_s, len(X) / onnx_s))
        print(f"{name:<22}{kind:<8} max |diff| {difference:.1e}  sknn {len(X) / sknn_s:,.0f}"
              f" rows/s  onnxruntime {len(X) / onnx_s:,.0f} rows/s", flush=True)
    if args.markdown:
        print("\n| model | data | max abs difference | sknn rows/s | onnxruntime rows/s |")
        print("|---|---|---:|---:|---:|")
        for name, kind, difference, sknn_rate, onnx_rate in rows:
            print(f"| {name} | {kind} | {difference:.1e} | {sknn_rate:,.0f} | "
                  f"{onnx_rate:,.0f} |")


if __name__ == "__main__":
    main()
