"""Checkpoint: save the training state every few epochs and resume a fit that crashed."""

from __future__ import annotations

import math
import os
import warnings
from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch
from skorch.callbacks import Callback

from sknn._io._codec import _Decoder, _Encoder, restore_net
from sknn._io._persistence import read_file, warn_about_versions, write_file
from sknn._utils._registry import dropped_from_files


# Not skorch's Checkpoint and LoadInitState: they write with pickle or
# torch.save, which a safe model file must not need to read, and restore no
# random generators or schedule, so a resumed fit would not end as the
# uninterrupted one does (this one does, bit for bit on the CPU).
@dropped_from_files("sknn._checkpoint.Checkpoint")
class Checkpoint(Callback):
    """Save the training state every few epochs; a fit that crashed resumes from it.

    Pass it in an estimator's ``callbacks``. Every ``every`` epochs it writes
    the network's weights, the optimizer state, the training history, the
    state of early stopping and of the learning-rate schedule, and the random
    number generators to ``path`` (atomically, in the safe format of
    :func:`sknn.save`). When the process dies (killed, out of memory, a power
    cut), fitting the same estimator again on the same data with the same
    ``Checkpoint`` continues from the last saved epoch, with a warning, and
    ends as the uninterrupted fit would have (on the CPU, bit for bit).

    The file exists only while a fit is unfinished: it is deleted when the
    fit completes, and kept when the fit fails or is interrupted (Ctrl-C).
    Only a fit that starts a new network resumes; ``warm_start`` fits and
    ``partial_fit`` write checkpoints but do not read them. A checkpoint
    written by a fit on other data, or by another network, is refused with
    a ``ValueError``.

    :func:`sknn.save` does not store it: a shared model file must not make
    whoever loads it write where its author chose. Pass it again after
    :func:`sknn.load`; continued training (``warm_start``, ``partial_fit``)
    runs the callbacks the estimator has at the time.

    Parameters
    ----------
    path : str or path-like
        The checkpoint file.
    every : int, default=1
        Save after every ``every``-th epoch.

    See Also
    --------
    sknn.save : Save a fitted estimator.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.callbacks import Checkpoint
    >>> X, y = load_iris(return_X_y=True)
    >>> path = os.path.join(tempfile.mkdtemp(), "iris.ckpt")
    >>> clf = MLPClassifier(max_iter=20, random_state=0,
    ...                     callbacks=[Checkpoint(path, every=5)]).fit(X, y)
    >>> os.path.exists(path)  # removed once the fit has finished
    False
    """

    def __init__(self, path, every=1):
        self.path = path
        self.every = every

    def initialize(self):
        if not isinstance(self.path, str | os.PathLike):
            raise TypeError(f"Checkpoint: path must be a str or path-like; got "
                            f"{type(self.path).__name__}.")
        if not isinstance(self.every, Integral) or isinstance(self.every, bool) or (
                self.every < 1):
            raise ValueError(f"Checkpoint: every must be a positive integer; got "
                             f"{self.every!r}.")
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.fingerprint_ = _fingerprint(net, X)
        if len(net.history) == 0 and os.path.exists(self.path):
            self._resume(net)

    def on_epoch_end(self, net, **kwargs):
        # An epoch that ends training is not saved: the file is about to go.
        if len(net.history) % self.every == 0 and not net.stop_training_:
            self._save(net)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        if not getattr(net, "interrupted_", False) and os.path.exists(self.path):
            os.remove(self.path)

    def _save(self, net):
        encoder = _Encoder()
        document = {
            "kind": "checkpoint",
            "fingerprint": self.fingerprint_,
            "net": encoder.net(net, "net_"),
            "rng": encoder.tensor("rng.torch", torch.get_rng_state()),
            "cuda_rng": _cuda_rng_state(net, encoder),
        }
        write_file(self.path, document, encoder.tensors)

    def _resume(self, net):
        document, tensors = read_file(self.path, kind="checkpoint", caller="Checkpoint")
        warn_about_versions(document, self.path, caller="Checkpoint")
        differences = _differences(document.get("fingerprint"), self.fingerprint_)
        if differences:
            raise ValueError(
                f"Checkpoint: {os.fspath(self.path)} was written by the fit of another "
                f"network or on other data ({differences}); delete it to start afresh, or "
                "give this fit another path."
            )
        decoder = _Decoder(tensors)
        decoder.run(lambda: self._restore(net, document, decoder), self.path,
                    caller="Checkpoint")
        net.resumed_epochs_ = len(net.history)
        warnings.warn(
            f"Checkpoint: resuming the fit from epoch {len(net.history)}, saved in "
            f"{os.fspath(self.path)}.", UserWarning, stacklevel=2,
        )

    @staticmethod
    def _restore(net, document, decoder):
        restore_net(net, document["net"], decoder)
        torch.set_rng_state(decoder.decode(document["rng"]))
        if document.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(decoder.decode(document["cuda_rng"]),
                                     torch.device(net.device))


def _cuda_rng_state(net, encoder):
    device = torch.device(net.device)
    if device.type != "cuda":
        return None
    return encoder.tensor("rng.cuda", torch.cuda.get_rng_state(device))


def _fingerprint(net, fit_data) -> dict:
    """What identifies a fit: the network's class, the data's size and checksums."""
    train = fit_data.train
    valid = fit_data.valid
    return {
        "module": type(net.module_).__name__,
        "parameters": sum(p.numel() for p in net.module_.parameters()),
        "train_rows": len(train),
        "valid_rows": 0 if valid is None else len(valid),
        "X_sum": _checksum(train.X),
        "y_sum": _checksum(train.y),
    }


def _checksum(values) -> float | None:
    if isinstance(values, torch.Tensor):
        return torch.sum(values, dtype=torch.float64).item()
    if sp.issparse(values):
        return float(values.sum(dtype=np.float64))
    return None  # rows read from disk batch by batch: not read here


def _differences(saved, current: dict) -> str:
    """Which entries of two fingerprints differ, in words ('' when none)."""
    saved = saved if isinstance(saved, dict) else {}
    differing = []
    for key, value in current.items():
        other = saved.get(key)
        if isinstance(value, float) and isinstance(other, float):
            if math.isclose(value, other, rel_tol=1e-6, abs_tol=1e-9):
                continue
        elif value == other:
            continue
        differing.append(f"{key} {other!r} there, {value!r} here")
    return "; ".join(differing)
