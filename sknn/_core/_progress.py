"""A per-epoch progress bar for sknn's skorch nets (``verbose=1``)."""

from __future__ import annotations

import math
from typing import Any

from skorch import NeuralNet
from skorch.callbacks import Callback

# History columns shown after the bar, in this order, when the epoch has them.
DEFAULT_KEYS = ("train_loss", "valid_loss", "valid_score")


# Not skorch's ProgressBar: it draws one bar per epoch that advances every batch
# (thousands of refreshes a fit on large tables); sknn shows one bar for the
# whole fit that advances per epoch, with the epoch's scores.
class EpochProgressBar(Callback):
    """tqdm progress bar that advances once per epoch.

    Uses :mod:`tqdm.auto`, so a Jupyter notebook with ipywidgets shows a
    widget and a terminal a text bar (on stderr). After each epoch the bar's
    postfix shows the training loss and, when early stopping holds out data,
    the validation loss and score. The bar counts up to ``max_iter`` epochs
    and is closed as complete when training stops earlier.

    Parameters
    ----------
    keys : tuple of str, default=('train_loss', 'valid_loss', 'valid_score')
        Columns of the net's history shown in the postfix, when present.
    leave : bool, default=True
        Keep the finished bar on screen.

    Examples
    --------
    >>> import io, contextlib
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn._core._progress import EpochProgressBar
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(max_iter=3, callbacks=[EpochProgressBar()])
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     _ = clf.fit(X, y)
    >>> "3/3" in err.getvalue()
    True
    """

    def __init__(self, keys: tuple[str, ...] = DEFAULT_KEYS, leave: bool = True):
        self.keys = keys
        self.leave = leave

    def initialize(self) -> EpochProgressBar:
        self.bar_ = None
        return self

    def on_train_begin(self, net: NeuralNet, X: Any = None, y: Any = None,
                       **kwargs: Any) -> None:
        from tqdm.auto import tqdm

        self._close()
        self.bar_ = tqdm(total=net.max_epochs, unit="epoch", leave=self.leave,
                         desc="training")

    def on_epoch_end(self, net: NeuralNet, **kwargs: Any) -> None:
        if self.bar_ is None:
            return
        self.bar_.set_postfix(self.postfix(net.history[-1]), refresh=False)
        self.bar_.update(1)

    def on_train_end(self, net: NeuralNet, X: Any = None, y: Any = None,
                     **kwargs: Any) -> None:
        self._close()

    def postfix(self, row: dict[str, Any]) -> dict[str, str]:
        """The postfix shown for one epoch's history ``row``."""
        return {key: _format(row[key]) for key in self.keys if key in row}

    def _close(self):
        """Close the bar as complete (early stopping ends before ``total``)."""
        if getattr(self, "bar_", None) is None:
            return
        self.bar_.total = self.bar_.n
        self.bar_.close()
        self.bar_ = None  # a tqdm bar does not pickle; the fitted net must


def _format(value) -> str:
    value = float(value)
    return f"{value:.4g}" if math.isfinite(value) else str(value)
