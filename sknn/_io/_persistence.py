"""Safe model files: :func:`save` and :func:`load`.

A model file is one safetensors file. Its tensors are the network's weights,
the optimizer's moments and the numeric arrays of the fitted state, stored as
raw buffers; its metadata holds one JSON document with everything else as
plain data: the estimator's parameters, its fitted attributes, the training
history and the versions that wrote the file. A file of a scikit-learn object
(a Pipeline holding sknn estimators, ...) adds the object as a skops archive
with placeholders for its sknn estimators (see :mod:`sknn._io._pipelines`).

Reading never unpickles and never imports anything named in the file: the
JSON is decoded by the fixed rules of :class:`_Decoder`, and the only classes
it builds are sknn's public estimators and the fitted parts listed in
the registry :mod:`sknn._utils._registry` (encoders, target scalings, sknn's callbacks), filled
with plain data. The network is rebuilt by the estimator's own module
factory and the weights are copied into it.

In the JSON, None, booleans, numbers and strings stand for themselves and a
list for a list; everything else is an object whose ``"$type"`` says what it
is (``"tuple"``, ``"dict"``, ``"array"``, ``"estimator"``, ...).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import warnings

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_bytes
from sklearn.base import BaseEstimator

from sknn._io._codec import _Decoder, _describe, _Encoder, _is_sknn_estimator
from sknn._io._pipelines import load_pipeline, pipeline_document, trusted_names
from sknn._version import __version__

# The newest file format this sknn reads. 2: nets always hold the learning-rate
# schedule's state, and their autocast dtype (sknn reads format 1 files too).
# 3: files of scikit-learn objects (kind "pipeline"). Files are written in the
# oldest format that holds them, so that older sknn versions read what they can.
FORMAT_VERSION = 3
MODEL_FORMAT = 2
PIPELINE_FORMAT = 3
# The metadata entry holding the SHA-256 of the rest of the file (see _digest).
CHECKSUM_KEY = "sha256"
# The versions a file records; loading under other versions of these warns.
CHECKED_PACKAGES = ("sknn", "torch", "scikit-learn")


# -- public API --------------------------------------------------------------
def save(estimator, path) -> None:
    """Save an sknn estimator, or a Pipeline of them, to a file that loads without running code.

    The file is a safetensors file: the weights as raw tensors, the
    parameters and fitted state (classes, encoders, target scaling,
    training history, optimizer state) as plain JSON data, and the versions
    of sknn, PyTorch and scikit-learn that wrote it. Unlike a pickle, loading
    it with :func:`load` cannot execute code, so models can be shared with
    people who should not have to trust their source.

    A scikit-learn object (a :class:`~sklearn.pipeline.Pipeline`, a
    :class:`~sklearn.compose.ColumnTransformer`, a search's
    ``best_estimator_``, any meta-estimator) is stored in one such file too:
    its scikit-learn parts as a `skops <https://skops.readthedocs.io>`_
    archive, in which each sknn estimator it holds (at any depth) stands as a
    placeholder, and each sknn estimator as in its own file. This needs
    skops (``pip install "sknn[pipelines]"``); a bare sknn estimator does not.

    Parameters
    ----------
    estimator : sknn estimator or scikit-learn estimator
        Any public sknn estimator, fitted or not (an MLP, CNN, RNN or
        Transformer, an :class:`AutoencoderTransformer`, a
        :class:`DistilledClassifier` or :class:`DistilledRegressor`,
        :class:`sknn.text.TextSequencer`), or any scikit-learn estimator, which
        may hold sknn estimators. What cannot be stored as data is
        left out with a warning: callbacks in ``callbacks``, sknn's
        :class:`sknn.callbacks.Checkpoint` included (they act only during
        ``fit``, and a file never carries a path that would make whoever
        loads it write there) and a distiller's teacher that is not an sknn estimator (the
        student makes every prediction). Quantized networks
        (:func:`sknn.compression.quantize`) cannot be saved: save the float
        model and quantize after loading.
    path : str or path-like
        Where to write; an existing file is replaced (atomically: a crash
        leaves the old file or the new one, never half of one).

    Raises
    ------
    TypeError
        When ``estimator`` is neither an sknn nor a scikit-learn estimator,
        or holds something that cannot be stored.
    ValueError
        When parameters that shape a network were changed (``set_params``)
        after its fit: the file would not rebuild that network.
    ImportError
        When ``estimator`` is a scikit-learn object and skops is missing.
    OSError
        When the file cannot be written (a missing folder, no permission, a
        full disk); the error names ``path``, and no partial file is left.

    Warns
    -----
    UserWarning
        When parts are left out, or a scikit-learn object holds types that
        skops does not trust by default (:func:`load` then needs them in
        ``trusted``).

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> import sknn
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = sknn.MLPClassifier(max_iter=20, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "iris.sknn")
    >>> sknn.save(clf, path)
    >>> bool((sknn.load(path).predict_proba(X) == clf.predict_proba(X)).all())
    True
    >>> pipe = make_pipeline(StandardScaler(), sknn.MLPClassifier(max_iter=5, random_state=0))
    >>> sknn.save(pipe.fit(X, y), path)
    >>> bool((sknn.load(path).predict_proba(X) == pipe.predict_proba(X)).all())
    True
    """
    encoder = _Encoder()
    if _is_sknn_estimator(estimator):
        document = {"kind": "model", "estimator": encoder.estimator(estimator, "")}
        format_version = MODEL_FORMAT
    elif isinstance(estimator, BaseEstimator):
        document = pipeline_document(estimator, encoder, path)
        format_version = PIPELINE_FORMAT
    else:
        raise TypeError(
            "sknn.save stores an sknn estimator (MLPClassifier, CNNRegressor, ...) or a "
            "scikit-learn estimator that may hold some (a Pipeline, a ColumnTransformer, "
            f"...); got {_describe(estimator)}. Save other objects with joblib, and load "
            "those files only from trusted sources."
        )
    if encoder.left_out:
        warnings.warn(
            f"sknn.save: {os.fspath(path)} leaves out {', '.join(encoder.left_out)}: only "
            "sknn estimators and plain data are stored, never callbacks (a Checkpoint would "
            "write where the file says, on the disk of whoever loads it). These parts act "
            "only in fit; after sknn.load they are None (parameters) or absent (fitted "
            "attributes): pass them again with set_params.",
            UserWarning, stacklevel=2,
        )
    write_file(path, document, encoder.tensors, format_version=format_version)


def load(path, *, device=None, trusted=None):
    """Load what :func:`save` wrote, without running code from the file.

    What a file guarantees, and what it does not:

    - Loading never runs code from the file. Nothing in it is unpickled or
      imported; a file that asks for anything but sknn's estimators and their
      fitted parts filled with data (or a pickle put in its place) is refused
      with a ``ValueError``.
    - A changed byte is detected. The file holds a SHA-256 checksum of its
      tensors and metadata; a file whose content does not match it (a
      truncated or damaged copy, a hand edit) is refused with a
      ``ValueError`` saying it is corrupted. Files written before sknn kept
      checksums load with a warning; re-save them to add one.
    - The checksum is not a signature: whoever re-saves a model, changed as
      they like, writes a file with a valid checksum. Its predictions are
      theirs: trust its source for them, as for any model.

    The file records the versions of sknn, PyTorch and scikit-learn that
    wrote it; loading under other versions warns.

    A file of a scikit-learn object (a Pipeline, ...) is read with skops
    (``pip install "sknn[pipelines]"``): the file is refused, before anything
    is built, when its scikit-learn part names a type that skops does not
    trust by default and that is not in ``trusted`` (the message lists them);
    its sknn estimators are then read as from their own files.

    A loaded model writes no file that its recipient did not ask for: a
    file's callbacks that write files (a :class:`sknn.callbacks.Checkpoint`,
    held by files of older sknn versions or crafted) are dropped, with a
    warning naming them and their paths, and ``callbacks`` is None. Continued
    training (``warm_start``, ``partial_fit``) runs the callbacks the
    estimator has when it is called: pass your own with
    ``set_params(callbacks=[Checkpoint(...)])``.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    device : str, torch.device or None, default=None
        Where to put the networks: 'cpu', 'cuda', 'cuda:N' or 'auto' (their
        ``device_``; the ``device`` parameter keeps what was saved). None:
        where the saved ``device`` parameter says; a model saved with a CUDA
        device loads onto the CPU (with a warning) on a machine without one.
    trusted : list of str or type, default=None
        Types the scikit-learn part of the file may hold besides those skops
        trusts by default, by full name (as the refusal lists them) or as
        the types themselves, as in :func:`skops.io.load`. List only types
        you have reviewed and trust. Files of a bare sknn estimator build no
        other type: ``trusted`` does not apply to them.

    Returns
    -------
    estimator : sknn estimator or scikit-learn estimator
        The object as it was saved, less any callbacks: predictions are
        identical, and ``warm_start`` and ``partial_fit`` continue its
        training (with the saved optimizer state and history).

    Raises
    ------
    ValueError
        When the file is not an sknn file, is corrupted (its checksum does not
        match), asks for something sknn does not build, or, for a
        scikit-learn object, names a type that is not trusted.

    Warns
    -----
    UserWarning
        When the file has no checksum, was written under other versions,
        held callbacks that write files (dropped), or its CUDA device is
        missing here.

    See Also
    --------
    save : Write such a file.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_diabetes
    >>> import sknn
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = sknn.MLPRegressor(max_iter=5, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "diabetes.sknn")
    >>> sknn.save(reg, path)
    >>> loaded = sknn.load(path, device="cpu")
    >>> bool((loaded.predict(X) == reg.predict(X)).all())
    True
    """
    trusted = trusted_names(trusted)
    document, tensors = read_file(path, kind=("model", "pipeline"), caller="sknn.load")
    warn_about_versions(document, path, caller="sknn.load")
    decoder = _Decoder(tensors, device)
    if document["kind"] == "pipeline":
        loaded = load_pipeline(document, decoder, path, trusted)
    else:
        loaded = decoder.run(lambda: decoder.estimator(document.get("estimator")), path)
    if decoder.dropped:
        warnings.warn(
            f"sknn.load: {os.fspath(path)} holds callbacks that write files "
            f"({'; '.join(decoder.dropped)}); a loaded model never writes where its file "
            "says, so they were dropped. To checkpoint its training, pass your own: "
            "set_params(callbacks=[Checkpoint(...)]).",
            UserWarning, stacklevel=2,
        )
    return loaded


# -- files -------------------------------------------------------------------
def write_file(path, document: dict, tensors: dict[str, torch.Tensor],
               format_version: int = MODEL_FORMAT) -> None:
    """Write ``tensors`` and the JSON ``document`` atomically to ``path``."""
    path = os.fspath(path)
    document = {"format": format_version, "versions": _versions(), **document}
    metadata = {"format": "sknn", "sknn": json.dumps(document)}
    metadata[CHECKSUM_KEY] = _digest(metadata, tensors)
    # Serialized in memory and written by Python, so that I/O failures are
    # OSErrors (safetensors' own writer reports them as SafetensorError).
    data = save_bytes(tensors, metadata=metadata)
    partial = f"{path}.{os.getpid()}.partial"
    try:
        with open(partial, "wb") as file:
            file.write(data)
        os.replace(partial, path)
    except OSError as error:
        # Name the file asked for, not the temporary one.
        error.filename, error.filename2 = path, None
        raise
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def read_file(path, kind: str | tuple[str, ...], caller: str
              ) -> tuple[dict, dict[str, torch.Tensor]]:
    """The JSON document and the tensors of an sknn file of the given ``kind`` (or kinds)."""
    path = os.fspath(path)
    try:
        with safe_open(path, framework="pt", device="cpu") as file:
            metadata = file.metadata() or {}
            tensors = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118
    except SafetensorError as error:
        if _header_metadata(path).get("format") == "sknn":
            raise ValueError(
                f"{caller}: {path} is a corrupted sknn file: it is incomplete or its bytes "
                f"were changed ({error}); it was probably truncated while being copied. "
                "Get an intact copy from its source."
            ) from None
        raise ValueError(
            f"{caller}: {path} is not an sknn model file ({error}). sknn reads only the "
            "safetensors files that sknn.save writes and never unpickles; a pickle or "
            "joblib file must be loaded with joblib, and only from a trusted source."
        ) from None
    if metadata.get("format") == "sknn":
        _check_digest(metadata, tensors, path, caller)
    try:
        document = json.loads(metadata["sknn"]) if metadata.get("format") == "sknn" else None
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("format"), int):
        raise ValueError(
            f"{caller}: {path} is a safetensors file but not one written by sknn (its "
            "metadata lacks sknn's description of the model)."
        )
    if document["format"] > FORMAT_VERSION:
        raise ValueError(
            f"{caller}: {path} was written in sknn file format {document['format']}, "
            f"newer than this sknn reads ({FORMAT_VERSION}); upgrade sknn to load it."
        )
    kinds = (kind,) if isinstance(kind, str) else kind
    if document.get("kind") not in kinds:
        expected = "saved model (sknn.save)" if "model" in kinds else "training checkpoint"
        raise ValueError(
            f"{caller}: {path} holds a {document.get('kind')!r} entry, not a {expected}."
        )
    return document, tensors


def _digest(metadata: dict[str, str], tensors: dict[str, torch.Tensor]) -> str:
    """The SHA-256 of a file's content: its metadata but the checksum, and its tensors.

    Each tensor counts with its name, dtype, shape and bytes, so that a
    changed, added or missing byte anywhere changes the digest.
    """
    digest = hashlib.sha256()
    for key in sorted(metadata):
        if key != CHECKSUM_KEY:
            digest.update(json.dumps([key, metadata[key]]).encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(json.dumps([name, str(tensor.dtype), list(tensor.shape)]).encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def _check_digest(metadata: dict[str, str], tensors, path: str, caller: str) -> None:
    """Refuse a file whose content does not match its checksum; warn when it has none."""
    expected = metadata.get(CHECKSUM_KEY)
    if expected is None:
        warnings.warn(
            f"{caller}: {path} has no checksum (older sknn versions wrote none), so a "
            "changed byte in it would go unnoticed; re-save it with sknn.save to add one.",
            UserWarning, stacklevel=4,
        )
        return
    received = _digest(metadata, tensors)
    if received != expected:
        raise ValueError(
            f"{caller}: {path} is a corrupted sknn file: its content does not match the "
            f"SHA-256 checksum it was saved with (expected {expected[:12]}..., got "
            f"{received[:12]}...). Bytes changed after sknn.save wrote it (a truncated or "
            "damaged copy, or an edit); get an intact copy from its source."
        )


def _header_metadata(path: str) -> dict:
    """The metadata in a safetensors file's header, read by hand ({} if it has none)."""
    try:
        with open(path, "rb") as file:
            size, = struct.unpack("<Q", file.read(8))
            header = json.loads(file.read(min(size, 100_000_000)))
    except (OSError, ValueError, struct.error, RecursionError):
        return {}
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return metadata if isinstance(metadata, dict) else {}


def _versions() -> dict[str, str]:
    import sklearn
    import skorch

    return {"sknn": __version__, "torch": torch.__version__,
            "scikit-learn": sklearn.__version__, "skorch": skorch.__version__,
            "numpy": np.__version__}


def warn_about_versions(document: dict, path, caller: str) -> None:
    """Warn when the file was written under other versions of sknn, torch or scikit-learn."""
    saved = document.get("versions")
    saved = saved if isinstance(saved, dict) else {}
    current = _versions()
    differing = [name for name in CHECKED_PACKAGES if saved.get(name) != current[name]]
    if differing:
        then = ", ".join(f"{name} {saved.get(name, 'unknown')}" for name in differing)
        now = ", ".join(f"{name} {current[name]}" for name in differing)
        warnings.warn(
            f"{caller}: {os.fspath(path)} was saved with {then}; this environment has "
            f"{now}. The model loads, but its predictions may differ: check them, or "
            "re-fit and save it with these versions.",
            UserWarning, stacklevel=3,
        )


