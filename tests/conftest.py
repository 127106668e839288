"""Shared test configuration."""

import os

import pytest
import torch

# Under pytest-xdist each worker gets one torch thread: two workers with two
# spinning OpenMP threads each on a 2-core machine run many times slower.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


@pytest.fixture
def shared_data():
    """Path of ../shared/data, or skip when this clone has none beside it."""
    if not os.path.isdir(SHARED_DATA):
        pytest.skip("needs the real datasets in ../shared/data (not in a user's clone)")
    return os.path.abspath(SHARED_DATA)
