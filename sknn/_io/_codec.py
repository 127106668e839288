"""How the JSON document of an sknn file stands for Python values.

:class:`_Encoder` writes it and :class:`_Decoder` reads it.

Reading never unpickles and never imports anything named in the file; the only classes
it builds are those registered in :mod:`sknn._utils._registry`.
"""

from __future__ import annotations

import inspect
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from skorch.callbacks import Callback
from skorch.history import History

from sknn._core._device import resolve_device
from sknn._core._fitted import rebuild_net
from sknn._core._net import ConvergenceMonitor, StepSchedule
from sknn._core._network_params import NETWORK_PARAMS_RECORD, check_rebuilds
from sknn._utils._registry import dropped_class, estimator_class, state_class, state_file_name

STATEFUL_CALLBACKS = (ConvergenceMonitor, StepSchedule)
FLOAT_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16,
                "float32": torch.float32, "float64": torch.float64}
# NumPy dtype strings a file may name: '<f8', '|b1', '<U12', 'O', '<M8[ns]', ...
_DTYPE_PATTERN = re.compile(r"[<>|=]?[a-zA-Z]+\d*(\[\w+\])?")


# -- what may be stored -------------------------------------------------------
def _is_sknn_estimator(value) -> bool:
    return estimator_class(type(value).__name__) is type(value)


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


# Fitted attributes a file may set: public names ending in one "_", as fit sets
# them (scikit-learn's convention), and the output configuration of set_output.
_FITTED_ATTRIBUTE = re.compile(r"[a-zA-Z]([a-zA-Z0-9_]*[a-zA-Z0-9])?_")
_SKLEARN_STATE = ("_sklearn_output_config",)


def _is_fitted_attribute(key) -> bool:
    """Whether ``key`` names a fitted attribute an estimator's file may hold."""
    return isinstance(key, str) and (
        bool(_FITTED_ATTRIBUTE.fullmatch(key)) or key in _SKLEARN_STATE)


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
        name = state_file_name(type(value))
        if name is not None:
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
            # The network is written apart; the record of its build parameters is
            # made again by sknn.load from the parameters written here.
            if key not in params and key not in ("net_", NETWORK_PARAMS_RECORD):
                if not _is_fitted_attribute(key):
                    raise TypeError(
                        f"sknn.save: {_join(path, key) or key} is neither a parameter nor a "
                        f"fitted attribute of {type(estimator).__name__} (a public name "
                        "ending in '_'), which is all sknn.load sets; delete it first."
                    )
                encoded = self._attribute(value, _join(path, key), _LEFT_OUT)
                if encoded is not _LEFT_OUT:
                    node["state"][key] = encoded
        if "net_" in vars(estimator):
            node["net"] = self.net(estimator.net_, _join(path, "net_"))
            check_rebuilds(estimator)  # else sknn.load could not rebuild this network
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
        """The trained state of an :class:`~sknn._core._net.SknnNet` (see :func:`restore_net`)."""
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
        # The callbacks that write files, dropped from the estimators' callbacks.
        self.dropped: list[str] = []

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
        cls = state_class(node["class"])
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
        cls = estimator_class(node["class"])
        if cls is None:
            raise _Refused(f"estimator class {str(node['class'])[:120]!r}")
        params = {str(key): self._callbacks(value, cls.__name__) if key == "callbacks"
                  else self.decode(value) for key, value in node["params"].items()}
        # A parameter added after the file was written: what the file's model did.
        architecture = getattr(cls, "_architecture", None)
        for key, value in getattr(architecture, "params_before_added", {}).items():
            params.setdefault(key, value)
        estimator = cls(**params)
        self._estimators[node["id"]] = estimator
        for key, value in node["state"].items():
            if key in params or key == "net_":
                raise _Refused(f"fitted attribute {key!r} of {cls.__name__}")
            if not _is_fitted_attribute(_checked_attribute(cls, key)):
                raise _Refused(f"attribute {key[:80]!r} of {cls.__name__} (neither a "
                               "parameter nor a fitted attribute: a public name ending in '_')")
            setattr(estimator, key, self.decode(value))
        if node.get("net") is not None:
            estimator.net_ = self._net(estimator, node["net"])
        return estimator

    def _callbacks(self, node, owner: str):
        """The ``callbacks`` parameter, without the callbacks that write files.

        Only a ``callbacks`` list (or tuple) may hold them, as themselves or
        as ``(name, callback)``; anywhere else their class is refused.
        """
        items = node.get("items") if isinstance(node, dict) and node.get("$type") == "tuple" \
            else node
        if not isinstance(items, list):
            return self.decode(node)
        kept = []
        for item in items:
            dropped = self._file_writer(item)
            if dropped is None:
                kept.append(self.decode(item))
            else:
                self.dropped.append(f"{owner}.callbacks: {dropped}")
        return kept or None

    def _file_writer(self, node) -> str | None:
        """``Checkpoint('its/path')`` if ``node`` (or its ``(name, callback)``) writes files."""
        if isinstance(node, dict) and node.get("$type") == "tuple" and len(node["items"]) == 2:
            node = node["items"][1]
        if not isinstance(node, dict) or node.get("$type") != "object":
            return None
        cls = dropped_class(node.get("class"))
        if cls is None:
            return None
        path = self.decode(node["state"].get("path"))
        where = os.fspath(path) if isinstance(path, str | os.PathLike) else repr(path)
        return f"{cls.__name__}({where[:200]!r})"

    def _net(self, estimator, node):
        device = self._place(estimator)
        dtype = FLOAT_DTYPES.get(node["dtype"])
        if dtype is None:
            raise _Refused(f"network dtype {str(node['dtype'])[:40]!r}")
        # The module factory sizes the network from the fitted state (the
        # width of the MLPs' and autoencoder's plain input is n_features_in_).
        net = rebuild_net(
            estimator, batch_size=int(node["batch_size"]), max_epochs=int(node["max_epochs"]),
            validation=getattr(estimator, "validation_scores_", None) is not None,
            device=device, dtype=dtype)
        restore_net(net, node, self)
        return net

    def _place(self, estimator) -> torch.device:
        """The device of ``estimator``'s network: the requested, the saved or the CPU.

        The ``device`` parameter keeps what was saved: it is what its author
        set; where the network is now is ``device_``.
        """
        name = type(estimator).__name__
        try:
            return resolve_device(estimator.device if self.device is None else self.device,
                                  name)
        except ValueError as error:
            if self.device is not None:
                raise _Unusable(f"sknn.load: device={self.device!r} cannot be used on this "
                                f"machine ({error}).") from None
            warnings.warn(
                f"sknn.load: {name} was saved with device={estimator.device!r}, which "
                "this machine cannot use; its network is loaded onto the CPU (device_). "
                "Set device='cpu' or 'auto' before fitting it again here.",
                UserWarning, stacklevel=5,
            )
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
    # Files written before fits flushed subnormal weights: zeroing them keeps
    # every prediction and spares the CPU's slow path (SknnNet.flush_subnormals_).
    net.flush_subnormals_()
