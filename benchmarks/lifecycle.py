"""Model lifecycle on Adult: distillation from gradient boosting, then compression.

Distillation: a HistGradientBoostingClassifier teacher on the official Adult
split (raw CSV, categories as strings); an sknn MLP student trained on the
teacher's softened probabilities (``DistilledClassifier``) against the same
student on the labels only. Reports test accuracy and predict time on the
test set.

Compression of the labels-only student: parameter count (nonzero), pickled
size, CPU predict throughput and test accuracy for the original, pruned
(global, 50% and 80%) and int8-quantized copies.

Everything runs on one torch/OpenMP thread.

    python benchmarks/lifecycle.py --epochs 10 --markdown
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
from tabular import load_adult  # noqa: E402

from sknn import DistilledClassifier, MLPClassifier  # noqa: E402
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
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")

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


if __name__ == "__main__":
    main()
