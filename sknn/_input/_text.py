"""TextSequencer: raw strings to padded token-id sequences for the RNN and Transformer
estimators."""

from __future__ import annotations

import re
from collections import Counter
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from sknn._utils._registry import storable_estimator

PAD, UNKNOWN = "<pad>", "<unk>"


class TokenArray(np.ndarray):
    """Token ids from :class:`TextSequencer`: an int64 ndarray marked as tokens.

    A plain ``ndarray`` subclass (slicing, pickling and NumPy functions work as
    usual); the RNN and Transformer estimators with ``input_kind='auto'``
    read it as token ids rather than numeric series.
    """

    def __reduce__(self):
        return (_rebuild_token_array, (np.asarray(self),))


def _rebuild_token_array(array):
    return array.view(TokenArray)


@storable_estimator
class TextSequencer(TransformerMixin, BaseEstimator):
    """Turn raw strings into right-padded sequences of token ids.

    ``fit`` learns a vocabulary: documents are lowercased (optionally), split
    by a regular expression into tokens, cut to ``max_length`` tokens, and the
    ``max_features`` most frequent tokens (ties broken alphabetically) get
    ids from 2 up, in alphabetical order. Id 0 is padding and 1 stands for any
    token outside the vocabulary. ``transform`` maps each document to its ids
    and pads them with 0 on the right, to the longest document of that call:
    the output feeds :class:`~sknn.RNNClassifier` and
    :class:`~sknn.RNNRegressor` (and :class:`~sknn.TransformerClassifier`,
    :class:`~sknn.TransformerRegressor`), whose default ``input_kind='auto'``
    reads it as token ids (it is a :class:`TokenArray`), masks the padding
    and embeds the ids. No download is needed: there are no pretrained
    tokenizers or embeddings.

    Like scikit-learn's ``CountVectorizer``, it takes a 1-D sequence of
    strings, not the 2-D numeric arrays that ``check_estimator`` feeds, so
    those checks do not apply (its tags declare string input and scikit-learn
    skips it); the tests check its contract directly: cloning, parameters,
    repeatable fits, ``fit_transform`` equal to ``fit().transform()``,
    pickling, pipelines and the errors below.

    Parameters
    ----------
    lowercase : bool, default=True
        Lowercase the documents before tokenizing.
    token_pattern : str, default=r"(?u)\\b\\w+\\b"
        Regular expression whose matches are the tokens (words of letters,
        digits and underscores by default; single characters included).
    max_features : int or None, default=20000
        Keep the most frequent tokens only; None keeps all.
    max_length : int or None, default=None
        Keep the first ``max_length`` tokens of each document, in ``fit`` and
        ``transform`` (the only truncation, and only when asked for); None
        keeps whole documents.

    Attributes
    ----------
    vocabulary_ : dict of str to int
        Token to id (from 2; 0 is padding, 1 unknown).
    n_tokens_ : int
        Size of the id range: ``len(vocabulary_) + 2``.

    See Also
    --------
    RNNClassifier : Reads the token ids through a learned embedding.
    sklearn.feature_extraction.text.CountVectorizer : Bags of words instead of sequences.

    Examples
    --------
    >>> from sknn.text import TextSequencer
    >>> seq = TextSequencer().fit(["A good film.", "a bad, bad film"])
    >>> seq.vocabulary_
    {'a': 2, 'bad': 3, 'film': 4, 'good': 5}
    >>> seq.transform(["good film", "a truly bad film"])
    TokenArray([[5, 4, 0, 0],
                [2, 1, 3, 4]])
    """

    _parameter_constraints: dict = {
        "lowercase": ["boolean"],
        "token_pattern": [str],
        "max_features": [None, Interval(Integral, 1, None, closed="left")],
        "max_length": [None, Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, *, lowercase=True, token_pattern=r"(?u)\b\w+\b",
                 max_features=20000, max_length=None):
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.max_features = max_features
        self.max_length = max_length

    def _documents(self, X) -> list[str]:
        name = type(self).__name__
        if isinstance(X, str):
            raise ValueError(
                f"{name} expects an iterable of strings (one per document); got a single "
                "string. Wrap it in a list: [text]."
            )
        if hasattr(X, "ndim") and X.ndim != 1:
            raise ValueError(
                f"{name} expects a 1-D iterable of strings (one per document); got an "
                f"array of shape {X.shape}. Select one text column, e.g. df['text']."
            )
        try:
            documents = list(X)
        except TypeError:
            raise TypeError(
                f"{name} expects an iterable of strings; got {type(X).__name__}."
            ) from None
        for i, document in enumerate(documents):
            if not isinstance(document, str):
                raise TypeError(
                    f"{name} expects every document to be a string; document {i} is "
                    f"{document!r} of type {type(document).__name__}. Replace missing "
                    "texts by '' (an empty document) first."
                )
        return documents

    def _tokenize(self, documents: list[str]) -> list[list[str]]:
        pattern = re.compile(self.token_pattern)
        tokens = [pattern.findall(d.lower() if self.lowercase else d) for d in documents]
        if self.max_length is not None:
            tokens = [t[:self.max_length] for t in tokens]
        return tokens

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the vocabulary of the documents ``X``.

        Parameters
        ----------
        X : iterable of str of length n_samples
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        documents = self._documents(X)
        if not documents:
            raise ValueError(f"{type(self).__name__} needs at least one document; got 0.")
        try:
            re.compile(self.token_pattern)
        except re.error as error:
            raise ValueError(f"{type(self).__name__}: token_pattern={self.token_pattern!r} "
                             f"is not a regular expression ({error}).") from error
        counts = Counter(t for tokens in self._tokenize(documents) for t in tokens)
        ranked = sorted(counts, key=lambda token: (-counts[token], token))
        if self.max_features is not None:
            ranked = ranked[:self.max_features]
        self.vocabulary_ = {token: i + 2 for i, token in enumerate(sorted(ranked))}
        self.n_tokens_ = len(self.vocabulary_) + 2
        return self

    def transform(self, X):
        """Token ids of each document, right-padded with 0.

        Parameters
        ----------
        X : iterable of str of length n_samples

        Returns
        -------
        TokenArray of shape (n_samples, n_steps)
            int64 ids; ``n_steps`` is the longest document's token count (at
            least 1), 0 pads shorter documents, 1 marks unknown tokens.
        """
        check_is_fitted(self)
        tokens = self._tokenize(self._documents(X))
        width = max([1, *map(len, tokens)])
        ids = np.zeros((len(tokens), width), dtype=np.int64)
        vocabulary = self.vocabulary_
        for i, document in enumerate(tokens):
            ids[i, :len(document)] = [vocabulary.get(t, 1) for t in document]
        return ids.view(TokenArray)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags
