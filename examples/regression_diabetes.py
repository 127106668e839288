"""Regression of diabetes progression with sknn, next to a Ridge baseline.
=======================================================================

Uses scikit-learn's bundled diabetes data (442 patients, 10 features;
no download). sknn standardizes the target inside and maps predictions
back, so no ``TransformedTargetRegressor`` is needed; the cross-validated
R² is compared with a Ridge baseline.
"""

import warnings

from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn import MLPRegressor

warnings.simplefilter("ignore", ConvergenceWarning)
X, y = load_diabetes(return_X_y=True)
models = {
    "sknn MLPRegressor": make_pipeline(
        StandardScaler(),
        MLPRegressor(hidden_layer_sizes=(64,), alpha=1e-2, early_stopping=True,
                     random_state=0),
    ),
    "RidgeCV": make_pipeline(StandardScaler(), RidgeCV()),
}
for name, model in models.items():
    scores = cross_val_score(model, X, y, cv=5, scoring="r2")
    print(f"{name:<18} R² = {scores.mean():.3f} ± {scores.std():.3f}")
