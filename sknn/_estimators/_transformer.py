"""Transformer estimators: FT-Transformer for tables, patch Transformer for series and text."""

from __future__ import annotations

from sknn._core._base import BaseNeuralEstimator
from sknn._core._docs import fitted_attributes_doc, param_docs
from sknn._core._kinds import BaseNeuralClassifier, BaseNeuralRegressor
from sknn._estimators._transformer_architecture import (
    _TRANSFORMER_CONSTRAINTS,
    TRANSFORMER_ARCHITECTURE,
)
from sknn._input._bag_of_words import (
    BAG_OF_WORDS_ATTRIBUTES_DOC,
    BAG_OF_WORDS_PARAMS_DOC,
)
from sknn._lifecycle._finetune import (
    FINE_TUNING_PARAMS_DOC,
)
from sknn._utils._registry import storable_estimator

_ARCHITECTURE_DOC = """
    n_blocks : int or 'auto', default='auto'
        Number of Transformer blocks. 'auto': 3 (the paper's default) for
        tables and token ids, 1 for fixed-length numeric series, which beat 3
        on GunPoint, ItalyPowerDemand and BasicMotions (benchmarks/RESULTS.md).
    d_token : int, default=64
        Width of every token. The paper's default is 192, which costs about 3
        times as much per epoch on a CPU (46 against 14 CPU seconds per Adult
        epoch on one thread; benchmarks/RESULTS.md, Transformer section); 64
        keeps a default fit on Adult under a minute on two cores.
    n_heads : int, default=8
        Attention heads; must divide ``d_token``.
    d_ffn_factor : float, default=4/3
        Hidden width of each block's ReGLU feed-forward network, as a multiple
        of ``d_token``.
    attention_dropout : float in [0, 1) or 'auto', default='auto'
        Dropout of the attention probabilities. 'auto': none on tables (torch's
        fused attention kernel on the CPU takes no dropout, and tables scored
        as well without it), 0.2 (the paper's) on series and token ids.
    ffn_dropout : float in [0, 1), default=0.1
        Dropout inside the feed-forward networks.
    residual_dropout : float in [0, 1), default=0.0
        Dropout of each attention and feed-forward output before it is added
        to the residual stream.
    pooling : {'auto', 'cls', 'mean'}, default='auto'
        What the head reads: a learned [CLS] token (the last block computes it
        alone) or the mean of the output tokens. 'auto': the mean for
        fixed-length series (on GunPoint 0.96 against 0.94 for [CLS] in a
        3-seed sweep), [CLS] for tables, token ids and sequences of different
        lengths.
    patch_size : int or 'auto', default='auto'
        Series and token ids: steps per token, projected linearly (all
        channels, or the ``d_token``-wide embeddings of the ids, together).
        'auto': ``ceil(length / 32)`` for fixed-length series (at most 32
        tokens; 5 steps on GunPoint's 150), ``ceil(length / 64)`` of the
        longest training sequence for sequences of different lengths and
        token ids (at most 64 tokens).
    positional_encoding : {'auto', 'learned', 'sinusoidal'}, default='auto'
        Series and token ids: learned position vectors (predict then takes
        sequences up to the longest training one) or fixed sinusoids (any
        length). 'auto': learned for fixed-length series, sinusoidal for
        sequences of different lengths and token ids, whose lengths at
        predict are not bounded by the training ones (as accurate on a toy
        text task: 0.86 against 0.77 held-out accuracy). Tables need none:
        each column has its own tokenizer weights.
    stem : {'conv', 'linear'}, default='conv'
        Fixed-length series: 'conv' runs a convolution (kernel 7, ``d_token``
        filters, GELU) over the series before cutting it into patches, so that
        each token also sees the steps around its patch; 'linear' projects
        each patch's steps alone (PatchTST, ViT). On GunPoint's 50 training
        series 'conv' with mean pooling raised the test accuracy from 0.78 to
        0.88 (``benchmarks/RESULTS.md``). Sequences of different lengths use
        'linear'; tables and token ids ignore it.
    max_tokens : int, default=512
        Series and token ids: the most tokens (patches) a sample may make.
        ``fit`` and ``predict`` refuse longer sequences with an error that
        says how to shorten them, rather than run out of memory (attention
        costs grow with the square of the number of tokens).""" + BAG_OF_WORDS_PARAMS_DOC + """
    input_shape : tuple of int or None, default=None
        None reads 2-D X as a table and 3-D X as time series
        ``(n_samples, n_channels, n_timepoints)``. ``(n_timepoints,)`` reads
        2-D X as one-channel series (the ``input_shape`` of CNNClassifier;
        images are not supported).
    input_kind : {'auto', 'table', 'series', 'tokens'}, default='auto'
        How X is read. 'table': columns, through the tabular layer. 'series':
        numeric sequences; fixed-length ones as they are, lists of sequences
        of different lengths standardized per channel (over the valid steps,
        with the sample weights) and masked. 'tokens': non-negative integer
        token ids, 0 being padding, read through a learned embedding sized
        from the largest id seen in ``fit``. 'auto': tokens for the output of
        :class:`sknn.text.TextSequencer` (a :class:`sknn.text.TokenArray`),
        series for lists of sequences, 3-D X or a given ``input_shape``, a
        table otherwise."""

_TABULAR_DOC = """
    categorical_features : 'from_dtype', array-like, bool mask or None, default='from_dtype'
        Tables: columns tokenized by learned embeddings. 'from_dtype': pandas
        ``category``, string and object columns (anything but numbers). Unseen
        levels and missing values map to their own embeddings at predict time.
        The same tabular layer as MLPClassifier's.
    numeric_transform : {'quantile', 'standard', 'none'}, default='quantile'
        Tables: scaling of numeric (and boolean and datetime) columns, fitted
        with the sample weights. Missing values are imputed after scaling and
        flagged by an indicator column, which gets its own token.
    numeric_embedding : {'auto', 'piecewise_linear', 'periodic'} or None, default='auto'
        Tables: tokens of numeric columns. None: FT-Transformer's per-feature
        linear projection ``x_j * W_j + b_j``; 'piecewise_linear' or
        'periodic': the tabular layer's numeric embeddings (Gorishniy et al.
        2022) at width ``d_token``; 'auto': piecewise-linear for dense tables
        of at most 100 columns (as the MLPs), which lowered the
        California RMSE from 0.464 to 0.456 and raised the Adult accuracy
        from 0.860 to 0.863 (benchmarks/RESULTS.md)."""

_TRAINING_DOC = """
    alpha : float, default=1e-5
        Weight decay (decoupled from the gradient, AdamW; the paper's value).
    solver : {'adam', 'adamw', 'sgd'}, default='adamw'
        Optimizer; 'sgd' uses Nesterov momentum 0.9.
    learning_rate_init : float, default=1e-3
        Initial (peak) learning rate. The paper's 1e-4 (constant, for 192-wide
        tokens and up to hundreds of epochs) is far from converged within the
        default budget; 1e-3 with warm-up and cosine decay is (RESULTS.md).
    learning_rate : {'constant', 'warmup_cosine', 'onecycle'}, default='warmup_cosine'
        Learning-rate schedule, stepped every minibatch over ``max_iter``
        epochs: constant; linear warm-up over 5% of the steps then cosine decay
        to zero; or one-cycle (cosine up from lr/25 over 30%, then down). ``partial_fit``
        calls, which have no horizon, train at a constant rate:
        ``learning_rate_init`` when the first of them (since a fit) ran.
    batch_size : int or 'auto', default='auto'
        Minibatch size; 'auto' is a tenth of the training set, at least 16
        and at most 256 (the paper's batch size for mid-sized tables).
    max_iter : int or 'auto', default='auto'
        Maximum number of epochs. 'auto': enough for about 2,000 minibatch
        steps (tables: 10,000 divided by the number of tokens, at least 1,150
        steps), at least 10 and at most 200 epochs, 500 on fixed-length series
        (10 on Adult, 20 on California, 500 on GunPoint's 50 series), which
        keeps a default table fit under a minute on two cores; at most 30 on
        tables of fewer than 900 training rows, which more epochs overfit.""" + param_docs([
    "early_stopping", "validation_fraction"]) + """
    n_iter_no_change : int or 'auto', default='auto'
        Epochs without improvement before stopping. 'auto': 20 when early
        stopping monitors held-out data (the best epoch is restored); on the
        training loss (small data), no stop with a decaying learning-rate
        schedule, which then ends training at ``max_iter`` without a
        ConvergenceWarning (annealed weights generalize better than those of
        a noisy stall), and 50 with a constant one.""" + param_docs(["tol"])

_RUN_DOC = param_docs([
    "random_state", "device", "n_threads", "verbose", "warm_start",
]) + FINE_TUNING_PARAMS_DOC.format(
    family="Transformer", layout="the same columns (matched by position), series of "
    "as many channels and the same length, or token ids",
    inputs="""Its fitted column scaling, categories and numeric-embedding
        bins (tables), per-channel standardization, patches and positions
        (sequences of different lengths) or vocabulary size (token ids) are
        reused as they are.""") + param_docs(
    ["callbacks", "dtype"]) + """
    autocast : {None, 'bfloat16'}, default=None
        Mixed precision: run the network's forward passes (training and
        prediction) under :func:`torch.autocast` in bfloat16, so that the
        matrix products use the tensor cores of recent GPUs (or a CPU's
        bfloat16 units); the weights, the optimizer, the outputs and the loss
        stay in float32. ``dtype='auto'`` then means float32; 'float64' is
        refused. The bfloat16 rounding makes predictions differ slightly
        from a float32 fit's.""" + param_docs([
    "adversarial_epsilon", "adversarial_method", "clip_grad_norm"])

_DATA_DOC = """
    X is one of (see ``input_kind``):

    - a table: 2-D X (arrays, sparse matrices, pandas or polars DataFrames
      with categorical, string, boolean and datetime columns and missing
      values), through the same tabular layer as MLPClassifier; each column
      becomes a token (FT-Transformer, Gorishniy et al. 2021): numbers by a
      learned per-feature linear map, categories by embeddings;
    - series ``(n_samples, n_channels, n_timepoints)`` (the layout of
      CNNClassifier), or 2-D with ``input_shape=(n_timepoints,)``: one token
      per patch of ``patch_size`` time steps, with positional encodings;
    - sequences of different lengths: a list (or 1-D object array) of 2-D
      arrays ``(n_channels, length_i)`` (1-D arrays are one channel), as for
      RNNClassifier. They are standardized per channel, right-padded with
      zeros and patched; padding patches are masked out of attention and
      pooling, so they never change a prediction, and nothing is truncated;
    - integer token ids, e.g. :class:`sknn.text.TextSequencer`'s output
      (``make_pipeline(TextSequencer(), TransformerClassifier())`` trains on
      a list of strings): 2-D ``(n_samples, length)`` right-padded with 0, or
      a list of 1-D id arrays. Each id is embedded (width ``d_token``) and
      runs of ``patch_size`` ids become one token, so long documents make a
      bounded number of tokens. A document without tokens is read as one
      padding patch.

    A learned [CLS] token is added, pre-norm Transformer blocks with ReGLU
    feed-forward networks run over the tokens, and a head reads the [CLS]
    token (or the mean of the valid tokens). Attention is
    :func:`torch.nn.functional.scaled_dot_product_attention`.

    Attention costs grow with the square of the number of tokens (columns or
    patches): for wide tables (hundreds of columns) use MLPClassifier;
    sequences that would make more than ``max_tokens`` tokens are refused.
    Predict takes the kind of X seen in ``fit``; models fitted on lists of
    sequences or token ids take any length up to the learned positions.
    Empty sequences, NaN and infinite values, mixed channel counts, negative
    ids and ids beyond the fitted vocabulary are refused with errors that say
    which."""

_TRANSFORMER_ATTRIBUTES_DOC = """
    input_kind_ : {'table', 'series', 'tokens'}
        How X was read in ``fit``.
    padding_mask_ : bool
        Whether the network reads padded sequences with a validity channel
        (token ids, and series given as sequences of different lengths).
    encoder_ : TabularEncoder
        The fitted tabular layer (tables only).
    input_shape_ : tuple of int
        ``(n_channels, n_timepoints)`` of a sample (series and token ids; for
        sequences of different lengths, the longest).
    vocabulary_size_ : int
        Token ids only: the largest id seen in ``fit`` plus one.""" + (
    BAG_OF_WORDS_ATTRIBUTES_DOC) + """
    input_mean_, input_scale_ : ndarray of shape (n_channels,)
        Sequences of different lengths only: the per-channel standardization.""" + (
    fitted_attributes_doc("``X.shape[1]`` in ``fit`` (columns of a table, channels of "
                          "series, 1 for token ids)."))


@storable_estimator
class TransformerClassifier(BaseNeuralClassifier):
    __doc__ = f"""Transformer classifier for tables (FT-Transformer), time series and text.
{_DATA_DOC}

    Parameters
    ----------{_ARCHITECTURE_DOC}{_TABULAR_DOC}{_TRAINING_DOC}
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes in the loss, as in scikit-learn; multiplied
        with ``sample_weight``.{_RUN_DOC}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (``arange(n_labels)`` for multilabel y).{_TRANSFORMER_ATTRIBUTES_DOC}

    See Also
    --------
    TransformerRegressor : The regression counterpart.
    MLPClassifier : Faster on tables; often as accurate.
    CNNClassifier : Convolutions for series and images.

    References
    ----------
    Gorishniy, Rubachev, Khrulkov, Babenko. "Revisiting Deep Learning Models
    for Tabular Data", NeurIPS 2021.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknn import TransformerClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = TransformerClassifier(d_token=16, n_blocks=1, learning_rate_init=1e-2,
    ...                             max_iter=20, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    >>> bool(clf.score(X, y) > 0.9)
    True

    Raw text, through :class:`sknn.text.TextSequencer`:

    >>> from sklearn.pipeline import make_pipeline
    >>> from sknn.text import TextSequencer
    >>> texts, labels = ["good fun", "bad plot", "great fun", "dull, bad"] * 5, [1, 0, 1, 0] * 5
    >>> pipe = make_pipeline(TextSequencer(), TransformerClassifier(
    ...     d_token=16, n_blocks=1, max_iter=5, random_state=0))
    >>> pipe.fit(texts, labels).predict(["fun fun"]).shape
    (1,)
    """

    _architecture = TRANSFORMER_ARCHITECTURE
    _parameter_constraints: dict = {
        **BaseNeuralClassifier._parameter_constraints, **_TRANSFORMER_CONSTRAINTS
    }

    def __init__(
        self,
        n_blocks="auto",
        d_token=64,
        *,
        n_heads=8,
        d_ffn_factor=4 / 3,
        attention_dropout="auto",
        ffn_dropout=0.1,
        residual_dropout=0.0,
        pooling="auto",
        patch_size="auto",
        positional_encoding="auto",
        stem="conv",
        max_tokens=512,
        bag_of_words=True,
        bag_of_words_C="auto",
        input_shape=None,
        input_kind="auto",
        categorical_features="from_dtype",
        numeric_transform="quantile",
        numeric_embedding="auto",
        alpha=1e-5,
        solver="adamw",
        learning_rate_init=1e-3,
        learning_rate="warmup_cosine",
        batch_size="auto",
        max_iter="auto",
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change="auto",
        tol=1e-4,
        class_weight=None,
        random_state=None,
        device="auto",
        n_threads=None,
        verbose=0,
        warm_start=False,
        init_from=None,
        freeze_epochs=0,
        trainable_layers=1,
        callbacks=None,
        dtype="auto",
        autocast=None,
        adversarial_epsilon=None,
        adversarial_method="pgd",
        clip_grad_norm=None,
    ):
        self.n_blocks = n_blocks
        self.d_token = d_token
        self.n_heads = n_heads
        self.d_ffn_factor = d_ffn_factor
        self.attention_dropout = attention_dropout
        self.ffn_dropout = ffn_dropout
        self.residual_dropout = residual_dropout
        self.pooling = pooling
        self.patch_size = patch_size
        self.positional_encoding = positional_encoding
        self.stem = stem
        self.max_tokens = max_tokens
        self.bag_of_words = bag_of_words
        self.bag_of_words_C = bag_of_words_C
        self.input_shape = input_shape
        self.input_kind = input_kind
        self.categorical_features = categorical_features
        self.numeric_transform = numeric_transform
        self.numeric_embedding = numeric_embedding
        self.alpha = alpha
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.class_weight = class_weight
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose
        self.warm_start = warm_start
        self.init_from = init_from
        self.freeze_epochs = freeze_epochs
        self.trainable_layers = trainable_layers
        self.callbacks = callbacks
        self.dtype = dtype
        self.autocast = autocast
        self.adversarial_epsilon = adversarial_epsilon
        self.adversarial_method = adversarial_method
        self.clip_grad_norm = clip_grad_norm


@storable_estimator
class TransformerRegressor(BaseNeuralRegressor):
    __doc__ = f"""Transformer regressor for tables (FT-Transformer), time series and text.
{_DATA_DOC}

    Targets are standardized inside and mapped back.

    Parameters
    ----------{_ARCHITECTURE_DOC}{_TABULAR_DOC}{_TRAINING_DOC}{_RUN_DOC}

    Attributes
    ----------{_TRANSFORMER_ATTRIBUTES_DOC}

    See Also
    --------
    TransformerClassifier : The classification counterpart.
    MLPRegressor : Faster on tables; often as accurate.

    References
    ----------
    Gorishniy, Rubachev, Khrulkov, Babenko. "Revisiting Deep Learning Models
    for Tabular Data", NeurIPS 2021.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sknn import TransformerRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = TransformerRegressor(d_token=16, n_blocks=1, max_iter=5,
    ...                            random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)

    Sequences of different lengths (here their mean):

    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X = [rng.randn(1, n) for n in rng.randint(5, 40, size=60)]
    >>> y = [x.mean() for x in X]
    >>> reg = TransformerRegressor(d_token=16, n_blocks=1, max_iter=5,
    ...                            random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    _architecture = TRANSFORMER_ARCHITECTURE
    _parameter_constraints: dict = {
        **BaseNeuralEstimator._parameter_constraints, **_TRANSFORMER_CONSTRAINTS
    }

    def __init__(
        self,
        n_blocks="auto",
        d_token=64,
        *,
        n_heads=8,
        d_ffn_factor=4 / 3,
        attention_dropout="auto",
        ffn_dropout=0.1,
        residual_dropout=0.0,
        pooling="auto",
        patch_size="auto",
        positional_encoding="auto",
        stem="conv",
        max_tokens=512,
        bag_of_words=True,
        bag_of_words_C="auto",
        input_shape=None,
        input_kind="auto",
        categorical_features="from_dtype",
        numeric_transform="quantile",
        numeric_embedding="auto",
        alpha=1e-5,
        solver="adamw",
        learning_rate_init=1e-3,
        learning_rate="warmup_cosine",
        batch_size="auto",
        max_iter="auto",
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change="auto",
        tol=1e-4,
        random_state=None,
        device="auto",
        n_threads=None,
        verbose=0,
        warm_start=False,
        init_from=None,
        freeze_epochs=0,
        trainable_layers=1,
        callbacks=None,
        dtype="auto",
        autocast=None,
        adversarial_epsilon=None,
        adversarial_method="pgd",
        clip_grad_norm=None,
    ):
        self.n_blocks = n_blocks
        self.d_token = d_token
        self.n_heads = n_heads
        self.d_ffn_factor = d_ffn_factor
        self.attention_dropout = attention_dropout
        self.ffn_dropout = ffn_dropout
        self.residual_dropout = residual_dropout
        self.pooling = pooling
        self.patch_size = patch_size
        self.positional_encoding = positional_encoding
        self.stem = stem
        self.max_tokens = max_tokens
        self.bag_of_words = bag_of_words
        self.bag_of_words_C = bag_of_words_C
        self.input_shape = input_shape
        self.input_kind = input_kind
        self.categorical_features = categorical_features
        self.numeric_transform = numeric_transform
        self.numeric_embedding = numeric_embedding
        self.alpha = alpha
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose
        self.warm_start = warm_start
        self.init_from = init_from
        self.freeze_epochs = freeze_epochs
        self.trainable_layers = trainable_layers
        self.callbacks = callbacks
        self.dtype = dtype
        self.autocast = autocast
        self.adversarial_epsilon = adversarial_epsilon
        self.adversarial_method = adversarial_method
        self.clip_grad_norm = clip_grad_norm
