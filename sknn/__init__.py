"""sknn: scikit-learn neural-network estimators trained with PyTorch through skorch.

The public names are imported on first use (PEP 562), so that ``import sknn``
and ``sknn --help`` do not pay for importing PyTorch and skorch (about 3 s).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from sknn._version import __version__

# Public name -> module that defines it.
_PUBLIC = {
    "AutoencoderTransformer": "sknn._estimators._autoencoder",
    "CNNClassifier": "sknn._estimators._cnn",
    "CNNRegressor": "sknn._estimators._cnn",
    "DistilledClassifier": "sknn._estimators._distill",
    "DistilledRegressor": "sknn._estimators._distill",
    "MLPClassifier": "sknn._estimators._mlp",
    "MLPRegressor": "sknn._estimators._mlp",
    "RNNClassifier": "sknn._estimators._rnn",
    "ResNetClassifier": "sknn._estimators._resnet",
    "ResNetRegressor": "sknn._estimators._resnet",
    "RNNRegressor": "sknn._estimators._rnn",
    "TransformerClassifier": "sknn._estimators._transformer",
    "TransformerRegressor": "sknn._estimators._transformer",
    "config_context": "sknn._utils._config",
    "get_config": "sknn._utils._config",
    "load": "sknn._io._persistence",
    "save": "sknn._io._persistence",
    "set_config": "sknn._utils._config",
}
# Submodules whose classes sknn files may hold: they register them on import, so
# they are imported with the first public name.
_REGISTERING = ("callbacks", "text")
# The other public submodules: imported on first access, so that ``import sknn;
# sknn.modules.RNN`` works as when the estimators' imports brought them in.
_SUBMODULES = ("compression", "export", "inspection", "modules", "stream")

__all__ = [
    "AutoencoderTransformer",
    "CNNClassifier",
    "CNNRegressor",
    "DistilledClassifier",
    "DistilledRegressor",
    "MLPClassifier",
    "MLPRegressor",
    "RNNClassifier",
    "RNNRegressor",
    "ResNetClassifier",
    "ResNetRegressor",
    "TransformerClassifier",
    "TransformerRegressor",
    "__version__",
    "config_context",
    "get_config",
    "load",
    "save",
    "set_config",
]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"sknn.{name}")
    if name not in _PUBLIC and name not in _REGISTERING:
        raise AttributeError(f"module 'sknn' has no attribute {name!r}")
    for submodule in _REGISTERING:
        globals()[submodule] = importlib.import_module(f"sknn.{submodule}")
    for public, module in _PUBLIC.items():
        globals()[public] = getattr(importlib.import_module(module), public)
    return globals()[name]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_REGISTERING, *_SUBMODULES})


if TYPE_CHECKING:  # what type checkers and IDEs read
    from sknn import callbacks, text  # noqa: F401
    from sknn._estimators._autoencoder import AutoencoderTransformer
    from sknn._estimators._cnn import CNNClassifier, CNNRegressor
    from sknn._estimators._distill import DistilledClassifier, DistilledRegressor
    from sknn._estimators._mlp import MLPClassifier, MLPRegressor
    from sknn._estimators._resnet import ResNetClassifier, ResNetRegressor
    from sknn._estimators._rnn import RNNClassifier, RNNRegressor
    from sknn._estimators._transformer import TransformerClassifier, TransformerRegressor
    from sknn._io._persistence import load, save
    from sknn._utils._config import config_context, get_config, set_config
