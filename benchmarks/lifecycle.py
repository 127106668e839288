"""Model lifecycle on Adult: distillation from gradient boosting, then compression.

Distillation: a HistGradientBoostingClassifier teacher on the official Adult
split (raw CSV, categories as strings); an sknn MLP student trained on the
teacher's softened probabilities (``DistilledClassifier``) against the same
student on the labels only. Reports test accuracy and predict time on the
test set.

Compression of the labels-only student: parameter count (nonzero), pickled
size, CPU predict throughput and test accuracy for the original, pruned
(global, 50% and 80%) and int8-quantized copies.

Ensembles (``--ensemble``, instead of the above): California housing
(``benchmarks/tabular.py``'s split), ``MLPRegressor`` with ``ensemble_size`` 1
and 8 and otherwise the same settings: test RMSE, fit time, time per epoch and
per member, and the mean ``return_std`` spread on the test set.

Everything runs on one torch/OpenMP thread.

    python benchmarks/lifecycle.py --epochs 10 --markdown
    python benchmarks/lifecycle.py --ensemble --epochs 30 --markdown
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sklearn.model_selection import train_test_split  # noqa: E402
from tabular import load_adult, load_california  # noqa: E402

from sknn import DistilledClassifier, MLPClassifier, MLPRegressor  # noqa: E402
from sknn.compression import parameter_counts, prune, quantize  # noqa: E402


def as_categories(X):
    return X.astype({c: "category" for c in X.select_dtypes("object")})


def timed_predict(predict, X, repeats=3):
    """Best wall time of ``repeats`` calls and the last result."""
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = predict(X)
        best = min(best, time.perf_counter() - start)
    return best, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--alpha", type=float, default=0.7)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--ensemble", action="store_true",
                        help="run the ensemble benchmark on California instead")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    if args.ensemble:
        ensembles(args.epochs)
        return

    X_train, X_test, y_train, y_test = load_adult()
    # HistGradientBoosting reads string columns as categories through a dtype cast.
    teacher = make_pipeline(
        FunctionTransformer(as_categories),
        HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0))
    start = time.perf_counter()
    teacher.fit(X_train, y_train)
    teacher_fit = time.perf_counter() - start

    student = MLPClassifier((128, 128), ensemble_size=1, max_iter=args.epochs,
                            n_threads=1, random_state=0)
    rows = []

    start = time.perf_counter()
    labels_only = student.fit(X_train, y_train)
    labels_fit = time.perf_counter() - start
    start = time.perf_counter()
    distilled = DistilledClassifier(clone(student), teacher, temperature=args.temperature,
                                    alpha=args.alpha).fit(X_train, y_train)
    distilled_fit = time.perf_counter() - start

    t_teacher, pred = timed_predict(teacher.predict, X_test)
    rows.append(("HistGradientBoosting teacher", np.mean(pred == y_test), teacher_fit,
                 t_teacher))
    t_labels, pred = timed_predict(labels_only.predict, X_test)
    rows.append(("MLP student, labels only", np.mean(pred == y_test), labels_fit, t_labels))
    t_distilled, pred = timed_predict(distilled.predict, X_test)
    rows.append(("MLP student, distilled", np.mean(pred == y_test), distilled_fit,
                 t_distilled))

    print(f"Adult (official split, {len(X_train)} train / {len(X_test)} test rows), 1 thread; "
          f"student MLP (128, 128), ensemble_size=1, max_iter={args.epochs}, "
          f"T={args.temperature}, alpha={args.alpha}\n")
    print("| model | test accuracy | fit (s) | predict test set (s) | predict speed-up vs "
          "teacher |")
    print("|---|---|---|---|---|")
    for name, accuracy, fit, predict in rows:
        print(f"| {name} | {accuracy:.4f} | {fit:.1f} | {predict:.3f} | "
              f"{t_teacher / predict:.2f}x |")

    print("\nCompression of the labels-only student (predict throughput on the test set, "
          "1 thread):\n")
    print("| model | nonzero parameters | pickled size (KB) | predict rows/s | test accuracy "
          "| accuracy change |")
    print("|---|---|---|---|---|---|")
    base_accuracy = np.mean(labels_only.predict(X_test) == y_test)
    variants = [("original (float32)", labels_only),
                ("pruned 50% (global)", prune(labels_only, 0.5)),
                ("pruned 80% (global)", prune(labels_only, 0.8)),
                ("int8 dynamic quantization", quantize(labels_only))]
    for name, model in variants:
        seconds, pred = timed_predict(model.predict, X_test)
        accuracy = np.mean(pred == y_test)
        counts = parameter_counts(model)
        size = len(pickle.dumps(model)) / 1024
        print(f"| {name} | {counts['nonzero']:,} of {counts['total']:,} | {size:.0f} | "
              f"{len(X_test) / seconds:,.0f} | {accuracy:.4f} | "
              f"{accuracy - base_accuracy:+.4f} |")


def ensembles(epochs, seed=0):
    """ensemble_size 8 against 1 on California: accuracy gain and time per member."""
    X, y = load_california()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2,
                                                        random_state=seed)
    print(f"California ({len(X_train)} train / {len(X_test)} test rows), 1 thread, seed "
          f"{seed}; MLPRegressor((256, 256), max_iter={epochs}) defaults otherwise\n")
    print("| ensemble_size | test RMSE | epochs run | fit (s) | s per epoch | "
          "s per epoch per member | mean std on test |")
    print("|---|---|---|---|---|---|---|")
    for size in (1, 8):
        model = MLPRegressor(ensemble_size=size, max_iter=epochs, random_state=seed,
                             n_threads=1)
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        pred = model.predict(X_test)
        std = model.predict(X_test, return_std=True)[1].mean() if size > 1 else np.nan
        rmse = float(np.sqrt(np.mean((pred - y_test) ** 2)))
        per_epoch = seconds / model.n_iter_
        print(f"| {size} | {rmse:.4f} | {model.n_iter_} | {seconds:.1f} | {per_epoch:.2f} | "
              f"{per_epoch / size:.3f} | {std:.3f} |")


if __name__ == "__main__":
    main()
