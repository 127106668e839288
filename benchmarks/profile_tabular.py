"""Where the time of a default tabular fit goes: a cProfile breakdown (issue 17).

Fits ``MLPClassifier`` on Adult (official training split, raw CSV from
``../shared/data/tabular``) under :mod:`cProfile` and splits the wall time into the
parts that a faster default could remove: the ensemble's forward pass, the numeric
embedding and input layer, the backward pass, the optimizer, the loss, the
validation pass, the minibatch slicing, what Python spends around them per batch,
and the set-up (encoding the table, building the net). It also says how many
epochs ran and how many came after the best one (time spent waiting for early
stopping's patience). cProfile adds a little to every Python call, so read the
shares, not the absolute seconds.

Run from the project root, for example::

    python benchmarks/profile_tabular.py --threads 2
    python benchmarks/profile_tabular.py --threads 2 --params '{"ensemble_size": 8,
        "learning_rate": "constant", "learning_rate_init": 0.001, "batch_size": 256,
        "max_iter": 200, "numeric_embedding": "piecewise_linear"}'   # the old defaults
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time
import warnings

import _environment  # the torch build, threads and load each figure depends on
import numpy as np
from tabular import load_adult


def cumulative(stats, suffix, name, kind):
    total = 0.0
    for (path, _, function), (_, _, own, cum, _) in stats.stats.items():
        if path.endswith(suffix) and function == name:
            total += own if kind == "own" else cum
    return total


def profile(params, threads):
    import sknn

    X_train, _, y_train, _ = load_adult()
    model = sknn.MLPClassifier(random_state=0, n_threads=threads, **params)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        profiler.enable()
        model.fit(X_train, y_train)
        profiler.disable()
    wall = time.perf_counter() - start
    return model, pstats.Stats(profiler), wall


def breakdown(stats, wall):
    """Non-overlapping parts of the fit's wall time, in seconds."""
    def cum(suffix, name):
        return cumulative(stats, suffix, name, "cum")

    forward = cum("_core/_net.py", "forward_pass")
    validation = cum("_core/_net.py", "validation_step")
    train_share = max(forward - validation, 0.0) / forward if forward else 0.0
    backward = cumulative(stats, "~",
                          "<method 'run_backward' of 'torch._C._EngineBase' objects>", "own")
    optimizer = cum("torch/optim/optimizer.py", "wrapper")
    loss = cum("_core/_net.py", "get_loss") * train_share
    steps = cum("_core/_net.py", "train_step")
    slicing = cum("_core/_data.py", "__iter__")
    epochs = cum("_core/_net.py", "run_single_epoch")
    loop = cum("_core/_net.py", "fit_loop")
    return [
        ("input layer: numeric (piecewise-linear) and categorical embeddings",
         cum("modules/tabular.py", "forward") * train_share),
        ("ensemble's hidden layers and heads, forward",
         cum("modules/ensemble.py", "forward") * train_share),
        ("backward pass", backward),
        ("optimizer step (Adam)", optimizer),
        ("loss", loss),
        ("validation pass (forward and loss on the held-out rows)", validation),
        ("minibatch slicing (the table stays one tensor)", slicing),
        ("Python in each training step",
         max(steps - forward * train_share - backward - optimizer - loss, 0.0)),
        ("Python in the batch loop (callbacks per batch)",
         max(epochs - steps - validation - slicing, 0.0)),
        ("per-epoch callbacks (early stopping, schedule, history)", max(loop - epochs, 0.0)),
        ("set-up: checking X, encoding the table, building the net", wall - loop),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--params", default="{}", help="estimator parameters (JSON)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    print(_environment.describe_environment(), flush=True)
    params = json.loads(args.params)
    model, stats, wall = profile(params, args.threads)
    history = model.net_.history
    losses = [row.get("valid_loss", np.inf) for row in history]
    best = int(np.argmin(losses)) + 1
    print(f"MLPClassifier({params}) on Adult: {wall:.1f} s wall, {model.n_iter_} epochs "
          f"(best {best}; {model.n_iter_ - best} after it), batch {model.net_.batch_size}")
    print("| part | seconds | share |")
    print("|---|---:|---:|")
    for part, seconds in breakdown(stats, wall):
        print(f"| {part} | {seconds:.1f} | {seconds / wall:.0%} |")


if __name__ == "__main__":
    main()
