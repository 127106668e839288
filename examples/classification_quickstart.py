"""Classify breast-cancer biopsies with sknn inside a scikit-learn grid search.
============================================================================

Uses scikit-learn's bundled Wisconsin breast cancer data (569 samples, 30
features; no download). A ``StandardScaler`` + ``MLPClassifier`` pipeline is
tuned by ``GridSearchCV`` and scored on a held-out test set.
"""

import warnings

from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import classification_report
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn import MLPClassifier

warnings.simplefilter("ignore", ConvergenceWarning)
X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

pipeline = make_pipeline(StandardScaler(), MLPClassifier(random_state=0, max_iter=100))
grid = {
    "mlpclassifier__hidden_layer_sizes": [(64,), (256, 256)],
    "mlpclassifier__alpha": [1e-4, 1e-2],
}
search = GridSearchCV(pipeline, grid, cv=3).fit(X_train, y_train)
print("best parameters:", search.best_params_)
print(f"cross-validated accuracy: {search.best_score_:.4f}")
print(f"test accuracy: {search.score(X_test, y_test):.4f}")
print(classification_report(y_test, search.predict(X_test), digits=3))
