"""Plots of feature attributions, as a scikit-learn style Display."""

from __future__ import annotations

from numbers import Integral

import numpy as np

from sknn.inspection._attributions import FeatureAttributions, feature_attributions
from sknn.inspection._network_input import IMAGE, TABLE, TOKENS
from sknn.inspection._training_curve import import_pyplot

DEFAULT_MAX_FEATURES = 20


class AttributionDisplay:
    """Attributions of a network's predictions: bars, a heatmap or a curve.

    What is drawn follows the input: for tables a horizontal bar chart of the
    columns' importances (largest on top), for images a heatmap over the
    image, for series (and token ids) the attributions over time, one curve
    per channel. By default the plot is global: the mean absolute
    attribution over the rows; ``sample_index`` draws one row's signed
    attributions instead (red pushes the explained output up, blue down).

    Build it with :meth:`from_estimator` or :meth:`from_attributions`; the
    constructor takes the :class:`FeatureAttributions` themselves.

    Parameters
    ----------
    attributions : FeatureAttributions
        What :func:`feature_attributions` returns.
    estimator_name : str, default=None
        Title of the plot.

    Attributes
    ----------
    bars_ : matplotlib BarContainer or None
        Tables: the bars, from the top one down.
    image_ : matplotlib AxesImage or None
        Images: the heatmap (channels summed).
    lines_ : list of matplotlib Line2D or None
        Series and token ids: one curve per channel.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    See Also
    --------
    feature_attributions : The attributions behind the plot.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sknn import MLPClassifier
    >>> from sknn.inspection import AttributionDisplay
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> y = (X[:, 2] > 0).astype(int)
    >>> clf = MLPClassifier((16,), ensemble_size=1, max_iter=30, n_threads=1,
    ...                     random_state=0).fit(X, y)
    >>> display = AttributionDisplay.from_estimator(clf, X[:30], method="saliency")
    >>> display.ax_.get_yticklabels()[0].get_text()
    'x2'
    """

    def __init__(self, attributions: FeatureAttributions, *, estimator_name=None):
        self.attributions = attributions
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, X, *, method="integrated_gradients", target=None,
                       baseline=None, n_steps=64, tol=0.01, window=None,
                       sample_index=None, max_features=DEFAULT_MAX_FEATURES, ax=None,
                       name=None):
        """Compute :func:`feature_attributions` and plot them.

        Parameters
        ----------
        estimator : fitted sknn classifier or regressor, or Pipeline ending in one
        X : array-like, DataFrame, list of sequences or TokenArray
        method, target, baseline, n_steps, tol, window
            As for :func:`feature_attributions`.
        sample_index : int or None, default=None
            Plot this row's signed attributions; None: the mean absolute
            attribution over all rows.
        max_features : int, default=20
            Tables: the number of columns shown (the most important).
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        name : str, default=None
            Title; the estimator's class name and the method when None.

        Returns
        -------
        display : AttributionDisplay
        """
        import_pyplot(cls.__name__)
        attributions = feature_attributions(estimator, X, method=method, target=target,
                                            baseline=baseline, n_steps=n_steps, tol=tol,
                                            window=window)
        return cls.from_attributions(attributions, sample_index=sample_index,
                                     max_features=max_features, ax=ax, name=name)

    @classmethod
    def from_attributions(cls, attributions, *, sample_index=None,
                          max_features=DEFAULT_MAX_FEATURES, ax=None, name=None):
        """Plot attributions computed by :func:`feature_attributions`.

        Parameters
        ----------
        attributions : FeatureAttributions
        sample_index : int or None, default=None
            See :meth:`from_estimator`.
        max_features : int, default=20
        ax : matplotlib Axes, default=None
        name : str, default=None

        Returns
        -------
        display : AttributionDisplay
        """
        if not isinstance(attributions, FeatureAttributions):
            raise TypeError(
                f"{cls.__name__}.from_attributions expects what feature_attributions "
                f"returns (FeatureAttributions); got {type(attributions).__name__}."
            )
        display = cls(attributions, estimator_name=attributions.estimator_name)
        return display.plot(ax=ax, sample_index=sample_index, max_features=max_features,
                            name=name)

    def plot(self, ax=None, *, sample_index=None, max_features=DEFAULT_MAX_FEATURES,
             name=None, cmap=None):
        """Draw the attributions.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        sample_index : int or None, default=None
            Plot this row's signed attributions; None: the mean absolute
            attribution over all rows.
        max_features : int, default=20
            Tables: the number of columns shown (the most important).
        name : str, default=None
            Title; ``estimator_name`` and the method when None.
        cmap : str or matplotlib Colormap, default=None
            Images: the colormap; None: 'RdBu_r' (centred on 0) for one
            row, 'viridis' for the mean absolute attribution.

        Returns
        -------
        display : AttributionDisplay
            Itself, with ``ax_``, ``figure_`` and ``bars_``, ``image_`` or
            ``lines_`` set.
        """
        plt = import_pyplot(type(self).__name__)
        attributions = self.attributions
        values = self._values(sample_index)
        new_figure = ax is None
        if new_figure:
            _, ax = plt.subplots()
        self.bars_ = self.image_ = self.lines_ = None
        if attributions.kind == TABLE:
            self._plot_bars(ax, values, sample_index, max_features)
        elif attributions.kind == IMAGE:
            self._plot_heatmap(ax, values, sample_index, cmap)
        else:
            self._plot_curves(ax, values, sample_index)
        method = attributions.method.replace("_", " ")
        ax.set_title(name or " — ".join(part for part in (self.estimator_name, method)
                                        if part))
        self.ax_ = ax
        self.figure_ = ax.figure
        if new_figure:
            self.figure_.tight_layout()
        return self

    def _values(self, sample_index) -> np.ndarray:
        """One row's attributions, or the mean absolute attribution of all rows."""
        values = self.attributions.values
        if sample_index is None:
            return np.abs(values).mean(axis=0)
        if (not isinstance(sample_index, Integral) or isinstance(sample_index, bool)
                or not -len(values) <= sample_index < len(values)):
            raise ValueError(
                f"{type(self).__name__}: sample_index must be None or a row index below "
                f"{len(values)}; got {sample_index!r}."
            )
        return values[sample_index]

    def _label(self, sample_index) -> str:
        output = self.attributions.output
        if sample_index is None:
            return f"mean |attribution| to the {output}"
        return f"attribution to the {output} (row {sample_index})"

    def _plot_bars(self, ax, values, sample_index, max_features):
        order = np.argsort(-np.abs(values), kind="stable")[:max_features]
        names = np.asarray(self.attributions.feature_names, dtype=object)[order]
        shown = values[order]
        colors = ("C0" if sample_index is None else
                  ["tab:red" if value > 0 else "tab:blue" for value in shown])
        positions = np.arange(len(order))[::-1]  # the largest on top
        self.bars_ = ax.barh(positions, shown, color=colors)
        ax.set_yticks(positions, [str(n) for n in names])
        ax.set_xlabel(self._label(sample_index))
        if sample_index is not None:
            ax.axvline(0, color="black", linewidth=0.8)

    def _plot_heatmap(self, ax, values, sample_index, cmap):
        heat = values.sum(axis=0)  # channels summed: one value per pixel
        if sample_index is None:
            self.image_ = ax.imshow(heat, cmap=cmap or "viridis")
        else:
            limit = float(np.abs(heat).max()) or 1.0
            self.image_ = ax.imshow(heat, cmap=cmap or "RdBu_r", vmin=-limit, vmax=limit)
        ax.figure.colorbar(self.image_, ax=ax, label=self._label(sample_index))
        ax.set_xticks([])
        ax.set_yticks([])

    def _plot_curves(self, ax, values, sample_index):
        channels = values[None] if self.attributions.kind == TOKENS else values
        steps = np.arange(channels.shape[-1])
        self.lines_ = [ax.plot(steps, channel, label=f"channel {c}")[0]
                       for c, channel in enumerate(channels)]
        if len(self.lines_) > 1:
            ax.legend()
        ax.set_xlabel("token position" if self.attributions.kind == TOKENS else "time step")
        ax.set_ylabel(self._label(sample_index))
        if sample_index is not None:
            ax.axhline(0, color="black", linewidth=0.8)
