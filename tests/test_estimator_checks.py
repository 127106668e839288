"""Every scikit-learn estimator check, with no expected failures."""

from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from sknn import (
    AutoencoderTransformer,
    CNNClassifier,
    CNNRegressor,
    DistilledClassifier,
    DistilledRegressor,
    MLPClassifier,
    MLPRegressor,
    ResNetClassifier,
    ResNetRegressor,
    RNNClassifier,
    RNNRegressor,
    TransformerClassifier,
    TransformerRegressor,
)

# CNNs train in float32 under dtype='auto' (float64 convolutions are slow); the
# sample-weight checks compare to 1e-7, which needs float64, asked for here.
# The CNNs small and full-batch (the default 64-128 filters and 100 epochs take
# minutes for nothing the checks test differently), per-sample normalized (batch
# norm mixes the rows of a batch, so weighted rows could not train exactly as
# repeated ones) and with kernels as wide as the checks' 10 features: global
# average pooling forgets positions, the zero padding of wide kernels keeps them.
CNN_CHECKED = {"architecture": "fcn", "n_filters": (16,), "kernel_size": 21,
               "normalization": "layer", "batch_size": 256, "learning_rate_init": 0.01,
               "max_iter": 150, "dtype": "float64"}
ESTIMATORS = [MLPClassifier(), MLPRegressor(), CNNClassifier(**CNN_CHECKED),
              CNNRegressor(**CNN_CHECKED)]


# Distillers with a teacher fitted inside fit (the checks change the data) and a
# small student.
STUDENT = {"hidden_layer_sizes": (16,), "max_iter": 50, "ensemble_size": 1, "n_threads": 1}
ESTIMATORS += [
    DistilledClassifier(MLPClassifier(**STUDENT), LogisticRegression(), fit_teacher=True),
    DistilledRegressor(MLPRegressor(**STUDENT), Ridge(), fit_teacher=True),
]


ESTIMATORS.append(AutoencoderTransformer(n_components=2, hidden_layer_sizes=(16,), max_iter=50,
                                         n_threads=1))
# The convolutional autoencoder reads the checks' 2-D X as one-channel series.
ESTIMATORS.append(AutoencoderTransformer(n_components=2, architecture="cnn", n_filters=(4,),
                                         max_iter=50, n_threads=1))

# The RNNs small, full-batch (weighted rows then train exactly as repeated ones)
# and with a learning rate that fits the checks' small data in 100 epochs.
RNN_CHECKED = {"cell": "gru", "hidden_size": 8, "batch_size": 256,
               "learning_rate_init": 0.03, "max_iter": 100, "n_threads": 1}
ESTIMATORS += [RNNClassifier(**RNN_CHECKED), RNNRegressor(**RNN_CHECKED)]

# Transformers narrow, one block, full-batch and without dropout: dropout masks
# differ between weighted and repeated rows, so the sample-weight checks need none;
# float64, which dtype='auto' no longer picks for them, for the checks' 1e-7.
TRANSFORMER_CHECKED = {"d_token": 16, "n_blocks": 1, "n_heads": 2, "attention_dropout": 0.0,
                       "ffn_dropout": 0.0, "learning_rate_init": 1e-2,
                       "learning_rate": "constant", "batch_size": 256, "max_iter": 40,
                       "dtype": "float64", "n_threads": 1}
ESTIMATORS += [TransformerClassifier(**TRANSFORMER_CHECKED),
               TransformerRegressor(**TRANSFORMER_CHECKED)]


# ResNets narrow, per-row normalized (batch norm mixes the rows of a batch, so
# weighted rows could not train exactly as repeated ones), without dropout (masks
# differ between weighted and repeated rows), full-batch, and with a rate that
# fits the checks' small data in its 50 epochs.
RESNET_CHECKED = {"width": 16, "n_blocks": 1, "dropout": 0.0, "normalization": "layer",
                  "batch_size": 256, "learning_rate_init": 1e-2, "n_threads": 1}
ESTIMATORS += [ResNetClassifier(**RESNET_CHECKED), ResNetRegressor(**RESNET_CHECKED)]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda estimator: {})
def test_sklearn_compatible(estimator, check):
    check(estimator)
