"""sknn: scikit-learn neural-network estimators trained with PyTorch through skorch."""

# callbacks and text hold classes that sknn files may hold: they register them on import.
from sknn import callbacks, text  # noqa: F401
from sknn._estimators._autoencoder import AutoencoderTransformer
from sknn._estimators._cnn import CNNClassifier, CNNRegressor
from sknn._estimators._distill import DistilledClassifier, DistilledRegressor
from sknn._estimators._mlp import MLPClassifier, MLPRegressor
from sknn._estimators._rnn import RNNClassifier, RNNRegressor
from sknn._estimators._transformer import TransformerClassifier, TransformerRegressor
from sknn._io._persistence import load, save
from sknn._version import __version__

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
    "TransformerClassifier",
    "TransformerRegressor",
    "__version__",
    "load",
    "save",
]
