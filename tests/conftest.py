"""Fixtures shared by every test folder.

Area-specific fixtures (a tiny backbone, a small built dataset, a running server) live
in the ``conftest.py`` of each test folder.
"""

from __future__ import annotations

import os
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
