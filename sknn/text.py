"""Text input for the sequence estimators: raw strings to token-id sequences.

``make_pipeline(TextSequencer(), RNNClassifier())`` trains on a list of strings.
"""

from sknn._input._text import TextSequencer, TokenArray

__all__ = ["TextSequencer", "TokenArray"]
