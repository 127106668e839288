"""Tools to look inside fitted sknn estimators: training curves, explanations, robustness.

Explanations and attacks need Captum (``pip install "sknn[explain]"``), plots
matplotlib; both are imported only when used.
"""

from sknn.inspection._attribution_display import AttributionDisplay
from sknn.inspection._attributions import FeatureAttributions, feature_attributions
from sknn.inspection._robustness import RobustnessDisplay, robustness_report
from sknn.inspection._training_curve import TrainingCurveDisplay

__all__ = [
    "AttributionDisplay",
    "FeatureAttributions",
    "RobustnessDisplay",
    "TrainingCurveDisplay",
    "feature_attributions",
    "robustness_report",
]
