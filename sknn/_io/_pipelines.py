"""Files of scikit-learn objects that hold sknn estimators: Pipelines, ColumnTransformers, ...

Such a file is an sknn file of kind ``"pipeline"``. It holds two parts:

- the scikit-learn object as a `skops <https://skops.readthedocs.io>`_ archive
  (one uint8 tensor), in which every sknn estimator is replaced by a
  :class:`SknnEstimatorPlaceholder` holding its number;
- the sknn estimators themselves, encoded as in a model file (their weights
  are tensors of the same file, their state JSON in its document).

Loading checks the skops part with ``skops.io.get_untrusted_types`` and refuses
every type that skops does not trust by default, except sknn's placeholder and
the types the caller trusts; then skops builds the object, sknn builds the
estimators, and each placeholder is replaced by its estimator. Nothing is
unpickled. skops is an optional dependency (extra ``pipelines``), imported
only here and only when such a file is written or read.
"""

from __future__ import annotations

import copy
import os
import types
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from sknn._io._codec import _Decoder, _describe, _Encoder, _is_sknn_estimator, _Refused

# The name skops records for the placeholder class: part of the file format,
# so the class must stay at this path (tests pin it).
PLACEHOLDER_TYPE = "sknn._io._pipelines.SknnEstimatorPlaceholder"
# Types that skops 0.16 does not trust by default but that sknn trusts, as they build
# no code: a NumPy dtype (skops's DTypeNode reads it from an empty array saved with
# allow_pickle=False; SimpleImputer and others keep their fit's dtype) and
# make_column_selector (a column pattern and dtypes, filled in as plain attributes
# and used only to select columns).
SAFE_TYPES = ("numpy.dtype", "sklearn.compose._column_transformer.make_column_selector")
# Values the walk does not look into: they hold no sknn estimator (one bound in a
# method is caught after dumping, as skops then names its class).
_LEAVES = (str, bytes, bytearray, int, float, complex, bool, type(None), type,
           types.FunctionType, types.BuiltinFunctionType, types.MethodType,
           types.ModuleType, np.generic, np.dtype, pd.Index, pd.Series, pd.DataFrame,
           torch.Tensor)


class SknnEstimatorPlaceholder:
    """Stands, in a file's skops part, for its sknn estimator number ``index``.

    Parameters
    ----------
    index : int
        Position of the estimator in the file's list of sknn estimators.
    """

    def __init__(self, index: int):
        self.index = index

    def __repr__(self) -> str:
        return f"SknnEstimatorPlaceholder({self.index})"


def skops_io(caller: str):
    """``skops.io``, or an ImportError that says how to install it."""
    try:
        import skops.io
    except ImportError:
        raise ImportError(
            f"{caller}: files of scikit-learn objects (a Pipeline, a ColumnTransformer, "
            'a search\'s best_estimator_, ...) need skops: pip install "sknn[pipelines]". '
            "A bare sknn estimator saves and loads without it."
        ) from None
    return skops.io


def trusted_names(trusted) -> list[str]:
    """The type names of ``trusted`` (as :func:`skops.io.load` takes it), or a TypeError."""
    if trusted is None:
        return []
    items = [trusted] if isinstance(trusted, str | type) else trusted
    if isinstance(items, list | tuple | set | frozenset) and all(
            isinstance(item, str | type) for item in items):
        return sorted(item if isinstance(item, str) else
                      f"{item.__module__}.{item.__qualname__}" for item in items)
    raise TypeError(
        "sknn.load: trusted must be None or a list of type names (such as "
        "'sklearn.preprocessing._data.StandardScaler') or types, as skops.io.load "
        f"takes; got {trusted!r:.80}."
    )


# -- finding the estimators ------------------------------------------------------------
def _children(value) -> list[tuple[str, object]]:
    """The parts of ``value`` (with the path suffix that reaches them) that may hold estimators.

    These are the parts :func:`copy.deepcopy` copies: container items, the items
    of object arrays and the attributes of objects.
    """
    if isinstance(value, dict):
        return [(f"[{key!r}]", item) for key, item in value.items()]
    if isinstance(value, list | tuple):
        return [(f"[{i}]", item) for i, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        return [("{...}", item) for item in value]
    if isinstance(value, np.ndarray):
        return ([(f"[{i}]", item) for i, item in enumerate(value.ravel().tolist())]
                if value.dtype == object else [])
    if isinstance(value, _LEAVES):
        return []
    state = getattr(value, "__dict__", None)
    return [(f".{key}", item) for key, item in state.items()] if isinstance(state, dict) else []


def find(root, wanted: Callable[[object], bool]) -> list[tuple[str, object]]:
    """Every distinct object in ``root`` for which ``wanted`` is true, with where it is.

    The walk does not look inside the objects it finds. Paths read as
    attribute accesses from ``root``: ``"steps[1][1]"``,
    ``"transformers_[0][1]"``.
    """
    found, seen = [], {id(root)}
    stack = [("", root)]
    while stack:
        path, value = stack.pop()
        if wanted(value):
            found.append((path.removeprefix("."), value))
            continue
        for suffix, child in reversed(_children(value)):
            if id(child) not in seen:
                seen.add(id(child))
                stack.append((path + suffix, child))
    return found


def _replaced(root, replacements: dict[int, object]):
    """A deep copy of ``root`` with ``replacements[id(o)]`` in place of each such ``o``.

    The replacements themselves are not copied: deepcopy takes what its memo
    holds for an object's id as that object's copy.
    """
    return copy.deepcopy(root, dict(replacements))


# -- writing ---------------------------------------------------------------------------
def pipeline_document(obj, encoder: _Encoder, path) -> dict:
    """The document of a file holding ``obj``, a scikit-learn object; tensors go to ``encoder``."""
    sio = skops_io("sknn.save")
    found = find(obj, _is_sknn_estimator)
    placeholders = {id(estimator): SknnEstimatorPlaceholder(i)
                    for i, (_, estimator) in enumerate(found)}
    archive = _dumped(sio, _replaced(obj, placeholders), obj)
    untrusted = [name for name in sio.get_untrusted_types(data=archive)
                 if name not in (PLACEHOLDER_TYPE, *SAFE_TYPES)]
    hidden = [name for name in untrusted if name.split(".")[0] in ("sknn", "torch", "skorch")]
    if hidden:
        raise TypeError(
            f"sknn.save: {_describe(obj)} holds {', '.join(hidden)} where sknn.save does "
            "not look for sknn estimators (container items, object arrays and object "
            "attributes); store sknn estimators in plain attributes, lists or dicts."
        )
    if untrusted:
        warnings.warn(
            f"sknn.save: {os.fspath(path)} holds types that skops does not trust by "
            f"default ({', '.join(untrusted)}); sknn.load refuses the file unless they "
            "are passed in trusted=[...].",
            UserWarning, stacklevel=3,
        )
    data = torch.frombuffer(bytearray(archive), dtype=torch.uint8)
    return {
        "kind": "pipeline",
        "skops": encoder.tensor("skops", data),
        "skops_version": _skops_version(),
        "estimators": [{"at": at, "estimator": encoder.estimator(estimator, at)}
                       for at, estimator in found],
    }


def _dumped(sio, stand_in, obj) -> bytes:
    try:
        return sio.dumps(stand_in)
    except Exception as error:  # skops raises TypeError and others for what it cannot store
        raise TypeError(
            f"sknn.save: skops cannot store {_describe(obj)} ({type(error).__name__}: "
            f"{error})."
        ) from None


def _skops_version() -> str:
    import skops

    return skops.__version__


# -- reading ---------------------------------------------------------------------------
def load_pipeline(document: dict, decoder: _Decoder, path, trusted: list[str]):
    """The scikit-learn object of a pipeline file, with its sknn estimators in place."""
    sio = skops_io("sknn.load")
    archive = decoder.run(lambda: _archive(document, decoder), path)
    allowed = {PLACEHOLDER_TYPE, *SAFE_TYPES, *trusted}
    untrusted = decoder.run(lambda: sio.get_untrusted_types(data=archive), path)
    refused = [name for name in untrusted if name not in allowed]
    if refused:
        raise ValueError(
            f"sknn.load: {os.fspath(path)} asks for types that skops does not trust by "
            f"default: {', '.join(refused)}; refusing to load it. Pass them in "
            "trusted=[...] only if you trust where the file comes from."
        )
    stand_in = decoder.run(lambda: sio.loads(archive, trusted=sorted(allowed)), path)
    estimators = decoder.run(lambda: [_estimator(decoder, entry)
                                      for entry in document["estimators"]], path)
    placeholders = find(stand_in, lambda value: isinstance(value, SknnEstimatorPlaceholder))
    replacements = decoder.run(lambda: {id(placeholder): _numbered(estimators, placeholder)
                                        for _, placeholder in placeholders}, path)
    return _replaced(stand_in, replacements)


def _archive(document: dict, decoder: _Decoder) -> bytes:
    node = document["skops"]
    tensor = decoder.decode(node) if isinstance(node, dict) and node.get("$type") == "tensor" \
        else None
    if not isinstance(tensor, torch.Tensor) or tensor.dtype != torch.uint8 or tensor.dim() != 1:
        raise _Refused("a skops part that is not a 1-D uint8 tensor")
    return tensor.numpy().tobytes()


def _estimator(decoder: _Decoder, entry):
    estimator = decoder.decode(entry["estimator"])
    if not _is_sknn_estimator(estimator):
        raise _Refused(f"{_describe(estimator)} in place of an sknn estimator")
    return estimator


def _numbered(estimators: list, placeholder: SknnEstimatorPlaceholder):
    index = getattr(placeholder, "index", None)
    if type(index) is not int or not 0 <= index < len(estimators):
        raise _Refused(f"a placeholder for sknn estimator {str(index)[:20]} (the file holds "
                       f"{len(estimators)})")
    return estimators[index]
