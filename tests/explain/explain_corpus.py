"""The tiny synthetic corpus of the explanation tests.

Built with the real dataset writer from synthetic features, so the explainer reads it
through the same ``MosiData`` code as the real MOSI file. It contains the hard cases: an
utterance without visual frames, an empty transcript and a transcript longer than the
tiny model's maximum text length (32 word pieces).
"""

from __future__ import annotations

import numpy as np

from pgfnet.data.format import DatasetContents, Media, Utterance

ACOUSTIC_DIM = 73
VISUAL_DIM = 22

TEXTS = {
    "vidA_1": "i really loved this movie , it was unbelievably good",
    "vidA_2": "the plot was boring and the acting was bad",
    "vidA_3": "it was okay i guess",
    "vidB_1": "not my kind of film but the music was great",
    "vidB_2": "",
    "vidB_3": " ".join(["terrible"] * 40 + ["wonderful"] * 40),
    "vidC_1": "what a waste of time",
    "vidC_2": "i would watch it again",
}
SPLITS = {
    "vidA_1": "test", "vidA_2": "test", "vidA_3": "train", "vidB_1": "test",
    "vidB_2": "test", "vidB_3": "test", "vidC_1": "train", "vidC_2": "valid",
}
# vidB_1 has no visual frames, like the MOSI test utterances past the end of their video.
FRAMES = {"vidA_1": 12, "vidA_2": 7, "vidA_3": 5, "vidB_1": 0, "vidB_2": 4,
          "vidB_3": 9, "vidC_1": 6, "vidC_2": 3}
NO_FRAMES_ID = "vidB_1"
EMPTY_TEXT_ID = "vidB_2"
LONG_TEXT_ID = "vidB_3"
PLAIN_ID = "vidA_1"


def build_contents(seed: int = 0) -> DatasetContents:
    rng = np.random.default_rng(seed)
    utterances, acoustic, visual, times = [], [], [], []
    for index, (utterance_id, text) in enumerate(TEXTS.items()):
        video, segment = utterance_id.split("_")
        n_frames = FRAMES[utterance_id]
        media = Media("full_video", f"/nonexistent/{video}.mp4", 1.0, 4.0) if video == "vidA" else None
        utterances.append(Utterance(
            id=utterance_id, video_id=video, segment=int(segment), start=float(index),
            end=float(index) + 3.0, text=text, label=float(rng.uniform(-3, 3)),
            split=SPLITS[utterance_id], n_frames=n_frames, media=media,
        ))
        acoustic.append(rng.normal(size=(1, ACOUSTIC_DIM)).astype(np.float32))
        visual.append(rng.normal(size=(n_frames, VISUAL_DIM)).astype(np.float32))
        times.append((np.arange(n_frames) / 15.0).astype(np.float32))
    return DatasetContents(
        utterances=utterances,
        acoustic=acoustic,
        visual=visual,
        visual_times=times,
        feature_names={
            "acoustic": [f"a{i}" for i in range(ACOUSTIC_DIM)],
            "visual": [f"v{i}" for i in range(VISUAL_DIM)],
        },
        sources={},
        built_by="tests/explain",
    )
