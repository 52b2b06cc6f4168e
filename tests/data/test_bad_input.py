"""Bad source input: each error names the file and row or id, and no partial file is left."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from pgfnet.data.format import MosiData
from pgfnet.data.mosi import SourceError, build_mosi
from pgfnet.io import sha256_file


def _rewrite_csv(path: Path, edit) -> None:
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    rows = edit(rows)
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)


def _build_error(source: Path, tmp_path: Path) -> str:
    with pytest.raises(SourceError) as caught:
        build_mosi(source, tmp_path / "out.pgfdata")
    assert not (tmp_path / "out.pgfdata").exists()
    return str(caught.value)


def test_missing_source_folder(tmp_path):
    with pytest.raises(SourceError) as caught:
        build_mosi(tmp_path / "nowhere", tmp_path / "out.pgfdata")

    assert "nowhere" in str(caught.value)
    assert "PGFNET_MOSI_SOURCE" in str(caught.value)


def test_missing_file(tiny_source, tmp_path):
    (tiny_source / "bc_lstm_utterance_features" / "transcripts.csv").unlink()
    message = _build_error(tiny_source, tmp_path)

    assert "transcripts.csv" in message
    assert "missing source file" in message


def test_wrong_column_count(tiny_source, tmp_path):
    audio = tiny_source / "bc_lstm_utterance_features" / "audio" / "audio_train0.csv"
    _rewrite_csv(audio, lambda rows: [rows[0][:-2]] + rows[1:])
    message = _build_error(tiny_source, tmp_path)

    assert "audio_train0.csv, line 1" in message
    assert "72 columns, expected 74" in message


def test_duplicate_id(tiny_source, tmp_path):
    labels = tiny_source / "labels" / "OpinionLevelSentiment.csv"
    _rewrite_csv(labels, lambda rows: rows + [rows[0]])
    message = _build_error(tiny_source, tmp_path)

    assert "OpinionLevelSentiment.csv, line 7" in message
    assert "duplicate utterance id 'vidA_1'" in message


def test_unknown_id_in_split_file(tiny_source, tmp_path):
    mmsa = tiny_source / "labels" / "mmsa_label.csv"
    _rewrite_csv(mmsa, lambda rows: rows + [["ghost_1", "boo", "0.0", "train"]])
    message = _build_error(tiny_source, tmp_path)

    assert "mmsa_label.csv, line 7" in message
    assert "'ghost_1' is not in the label file" in message


def test_unknown_split_name(tiny_source, tmp_path):
    mmsa = tiny_source / "labels" / "mmsa_label.csv"
    _rewrite_csv(mmsa, lambda rows: [rows[0], rows[1][:3] + ["holdout"]] + rows[2:])
    message = _build_error(tiny_source, tmp_path)

    assert "mmsa_label.csv, line 2" in message
    assert "unknown split 'holdout'" in message
    assert "vidA_1" in message


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_nonfinite_acoustic_value(tiny_source, tmp_path, bad):
    audio = tiny_source / "bc_lstm_utterance_features" / "audio" / "audio_test0.csv"
    _rewrite_csv(audio, lambda rows: [rows[0], rows[1][:5] + [bad] + rows[1][6:]] + rows[2:])
    message = _build_error(tiny_source, tmp_path)

    assert "audio_test0.csv, line 2" in message
    assert "column 5" in message
    assert "only finite values" in message


def test_nonfinite_label(tiny_source, tmp_path):
    labels = tiny_source / "labels" / "OpinionLevelSentiment.csv"
    _rewrite_csv(labels, lambda rows: [rows[0][:4] + ["nan"]] + rows[1:])
    message = _build_error(tiny_source, tmp_path)

    assert "OpinionLevelSentiment.csv, line 1" in message


def test_openface_column_length_disagrees(tiny_source, tmp_path):
    path = tiny_source / "openface" / "vidA.json"
    document = json.loads(path.read_text())
    document["pose"]["pose_Rz"] = document["pose"]["pose_Rz"][:-3]
    path.write_text(json.dumps(document))
    message = _build_error(tiny_source, tmp_path)

    assert "vidA.json" in message
    assert "pose_Rz" in message


def test_openface_nan_frame(tiny_source, tmp_path):
    path = tiny_source / "openface" / "vidA.json"
    text = path.read_text()
    document = json.loads(text)
    document["aus"]["AU01_r"][7] = float("nan")
    path.write_text(json.dumps(document))
    message = _build_error(tiny_source, tmp_path)

    assert "vidA.json: frame 7" in message


def test_acoustic_row_count_mismatch(tiny_source, tmp_path):
    audio = tiny_source / "bc_lstm_utterance_features" / "audio" / "audio_train0.csv"
    _rewrite_csv(audio, lambda rows: rows[:-1])
    message = _build_error(tiny_source, tmp_path)

    assert "audio_train0.csv has 2 rows" in message
    assert "text_train.csv has 3" in message


def test_failed_build_keeps_old_file(tiny_source, tmp_path):
    out = tmp_path / "keep" / "mosi.pgfdata"
    build_mosi(tiny_source, out)
    before = sha256_file(out)
    (tiny_source / "labels" / "mmsa_label.csv").unlink()

    with pytest.raises(SourceError):
        build_mosi(tiny_source, out)

    assert sha256_file(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["mosi.pgfdata"]
    assert len(MosiData.load(out)) == 6


def test_failed_write_leaves_no_file(tiny_source, tmp_path, monkeypatch):
    import safetensors.numpy

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.numpy, "save_file", fail)
    out = tmp_path / "fresh" / "mosi.pgfdata"
    with pytest.raises(OSError):
        build_mosi(tiny_source, out)

    assert list(out.parent.iterdir()) == []
