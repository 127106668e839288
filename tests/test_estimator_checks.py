"""Every scikit-learn estimator check, with no expected failures."""

from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from sknn import DistilledClassifier, DistilledRegressor, MLPClassifier, MLPRegressor

ESTIMATORS = [MLPClassifier(), MLPRegressor()]


# Distillers with a teacher fitted inside fit (the checks change the data) and a
# small student.
STUDENT = {"hidden_layer_sizes": (16,), "max_iter": 50, "ensemble_size": 1, "n_threads": 1}
ESTIMATORS += [
    DistilledClassifier(MLPClassifier(**STUDENT), LogisticRegression(), fit_teacher=True),
    DistilledRegressor(MLPRegressor(**STUDENT), Ridge(), fit_teacher=True),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda estimator: {})
def test_sklearn_compatible(estimator, check):
    check(estimator)
