"""The Sphinx documentation builds without a warning and covers the public API."""

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PUBLIC_MODULES = ["sknn", "sknn.inspection", "sknn.modules", "sknn.stream"]


def test_sphinx_build_is_warning_free(tmp_path):
    for package in ("sphinx", "numpydoc", "sphinx_gallery"):
        pytest.importorskip(package, reason=f"the docs build needs {package} "
                            '(pip install -e ".[docs]")')
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    for page in ("index", "user_guide", "command_line", "auto_examples/index",
                 "generated/sknn.inspection.TrainingCurveDisplay"):
        assert (tmp_path / "html" / f"{page}.html").is_file(), page


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_has_an_api_page(module_name):
    api = (DOCS / "api.rst").read_text()
    sections = re.split(r"^\.\. currentmodule:: ", api, flags=re.MULTILINE)[1:]
    listed = {section.split()[0]: set(re.findall(r"^   (\w+)$", section, re.MULTILINE))
              for section in sections}
    public = set(importlib.import_module(module_name).__all__) - {"__version__"}
    missing = public - listed.get(module_name, set())
    assert not missing, f"docs/api.rst lacks {module_name}: {sorted(missing)}"


def test_ci_runs_ruff_then_the_readme_test_command():
    root = DOCS.parent
    readme_setup, tests = (root / "README.md").read_text().splitlines()[4].rsplit(" && ", 1)
    lines = [line for line in (root / ".ci" / "run").read_text().splitlines()
             if line and not line.startswith("#")]
    assert tests == "python -m pytest -n 2"
    assert lines[-3:] == [readme_setup, "ruff check .", tests]
    assert "set -euo pipefail" in lines  # a ruff finding stops CI before the tests
    assert (root / "CONTRIBUTING.md").read_text().count(readme_setup) == 1
