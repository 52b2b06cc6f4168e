"""Fixtures shared by every test folder.

Area-specific fixtures (a tiny backbone, a small built dataset, a running server) live
in the ``conftest.py`` of each test folder.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
import torch

from pgfnet.paths import default_source

# Two cores are shared by the test process and any server it starts.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def mosi_source() -> Path:
    """The raw MOSI folder (``PGFNET_MOSI_SOURCE`` or ``../shared/data/mosi``)."""
    source = default_source()
    if source is None or not source.is_dir():
        pytest.fail(
            "the MOSI source folder was not found: set PGFNET_MOSI_SOURCE to it "
            "or place it at ../shared/data/mosi"
        )
    return source


@pytest.fixture
def small_filesystem(tmp_path):
    """A 256 KiB tmpfs mounted for one test (needs root, as on the CI machine)."""
    mount_point = tmp_path / f"small-{uuid.uuid4().hex[:8]}"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, f"mounting a tmpfs failed (run the tests as root): {result.stderr}"
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)
