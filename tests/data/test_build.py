"""The MOSI builder on the tiny fixture source: records, resampling, statistics, card."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors import safe_open

from pgfnet.data.format import FORMAT_VERSION, MosiData
from pgfnet.data.mosi import MAX_GAP_S, MAX_VISUAL_FRAMES, VISUAL_FPS, build_mosi, resample_frames
from pgfnet.io import sha256_file


def test_tiny_build_records(tiny_built):
    data = MosiData.load(tiny_built)

    assert len(data) == 6
    assert [len(data.split_indices(s)) for s in ("train", "valid", "test")] == [2, 2, 2]
    first = data.utterances[data.index_of("vidA_1")]
    assert (first.video_id, first.segment, first.start, first.end) == ("vidA", 1, 0.5, 2.5)
    assert first.label == pytest.approx(1.2)
    assert first.text == "text of vidA 1"
    assert first.text_source == "mmsa_label"
    assert data.utterances[data.index_of("vidB_1")].split == "valid"


def test_missing_mmsa_text_uses_transcript(tiny_built):
    data = MosiData.load(tiny_built)
    utterance = data.utterances[data.index_of("vidC_2")]

    assert utterance.text == "transcript of vidc_2"
    assert utterance.text_source == "transcripts"
    assert data.card["text_sources"] == {"mmsa_label": 5, "transcripts": 1}


def test_acoustic_row_mapping(tiny_built):
    data = MosiData.load(tiny_built)

    # write_tiny_source sets column 0 (F0) to 100 + 10 * the row in transcripts.csv.
    for row, utterance_id in enumerate(["vidA_1", "vidA_2", "vidB_1", "vidB_2", "vidC_1", "vidC_2"]):
        raw = data.acoustic(data.index_of(utterance_id), normalized=False)
        assert raw.shape == (1, 73)
        assert raw.dtype == np.float32
        assert raw[0, 0] == pytest.approx(100.0 + 10 * row)


def test_stats_use_train_split_only(tiny_built):
    data = MosiData.load(tiny_built)
    train = np.concatenate([data.acoustic(i, normalized=False) for i in data.split_indices("train")])

    np.testing.assert_allclose(data.stats["acoustic"]["mean"], train.mean(0), rtol=1e-5)
    np.testing.assert_allclose(data.stats["acoustic"]["std"], train.std(0), rtol=1e-4)
    normalized = np.concatenate([data.acoustic(i) for i in data.split_indices("train")])
    np.testing.assert_allclose(normalized.mean(0), 0.0, atol=1e-5)
    frames = np.concatenate([data.visual(i, normalized=False)[0] for i in data.split_indices("train")])
    np.testing.assert_allclose(data.stats["visual"]["mean"], frames.mean(0), rtol=1e-4)


def test_visual_missing_state(tiny_built):
    data = MosiData.load(tiny_built)
    index = data.index_of("vidB_1")
    frames, times = data.visual(index)

    assert data.utterances[index].n_frames == 0
    assert frames.shape == (0, 22)
    assert times.shape == (0,)
    assert data.example(index).visual.shape == (0, 22)


def test_visual_resampled_and_capped(tiny_built):
    data = MosiData.load(tiny_built)
    short = data.utterances[data.index_of("vidA_1")]
    long_index = data.index_of("vidA_2")
    frames, times = data.visual(long_index)

    assert short.n_frames == 20
    assert frames.shape == (MAX_VISUAL_FRAMES, 22)
    assert np.all(np.diff(times) > 0)
    assert times[0] >= 0.0
    assert times[-1] <= 19.9 - 2.5
    # No stored frame sits inside the 5-9 s tracking gap (utterance starts at 2.5 s).
    absolute = times + 2.5
    assert not np.any((absolute > 5.0 + MAX_GAP_S) & (absolute < 9.0 - MAX_GAP_S))


def test_resample_interpolates_linearly():
    native_times = np.array([0.0, 0.04, 0.08, 0.12, 0.16, 0.20, 0.24])
    values = np.column_stack([native_times * 10, -native_times])
    frames, times = resample_frames(native_times, values, start=0.0, end=0.3)

    np.testing.assert_allclose(times, [0.0, 0.1, 0.2], atol=1e-6)
    np.testing.assert_allclose(frames[:, 0], [0.0, 1.0, 2.0], atol=1e-5)
    np.testing.assert_allclose(frames[:, 1], [0.0, -0.1, -0.2], atol=1e-6)
    assert VISUAL_FPS == 10.0


def test_resample_outside_video_is_empty():
    native_times = np.arange(0, 5, 0.04)
    values = np.ones((len(native_times), 3))
    frames, times = resample_frames(native_times, values, start=6.0, end=7.0)

    assert frames.shape == (0, 3)
    assert times.shape == (0,)


def test_file_carries_version_sources_card(tiny_built, tiny_source):
    data = MosiData.load(tiny_built)
    with safe_open(str(tiny_built), framework="np") as handle:
        manifest = json.loads(handle.metadata()["pgfnet"])

    assert manifest["format_version"] == FORMAT_VERSION == data.format_version
    assert data.sha256 == sha256_file(tiny_built)
    labels = [p for p in data.sources if p.endswith("OpinionLevelSentiment.csv")]
    assert len(labels) == 1
    assert len(data.sources[labels[0]]) == 64
    assert data.card["splits"]["train"]["utterances"] == 2
    assert sum(data.card["label_histogram"]["test"].values()) == 2
    assert data.feature_names["acoustic"][0] == "F0 (Hz)"
    assert len(data.feature_names["visual"]) == 22
    assert data.card["split_check"]["train"].startswith("not checked")


def test_progress_reports_total(tiny_source, tmp_path):
    calls = []
    build_mosi(tiny_source, tmp_path / "out.pgfdata", progress=lambda d, t: calls.append((d, t)))

    assert calls[-1] == (6, 6)
    assert all(total == 6 for _, total in calls)


def test_example_is_replaceable(tiny_built):
    import dataclasses

    data = MosiData.load(tiny_built)
    example = data.example(data.index_of("vidA_1"))
    edited = dataclasses.replace(example, text="new words")

    assert edited.text == "new words"
    assert edited.acoustic is example.acoustic
    assert example.label == pytest.approx(1.2)
    assert example.split == "train"
