"""Sphinx configuration for sknn's documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html`` (``pip install
-e ".[docs]"``). The build is offline: set ``SKNN_DOCS_INTERSPHINX=1`` to link
to the Python, scikit-learn and PyTorch documentation (needs the internet).
The examples gallery is generated from ``examples/`` without running them
(``tests/test_examples.py`` runs them).
"""

import os
import re
from pathlib import Path

import sknn

ROOT = Path(__file__).resolve().parents[1]

project = "sknn"
author = "sknn developers"
copyright = "sknn developers"
release = version = sknn.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
numpydoc_show_class_members = False
exclude_patterns = ["_build", "**/sg_execution_times.rst"]
html_theme = "alabaster"
templates_path = ["_templates"]

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"^$",  # show the code, never run it during the build
    "plot_gallery": "False",
    "download_all_examples": False,
    "write_computation_times": False,
}

if os.environ.get("SKNN_DOCS_INTERSPHINX"):
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "torch": ("https://pytorch.org/docs/stable", None),
    }

# Docstrings inherited from scikit-learn (score, get_params, ...) cite labels of
# scikit-learn's own documentation: keep their text, drop the link.
_REF_WITH_TEXT = re.compile(r":ref:`([^`<]+?)\s*<[^`>]+>`")
_REF = re.compile(r":ref:`([^`]+)`")
# numpydoc shapes such as ``(n_features_in_,)`` would read as link targets.
_ATTRIBUTE_IN_SHAPE = re.compile(r"\((\w+_),\)")


def _clean_docstring(app, what, name, obj, options, lines):
    from_sknn = name.startswith("sknn.") and getattr(obj, "__module__", "sknn").startswith(
        "sknn")
    for i, line in enumerate(lines):
        if not from_sknn:
            line = _REF.sub(r"\1", _REF_WITH_TEXT.sub(r"\1", line))
        lines[i] = _ATTRIBUTE_IN_SHAPE.sub(r"(``\1``,)", line)


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn's generated metadata-routing setters (set_fit_request, ...).
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return None


def setup(app):
    app.connect("autodoc-process-docstring", _clean_docstring, priority=400)
    app.connect("autodoc-skip-member", _skip_member)
