"""Atomic writes: a failed or interrupted write keeps the previous good file."""

from __future__ import annotations

import pytest

from pgfnet.io import atomic_path, atomic_write_bytes, sha256_file


def test_atomic_write_replaces(tmp_path):
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_failed_write_keeps_old_file(tmp_path):
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"good")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("build failed")
    assert target.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_full_disk_keeps_old_file(small_filesystem):
    target = small_filesystem / "checkpoint.safetensors"
    atomic_write_bytes(target, b"good" * 1000)
    digest = sha256_file(target)

    with pytest.raises(OSError) as info:
        atomic_write_bytes(target, b"x" * (1024 * 1024))

    assert info.value.errno == 28  # ENOSPC
    assert sha256_file(target) == digest
    assert [p.name for p in small_filesystem.iterdir()] == ["checkpoint.safetensors"]
