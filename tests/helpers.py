"""Helpers shared by the test modules."""


def make_estimator(cls, base, **params):
    """``cls`` with the options of ``base`` that it has, overridden by ``params``.

    Lets one fast configuration (e.g. ``ensemble_size=1``) serve estimators that
    lack some of its parameters.
    """
    known = cls().get_params()
    return cls(**{**{k: v for k, v in base.items() if k in known}, **params})


def record_batch_sizes(monkeypatch, owner, method):
    """Patch ``owner.method`` to record ``len`` of every block it returns; return the list."""
    sizes = []
    original = getattr(owner, method)

    def recording(self, *args, **kwargs):
        block = original(self, *args, **kwargs)
        sizes.append(len(block))
        return block

    monkeypatch.setattr(owner, method, recording)
    return sizes


def rewrite_sknn_file(path, edit, checksum="recompute"):
    """Apply ``edit`` to the JSON document of an sknn model or checkpoint file (tampering).

    ``checksum``: 'recompute' (as a deliberate re-save would), 'keep' the old
    one (an edit the checksum catches) or 'drop' it (as older sknn wrote files).
    """
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    from sknn._io._persistence import CHECKSUM_KEY, _digest

    with safe_open(path, framework="pt") as file:
        metadata = file.metadata()
        tensors = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118
    document = json.loads(metadata["sknn"])
    edit(document)
    metadata = {**metadata, "sknn": json.dumps(document)}
    if checksum == "recompute":
        metadata[CHECKSUM_KEY] = _digest(metadata, tensors)
    elif checksum == "drop":
        del metadata[CHECKSUM_KEY]
    save_file(tensors, path, metadata=metadata)


def refusal_pattern(file_name: str, refused: str) -> str:
    """The pattern of sknn.load's refusal of a file ``file_name`` that asks for ``refused``."""
    import re

    return (rf"sknn.load: .*{re.escape(file_name)} asks for {re.escape(refused)}, "
            r"which sknn does not build from a file; refusing to load it\.")


def restored_epoch(estimator) -> int:
    """Index of the epoch early stopping restored: the lowest validation loss."""
    losses = [row["valid_loss"] for row in estimator.net_.history]
    return losses.index(min(losses))
