"""Every scikit-learn estimator check, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sknn import MLPClassifier, MLPRegressor

ESTIMATORS = [MLPClassifier(), MLPRegressor()]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda estimator: {})
def test_sklearn_compatible(estimator, check):
    check(estimator)
