"""Safe model files: :func:`save` and :func:`load`.

A model file is one safetensors file. Its tensors are the network's weights,
the optimizer's moments and the numeric arrays of the fitted state, stored as
raw buffers; its metadata holds one JSON document with everything else as
plain data: the estimator's parameters, its fitted attributes, the training
history and the versions that wrote the file.

Reading never unpickles and never imports anything named in the file: the
JSON is decoded by the fixed rules of :class:`_Decoder`, and the only classes
it builds are sknn's public estimators and the fitted parts listed in
:func:`_state_classes` (encoders, target scalings, sknn's callbacks), filled
with plain data. The network is rebuilt by the estimator's own module
factory and the weights are copied into it.

In the JSON, None, booleans, numbers and strings stand for themselves and a
list for a list; everything else is an object whose ``"$type"`` says what it
is (``"tuple"``, ``"dict"``, ``"array"``, ``"estimator"``, ...).
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_bytes
from sklearn.base import BaseEstimator
from skorch.callbacks import Callback
from skorch.history import History

from sknn._net import ConvergenceMonitor, StepSchedule

# 2: nets always hold the learning-rate schedule's state, and their autocast
# dtype; sknn reads format 1 files too.
FORMAT_VERSION = 2
# The versions a file records; loading under other versions of these warns.
CHECKED_PACKAGES = ("sknn", "torch", "scikit-learn")
# sknn's own callbacks, whose state belongs to the training (kept in files).
STATEFUL_CALLBACKS = (ConvergenceMonitor, StepSchedule)
FLOAT_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16,
                "float32": torch.float32, "float64": torch.float64}
# NumPy dtype strings a file may name: '<f8', '|b1', '<U12', 'O', '<M8[ns]', ...
_DTYPE_PATTERN = re.compile(r"[<>|=]?[a-zA-Z]+\d*(\[\w+\])?")


# -- public API --------------------------------------------------------------
def save(estimator, path):
    """Save an sknn estimator to a file that loads without running code.

    The file is a safetensors file: the weights as raw tensors, the
    parameters and fitted state (classes, encoders, target scaling,
    training history, optimizer state) as plain JSON data, and the versions
    of sknn, PyTorch and scikit-learn that wrote it. Unlike a pickle, loading
    it with :func:`load` cannot execute code, so models can be shared with
    people who should not have to trust their source.

    Parameters
    ----------
    estimator : sknn estimator
        Any public sknn estimator, fitted or not (an MLP, CNN, RNN or
        Transformer, an :class:`AutoencoderTransformer`, a
        :class:`DistilledClassifier` or :class:`DistilledRegressor`,
        :class:`sknn.text.TextSequencer`). What cannot be stored as data is
        left out with a warning: skorch callbacks in ``callbacks`` (they act
        only during ``fit``; sknn's :class:`sknn.callbacks.Checkpoint` is
        kept) and a distiller's teacher that is not an sknn estimator (the
        student makes every prediction). Quantized networks
        (:func:`sknn.compression.quantize`) cannot be saved: save the float
        model and quantize after loading.
    path : str or path-like
        Where to write; an existing file is replaced (atomically: a crash
        leaves the old file or the new one, never half of one).

    Raises
    ------
    OSError
        When the file cannot be written (a missing folder, no permission, a
        full disk); the error names ``path``, and no partial file is left.

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> import sknn
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = sknn.MLPClassifier(max_iter=20, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "iris.sknn")
    >>> sknn.save(clf, path)
    >>> bool((sknn.load(path).predict_proba(X) == clf.predict_proba(X)).all())
    True
    """
    if not _is_sknn_estimator(estimator):
        raise TypeError(
            "sknn.save stores an sknn estimator (MLPClassifier, CNNRegressor, ...); got "
            f"{_describe(estimator)}. Save other objects with joblib, and load those "
            "files only from trusted sources."
        )
    encoder = _Encoder()
    document = {"kind": "model", "estimator": encoder.estimator(estimator, "")}
    if encoder.left_out:
        warnings.warn(
            f"sknn.save: {os.fspath(path)} leaves out {', '.join(encoder.left_out)}: only "
            "sknn estimators, sknn callbacks and plain data are stored. These parts act "
            "only in fit; after sknn.load they are None (parameters) or absent (fitted "
            "attributes).",
            UserWarning, stacklevel=2,
        )
    write_file(path, document, encoder.tensors)


def load(path, *, device=None):
    """Load an estimator saved by :func:`save`, without running code from the file.

    Nothing in the file is unpickled or imported: a tampered file, or a
    pickle put in its place, is refused with a ``ValueError``. The file
    records the versions of sknn, PyTorch and scikit-learn that wrote it;
    loading under other versions warns.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    device : str, torch.device or None, default=None
        Where to put the networks, which also becomes their ``device``
        parameter: 'cpu', 'cuda', 'cuda:N' or 'auto'. None keeps the saved
        ``device`` parameter; a model saved with a CUDA device loads onto the
        CPU (with a warning) on a machine without one.

    Returns
    -------
    estimator : sknn estimator
        The estimator as it was saved: predictions are identical, and
        ``warm_start`` and ``partial_fit`` continue its training (with the
        saved optimizer state and history).

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
    document, tensors = read_file(path, kind="model", caller="sknn.load")
    warn_about_versions(document, path, caller="sknn.load")
    decoder = _Decoder(tensors, device)
    return decoder.run(lambda: decoder.estimator(document.get("estimator")), path)


# -- files -------------------------------------------------------------------
def write_file(path, document: dict, tensors: dict[str, torch.Tensor]) -> None:
    """Write ``tensors`` and the JSON ``document`` atomically to ``path``."""
    path = os.fspath(path)
    document = {"format": FORMAT_VERSION, "versions": _versions(), **document}
    metadata = {"format": "sknn", "sknn": json.dumps(document)}
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


def read_file(path, kind: str, caller: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """The JSON document and the tensors of an sknn file of the given ``kind``."""
    path = os.fspath(path)
    try:
        with safe_open(path, framework="pt", device="cpu") as file:
            metadata = file.metadata() or {}
            tensors = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118
    except SafetensorError as error:
        raise ValueError(
            f"{caller}: {path} is not an sknn model file ({error}). sknn reads only the "
            "safetensors files that sknn.save writes and never unpickles; a pickle or "
            "joblib file must be loaded with joblib, and only from a trusted source."
        ) from None
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
    if document.get("kind") != kind:
        expected = "saved model (sknn.save)" if kind == "model" else "training checkpoint"
        raise ValueError(
            f"{caller}: {path} holds a {document.get('kind')!r} entry, not a {expected}."
        )
    return document, tensors


def _versions() -> dict[str, str]:
    import sklearn
    import skorch

    import sknn

    return {"sknn": sknn.__version__, "torch": torch.__version__,
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


# -- what may be stored -------------------------------------------------------
@functools.cache
def _estimator_classes() -> dict[str, type]:
    """sknn's public estimators, by name: the only estimators a file can ask for."""
    import sknn
    from sknn.text import TextSequencer

    classes = [getattr(sknn, name) for name in sknn.__all__]
    classes = [c for c in classes if isinstance(c, type) and issubclass(c, BaseEstimator)]
    return {cls.__name__: cls for cls in [*classes, TextSequencer]}


@functools.cache
def _state_classes() -> dict[str, type]:
    """Fitted parts of sknn estimators: the only other classes a file can ask for."""
    from sknn._checkpoint import Checkpoint
    from sknn._tabular import TabularEncoder, _CategoricalColumn, _NumericScaler
    from sknn._task import (
        ClassificationTask,
        DistillationTask,
        ReconstructionTask,
        RegressionTask,
    )

    classes = [TabularEncoder, _NumericScaler, _CategoricalColumn, ClassificationTask,
               RegressionTask, ReconstructionTask, DistillationTask, Checkpoint]
    return {_class_name(cls): cls for cls in classes}


def _class_name(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_sknn_estimator(value) -> bool:
    return _estimator_classes().get(type(value).__name__) is type(value)


def _only_acts_in_fit(value) -> bool:
    """Objects left out of a file rather than refused: skorch callbacks, foreign teachers."""
    if isinstance(value, BaseEstimator):
        return not _is_sknn_estimator(value)
    if isinstance(value, list | tuple):
        return any(isinstance(v, Callback) or _only_acts_in_fit(v) for v in value)
    return isinstance(value, Callback)


def _describe(value) -> str:
    if isinstance(value, list | tuple) and value:
        items = sorted({_describe(item).removeprefix("a ") for item in value})
        return f"a {type(value).__name__} of {', '.join(items)}"
    return f"a {type(value).__module__}.{type(value).__qualname__}"


def _checked_attribute(cls: type, key) -> str:
    """``key`` if a file may set it on an instance of ``cls`` (no methods, properties)."""
    if not isinstance(key, str) or not key.isidentifier() or key.startswith("__"):
        raise _Refused(f"attribute name {key!r} of {cls.__name__}")
    if hasattr(type(inspect.getattr_static(cls, key, None)), "__get__"):
        raise _Refused(f"attribute {key!r}, which would replace a method or property of "
                       f"{cls.__name__}")
    return key


class _Unstorable(TypeError):
    """A value :class:`_Encoder` cannot store as data."""

    def __init__(self, path: str, value):
        super().__init__(path)
        self.path = path
        self.value = value


class _Refused(ValueError):
    """Something a file asks for that :class:`_Decoder` does not build."""


class _Unusable(ValueError):
    """A request of the caller that cannot be met here (the message is final)."""


_LEFT_OUT = object()


def _join(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)


# -- writing -----------------------------------------------------------------
class _Encoder:
    """Turns estimators into JSON-able data and a dict of named tensors."""

    def __init__(self):
        self.tensors: dict[str, torch.Tensor] = {}
        self.left_out: list[str] = []
        self._estimator_ids: dict[int, int] = {}

    def tensor(self, key: str, value: torch.Tensor) -> dict:
        while key in self.tensors:
            key += "'"
        # A CPU copy of its own: safetensors refuses views sharing memory.
        self.tensors[key] = value.detach().cpu().clone(memory_format=torch.contiguous_format)
        return {"$type": "tensor", "key": key}

    def encode(self, value, path: str):
        if isinstance(value, np.generic):  # before float: np.float64 is a float
            return self._scalar(value, path)
        if value is None or isinstance(value, bool | int | str | float):
            return value
        if isinstance(value, np.ndarray):
            return self._array(value, path)
        if isinstance(value, torch.Tensor):
            return self.tensor(path, value)
        if isinstance(value, list):
            return [self.encode(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {"$type": "tuple",
                    "items": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, dict):
            return {"$type": "dict", "items": [
                [self.encode(k, f"{path}[{k!r}]"), self.encode(v, f"{path}[{k!r}]")]
                for k, v in value.items()]}
        return self._special(value, path)

    def _special(self, value, path: str):
        if isinstance(value, torch.dtype):
            return {"$type": "torch_dtype", "name": str(value).removeprefix("torch.")}
        if isinstance(value, torch.device):
            return {"$type": "device", "name": str(value)}
        if isinstance(value, np.dtype):
            return {"$type": "numpy_dtype", "name": value.str}
        if isinstance(value, type) and issubclass(value, np.generic):
            return {"$type": "numpy_type", "name": np.dtype(value).str}
        if isinstance(value, pd.Index) and not isinstance(value, pd.MultiIndex):
            return {"$type": "index", "dtype": str(value.dtype),
                    "items": self.encode(value.tolist(), path)}
        if isinstance(value, os.PathLike):
            return {"$type": "path", "name": os.fspath(value)}
        if isinstance(value, np.random.RandomState):
            return {"$type": "random_state",
                    "state": self.encode(value.get_state(legacy=True), path)}
        if isinstance(value, BaseEstimator):
            return self.estimator(value, path)
        name = _class_name(type(value))
        if _state_classes().get(name) is type(value):
            return {"$type": "object", "class": name, "state": {
                key: self.encode(v, _join(path, key)) for key, v in vars(value).items()}}
        raise _Unstorable(path, value)

    def _scalar(self, value: np.generic, path: str) -> dict:
        if value.dtype.kind not in "biufU":
            raise _Unstorable(path, value)
        return {"$type": "scalar", "dtype": value.dtype.str, "value": value.item()}

    def _array(self, array: np.ndarray, path: str) -> dict:
        kind = array.dtype.kind
        if kind in "biuf":
            native = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("="))
            return self.tensor(path, torch.from_numpy(native)) | {"$type": "array"}
        if kind in "Mm":
            node = self.tensor(path, torch.from_numpy(np.ascontiguousarray(array.view("i8"))))
            return node | {"$type": "array", "dtype": array.dtype.str}
        if kind in "OU":
            items = [self.encode(v, f"{path}[{i}]") for i, v in enumerate(array.ravel().tolist())]
            return {"$type": "object_array", "dtype": array.dtype.str,
                    "shape": list(array.shape), "items": items}
        raise _Unstorable(path, array)

    def estimator(self, estimator, path: str) -> dict:
        if id(estimator) in self._estimator_ids:
            return {"$type": "same_estimator", "id": self._estimator_ids[id(estimator)]}
        if not _is_sknn_estimator(estimator):
            raise _Unstorable(path, estimator)
        self._estimator_ids[id(estimator)] = len(self._estimator_ids)
        params = estimator.get_params(deep=False)
        node = {"$type": "estimator", "class": type(estimator).__name__,
                "id": self._estimator_ids[id(estimator)], "params": {}, "state": {}}
        for key, value in params.items():
            node["params"][key] = self._attribute(value, _join(path, key), None)
        for key, value in vars(estimator).items():
            if key not in params and key != "net_":
                encoded = self._attribute(value, _join(path, key), _LEFT_OUT)
                if encoded is not _LEFT_OUT:
                    node["state"][key] = encoded
        if "net_" in vars(estimator):
            node["net"] = self.net(estimator.net_, _join(path, "net_"))
        return node

    def _attribute(self, value, path: str, left_out):
        """``value`` encoded; ``left_out`` if it only acts in fit; else a TypeError."""
        try:
            return self.encode(value, path)
        except _Unstorable as error:
            if _only_acts_in_fit(value):
                self.left_out.append(f"{path} ({_describe(value)})")
                return left_out
            raise TypeError(
                f"sknn.save: cannot store {error.path} ({_describe(error.value)}) as data; "
                "a file holds only plain values, arrays, tensors, sknn estimators and "
                "their fitted parts."
            ) from None

    def net(self, net, path: str) -> dict:
        """The trained state of an :class:`~sknn._net.SknnNet` (see :func:`restore_net`)."""
        if any(type(m).__module__.startswith("torch.ao.nn.quantized")
               for m in net.module_.modules()):
            raise TypeError(
                f"sknn.save: {path} is a quantized network (sknn.compression.quantize), "
                "which sknn's files cannot rebuild; save the float model and quantize it "
                "after loading."
            )
        return {
            "dtype": str(net.module_dtype()).removeprefix("torch."),
            "batch_size": int(net.batch_size),
            "max_epochs": int(net.max_epochs),
            "clip_grad_norm": net.clip_grad_norm,
            # The precision it trained and predicts in, whatever autocast now says.
            "autocast": None if net.autocast_dtype is None
            else str(net.autocast_dtype).removeprefix("torch."),
            "module": {name: self.tensor(f"{path}.module.{name}", tensor)
                       for name, tensor in net.module_.state_dict().items()},
            "optimizer": self.encode(net.optimizer_.state_dict(), f"{path}.optimizer"),
            "history": self.encode(list(net.history), f"{path}.history"),
            "callbacks": {name: self.encode(dict(vars(callback)), f"{path}.{name}")
                          for name, callback in net.callbacks_
                          if isinstance(callback, STATEFUL_CALLBACKS)},
            "generator": None if net.generator is None
            else self.tensor(f"{path}.generator", net.generator.get_state()),
        }


# -- reading -----------------------------------------------------------------
class _Decoder:
    """Builds values from what :class:`_Encoder` wrote, refusing anything else.

    Parameters
    ----------
    tensors : dict of str to torch.Tensor
        The file's tensors (on the CPU).
    device : str, torch.device or None
        See :func:`load`.
    """

    def __init__(self, tensors: dict[str, torch.Tensor], device=None):
        self.tensors = tensors
        self.device = device
        self._estimators: dict[int, BaseEstimator] = {}

    def run(self, function, path, caller="sknn.load"):
        """``function()``, with any failure turned into a ValueError naming the file."""
        try:
            return function()
        except _Unusable as error:
            raise ValueError(str(error)) from None
        except _Refused as error:
            raise ValueError(
                f"{caller}: {os.fspath(path)} asks for {error}, which sknn does not build "
                "from a file; refusing to load it."
            ) from None
        except Exception as error:
            raise ValueError(
                f"{caller}: {os.fspath(path)} is damaged or was not written by sknn "
                f"({type(error).__name__}: {error})."
            ) from error

    def decode(self, node):
        if node is None or isinstance(node, bool | int | float | str):
            return node
        if isinstance(node, list):
            return [self.decode(item) for item in node]
        kind = node.get("$type") if isinstance(node, dict) else None
        method = getattr(self, f"_decode_{kind}", None) if isinstance(kind, str) else None
        if method is None or not kind.isidentifier():
            raise _Refused(f"an entry of unknown type {str(kind)[:80]!r}")
        return method(node)

    def _decode_tuple(self, node):
        return tuple(self.decode(item) for item in node["items"])

    def _decode_dict(self, node):
        return {self.decode(key): self.decode(value) for key, value in node["items"]}

    def _decode_tensor(self, node):
        return self.tensors[node["key"]]

    def _decode_scalar(self, node):
        dtype = _numpy_dtype(node["dtype"], kinds="biufU")
        return dtype.type(node["value"])

    def _decode_array(self, node):
        array = self.tensors[node["key"]].numpy()
        if "dtype" in node:
            array = array.view(_numpy_dtype(node["dtype"], kinds="Mm"))
        return array

    def _decode_object_array(self, node):
        dtype = _numpy_dtype(node["dtype"], kinds="OU")
        items = self.decode(node["items"])
        array = np.empty(len(items), dtype=object)
        array[:] = items
        return array.astype(dtype).reshape([int(n) for n in node["shape"]])

    def _decode_torch_dtype(self, node):
        name = node["name"]
        if not isinstance(getattr(torch, str(name), None), torch.dtype):
            raise _Refused(f"torch dtype {str(name)[:80]!r}")
        return getattr(torch, name)

    def _decode_device(self, node):
        return torch.device(str(node["name"]))

    def _decode_numpy_dtype(self, node):
        return _numpy_dtype(node["name"], kinds="biufcUSOMm")

    def _decode_numpy_type(self, node):
        return _numpy_dtype(node["name"], kinds="biufc").type

    def _decode_index(self, node):
        dtype = node["dtype"]
        dtype = object if dtype == "object" else _numpy_dtype(dtype, kinds="biufUMm")
        return pd.Index(self.decode(node["items"]), dtype=dtype)

    def _decode_path(self, node):
        return Path(str(node["name"]))

    def _decode_random_state(self, node):
        state = self.decode(node["state"])
        random_state = np.random.RandomState()
        random_state.set_state(state)
        return random_state

    def _decode_object(self, node):
        cls = _state_classes().get(node["class"])
        if cls is None:
            raise _Refused(f"class {str(node['class'])[:120]!r}")
        value = cls.__new__(cls)
        for key, item in node["state"].items():
            vars(value)[_checked_attribute(cls, key)] = self.decode(item)
        return value

    def _decode_same_estimator(self, node):
        return self._estimators[node["id"]]

    def _decode_estimator(self, node):
        return self.estimator(node)

    def estimator(self, node):
        """The estimator a file's ``"estimator"`` entry describes, with its network."""
        if not isinstance(node, dict) or node.get("$type") != "estimator":
            raise _Refused("an entry that is not an estimator at the top of the file")
        cls = _estimator_classes().get(node["class"])
        if cls is None:
            raise _Refused(f"estimator class {str(node['class'])[:120]!r}")
        params = {str(key): self.decode(value) for key, value in node["params"].items()}
        estimator = cls(**params)
        self._estimators[node["id"]] = estimator
        if self.device is not None and "device" in params:
            estimator.device = self.device
        for key, value in node["state"].items():
            if key in params or key == "net_":
                raise _Refused(f"fitted attribute {key!r} of {cls.__name__}")
            setattr(estimator, _checked_attribute(cls, key), self.decode(value))
        if node.get("net") is not None:
            estimator.net_ = self._net(estimator, node["net"])
        return estimator

    def _net(self, estimator, node):
        device = self._place(estimator)
        dtype = FLOAT_DTYPES.get(node["dtype"])
        if dtype is None:
            raise _Refused(f"network dtype {str(node['dtype'])[:40]!r}")
        batch_size = int(node["batch_size"])
        # The module factory sizes the network from the fitted state (the
        # width of the MLPs' and autoencoder's plain input is n_features_in_).
        with estimator._torch_context(device, seed=0):
            net = estimator._make_net(
                estimator.n_features_in_, estimator.task_, device, dtype, 0, batch_size,
                n_train=batch_size,
                validation=getattr(estimator, "validation_scores_", None) is not None,
            )
        restore_net(net, node, self)
        return net

    def _place(self, estimator) -> torch.device:
        """The device of ``estimator``'s network: the requested, the saved or the CPU."""
        name = type(estimator).__name__
        try:
            return estimator._resolve_device()
        except ValueError as error:
            if self.device is not None:
                raise _Unusable(f"sknn.load: device={self.device!r} cannot be used on this "
                                f"machine ({error}).") from None
            warnings.warn(
                f"sknn.load: {name} was saved with device={estimator.device!r}, which "
                "this machine cannot use; its network is loaded onto the CPU and its "
                "device parameter set to 'cpu'.",
                UserWarning, stacklevel=5,
            )
            estimator.device = "cpu"
            return torch.device("cpu")


def _numpy_dtype(name, kinds: str) -> np.dtype:
    """``np.dtype(name)`` if ``name`` is a plain dtype string of one of ``kinds``."""
    if isinstance(name, str) and _DTYPE_PATTERN.fullmatch(name):
        dtype = np.dtype(name)
        if dtype.kind in kinds and dtype.fields is None:
            return dtype
    raise _Refused(f"NumPy dtype {str(name)[:40]!r}")


def restore_net(net, node: dict, decoder: _Decoder) -> None:
    """Put the state :meth:`_Encoder.net` stored into a freshly built net."""
    module_state = {name: decoder.decode(tensor) for name, tensor in node["module"].items()}
    net.module_.load_state_dict(module_state, strict=True)
    net.optimizer_.load_state_dict(decoder.decode(node["optimizer"]))
    net.history = History(decoder.decode(node["history"]))
    callbacks = dict(net.callbacks_)
    for name, state in node["callbacks"].items():
        callback = callbacks.get(name)
        if not isinstance(callback, STATEFUL_CALLBACKS):
            raise _Refused(f"state for a callback {str(name)[:80]!r} the network lacks")
        for key, value in decoder.decode(state).items():
            vars(callback)[_checked_attribute(type(callback), key)] = value
    if node["generator"] is not None:
        net.generator.set_state(decoder.decode(node["generator"]))
    net.batch_size = int(node["batch_size"])
    net.max_epochs = int(node["max_epochs"])
    clip = node["clip_grad_norm"]
    net.clip_grad_norm = None if clip is None else float(clip)
    if "autocast" in node:  # files written before it was kept: as built
        autocast = node["autocast"]
        if autocast not in (None, "bfloat16"):
            raise _Refused(f"autocast dtype {str(autocast)[:40]!r}")
        net.autocast_dtype = None if autocast is None else FLOAT_DTYPES[autocast]
