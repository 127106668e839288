"""Tabular accuracy benchmark: sknn's defaults against the usual baselines.

Datasets (read from ``../shared/data/tabular``; nothing is downloaded):

- Adult census income: official train/test split, the raw CSV read with pandas
  (``?`` as missing, string categories), accuracy on the official test set;
  seeds vary the models' random state.
- California housing: the 8 scikit-learn-style features, 5 random 80/20 splits
  (``train_test_split(..., test_size=0.2, random_state=seed)``), RMSE of the
  target in $100k, as in Gorishniy et al. 2021.

Models: sknn's MLPClassifier/MLPRegressor with default parameters on the raw
DataFrame; scikit-learn's MLP (early stopping) behind imputers, a
StandardScaler and a OneHotEncoder; HistGradientBoosting with native
categoricals; with ``--transformer``, sknn's TransformerClassifier /
TransformerRegressor with default parameters on the raw DataFrame (issue 6);
and, with ``--realmlp``, pytabkit's RealMLP-TD (install pytabkit for the
benchmark only; it needs minutes per fit on a 2-core CPU).

Run from the project root, for example::

    python benchmarks/tabular.py --seeds 5 --markdown
    python benchmarks/tabular.py --datasets california --models sknn hgb --seeds 1

With ``--threads N`` torch runs N threads for every model; by default it runs its
own default (one per core), as a user gets.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path

import _environment  # the torch build, threads and load each figure depends on
import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tabular"
ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
    "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
    "hours-per-week", "native-country", "income",
]


def load_adult(categories_as_category=False):
    """Official Adult split as raw DataFrames (strings, NaN for '?')."""
    frames = []
    for name in ("adult-train.csv", "adult-test.csv"):
        frame = pd.read_csv(DATA / name, header=None, names=ADULT_COLUMNS,
                            na_values="?", skipinitialspace=True)
        frame["income"] = frame["income"].str.rstrip(".")
        frames.append(frame)
    train, test = frames
    y_train = (train.pop("income") == ">50K").to_numpy()
    y_test = (test.pop("income") == ">50K").to_numpy()
    if categories_as_category:
        for column in train.select_dtypes(exclude="number").columns:
            kind = pd.CategoricalDtype(sorted(train[column].dropna().unique()))
            train[column] = train[column].astype(kind)
            test[column] = test[column].astype(kind)
    return train, test, y_train, y_test


def load_california():
    """California housing with scikit-learn's 8 features; target in $100k."""
    raw = pd.read_csv(DATA / "cal_housing.data", header=None, names=[
        "longitude", "latitude", "housingMedianAge", "totalRooms", "totalBedrooms",
        "population", "households", "medianIncome", "medianHouseValue"])
    X = pd.DataFrame({
        "MedInc": raw.medianIncome,
        "HouseAge": raw.housingMedianAge,
        "AveRooms": raw.totalRooms / raw.households,
        "AveBedrms": raw.totalBedrooms / raw.households,
        "Population": raw.population,
        "AveOccup": raw.population / raw.households,
        "Latitude": raw.latitude,
        "Longitude": raw.longitude,
    })
    return X, (raw.medianHouseValue / 100_000).to_numpy()


# -- models -------------------------------------------------------------------
def _for_dataset(params, dataset):
    """Parameters whose value may be keyed by dataset: {"max_iter": {"adult": 24}}."""
    return {key: value[dataset] if isinstance(value, dict) else value
            for key, value in params.items()}


def make_model(name, task, seed, threads, dataset=None):
    if name == "sknn" or name.startswith("sknn "):
        import sknn
        cls = sknn.MLPClassifier if task == "classification" else sknn.MLPRegressor
        params = json.loads(name.removeprefix("sknn")) if name != "sknn" else {}
        return cls(random_state=seed, n_threads=threads, **params)
    if name == "transformer" or name.startswith("transformer "):
        import sknn
        cls = (sknn.TransformerClassifier if task == "classification"
               else sknn.TransformerRegressor)
        params = json.loads(name.removeprefix("transformer")) if name != "transformer" else {}
        return cls(random_state=seed, n_threads=threads, **_for_dataset(params, dataset))
    if name == "sklearn-mlp":
        return _sklearn_mlp(task, seed)
    if name == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier as HGBC
        from sklearn.ensemble import HistGradientBoostingRegressor as HGBR
        cls = HGBC if task == "classification" else HGBR
        return cls(categorical_features="from_dtype", random_state=seed)
    if name == "realmlp":
        from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor
        cls = RealMLP_TD_Classifier if task == "classification" else RealMLP_TD_Regressor
        return cls(device="cpu", random_state=seed, n_threads=threads, verbosity=0)
    raise ValueError(name)


def _sklearn_mlp(task, seed):
    """scikit-learn's MLP behind the command line's baseline preprocessing."""
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    from sknn._cli._benchmark import baseline_pipeline

    cls = MLPClassifier if task == "classification" else MLPRegressor
    return baseline_pipeline(cls(early_stopping=True, random_state=seed))


# -- runs -----------------------------------------------------------------------
def adult_runs(seeds):
    native = load_adult(categories_as_category=True)
    raw = load_adult()
    for seed in seeds:
        yield seed, raw, native


def california_runs(seeds):
    from sklearn.model_selection import train_test_split

    X, y = load_california()
    for seed in seeds:
        split = train_test_split(X, y, test_size=0.2, random_state=seed)
        yield seed, split, split


def evaluate(name, task, data, seed, threads, dataset=None):
    X_train, X_test, y_train, y_test = data
    model = make_model(name, task, seed, threads, dataset)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    predict = model.predict_proba if task == "classification" else model.predict
    predict(X_test)  # warm (first calls load code paths)
    start = time.perf_counter()
    predict(X_test)
    rows_per_second = len(X_test) / (time.perf_counter() - start)
    prediction = model.predict(X_test)
    if task == "classification":
        score = float(np.mean(np.asarray(prediction) == y_test))
    else:
        score = float(np.sqrt(np.mean((np.ravel(prediction) - y_test) ** 2)))
    return score, seconds, rows_per_second


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["adult", "california"],
                        choices=["adult", "california"])
    parser.add_argument("--models", nargs="+",
                        default=["sknn", "sklearn-mlp", "hgb"],
                        choices=["sknn", "sklearn-mlp", "hgb", "realmlp", "transformer"])
    parser.add_argument("--transformer", action="store_true",
                        help="also run sknn's Transformer estimators (defaults)")
    parser.add_argument("--realmlp", action="store_true",
                        help="also run pytabkit's RealMLP-TD (slow; --realmlp-seeds)")
    parser.add_argument("--realmlp-seeds", type=int, default=1)
    parser.add_argument("--variants", nargs="+", default=[], metavar="JSON",
                        help="also run sknn's MLP with these parameters, e.g. "
                             "'{\"ensemble_size\": 1}' (interleaved with the others)")
    parser.add_argument("--transformer-variants", nargs="+", default=[], metavar="JSON",
                        help="also run sknn's Transformer with these parameters; a value "
                             "may be keyed by dataset: '{\"max_iter\": {\"adult\": 24, "
                             "\"california\": 76}}'")
    parser.add_argument("--variant-seeds", type=int, default=None,
                        help="run the variants on the first this many seeds only")
    parser.add_argument("--transformer-variant-seeds", type=int, default=None,
                        help="the same for the Transformer variants (default: "
                             "--variant-seeds)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for every model (default: torch's, one per core)")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)

    import torch
    if args.threads is not None:
        torch.set_num_threads(args.threads)
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    print(_environment.describe_environment(), flush=True)
    models = (list(args.models) + [f"sknn {json.dumps(json.loads(v))}" for v in args.variants]
              + (["transformer"] if args.transformer else [])
              + [f"transformer {json.dumps(json.loads(v))}" for v in args.transformer_variants]
              + (["realmlp"] if args.realmlp else []))
    results = {}
    for dataset in args.datasets:
        task = "classification" if dataset == "adult" else "regression"
        runs = adult_runs if dataset == "adult" else california_runs
        for seed, raw, native in runs(range(args.seeds)):
            # Models interleaved within each seed, so machine load hits all alike.
            for name in models:
                if name == "realmlp" and seed >= args.realmlp_seeds:
                    continue
                limit = (args.transformer_variant_seeds or args.variant_seeds
                         if name.startswith("transformer ") else
                         args.variant_seeds if name.startswith("sknn ") else None)
                if limit is not None and seed >= limit:
                    continue
                data = native if name == "hgb" else raw
                score, seconds, speed = evaluate(name, task, data, seed, args.threads,
                                                 dataset)
                results.setdefault((dataset, name), []).append((score, seconds, speed))
                print(f"{dataset:<11}{name:<13} seed {seed}: score {score:.4f} "
                      f"fit {seconds:7.1f}s predict {speed:,.0f} rows/s", flush=True)
    print_table(results, args.markdown)


def print_table(results, markdown):
    header = ["dataset", "model", "metric", "mean ± std", "seeds", "median fit s",
              "fit time / HGB", "fit time / sklearn MLP", "median predict rows/s"]
    medians = {key: statistics.median(t for _, t, _ in runs) for key, runs in results.items()}
    rows = []
    for (dataset, name), runs in results.items():
        scores = [s for s, _, _ in runs]
        metric = "accuracy" if dataset == "adult" else "RMSE"
        spread = statistics.stdev(scores) if len(scores) > 1 else 0.0
        fit = medians[dataset, name]
        ratios = [f"{fit / medians[dataset, other]:.1f}x" if (dataset, other) in medians
                  else "" for other in ("hgb", "sklearn-mlp")]
        rows.append([dataset, name, metric, f"{np.mean(scores):.4f} ± {spread:.4f}",
                     str(len(scores)), f"{fit:.1f}", *ratios,
                     f"{statistics.median(r for _, _, r in runs):,.0f}"])
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        for row in [header] + rows:
            print("".join(f"{cell:<18}" for cell in row))


if __name__ == "__main__":
    main()
