"""MMSA pickle and CMU-SDK .csd importers on files the tests write themselves."""

from __future__ import annotations

import os
import pickle

import h5py
import numpy as np
import pytest

from pgfnet.data.format import MosiData
from pgfnet.data.importers import (
    UnsafePickleError,
    cut_sequence,
    import_csd,
    import_mmsa,
    load_restricted_pickle,
)


def _mmsa_split(prefix: str, n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    audio = rng.normal(size=(n, 6, 5)).astype(np.float32)
    vision = rng.normal(size=(n, 8, 20)).astype(np.float32)
    audio[0, 1, 2] = -np.inf
    return {
        "raw_text": np.array([f"{prefix} words {k}" for k in range(n)], dtype=object),
        "text_bert": np.zeros((n, 3, 50), np.float32),
        "audio": audio,
        "vision": vision,
        "audio_lengths": [6, 4, 2][:n],
        "vision_lengths": np.array([8, 0, 3][:n]),
        "id": np.array([f"{prefix}Vid$_${k + 1}" for k in range(n)], dtype=object),
        "regression_labels": np.array([1.5, -2.0, 0.25][:n], np.float32),
    }


def _mmsa_object() -> dict:
    return {"train": _mmsa_split("tr", 3, 0), "valid": _mmsa_split("va", 2, 1),
            "test": _mmsa_split("te", 3, 2)}


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_mmsa_round_trip(tmp_path, protocol):
    obj = _mmsa_object()
    payload = pickle.dumps(obj, protocol=protocol)
    data, report = import_mmsa(payload, tmp_path / "mmsa.pgfdata")

    assert report["audio_neg_inf_replaced"] == 3
    assert data.card["audio_neg_inf_replaced"] == 3
    assert len(data) == 8
    assert [len(data.split_indices(s)) for s in ("train", "valid", "test")] == [3, 2, 3]
    index = data.index_of("trVid_2")
    utterance = data.utterances[index]
    assert (utterance.video_id, utterance.segment) == ("trVid", 2)
    assert utterance.text == "tr words 1"
    assert utterance.label == pytest.approx(-2.0)
    assert utterance.start is None
    assert utterance.n_frames == 0
    acoustic = data.acoustic(index, normalized=False)
    np.testing.assert_array_equal(acoustic, obj["train"]["audio"][1, :4])
    first = data.acoustic(data.index_of("trVid_1"), normalized=False)
    assert first[1, 2] == 0.0
    frames, times = data.visual(data.index_of("teVid_3"), normalized=False)
    np.testing.assert_array_equal(frames, obj["test"]["vision"][2, :3])
    np.testing.assert_allclose(times, [0.0, 1 / 30, 2 / 30], rtol=1e-6)
    assert data.feature_names["acoustic"] == [f"mmsa_audio_{k:02d}" for k in range(5)]


def test_mmsa_from_path(tmp_path):
    path = tmp_path / "unaligned_50.pkl"
    path.write_bytes(pickle.dumps(_mmsa_object(), protocol=4))
    data, _ = import_mmsa(path, tmp_path / "out.pgfdata", vision_fps=15.0)

    assert str(path.resolve()) in data.sources
    _, times = data.visual(data.index_of("trVid_1"), normalized=False)
    assert times[1] == pytest.approx(1 / 15)


class _RunsCode:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_mmsa_rejects_code_pickle(tmp_path):
    marker = tmp_path / "pwned"
    obj = _mmsa_object()
    obj["train"]["audio_lengths"] = _RunsCode(str(marker))
    path = tmp_path / "hostile.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=4))

    with pytest.raises(UnsafePickleError) as caught:
        import_mmsa(path, tmp_path / "out.pgfdata")

    assert not marker.exists()
    assert not (tmp_path / "out.pgfdata").exists()
    assert "hostile.pkl" in str(caught.value)
    assert "mkdir" in str(caught.value)


@pytest.mark.parametrize("name", ["builtins eval", "builtins getattr", "numpy load",
                                  "subprocess Popen", "numpy.testing assert_equal"])
def test_restricted_unpickler_rejects_globals(name):
    module, attribute = name.split()
    payload = b"\x80\x04c" + module.encode() + b"\n" + attribute.encode() + b"\n."
    with pytest.raises(UnsafePickleError):
        load_restricted_pickle(payload)


@pytest.mark.parametrize("payload", [b"", b"garbage", pickle.dumps(_mmsa_object())[:50],
                                     b"\x80\x05\x95" + b"\xff" * 20])
def test_restricted_unpickler_malformed(payload):
    with pytest.raises(ValueError):
        load_restricted_pickle(payload)


def test_mmsa_unknown_split(tmp_path):
    obj = _mmsa_object()
    obj["holdout"] = obj.pop("valid")
    with pytest.raises(ValueError) as caught:
        import_mmsa(pickle.dumps(obj), tmp_path / "out.pgfdata")

    assert "'holdout'" in str(caught.value)


def test_mmsa_nan_vision(tmp_path):
    obj = _mmsa_object()
    obj["test"]["vision"][1, 0, 4] = np.nan
    obj["test"]["vision_lengths"][1] = 2
    with pytest.raises(ValueError) as caught:
        import_mmsa(pickle.dumps(obj), tmp_path / "out.pgfdata")

    assert "teVid_2" in str(caught.value)
    assert "vision[0, 4]" in str(caught.value)


def test_mmsa_duplicate_id(tmp_path):
    obj = _mmsa_object()
    obj["test"]["id"][0] = "trVid$_$1"
    with pytest.raises(ValueError) as caught:
        import_mmsa(pickle.dumps(obj), tmp_path / "out.pgfdata")

    assert "duplicate utterance id 'trVid_1'" in str(caught.value)


def test_mmsa_width_disagrees(tmp_path):
    obj = _mmsa_object()
    obj["test"]["audio"] = np.zeros((3, 6, 7), np.float32)
    with pytest.raises(ValueError) as caught:
        import_mmsa(pickle.dumps(obj), tmp_path / "out.pgfdata")

    assert "acoustic width 7 differs from 5" in str(caught.value)


def test_mmsa_missing_key(tmp_path):
    obj = _mmsa_object()
    del obj["valid"]["regression_labels"]
    with pytest.raises(ValueError) as caught:
        import_mmsa(pickle.dumps(obj), tmp_path / "out.pgfdata")

    assert "regression_labels" in str(caught.value)
    assert "'valid'" in str(caught.value)


def _write_csd(path, root: str, videos: dict, names: list[str] | None = None) -> None:
    with h5py.File(path, "w") as handle:
        group = handle.create_group(root)
        data = group.create_group("data")
        for video_id, (features, intervals) in videos.items():
            entry = data.create_group(video_id)
            entry["features"] = features
            entry["intervals"] = intervals
        metadata = group.create_group("metadata")
        if names is not None:
            import json

            metadata["dimension names"] = [json.dumps(names).encode()]


def _csd_files(tmp_path, acoustic_value=0.5):
    labels = tmp_path / "labels.csd"
    _write_csd(labels, "Opinion Segment Labels", {
        "vidA": (np.array([[1.0], [-2.0]], np.float32), np.array([[0.0, 2.0], [2.0, 5.0]])),
        "vidB": (np.array([[0.4]], np.float32), np.array([[1.0, 3.0]])),
    }, ["sentiment score"])
    steps = np.arange(0, 5, 0.5)
    acoustic = tmp_path / "covarep.csd"
    features = np.column_stack([steps, np.full_like(steps, acoustic_value), -steps]).astype(np.float32)
    _write_csd(acoustic, "COVAREP", {"vidA": (features, np.column_stack([steps, steps + 0.5]))},
               ["f0", "vuv", "nad"])
    visual = tmp_path / "facet.csd"
    _write_csd(visual, "FACET", {
        "vidA": (np.ones((4, 2), np.float32), np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0], [3.0, 4.0]])),
        "vidB": (np.full((2, 2), 3.0, np.float32), np.array([[0.0, 1.5], [1.5, 3.0]])),
    })
    return labels, acoustic, visual


SPLITS = {"vidA": "train", "vidB_1": "test"}


def test_csd_round_trip(tmp_path):
    labels, acoustic, visual = _csd_files(tmp_path)
    data = import_csd(labels, tmp_path / "csd.pgfdata", acoustic=acoustic, visual=visual,
                      splits=SPLITS, texts={"vidA_1": "hello"})

    assert [u.id for u in data.utterances] == ["vidA_1", "vidA_2", "vidB_1"]
    assert [u.split for u in data.utterances] == ["train", "train", "test"]
    assert data.utterances[0].text == "hello"
    assert data.utterances[1].label == pytest.approx(-2.0)
    assert (data.utterances[1].start, data.utterances[1].end) == (2.0, 5.0)
    assert data.feature_names["acoustic"] == ["f0", "vuv", "nad"]
    assert data.feature_names["visual"] == ["visual_00", "visual_01"]
    raw = data.acoustic(0, normalized=False)
    np.testing.assert_allclose(raw[:, 0], [0.0, 0.5, 1.0, 1.5])
    assert data.utterances[2].n_acoustic == 0
    frames, times = data.visual(2, normalized=False)
    np.testing.assert_array_equal(frames, np.full((2, 2), 3.0))
    np.testing.assert_allclose(times, [0.0, 0.5])


def test_csd_from_bytes(tmp_path):
    labels, acoustic, _ = _csd_files(tmp_path)
    data = import_csd(labels.read_bytes(), tmp_path / "out.pgfdata",
                      acoustic=acoustic.read_bytes(), splits=SPLITS)

    assert len(data) == 3
    assert set(data.sources) == {"<labels bytes>", "<acoustic bytes>"}


def test_csd_neg_inf(tmp_path):
    labels, acoustic, _ = _csd_files(tmp_path, acoustic_value=-np.inf)
    with pytest.raises(ValueError) as caught:
        import_csd(labels, tmp_path / "out.pgfdata", acoustic=acoustic, splits=SPLITS)
    assert "vidA_1" in str(caught.value)
    assert "--zero-neg-inf" in str(caught.value)
    assert not (tmp_path / "out.pgfdata").exists()

    data = import_csd(labels, tmp_path / "out.pgfdata", acoustic=acoustic, splits=SPLITS,
                      zero_neg_inf=True)
    assert data.card["neg_inf_replaced"]["acoustic"] == 10
    assert np.all(data.acoustic(0, normalized=False)[:, 1] == 0.0)


def test_csd_not_hdf5(tmp_path):
    path = tmp_path / "fake.csd"
    path.write_bytes(b"not hdf5")
    with pytest.raises(ValueError) as caught:
        import_csd(path, tmp_path / "out.pgfdata", splits=SPLITS)

    assert "fake.csd" in str(caught.value)


def test_csd_missing_split(tmp_path):
    labels, _, _ = _csd_files(tmp_path)
    with pytest.raises(ValueError) as caught:
        import_csd(labels, tmp_path / "out.pgfdata", splits={"vidA": "train"})

    assert "vidB_1" in str(caught.value)


def test_csd_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        import_csd(tmp_path / "absent.csd", tmp_path / "out.pgfdata", splits=SPLITS)

    assert "absent.csd" in str(caught.value)


def test_cut_sequence_overlap():
    intervals = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]])
    features = np.arange(3, dtype=np.float32).reshape(3, 1)
    rows, times = cut_sequence(features, intervals, start=1.5, end=2.5)

    np.testing.assert_array_equal(rows[:, 0], [1.0, 2.0])
    np.testing.assert_allclose(times, [0.0, 0.5])


@pytest.mark.real_data
def test_real_label_csd_matches_build(mosi_source, real_built, tmp_path):
    data = import_csd(mosi_source / "labels" / "CMU_MOSI_Opinion_Labels.csd",
                      tmp_path / "csd.pgfdata",
                      split_csv=mosi_source / "labels" / "mmsa_label.csv")
    built = MosiData.load(real_built)

    assert len(data) == 2199
    for utterance in data.utterances:
        reference = built.utterances[built.index_of(utterance.id)]
        assert utterance.split == reference.split
        assert utterance.label == pytest.approx(reference.label, abs=1e-6)


_OBJECT_POINTER_SCRIPT = """
import pickle, numpy as np
from pgfnet.data.importers import load_restricted_pickle
payload = pickle.dumps(np.array([1.0, 2.0]), protocol=2).replace(b"f8", b"O8")
try:
    load_restricted_pickle(payload)
except ValueError as error:
    print("rejected:", error)
"""


def test_raw_bytes_as_object_array():
    # Plain pickle would read these 16 bytes as two object pointers and crash, so the
    # check runs in a child process.
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", _OBJECT_POINTER_SCRIPT],
                            capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    assert "rejected:" in result.stdout
    assert "object array" in result.stdout


@pytest.mark.parametrize("spec", [b"V8", b"M8", b"m8"])
def test_unsupported_dtype_rejected(spec):
    payload = pickle.dumps(np.array([1.0, 2.0]), protocol=2).replace(b"f8", spec)
    with pytest.raises(ValueError) as caught:
        load_restricted_pickle(payload)

    assert "dtype" in str(caught.value)


def test_restricted_loader_keeps_values():
    obj = {"a": np.arange(6, dtype=">i4").reshape(2, 3), "b": np.float32(1.5),
           "c": [np.array(["x", "yz"]), np.array(["p", None], dtype=object)],
           "d": np.asfortranarray(np.arange(6.0).reshape(2, 3))}
    for protocol in (2, 4, 5):
        loaded = load_restricted_pickle(pickle.dumps(obj, protocol=protocol))

        np.testing.assert_array_equal(loaded["a"], obj["a"])
        assert loaded["a"].dtype == np.dtype(">i4")
        assert loaded["b"] == np.float32(1.5)
        assert loaded["c"][0].tolist() == ["x", "yz"]
        assert loaded["c"][1].tolist() == ["p", None]
        np.testing.assert_array_equal(loaded["d"], obj["d"])


def test_csd_corrupt_bytes(tmp_path):
    labels, _, _ = _csd_files(tmp_path)
    payload = bytearray(labels.read_bytes())
    rng = np.random.default_rng(3)
    escaped = []
    for _ in range(40):
        damaged = bytearray(payload)
        for position in rng.integers(0, len(damaged), size=4):
            damaged[position] = int(rng.integers(0, 256))
        try:
            import_csd(bytes(damaged), tmp_path / "out.pgfdata", splits=SPLITS)
        except ValueError:
            pass
        except Exception as error:  # noqa: BLE001
            escaped.append(type(error).__name__)

    # Damage in unused bytes still reads; any other outcome must be a ValueError.
    assert escaped == []
