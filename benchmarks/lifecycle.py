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
(``benchmarks/tabular.py``'s split, one per seed), ``MLPRegressor`` with
``ensemble_size`` 1 and 8 and otherwise the same settings: test RMSE, epochs
run, fit time (wall and CPU), time per epoch and per member, and the mean
``return_std`` spread on the test set. Without ``--epochs`` both train until
early stopping ends them (``max_iter=200``); ``--seeds`` repeats the
comparison and adds the mean and standard deviation over seeds.

Fine-tuning (``--finetune``): scikit-learn's digits split in half; an MLP
and a CNN pretrained on one half to tell the ten digits apart, then
fine-tuned (``init_from``; as it is, with ``freeze_epochs=10``, and with
only the new output layer trained) to tell even from odd digits from a few
labelled images of the other half, against the same network trained on those
images from scratch: test accuracy on the rest of the other half, mean and
standard deviation over seeds (each seed draws other labelled images and
initializations). A second table pretrains on digits 0-4 and fine-tunes on a
few images of digits 5-9.

Everything runs on one torch/OpenMP thread.

    python benchmarks/lifecycle.py --epochs 10 --markdown
    python benchmarks/lifecycle.py --ensemble --seeds 3 --markdown
    python benchmarks/lifecycle.py --finetune --seeds 10 --markdown
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
import warnings
from pathlib import Path

import _environment  # the torch build, threads and load each figure depends on

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sklearn.model_selection import train_test_split  # noqa: E402
from tabular import load_adult, load_california  # noqa: E402

from sknn import CNNClassifier, DistilledClassifier, MLPClassifier, MLPRegressor  # noqa: E402
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
    print(_environment.describe_environment(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None,
                        help="max_iter (default: 10 for distillation, the estimator's "
                        "200 with early stopping for --ensemble)")
    parser.add_argument("--seeds", type=int, default=1,
                        help="--ensemble, --finetune: seeds to repeat")
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--alpha", type=float, default=0.7)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--ensemble", action="store_true",
                        help="run the ensemble benchmark on California instead")
    parser.add_argument("--finetune", action="store_true",
                        help="run the fine-tuning benchmark on digits instead")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    if args.ensemble:
        ensembles(args.epochs, args.seeds)
        return
    if args.finetune:
        fine_tuning(args.seeds)
        return
    args.epochs = 10 if args.epochs is None else args.epochs

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


def ensembles(epochs, n_seeds):
    """ensemble_size 8 against 1 on California: accuracy gain and time per member."""
    X, y = load_california()
    budget = "max_iter=200, early stopping" if epochs is None else f"max_iter={epochs}"
    print(f"California ({len(X)} rows, 80/20 split per seed), 1 thread; "
          f"MLPRegressor((256, 256), {budget}) defaults otherwise\n")
    print("| seed | ensemble_size | test RMSE | epochs run | fit wall (s) | fit CPU (s) | "
          "CPU s per epoch | CPU s per epoch per member | mean std on test |")
    print("|---|---|---|---|---|---|---|---|---|")
    results = {1: [], 8: []}
    for seed in range(n_seeds):
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2,
                                                            random_state=seed)
        for size in (1, 8):
            params = {} if epochs is None else {"max_iter": epochs}
            model = MLPRegressor(ensemble_size=size, random_state=seed, n_threads=1,
                                 **params)
            start, start_cpu = time.perf_counter(), time.process_time()
            model.fit(X_train, y_train)
            seconds = time.perf_counter() - start
            cpu = time.process_time() - start_cpu
            pred = model.predict(X_test)
            std = model.predict(X_test, return_std=True)[1].mean() if size > 1 else np.nan
            rmse = float(np.sqrt(np.mean((pred - y_test) ** 2)))
            per_epoch = cpu / model.n_iter_
            results[size].append((rmse, per_epoch))
            print(f"| {seed} | {size} | {rmse:.4f} | {model.n_iter_} | {seconds:.1f} | "
                  f"{cpu:.1f} | {per_epoch:.2f} | {per_epoch / size:.3f} | {std:.3f} |",
                  flush=True)
    if n_seeds > 1:
        print("\n| ensemble_size | test RMSE (mean ± std) | CPU s per epoch (mean) |")
        print("|---|---|---|")
        for size, rows in results.items():
            rmse, per_epoch = np.array(rows).T
            print(f"| {size} | {rmse.mean():.4f} ± {rmse.std():.4f} | "
                  f"{per_epoch.mean():.2f} |")
    gains = [single[0] - ensemble[0] for single, ensemble in zip(results[1], results[8])]
    print(f"\nRMSE gain of 8 members over 1, per seed: "
          f"{', '.join(f'{g:+.4f}' for g in gains)}")


FINE_TUNING_MODELS = {
    "MLPClassifier()": lambda seed: MLPClassifier(random_state=seed, n_threads=1),
    "CNNClassifier(input_shape=(8, 8))": lambda seed: CNNClassifier(
        input_shape=(8, 8), random_state=seed, n_threads=1),
}


FINE_TUNING_VARIANTS = {
    "from scratch": {},
    "fine-tuned": {"init_from": True},
    "fine-tuned, freeze_epochs=10": {"init_from": True, "freeze_epochs": 10},
    "linear probe (head only)": {"init_from": True, "freeze_epochs": 10_000},
}


def fine_tuning(n_seeds, shots=(10, 20, 50)):
    """From-scratch against fine-tuned test accuracy on a small related task."""
    X, y = load_digits(return_X_y=True)
    half = np.random.RandomState(0).permutation(len(y))
    tasks = [
        ("digits 0-9 (898 images) -> even or odd", half[:898], y, half[898:], y % 2),
        ("digits 0-4 (all) -> digits 5-9", np.flatnonzero(y < 5), y,
         np.flatnonzero(y >= 5), y),
    ]
    print("scikit-learn digits (8x8), 1 thread; test accuracy mean ± std over "
          f"{n_seeds} seeds, default parameters otherwise\n")
    for title, pretrain, pretrain_y, new, new_y in tasks:
        print(f"**{title}** (labelled images drawn at random, at least one per class)\n")
        print(f"| model | labelled images | {' | '.join(FINE_TUNING_VARIANTS)} | "
              "pretraining fit CPU (s) |")
        print("|---" * (len(FINE_TUNING_VARIANTS) + 3) + "|")
        for name, make in FINE_TUNING_MODELS.items():
            start = time.process_time()
            pretrained = make(0).fit(X[pretrain], pretrain_y[pretrain])
            pretrain_seconds = time.process_time() - start
            for n_shots in shots:
                scores = {key: [] for key in FINE_TUNING_VARIANTS}
                for seed in range(n_seeds):
                    few = _few_shots(new, new_y, n_shots, seed)
                    test = np.setdiff1d(new, few)
                    for key, params in FINE_TUNING_VARIANTS.items():
                        params = {**params, "init_from": pretrained} if params else {}
                        model = make(seed).set_params(**params).fit(X[few], new_y[few])
                        scores[key].append(model.score(X[test], new_y[test]))
                cells = " | ".join(f"{np.mean(v):.3f} ± {np.std(v):.3f}"
                                   for v in scores.values())
                print(f"| {name} | {n_shots} | {cells} | {pretrain_seconds:.1f} |",
                      flush=True)
        print()


def _few_shots(rows, labels, n_shots, seed):
    """``n_shots`` rows drawn at random, at least one of each class."""
    rng = np.random.RandomState(seed)
    classes = np.unique(labels[rows])
    first = [rng.choice(rows[labels[rows] == c]) for c in classes]
    rest = rng.choice(np.setdiff1d(rows, first), n_shots - len(first), replace=False)
    return np.concatenate([first, rest])


if __name__ == "__main__":
    main()
