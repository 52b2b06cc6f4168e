"""The explanation cache: checksums, namespacing, resumable precompute."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from explain_corpus import NO_FRAMES_ID, PLAIN_ID

from pgfnet.explain.cache import ExplanationCache, checkpoint_id

TEST_IDS = ["vidA_1", "vidA_2", "vidB_1", "vidB_2", "vidB_3"]


@pytest.fixture()
def cache(tmp_path, explainer) -> ExplanationCache:
    return ExplanationCache(tmp_path / "cache", explainer.model_id, explainer.dataset_sha256)


@pytest.fixture(scope="module")
def plain_record(explainer):
    return explainer.explain(PLAIN_ID)


def test_put_get_round_trip(cache, plain_record):
    assert cache.get(PLAIN_ID) is None
    cache.put(plain_record)
    loaded = cache.get(PLAIN_ID)
    assert loaded is not None
    np.testing.assert_array_equal(loaded.attention, plain_record.attention)
    assert loaded.shapley == plain_record.shapley
    assert cache.ids() == [PLAIN_ID]
    assert PLAIN_ID in cache


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_corrupt_entry_treated_as_missing(cache, plain_record, suffix, caplog):
    cache.put(plain_record)
    path = cache.directory / f"{PLAIN_ID}{suffix}"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="pgfnet.explain.cache"):
        assert cache.get(PLAIN_ID) is None
    assert "sha256" in caplog.text


def test_entry_without_checksum_is_missing(cache, plain_record):
    cache.put(plain_record)
    (cache.directory / f"{PLAIN_ID}.sha256").unlink()
    assert cache.get(PLAIN_ID) is None


def test_namespaced_by_model_and_dataset(tmp_path, explainer, plain_record):
    first = ExplanationCache(tmp_path, explainer.model_id, explainer.dataset_sha256)
    first.put(plain_record)
    other_model = ExplanationCache(tmp_path, "f" * 64, explainer.dataset_sha256)
    other_data = ExplanationCache(tmp_path, explainer.model_id, "e" * 64)
    assert other_model.directory != first.directory
    assert other_data.directory != first.directory
    assert other_model.get(PLAIN_ID) is None
    assert other_data.get(PLAIN_ID) is None


def test_manifest_prefix_collision_rejected(tmp_path, explainer):
    ExplanationCache(tmp_path, explainer.model_id, explainer.dataset_sha256)
    colliding = explainer.model_id[:16] + "0" * 48
    with pytest.raises(ValueError, match="belongs to model"):
        ExplanationCache(tmp_path, colliding, explainer.dataset_sha256)


def test_put_rejects_other_model(tmp_path, explainer, plain_record):
    cache = ExplanationCache(tmp_path, "f" * 64, explainer.dataset_sha256)
    with pytest.raises(ValueError, match="computed by model"):
        cache.put(plain_record)


@pytest.mark.parametrize("bad_id", ["../x", "a/b", ""])
def test_bad_ids_rejected(cache, bad_id):
    with pytest.raises(ValueError, match="invalid utterance id"):
        cache.get(bad_id)


def test_precompute_resumes(cache, explainer):
    calls = []
    first = cache.precompute(explainer, TEST_IDS[:2])
    assert first.computed == TEST_IDS[:2]

    # A killed run leaves an entry without its checksum file; a damaged disk one with
    # a bad checksum. Both are computed again, the rest is skipped.
    (cache.directory / f"{TEST_IDS[0]}.sha256").unlink()
    (cache.directory / f"{TEST_IDS[1]}.npz").write_bytes(b"garbage")
    summary = cache.precompute(explainer, TEST_IDS, progress=lambda d, t: calls.append((d, t)))
    assert summary.computed == TEST_IDS
    assert summary.failed == {}
    assert calls[-1] == (5, 5)

    again = cache.precompute(explainer, TEST_IDS)
    assert again.skipped == TEST_IDS
    assert again.computed == []
    for utterance_id in TEST_IDS:
        assert cache.get(utterance_id) is not None


def test_precompute_reports_unknown_id(cache, explainer):
    summary = cache.precompute(explainer, [NO_FRAMES_ID, "nosuchvideo_1"])
    assert summary.computed == [NO_FRAMES_ID]
    assert "nosuchvideo_1" in summary.failed


def test_precompute_rejects_other_explainer(tmp_path, explainer):
    cache = ExplanationCache(tmp_path, "f" * 64, explainer.dataset_sha256)
    with pytest.raises(ValueError, match="does not match this cache"):
        cache.precompute(explainer, [PLAIN_ID])


def test_overview_in_cache(cache, explainer, tmp_path):
    assert cache.load_overview("test") is None
    table = explainer.predict_overview("test")
    path = cache.save_overview(table)
    assert path.name == "overview-test.json"
    assert cache.load_overview("test").ids == table.ids
    content = json.loads(path.read_text())
    content["labels"][0] = 9.0
    path.write_text(json.dumps(content))
    assert cache.load_overview("test") is None


def test_checkpoint_id_changes_with_weights(tmp_path, tiny_model):
    tiny_model.save_pretrained(tmp_path / "ckpt")
    first = checkpoint_id(tmp_path / "ckpt")
    assert len(first) == 64
    assert checkpoint_id(tmp_path / "ckpt") == first
    config = tmp_path / "ckpt" / "config.json"
    config.write_text(config.read_text() + " ")
    assert checkpoint_id(tmp_path / "ckpt") != first


def test_checkpoint_id_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        checkpoint_id(tmp_path)
