"""Every script in examples/ and the README's main job run to completion."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def _run(args):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SKNN_EXAMPLE_FAST": "1"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, timeout=600,
                          capture_output=True, text=True)


SHARED = ROOT.parent / "shared" / "data"


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(script):
    if "shared" in script.read_text() and not SHARED.is_dir():
        pytest.skip("example reads ../shared/data, which this clone does not have")
    result = _run([str(script)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), f"{script.name} printed nothing"


def test_main_job_prints_scores():
    result = _run(["-m", "sknn"])
    assert result.returncode == 0, result.stderr
    assert "sknn.MLPClassifier" in result.stdout
    sknn_row = next(line for line in result.stdout.splitlines()
                    if line.startswith("sknn.MLPClassifier"))
    accuracy = float(sknn_row.split()[1])
    assert accuracy > 0.9
