"""The builder on the real MOSI subset: counts, split check, coverage, leak columns unread."""

from __future__ import annotations

import csv
import os
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file

from pgfnet.cli import main
from pgfnet.data.format import MosiData
from pgfnet.data.mosi import MAX_VISUAL_FRAMES, build_mosi

pytestmark = pytest.mark.real_data


def test_real_counts_and_splits(real_built):
    data = MosiData.load(real_built)

    assert len(data) == 2199
    assert [len(data.split_indices(s)) for s in ("train", "valid", "test")] == [1284, 229, 686]
    assert [data.card["splits"][s]["videos"] for s in ("train", "valid", "test")] == [52, 10, 31]
    for split in ("train", "valid", "test"):
        assert data.card["split_check"][split].startswith("matches")


def test_real_visual_coverage(real_built):
    data = MosiData.load(real_built)
    source = data.card["visual_source"]
    with_frames = [data.card["coverage"][s]["visual_utterances_with_frames"]
                   for s in ("train", "valid", "test")]

    assert [source[s]["utterances_in_openface_videos"] for s in ("train", "valid", "test")] == [447, 60, 337]
    assert sum(source[s]["videos_with_openface"] for s in source) == 36
    # BioHAh1qJAQ_3 lies in a 7.7 s stretch where OpenFace lost the face, and
    # d6hH302o4v8_42/43 start after the video's last frame.
    assert with_frames == [446, 60, 335]
    assert data.card["visual_missing_in_openface_videos"] == [
        "BioHAh1qJAQ_3", "d6hH302o4v8_42", "d6hH302o4v8_43"]


def test_real_records(real_built):
    data = MosiData.load(real_built)
    first = data.utterances[data.index_of("03bSnISJMiM_1")]
    fallback = [u.id for u in data.utterances if u.text_source == "transcripts"]

    assert first.text == "anyhow it was really good"
    assert first.label == pytest.approx(2.4)
    assert sorted(fallback) == ["2WGyTLYerpo_44", "5W7Z1C_fDaE_24", "BioHAh1qJAQ_30",
                                "lXPQBPVc5Cw_30"]
    assert all(-3.0 <= u.label <= 3.0 for u in data.utterances)
    f0 = np.array([data.acoustic(i, normalized=False)[0, 0] for i in range(len(data))])
    assert f0.min() > 50.0
    assert f0.max() < 500.0


def test_real_visual_frames(real_built):
    data = MosiData.load(real_built)
    partial = data.index_of("d6hH302o4v8_41")
    _, times = data.visual(partial)

    assert 0 < len(times) <= 12
    assert times[-1] <= 1.2
    for i, utterance in enumerate(data.utterances):
        frames, times = data.visual(i)
        assert frames.shape == (utterance.n_frames, 22)
        assert utterance.n_frames <= MAX_VISUAL_FRAMES
        if len(times):
            assert times[0] >= 0.0
            assert times[-1] <= utterance.end - utterance.start + 1e-4
            assert np.all(np.diff(times) > 0)


def test_real_media(real_built):
    data = MosiData.load(real_built)
    clip = data.utterances[data.index_of("Oz06ZWiO20M_6")].media
    audio = data.utterances[data.index_of("03bSnISJMiM_1")].media
    full = [u for u in data.utterances if u.media and u.media.kind == "full_video"]

    assert clip.kind == "clip"
    assert clip.path.endswith("Oz06ZWiO20M_6.mp4")
    assert audio.kind == "audio"
    assert len({u.video_id for u in full}) == 6
    assert all(u.media.start == u.start and u.media.end == u.end for u in full)
    assert all(os.path.isabs(u.media.path) for u in full)


def test_card_command_prints(real_built, capsys):
    assert main(["data", "card", str(real_built)]) == 0
    printed = capsys.readouterr().out

    assert "train    1284" in printed
    assert "utterances_in_openface_videos" in printed
    assert "F0 (Hz)" in printed


def test_build_command_source_flag(mosi_source, tmp_path, capsys):
    out = tmp_path / "cli.pgfdata"
    assert main(["data", "build", "--source", str(mosi_source), "--out", str(out)]) == 0

    assert "built 2199 utterances" in capsys.readouterr().out
    assert MosiData.load(out).card["utterances"] == 2199


def _poisoned_copy(source, target):
    """Link the real source into ``target``, with text-CNN columns and a 3D-CNN file poisoned."""
    target.mkdir()
    for entry in source.iterdir():
        if entry.name != "bc_lstm_utterance_features":
            (target / entry.name).symlink_to(entry)
    features = target / "bc_lstm_utterance_features"
    shutil.copytree(source / "bc_lstm_utterance_features", features)
    for part in ("train", "test"):
        path = features / f"text_{part}.csv"
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
        with open(path, "w", newline="") as handle:
            csv.writer(handle).writerows([row[:1] + ["nan", "oops", "1e999"] * 40 for row in rows])
    # A stand-in for the bc-LSTM 3D-CNN visual vectors, made unparseable.
    (features / "visual").mkdir()
    for part in ("train", "test"):
        (features / "visual" / f"visual_{part}.csv").write_text("poison,not,a,number\n")
    return target


def test_leaky_columns_never_read(mosi_source, real_built, tmp_path):
    poisoned = _poisoned_copy(mosi_source, tmp_path / "poisoned")
    rebuilt = build_mosi(poisoned, tmp_path / "poisoned.pgfdata")
    original = MosiData.load(real_built)

    assert rebuilt.utterances == original.utterances
    before, after = load_file(str(real_built)), load_file(str(rebuilt.path))
    assert before.keys() == after.keys()
    for name in before:
        np.testing.assert_array_equal(before[name], after[name], err_msg=name)
    assert not any("/visual/" in path for path in rebuilt.sources)
