"""Input handling: tables, series and masked sequences, text, streams of chunks.

Validation and encoding of X for each input kind, built on the core's data
types (:mod:`sknn._core`); never imports an estimator family.
"""
