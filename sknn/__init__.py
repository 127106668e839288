"""sknn: scikit-learn neural-network estimators trained with PyTorch through skorch."""

from sknn._autoencoder import AutoencoderTransformer
from sknn._cnn import CNNClassifier, CNNRegressor
from sknn._distill import DistilledClassifier, DistilledRegressor
from sknn._mlp import MLPClassifier, MLPRegressor
from sknn._persistence import load, save
from sknn._rnn import RNNClassifier, RNNRegressor
from sknn._transformer import TransformerClassifier, TransformerRegressor

__version__ = "0.1.0"

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
