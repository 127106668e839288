"""Training curves of a fitted network, as a scikit-learn style Display."""

from __future__ import annotations

import numpy as np
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted


def import_pyplot(what: str):
    """``matplotlib.pyplot``, or an ImportError saying how to get it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            f"{what} needs matplotlib, an optional dependency of sknn; "
            "install it with: pip install matplotlib"
        ) from error
    return plt


def final_estimator(estimator):
    """The last step of a Pipeline, or the estimator itself."""
    return estimator[-1] if isinstance(estimator, Pipeline) else estimator


class TrainingCurveDisplay:
    """Training loss and validation score per epoch of a neural network.

    Build it with :meth:`from_estimator`; the constructor takes the curves
    themselves. The loss is drawn on ``ax_`` and the validation score, when
    there is one, on a twin axis with its own scale (``score_ax_``).

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        Mean training loss of each epoch.
    validation_scores : array-like of shape (n_validated,), default=None
        Validation score (accuracy or R²) of each validated epoch.
    validation_loss : array-like of shape (n_validated,), default=None
        Validation loss of each validated epoch.
    validation_epochs : array-like of shape (n_validated,), default=None
        1-based epoch numbers of the validation values; by default the last
        ``n_validated`` epochs.
    estimator_name : str, default=None
        Title of the plot.
    score_name : str, default='validation score'
        Label of the validation score.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes holding the loss curves.
    score_ax_ : matplotlib Axes or None
        Twin axes holding the validation score.
    figure_ : matplotlib Figure
        Figure holding the axes.
    line_ : matplotlib Line2D
        The training-loss curve.
    validation_loss_line_ : matplotlib Line2D or None
        The validation-loss curve.
    validation_score_line_ : matplotlib Line2D or None
        The validation-score curve.

    See Also
    --------
    sklearn.model_selection.LearningCurveDisplay : Scores against training-set size.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.inspection import TrainingCurveDisplay
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(max_iter=20, random_state=0).fit(X, y)
    >>> display = TrainingCurveDisplay.from_estimator(clf)
    >>> len(display.line_.get_xdata())
    20
    """

    def __init__(self, *, loss_curve, validation_scores=None, validation_loss=None,
                 validation_epochs=None, estimator_name=None,
                 score_name="validation score"):
        self.loss_curve = loss_curve
        self.validation_scores = validation_scores
        self.validation_loss = validation_loss
        self.validation_epochs = validation_epochs
        self.estimator_name = estimator_name
        self.score_name = score_name

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name=None, loss_kw=None,
                       score_kw=None):
        """Plot the curves recorded by a fitted estimator.

        Parameters
        ----------
        estimator : estimator or Pipeline
            A fitted sknn estimator, scikit-learn MLP, or a Pipeline ending in
            one: anything with ``loss_curve_`` (and ``validation_scores_``).
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        name : str, default=None
            Title; the estimator's class name when None.
        loss_kw : dict, default=None
            Keyword arguments of the training-loss ``ax.plot`` call.
        score_kw : dict, default=None
            Keyword arguments of the validation-score ``plot`` call.

        Returns
        -------
        display : TrainingCurveDisplay
        """
        import_pyplot(cls.__name__)
        model = final_estimator(estimator)
        check_is_fitted(model)
        if getattr(model, "loss_curve_", None) is None:
            raise TypeError(
                f"{cls.__name__} needs an estimator that records loss_curve_ (an "
                f"sknn estimator or scikit-learn MLP); got {type(model).__name__}."
            )
        epochs, validation_loss = _validation_losses(model)
        display = cls(
            loss_curve=model.loss_curve_,
            validation_scores=getattr(model, "validation_scores_", None),
            validation_loss=validation_loss,
            validation_epochs=epochs,
            estimator_name=type(model).__name__,
            score_name="validation accuracy" if is_classifier(model) else "validation R²",
        )
        return display.plot(ax=ax, name=name, loss_kw=loss_kw, score_kw=score_kw)

    def plot(self, ax=None, *, name=None, loss_kw=None, score_kw=None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        name : str, default=None
            Title; ``estimator_name`` when None.
        loss_kw : dict, default=None
            Keyword arguments of the training-loss ``ax.plot`` call.
        score_kw : dict, default=None
            Keyword arguments of the validation-score ``plot`` call.

        Returns
        -------
        display : TrainingCurveDisplay
            Itself, with the ``ax_``, ``figure_`` and line attributes set.
        """
        plt = import_pyplot(type(self).__name__)
        new_figure = ax is None
        if new_figure:
            _, ax = plt.subplots()
        loss = np.asarray(self.loss_curve, dtype=float)
        epochs = np.arange(1, len(loss) + 1)
        self.line_ = ax.plot(epochs, loss, **{"label": "training loss",
                                              **(loss_kw or {})})[0]
        self.validation_loss_line_ = None
        self.validation_score_line_ = None
        self.score_ax_ = None
        if self.validation_loss is not None:
            self.validation_loss_line_ = ax.plot(
                self._validation_x(self.validation_loss), self.validation_loss,
                linestyle="--", label="validation loss",
            )[0]
        if self.validation_scores is not None:
            self.score_ax_ = ax.twinx()
            self.validation_score_line_ = self.score_ax_.plot(
                self._validation_x(self.validation_scores), self.validation_scores,
                **{"color": "C2", "label": self.score_name, **(score_kw or {})},
            )[0]
            self.score_ax_.set_ylabel(self.score_name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.set_title(name or self.estimator_name or "")
        lines = [self.line_, self.validation_loss_line_, self.validation_score_line_]
        # On the top-most axes, so that the score curve does not cover the legend.
        (self.score_ax_ or ax).legend(handles=[line for line in lines if line],
                                      loc="center right")
        self.ax_ = ax
        self.figure_ = ax.figure
        if new_figure:
            self.figure_.tight_layout()
        return self

    def _validation_x(self, values):
        if self.validation_epochs is not None:
            return np.asarray(self.validation_epochs)
        n_epochs = len(self.loss_curve)
        return np.arange(n_epochs - len(values) + 1, n_epochs + 1)


def _validation_losses(model):
    """Epoch numbers and validation losses in an sknn net's history (or Nones)."""
    net = getattr(model, "net_", None)
    if net is None:
        return None, None
    rows = [row for row in net.history if "valid_loss" in row]
    if not rows:
        return None, None
    return [row["epoch"] for row in rows], [float(row["valid_loss"]) for row in rows]
