"""Importers for the MOSI files users already hold: MMSA pickles and CMU-SDK ``.csd`` files.

Both write the same dataset format as the builder (see :mod:`pgfnet.data.format`) and
accept a path or the file's bytes, so they can be called on in-memory data.

MMSA pickles (``aligned_50.pkl``, ``unaligned_50.pkl``) are read by
:func:`pgfnet.data.safe_pickle.loads_restricted`, which resolves only numpy arrays,
numpy dtypes and numpy scalars. Dicts, lists, tuples, strings and numbers need no lookup.
Any other global (a function, a class, ``os.system``) raises :class:`UnsafePickleError`
before it is called, so a hostile pickle runs nothing. ``-inf`` audio values become 0 (MMSA's own loader
does this for COVAREP features) and their count is reported; NaN or other infinite
values are rejected.

CMU-MultimodalSDK computational sequences are HDF5 files with
``<root>/data/<video_id>/{features, intervals}``. The label sequence gives one row per
segment, and row k-1 is segment k. A feature sequence is cut per utterance by keeping
the rows whose interval overlaps the utterance's label interval.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from pgfnet.data.format import DatasetContents, MosiData, Utterance, write_dataset
from pgfnet.data.mosi import read_mmsa_labels
from pgfnet.data.safe_pickle import RestrictedUnpickler, UnsafePickleError, loads_restricted
from pgfnet.paths import validate_utterance_id

logger = logging.getLogger(__name__)

MMSA_SPLITS = {"train": "train", "valid": "valid", "dev": "valid", "test": "test"}
MMSA_REQUIRED_KEYS = ("raw_text", "audio", "vision", "id", "regression_labels")


def _read_bytes(source: str | Path | bytes) -> tuple[bytes, str]:
    """Return (bytes, name for messages) of a path or of bytes given directly."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "<bytes>"
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"input file {path} not found: check the path")
    return path.read_bytes(), str(path)


def load_restricted_pickle(source: str | Path | bytes) -> Any:
    """Unpickle ``source`` (a path or bytes) with :class:`RestrictedUnpickler`.

    Raises UnsafePickleError for a disallowed global and ValueError naming the source for
    any other malformed pickle.
    """
    payload, name = _read_bytes(source)
    try:
        return loads_restricted(payload)
    except UnsafePickleError as error:
        raise UnsafePickleError(f"{name}: {error}; re-save it with numpy arrays, lists, "
                                "dicts and strings only") from None
    # Arbitrary bytes can fail inside pickle or numpy with many exception types; all of
    # them mean the same thing to the user.
    except Exception as error:  # noqa: BLE001
        raise ValueError(f"{name}: not a readable pickle ({type(error).__name__}: "
                         f"{error}); check that it is an MMSA .pkl file") from None


def _split_id(raw_id: Any, where: str) -> tuple[str, str, int]:
    text = raw_id.decode("utf-8", "replace") if isinstance(raw_id, bytes) else str(raw_id)
    # NOTE: an id written as "<video>$_$<segment>" is normalised to "<video>_<segment>";
    # this separator was not checked against an official MMSA release.
    utterance_id = text.strip().replace("$_$", "_")
    try:
        validate_utterance_id(utterance_id)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    video_id, _, segment = utterance_id.rpartition("_")
    if not video_id or not segment.isdigit():
        raise ValueError(f"{where}: id {utterance_id!r} does not end in '_<segment number>'")
    return utterance_id, video_id, int(segment)


def _as_array(split_data: dict, key: str, where: str, ndim: int | None = None) -> np.ndarray:
    value = split_data[key]
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{where}: {key!r} is not an array ({error})") from None
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{where}: {key!r} has shape {array.shape}, expected {ndim} "
                         "dimensions")
    return array


def _lengths(split_data: dict, key: str, n: int, maximum: int, where: str) -> np.ndarray:
    if key not in split_data or split_data[key] is None:
        return np.full(n, maximum, np.int64)
    lengths = np.asarray(split_data[key]).reshape(-1)
    if lengths.shape != (n,) or not np.issubdtype(lengths.dtype, np.number):
        raise ValueError(f"{where}: {key!r} has shape {lengths.shape}, expected ({n},) numbers")
    if np.any(lengths < 0) or np.any(lengths > maximum) or np.any(lengths != np.round(lengths)):
        row = int(np.argmax((lengths < 0) | (lengths > maximum) | (lengths != np.round(lengths))))
        raise ValueError(f"{where}: {key}[{row}] = {lengths[row]} is not a whole number in "
                         f"[0, {maximum}]")
    return lengths.astype(np.int64)


def mmsa_to_contents(obj: Any, source_name: str, sha256: str, vision_fps: float = 30.0
                     ) -> tuple[DatasetContents, dict[str, int]]:
    """Convert an unpickled MMSA dict into :class:`DatasetContents`.

    Returns the contents and a report {"audio_neg_inf_replaced": count}. Raises
    ValueError naming the split and row for a missing key, an unknown split, a duplicate
    id, disagreeing feature widths or non-finite values other than ``-inf`` in audio.
    """
    if not (isinstance(vision_fps, (int, float)) and math.isfinite(vision_fps) and vision_fps > 0):
        raise ValueError(f"vision_fps={vision_fps!r} must be a positive number of frames per second")
    if not isinstance(obj, dict):
        raise ValueError(f"{source_name}: top level is {type(obj).__name__}, expected a dict "
                         "of splits ('train', 'valid', 'test')")
    unknown = [key for key in obj if key not in MMSA_SPLITS]
    if unknown:
        raise ValueError(f"{source_name}: unknown split {unknown[0]!r}; MMSA pickles hold "
                         "'train', 'valid' and 'test'")
    if not any(MMSA_SPLITS[key] == "train" for key in obj):
        raise ValueError(f"{source_name}: no 'train' split, so normalisation statistics "
                         "cannot be computed")

    utterances, acoustic, visual, visual_times = [], [], [], []
    widths: dict[str, int] = {}
    replaced = 0
    for split_key, split_data in obj.items():
        where = f"{source_name} [{split_key!r}]"
        if not isinstance(split_data, dict):
            raise ValueError(f"{where}: expected a dict of arrays, got {type(split_data).__name__}")
        missing = [key for key in MMSA_REQUIRED_KEYS if key not in split_data]
        if missing:
            raise ValueError(f"{where}: missing keys {missing}; an MMSA split needs "
                             f"{list(MMSA_REQUIRED_KEYS)}")
        audio = _as_array(split_data, "audio", where, ndim=3)
        vision = _as_array(split_data, "vision", where, ndim=3)
        ids = _as_array(split_data, "id", where).reshape(-1)
        texts = _as_array(split_data, "raw_text", where).reshape(-1)
        labels = _as_array(split_data, "regression_labels", where).reshape(-1)
        n = len(ids)
        for key, array in (("audio", audio), ("vision", vision), ("raw_text", texts),
                           ("regression_labels", labels)):
            if len(array) != n:
                raise ValueError(f"{where}: {key!r} has {len(array)} rows but 'id' has {n}")
        for modality, array in (("acoustic", audio), ("visual", vision)):
            if widths.setdefault(modality, array.shape[2]) != array.shape[2]:
                raise ValueError(f"{where}: {modality} width {array.shape[2]} differs from "
                                 f"{widths[modality]} in an earlier split")
        if not (np.issubdtype(audio.dtype, np.number) and np.issubdtype(vision.dtype, np.number)
                and np.issubdtype(labels.dtype, np.number)):
            raise ValueError(f"{where}: 'audio', 'vision' and 'regression_labels' must be numeric")
        audio_lengths = _lengths(split_data, "audio_lengths", n, audio.shape[1], where)
        vision_lengths = _lengths(split_data, "vision_lengths", n, vision.shape[1], where)

        for row in range(n):
            utterance_id, video_id, segment = _split_id(ids[row], f"{where} row {row}")
            label = float(labels[row])
            if not (math.isfinite(label) and -3.0 <= label <= 3.0):
                raise ValueError(f"{where} row {row} ({utterance_id}): label {label} is not "
                                 "in [-3, 3]")
            sequence = np.array(audio[row, : audio_lengths[row]], np.float32)
            negative_inf = np.isneginf(sequence)
            replaced += int(negative_inf.sum())
            sequence[negative_inf] = 0.0
            frames = np.array(vision[row, : vision_lengths[row]], np.float32)
            for modality, values in (("audio", sequence), ("vision", frames)):
                if not np.all(np.isfinite(values)):
                    step, column = np.argwhere(~np.isfinite(values))[0]
                    raise ValueError(
                        f"{where} row {row} ({utterance_id}): {modality}[{step}, {column}] "
                        f"= {values[step, column]}; only -inf in audio is replaced, so fix "
                        "or drop this value")
            text = texts[row]
            text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
            utterances.append(Utterance(
                id=utterance_id, video_id=video_id, segment=segment, start=None, end=None,
                text=text.strip(), label=label, split=MMSA_SPLITS[split_key], n_frames=0,
                text_source="mmsa_pickle"))
            acoustic.append(sequence)
            visual.append(frames)
            visual_times.append(np.arange(len(frames), dtype=np.float32) / np.float32(vision_fps))

    if replaced:
        logger.info("%s: replaced %d -inf audio values with 0", source_name, replaced)
    contents = DatasetContents(
        utterances=utterances, acoustic=acoustic, visual=visual, visual_times=visual_times,
        feature_names={
            "acoustic": [f"mmsa_audio_{k:02d}" for k in range(widths.get("acoustic", 0))],
            "visual": [f"mmsa_vision_{k:02d}" for k in range(widths.get("visual", 0))],
        },
        sources={source_name: sha256},
        card_extra={"import": "MMSA pickle", "audio_neg_inf_replaced": replaced,
                    "visual_times": f"frame index / {vision_fps} fps (MMSA stores no times)"},
        built_by=f"import_mmsa({source_name})")
    return contents, {"audio_neg_inf_replaced": replaced}


def import_mmsa(source: str | Path | bytes, out: str | Path, vision_fps: float = 30.0
                ) -> tuple[MosiData, dict[str, int]]:
    """Import an MMSA pickle (path or bytes) into dataset file ``out``.

    Returns the loaded dataset and {"audio_neg_inf_replaced": count}. The file is written
    atomically; on any error nothing is written.
    """
    payload, name = _read_bytes(source)
    obj = load_restricted_pickle(payload if name == "<bytes>" else Path(name))
    if name != "<bytes>":
        name = str(Path(name).resolve())
    contents, report = mmsa_to_contents(obj, name, hashlib.sha256(payload).hexdigest(),
                                        vision_fps=vision_fps)
    write_dataset(contents, out)
    return MosiData.load(out), report


def read_csd(source: str | Path | bytes) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str] | None]:
    """Read a computational sequence: ({video_id: (features (T, D), intervals (T, 2))}, names).

    ``names`` are the metadata's "dimension names" when present. Raises ValueError naming
    the file and video for a file that is not HDF5 or lacks the SDK layout.
    """
    import h5py

    payload, name = _read_bytes(source)
    # A corrupted HDF5 file fails inside h5py with many exception types; each one
    # means the file is not a readable computational sequence.
    failures = (OSError, RuntimeError, KeyError, OverflowError, TypeError, IndexError,
                MemoryError)
    try:
        handle = h5py.File(io.BytesIO(payload), "r")
    except failures as error:
        raise ValueError(f"{name}: not an HDF5 computational sequence ({error})") from None
    try:
        with handle:
            return _read_csd_groups(handle, name)
    except ValueError:
        raise
    except failures as error:
        raise ValueError(f"{name}: corrupt computational sequence ({type(error).__name__}: "
                         f"{error}); download or export it again") from None


def _read_csd_groups(handle, name: str
                     ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str] | None]:
    import h5py

    roots = list(handle.keys())
    if len(roots) != 1 or not isinstance(handle[roots[0]], h5py.Group) \
            or "data" not in handle[roots[0]]:
        raise ValueError(f"{name}: expected one root group holding 'data/<video_id>/"
                         f"{{features, intervals}}', found {roots}")
    root = handle[roots[0]]
    sequences = {}
    for video_id, group in root["data"].items():
        if not isinstance(group, h5py.Group) or "features" not in group \
                or "intervals" not in group:
            raise ValueError(f"{name}: video {video_id!r} lacks 'features' or 'intervals'")
        features = np.asarray(group["features"][()])
        intervals = np.asarray(group["intervals"][()], np.float64)
        if features.ndim == 1:
            features = features.reshape(-1, 1)
        if features.ndim != 2 or intervals.shape != (len(features), 2):
            raise ValueError(f"{name}: video {video_id!r} has features {features.shape} "
                             f"and intervals {intervals.shape}; expected (T, D) and (T, 2)")
        if not np.issubdtype(features.dtype, np.number):
            raise ValueError(f"{name}: video {video_id!r} has non-numeric features "
                             f"({features.dtype}); word sequences are not supported here")
        sequences[video_id] = (features, intervals)
    names = None
    metadata = root.get("metadata")
    if metadata is not None and "dimension names" in metadata:
        raw = metadata["dimension names"][()]
        raw = raw[0] if isinstance(raw, np.ndarray) and raw.size else raw
        try:
            names = [str(n) for n in json.loads(raw.decode() if isinstance(raw, bytes) else raw)]
        except (ValueError, TypeError, AttributeError):
            names = None
    return sequences, names


def cut_sequence(features: np.ndarray, intervals: np.ndarray, start: float, end: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Return the rows overlapping [start, end] and their times from ``start`` (clamped at 0)."""
    keep = (intervals[:, 0] < end) & (intervals[:, 1] > start)
    if end <= start:
        keep = (intervals[:, 0] <= start) & (intervals[:, 1] >= start)
    times = np.maximum(intervals[keep, 0], start) - start
    return features[keep].astype(np.float32), times.astype(np.float32)


def _feature_rows(name: str, sequences, feature_names, utterance: Utterance, modality: str,
                  zero_neg_inf: bool) -> tuple[np.ndarray, np.ndarray, int]:
    width = len(feature_names)
    if sequences is None or utterance.video_id not in sequences:
        return np.zeros((0, width), np.float32), np.zeros(0, np.float32), 0
    features, intervals = sequences[utterance.video_id]
    rows, times = cut_sequence(features, intervals, utterance.start, utterance.end)
    replaced = 0
    if zero_neg_inf:
        negative_inf = np.isneginf(rows)
        replaced = int(negative_inf.sum())
        rows[negative_inf] = 0.0
    if not np.all(np.isfinite(rows)):
        step, column = np.argwhere(~np.isfinite(rows))[0]
        hint = ("" if zero_neg_inf else
                "; pass --zero-neg-inf to replace -inf with 0 as MMSA does")
        raise ValueError(f"{name}: {modality} value {rows[step, column]} of {utterance.id!r} "
                         f"(step {step}, column {column}) is not finite{hint}")
    return rows, times, replaced


def import_csd(labels: str | Path | bytes, out: str | Path,
               acoustic: str | Path | bytes | None = None,
               visual: str | Path | bytes | None = None,
               split_csv: str | Path | None = None,
               splits: dict[str, str] | None = None,
               texts: dict[str, str] | None = None,
               zero_neg_inf: bool = False) -> MosiData:
    """Import CMU-SDK computational sequences into dataset file ``out``.

    Args:
        labels: the label sequence; row k-1 of video v is utterance ``f"{v}_{k}"``.
        acoustic, visual: optional feature sequences, cut per utterance by the label
            intervals (an utterance without overlapping rows has that modality missing).
        split_csv: an MMSA-style label.csv giving ``mode`` (and ``text``) per id; the
            split of an id missing from it follows its video.
        splits, texts: {id or video_id: split} and {id: text}, used instead of split_csv.
        zero_neg_inf: replace ``-inf`` feature values with 0 instead of rejecting them.

    Raises ValueError naming the file and id for bad input; nothing is written then.
    """
    label_sequences, _ = read_csd(labels)
    label_name = _name_of(labels, "labels")
    if splits is None:
        if split_csv is None:
            raise ValueError("import_csd needs split_csv or splits: the label sequence "
                             "carries no standard split")
        texts, splits = read_mmsa_labels(Path(split_csv))
    texts = texts or {}
    video_splits = {key.rpartition("_")[0] if key.rpartition("_")[2].isdigit() else key: value
                    for key, value in splits.items()}

    utterances = []
    for video_id in sorted(label_sequences):
        scores, intervals = label_sequences[video_id]
        for row in range(len(scores)):
            utterance_id = f"{video_id}_{row + 1}"
            try:
                validate_utterance_id(utterance_id)
            except ValueError as error:
                raise ValueError(f"{label_name}: {error}") from None
            split = splits.get(utterance_id) or video_splits.get(video_id)
            if split is None:
                raise ValueError(f"{label_name}: no split for {utterance_id!r} or its video; "
                                 "add it to the split file")
            label = float(scores[row, 0])
            start, end = float(intervals[row, 0]), float(intervals[row, 1])
            if not all(math.isfinite(v) for v in (label, start, end)):
                raise ValueError(f"{label_name}: {utterance_id!r} has a non-finite label or "
                                 "interval; fix that row")
            utterances.append(Utterance(
                id=utterance_id, video_id=video_id, segment=row + 1, start=start, end=end,
                text=texts.get(utterance_id, ""), label=label, split=split, n_frames=0,
                text_source="split_csv" if utterance_id in texts else ""))

    sources = {label_name: _sha256_of(labels)}
    columns: dict[str, tuple[list, list, list[str]]] = {}
    replaced = {}
    for modality, source in (("acoustic", acoustic), ("visual", visual)):
        sequences, names = (None, None)
        if source is not None:
            sequences, names = read_csd(source)
            sources[_name_of(source, modality)] = _sha256_of(source)
            widths = {f.shape[1] for f, _ in sequences.values()}
            if len(widths) > 1:
                raise ValueError(f"{_name_of(source, modality)}: feature widths {sorted(widths)} differ "
                                 "between videos; every video must have the same dimensions")
            width = widths.pop() if widths else 0
            if names is None or len(names) != width:
                names = [f"{modality}_{k:02d}" for k in range(width)]
        names = names or []
        rows_list, times_list = [], []
        replaced[modality] = 0
        for utterance in utterances:
            rows, times, count = _feature_rows(_name_of(source, modality) if source is not None else "",
                                               sequences, names, utterance, modality,
                                               zero_neg_inf)
            replaced[modality] += count
            rows_list.append(rows)
            times_list.append(times)
        columns[modality] = (rows_list, times_list, names)

    contents = DatasetContents(
        utterances=utterances, acoustic=columns["acoustic"][0], visual=columns["visual"][0],
        visual_times=columns["visual"][1],
        feature_names={m: columns[m][2] for m in ("acoustic", "visual")}, sources=sources,
        card_extra={"import": "CMU-MultimodalSDK computational sequences",
                    "neg_inf_replaced": replaced},
        built_by=f"import_csd({label_name})")
    write_dataset(contents, out)
    return MosiData.load(out)


def _name_of(source: str | Path | bytes, kind: str = "labels") -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{kind} bytes>"
    return str(Path(source).resolve())


def _sha256_of(source: str | Path | bytes) -> str:
    payload, _ = _read_bytes(source)
    return hashlib.sha256(payload).hexdigest()
