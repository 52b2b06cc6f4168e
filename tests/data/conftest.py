"""Fixtures for the data-layer tests: a tiny MOSI-shaped source and the real build."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from pgfnet.data.mosi import OPENFACE_GROUPS, build_mosi

# (video, segment, start, end, label, split); vidC_2 is left out of mmsa_label.csv so
# its transcript must come from transcripts.csv.
TINY_ROWS = [
    ("vidA", 1, 0.5, 2.5, 1.2, "train"),
    ("vidA", 2, 2.5, 19.9, -0.4, "train"),
    ("vidB", 1, 1.0, 3.0, 2.0, "dev"),
    ("vidB", 2, 3.0, 4.0, -2.2, "dev"),
    ("vidC", 1, 0.0, 1.5, 0.6, "test"),
    ("vidC", 2, 1.5, 2.0, -3.0, "test"),
]
TINY_TRAIN_PART = ["vidA_1", "vidB_2", "vidC_1"]


def write_tiny_source(root: Path) -> Path:
    """Write a six-utterance MOSI-shaped folder under ``root`` and return it.

    vidA (train) has OpenFace frames at 25 fps over 0-20 s with a gap from 5 to 9 s;
    vidB and vidC have none. The text-CNN columns of ``text_*.csv`` hold garbage.
    """
    rng = np.random.default_rng(0)
    (root / "labels").mkdir(parents=True)
    (root / "bc_lstm_utterance_features" / "audio").mkdir(parents=True)
    (root / "openface").mkdir()

    with open(root / "labels" / "OpinionLevelSentiment.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        for video, segment, start, end, label, _ in TINY_ROWS:
            writer.writerow([start, end, video, segment, label])
    with open(root / "labels" / "mmsa_label.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "label", "mode"])
        for video, segment, _, _, label, split in TINY_ROWS:
            if f"{video}_{segment}" != "vidC_2":
                writer.writerow([f"{video}_{segment}", f"text of {video} {segment}", label, split])
    ids = [f"{v}_{s}" for v, s, *_ in TINY_ROWS]
    with open(root / "bc_lstm_utterance_features" / "transcripts.csv", "w", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        for utterance_id in ids:
            writer.writerow([utterance_id, f"TRANSCRIPT OF {utterance_id.upper()}", 1, 0])
    for part in ("train", "test"):
        members = [u for u in ids if (u in TINY_TRAIN_PART) == (part == "train")]
        with open(root / "bc_lstm_utterance_features" / f"text_{part}.csv", "w", newline="") as t, \
                open(root / "bc_lstm_utterance_features" / "audio" / f"audio_{part}0.csv", "w",
                     newline="") as a:
            text_writer = csv.writer(t, quoting=csv.QUOTE_ALL)
            audio_writer = csv.writer(a, quoting=csv.QUOTE_ALL)
            for utterance_id in members:
                text_writer.writerow([ids.index(utterance_id)] + ["nan"] * 100)
                vector = rng.normal(size=73)
                vector[0] = 100.0 + 10 * ids.index(utterance_id)
                audio_writer.writerow([f"{v:.6f}" for v in vector] + [1])

    times = np.round(np.arange(0, 20, 0.04), 2)
    times = times[(times < 5.0) | (times > 9.0)]
    document = {"time": times.tolist(), "duration": 20.0}
    for group, names in OPENFACE_GROUPS.items():
        document[group] = {name: (np.sin(times + k) + 1).round(3).tolist()
                           for k, name in enumerate(names)}
    (root / "openface" / "vidA.json").write_text(json.dumps(document))
    return root


@pytest.fixture
def tiny_source(tmp_path: Path) -> Path:
    """A fresh six-utterance MOSI-shaped folder the test may modify."""
    return write_tiny_source(tmp_path / "mosi_tiny")


@pytest.fixture(scope="session")
def tiny_built(tmp_path_factory) -> Path:
    """The tiny source built once per session (do not modify)."""
    root = tmp_path_factory.mktemp("tiny")
    source = write_tiny_source(root / "source")
    out = root / "tiny.pgfdata"
    build_mosi(source, out)
    return out


@pytest.fixture(scope="session")
def real_built(mosi_source, tmp_path_factory) -> Path:
    """The real MOSI subset built once per session."""
    out = tmp_path_factory.mktemp("real") / "mosi.pgfdata"
    build_mosi(mosi_source, out)
    return out
