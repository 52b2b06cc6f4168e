"""Property tests (hypothesis) for the MMSA pickle and CMU-SDK .csd importers.

Random shapes and values, NaN and infinities at random places, hostile pickles that
would run code, and damaged files. Each property says what the importer promises:
finite data round-trips exactly, ``-inf`` is replaced and counted only where that is
allowed, anything else non-finite is rejected with a ValueError and nothing is
written, and no pickle reaches a callable.
"""

from __future__ import annotations

import builtins
import os
import pickle
import subprocess
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pgfnet.data.format import MosiData
from pgfnet.data.importers import (
    UnsafePickleError,
    import_csd,
    import_mmsa,
    load_restricted_pickle,
)

PROPERTY_SETTINGS = settings(max_examples=40, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])

# Finite float32 values of moderate size. Values near the float32 maximum are left to
# test_extreme_values_stay_finite, which checks normalisation on its own.
FINITE = st.floats(min_value=-1e6, max_value=1e6, width=32, allow_nan=False,
                   allow_infinity=False)
NON_FINITE = st.sampled_from([np.nan, np.inf, -np.inf])


# -- MMSA pickles -------------------------------------------------------------------


@st.composite
def mmsa_split(draw, prefix: str, audio_width: int, vision_width: int) -> dict:
    """One MMSA split: n rows of padded audio (n, T_a, D_a) and vision (n, T_v, D_v)."""
    n = draw(st.integers(1, 4))
    audio_steps = draw(st.integers(1, 5))
    vision_steps = draw(st.integers(1, 6))
    audio = draw(hnp.arrays(np.float32, (n, audio_steps, audio_width), elements=FINITE))
    vision = draw(hnp.arrays(np.float32, (n, vision_steps, vision_width), elements=FINITE))
    labels = draw(hnp.arrays(np.float32, (n,), elements=st.floats(-3, 3, width=32)))
    return {
        "raw_text": np.array([f"{prefix} text {k} <b>&amp;</b>" for k in range(n)], dtype=object),
        "audio": audio,
        "vision": vision,
        "audio_lengths": draw(st.lists(st.integers(0, audio_steps), min_size=n, max_size=n)),
        "vision_lengths": np.array(draw(st.lists(st.integers(0, vision_steps), min_size=n,
                                                 max_size=n))),
        "id": np.array([f"{prefix}Vid$_${k + 1}" for k in range(n)], dtype=object),
        "regression_labels": labels,
    }


@st.composite
def mmsa_object(draw) -> dict:
    audio_width = draw(st.integers(1, 4))
    vision_width = draw(st.integers(1, 4))
    splits = ["train"] + draw(st.lists(st.sampled_from(["valid", "test"]), unique=True))
    return {name: draw(mmsa_split(name[:2], audio_width, vision_width)) for name in splits}


def _rows_within_lengths(obj: dict, key: str, lengths_key: str):
    """Yield (split, row, step) of every step inside the declared lengths."""
    for split, data in obj.items():
        for row, length in enumerate(np.asarray(data[lengths_key]).reshape(-1)):
            for step in range(int(length)):
                yield split, row, step


@PROPERTY_SETTINGS
@given(obj=mmsa_object(), protocol=st.integers(2, 5), data=st.data())
def test_mmsa_round_trip_counts_neg_inf(obj, protocol, data):
    # Sprinkle -inf into the audio, inside and outside the declared lengths.
    expected_replaced = 0
    for split, split_data in obj.items():
        audio = split_data["audio"]
        mask = data.draw(hnp.arrays(np.bool_, audio.shape, elements=st.booleans()))
        audio[mask] = -np.inf
        for row, length in enumerate(split_data["audio_lengths"]):
            expected_replaced += int(mask[row, :length].sum())

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "mmsa.pgfdata"
        dataset, report = import_mmsa(pickle.dumps(obj, protocol=protocol), out)

        assert report["audio_neg_inf_replaced"] == expected_replaced
        assert len(dataset) == sum(len(s["id"]) for s in obj.values())
        for split, split_data in obj.items():
            for row in range(len(split_data["id"])):
                index = dataset.index_of(f"{split[:2]}Vid_{row + 1}")
                audio = dataset.acoustic(index, normalized=False)
                expected = split_data["audio"][row, : split_data["audio_lengths"][row]]
                np.testing.assert_array_equal(audio, np.where(np.isneginf(expected), 0, expected))
                frames, times = dataset.visual(index, normalized=False)
                length = split_data["vision_lengths"][row]
                np.testing.assert_array_equal(frames, split_data["vision"][row, :length])
                assert times.shape == (length,)
                assert np.all(np.isfinite(dataset.acoustic(index)))
                assert np.all(np.isfinite(dataset.visual(index)[0]))
                assert dataset.utterances[index].text == str(split_data["raw_text"][row])


@PROPERTY_SETTINGS
@given(obj=mmsa_object(), modality=st.sampled_from(["audio", "vision"]), bad=NON_FINITE,
       data=st.data())
def test_mmsa_non_finite_rejected(obj, modality, bad, data):
    positions = list(_rows_within_lengths(obj, modality, f"{modality}_lengths"))
    assume(positions)
    assume(not (modality == "audio" and bad == -np.inf))  # -inf in audio is replaced
    split, row, step = data.draw(st.sampled_from(positions))
    column = data.draw(st.integers(0, obj[split][modality].shape[2] - 1))
    obj[split][modality][row, step, column] = bad

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "mmsa.pgfdata"
        with pytest.raises(ValueError) as caught:
            import_mmsa(pickle.dumps(obj, protocol=4), out)

        assert f"{modality}[{step}, {column}]" in str(caught.value)
        assert f"{split[:2]}Vid_{row + 1}" in str(caught.value)
        assert not out.exists()


@PROPERTY_SETTINGS
@given(obj=mmsa_object(), bad=st.sampled_from([np.nan, np.inf, -np.inf, 3.5, -7.0]),
       data=st.data())
def test_mmsa_bad_label_rejected(obj, bad, data):
    split = data.draw(st.sampled_from(sorted(obj)))
    row = data.draw(st.integers(0, len(obj[split]["id"]) - 1))
    obj[split]["regression_labels"][row] = bad

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "mmsa.pgfdata"
        with pytest.raises(ValueError, match="not in \\[-3, 3\\]"):
            import_mmsa(pickle.dumps(obj, protocol=4), out)
        assert not out.exists()


# -- hostile pickles ------------------------------------------------------------------


class _Call:
    """An object whose unpickling calls ``function(*args)``."""

    def __init__(self, function, *args):
        self.function = function
        self.args = args

    def __reduce__(self):
        return (self.function, self.args)


def _hostile_calls(marker: Path) -> list[_Call]:
    """Callables that would each create ``marker`` if the pickle ran them."""
    quoted = str(marker).replace("'", "")
    return [
        _Call(os.system, f"touch '{quoted}'"),
        _Call(os.mkdir, str(marker)),
        _Call(subprocess.call, ["touch", str(marker)]),
        _Call(subprocess.Popen, ["touch", str(marker)]),
        _Call(builtins.exec, f"open({str(marker)!r}, 'w').close()"),
        _Call(builtins.eval, f"open({str(marker)!r}, 'w').close()"),
        _Call(builtins.open, str(marker), "w"),
        _Call(np.save, str(marker), np.zeros(1)),
    ]


def _plant(obj: dict, payload, place: str, row: int) -> dict:
    """Return ``obj`` with ``payload`` at ``place`` (a dict key, a list item, a value)."""
    if place == "top":
        return payload
    if place == "split_value":
        obj["train"]["audio_lengths"] = payload
    elif place == "list_item":
        lengths = list(obj["train"]["audio_lengths"])
        lengths[row % len(lengths)] = payload
        obj["train"]["audio_lengths"] = lengths
    elif place == "extra_key":
        obj["train"]["text_bert"] = {"nested": [payload]}
    elif place == "object_array":
        ids = obj["train"]["id"].copy()
        ids[row % len(ids)] = payload
        obj["train"]["id"] = ids
    return obj


@PROPERTY_SETTINGS
@given(obj=mmsa_object(), choice=st.integers(0, 7), protocol=st.integers(0, 5),
       place=st.sampled_from(["top", "split_value", "list_item", "extra_key", "object_array"]),
       row=st.integers(0, 3), as_path=st.booleans())
def test_hostile_pickle_runs_nothing(obj, choice, protocol, place, row, as_path):
    with tempfile.TemporaryDirectory() as folder:
        marker = Path(folder) / "marker"
        hostile = _hostile_calls(marker)[choice]
        payload = pickle.dumps(_plant(obj, hostile, place, row), protocol=protocol)
        out = Path(folder) / "out.pgfdata"
        source = Path(folder) / "hostile.pkl" if as_path else payload
        if as_path:
            source.write_bytes(payload)

        with pytest.raises(UnsafePickleError) as caught:
            import_mmsa(source, out)

        assert not marker.exists()
        assert not Path(f"{marker}.npy").exists()
        assert not out.exists()
        message = str(caught.value)
        assert hostile.function.__name__ in message
        assert "rejected without running anything" in message
        if as_path:
            assert "hostile.pkl" in message


@PROPERTY_SETTINGS
@given(obj=mmsa_object(), flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                                         min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.integers(0, 10**6)))
def test_damaged_pickle_fails_cleanly(obj, flips, cut):
    # Random byte changes and truncations either still decode or raise ValueError
    # (UnsafePickleError is one); no other exception, crash or file write happens.
    payload = bytearray(pickle.dumps(obj, protocol=4))
    for position, value in flips:
        payload[position % len(payload)] = value
    if cut is not None:
        payload = payload[: cut % len(payload)]

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.pgfdata"
        try:
            import_mmsa(bytes(payload), out)
        except ValueError:
            assert not out.exists()
        else:
            assert MosiData.load(out)


@pytest.mark.parametrize("opcode_payload", [
    b"cos\nsystem\n(S'true'\ntR.",                     # protocol 0 GLOBAL + REDUCE
    b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.",
    b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x01x\x85R.",  # STACK_GLOBAL
    b"\x80\x02c__builtin__\ngetattr\n.",
    b"(cos\nsystem\nS'true'\no.",                        # INST-like OBJ opcode
    b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01cnumpy\nload\nq\x02s.",
])
def test_handcrafted_opcodes_rejected(opcode_payload):
    with pytest.raises(UnsafePickleError, match="rejected without running anything"):
        load_restricted_pickle(opcode_payload)


# -- CMU-SDK computational sequences ----------------------------------------------------


def _write_csd(path: Path, root: str, videos: dict) -> None:
    with h5py.File(path, "w") as handle:
        data = handle.create_group(root).create_group("data")
        for video_id, (features, intervals) in videos.items():
            entry = data.create_group(video_id)
            entry["features"] = features
            entry["intervals"] = intervals


@st.composite
def csd_videos(draw) -> dict:
    """{video_id: (labels (k, 1), acoustic (k, D))}; segment j covers [j, j + 1) s."""
    width = draw(st.integers(1, 4))
    n_videos = draw(st.integers(1, 3))
    videos = {}
    for v in range(n_videos):
        segments = draw(st.integers(1, 4))
        labels = draw(hnp.arrays(np.float32, (segments, 1), elements=st.floats(-3, 3, width=32)))
        acoustic = draw(hnp.arrays(np.float32, (segments, width), elements=FINITE))
        videos[f"vid{v}x"] = (labels, acoustic)
    return videos


def _csd_files(folder: Path, videos: dict) -> tuple[Path, Path]:
    labels, acoustic = folder / "labels.csd", folder / "covarep.csd"
    _write_csd(labels, "Opinion Segment Labels", {
        video: (scores, np.column_stack([np.arange(len(scores)), np.arange(len(scores)) + 1.0]))
        for video, (scores, _) in videos.items()})
    # One acoustic row inside each segment, so each utterance gets exactly that row.
    _write_csd(acoustic, "COVAREP", {
        video: (rows, np.column_stack([np.arange(len(rows)) + 0.25, np.arange(len(rows)) + 0.75]))
        for video, (_, rows) in videos.items()})
    return labels, acoustic


@PROPERTY_SETTINGS
@given(videos=csd_videos(), data=st.data())
def test_csd_round_trip_counts_neg_inf(videos, data):
    expected_replaced = 0
    for _, rows in videos.values():
        mask = data.draw(hnp.arrays(np.bool_, rows.shape, elements=st.booleans()))
        rows[mask] = -np.inf
        expected_replaced += int(mask.sum())

    with tempfile.TemporaryDirectory() as folder:
        labels, acoustic = _csd_files(Path(folder), videos)
        out = Path(folder) / "csd.pgfdata"
        dataset = import_csd(labels, out, acoustic=acoustic,
                             splits={video: "train" for video in videos}, zero_neg_inf=True)

        assert dataset.card["neg_inf_replaced"]["acoustic"] == expected_replaced
        assert len(dataset) == sum(len(scores) for scores, _ in videos.values())
        for video, (scores, rows) in videos.items():
            for segment in range(len(scores)):
                index = dataset.index_of(f"{video}_{segment + 1}")
                stored = dataset.acoustic(index, normalized=False)
                expected = np.where(np.isneginf(rows[segment]), 0, rows[segment])
                np.testing.assert_array_equal(stored, expected[None, :])
                assert dataset.utterances[index].label == pytest.approx(float(scores[segment, 0]))
                assert np.all(np.isfinite(dataset.acoustic(index)))


@PROPERTY_SETTINGS
@given(videos=csd_videos(), bad=NON_FINITE, zero_neg_inf=st.booleans(), data=st.data())
def test_csd_non_finite_rejected(videos, bad, zero_neg_inf, data):
    assume(not (zero_neg_inf and bad == -np.inf))
    video = data.draw(st.sampled_from(sorted(videos)))
    rows = videos[video][1]
    segment = data.draw(st.integers(0, len(rows) - 1))
    column = data.draw(st.integers(0, rows.shape[1] - 1))
    rows[segment, column] = bad

    with tempfile.TemporaryDirectory() as folder:
        labels, acoustic = _csd_files(Path(folder), videos)
        out = Path(folder) / "csd.pgfdata"
        with pytest.raises(ValueError) as caught:
            import_csd(labels, out, acoustic=acoustic,
                       splits={v: "train" for v in videos}, zero_neg_inf=zero_neg_inf)

        assert f"{video}_{segment + 1}" in str(caught.value)
        assert "not finite" in str(caught.value)
        if bad == -np.inf:
            assert "--zero-neg-inf" in str(caught.value)
        assert not out.exists()


@PROPERTY_SETTINGS
@given(videos=csd_videos(), bad=NON_FINITE, data=st.data())
def test_csd_non_finite_label_rejected(videos, bad, data):
    video = data.draw(st.sampled_from(sorted(videos)))
    scores = videos[video][0]
    scores[data.draw(st.integers(0, len(scores) - 1)), 0] = bad

    with tempfile.TemporaryDirectory() as folder:
        labels, acoustic = _csd_files(Path(folder), videos)
        out = Path(folder) / "csd.pgfdata"
        with pytest.raises(ValueError, match="non-finite label"):
            import_csd(labels, out, acoustic=acoustic, splits={v: "train" for v in videos})
        assert not out.exists()


@PROPERTY_SETTINGS
@given(videos=csd_videos(), flips=st.lists(st.tuples(st.floats(0.0, 0.999), st.integers(0, 255)),
                                         max_size=8),
       cut=st.one_of(st.none(), st.floats(0.0, 0.99)))
def test_damaged_csd_fails_cleanly(videos, flips, cut):
    # Changed bytes and truncations either still read or raise ValueError.
    with tempfile.TemporaryDirectory() as folder:
        labels, acoustic = _csd_files(Path(folder), videos)
        payload = bytearray(acoustic.read_bytes())
        for position, value in flips:
            payload[int(position * len(payload))] = value
        if cut is not None:
            payload = payload[: int(cut * len(payload))]
        out = Path(folder) / "csd.pgfdata"
        try:
            import_csd(labels, out, acoustic=bytes(payload), splits={v: "train" for v in videos})
        except ValueError:
            assert not out.exists()
        else:
            dataset = MosiData.load(out)
            for index in range(len(dataset)):
                assert np.all(np.isfinite(dataset.acoustic(index)))


@PROPERTY_SETTINGS
@given(payload=st.binary(max_size=4096))
def test_random_bytes_as_csd(payload):
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "csd.pgfdata"
        with pytest.raises(ValueError):
            import_csd(payload, out, splits={"v": "train"})
        assert not out.exists()


# -- normalisation of extreme finite values --------------------------------------------


_OVERFLOWING = np.zeros((2, 3, 2), np.float32)
_OVERFLOWING[0, :, 0] = 3.4e38
_OVERFLOWING[1, 0, 0] = -3.4e38


@settings(max_examples=30, deadline=None)
@example(values=_OVERFLOWING)
@given(values=hnp.arrays(np.float32, (2, 3, 2),
                         elements=st.floats(width=32, allow_nan=False, allow_infinity=False)))
def test_extreme_values_stay_finite(values):
    # Any finite float32 input must give finite normalised features, because an inf
    # made by normalisation would reach the model as silently as one in the file.
    obj = {"train": {
        "raw_text": np.array(["a", "b"], dtype=object), "audio": values,
        "vision": values.copy(), "id": np.array(["ex_1", "ex_2"], dtype=object),
        "regression_labels": np.array([0.5, -0.5], np.float32)}}
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "extreme.pgfdata"
        try:
            dataset, _ = import_mmsa(pickle.dumps(obj, protocol=4), out)
        except ValueError:
            assert not out.exists()
            return
        for index in range(len(dataset)):
            assert np.all(np.isfinite(dataset.acoustic(index)))
            assert np.all(np.isfinite(dataset.visual(index)[0]))
