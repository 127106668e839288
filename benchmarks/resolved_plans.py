"""What each default fit resolves, recorded without training: compare two revisions.

Fits every family on generated data of several sizes and layouts, with the
batch and epoch rules, partial_fit, privacy, adversarial training, autocast and
dtypes, and records what the net starts training with (batch size, epochs,
schedule steps and kind, patience, monitored set, dtype, learning rate, weight
decay, autocast, device, privacy, adversarial training, gradient clipping):
``SknnNet.partial_fit`` is replaced by a recorder that stops the fit. Write the
records of two revisions and compare the files::

    python benchmarks/resolved_plans.py before.json   # on the old revision
    python benchmarks/resolved_plans.py after.json
    python -c "import json; print(json.load(open('before.json')) == json.load(open('after.json')))"
"""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import torch

import sknn
from sknn._core import _net


class _Stop(Exception):
    pass


RECORD: dict = {}


def _record(net, X, y=None, classes=None, epochs=None, **kwargs):
    callbacks = dict(net.callbacks_)
    convergence, schedule = callbacks["convergence"], callbacks["lr_schedule"]
    RECORD.update(
        batch=net.batch_size, epochs=epochs, max_epochs=net.max_epochs,
        total_steps=schedule.total_steps, kind=schedule.kind,
        patience=int(min(convergence.n_iter_no_change, 10**9)),
        monitor_validation=convergence.monitor_validation, enabled=convergence.enabled,
        dtype=str(next(net.module_.parameters()).dtype), lr=net.lr,
        wd=net.optimizer_.param_groups[0]["weight_decay"], autocast=str(net.autocast_dtype),
        device=str(net.device), dp=net.privacy is not None, adv=net.adversarial is not None,
        clip=net.clip_grad_norm)
    raise _Stop


def _cases():
    cases = []
    for n in (50, 150, 1500, 5000, 300_000):
        for d in (4, 64):
            if n == 300_000 and d == 64:
                continue
            table = ("table", n, d)
            cases += [("MLPClassifier", {}, table), ("MLPRegressor", {}, table),
                      ("MLPClassifier", {"batch_size": 64, "max_iter": 7}, table),
                      ("MLPClassifier", {"learning_rate": "constant",
                                         "early_stopping": False}, table),
                      ("MLPClassifier", {"batch_size": 10_000}, table)]
            if n <= 5000:
                cases += [("TransformerClassifier", {}, table),
                          ("TransformerRegressor", {"learning_rate": "constant"}, table),
                          ("TransformerClassifier", {"batch_size": 40}, table),
                          ("CNNClassifier", {}, table), ("CNNRegressor", {"batch_size": 40}, table),
                          ("RNNClassifier", {"max_iter": 5}, table),
                          ("AutoencoderTransformer", {"max_iter": 5}, table)]
    for n in (50, 500, 3000):
        for shape in ((1, 150), (3, 24), (1, 12)):
            series = ("series", n, shape)
            cases += [("CNNClassifier", {}, series), ("TransformerClassifier", {}, series),
                      ("RNNRegressor", {}, series)]
        cases += [("RNNClassifier", {"input_kind": "tokens"}, ("tokens", n, 40)),
                  ("TransformerClassifier", {"input_kind": "tokens"}, ("tokens", n, 40))]
    small = ("table", 500, 4)
    cases += [
        ("MLPClassifier", {"dp_epsilon": 3.0}, small),
        ("MLPClassifier", {"dp_epsilon": 3.0, "early_stopping": True}, ("table", 1500, 4)),
        ("CNNClassifier", {"dp_epsilon": 3.0, "normalization": "layer"}, small),
        ("MLPClassifier", {"adversarial_epsilon": 0.1}, small),
        ("TransformerClassifier", {"autocast": "bfloat16"}, small),
        ("RNNClassifier", {"clip_grad_norm": 1.0}, ("series", 200, (1, 20))),
        ("MLPClassifier", {"dp_epsilon": 3.0, "learning_rate": "constant"}, small),
        ("TransformerClassifier", {"learning_rate": "constant", "n_iter_no_change": 5}, small),
        ("MLPRegressor", {"n_iter_no_change": 3, "early_stopping": True}, small),
        ("MLPClassifier", {"dtype": "float32"}, small),
        ("MLPClassifier", {"dtype": "float64"}, ("table", 5000, 4)),
    ]
    return cases


def _data(rng, name, kind, n, shape):
    classifier = name.endswith("Classifier")
    if kind == "table":
        X = rng.normal(size=(n, shape))
        return X, (X[:, 0] > 0).astype(int) if classifier else X[:, 0]
    if kind == "series":
        X = rng.normal(size=(n, *shape))
        first = X.reshape(n, -1)[:, 0]
        y = (first > 0).astype(int) if classifier else first
        return (X[:, 0] if shape[0] == 1 else X), y
    X = rng.integers(1, 50, size=(n, shape))
    X[:, -5:] = 0  # padding
    return X, (X[:, 0] > 25).astype(int)


def _run(model, X, y, partial=False):
    RECORD.clear()
    try:
        if isinstance(model, sknn.AutoencoderTransformer):
            model.fit(X)
        elif partial:
            model.partial_fit(X, y, classes=np.unique(y))
        else:
            model.fit(X, y)
    except _Stop:
        pass
    except Exception as error:  # a refusal is a resolved outcome too
        RECORD["error"] = f"{type(error).__name__}: {str(error)[:100]}"
    return dict(RECORD)


def main(path: str) -> None:
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    _net.SknnNet.partial_fit = _record
    rng = np.random.default_rng(0)
    records = []
    for name, params, (kind, n, shape) in _cases():
        X, y = _data(rng, name, kind, n, shape)
        cls = getattr(sknn, name)
        record = _run(cls(random_state=0, **params), X, y)
        if name == "MLPClassifier" and not params and n <= 1500:
            record["partial"] = _run(cls(random_state=0), X, y, partial=True)
        records.append({"case": [name, params, kind, n, str(shape)], **record})
        print(name, params, kind, n, shape, record, flush=True)
    with open(path, "w") as out:
        json.dump(records, out, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1])
