"""A full disk while saving a checkpoint or a cache entry keeps the previous good files.

Each test mounts its own 256 KiB tmpfs (root is needed, as on the CI machine), writes a
good file, fills the filesystem to a few KiB of free space with a filler file, then
writes again and expects ENOSPC with the old files still loadable and no temporary
file left behind.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from safetensors import SafetensorError

from pgfnet.model.pgfnet import PGFNet
from pgfnet.model.tiny import build_tiny_pgfnet


def fill(filesystem: Path, leave_bytes: int) -> None:
    """Write a filler file so that about ``leave_bytes`` stay free on ``filesystem``."""
    stats = os.statvfs(filesystem)
    free = stats.f_bavail * stats.f_frsize
    size = max(0, free - leave_bytes)
    with open(filesystem / "filler", "wb") as handle:
        handle.write(b"\0" * size)
    stats = os.statvfs(filesystem)
    assert stats.f_bavail * stats.f_frsize <= leave_bytes + stats.f_frsize


def assert_disk_full(error: BaseException) -> None:
    """Check that ``error`` reports ENOSPC.

    safetensors' ``save_file`` raises its own SafetensorError, not OSError, for a full
    disk, so callers that catch only OSError do not see it.
    """
    if isinstance(error, OSError):
        assert error.errno == errno.ENOSPC, error
    else:
        assert "No space left on device" in str(error), error


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("leave_kib", [4, 24])
def test_checkpoint_save_on_full_disk(small_filesystem, leave_kib):
    # 4 KiB free fails while the adapter is staged, 24 KiB free fails on model.safetensors
    # after the new adapter folder is in place.
    folder = small_filesystem / "checkpoint"
    model = build_tiny_pgfnet(seed=0)
    model.save_pretrained(folder)
    saved = {name: tensor.clone() for name, tensor in model.trainable_state_dict().items()}
    files_before = files_under(folder)
    fill(small_filesystem, leave_kib * 1024)

    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(1.0)
    with pytest.raises((OSError, SafetensorError)) as caught:
        model.save_pretrained(folder)

    assert_disk_full(caught.value)
    loaded = PGFNet.from_pretrained(folder)
    for name, tensor in loaded.trainable_state_dict().items():
        assert torch.equal(tensor, saved[name]), name
    assert files_under(folder) == files_before


def test_training_state_on_full_disk(small_filesystem):
    from pgfnet.training.trainer import TrainingState, build_optimizer, load_state, save_state

    model = build_tiny_pgfnet(seed=0)
    optimizer = build_optimizer(model, model.config)
    path = small_filesystem / "train_state.safetensors"
    save_state(path, model, optimizer, TrainingState(global_step=3), model.config)
    before = path.read_bytes()
    fill(small_filesystem, 4 * 1024)

    with pytest.raises((OSError, SafetensorError)) as caught:
        save_state(path, model, optimizer, TrainingState(global_step=4), model.config)

    assert_disk_full(caught.value)
    assert path.read_bytes() == before
    state = load_state(path, model, build_optimizer(model, model.config), model.config)
    assert state.global_step == 3
    assert files_under(small_filesystem) == ["filler", "train_state.safetensors"]


@pytest.fixture
def explainer(tiny_checkpoint, tiny_dataset):
    from pgfnet.explain.engine import Explainer

    return Explainer.from_checkpoint(tiny_checkpoint, dataset_path=tiny_dataset, n_steps=4)


def assert_same_record(first, second) -> None:
    assert first.to_json_dict() == second.to_json_dict()


def test_cache_put_on_full_disk(small_filesystem, explainer):
    from pgfnet.explain.cache import ExplanationCache

    cache = ExplanationCache(small_filesystem / "cache", explainer.model_id,
                             explainer.dataset_sha256)
    good = explainer.explain("vidA_1")
    cache.put(good)
    fill(small_filesystem, 4 * 1024)

    with pytest.raises(OSError) as caught:
        cache.put(explainer.explain("vidA_2"))

    assert_disk_full(caught.value)
    assert_same_record(cache.get("vidA_1"), good)
    assert cache.get("vidA_2") is None
    assert not [p for p in cache.directory.iterdir() if p.name.endswith(".tmp")]


def test_cache_overwrite_on_full_disk(small_filesystem, explainer):
    # Overwriting an entry on a full disk leaves either the old record or a miss; a
    # mixed entry fails its checksum and is never returned.
    from pgfnet.explain.cache import ExplanationCache

    cache = ExplanationCache(small_filesystem / "cache", explainer.model_id,
                             explainer.dataset_sha256)
    good = explainer.explain("vidA_1")
    cache.put(good)
    changed = explainer.explain("vidA_1")
    changed.prediction = good.prediction + 1.0
    changed.attr_text = np.asarray(changed.attr_text) + 1.0
    fill(small_filesystem, 0)

    with pytest.raises(OSError) as caught:
        cache.put(changed)

    assert_disk_full(caught.value)
    returned = cache.get("vidA_1")
    assert returned is None or returned.to_json_dict() == good.to_json_dict()
