"""Shared fixtures: the real assets in ../shared, skipped clearly if absent."""

import os
from pathlib import Path

import pytest

import kerasft  # noqa: F401  (selects the TF backend before keras loads)

SHARED_DIR = Path(
    os.environ.get(
        "KERASFT_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared"
    )
).resolve()


def shared_path(*parts):
    """Returns ../shared/<parts>, or skips the test saying what is missing."""
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"needs {path} (the project's ../shared assets; set "
            "KERASFT_SHARED to their folder)"
        )
    return path


@pytest.fixture
def mnist_dir():
    return shared_path("data", "mnist")


@pytest.fixture
def rt_polarity_dir():
    return shared_path("data", "rt-polarity")


@pytest.fixture
def minilm_dir():
    return shared_path("models", "minilm-l6-h384-uncased")
