"""The eight-utterance synthetic corpus of the reliability tests.

Written by the real dataset writer from synthetic features. It contains the cases these
tests attack: a transcript made of HTML and script, an utterance whose source video is
garbage bytes, one whose video is a zero-byte file, and plain ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pgfnet.data.format import DatasetContents, Media, Utterance

ACOUSTIC_DIM = 5
VISUAL_DIM = 4
HOSTILE_MARKUP = "<script>alert(1)</script><img src=x onerror=alert(1)>"
TEXTS = {
    "vidA_1": "i really loved this movie , it was good",
    "vidA_2": "the plot was boring and the acting was bad",
    "vidB_1": HOSTILE_MARKUP,
    "vidB_2": "not my kind of film but the music was great",
    "vidC_1": "what a waste of time",
    "vidC_2": "i would watch it again",
    "vidD_1": "the camera work was fine",
    "vidD_2": "too long by half",
}
SPLITS = {"vidA_1": "train", "vidA_2": "train", "vidB_1": "test", "vidB_2": "test",
          "vidC_1": "test", "vidC_2": "valid", "vidD_1": "test", "vidD_2": "test"}
CORRUPT_VIDEO_ID = "vidC_1"
EMPTY_VIDEO_ID = "vidC_2"
HOSTILE_TEXT_ID = "vidB_1"


def build_contents(media_dir: Path) -> DatasetContents:
    """Return the eight synthetic utterances. vidC_1's video is garbage, vidC_2's is empty."""
    rng = np.random.default_rng(0)
    corrupt = media_dir / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + rng.bytes(30_000))
    empty = media_dir / "empty.mp4"
    empty.write_bytes(b"")
    media = {CORRUPT_VIDEO_ID: Media("full_video", str(corrupt), 0.5, 2.0),
             EMPTY_VIDEO_ID: Media("full_video", str(empty), 0.0, 1.0)}

    utterances, acoustic, visual, times = [], [], [], []
    for index, (utterance_id, text) in enumerate(TEXTS.items()):
        video, segment = utterance_id.split("_")
        n_frames = 3 + index % 4
        utterances.append(Utterance(
            id=utterance_id, video_id=video, segment=int(segment), start=float(index),
            end=float(index) + 2.0, text=text, label=float(rng.uniform(-3, 3)),
            split=SPLITS[utterance_id], n_frames=n_frames, media=media.get(utterance_id)))
        acoustic.append(rng.normal(size=(1, ACOUSTIC_DIM)).astype(np.float32))
        visual.append(rng.normal(size=(n_frames, VISUAL_DIM)).astype(np.float32))
        times.append((np.arange(n_frames) / 15.0).astype(np.float32))
    return DatasetContents(
        utterances=utterances, acoustic=acoustic, visual=visual, visual_times=times,
        feature_names={"acoustic": [f"a{i}" for i in range(ACOUSTIC_DIM)],
                       "visual": [f"AU{i:02d}_r" for i in range(VISUAL_DIM)]},
        sources={}, built_by="tests/reliability")
