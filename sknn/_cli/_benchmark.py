"""``sknn benchmark``: sknn against scikit-learn baselines on one split."""

from __future__ import annotations

import sys
import time

from sknn._cli._common import (
    PROG,
    CliError,
    held_out_scores,
    hold_out,
    labelled_data,
    make_estimator,
    one_line,
    parse_params,
    quiet_warnings,
    run_estimator,
)


def cmd_benchmark(args):
    """``sknn benchmark``: sknn against scikit-learn baselines on one split."""
    from threadpoolctl import threadpool_limits

    X, y, task, source = labelled_data(args)
    params = parse_params(args.param)
    n_threads = args.n_threads or None
    if n_threads is not None and "n_threads" not in params:
        params["n_threads"] = n_threads
    sknn_model = make_estimator(args.model, task, params, args.random_state)
    X_train, X_test, y_train, y_test = hold_out(X, y, task, args)
    models = {f"sknn.{type(sknn_model).__name__}": sknn_model,
              **_baselines(task, args.random_state, len(y_train))}
    rows = []
    with threadpool_limits(n_threads), quiet_warnings():
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
    from sklearn.pipeline import Pipeline

    from sknn.inspection import TrainingCurveDisplay

    try:
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"{PROG}: no plot: sknn benchmark --plot needs matplotlib, an optional "
              "dependency of sknn; install it with: pip install matplotlib", file=sys.stderr)
        return
    curves = {name: model for name, model in models.items()
              if getattr(model[-1] if isinstance(model, Pipeline) else model,
                         "loss_curve_", None) is not None}
    figure, axes = plt.subplots(1, len(curves), figsize=(6 * len(curves), 4),
                                squeeze=False)
    for ax, (name, model) in zip(axes[0], curves.items()):
        TrainingCurveDisplay.from_estimator(model, ax=ax, name=name)
    figure.tight_layout()
    try:
        figure.savefig(path)
    except OSError as error:
        raise CliError(f"cannot write {path}: {one_line(error)}") from None
    finally:
        plt.close(figure)
    print(f"training curves: {path}")


