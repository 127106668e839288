"""The training core: the estimator base, tasks, the skorch net, data on the device.

Knows nothing of input kinds or architectures: the estimator families
(:mod:`sknn._estimators`) build on it. Imports only :mod:`sknn._utils`.
"""
