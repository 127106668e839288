"""Helpers shared by the test modules."""


def make_estimator(cls, base, **params):
    """``cls`` with the options of ``base`` that it has, overridden by ``params``.

    Lets one fast configuration (e.g. ``ensemble_size=1``) serve estimators that
    lack some of its parameters.
    """
    known = cls().get_params()
    return cls(**{**{k: v for k, v in base.items() if k in known}, **params})
