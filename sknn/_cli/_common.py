"""What the ``sknn`` commands share: reading tables, building estimators, scoring."""

from __future__ import annotations

import ast
import contextlib
import sys
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



# -- data -------------------------------------------------------------------------
def read_table(path: str, sep: str = ",", na_values: list[str] | None = None,
               decimal: str = ".", encoding: str | None = None):
    """Read a CSV or Parquet file into a DataFrame, or raise CliError.

    ``sep``, ``na_values``, ``decimal`` and ``encoding`` are pandas' CSV options
    (Parquet files carry their own types).
    """
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
    # A shell passes --sep '\t' as a backslash and a t; the tab is meant (pandas would
    # read the two characters as a regular expression, slowly and with a warning).
    sep = "\t" if sep == "\\t" else sep
    try:
        if suffix != ".csv":
            return pd.read_parquet(file)
        frame = pd.read_csv(file, sep=sep, na_values=na_values, decimal=decimal,
                            encoding=encoding)
    except UnicodeDecodeError as error:
        raise CliError(f"cannot read {path}: it is not {error.encoding} text (byte "
                       f"{error.object[error.start:error.start + 1].hex()} at "
                       f"{error.start}); pass its encoding, for example --encoding "
                       "latin-1") from None
    except Exception as error:  # pandas' parsers raise many types
        raise CliError(f"cannot read {path}: {one_line(error)}") from None
    _refuse_unsplit_columns(frame, path, sep)
    return frame


def _refuse_unsplit_columns(frame, path: str, sep: str) -> None:
    """A file of one column whose name holds another separator was split wrongly."""
    if frame.shape[1] != 1:
        return
    header = str(frame.columns[0])
    found = [other for other in (";", "\t", "|", ",") if other != sep and other in header]
    if found:
        raise CliError(f"cannot read {path}: its header {one_line(header)[:60]!r} was "
                       f"read as one column with --sep {sep!r}; the file seems separated "
                       f"by {found[0]!r}: pass --sep {found[0]!r}")


def load_builtin(name: str):
    """A dataset scikit-learn ships, as a DataFrame with a 'target' column."""
    import sklearn.datasets

    return getattr(sklearn.datasets, BUILTIN_DATASETS[name])(as_frame=True).frame


def load_table(args):
    """The DataFrame the command works on and a short name of where it came from."""
    if args.data is None:
        return load_builtin(args.dataset), f"{args.dataset} (built-in)"
    return read_table(args.data, sep=args.sep, na_values=args.na_values,
                      decimal=args.decimal, encoding=args.encoding), args.data


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
    return getattr(sknn, name)


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
        raise CliError(f"--param: {one_line(error)}") from None
    return estimator


def run_estimator(method, *args, **kwargs):
    """Call an estimator method; its input errors become one-line CliErrors."""
    try:
        return method(*args, **kwargs)
    except (ValueError, TypeError) as error:
        raise CliError(one_line(error)) from error  # the cause: see blaming_the_model



@contextlib.contextmanager
def blaming_the_model(path: str, source: str):
    """Name the model file when its network's outputs are not finite on finite rows.

    The estimator's error (its ``inputs_finite``) says whether the rows it
    could not predict are finite as the network reads them; then the file,
    not the user's data, is the likely cause.
    """
    try:
        yield
    except CliError as error:
        if getattr(error.__cause__, "inputs_finite", None):
            raise CliError(
                f"the model file {path} is the likely cause: its network's outputs are not "
                f"finite on rows of {source} whose values are finite ({one_line(error)}). Its "
                "weights may be damaged or edited: re-create it with `sknn fit`, or get an "
                "intact copy from its source."
            ) from None
        raise


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

def labelled_data(args):
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


def hold_out(X, y, task: str, args):
    from sklearn.model_selection import train_test_split

    if not 0 < args.test_size < 1:
        raise CliError(f"--test-size must be between 0 and 1, got {args.test_size}")
    stratify = y if task == "classification" and y.value_counts().min() >= 2 else None
    try:
        return train_test_split(X, y, test_size=args.test_size, stratify=stratify,
                                random_state=args.random_state)
    except ValueError as error:
        raise CliError(f"cannot hold out --test-size {args.test_size} of {len(y)} rows: "
                       f"{one_line(error)}") from None




@contextlib.contextmanager
def quiet_warnings():
    """Silence the ConvergenceWarnings of capped runs; other warnings show."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _names(columns, limit: int = 12) -> str:
    names = [str(name) for name in columns]
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
