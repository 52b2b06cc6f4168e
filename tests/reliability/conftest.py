"""Fixtures for the reliability tests: a tiny checkpoint, a small dataset, a real backend.

The dataset is the synthetic corpus of ``reliability_corpus.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_corpus import ACOUSTIC_DIM, VISUAL_DIM, build_contents

from pgfnet.data.format import write_dataset


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """The eight-utterance dataset file (do not modify)."""
    folder = tmp_path_factory.mktemp("reliability-data")
    path = folder / "tiny.pgfdata"
    write_dataset(build_contents(folder), path)
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny random PGF-Net with the corpus feature widths, saved to a folder."""
    from pgfnet.model.tiny import build_tiny_pgfnet

    folder = tmp_path_factory.mktemp("reliability-checkpoint")
    build_tiny_pgfnet(seed=0, acoustic_dim=ACOUSTIC_DIM, visual_dim=VISUAL_DIM,
                      max_text_length=32).save_pretrained(folder)
    return folder


@pytest.fixture
def live_backend(tmp_path, monkeypatch, tiny_dataset, tiny_checkpoint):
    """The production backend (real explainer, real cache) installed for AppTest runs."""
    from dashboard import resources

    monkeypatch.setenv("PGFNET_CACHE", str(tmp_path / "cache"))
    backend = resources.create_backend(tiny_checkpoint, tiny_dataset)
    monkeypatch.setattr(resources, "missing_inputs", lambda config: [])
    monkeypatch.setattr(resources, "backend", lambda: backend)
    return backend
