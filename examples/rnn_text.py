"""Classify movie reviews from raw text with TextSequencer and an RNN in a Pipeline.
===================================================================================

The polarity dataset of Pang & Lee (2004): 1,000 positive and 1,000 negative
movie reviews, read straight from ``review_polarity.tar.gz`` with
:mod:`tarfile`. :class:`sknn.text.TextSequencer` learns a vocabulary and turns
each review into a sequence of token ids (no pretrained tokenizer or embedding,
nothing downloaded); :class:`sknn.RNNClassifier` embeds them, runs a GRU over
each review (packed to its own length) and averages its outputs. Its
bag-of-words part (``bag_of_words=True``, the default) adds a linear model on
the reviews' TF-IDF vectors, fitted first; the GRU learns what it leaves, and
its part is then weighed (0 to 1) by the validation loss. A TF-IDF +
logistic regression baseline is trained on the same stratified split.

Reads ``../shared/data/text/review_polarity.tar.gz`` (next to a clone of this
project); set ``SKNN_EXAMPLE_FAST=1`` for a quick run on 300 reviews with a
small network.
"""

import os
import sys
import tarfile
import time
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sknn import RNNClassifier
from sknn.text import TextSequencer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ARCHIVE = DATA / "text" / "review_polarity.tar.gz"
if not ARCHIVE.is_file():
    sys.exit(f"This example reads the movie reviews from {ARCHIVE}, which is not here.")

texts, labels = [], []
with tarfile.open(ARCHIVE) as archive:
    for member in sorted(archive.getmembers(), key=lambda m: m.name):
        folder = Path(member.name).parent.name
        if member.isfile() and member.name.endswith(".txt") and folder in ("pos", "neg"):
            texts.append(archive.extractfile(member).read().decode("utf-8", "replace"))
            labels.append(folder)
print(f"{len(texts)} reviews, e.g. {texts[0][:70]!r}...")

fast = bool(os.environ.get("SKNN_EXAMPLE_FAST"))
if fast:  # 300 reviews, short sequences, a small network
    texts, _, labels, _ = train_test_split(texts, labels, train_size=300, stratify=labels,
                                           random_state=0)
X_train, X_test, y_train, y_test = train_test_split(texts, labels, test_size=0.2,
                                                    stratify=labels, random_state=0)

rnn = make_pipeline(
    TextSequencer(max_features=10000, max_length=100 if fast else 400),
    RNNClassifier(cell="gru", pooling="mean", dropout=0.3, max_iter=3 if fast else 8,
                  hidden_size=16 if fast else 64, n_threads=1, random_state=0),
)
baseline = make_pipeline(TfidfVectorizer(sublinear_tf=True),
                         LogisticRegression(C=10.0, max_iter=1000))
for name, model in [("TextSequencer + RNNClassifier", rnn),
                    ("TF-IDF + LogisticRegression", baseline)]:
    start = time.perf_counter()
    model.fit(X_train, y_train)
    print(f"{name}: test accuracy {model.score(X_test, y_test):.3f}, "
          f"fit {time.perf_counter() - start:.1f} s")
print(f"weight of the GRU's part next to the bag of words: {rnn[-1].network_weight_}")
print(f"vocabulary: {len(rnn[0].vocabulary_)} tokens; ids of a review: "
      f"{rnn[0].transform(X_test[:1])[0, :8].tolist()}...")
