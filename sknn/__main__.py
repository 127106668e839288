"""``python -m sknn``: the ``sknn`` command line (see :mod:`sknn._cli`).

With no arguments it runs the main job, ``sknn benchmark --no-plot``: sknn's
MLPClassifier next to scikit-learn's MLP, HistGradientBoosting and logistic
regression on scikit-learn's bundled digits dataset (no download).
"""

import sys

from sknn._cli import main

if __name__ == "__main__":
    sys.exit(main())
