"""How a fit trains: the plan resolved once from parameters and data.

:mod:`sknn._training._plan` turns an estimator's parameters, its family's
'auto' rules (data, :class:`~sknn._training._plan.AutoRules`) and the facts of
one fit's data into a frozen :class:`~sknn._training._plan.TrainingPlan` that
every part of the fit reads.
"""
