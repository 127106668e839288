"""What a shared model file may and may not do to whoever loads it.

A file never makes the recipient's process write files (callbacks that write
are never stored, and dropped from files that hold them), a changed byte is
detected (the file's SHA-256 checksum), and a file sets only the attributes a
fitted estimator of its class has.
"""

import os
import re
import warnings

import numpy as np
import pytest
from helpers import refusal_pattern, rewrite_sknn_file

import sknn
from sknn import DistilledClassifier, MLPClassifier
from sknn.callbacks import Checkpoint

RNG = np.random.RandomState(0)
X = RNG.randn(40, 3)
Y = (X[:, 0] > 0).astype(int)
FAST = dict(hidden_layer_sizes=(4,), max_iter=2, n_threads=1, random_state=0)
CHECKPOINT_CLASS = "sknn._checkpoint.Checkpoint"


def _files(folder) -> dict[str, tuple[int, int]]:
    """Every file under ``folder``: its size and modification time."""
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            stat = os.stat(os.path.join(root, name))
            found[os.path.relpath(os.path.join(root, name), folder)] = (
                stat.st_size, stat.st_mtime_ns)
    return found


def _checkpoint_node(target) -> dict:
    """A Checkpoint writing to ``target``, as sknn files held them before they were left out."""
    return {"$type": "object", "class": CHECKPOINT_CLASS,
            "state": {"path": {"$type": "path", "name": os.fspath(target)}, "every": 1}}


# -- A: loading never arms anything that writes files ---------------------------------
def test_saving_leaves_a_checkpoint_out(tmp_path):
    model = MLPClassifier(**FAST, callbacks=[Checkpoint(tmp_path / "author.ckpt")]).fit(X, Y)
    path = tmp_path / "model.sknn"
    with pytest.warns(UserWarning, match=r"sknn.save: .*model\.sknn leaves out callbacks \(a "
                      r"list of sknn\._io\._checkpoint\.Checkpoint\): only sknn estimators "
                      r"and plain data are stored, never callbacks"):
        sknn.save(model, path)
    assert sknn.load(path).callbacks is None


@pytest.fixture
def shared(tmp_path):
    """A file, from someone else, whose estimator's Checkpoint targets the recipient's file."""
    victim = tmp_path / "recipient" / "notes.txt"
    victim.parent.mkdir()
    victim.write_text("the recipient's own file")
    path = tmp_path / "recipient" / "shared.sknn"
    sknn.save(MLPClassifier(**FAST, warm_start=True).fit(X, Y), path)
    rewrite_sknn_file(path, lambda d: d["estimator"]["params"].update(
        callbacks=[_checkpoint_node(victim), {"$type": "tuple", "items": [
            "named", _checkpoint_node(tmp_path / "elsewhere.ckpt")]}]))
    return path, victim


DROPPED = re.escape("holds callbacks that write files (MLPClassifier.callbacks: ")


@pytest.mark.parametrize("continue_training", [
    lambda model: model.fit(X, Y),  # the saved warm_start=True continues
    lambda model: model.partial_fit(X, Y),
], ids=["fit with warm_start", "partial_fit"])
def test_continued_training_of_a_loaded_model_writes_nothing(shared, monkeypatch,
                                                            continue_training):
    path, victim = shared
    monkeypatch.chdir(path.parent)
    before = _files(path.parent.parent)
    with pytest.warns(UserWarning, match=r"sknn.load: .*shared\.sknn " + DROPPED
                      + r"Checkpoint\('.*notes\.txt'\); MLPClassifier\.callbacks: "
                      r"Checkpoint\('.*elsewhere\.ckpt'\)\); a loaded model never writes where "
                      r"its file says, so they were dropped\. To checkpoint its training, pass "
                      r"your own: set_params\(callbacks=\[Checkpoint\(\.\.\.\)\]\)\."):
        model = sknn.load(path)
    assert model.callbacks is None
    n_iter = model.n_iter_
    continue_training(model)
    assert model.n_iter_ > n_iter
    assert victim.read_text() == "the recipient's own file"
    assert _files(path.parent.parent) == before


def test_the_recipients_own_checkpoint_works(shared, monkeypatch):
    import sknn._io._checkpoint as checkpoint_module

    path, victim = shared
    written = []
    original = checkpoint_module.write_file
    monkeypatch.setattr(checkpoint_module, "write_file",
                        lambda target, *args, **kw: (written.append(target),
                                                     original(target, *args, **kw)))
    with pytest.warns(UserWarning, match=DROPPED):
        model = sknn.load(path)
    own = path.parent / "own.ckpt"
    model.set_params(callbacks=[Checkpoint(own)], max_iter=3).fit(X, Y)
    assert written and set(written) == {own}  # the epochs before the last one
    assert not own.exists()  # removed once the fit finished
    assert victim.read_text() == "the recipient's own file"


def test_a_nested_estimators_checkpoint_is_dropped_too(tmp_path):
    path = tmp_path / "distilled.sknn"
    teacher = MLPClassifier(**FAST).fit(X, Y)
    sknn.save(DistilledClassifier(MLPClassifier(**FAST), teacher).fit(X, Y), path)
    rewrite_sknn_file(path, lambda d: d["estimator"]["params"]["student"]["params"].update(
        callbacks=[_checkpoint_node(tmp_path / "x.ckpt")]))
    with pytest.warns(UserWarning, match=r"sknn.load: .*holds callbacks that write files "
                      r"\(MLPClassifier\.callbacks: Checkpoint\('.*x\.ckpt'\)\)"):
        loaded = sknn.load(path)
    assert loaded.student.callbacks is None


def test_a_checkpoint_anywhere_else_is_refused(tmp_path):
    path = tmp_path / "model.sknn"
    sknn.save(MLPClassifier(**FAST).fit(X, Y), path)
    rewrite_sknn_file(path, lambda d: d["estimator"]["state"].update(
        n_iter_=_checkpoint_node(tmp_path / "x.ckpt")))
    with pytest.raises(ValueError, match=refusal_pattern("model.sknn",
                                                         f"class '{CHECKPOINT_CLASS}'")):
        sknn.load(path)


# -- B: a changed byte is detected -------------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.sknn"
    model = MLPClassifier(**FAST).fit(X, Y)
    sknn.save(model, path)
    return path, model


CORRUPTED = r"sknn.load: .*model\.sknn is a corrupted sknn file: "
MISMATCH = (CORRUPTED + r"its content does not match the SHA-256 checksum it was saved with "
            r"\(expected [0-9a-f]{12}\.\.\., got [0-9a-f]{12}\.\.\.\)\. Bytes changed after "
            r"sknn\.save wrote it \(a truncated or damaged copy, or an edit\); get an intact "
            r"copy from its source\.")


def _flip_a_weight_byte(path):
    data = bytearray(path.read_bytes())
    header_size = int.from_bytes(data[:8], "little")
    data[8 + header_size + (len(data) - 8 - header_size) // 2] ^= 0x40  # the tensors' middle
    path.write_bytes(bytes(data))


def test_a_flipped_byte_in_the_weights_is_refused(saved):
    path, _ = saved
    _flip_a_weight_byte(path)
    with pytest.raises(ValueError, match=MISMATCH):
        sknn.load(path)


def test_an_edited_document_is_refused(saved):
    path, _ = saved
    rewrite_sknn_file(path, lambda d: d["estimator"]["params"].update(alpha=0.5),
                      checksum="keep")
    with pytest.raises(ValueError, match=MISMATCH):
        sknn.load(path)


def test_a_truncated_file_is_refused(saved):
    path, _ = saved
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match=CORRUPTED + r"it is incomplete or its bytes were "
                       r"changed \(.*\); it was probably truncated while being copied\. Get an "
                       r"intact copy from its source\."):
        sknn.load(path)


def test_a_file_without_a_checksum_loads_with_a_warning(saved):
    path, model = saved
    rewrite_sknn_file(path, lambda d: None, checksum="drop")  # as older sknn wrote it
    with pytest.warns(UserWarning, match=r"sknn.load: .*model\.sknn has no checksum \(older "
                      r"sknn versions wrote none\), so a changed byte in it would go unnoticed; "
                      r"re-save it with sknn\.save to add one\."):
        loaded = sknn.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    sknn.save(loaded, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # re-saved: it has one now
        sknn.load(path)


# -- C: a file sets only parameters and fitted attributes --------------------------------
@pytest.mark.parametrize("name, why", [
    ("_input", "attribute '_input', which would replace a method or property of "
               "MLPClassifier"),
    ("_sknn_private", "attribute '_sknn_private' of MLPClassifier (neither a parameter nor "
                      "a fitted attribute: a public name ending in '_')"),
    ("encoder", "attribute 'encoder' of MLPClassifier (neither a parameter nor a fitted "
                "attribute: a public name ending in '_')"),
])
def test_a_file_sets_only_fitted_attributes(saved, name, why):
    path, _ = saved
    rewrite_sknn_file(path, lambda d: d["estimator"]["state"].update({name: 1}))
    with pytest.raises(ValueError, match=refusal_pattern("model.sknn", why)):
        sknn.load(path)


def test_saving_refuses_an_attribute_that_loading_would_not_set(tmp_path):
    model = MLPClassifier(**FAST).fit(X, Y)
    model._note = "private"
    with pytest.raises(TypeError, match=r"sknn.save: _note is neither a parameter nor a fitted "
                       r"attribute of MLPClassifier \(a public name ending in '_'\), which is "
                       r"all sknn.load sets; delete it first\."):
        sknn.save(model, tmp_path / "model.sknn")


def test_set_output_configuration_round_trips(tmp_path):
    from sknn import AutoencoderTransformer

    model = AutoencoderTransformer(n_components=2, max_iter=1, n_threads=1, random_state=0)
    model.fit(X).set_output(transform="pandas")
    path = tmp_path / "autoencoder.sknn"
    sknn.save(model, path)
    assert list(sknn.load(path).transform(X).columns) == ["autoencoder0", "autoencoder1"]
