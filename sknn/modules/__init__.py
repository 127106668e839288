"""Plain PyTorch modules behind sknn's estimators.

Nothing here imports scikit-learn: each class is an ordinary typed
:class:`torch.nn.Module` that can be used on its own.
"""

from sknn.modules.autoencoder import Autoencoder, ConvAutoencoder, InputCorruption
from sknn.modules.cnn import (
    FCN,
    ConvBlock,
    GlobalPoolNet,
    ImageAugment,
    PlainCNN,
    ResidualBlock,
    ResNet,
    SeriesAugment,
    use_layer_norm,
)
from sknn.modules.ensemble import EnsembleMLP
from sknn.modules.mlp import MLP, make_activation
from sknn.modules.resnet import TabularResNet, TabularResNetBlock
from sknn.modules.rnn import RNN, SequencePooling, with_mask
from sknn.modules.tabular import (
    PeriodicEmbedding,
    PiecewiseLinearEmbedding,
    TabularInput,
    embedding_dim,
)
from sknn.modules.transformer import (
    FeatureTokenizer,
    PatchTokenizer,
    ReGLU,
    SequenceTokenizer,
    Transformer,
    TransformerBlock,
)

__all__ = [
    "Autoencoder",
    "ConvAutoencoder",
    "InputCorruption",
    "FCN",
    "ConvBlock",
    "GlobalPoolNet",
    "ImageAugment",
    "PlainCNN",
    "ResNet",
    "ResidualBlock",
    "SeriesAugment",
    "use_layer_norm",
    "TabularResNet",
    "TabularResNetBlock",
    "RNN",
    "SequencePooling",
    "with_mask",
    "MLP",
    "EnsembleMLP",
    "PeriodicEmbedding",
    "PiecewiseLinearEmbedding",
    "TabularInput",
    "embedding_dim",
    "make_activation",
    "FeatureTokenizer",
    "PatchTokenizer",
    "SequenceTokenizer",
    "ReGLU",
    "Transformer",
    "TransformerBlock",
]
