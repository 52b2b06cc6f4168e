"""Build the MOSI dataset file from the raw CMU-MOSI folder.

The source folder layout (``--source``, ``$PGFNET_MOSI_SOURCE`` or ``../shared/data/mosi``):

- ``labels/OpinionLevelSentiment.csv``: ``start_sec, end_sec, video_id, segment_no, score``
  for every utterance; it defines the 2,199 ids, their times and labels.
- ``labels/mmsa_label.csv``: ``id,text,label,mode``, the transcript where present and the
  standard split. ``mode`` is train/dev/test and is constant per video, so an id missing
  from the file takes its video's split. "dev" is stored as "valid".
- ``bc_lstm_utterance_features/transcripts.csv``: ``segment_id, TRANSCRIPT, video, label``;
  the transcript for the ids that ``mmsa_label.csv`` lacks (lower-cased to match).
- ``bc_lstm_utterance_features/text_{train,test}.csv``: only column 0 is read (the row
  index into ``transcripts.csv``). The other 100 columns are text-CNN vectors from a
  pipeline trained on labels of a different fold, so they would leak test labels.
- ``bc_lstm_utterance_features/audio/audio_{train,test}0.csv``: 73 acoustic values plus a
  binary label; row i belongs to the utterance named by row i of the matching text file.
- ``openface/<video_id>.json``: OpenFace 2 output for a whole video (optional per video).
- ``media/full_videos/<video_id>.mp4``, ``media/segments/<id>.{mp4,wav}``: optional media.
- ``checks/y_{train,valid,test}.h5``: optional; the sorted labels of each standard split,
  compared with the built split to 1e-4.

The 3D-CNN visual vectors of the same bc-LSTM release are never read: nothing here opens
a file that holds them.

Visual resampling: each utterance's frames are the whole-video OpenFace signals linearly
interpolated (on the native timestamps) at ``VISUAL_FPS`` = 10 frames per second, on the
grid ``t0, t0 + 0.1, ...`` where ``t0`` is the first native frame inside [start, end] and
the grid stops at the last native frame inside [start, end]; no value is extrapolated.
Grid points more than ``MAX_GAP_S`` = 0.5 s from every native frame (where OpenFace lost
the face) are dropped, so frame times can skip. An utterance without any native frame in
[start, end] has 0 frames (visual missing).
Utterances longer than ``MAX_VISUAL_FRAMES`` / ``VISUAL_FPS`` = 12 s are subsampled
evenly to ``MAX_VISUAL_FRAMES`` = 120 frames; the stored per-frame times stay exact.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pgfnet.data.format import DatasetContents, Media, MosiData, Utterance, write_dataset
from pgfnet.io import sha256_file

logger = logging.getLogger(__name__)

VISUAL_FPS = 10.0
MAX_VISUAL_FRAMES = 120
MAX_GAP_S = 0.5
ACOUSTIC_DIM = 73

OPENFACE_GROUPS = {
    "aus": ["AU01_r", "AU02_r", "AU04_r", "AU05_r", "AU06_r", "AU07_r", "AU09_r", "AU10_r",
            "AU12_r", "AU14_r", "AU15_r", "AU17_r", "AU20_r", "AU23_r", "AU25_r", "AU26_r",
            "AU45_r"],
    "gaze": ["gaze_angle_x", "gaze_angle_y"],
    "pose": ["pose_Rx", "pose_Ry", "pose_Rz"],
}
VISUAL_FEATURE_NAMES = [name for names in OPENFACE_GROUPS.values() for name in names]
# Column 0 is the mean fundamental frequency in Hz; the release does not name the other
# 72 utterance-averaged descriptors, so they keep generic names.
ACOUSTIC_FEATURE_NAMES = ["F0 (Hz)"] + [f"acoustic_{k:02d}" for k in range(1, ACOUSTIC_DIM)]

SPLIT_ALIASES = {"train": "train", "dev": "valid", "valid": "valid", "val": "valid",
                 "test": "test"}
LABEL_CHECK_TOLERANCE = 1e-4

ProgressCallback = Callable[[int, int], None]


class SourceError(ValueError):
    """An invalid or missing MOSI source file; the message names the file and the row."""


@dataclass
class _LabelRow:
    video_id: str
    segment: int
    start: float
    end: float
    label: float


def _require(path: Path) -> Path:
    if not path.is_file():
        raise SourceError(
            f"missing source file {path}: point --source (or PGFNET_MOSI_SOURCE) at a MOSI "
            "folder laid out as described in docs/DATA.md")
    return path


def _read_csv(path: Path, columns: int | None, header: bool = False) -> list[list[str]]:
    """Return the rows of ``path``; each must have ``columns`` fields when given."""
    with open(_require(path), newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if header:
        rows = rows[1:]
    for number, row in enumerate(rows, start=2 if header else 1):
        if columns is not None and len(row) != columns:
            raise SourceError(f"{path}, line {number}: {len(row)} columns, expected "
                              f"{columns}; is this the right file?")
    return rows


def _parse_float(path: Path, line: int, value: str, description: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise SourceError(f"{path}, line {line}: {description} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise SourceError(f"{path}, line {line}: {description} is {value!r}; only finite values "
                          "are accepted: fix or remove that row")
    return number


def read_labels(path: Path) -> dict[str, _LabelRow]:
    """Read ``OpinionLevelSentiment.csv`` into {id: row}; ids are ``video_segment``."""
    rows: dict[str, _LabelRow] = {}
    for line, (start, end, video_id, segment, score) in enumerate(_read_csv(path, 5), 1):
        video_id = video_id.strip()
        try:
            segment_no = int(segment)
        except ValueError:
            raise SourceError(f"{path}, line {line}: segment {segment!r} is not an "
                              "integer") from None
        utterance_id = f"{video_id}_{segment_no}"
        if utterance_id in rows:
            raise SourceError(f"{path}, line {line}: duplicate utterance id "
                              f"{utterance_id!r}: remove the repeated row")
        row = _LabelRow(video_id, segment_no, _parse_float(path, line, start, "start"),
                        _parse_float(path, line, end, "end"),
                        _parse_float(path, line, score, "score"))
        if not -3.0 <= row.label <= 3.0:
            raise SourceError(f"{path}, line {line}: score {row.label} outside [-3, 3]")
        # One real MOSI row has end == start, so only a reversed interval is rejected.
        if row.end < row.start:
            raise SourceError(f"{path}, line {line}: end {row.end} is before start "
                              f"{row.start}")
        rows[utterance_id] = row
    return rows


def read_mmsa_labels(path: Path, known: set[str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Read an MMSA ``label.csv`` (``id,text,label,mode``): ({id: text}, {id: split}).

    ``mode`` "dev" becomes "valid". Raises SourceError for an unknown mode, a duplicate
    id, or (when ``known`` is given) an id not in ``known``.
    """
    texts: dict[str, str] = {}
    splits: dict[str, str] = {}
    with open(_require(path), newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"id", "mode"} - set(reader.fieldnames or [])
        if missing:
            raise SourceError(f"{path}: header lacks {sorted(missing)}; expected columns "
                              "id,text,label,mode")
        for line, row in enumerate(reader, start=2):
            utterance_id = row["id"].strip().replace("$_$", "_")
            if utterance_id in splits:
                raise SourceError(f"{path}, line {line}: duplicate id {utterance_id!r}")
            if known is not None and utterance_id not in known:
                raise SourceError(f"{path}, line {line}: id {utterance_id!r} is not in the "
                                  "label file; check that both files are from MOSI")
            mode = (row["mode"] or "").strip().lower()
            if mode not in SPLIT_ALIASES:
                raise SourceError(f"{path}, line {line}: unknown split {row['mode']!r} for "
                                  f"{utterance_id!r}; use train, dev/valid or test")
            splits[utterance_id] = SPLIT_ALIASES[mode]
            if row.get("text") is not None:
                texts[utterance_id] = row["text"].strip()
    return texts, splits


def _video_splits(path: Path, splits: dict[str, str]) -> dict[str, str]:
    by_video: dict[str, str] = {}
    for utterance_id, split in splits.items():
        video_id = utterance_id.rsplit("_", 1)[0]
        if by_video.setdefault(video_id, split) != split:
            raise SourceError(f"{path}: video {video_id!r} appears in both "
                              f"{by_video[video_id]!r} and {split!r}; the standard folds "
                              "are by video")
    return by_video


def read_transcripts(path: Path) -> list[tuple[str, str]]:
    """Read bc-LSTM ``transcripts.csv``: [(id, transcript)] in file order."""
    return [(row[0].strip(), row[1].strip()) for row in _read_csv(path, 4)]


def read_acoustic(features_dir: Path, transcripts: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Read the 73-d utterance vectors: {id: (1, 73) float32}.

    Only column 0 of ``text_{train,test}.csv`` is parsed; the remaining columns (text-CNN
    vectors) are never converted or stored.
    """
    vectors: dict[str, np.ndarray] = {}
    for part in ("train", "test"):
        text_path = features_dir / f"text_{part}.csv"
        audio_path = features_dir / "audio" / f"audio_{part}0.csv"
        with open(_require(text_path), newline="", encoding="utf-8") as handle:
            indices = [line.split(",", 1)[0].strip().strip('"') for line in handle if line.strip()]
        audio_rows = _read_csv(audio_path, ACOUSTIC_DIM + 1)
        if len(indices) != len(audio_rows):
            raise SourceError(f"{audio_path} has {len(audio_rows)} rows but {text_path} has "
                              f"{len(indices)}; row i of one must match row i of the other")
        for line, (index_text, row) in enumerate(zip(indices, audio_rows), start=1):
            try:
                index = int(float(index_text))
            except ValueError:
                raise SourceError(f"{text_path}, line {line}: column 0 {index_text!r} is not "
                                  "a row index into transcripts.csv") from None
            if not 0 <= index < len(transcripts):
                raise SourceError(f"{text_path}, line {line}: row index {index} is outside "
                                  f"transcripts.csv (0..{len(transcripts) - 1})")
            utterance_id = transcripts[index][0]
            if utterance_id in vectors:
                raise SourceError(f"{audio_path}, line {line}: a second acoustic vector for "
                                  f"{utterance_id!r}; each utterance needs exactly one")
            values = [_parse_float(audio_path, line, v, f"column {c} of {utterance_id!r}")
                      for c, v in enumerate(row[:ACOUSTIC_DIM])]
            vectors[utterance_id] = np.array([values], np.float32)
    return vectors


def read_openface(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a whole-video OpenFace JSON: times (T,) seconds and values (T, 22) float64."""
    try:
        document = json.loads(_require(path).read_text(encoding="utf-8"))
        times = np.asarray(document["time"], np.float64)
        columns = [np.asarray(document[group][name], np.float64)
                   for group, names in OPENFACE_GROUPS.items() for name in names]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise SourceError(f"{path}: not an OpenFace JSON with 'time', 'aus', 'gaze' and "
                          f"'pose' ({error!r}); regenerate or remove it") from error
    for name, column in zip(VISUAL_FEATURE_NAMES, columns):
        if column.shape != times.shape:
            raise SourceError(f"{path}: column {name} has {column.size} values for "
                              f"{times.size} timestamps")
    values = np.stack(columns, axis=1) if columns else np.zeros((len(times), 0))
    if not np.all(np.isfinite(values)) or not np.all(np.isfinite(times)):
        frame = int(np.argwhere(~np.isfinite(np.column_stack([times, values])))[0][0])
        raise SourceError(f"{path}: frame {frame} contains NaN or inf; fix the OpenFace output")
    if np.any(np.diff(times) <= 0):
        frame = int(np.argmax(np.diff(times) <= 0)) + 1
        raise SourceError(f"{path}: time at frame {frame} does not increase")
    return times, values


def resample_frames(times: np.ndarray, values: np.ndarray, start: float, end: float,
                    fps: float = VISUAL_FPS, max_frames: int = MAX_VISUAL_FRAMES
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Cut [start, end] from a whole-video signal and resample it.

    Args:
        times: (T,) increasing native timestamps in seconds.
        values: (T, D) values at those times.
        start, end: utterance bounds in seconds on the same clock.

    Returns:
        frames (F, D) float32 and their times (F,) float32 in seconds from ``start``;
        F = 0 when no native frame lies inside [start, end], else 1 <= F <= max_frames.
        Grid points more than ``MAX_GAP_S`` from every native frame are dropped.
    """
    inside = np.flatnonzero((times >= start) & (times <= end))
    width = values.shape[1]
    if inside.size == 0:
        return np.zeros((0, width), np.float32), np.zeros(0, np.float32)
    first, last = times[inside[0]], times[inside[-1]]
    count = int(math.floor((last - first) * fps + 1e-9)) + 1
    grid = first + np.arange(count) / fps
    # OpenFace drops frames where it loses the face. Interpolating across such a gap
    # would invent a face, so grid points far from every native frame are left out.
    nearest = np.minimum(np.abs(grid - times[np.clip(np.searchsorted(times, grid), 0, len(times) - 1)]),
                         np.abs(grid - times[np.clip(np.searchsorted(times, grid) - 1, 0, len(times) - 1)]))
    grid = grid[nearest <= MAX_GAP_S]
    if len(grid) > max_frames:
        grid = grid[np.linspace(0, len(grid) - 1, max_frames).round().astype(int)]
    frames = np.stack([np.interp(grid, times, values[:, d]) for d in range(width)], axis=1)
    return frames.astype(np.float32), (grid - start).astype(np.float32)


def _find_media(source: Path, utterance_id: str, row: _LabelRow) -> Media | None:
    # A pre-cut clip is preferred over seeking in a full video.
    segments = source / "media" / "segments"
    duration = row.end - row.start
    clip = segments / f"{utterance_id}.mp4"
    if clip.is_file():
        return Media("clip", str(clip.resolve()), 0.0, duration)
    full = source / "media" / "full_videos" / f"{row.video_id}.mp4"
    if full.is_file():
        return Media("full_video", str(full.resolve()), row.start, row.end)
    audio = segments / f"{utterance_id}.wav"
    if audio.is_file():
        return Media("audio", str(audio.resolve()), 0.0, duration)
    return None


def check_split_labels(checks_dir: Path, labels_by_split: dict[str, list[float]]) -> dict:
    """Compare each split's sorted labels with ``checks/y_<split>.h5``; return a summary.

    Raises SourceError when a check file exists and disagrees. Missing files are
    reported as "not checked".
    """
    import h5py

    summary = {}
    for split, labels in labels_by_split.items():
        path = checks_dir / f"y_{split}.h5"
        if not path.is_file():
            summary[split] = "not checked (no reference file)"
            continue
        with h5py.File(path, "r") as handle:
            reference = np.sort(np.asarray(handle["data"][()], np.float64).reshape(-1))
        ours = np.sort(np.asarray(labels, np.float64))
        if reference.shape != ours.shape:
            raise SourceError(f"{path}: the {split} split has {ours.size} utterances but the "
                              f"reference has {reference.size}; the split column is wrong")
        worst = float(np.max(np.abs(reference - ours))) if ours.size else 0.0
        if worst > LABEL_CHECK_TOLERANCE:
            raise SourceError(f"{path}: sorted {split} labels differ from the reference by "
                              f"up to {worst:.4g}; the split column is wrong")
        summary[split] = f"matches {path.name} ({ours.size} labels, max diff {worst:.1e})"
    return summary


def build_mosi(source: str | Path, out: str | Path,
               progress: ProgressCallback | None = None) -> MosiData:
    """Build the MOSI dataset file ``out`` from the raw folder ``source``; return it loaded.

    ``progress(done, total)`` is called as utterances are assembled (total = number of
    utterances). The file is written atomically: on any error, no partial file is left
    and an existing ``out`` is kept. Raises SourceError (a ValueError) naming the file
    and row of bad input.
    """
    source = Path(source)
    if not source.is_dir():
        raise SourceError(f"MOSI source folder {source} not found: pass --source or set "
                          "PGFNET_MOSI_SOURCE (docs/DATA.md says where to get MOSI)")
    began = time.perf_counter()
    read: list[Path] = []

    def use(relative: str) -> Path:
        path = source / relative
        read.append(path)
        return path

    labels = read_labels(use("labels/OpinionLevelSentiment.csv"))
    mmsa_path = use("labels/mmsa_label.csv")
    mmsa_texts, mmsa_splits = read_mmsa_labels(mmsa_path, known=set(labels))
    video_split = _video_splits(mmsa_path, mmsa_splits)
    transcripts = read_transcripts(use("bc_lstm_utterance_features/transcripts.csv"))
    for part in ("train", "test"):
        use(f"bc_lstm_utterance_features/text_{part}.csv")
        use(f"bc_lstm_utterance_features/audio/audio_{part}0.csv")
    acoustic = read_acoustic(source / "bc_lstm_utterance_features", transcripts)
    transcript_text = dict(transcripts)

    utterances, acoustic_list, visual_list, times_list = [], [], [], []
    text_sources = {"mmsa_label": 0, "transcripts": 0}
    openface_videos = {split: set() for split in ("train", "valid", "test")}
    total = len(labels)
    by_video: dict[str, list[str]] = {}
    for utterance_id, row in labels.items():
        by_video.setdefault(row.video_id, []).append(utterance_id)

    for video_id in sorted(by_video):
        if video_id not in video_split:
            raise SourceError(f"{mmsa_path}: video {video_id!r} has no split: add its "
                              "utterances with their mode (train/dev/test)")
        split = video_split[video_id]
        openface_path = source / "openface" / f"{video_id}.json"
        signal = None
        if openface_path.is_file():
            read.append(openface_path)
            signal = read_openface(openface_path)
            openface_videos[split].add(video_id)
        for utterance_id in sorted(by_video[video_id], key=lambda u: labels[u].segment):
            row = labels[utterance_id]
            if utterance_id not in acoustic:
                raise SourceError(f"no acoustic vector for {utterance_id!r} in "
                                  f"{source / 'bc_lstm_utterance_features/audio'}")
            if utterance_id in mmsa_texts:
                text, text_source = mmsa_texts[utterance_id], "mmsa_label"
            elif utterance_id in transcript_text:
                text, text_source = transcript_text[utterance_id].lower(), "transcripts"
            else:
                raise SourceError(f"no transcript for {utterance_id!r} in {mmsa_path} or "
                                  "transcripts.csv")
            text_sources[text_source] += 1
            if signal is not None:
                frames, frame_times = resample_frames(*signal, row.start, row.end)
            else:
                frames, frame_times = np.zeros((0, 22), np.float32), np.zeros(0, np.float32)
            media = _find_media(source, utterance_id, row)
            if media is not None and Path(media.path) not in read:
                read.append(Path(media.path))
            utterances.append(Utterance(
                id=utterance_id, video_id=video_id, segment=row.segment, start=row.start,
                end=row.end, text=text, label=row.label, split=split, n_frames=len(frames),
                media=media, text_source=text_source))
            acoustic_list.append(acoustic[utterance_id])
            visual_list.append(frames)
            times_list.append(frame_times)
        if progress is not None:
            progress(len(utterances), total)

    unknown = set(acoustic) - set(labels)
    if unknown:
        raise SourceError(f"acoustic vectors for ids not in the label file: "
                          f"{sorted(unknown)[:5]}; check that the feature files are from MOSI")
    labels_by_split = {s: [u.label for u in utterances if u.split == s]
                       for s in ("train", "valid", "test")}
    checks_dir = source / "checks"
    split_check = check_split_labels(checks_dir, labels_by_split)
    read.extend(p for p in (checks_dir / f"y_{s}.h5" for s in labels_by_split) if p.is_file())

    card_extra = {
        "visual_source": {
            split: {
                "videos_with_openface": len(openface_videos[split]),
                "utterances_in_openface_videos": sum(
                    1 for u in utterances if u.split == split and u.video_id in openface_videos[split]),
            } for split in ("train", "valid", "test")},
        "visual_resampling": {"fps": VISUAL_FPS, "max_frames": MAX_VISUAL_FRAMES,
                              "max_gap_s": MAX_GAP_S,
                              "method": "linear interpolation on native OpenFace timestamps; "
                                        "points over max_gap_s from every native frame dropped; "
                                        "longer utterances subsampled evenly"},
        "visual_missing_in_openface_videos": sorted(
            u.id for u in utterances
            if u.n_frames == 0 and u.video_id in openface_videos[u.split]),
        "text_sources": text_sources,
        "media_kinds": {kind: sum(1 for u in utterances if u.media and u.media.kind == kind)
                        for kind in ("full_video", "clip", "audio")},
        "split_check": split_check,
        "acoustic_source": "bc-LSTM utterance-level 73-d vectors (column 0 = F0 in Hz)",
        "never_read": "bc-LSTM 100-d text-CNN columns and 3D-CNN visual vectors "
                      "(trained on labels of another fold; they leak test labels)",
    }
    sources = {str(path.resolve()): sha256_file(path) for path in read}
    contents = DatasetContents(
        utterances=utterances, acoustic=acoustic_list, visual=visual_list,
        visual_times=times_list,
        feature_names={"acoustic": ACOUSTIC_FEATURE_NAMES, "visual": VISUAL_FEATURE_NAMES},
        sources=sources, card_extra=card_extra, built_by=f"build_mosi({source.resolve()})")
    write_dataset(contents, out)
    logger.info("built %d utterances in %.1f s", len(utterances), time.perf_counter() - began)
    return MosiData.load(out)
