"""sknn.set_config / config_context: the process-wide settings, switched in one place."""

import re
import threading

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

import sknn
from sknn._core import _device, _process

DEFAULTS = {"n_threads": "auto", "avoid_busy_cores": True, "flush_subnormals": True,
            "keep_freed_memory": True}


class _RecordProcess(Callback):
    """torch's thread count and the subnormal flush at every epoch of a fit."""

    def initialize(self):
        self.threads_, self.flushing_ = [], []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.threads_.append(torch.get_num_threads())
        self.flushing_.append(_process._flushing_subnormals())


def _fit(**params):
    recorder = _RecordProcess()
    X, y = np.random.RandomState(0).rand(40, 3), np.arange(40) % 2
    sknn.MLPClassifier((4,), ensemble_size=1, max_iter=2, random_state=0,
                       callbacks=[recorder], **params).fit(X, y)
    return recorder


def test_the_defaults_and_a_block_that_restores_them_even_on_an_error():
    assert sknn.get_config() == DEFAULTS
    with pytest.raises(RuntimeError), sknn.config_context(n_threads=1,
                                                          flush_subnormals=False):
        assert sknn.get_config() == {**DEFAULTS, "n_threads": 1, "flush_subnormals": False}
        raise RuntimeError
    assert sknn.get_config() == DEFAULTS
    sknn.set_config(avoid_busy_cores=False)
    try:
        assert sknn.get_config()["avoid_busy_cores"] is False
        sknn.set_config()  # None: unchanged
        assert sknn.get_config()["avoid_busy_cores"] is False
    finally:
        sknn.set_config(avoid_busy_cores=True)


def _in_a_new_thread():
    seen = []
    thread = threading.Thread(target=lambda: seen.append(sknn.get_config()))
    thread.start()
    thread.join()
    return seen[0]


def test_set_config_reaches_every_thread_a_block_only_its_own():
    with sknn.config_context(n_threads=1):
        assert _in_a_new_thread() == DEFAULTS  # a search's other threads keep theirs
    sknn.set_config(n_threads=2)
    try:
        assert _in_a_new_thread() == {**DEFAULTS, "n_threads": 2}
        with sknn.config_context(n_threads=1):
            assert sknn.get_config()["n_threads"] == 1  # the block's, over the global
        assert sknn.get_config()["n_threads"] == 2
    finally:
        sknn.set_config(n_threads="auto")


@pytest.mark.parametrize("settings, error, message", [
    ({"n_threads": 0}, ValueError,
     "sknn.set_config: n_threads must be 'auto' or an integer of at least 1; got 0."),
    ({"n_threads": True}, ValueError,
     "sknn.set_config: n_threads must be 'auto' or an integer of at least 1; got True."),
    ({"n_threads": "all"}, ValueError,
     "sknn.set_config: n_threads must be 'auto' or an integer of at least 1; got 'all'."),
    ({"flush_subnormals": "no"}, TypeError,
     "sknn.set_config: flush_subnormals must be True or False; got 'no'."),
    ({"keep_freed_memory": 1}, TypeError,
     "sknn.set_config: keep_freed_memory must be True or False; got 1."),
])
def test_bad_settings_are_refused_before_anything_changes(settings, error, message):
    with pytest.raises(error, match=re.escape(message)):
        sknn.set_config(**{"avoid_busy_cores": False, **settings})
    assert sknn.get_config() == DEFAULTS
    in_a_block = message.replace("sknn.set_config", "sknn.config_context")
    with pytest.raises(error, match=re.escape(in_a_block)):
        with sknn.config_context(**{"avoid_busy_cores": False, **settings}):
            pass
    assert sknn.get_config() == DEFAULTS


def test_n_threads_sets_the_default_an_estimators_own_wins(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the setting wins over the environment too
    with sknn.config_context(n_threads=1):
        assert _device.default_n_threads() == 1
        assert set(_fit().threads_) == {1}
        assert set(_fit(n_threads=2).threads_) == {2}
    assert _device.default_n_threads() == 2


def test_avoid_busy_cores_false_does_not_read_the_load(monkeypatch):
    def read(may_wait=False):
        raise AssertionError("the load was read")

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(_device.torch, "get_num_threads", lambda: 4)
    monkeypatch.setattr(_device, "cpu_quota_cores", lambda: None)
    monkeypatch.setattr(_device.LOAD, "busy_cores_elsewhere", read)
    with sknn.config_context(avoid_busy_cores=False):
        assert _device.default_n_threads(work_rows=10**6) == 4
    with pytest.raises(AssertionError, match="the load was read"):
        _device.default_n_threads()


def test_flush_subnormals_switches_the_flush_in_fit_and_predict():
    assert set(_fit().flushing_) == {True}
    with sknn.config_context(flush_subnormals=False):
        assert set(_fit().flushing_) == {False}
        with _process.subnormals_flushed():
            assert not _process._flushing_subnormals()
    assert not _process._flushing_subnormals()  # restored after each call


def test_keep_freed_memory_false_leaves_the_allocator(monkeypatch):
    calls = []
    monkeypatch.setattr(_process, "keep_freed_memory", lambda: calls.append(1))
    with sknn.config_context(keep_freed_memory=False):
        _fit()
    assert calls == []
    _fit()
    assert calls
