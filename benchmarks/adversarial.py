"""Adversarial training: PGD accuracy of CNNs on digits, with and without it.

Data: scikit-learn's ``load_digits`` (1,797 8x8 images), pixels scaled to
[0, 1], a stratified 75/25 split (``random_state=0``). Models:
``CNNClassifier('plain', n_filters=(32, 64), max_iter=30)``, trained plainly,
with ``adversarial_epsilon=0.1`` (PGD, the default ``adversarial_method``)
and with FGSM at the same epsilon; seeds vary the models' ``random_state``.

Each fitted network is attacked on the test images by Captum's PGD (an
implementation independent of sknn's): L-infinity ball of radius epsilon,
random start, 20 steps of 2.5 * epsilon / 20, pixels kept in [0, 1]. Prints
the mean and standard deviation over the seeds of the accuracy under attack at
each epsilon (0: clean accuracy), the median fit time and the median CPU
time of a fit (on one thread, about the fit time of an idle machine). Torch
runs on one thread (``n_threads=1``).

    python benchmarks/adversarial.py --seeds 3 --markdown
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sknn import CNNClassifier

TRAIN_EPSILON = 0.1
EPSILONS = (0.0, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3)
MODELS = {
    "plain": {},
    "PGD-trained": {"adversarial_epsilon": TRAIN_EPSILON},
    "FGSM-trained": {"adversarial_epsilon": TRAIN_EPSILON, "adversarial_method": "fgsm"},
}
ATTACK_STEPS = 20


def load_data():
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32).reshape(-1, 1, 8, 8)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def accuracy_under_attack(estimator, X, y, epsilon):
    """Test accuracy after Captum's PGD moves every pixel by at most ``epsilon``."""
    try:
        from captum.robust import PGD
    except ImportError as error:
        raise SystemExit('benchmarks/adversarial.py attacks with Captum: '
                         'pip install "sknn[explain]"') from error
    network = estimator.net_.module_.eval()
    inputs = torch.as_tensor(X, dtype=estimator.net_.module_dtype())
    target = torch.as_tensor(np.searchsorted(estimator.classes_, y))
    if epsilon > 0:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Input Tensor 0 did not already")
            inputs = PGD(network, lower_bound=0.0, upper_bound=1.0).perturb(
                inputs, radius=epsilon, step_size=2.5 * epsilon / ATTACK_STEPS,
                step_num=ATTACK_STEPS, target=target, random_start=True)
    with torch.no_grad():
        return float((network(inputs).argmax(dim=1) == target).float().mean())


def run(seeds):
    """Results over ``seeds`` (an iterable of random states)."""
    X_train, X_test, y_train, y_test = load_data()
    results = {name: {"accuracy": {e: [] for e in EPSILONS}, "fit_time": [], "cpu_time": []}
               for name in MODELS}
    for seed in seeds:
        for name, params in MODELS.items():
            model = CNNClassifier("plain", n_filters=(32, 64), max_iter=30, n_threads=1,
                                  random_state=seed, **params)
            start, cpu_start = time.perf_counter(), time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # max_iter=30 ends before convergence
                model.fit(X_train, y_train)
            results[name]["fit_time"].append(time.perf_counter() - start)
            results[name]["cpu_time"].append(time.process_time() - cpu_start)
            torch.manual_seed(seed)  # the attack's random start
            for epsilon in EPSILONS:
                results[name]["accuracy"][epsilon].append(
                    accuracy_under_attack(model, X_test, y_test, epsilon))
            print(f"seed {seed} {name}: " + ", ".join(
                f"{e}: {results[name]['accuracy'][e][-1]:.3f}" for e in EPSILONS), flush=True)
    return results


def print_table(results, markdown):
    names = list(results)
    header = ["PGD epsilon"] + names
    rows = []
    for epsilon in EPSILONS:
        label = f"{epsilon:g}" + (" (clean)" if epsilon == 0 else "")
        rows.append([label] + [mean_std(results[n]["accuracy"][epsilon], 3) for n in names])
    for key, label in (("fit_time", "fit time (median s)"),
                       ("cpu_time", "fit CPU time (median s)")):
        rows.append([label] + [f"{statistics.median(results[n][key]):.1f}" for n in names])
    write_table(header, rows, markdown)


def write_table(header, rows, markdown):
    """Print the rows as a Markdown table, or as aligned columns."""
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        for row in [header] + rows:
            print("  ".join(f"{cell:>20}" for cell in row))


def mean_std(values, digits):
    """'mean ± standard deviation' of the seeds' values."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {std:.{digits}f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    print_table(run(range(args.seeds)), args.markdown)


if __name__ == "__main__":
    main()
