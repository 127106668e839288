"""Bag-of-words branch for networks that read token ids (the 'wide' part of wide-and-deep).

On a few thousand documents a linear model on TF-IDF vectors is hard to beat
(Pang & Lee 2004; Wang & Manning 2012), while a sequence network trained from
scratch overfits long before it learns what the words mean. The RNN and
Transformer estimators therefore add :class:`BagOfWords` logits to their
head's: the linear model is fitted first, by the estimator, and the network
learns what it leaves.
"""

from __future__ import annotations

import torch
from torch import nn

# Ids 0 (padding) and 1 (unknown token) never count as words, as
# TfidfVectorizer ignores words outside its vocabulary.
N_SPECIAL_IDS = 2


class BagOfWords(nn.Module):
    """Linear model on the TF-IDF vector of token-id sequences.

    Reads the layout of :class:`sknn.modules.rnn.RNN`: ``(batch, 2, length)``,
    token ids in channel 0 and a validity mask (1 on tokens, 0 on padding) in
    the last channel. A document's vector is scikit-learn's
    ``TfidfVectorizer(sublinear_tf=True)``: ``(1 + log(count)) * idf`` per
    token, scaled to unit Euclidean norm. The weights, bias and idf are
    buffers, not parameters: the estimator fits them (by L-BFGS, see
    ``sknn._input._bag_of_words``) and gradient descent leaves them alone.

    Parameters
    ----------
    vocabulary_size : int
        Token ids are below this number.
    n_outputs : int

    Examples
    --------
    >>> import torch
    >>> bag = BagOfWords(vocabulary_size=6, n_outputs=2)
    >>> x = torch.tensor([[[2.0, 5.0, 5.0, 0.0], [1.0, 1.0, 1.0, 0.0]]])
    >>> bag.tfidf(x)  # idf of 1 for every word until fitted
    tensor([[0.0000, 0.0000, 0.5085, 0.0000, 0.0000, 0.8610]])
    >>> bag(x)  # zero weights until fitted
    tensor([[0., 0.]])
    """

    def __init__(self, vocabulary_size: int, n_outputs: int) -> None:
        super().__init__()
        self.vocabulary_size = vocabulary_size
        idf = torch.ones(vocabulary_size)
        idf[:N_SPECIAL_IDS] = 0.0
        self.register_buffer("idf", idf)
        self.register_buffer("weight", torch.zeros(n_outputs, vocabulary_size))
        self.register_buffer("bias", torch.zeros(n_outputs))

    def counts(self, x: torch.Tensor) -> torch.Tensor:
        """Occurrences of every id in each sequence, ``(batch, vocabulary_size)``."""
        ids, mask = x[:, 0].long(), x[:, -1]
        counts = torch.zeros(x.shape[0], self.vocabulary_size, dtype=x.dtype,
                             device=x.device)
        return counts.scatter_add(1, ids, mask)

    def tfidf(self, x: torch.Tensor) -> torch.Tensor:
        """Unit-norm sublinear TF-IDF vectors ``(batch, vocabulary_size)``."""
        counts = self.counts(x)
        tf = torch.where(counts > 0, 1 + torch.log(counts.clamp(min=1)),
                         torch.zeros((), dtype=x.dtype, device=x.device))
        weighted = tf * self.idf.to(x.dtype)
        return weighted / weighted.norm(dim=1, keepdim=True).clamp(min=1e-12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Outside any autocast: the fitted linear model runs in the precision it
        # was fitted in (L-BFGS, float32 or float64), also in mixed-precision nets.
        with torch.autocast(device_type=x.device.type, enabled=False):
            return torch.nn.functional.linear(self.tfidf(x), self.weight.to(x.dtype),
                                              self.bias.to(x.dtype))
