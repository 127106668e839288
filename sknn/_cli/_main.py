"""The ``sknn`` command line: fit, predict, evaluate and benchmark on tables.

``sknn`` (the console script) and ``python -m sknn`` run :func:`main`. Every
command reads a CSV or Parquet file, or with no file a dataset that
scikit-learn ships (no download). With no arguments at all, ``sknn`` runs
``sknn benchmark --no-plot`` on the digits dataset: the project's main job.
Errors a user can fix (a missing file or column, a bad parameter, a file that
is not an sknn model) print one line to stderr and exit with status 1; usage
errors (an unknown command or option) print the usage and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from sknn._cli._benchmark import cmd_benchmark
from sknn._cli._common import (
    BUILTIN_DATASETS,
    BUILTIN_TARGET,
    DEFAULT_DATASET,
    MAX_INTEGER_CLASSES,
    MODEL_HELP,
    MODELS,
    PROG,
    CliError,
    blaming_the_model,
    feature_columns,
    format_scores,
    held_out_scores,
    hold_out,
    labelled_data,
    load_table,
    make_estimator,
    one_line,
    parse_params,
    quiet_warnings,
    run_estimator,
    split_target,
)


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
        0 on success (and for ``--help``), 1 on a mistake in the data, the model
        file or a ``--param``, 2 on a usage error (an unknown command or option,
        an option's value of the wrong type or not among its choices), 130 when
        interrupted.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv or ["benchmark", "--no-plot"])
    except SystemExit as exit_:  # --help (0) or a usage error (2), printed by argparse
        return exit_.code
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
    _add_csv_arguments(parser)
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


def _add_csv_arguments(parser):
    csv = parser.add_argument_group("reading a CSV file")
    csv.add_argument("--sep", default=",", metavar="CHAR",
                     help="field separator (default: ','; for example ';' or '\\t')")
    csv.add_argument("--na-values", action="append", metavar="VALUE",
                     help="a value that means missing, besides pandas' own ('', 'NA', "
                     "'NaN', 'null', ...); repeat for several, e.g. --na-values '?' "
                     "--na-values -999")
    csv.add_argument("--decimal", default=".", metavar="CHAR",
                     help="decimal mark of numbers (default: '.'; ',' for 3,14)")
    csv.add_argument("--encoding", metavar="NAME",
                     help="text encoding (default: UTF-8; e.g. latin-1, cp1252)")


def _add_model_arguments(parser):
    parser.add_argument(
        "--model", choices=sorted(MODELS), default="mlp",
        help="network architecture (default: mlp); cnn, rnn and transformer read each "
        "row as a series of the feature columns",
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
    _add_csv_arguments(parser)
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
        reason = one_line(error).removeprefix("sknn.load: ")
        raise CliError(f"{reason} Create model files with `sknn fit` (or sknn.save)."
                       ) from None
    except ImportError as error:  # a Pipeline's file, without skops
        raise CliError(one_line(error).removeprefix("sknn.load: ")) from None
    except OSError as error:
        raise CliError(f"cannot read {path}: {one_line(error)}") from None
    # sknn.load also returns transformers (TextSequencer, AutoencoderTransformer, a
    # Pipeline ending in one).
    if not (is_classifier(model) or is_regressor(model)):
        owner = "an sknn" if _is_sknn(model) else "a"
        raise CliError(f"{path} holds {owner} {type(model).__name__}, not a classifier "
                       "or regressor like those `sknn fit` saves")
    return model


def _is_sknn(estimator) -> bool:
    return type(estimator).__module__.split(".")[0] == "sknn"


def _with_verbose(model, level: int):
    """``model`` with ``verbose=level`` on itself or on the sknn estimators among its steps."""
    params = model.get_params(deep=True)
    names = [name for name in params if name.rpartition("__")[2] == "verbose"
             and _is_sknn(params[name.rpartition("__")[0]] if "__" in name else model)]
    return model.set_params(**dict.fromkeys(names, level))


def _epochs(model) -> str:
    """`` (N epochs)`` for the sknn estimator ``model`` is or ends with, else ''."""
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    n_iter = getattr(final, "n_iter_", None) if _is_sknn(final) else None
    return "" if n_iter is None else f" ({n_iter} epochs)"


# -- scores --------------------------------------------------------------------------

def cmd_fit(args):
    """``sknn fit``: cross-validate, train, score on held-out rows, save."""
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    folder = Path(args.output).parent
    if not folder.is_dir():  # say so before the training, not after
        raise CliError(f"cannot write {args.output}: no folder {folder}")
    X, y, task, source = labelled_data(args)
    params = parse_params(args.param)
    model = make_estimator(args.model, task, params, args.random_state)
    if args.cv == 1 or args.cv < 0:
        raise CliError(f"--cv must be 0 (no cross-validation) or at least 2, "
                       f"got {args.cv}")
    X_train, X_test, y_train, y_test = hold_out(X, y, task, args)
    print(f"{type(model).__name__} on {len(X_train)} training rows, "
          f"{len(X_test)} held out")
    if args.cv:
        quiet = _with_verbose(clone(model), 0)
        with quiet_warnings():
            folds = run_estimator(cross_val_score, quiet, X_train, y_train, cv=args.cv,
                                  error_score="raise")
        metric = "accuracy" if task == "classification" else "R2"
        print(f"cross-validated {metric} ({args.cv} folds): {folds.mean():.4f} "
              f"± {folds.std():.4f}  [{' '.join(f'{s:.4f}' for s in folds)}]")
    if "verbose" not in params:
        _with_verbose(model, 1)  # the progress bar
    start = time.perf_counter()
    with quiet_warnings():
        run_estimator(model.fit, X_train, y_train)
    print(f"trained in {time.perf_counter() - start:.1f} s{_epochs(model)}")
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
    with blaming_the_model(args.model, source):
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
    with blaming_the_model(args.model, source):
        scores = held_out_scores(model, feature_columns(model, X, source), y, task)
    print(f"{type(model).__name__} on {len(y)} rows of {source}")
    print(format_scores(scores))



def _save(model, path: str):
    """Write ``model`` (an sknn estimator or a Pipeline holding some) with :func:`sknn.save`."""
    import sknn

    try:
        sknn.save(model, path)
    except ImportError as error:  # a Pipeline needs skops
        raise CliError(one_line(error).removeprefix("sknn.save: ")) from None
    except OSError as error:
        raise CliError(f"cannot write {path}: {one_line(error)}") from None
    print(f"saved {path}, which loads without running code  (use it with: "
          f"sknn predict {path} DATA)")


