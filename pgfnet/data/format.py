"""The built MOSI dataset file (``*.pgfdata``): its records, writer and loader.

A built file is one safetensors file, so loading it never runs pickle:

- tensors ``acoustic`` (sum of A_i, D_a) and ``visual`` (sum of F_i, D_v) float32 hold
  every utterance's raw (unnormalised) sequence back to back. Utterance i occupies rows
  ``offsets[i]:offsets[i + 1]`` of ``acoustic_offsets`` or ``visual_offsets`` (N + 1,) int64;
  ``visual_times`` (sum of F_i,) float32 holds each frame's time in seconds from its
  utterance's start; ``labels`` (N,) float32 holds the sentiment in [-3, 3];
- ``stats.<modality>.mean`` and ``stats.<modality>.std`` (D,) float32 are the
  training-split statistics used by ``normalized=True``;
- the safetensors metadata entry ``pgfnet`` is a JSON manifest with the format
  version, the utterance records, the feature names, the sha256 of every source file
  and the data card.

The built MOSI file has A_i = 1 and D_a = 73 (one utterance-level acoustic vector) and
D_v = 22 (OpenFace columns); files made by the importers may hold other widths and
acoustic sequences longer than 1, and their feature names say so.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pgfnet.io import atomic_path, sha256_file
from pgfnet.paths import validate_utterance_id

logger = logging.getLogger(__name__)

FORMAT_NAME = "pgfnet-mosi"
FORMAT_VERSION = 1
SPLITS = ("train", "valid", "test")
MEDIA_KINDS = ("full_video", "clip", "audio")
MODALITIES = ("acoustic", "visual")
# A feature whose training-split spread is below this is constant; dividing by it would
# blow noise up, so its std is stored as 1 instead.
MIN_STD = 1e-6

_REBUILD_HINT = "rebuild it with `pgfnet data build --out {path}`"


@dataclass(frozen=True)
class Media:
    """A playable source of one utterance.

    Attributes:
        kind: "full_video" (the whole source video), "clip" (a pre-cut utterance video)
            or "audio" (a pre-cut utterance audio file).
        path: absolute path of the media file, as it was when the dataset was built.
        start: seconds inside that file where the utterance begins.
        end: seconds inside that file where the utterance ends.
    """

    kind: str
    path: str
    start: float
    end: float


@dataclass(frozen=True)
class Utterance:
    """One MOSI utterance as stored in a built file.

    Attributes:
        id: ``f"{video_id}_{segment}"``, e.g. "03bSnISJMiM_1".
        video_id: YouTube id of the source video.
        segment: 1-based segment number inside the video.
        start: seconds from the video start, or None when the source has no times
            (MMSA pickles).
        end: seconds from the video start, or None as for ``start``.
        text: transcript.
        label: sentiment in [-3, 3].
        split: "train", "valid" or "test".
        n_frames: visual frames stored; 0 means the visual modality is missing.
        n_acoustic: acoustic steps stored (1 for the utterance-level vector).
        media: playable source, or None.
        text_source: where ``text`` came from ("mmsa_label", "transcripts", "mmsa_pickle"
            or "split_csv"; "" when unknown).
    """

    id: str
    video_id: str
    segment: int
    start: float | None
    end: float | None
    text: str
    label: float
    split: str
    n_frames: int
    media: Media | None = None
    n_acoustic: int = 1
    text_source: str = ""


@dataclass(frozen=True)
class Example:
    """The model-ready content of one utterance (features normalised).

    Attributes:
        id: utterance id.
        text: transcript.
        acoustic: (A, D_a) float32.
        visual: (F, D_v) float32; F = 0 when the visual modality is missing.
        visual_times: (F,) float32 seconds from the utterance start.
        label: sentiment in [-3, 3], or None at inference time.
        split: "train", "valid" or "test" ("" for an utterance outside the dataset).
    """

    id: str
    text: str
    acoustic: np.ndarray
    visual: np.ndarray
    visual_times: np.ndarray
    label: float | None
    split: str


@dataclass
class DatasetContents:
    """Everything a writer needs; built by the MOSI builder and by the importers.

    ``acoustic[i]`` is (A_i, D_a) and ``visual[i]`` is (F_i, D_v) with raw values;
    ``visual_times[i]`` is (F_i,). ``utterances[i].n_frames`` and ``n_acoustic`` are
    filled in by :func:`write_dataset` from the arrays.
    """

    utterances: list[Utterance]
    acoustic: list[np.ndarray]
    visual: list[np.ndarray]
    visual_times: list[np.ndarray]
    feature_names: dict[str, list[str]]
    sources: dict[str, str]
    card_extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    built_by: str = ""


class DatasetFormatError(ValueError):
    """A dataset file that is missing, corrupt or of an unsupported format version."""


def compute_stats(contents: DatasetContents) -> dict[str, dict[str, np.ndarray]]:
    """Return per-feature mean and std over the training split's rows.

    Acoustic statistics pool every acoustic step and visual statistics every frame of
    the "train" utterances. Raises ValueError when the training split is empty. A
    modality without any training rows gets mean 0 and std 1.
    """
    train = [i for i, u in enumerate(contents.utterances) if u.split == "train"]
    if not train:
        raise ValueError("the dataset has no 'train' utterances, so no normalisation "
                         "statistics can be computed: check the split column")
    stats = {}
    for modality, sequences in (("acoustic", contents.acoustic), ("visual", contents.visual)):
        width = len(contents.feature_names[modality])
        rows = [sequences[i] for i in train if len(sequences[i])]
        if rows:
            stacked = np.concatenate(rows, axis=0).astype(np.float64)
            mean = stacked.mean(axis=0)
            std = stacked.std(axis=0)
        else:
            mean = np.zeros(width)
            std = np.ones(width)
        std = np.where(std < MIN_STD, 1.0, std)
        stats[modality] = {"mean": mean.astype(np.float32), "std": std.astype(np.float32)}
    return stats


def _label_histogram(labels: list[float]) -> dict[str, int]:
    # Bins are the 7 sentiment classes of Acc-7: the label rounded to the nearest integer.
    counts = {str(k): 0 for k in range(-3, 4)}
    for label in labels:
        counts[str(int(round(min(3.0, max(-3.0, label)))))] += 1
    return counts


def make_card(contents: DatasetContents) -> dict[str, Any]:
    """Return the data card: counts per split, modality coverage, names, label histogram."""
    utterances = contents.utterances
    card: dict[str, Any] = {"utterances": len(utterances), "splits": {}, "coverage": {},
                            "label_histogram": {}}
    for split in SPLITS:
        members = [i for i, u in enumerate(utterances) if u.split == split]
        card["splits"][split] = {
            "utterances": len(members),
            "videos": len({utterances[i].video_id for i in members}),
        }
        card["coverage"][split] = {
            "text_utterances": sum(1 for i in members if utterances[i].text.strip()),
            "acoustic_utterances": sum(1 for i in members if len(contents.acoustic[i])),
            "visual_utterances_with_frames": sum(1 for i in members if len(contents.visual[i])),
            "media_utterances": sum(1 for i in members if utterances[i].media is not None),
        }
        card["label_histogram"][split] = _label_histogram([utterances[i].label for i in members])
    card["feature_names"] = contents.feature_names
    card["feature_dims"] = {m: len(names) for m, names in contents.feature_names.items()}
    card.update(contents.card_extra)
    return card


def write_dataset(contents: DatasetContents, out: str | Path) -> Path:
    """Validate ``contents`` and write them to ``out`` atomically; return ``out``.

    Raises ValueError naming the utterance for duplicate or invalid ids, an unknown
    split, a label outside [-3, 3], non-finite values or a feature width that disagrees
    with the feature names. A failed write leaves an existing ``out`` untouched.
    """
    from safetensors.numpy import save_file

    out = Path(out)
    _validate_contents(contents)
    utterances = [
        dataclasses.replace(u, n_frames=len(v), n_acoustic=len(a))
        for u, a, v in zip(contents.utterances, contents.acoustic, contents.visual)
    ]
    contents = dataclasses.replace(contents, utterances=utterances)
    stats = compute_stats(contents)
    card = make_card(contents)

    d_a = len(contents.feature_names["acoustic"])
    d_v = len(contents.feature_names["visual"])
    tensors = {
        "acoustic": _concat(contents.acoustic, d_a),
        "acoustic_offsets": _offsets(contents.acoustic),
        "visual": _concat(contents.visual, d_v),
        "visual_offsets": _offsets(contents.visual),
        "visual_times": np.concatenate(
            [np.asarray(t, np.float32).reshape(-1) for t in contents.visual_times]
            or [np.zeros(0, np.float32)]),
        "labels": np.array([u.label for u in utterances], np.float32),
    }
    for modality, values in stats.items():
        tensors[f"stats.{modality}.mean"] = values["mean"]
        tensors[f"stats.{modality}.std"] = values["std"]

    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "built_by": contents.built_by,
        "feature_names": contents.feature_names,
        "sources": contents.sources,
        "card": card,
        "utterances": [_utterance_to_json(u) for u in utterances],
    }
    with atomic_path(out) as tmp:
        save_file(tensors, str(tmp), metadata={"pgfnet": json.dumps(manifest)})
        # The temporary file is created 0600; a dataset is shared like any other file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
    logger.info("wrote %d utterances to %s", len(utterances), out)
    return out


def _concat(sequences: list[np.ndarray], width: int) -> np.ndarray:
    parts = [np.asarray(s, np.float32).reshape(len(s), width) for s in sequences]
    return np.concatenate(parts, axis=0) if parts else np.zeros((0, width), np.float32)


def _offsets(sequences: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum([len(s) for s in sequences])]).astype(np.int64)


def _validate_contents(contents: DatasetContents) -> None:
    n = len(contents.utterances)
    for name in ("acoustic", "visual", "visual_times"):
        if len(getattr(contents, name)) != n:
            raise ValueError(f"{name} has {len(getattr(contents, name))} entries for {n} "
                             "utterances: every utterance needs one (an empty array if missing)")
    for modality in MODALITIES:
        if modality not in contents.feature_names:
            raise ValueError(f"feature names for {modality!r} are missing; give an empty "
                             "list for a modality the dataset does not have")

    seen: set[str] = set()
    for i, u in enumerate(contents.utterances):
        validate_utterance_id(u.id)
        if u.id in seen:
            raise ValueError(f"duplicate utterance id {u.id!r} (row {i}): each id may "
                             "appear once; remove the repeated row")
        seen.add(u.id)
        if u.split not in SPLITS:
            raise ValueError(f"utterance {u.id!r} has unknown split {u.split!r}: use one of "
                             f"{', '.join(SPLITS)}")
        if not (math.isfinite(u.label) and -3.0 <= u.label <= 3.0):
            raise ValueError(f"utterance {u.id!r} has label {u.label!r} outside [-3, 3]")
        if u.media is not None and u.media.kind not in MEDIA_KINDS:
            raise ValueError(f"utterance {u.id!r} has media kind {u.media.kind!r}: use one "
                             f"of {', '.join(MEDIA_KINDS)}")
        for modality, array in (("acoustic", contents.acoustic[i]),
                                ("visual", contents.visual[i])):
            _check_features(u.id, modality, array, len(contents.feature_names[modality]))
        times = np.asarray(contents.visual_times[i])
        if times.shape != (len(contents.visual[i]),):
            raise ValueError(f"utterance {u.id!r}: visual_times has shape {times.shape}, "
                             f"expected ({len(contents.visual[i])},), one time per frame")
        if not np.all(np.isfinite(times)):
            raise ValueError(f"utterance {u.id!r}: visual_times contains NaN or inf")


def _check_features(utterance_id: str, modality: str, array: np.ndarray, width: int) -> None:
    array = np.asarray(array)
    if array.ndim != 2 or (array.shape[0] and array.shape[1] != width):
        raise ValueError(
            f"utterance {utterance_id!r}: {modality} features have shape {array.shape}, "
            f"expected (steps, {width}) like every other utterance")
    if not np.all(np.isfinite(array)):
        row, column = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(
            f"utterance {utterance_id!r}: {modality} value {array[row, column]} at step "
            f"{row}, column {column} is not finite: fix or drop it in the source")


def _utterance_to_json(u: Utterance) -> dict[str, Any]:
    record = dataclasses.asdict(u)
    return record


def _utterance_from_json(record: dict[str, Any]) -> Utterance:
    media = record.get("media")
    return Utterance(**{**record, "media": Media(**media) if media else None})


class MosiData:
    """A loaded built dataset file. Use :meth:`load`; arrays stay in memory.

    Attributes:
        path: the file it was loaded from.
        utterances: records in file order.
        feature_names: {"acoustic": D_a names, "visual": D_v names}.
        stats: {"acoustic"|"visual": {"mean": (D,), "std": (D,)}} from the train split.
        card: the data card (see :func:`make_card`).
        sources: {source path: sha256} of every file the dataset was built from.
        format_version: integer format version.
        sha256: sha256 of the file's bytes; changes whenever the file is rebuilt with
            different content.
    """

    def __init__(self, path: Path, tensors: dict[str, np.ndarray], manifest: dict[str, Any],
                 sha256: str):
        self.path = path
        self.format_version: int = manifest["format_version"]
        self.feature_names: dict[str, list[str]] = manifest["feature_names"]
        self.sources: dict[str, str] = manifest["sources"]
        self.card: dict[str, Any] = manifest["card"]
        self.built_by: str = manifest.get("built_by", "")
        self.utterances: list[Utterance] = [_utterance_from_json(r) for r in manifest["utterances"]]
        self.sha256 = sha256
        self.stats = {m: {"mean": tensors[f"stats.{m}.mean"], "std": tensors[f"stats.{m}.std"]}
                      for m in MODALITIES}
        self._tensors = tensors
        self._index = {u.id: i for i, u in enumerate(self.utterances)}

    @classmethod
    def load(cls, path: str | Path) -> "MosiData":
        """Load a built file. Raises DatasetFormatError (a ValueError) or FileNotFoundError.

        Both name ``path`` and the command that rebuilds it.
        """
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        path = Path(path)
        hint = _REBUILD_HINT.format(path=path)
        if not path.is_file():
            raise FileNotFoundError(f"dataset file {path} not found: {hint}")
        try:
            from safetensors import safe_open

            with safe_open(str(path), framework="np") as handle:
                metadata = handle.metadata() or {}
            tensors = load_file(str(path))
            manifest = json.loads(metadata["pgfnet"])
        except (SafetensorError, OSError, KeyError, json.JSONDecodeError, ValueError) as error:
            raise DatasetFormatError(f"dataset file {path} is corrupt or not a pgfnet "
                                     f"dataset ({error}): {hint}") from error
        if manifest.get("format") != FORMAT_NAME or manifest.get("format_version") != FORMAT_VERSION:
            raise DatasetFormatError(
                f"dataset file {path} has format {manifest.get('format')!r} version "
                f"{manifest.get('format_version')!r}; this pgfnet reads {FORMAT_NAME!r} "
                f"version {FORMAT_VERSION}: {hint}")
        data = cls(path, tensors, manifest, sha256_file(path))
        data._check_consistent()
        return data

    def _check_consistent(self) -> None:
        n = len(self.utterances)
        for name in ("acoustic_offsets", "visual_offsets"):
            if self._tensors[name].shape != (n + 1,):
                raise DatasetFormatError(
                    f"dataset file {self.path} is corrupt ({name} does not match "
                    f"{n} utterances): " + _REBUILD_HINT.format(path=self.path))
        # The writer stores only finite values and positive stds; anything else means a
        # damaged or hand-edited file, whose NaN would otherwise reach the model silently.
        for name, array in self._tensors.items():
            if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
                raise DatasetFormatError(
                    f"dataset file {self.path} is corrupt ({name} contains "
                    f"{int(np.sum(~np.isfinite(array)))} NaN or inf values): "
                    + _REBUILD_HINT.format(path=self.path))
        for modality in MODALITIES:
            if np.any(self.stats[modality]["std"] <= 0):
                raise DatasetFormatError(
                    f"dataset file {self.path} is corrupt (stats.{modality}.std has a value "
                    "<= 0): " + _REBUILD_HINT.format(path=self.path))
        for u in self.utterances:
            if not (isinstance(u.label, (int, float)) and math.isfinite(u.label)):
                raise DatasetFormatError(
                    f"dataset file {self.path} is corrupt (utterance {u.id!r} has label "
                    f"{u.label!r}): " + _REBUILD_HINT.format(path=self.path))

    def __len__(self) -> int:
        return len(self.utterances)

    def index_of(self, utterance_id: str) -> int:
        """Return the position of ``utterance_id``; KeyError naming it when absent.

        Raises ValueError for a malformed id (see ``pgfnet.paths.validate_utterance_id``).
        """
        validate_utterance_id(utterance_id)
        try:
            return self._index[utterance_id]
        except KeyError:
            raise KeyError(f"utterance id {utterance_id!r} is not in dataset {self.path}: "
                           "ids look like '03bSnISJMiM_1'; list them with "
                           f"`pgfnet data card {self.path}`") from None

    def split_indices(self, name: str) -> list[int]:
        """Return the positions of the utterances in split ``name`` in file order."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}: use one of {', '.join(SPLITS)}")
        return [i for i, u in enumerate(self.utterances) if u.split == name]

    def _slice(self, name: str, i: int) -> slice:
        if not 0 <= i < len(self.utterances):
            raise IndexError(f"utterance index {i} is outside 0..{len(self.utterances) - 1}; "
                             "use index_of(id) to look an utterance up")
        offsets = self._tensors[f"{name}_offsets"]
        return slice(int(offsets[i]), int(offsets[i + 1]))

    def _normalise(self, modality: str, values: np.ndarray) -> np.ndarray:
        stats = self.stats[modality]
        with np.errstate(over="ignore"):
            normalised = (values - stats["mean"]) / stats["std"]
        if not np.all(np.isfinite(normalised)):
            # value - mean can overflow float32 near its maximum although the ratio fits.
            normalised = (values.astype(np.float64) - stats["mean"]) / stats["std"]
        return normalised.astype(np.float32)

    def acoustic(self, i: int, normalized: bool = True) -> np.ndarray:
        """Return utterance i's acoustic sequence, (A, D_a) float32 (A = 1 for MOSI)."""
        values = self._tensors["acoustic"][self._slice("acoustic", i)]
        return self._normalise("acoustic", values) if normalized else values.copy()

    def visual(self, i: int, normalized: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Return utterance i's frames (F, D_v) float32 and their times (F,) in seconds.

        Times count from the utterance start. F = 0 when the visual modality is missing.
        """
        part = self._slice("visual", i)
        values = self._tensors["visual"][part]
        times = self._tensors["visual_times"][part].copy()
        return (self._normalise("visual", values) if normalized else values.copy()), times

    def example(self, i: int) -> Example:
        """Return utterance i as a normalised :class:`Example`."""
        u = self.utterances[i]
        frames, times = self.visual(i)
        return Example(id=u.id, text=u.text, acoustic=self.acoustic(i), visual=frames,
                       visual_times=times, label=u.label, split=u.split)

    def format_card(self) -> str:
        """Return the data card as readable text (what `pgfnet data card` prints)."""
        return format_card(self)


def format_card(data: MosiData) -> str:
    """Return a readable rendering of ``data.card`` plus the file's identity."""
    card = data.card
    lines = [f"dataset: {data.path}", f"format: {FORMAT_NAME} version {data.format_version}",
             f"sha256: {data.sha256}", f"built by: {data.built_by}",
             f"utterances: {card['utterances']}", ""]

    lines.append(f"{'split':<7}{'utts':>6}{'videos':>8}{'acoustic':>10}{'visual>=1fr':>13}"
                 f"{'media':>7}")
    for split in SPLITS:
        counts = card["splits"][split]
        cover = card["coverage"][split]
        lines.append(f"{split:<7}{counts['utterances']:>6}{counts['videos']:>8}"
                     f"{cover['acoustic_utterances']:>10}"
                     f"{cover['visual_utterances_with_frames']:>13}{cover['media_utterances']:>7}")

    for key in ("visual_source", "visual_missing_in_openface_videos", "visual_resampling",
                "text_sources", "media_kinds",
                "split_check", "notes"):
        if key in card:
            lines.append("")
            lines.append(f"{key}: {json.dumps(card[key], indent=2)}")
    lines.append("")
    lines.append("label histogram (label rounded to the nearest integer):")
    lines.append("split  " + "".join(f"{k:>6}" for k in range(-3, 4)))
    for split in SPLITS:
        hist = card["label_histogram"][split]
        lines.append(f"{split:<7}" + "".join(f"{hist[str(k)]:>6}" for k in range(-3, 4)))
    lines.append("")
    for modality, names in data.feature_names.items():
        lines.append(f"{modality} features ({len(names)}): {', '.join(names)}")
    lines.append(f"sources: {len(data.sources)} files with sha256")
    return "\n".join(lines)
