"""Recurrent networks over padded, masked sequences (LSTM, GRU, Elman RNN).

Every network reads one tensor ``(batch, n_channels + 1, length)``: the
sequences right-padded to a common length, and a last channel that is 1 at
the valid time steps and 0 at the padding. Sequences shorter than the batch's
length are packed (:func:`torch.nn.utils.rnn.pack_padded_sequence`), so
padding never enters the recurrence; the pooling over time ignores it too.
With ``vocabulary_size`` set, the one value channel holds integer token ids
(0 is padding) that go through a learned embedding. With ``patch_size`` above
1, the recurrence reads the mean of each window of that many steps (padding
left out), so a long document costs a fraction of its length in recurrent
steps, each of which is sequential.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
POOLINGS = ("last", "mean", "attention")


def with_mask(values: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Append the validity channel that :class:`RNN` reads to padded sequences.

    Parameters
    ----------
    values : torch.Tensor of shape (batch, n_channels, length)
        Right-padded sequences.
    lengths : torch.Tensor of shape (batch,) or None, default=None
        Valid steps of each sequence; None: all of them.

    Returns
    -------
    torch.Tensor of shape (batch, n_channels + 1, length)

    Examples
    --------
    >>> import torch
    >>> with_mask(torch.zeros(2, 1, 4), torch.tensor([4, 2]))[:, -1]
    tensor([[1., 1., 1., 1.],
            [1., 1., 0., 0.]])
    """
    steps = torch.arange(values.shape[-1], device=values.device)
    if lengths is None:
        mask = torch.ones(values.shape[0], values.shape[-1], device=values.device)
    else:
        mask = (steps[None, :] < lengths.to(values.device)[:, None])
    return torch.cat([values, mask[:, None].to(values.dtype)], dim=1)


def window_means(inputs: torch.Tensor, mask: torch.Tensor,
                 size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of the valid steps in each window of ``size`` steps, and the windows' mask.

    Parameters
    ----------
    inputs : torch.Tensor of shape (batch, length, n_features)
    mask : torch.Tensor of shape (batch, length)
        1 at valid steps, 0 at padding (valid steps first).
    size : int
        Steps per window; the last window may be shorter.

    Returns
    -------
    means : torch.Tensor of shape (batch, ceil(length / size), n_features)
    window_mask : torch.Tensor of shape (batch, ceil(length / size))
        1 where a window holds a valid step.

    Examples
    --------
    >>> import torch
    >>> inputs = torch.arange(5.0).reshape(1, 5, 1)
    >>> means, mask = window_means(inputs, torch.tensor([[1.0, 1, 1, 0, 0]]), 2)
    >>> means.flatten().tolist(), mask.tolist()
    ([0.5, 2.0, 0.0], [[1.0, 1.0, 0.0]])
    """
    if size == 1:
        return inputs, mask
    # Both averages share each window's divisor, so their ratio is sum / count.
    counts = F.avg_pool1d(mask[:, None], size, size, ceil_mode=True)[:, 0]
    sums = F.avg_pool1d((inputs * mask[..., None]).transpose(1, 2), size, size,
                        ceil_mode=True).transpose(1, 2)
    means = sums / counts.clamp(min=torch.finfo(counts.dtype).tiny)[..., None]
    return means, (counts > 0).to(mask.dtype)


class SequencePooling(nn.Module):
    """Summarize recurrent outputs over the valid time steps.

    Parameters
    ----------
    kind : {'last', 'mean', 'attention'}
        'last': the final hidden state of each direction (after the last valid
        step forward, after the first step backward); 'mean': the mean of the
        outputs over the valid steps; 'attention': their weighted mean, with
        weights from a learned linear score and a softmax over valid steps.
    n_features : int
        Width of the outputs (``hidden_size`` times the number of directions).

    Examples
    --------
    >>> import torch
    >>> pool = SequencePooling("mean", 4)
    >>> outputs, mask = torch.ones(2, 5, 4), torch.ones(2, 5)
    >>> pool(outputs, torch.zeros(2, 4), mask).shape
    torch.Size([2, 4])
    """

    def __init__(self, kind: str, n_features: int) -> None:
        super().__init__()
        if kind not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}; got {kind!r}.")
        self.kind = kind
        self.score = nn.Linear(n_features, 1) if kind == "attention" else None

    def forward(self, outputs: torch.Tensor, last: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        """Pool ``outputs (batch, length, n_features)`` given the final states and mask."""
        if self.kind == "last":
            return last
        if self.kind == "mean":
            weights = mask / mask.sum(dim=1, keepdim=True)
        else:
            scores = self.score(outputs).squeeze(-1).masked_fill(mask == 0, float("-inf"))
            weights = torch.softmax(scores, dim=1)
        return torch.bmm(weights[:, None, :].to(outputs.dtype), outputs).squeeze(1)


class RNN(nn.Module):
    """Recurrent network: optional embedding, LSTM/GRU/RNN layers, pooling, linear head.

    Reads ``(batch, n_channels + 1, length)`` (see the module docstring and
    :func:`with_mask`); returns ``(batch, n_outputs)``.

    Parameters
    ----------
    n_channels : int
        Value channels of the input (1 for token ids).
    n_outputs : int
    cell : {'lstm', 'gru', 'rnn'}, default='lstm'
    hidden_size : int, default=64
    num_layers : int, default=1
    bidirectional : bool, default=False
    dropout : float, default=0.0
        Dropout between recurrent layers, after the embedding and before the head.
    pooling : {'last', 'mean', 'attention'}, default='last'
        See :class:`SequencePooling`.
    vocabulary_size : int or None, default=None
        Read the value channel as token ids below this number (0 is padding)
        through an embedding of ``embedding_dim``.
    embedding_dim : int, default=64
    bag : nn.Module or None, default=None
        A module of the same input whose outputs are added to the head's,
        e.g. :class:`~sknn.modules.text.BagOfWords` (wide and deep).
    input_mean, input_scale : torch.Tensor of shape (n_channels,) or None
        Standardize each value channel by these (kept as buffers).
    patch_size : int, default=1
        The recurrence reads the mean of each window of this many steps
        (:func:`window_means`); the bag reads every step.

    Examples
    --------
    >>> import torch
    >>> x = with_mask(torch.randn(3, 2, 7), torch.tensor([7, 4, 1]))
    >>> RNN(2, 5, cell="gru", bidirectional=True, pooling="attention")(x).shape
    torch.Size([3, 5])
    >>> tokens = with_mask(torch.tensor([[[5.0, 2.0, 0.0]]]), torch.tensor([2]))
    >>> RNN(1, 2, vocabulary_size=10, embedding_dim=8)(tokens).shape
    torch.Size([1, 2])
    >>> RNN(1, 2, vocabulary_size=10, embedding_dim=8, patch_size=2)(tokens).shape
    torch.Size([1, 2])
    """

    def __init__(self, n_channels: int, n_outputs: int, cell: str = "lstm",
                 hidden_size: int = 64, num_layers: int = 1, bidirectional: bool = False,
                 dropout: float = 0.0, pooling: str = "last",
                 vocabulary_size: int | None = None, embedding_dim: int = 64,
                 bag: nn.Module | None = None,
                 input_mean: torch.Tensor | None = None,
                 input_scale: torch.Tensor | None = None, patch_size: int = 1) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {tuple(CELLS)}; got {cell!r}.")
        self.embedding = (None if vocabulary_size is None
                          else nn.Embedding(vocabulary_size, embedding_dim, padding_idx=0))
        n_inputs = n_channels if self.embedding is None else embedding_dim
        shape = (1, n_channels, 1)
        mean = torch.zeros(shape) if input_mean is None else input_mean.reshape(shape)
        scale = torch.ones(shape) if input_scale is None else input_scale.reshape(shape)
        self.register_buffer("input_mean", mean.clone().float())
        self.register_buffer("input_scale", scale.clone().float())
        self.input_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.rnn = CELLS[cell](n_inputs, hidden_size, num_layers=num_layers,
                               batch_first=True, bidirectional=bidirectional,
                               dropout=dropout if num_layers > 1 else 0.0)
        self.n_directions = 2 if bidirectional else 1
        width = hidden_size * self.n_directions
        self.pool = SequencePooling(pooling, width)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(width, n_outputs)
        self.bag = bag
        self.patch_size = patch_size

    def __setstate__(self, state: dict) -> None:
        state.setdefault("patch_size", 1)  # pickled before windows existed
        super().__setstate__(state)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values, mask = x[:, :-1], x[:, -1]
        if self.embedding is None:
            inputs = ((values - self.input_mean) / self.input_scale).transpose(1, 2)
        else:
            inputs = self.embedding(values[:, 0].long())
        inputs, mask = window_means(self.input_dropout(inputs), mask, self.patch_size)
        length = inputs.shape[1]
        lengths = mask.sum(dim=1).long()
        if bool((lengths < length).any()):
            packed = pack_padded_sequence(inputs, lengths.clamp(min=1).cpu(),
                                          batch_first=True, enforce_sorted=False)
            outputs, state = self.rnn(packed)
            outputs, _ = pad_packed_sequence(outputs, batch_first=True,
                                             total_length=length)
        else:
            outputs, state = self.rnn(inputs)
        hidden = state[0] if isinstance(state, tuple) else state  # LSTM: (h, c)
        last = hidden[-self.n_directions:].transpose(0, 1).reshape(x.shape[0], -1)
        valid = mask.clone()
        valid[:, 0] = 1.0  # an empty sequence is read as its first (padding) step
        features = self.pool(outputs, last, valid)
        outputs = self.head(self.dropout(features))
        return outputs if self.bag is None else outputs + self.bag(x)
