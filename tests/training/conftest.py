"""Fixtures for the training tests: a small synthetic dataset file in the real format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pgfnet.data.format import DatasetContents, MosiData, Utterance, write_dataset

WORDS = ["good", "bad", "movie", "really", "not", "great", "boring", "fun", "plot", "the"]


def write_synthetic_dataset(path: Path, sizes=(24, 8, 8), seed: int = 0) -> Path:
    """Write a tiny dataset whose label depends on its words and acoustic feature 0.

    ``sizes`` gives the number of train, valid and test utterances; every third
    utterance has visual frames, the rest have none.
    """
    rng = np.random.default_rng(seed)
    utterances, acoustic, visual, times = [], [], [], []
    for split, count in zip(("train", "valid", "test"), sizes):
        for k in range(count):
            words = list(rng.choice(WORDS, size=int(rng.integers(2, 9))))
            label = float(np.clip(words.count("good") - words.count("bad") + rng.normal(0, 0.3), -3, 3))
            video = f"vid{split}{k // 4}"
            utterances.append(Utterance(
                id=f"{video}_{k % 4 + 1}", video_id=video, segment=k % 4 + 1, start=0.0,
                end=2.0, text=" ".join(words), label=round(label, 2), split=split, n_frames=0,
            ))
            features = rng.normal(size=(1, 73)).astype(np.float32)
            features[0, 0] = label
            acoustic.append(features)
            frames = int(rng.integers(3, 7)) if k % 3 == 0 else 0
            visual.append(rng.normal(size=(frames, 22)).astype(np.float32))
            times.append((np.arange(frames) / 15).astype(np.float32))
    contents = DatasetContents(
        utterances=utterances, acoustic=acoustic, visual=visual, visual_times=times,
        feature_names={"acoustic": [f"a{i}" for i in range(73)],
                       "visual": [f"v{i}" for i in range(22)]},
        sources={}, built_by="tests/training/conftest.py",
    )
    return write_dataset(contents, path)


@pytest.fixture(scope="session")
def synthetic_data_path(tmp_path_factory) -> Path:
    return write_synthetic_dataset(tmp_path_factory.mktemp("data") / "synthetic.pgfdata")


@pytest.fixture
def synthetic_data(synthetic_data_path) -> MosiData:
    return MosiData.load(synthetic_data_path)


@pytest.fixture(scope="session")
def larger_data_path(tmp_path_factory) -> Path:
    """160 train utterances: enough steps per epoch to kill a run in the middle."""
    return write_synthetic_dataset(tmp_path_factory.mktemp("data") / "larger.pgfdata",
                                   sizes=(160, 8, 8), seed=1)
