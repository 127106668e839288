"""ResNet for tables: the architecture added as one module file and one estimator file."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, make_regression
from sklearn.model_selection import train_test_split

import sknn
from sknn import ResNetClassifier, ResNetRegressor
from sknn.modules import TabularResNet

FAST = dict(width=32, n_blocks=2, max_iter=20, random_state=0, n_threads=1)


def test_the_module_is_a_residual_mlp():
    net = TabularResNet(5, 2, width=8, n_blocks=2, hidden_factor=1.5, dropout=0.0)
    assert len(net.blocks) == 2
    assert net.blocks[0].body[1].out_features == 12  # 1.5 x 8 inside a block
    x = torch.randn(3, 8)
    block = net.blocks[0].eval()
    assert torch.allclose(block(x), x + block.body(x))  # the residual connection


def test_it_learns_a_real_table():
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    clf = ResNetClassifier(**FAST).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.93
    assert clf.predict_proba(X_test).shape == (len(X_test), 2)


def test_the_regressor_reads_a_dataframe_with_categories():
    import pandas as pd

    X, y = make_regression(300, 4, noise=1.0, random_state=0)
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame["color"] = np.where(X[:, 0] > 0, "red", "blue")
    reg = ResNetRegressor(**FAST).fit(frame, y)
    assert reg.score(frame, y) > 0.8
    assert reg.encoder_.cardinalities  # the string column is embedded


def test_it_takes_the_tabular_features_of_its_family():
    names = [feature.name for feature in ResNetClassifier()._features]
    assert names == ["fine_tuning", "layer_freezing", "privacy", "adversarial",
                     "gradient_clipping"]
    X, y = load_breast_cancer(return_X_y=True)
    source = ResNetClassifier(**FAST).fit(X, y)
    tuned = ResNetClassifier(**{**FAST, "max_iter": 2}, init_from=source,
                             freeze_epochs=1).fit(X[:100], y[:100])
    assert tuned.n_iter_ == 2
    with pytest.raises(ValueError, match=r"^ResNetClassifier: init_from must be a fitted "
                       r"ResNet estimator \(the same network\); got a MLPClassifier\.$"):
        ResNetClassifier(init_from=sknn.MLPClassifier(max_iter=1).fit(X, y)).fit(X, y)


def test_a_saved_resnet_loads_and_predicts_the_same(tmp_path):
    X, y = load_breast_cancer(return_X_y=True)
    clf = ResNetClassifier(**FAST).fit(X, y)
    sknn.save(clf, tmp_path / "resnet.sknn")
    loaded = sknn.load(tmp_path / "resnet.sknn")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
