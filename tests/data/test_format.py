"""Loading built files: clear errors for missing, corrupt and unsupported files; lookups."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from pgfnet.data.format import DatasetFormatError, MosiData


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        MosiData.load(tmp_path / "absent.pgfdata")

    assert "absent.pgfdata" in str(caught.value)
    assert "pgfnet data build" in str(caught.value)


def test_load_corrupt_file(tmp_path):
    path = tmp_path / "corrupt.pgfdata"
    path.write_bytes(b"\x80\x04not a dataset at all")
    with pytest.raises(DatasetFormatError) as caught:
        MosiData.load(path)

    assert "corrupt.pgfdata" in str(caught.value)
    assert "pgfnet data build" in str(caught.value)


def test_load_truncated_file(tiny_built, tmp_path):
    path = tmp_path / "truncated.pgfdata"
    path.write_bytes(tiny_built.read_bytes()[:-100])
    with pytest.raises(DatasetFormatError):
        MosiData.load(path)


def test_load_unsupported_version(tiny_built, tmp_path):
    from safetensors import safe_open

    with safe_open(str(tiny_built), framework="np") as handle:
        manifest = json.loads(handle.metadata()["pgfnet"])
    manifest["format_version"] = 99
    path = tmp_path / "future.pgfdata"
    save_file(load_file(str(tiny_built)), str(path), metadata={"pgfnet": json.dumps(manifest)})
    with pytest.raises(DatasetFormatError) as caught:
        MosiData.load(path)

    assert "version 99" in str(caught.value)
    assert "pgfnet data build" in str(caught.value)


def test_load_safetensors_without_manifest(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"x": np.zeros(3, np.float32)}, str(path))
    with pytest.raises(DatasetFormatError):
        MosiData.load(path)


def test_index_of_unknown_id(tiny_built):
    data = MosiData.load(tiny_built)
    with pytest.raises(KeyError) as caught:
        data.index_of("vidZ_9")

    assert "vidZ_9" in str(caught.value)


def test_index_of_malformed_id(tiny_built):
    data = MosiData.load(tiny_built)
    with pytest.raises(ValueError):
        data.index_of("../etc/passwd")


def test_split_indices_unknown_split(tiny_built):
    data = MosiData.load(tiny_built)
    with pytest.raises(ValueError) as caught:
        data.split_indices("dev")

    assert "'dev'" in str(caught.value)
    assert "train, valid, test" in str(caught.value)


def test_sha256_changes_with_content(tiny_built, tiny_source, tmp_path):
    from pgfnet.data.mosi import build_mosi

    labels = tiny_source / "labels" / "OpinionLevelSentiment.csv"
    labels.write_text(labels.read_text().replace(",1.2\n", ",1.3\n"))
    rebuilt = build_mosi(tiny_source, tmp_path / "rebuilt.pgfdata")

    assert rebuilt.sha256 != MosiData.load(tiny_built).sha256


def test_index_out_of_range(tiny_built):
    data = MosiData.load(tiny_built)
    with pytest.raises(IndexError):
        data.acoustic(6)
    with pytest.raises(IndexError):
        data.visual(-1)
