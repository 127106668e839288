"""``python -m sknn``: the main job on a built-in dataset.

Trains sknn's MLPClassifier on scikit-learn's bundled handwritten digits
(1,797 images of 8x8 pixels, no download), next to scikit-learn's own
MLPClassifier, and prints held-out scores and fit times.
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sknn",
        description="Train and evaluate sknn's MLPClassifier on scikit-learn's digits "
        "dataset (bundled, no download) and compare it with scikit-learn's MLP.",
    )
    parser.add_argument("--random-state", type=int, default=0,
                        help="seed of the split and of both models (default: 0)")
    parser.add_argument("--test-size", type=float, default=0.25,
                        help="share of the data held out for testing (default: 0.25)")
    args = parser.parse_args(argv)

    import warnings

    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, log_loss
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as SklearnMLP
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import sknn

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=args.test_size, stratify=y, random_state=args.random_state
    )
    print(f"sknn {sknn.__version__}: digits, {len(X_train)} train / {len(X_test)} test "
          f"images, {X.shape[1]} features, 10 classes")
    models = {
        "sknn.MLPClassifier": make_pipeline(
            StandardScaler(), sknn.MLPClassifier(random_state=args.random_state)
        ),
        "sklearn MLPClassifier": make_pipeline(
            StandardScaler(), SklearnMLP(random_state=args.random_state, max_iter=300)
        ),
    }
    print(f"{'model':<24}{'accuracy':>10}{'log loss':>10}{'fit s':>8}")
    for name, model in models.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            model.fit(X_train, y_train)
            seconds = time.perf_counter() - start
        accuracy = accuracy_score(y_test, model.predict(X_test))
        loss = log_loss(y_test, model.predict_proba(X_test))
        print(f"{name:<24}{accuracy:>10.4f}{loss:>10.4f}{seconds:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
