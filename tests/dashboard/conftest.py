"""Fixtures for the dashboard tests: a fake-backed app and a real MOSI video."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard import resources
from dashboard.backend import DashboardBackend
from fakes import FakeExplainer, make_fake_dataset, write_checkpoint_files


@pytest.fixture(scope="session")
def source_video(mosi_source: Path) -> Path:
    """A real MOSI source video (real data)."""
    videos = sorted((mosi_source / "media" / "full_videos").glob("*.mp4"))
    if not videos:
        pytest.fail(f"no full videos under {mosi_source}/media/full_videos")
    return videos[0]


@pytest.fixture
def fake_backend(tmp_path, monkeypatch):
    """Install a backend over the fake dataset and explainer for AppTest runs."""
    return install_backend(tmp_path, monkeypatch, video_path=None)


def install_backend(tmp_path: Path, monkeypatch, video_path: Path | None) -> DashboardBackend:
    data, overview = make_fake_dataset(video_path)
    explainer = FakeExplainer(data, overview)
    checkpoint = write_checkpoint_files(tmp_path / "checkpoint")
    backend = DashboardBackend(data, checkpoint, lambda: explainer, cache=None,
                               table_dir=tmp_path / "tables", model_id="fake-model",
                               clip_dir=tmp_path / "clips")
    backend.fake_explainer = explainer
    monkeypatch.setattr(resources, "missing_inputs", lambda config: [])
    monkeypatch.setattr(resources, "backend", lambda: backend)
    return backend


@pytest.fixture
def video_backend(tmp_path, monkeypatch, source_video):
    """A fake-backed app whose "train_1" utterance plays a real MOSI video (real data)."""
    return install_backend(tmp_path, monkeypatch, video_path=source_video)


@pytest.fixture
def truncated_video_backend(tmp_path, monkeypatch, source_video):
    """A fake-backed app whose "train_1" video file is cut off after its first 20 kB."""
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(source_video.read_bytes()[:20_000])
    return install_backend(tmp_path, monkeypatch, video_path=truncated)


@pytest.fixture(scope="session")
def real_dataset(tmp_path_factory, mosi_source) -> Path:
    """The MOSI dataset built from the real source into a session folder (real data)."""
    from pgfnet.data.mosi import build_mosi

    path = tmp_path_factory.mktemp("dashboard-data") / "mosi.pgfdata"
    build_mosi(mosi_source, path)
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny random PGF-Net saved as a checkpoint folder with the trainer's JSON files."""
    from pgfnet.model.tiny import build_tiny_pgfnet

    folder = tmp_path_factory.mktemp("dashboard-checkpoint")
    build_tiny_pgfnet(seed=0).save_pretrained(folder)
    write_checkpoint_files(folder, weights=False)
    return folder


@pytest.fixture
def real_backend(tmp_path, monkeypatch, real_dataset, tiny_checkpoint):
    """The production backend (real engine and cache) over the tiny checkpoint."""
    monkeypatch.setenv("PGFNET_CACHE", str(tmp_path / "cache"))
    # The app checks its inputs at these paths before it opens the backend.
    monkeypatch.setenv("PGFNET_DATASET", str(real_dataset))
    monkeypatch.setenv("PGFNET_CHECKPOINT", str(tiny_checkpoint))
    backend = resources.create_backend(tiny_checkpoint, real_dataset)
    monkeypatch.setattr(resources, "backend", lambda: backend)
    return backend
