"""Shared pytest fixtures."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# tests never reach the network, and stay on one thread per process (2-core CI machines)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# `datasets` caches a local dataset folder under a key that can outlive the folder's contents (same
# path, new files): each test session gets its own cache so a republished folder is read afresh
os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="selfexec-tests-hf-datasets-"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The bundled problem sets in ../shared/data (the repository sits next to `shared/`)."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"../shared/data not found: {path} (CI must provide the bundled data)")
        pytest.skip(f"../shared/data not found: {path}")
    return path
