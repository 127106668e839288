"""The ``sknn`` command line: fit, predict, evaluate and benchmark on tables.

``sknn`` (the console script) and ``python -m sknn`` run :func:`main`. Every
command reads a CSV or Parquet file, or with no file a dataset that
scikit-learn ships (no download). With no arguments at all, ``sknn`` runs
``sknn benchmark --no-plot`` on the digits dataset: the project's main job.
Errors a user can fix (a missing file or column, a bad parameter, a file that
is not an sknn model) print one line to stderr and exit with status 1.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import sys
import time
import warnings
from pathlib import Path

BUILTIN_DATASETS = {
    "digits": "load_digits",
    "breast_cancer": "load_breast_cancer",
    "iris": "load_iris",
    "wine": "load_wine",
    "diabetes": "load_diabetes",
}
DEFAULT_DATASET = "digits"
BUILTIN_TARGET = "target"
MODELS = {"mlp": "MLP", "cnn": "CNN", "rnn": "RNN", "transformer": "Transformer"}
# An integer target with at most this many distinct values is a class label.
MAX_INTEGER_CLASSES = 20
PROG = "sknn"
MODEL_HELP = "a model file saved by `sknn fit` (or sknn.save)"


class CliError(Exception):
    """A mistake the user can fix; printed as one line, exit status 1."""


# -- entry point ----------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Run the ``sknn`` command line.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments after the program name; ``sys.argv[1:]`` when None. An
        empty list runs ``benchmark --no-plot`` on the built-in digits data.

    Returns
    -------
    status : int
        0 on success, 1 on a user error, 130 when interrupted.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv or ["benchmark", "--no-plot"])
    try:
        args.command(args)
    except CliError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `sknn predict ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``sknn`` command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train, apply and compare sknn neural networks on tables (CSV or "
        "Parquet) from the command line. Without arguments, runs `sknn benchmark "
        "--no-plot` on scikit-learn's bundled digits dataset.",
        epilog="Run `sknn COMMAND --help` for the options of each command.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_fit(commands)
    _add_predict(commands)
    _add_evaluate(commands)
    _add_benchmark(commands)
    return parser


def _add_data_arguments(parser, target_required: bool):
    parser.add_argument(
        "data", nargs="?", metavar="DATA",
        help="a .csv or .parquet file (Parquet needs pyarrow); without it, the "
        "built-in dataset named by --dataset",
    )
    parser.add_argument(
        "--target", metavar="COL", required=False,
        help="column to predict" + (" (required with DATA; 'target' for built-in "
                                    "datasets)" if target_required else ""),
    )
    parser.add_argument(
        "--dataset", choices=sorted(BUILTIN_DATASETS), default=DEFAULT_DATASET,
        help=f"scikit-learn's bundled dataset used when DATA is not given "
        f"(default: {DEFAULT_DATASET}; 'diabetes' is a regression)",
    )


def _add_model_arguments(parser):
    parser.add_argument(
        "--model", choices=sorted(MODELS), default="mlp",
        help="network architecture (default: mlp); models not in this sknn version "
        "yet say so",
    )
    parser.add_argument(
        "--task", choices=["auto", "classification", "regression"], default="auto",
        help="auto (default): classification for text, boolean or integer targets "
        f"with at most {MAX_INTEGER_CLASSES} values, regression otherwise",
    )
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE",
        help="estimator parameter, repeatable (e.g. --param max_iter=50 --param "
        "'hidden_layer_sizes=(64, 64)'); VALUE is a Python literal or else a string",
    )
    parser.add_argument("--test-size", type=float, default=0.2, metavar="FRACTION",
                        help="share of the rows held out for the final score "
                        "(default: 0.2)")
    parser.add_argument("--random-state", type=int, default=0, metavar="SEED",
                        help="seed of the split and the models (default: 0)")


def _add_fit(commands):
    parser = commands.add_parser(
        "fit", help="train a model on a table, score it, save it",
        description="Train an sknn model on DATA: detect the task, report "
        "cross-validated scores on the training rows, train with a progress bar, "
        "report the held-out score and save the model as an sknn model file "
        "(sknn.save: weights and plain data that load without running code).",
    )
    _add_data_arguments(parser, target_required=True)
    _add_model_arguments(parser)
    parser.add_argument("--cv", type=int, default=5, metavar="K",
                        help="folds of the cross-validation on the training rows; "
                        "0 skips it (default: 5)")
    parser.add_argument("--output", "-o", default="model.sknn", metavar="PATH",
                        help="where to save the trained model (default: model.sknn)")
    parser.set_defaults(command=cmd_fit)


def _add_predict(commands):
    parser = commands.add_parser(
        "predict", help="predict with a saved model",
        description="Predict every row of DATA with a model saved by `sknn fit` and "
        "write a CSV. Model files load without running code: sknn reads them as "
        "data and refuses pickles and joblib files.",
    )
    parser.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    parser.add_argument("data", nargs="?", metavar="DATA",
                        help="a .csv or .parquet file with the model's feature columns "
                        "(others are ignored); without it, the built-in --dataset")
    parser.add_argument("--dataset", choices=sorted(BUILTIN_DATASETS),
                        default=DEFAULT_DATASET,
                        help=f"built-in dataset used without DATA (default: "
                        f"{DEFAULT_DATASET})")
    parser.add_argument("--output", "-o", metavar="PATH",
                        help="CSV file for the predictions (default: standard output)")
    parser.add_argument("--proba", action="store_true",
                        help="also write one probability column per class (classifiers)")
    parser.set_defaults(command=cmd_predict)


def _add_evaluate(commands):
    parser = commands.add_parser(
        "evaluate", help="score a saved model on labelled data",
        description="Score a model saved by `sknn fit` on DATA: accuracy, balanced "
        "accuracy and log loss for classifiers; R², RMSE and MAE for regressors.",
    )
    parser.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    _add_data_arguments(parser, target_required=True)
    parser.set_defaults(command=cmd_evaluate)


def _add_benchmark(commands):
    parser = commands.add_parser(
        "benchmark", help="compare sknn with scikit-learn baselines",
        description="Train sknn's model and scikit-learn's MLP, HistGradientBoosting "
        "and a linear model on the same split of DATA; print a table of held-out "
        "scores and fit times and save a PNG of the networks' training curves.",
    )
    _add_data_arguments(parser, target_required=True)
    _add_model_arguments(parser)
    parser.add_argument("--n-threads", type=int, default=1, metavar="N",
                        help="CPU threads of every model, for a fair comparison on a "
                        "shared machine; 0 keeps each library's default (default: 1)")
    parser.add_argument("--plot", default="sknn-benchmark.png", metavar="PATH",
                        help="PNG of the training curves (default: sknn-benchmark.png; "
                        "needs matplotlib)")
    parser.add_argument("--no-plot", dest="plot", action="store_const", const=None,
                        help="do not draw the training curves")
    parser.set_defaults(command=cmd_benchmark)


# -- data -------------------------------------------------------------------------
def read_table(path: str):
    """Read a CSV or Parquet file into a DataFrame, or raise CliError."""
    import pandas as pd

    file = Path(path)
    if not file.is_file():
        raise CliError(f"no such file: {path}")
    suffix = file.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise CliError(f"cannot read {path}: expected a .csv or .parquet file")
    if suffix != ".csv":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise CliError(f"reading Parquet ({path}) needs pyarrow: "
                           "pip install pyarrow") from None
    try:
        return pd.read_csv(file) if suffix == ".csv" else pd.read_parquet(file)
    except Exception as error:  # pandas' parsers raise many types
        raise CliError(f"cannot read {path}: {_one_line(error)}") from None


def load_builtin(name: str):
    """A dataset scikit-learn ships, as a DataFrame with a 'target' column."""
    import sklearn.datasets

    return getattr(sklearn.datasets, BUILTIN_DATASETS[name])(as_frame=True).frame


def load_table(args):
    """The DataFrame the command works on and a short name of where it came from."""
    if args.data is None:
        return load_builtin(args.dataset), f"{args.dataset} (built-in)"
    return read_table(args.data), args.data


def split_target(frame, target: str | None, source: str, from_file: bool):
    """Features and target column of ``frame``; rows without a target are dropped."""
    if target is None:
        if from_file:
            raise CliError(f"--target COL is required with DATA ({source}); "
                           f"columns: {_names(frame.columns)}")
        target = BUILTIN_TARGET
    if target not in frame.columns:
        raise CliError(f"column {target!r} is not in {source}; columns: "
                       f"{_names(frame.columns)}")
    missing = frame[target].isna()
    if missing.all():
        raise CliError(f"column {target!r} of {source} has no values")
    if missing.any():
        print(f"dropping {int(missing.sum())} rows without a {target!r} value",
              file=sys.stderr)
        frame = frame[~missing]
    if frame.shape[1] < 2:
        raise CliError(f"{source} has no feature columns besides {target!r}")
    return frame.drop(columns=[target]), frame[target]


def detect_task(y, requested: str = "auto") -> str:
    """'classification' or 'regression' for target ``y`` (a pandas Series)."""
    if requested != "auto":
        return requested
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    if not numeric:
        return "classification"
    integral = bool(((y % 1) == 0).all())
    return ("classification" if integral and y.nunique() <= MAX_INTEGER_CLASSES
            else "regression")


def feature_columns(model, X, source: str):
    """The columns of ``X`` the model was trained on, in its order."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return X
    absent = [name for name in names if name not in X.columns]
    if absent:
        raise CliError(f"{source} lacks column(s) the model was trained on: "
                       f"{_names(absent)}")
    return X[list(names)]


# -- models -------------------------------------------------------------------------
def estimator_class(model: str, task: str):
    """The sknn class for ``--model``/``task``, looked up by name on :mod:`sknn`."""
    import sknn

    name = MODELS[model] + ("Classifier" if task == "classification" else "Regressor")
    cls = getattr(sknn, name, None)
    if cls is None:
        available = [key for key, prefix in MODELS.items()
                     if hasattr(sknn, prefix + "Classifier")]
        raise CliError(f"--model {model}: sknn {sknn.__version__} has no {name} yet "
                       f"(planned); available: {', '.join(available)}")
    return cls


def parse_params(pairs: list[str]) -> dict:
    """``['a=1', 'b=relu']`` -> ``{'a': 1, 'b': 'relu'}`` (literals, else strings)."""
    params = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise CliError(f"--param expects NAME=VALUE, got {pair!r}")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            value = text
        params[name.strip()] = value
    return params


def make_estimator(model: str, task: str, params: dict, random_state: int):
    """An sknn estimator with ``params`` set and validated, or raise CliError."""
    from sklearn.utils._param_validation import InvalidParameterError

    estimator = estimator_class(model, task)(random_state=random_state)
    name = type(estimator).__name__
    valid = estimator.get_params()
    unknown = [key for key in params if key not in valid]
    if unknown:
        raise CliError(f"{name} has no parameter {unknown[0]!r}; valid parameters: "
                       f"{', '.join(sorted(valid))}")
    estimator.set_params(**params)
    try:
        estimator._validate_params()  # scikit-learn's constraint check, as in fit
    except InvalidParameterError as error:
        raise CliError(f"--param: {_one_line(error)}") from None
    return estimator


def run_estimator(method, *args, **kwargs):
    """Call an estimator method; its input errors become one-line CliErrors."""
    try:
        return method(*args, **kwargs)
    except (ValueError, TypeError) as error:
        raise CliError(_one_line(error)) from None


def load_model(path: str):
    """Load a model saved by ``sknn fit`` (:func:`sknn.load`), or raise CliError.

    Loading never runs code from the file: a pickle or joblib file is refused.
    """
    from sklearn.base import is_classifier, is_regressor

    import sknn

    if not Path(path).is_file():
        raise CliError(f"no such file: {path}")
    try:
        model = sknn.load(path)
    except ValueError as error:  # sknn.load's message names the file and the problem
        reason = _one_line(error).removeprefix("sknn.load: ")
        raise CliError(f"{reason} Create model files with `sknn fit` (or sknn.save)."
                       ) from None
    except OSError as error:
        raise CliError(f"cannot read {path}: {_one_line(error)}") from None
    # sknn.load also returns sknn's transformers (TextSequencer, AutoencoderTransformer).
    if not (is_classifier(model) or is_regressor(model)):
        raise CliError(f"{path} holds an sknn {type(model).__name__}, not a classifier "
                       "or regressor like those `sknn fit` saves")
    return model


# -- scores --------------------------------------------------------------------------
def held_out_scores(model, X, y, task: str) -> dict[str, float]:
    """Accuracy, balanced accuracy and log loss, or R², RMSE and MAE."""
    from sklearn import metrics

    predictions = run_estimator(model.predict, X)
    if task == "regression":
        return {
            "R2": metrics.r2_score(y, predictions),
            "RMSE": metrics.root_mean_squared_error(y, predictions),
            "MAE": metrics.mean_absolute_error(y, predictions),
        }
    scores = {
        "accuracy": metrics.accuracy_score(y, predictions),
        "balanced_accuracy": metrics.balanced_accuracy_score(y, predictions),
    }
    if hasattr(model, "predict_proba") and set(y.unique()) <= set(model.classes_):
        proba = run_estimator(model.predict_proba, X)
        scores["log_loss"] = metrics.log_loss(y, proba, labels=model.classes_)
    return scores


def format_scores(scores: dict[str, float]) -> str:
    return "  ".join(f"{name} {value:.4f}" for name, value in scores.items())


# -- commands -------------------------------------------------------------------------
def cmd_fit(args):
    """``sknn fit``: cross-validate, train, score on held-out rows, save."""
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    folder = Path(args.output).parent
    if not folder.is_dir():  # say so before the training, not after
        raise CliError(f"cannot write {args.output}: no folder {folder}")
    X, y, task, source = _labelled_data(args)
    params = parse_params(args.param)
    model = make_estimator(args.model, task, params, args.random_state)
    if args.cv == 1 or args.cv < 0:
        raise CliError(f"--cv must be 0 (no cross-validation) or at least 2, "
                       f"got {args.cv}")
    X_train, X_test, y_train, y_test = _split(X, y, task, args)
    print(f"{type(model).__name__} on {len(X_train)} training rows, "
          f"{len(X_test)} held out")
    if args.cv:
        quiet = clone(model).set_params(verbose=0)
        with _quiet_warnings():
            folds = run_estimator(cross_val_score, quiet, X_train, y_train, cv=args.cv,
                                  error_score="raise")
        metric = "accuracy" if task == "classification" else "R2"
        print(f"cross-validated {metric} ({args.cv} folds): {folds.mean():.4f} "
              f"± {folds.std():.4f}  [{' '.join(f'{s:.4f}' for s in folds)}]")
    if "verbose" not in params:
        model.set_params(verbose=1)  # the progress bar
    start = time.perf_counter()
    with _quiet_warnings():
        run_estimator(model.fit, X_train, y_train)
    print(f"trained in {time.perf_counter() - start:.1f} s ({model.n_iter_} epochs)")
    print(f"held-out {format_scores(held_out_scores(model, X_test, y_test, task))}")
    _save(model, args.output)


def cmd_predict(args):
    """``sknn predict``: write predictions (and probabilities) as CSV."""
    import pandas as pd

    model = load_model(args.model)
    if args.proba and not hasattr(model, "predict_proba"):
        raise CliError(f"--proba needs a classifier; {args.model} holds an "
                       f"{type(model).__name__}")
    frame, source = load_table(args)
    if args.data is None:
        frame = frame.drop(columns=[BUILTIN_TARGET])
    X = feature_columns(model, frame, source)
    columns = {"prediction": run_estimator(model.predict, X)}
    if args.proba:
        proba = run_estimator(model.predict_proba, X)
        columns.update({f"proba_{label}": proba[:, j]
                        for j, label in enumerate(model.classes_)})
    table = pd.DataFrame(columns, index=frame.index)
    if args.output is None:
        table.to_csv(sys.stdout, index=False)
    else:
        table.to_csv(args.output, index=False)
        print(f"wrote {len(table)} predictions to {args.output}")


def cmd_evaluate(args):
    """``sknn evaluate``: score a saved model on labelled data."""
    from sklearn.base import is_classifier

    model = load_model(args.model)
    frame, source = load_table(args)
    X, y = split_target(frame, args.target, source, from_file=args.data is not None)
    task = "classification" if is_classifier(model) else "regression"
    scores = held_out_scores(model, feature_columns(model, X, source), y, task)
    print(f"{type(model).__name__} on {len(y)} rows of {source}")
    print(format_scores(scores))


def cmd_benchmark(args):
    """``sknn benchmark``: sknn against scikit-learn baselines on one split."""
    from threadpoolctl import threadpool_limits

    X, y, task, source = _labelled_data(args)
    params = parse_params(args.param)
    n_threads = args.n_threads or None
    if n_threads is not None and "n_threads" not in params:
        params["n_threads"] = n_threads
    sknn_model = make_estimator(args.model, task, params, args.random_state)
    X_train, X_test, y_train, y_test = _split(X, y, task, args)
    models = {f"sknn.{type(sknn_model).__name__}": sknn_model,
              **_baselines(task, args.random_state, len(y_train))}
    rows = []
    with threadpool_limits(n_threads), _quiet_warnings():
        for name, model in models.items():
            start = time.perf_counter()
            run_estimator(model.fit, X_train, y_train)
            seconds = time.perf_counter() - start
            rows.append((name, held_out_scores(model, X_test, y_test, task), seconds))
    print(f"scores on {len(y_test)} held-out rows; models trained on {len(y_train)}")
    _print_table(rows)
    if args.plot:
        _plot_curves(models, args.plot)


# -- command helpers -----------------------------------------------------------------------
def _labelled_data(args):
    frame, source = load_table(args)
    X, y = split_target(frame, args.target, source, from_file=args.data is not None)
    task = detect_task(y, args.task)
    if task == "regression" and not _is_numeric(y):
        raise CliError(f"--task regression needs a numeric target; {args.target!r} "
                       f"holds {y.dtype} values")
    detail = f", {y.nunique()} classes" if task == "classification" else ""
    print(f"{source}: {len(y)} rows, {X.shape[1]} features; target "
          f"{y.name!r}: {task}{detail}")
    return X, y, task, source


def _is_numeric(y) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)


def _split(X, y, task: str, args):
    from sklearn.model_selection import train_test_split

    if not 0 < args.test_size < 1:
        raise CliError(f"--test-size must be between 0 and 1, got {args.test_size}")
    stratify = y if task == "classification" and y.value_counts().min() >= 2 else None
    try:
        return train_test_split(X, y, test_size=args.test_size, stratify=stratify,
                                random_state=args.random_state)
    except ValueError as error:
        raise CliError(f"cannot hold out --test-size {args.test_size} of {len(y)} rows: "
                       f"{_one_line(error)}") from None


def _baselines(task: str, random_state: int, n_train: int) -> dict:
    """scikit-learn's MLP, HistGradientBoosting and a linear model, with preprocessing."""
    from sklearn import ensemble, linear_model, neural_network

    early_stopping = n_train > 1000  # as sknn's early_stopping='auto'
    if task == "classification":
        models = [
            neural_network.MLPClassifier(max_iter=300, early_stopping=early_stopping,
                                         random_state=random_state),
            ensemble.HistGradientBoostingClassifier(random_state=random_state),
            linear_model.LogisticRegression(max_iter=1000),
        ]
    else:
        models = [
            neural_network.MLPRegressor(max_iter=300, early_stopping=early_stopping,
                                        random_state=random_state),
            ensemble.HistGradientBoostingRegressor(random_state=random_state),
            linear_model.RidgeCV(),
        ]
    return {f"sklearn.{type(model).__name__}": baseline_pipeline(model)
            for model in models}


def baseline_pipeline(model):
    """Impute and scale numbers, one-hot encode everything else, then ``model``.

    The preprocessing a scikit-learn baseline needs to take the tables that
    sknn estimators take as they are.
    """
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numbers = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    others = make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    )
    columns = make_column_transformer(
        (numbers, make_column_selector(dtype_include="number")),
        (others, make_column_selector(dtype_exclude="number")),
    )
    return make_pipeline(columns, model)


def _print_table(rows):
    width = max(len(name) for name, _, _ in rows) + 2
    metrics = {metric: max(len(metric), 8) + 2 for metric in rows[0][1]}
    print(f"{'model':<{width}}" + "".join(f"{m:>{w}}" for m, w in metrics.items())
          + f"{'fit s':>8}")
    for name, scores, seconds in rows:
        print(f"{name:<{width}}"
              + "".join(f"{scores[m]:>{w}.4f}" for m, w in metrics.items())
              + f"{seconds:>8.2f}")


def _plot_curves(models: dict, path: str):
    """Save the training curves of the models that record one to ``path``."""
    from sknn._training_curve import final_estimator, import_pyplot
    from sknn.inspection import TrainingCurveDisplay

    try:
        plt = import_pyplot("sknn benchmark --plot")
    except ImportError as error:
        print(f"{PROG}: no plot: {error}", file=sys.stderr)
        return
    curves = {name: model for name, model in models.items()
              if getattr(final_estimator(model), "loss_curve_", None) is not None}
    figure, axes = plt.subplots(1, len(curves), figsize=(6 * len(curves), 4),
                                squeeze=False)
    for ax, (name, model) in zip(axes[0], curves.items()):
        TrainingCurveDisplay.from_estimator(model, ax=ax, name=name)
    figure.tight_layout()
    try:
        figure.savefig(path)
    except OSError as error:
        raise CliError(f"cannot write {path}: {_one_line(error)}") from None
    finally:
        plt.close(figure)
    print(f"training curves: {path}")


def _save(model, path: str):
    """Write ``model`` with :func:`sknn.save`, or raise CliError."""
    import sknn

    try:
        sknn.save(model, path)
    except OSError as error:
        raise CliError(f"cannot write {path}: {_one_line(error)}") from None
    print(f"saved {path}, which loads without running code  (use it with: "
          f"sknn predict {path} DATA)")


@contextlib.contextmanager
def _quiet_warnings():
    """Silence the ConvergenceWarnings of capped runs; other warnings show."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _names(columns, limit: int = 12) -> str:
    names = [str(name) for name in columns]
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
