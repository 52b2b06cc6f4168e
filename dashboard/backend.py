"""The data source of the dashboard pages: records, tables and files behind one object.

:class:`DashboardBackend` wraps a loaded dataset, an explanation cache on disk and an
explainer that is loaded only when a record is not cached yet. Pages call its methods
and never touch the model. One backend is shared by every browser session
(``st.cache_resource``), so every method is safe to call from several threads. Model
work runs under one lock, and a record computed for one session is written to the cache
and read back by the others.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from pgfnet.explain.record import Explanation
from pgfnet.paths import validate_utterance_id

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

# MOSI results of PGF-Net reported by Wen & Tan 2025 (arXiv 2508.15852). Only the
# metrics that paper reports are listed. They use MMSA's names and MMSA's units, which
# give accuracies and F1 as fractions, so the paper's 86.9 % F1 is 0.869.
PAPER_METRICS = {"MAE": 0.691, "Non0_F1_score": 0.869}
METRIC_ORDER = ("MAE", "Corr", "Mult_acc_7", "Mult_acc_5", "Has0_acc_2", "Has0_F1_score",
                "Non0_acc_2", "Non0_F1_score")
OVERVIEW_SPLIT = "test"
TOTAL_KEYS = ("total", "total_trainable", "total_frozen")


class ExplainerLike(Protocol):
    """The part of ``pgfnet.explain.engine.Explainer`` the dashboard calls."""

    def explain(self, utterance_id: str) -> Explanation: ...

    def what_if(self, utterance_id: str, *, text: str | None = None,
                drop_modalities: tuple[str, ...] = (),
                force_gates: dict[int, float] | None = None) -> Any: ...

    def predict_overview(self, split: str, progress: Progress | None = None) -> Any: ...


class CacheLike(Protocol):
    """The part of ``pgfnet.explain.cache.ExplanationCache`` the dashboard calls."""

    def get(self, utterance_id: str) -> Explanation | None: ...

    def put(self, record: Explanation) -> Any: ...


# An ExplanationCache also stores overview tables (overview_path, load_overview,
# save_overview); the backend uses them when present, so that tables written by
# `pgfnet precompute` are read here.

@dataclass
class ModelCard:
    """The files of a checkpoint folder that the Model card page shows.

    Attributes:
        metrics: MMSA metric name -> test value (``metrics.json``); empty when absent.
        history: one row per epoch (``history.json``), or None when absent.
        info: ``info.json`` as stored (parameter breakdown and run facts).
        config: ``config.json`` as stored.
        data_card: the dataset's card.
        missing: names of the expected files that were not found.
    """

    metrics: dict[str, float]
    history: pd.DataFrame | None
    info: dict[str, Any]
    config: dict[str, Any]
    data_card: dict[str, Any]
    missing: list[str] = field(default_factory=list)


@dataclass
class WhatIfView:
    """An original record, its edited counterpart and the engine's summary of changes."""

    original: Explanation
    edited: Explanation
    diff: dict[str, Any]


def read_json(path: Path) -> Any:
    """Return the parsed JSON at ``path``; ValueError naming the file when invalid."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); restore it from the "
                         "checkpoint or retrain") from error


def history_frame(history: Any) -> pd.DataFrame:
    """Return a per-epoch DataFrame from ``history.json``.

    Accepts a list of per-epoch dicts, a dict of equal-length lists, or a dict with an
    ``"epochs"`` list of dicts.
    """
    if isinstance(history, dict) and isinstance(history.get("epochs"), list):
        history = history["epochs"]
    if isinstance(history, list):
        return pd.json_normalize(history, sep="_")
    if isinstance(history, dict):
        lists = {k: v for k, v in history.items() if isinstance(v, list)}
        return pd.DataFrame(lists)
    raise ValueError(f"invalid history.json: it contains a {type(history).__name__}, but a "
                     "list of per-epoch objects or an object of per-metric lists is expected")


def fused_layers_of(config: dict[str, Any], counts: dict[str, int]) -> list[int]:
    """Return the fused encoder layers: from the config, else from "fusion.<k>.*" parts."""
    if config.get("fusion_layers"):
        return sorted(int(k) for k in config["fusion_layers"])
    found = {int(name.split(".")[1]) for name in counts
             if name.startswith("fusion.") and name.split(".")[1].isdigit()}
    return sorted(found)


def parameter_counts(info: dict[str, Any]) -> dict[str, int]:
    """Return component -> trainable parameter count from ``info.json``.

    Reads the mapping under "parameters" (what training writes: parts such as "lora",
    "fusion.<layer>.gate", "head") or "trainable_parameters"; the totals
    ("total_trainable", "total_frozen", "total") are left out.
    """
    for key in ("parameters", "trainable_parameters"):
        value = info.get(key)
        if isinstance(value, dict):
            counts = {k: int(v) for k, v in value.items()
                      if isinstance(v, (int, float)) and not isinstance(v, bool)
                      and k not in TOTAL_KEYS}
            if counts:
                return counts
    return {}


class DashboardBackend:
    """Records, tables and files for the pages, shared safely across sessions.

    Args:
        data: a loaded ``pgfnet.data.format.MosiData``.
        checkpoint_dir: the checkpoint folder (``metrics.json``, ``history.json``...).
        explainer_factory: builds the explainer on first need (loading a model takes
            seconds, so a backend whose records are all cached never loads it).
        cache: the explanation cache, or None to keep records in memory only.
        table_dir: folder for cached overview tables (created on first write).
        model_id: id of the checkpoint, part of every cache key.
        clip_dir: folder for cut video clips (default ``table_dir / "clips"``).
    """

    def __init__(self, data: Any, checkpoint_dir: Path,
                 explainer_factory: Callable[[], ExplainerLike], cache: CacheLike | None,
                 table_dir: Path, model_id: str, clip_dir: Path | None = None):
        self.data = data
        self.clip_dir = Path(clip_dir) if clip_dir is not None else Path(table_dir) / "clips"
        self.checkpoint_dir = Path(checkpoint_dir)
        self.model_id = model_id
        self.table_dir = Path(table_dir)
        self._explainer_factory = explainer_factory
        self._explainer: ExplainerLike | None = None
        self._cache = cache
        self._memory: dict[str, Explanation] = {}
        # Model calls (forward passes with hooks, forced gates) are not thread-safe.
        self._model_lock = threading.RLock()
        self._table_lock = threading.Lock()
        self._catalog: pd.DataFrame | None = None
        self._overview: dict[str, pd.DataFrame] = {}

    # Model ---------------------------------------------------------------------------

    def explainer(self) -> ExplainerLike:
        """Return the explainer, loading it on first call."""
        with self._model_lock:
            if self._explainer is None:
                logger.info("loading the explainer for checkpoint %s", self.checkpoint_dir)
                self._explainer = self._explainer_factory()
            return self._explainer

    # Utterances ----------------------------------------------------------------------

    def catalog(self) -> pd.DataFrame:
        """Return one row per utterance: id, video_id, split, label, text, n_frames,
        has_visual, has_video, media_kind, and prediction/error where the overview of
        that split has been computed (NaN elsewhere)."""
        if self._catalog is None:
            rows = []
            for u in self.data.utterances:
                kind = u.media.kind if u.media is not None else ""
                rows.append({"id": u.id, "video_id": u.video_id, "split": u.split,
                             "label": float(u.label), "text": u.text,
                             "n_frames": int(u.n_frames), "has_visual": u.n_frames > 0,
                             "has_video": kind in ("full_video", "clip"), "media_kind": kind})
            self._catalog = pd.DataFrame(rows)
        frame = self._catalog.copy()
        frame["prediction"] = np.nan
        frame["error"] = np.nan
        for table in self._overview.values():
            aligned = table.set_index("id")
            mask = frame["id"].isin(aligned.index)
            frame.loc[mask, "prediction"] = frame.loc[mask, "id"].map(aligned["prediction"])
            frame.loc[mask, "error"] = frame.loc[mask, "id"].map(aligned["error"])
        return frame

    def utterance(self, utterance_id: str) -> Any:
        """Return the dataset's Utterance for ``utterance_id`` (KeyError when absent)."""
        return self.data.utterances[self.data.index_of(validate_utterance_id(utterance_id))]

    def visual_frames(self, utterance_id: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Return raw frames (F, D_v), their times (F,) in seconds from the utterance
        start, and the D_v feature names."""
        frames, times = self.data.visual(self.data.index_of(utterance_id), normalized=False)
        return frames, times, list(self.data.feature_names["visual"])

    def playable_media(self, utterance_id: str):
        """Return the utterance's playable media (a clip cut once into ``clip_dir``), or
        None when it has no media source. Raises ``dashboard.media.ClipError`` when the
        source is missing, truncated or corrupt."""
        from dashboard.media import prepare_media

        utterance = self.utterance(utterance_id)
        if utterance.media is None:
            return None
        return prepare_media(utterance.media, utterance_id, self.clip_dir)

    # Explanations --------------------------------------------------------------------

    def cached_explanation(self, utterance_id: str) -> Explanation | None:
        """Return the cached record of ``utterance_id``, or None (never computes)."""
        validate_utterance_id(utterance_id)
        record = self._memory.get(utterance_id)
        if record is None and self._cache is not None:
            record = self._cache.get(utterance_id)
            if record is not None:
                self._memory[utterance_id] = record
        return record

    def explanation(self, utterance_id: str) -> Explanation:
        """Return the record of ``utterance_id``, computing and caching it on a miss.

        Two sessions that miss at the same time compute it once: the second waits for
        the lock and then finds the first one's record.
        """
        record = self.cached_explanation(utterance_id)
        if record is not None:
            return record
        self.utterance(utterance_id)
        with self._model_lock:
            record = self.cached_explanation(utterance_id)
            if record is not None:
                return record
            logger.info("explaining %s live (not in the cache)", utterance_id)
            record = self.explainer().explain(utterance_id)
            if self._cache is not None:
                self._cache.put(record)
            self._memory[utterance_id] = record
            return record

    def what_if(self, utterance_id: str, *, text: str | None = None,
                drop_modalities: tuple[str, ...] = (),
                force_gates: dict[int, float] | None = None) -> WhatIfView:
        """Run the explainer on an edited input; the original record comes from the cache.

        Args:
            text: replacement transcript, or None to keep the original.
            drop_modalities: nonverbal modalities ("acoustic", "visual") to mask; pass
                ``text=""`` to remove the text.
            force_gates: fused encoder layer -> gate value in [0, 1] to force.
        """
        self.utterance(utterance_id)
        with self._model_lock:
            result = self.explainer().what_if(utterance_id, text=text,
                                              drop_modalities=tuple(drop_modalities),
                                              force_gates=force_gates or None)
        diff = getattr(result, "diff", {}) or {}
        return WhatIfView(original=result.original, edited=result.edited,
                          diff=diff if isinstance(diff, dict) else {"diff": diff})

    # Overview ------------------------------------------------------------------------

    def overview_path(self, split: str = OVERVIEW_SPLIT) -> Path:
        """Return the file that caches the overview table of ``split``.

        With an ``ExplanationCache`` this is the cache's own overview file, which
        ``pgfnet precompute`` also writes; without one it is a CSV in ``table_dir``.
        """
        if self._cache is not None and hasattr(self._cache, "overview_path"):
            return Path(self._cache.overview_path(split))
        sha = str(getattr(self.data, "sha256", "nodata"))[:16]
        return self.table_dir / f"overview_{self.model_id[:16]}_{sha}_{split}.csv"

    def _read_overview(self, split: str) -> pd.DataFrame | None:
        if self._cache is not None and hasattr(self._cache, "load_overview"):
            table = self._cache.load_overview(split)
            return None if table is None else table.to_frame()
        path = self.overview_path(split)
        if not path.is_file():
            return None
        try:
            return pd.read_csv(path, dtype={"id": str, "split": str, "interaction": str})
        except (OSError, ValueError, pd.errors.ParserError) as error:
            logger.warning("ignoring unreadable overview cache %s (%s); recomputing", path, error)
            return None

    def _write_overview(self, table: Any, frame: pd.DataFrame) -> None:
        if self._cache is not None and hasattr(self._cache, "save_overview"):
            path = self._cache.save_overview(table)
        else:
            from pgfnet.io import atomic_write_text

            path = self.overview_path(frame["split"].iloc[0] if len(frame) else OVERVIEW_SPLIT)
            atomic_write_text(path, frame.to_csv(index=False))
        logger.info("cached the overview table (%d rows) at %s", len(frame), path)

    def cached_overview(self, split: str = OVERVIEW_SPLIT) -> pd.DataFrame | None:
        """Return the overview table of ``split`` if memory or disk has it, else None."""
        if split not in self._overview:
            frame = self._read_overview(split)
            if frame is None:
                return None
            self._overview[split] = frame
        return self._overview[split]

    def overview(self, split: str = OVERVIEW_SPLIT,
                 progress: Progress | None = None) -> pd.DataFrame:
        """Return the overview table of ``split``, computing and caching it on a miss.

        Columns: id, split, label, prediction, error, gate_L<k> per fused layer,
        shapley_text, shapley_acoustic, shapley_visual, interaction, has_visual, has_video.
        ``progress(done, total)`` is called while the table is computed. Concurrent
        callers compute it once.
        """
        frame = self.cached_overview(split)
        if frame is not None:
            return frame
        with self._table_lock:
            frame = self.cached_overview(split)
            if frame is not None:
                return frame
            with self._model_lock:
                table = self.explainer().predict_overview(split, progress=progress)
            frame = table.to_frame()
            self._write_overview(table, frame)
            self._overview[split] = frame
            return frame

    # Checkpoint files ----------------------------------------------------------------

    def metrics(self) -> dict[str, float]:
        """Return MMSA's metrics from ``metrics.json`` (name -> test value); empty when absent."""
        path = self.checkpoint_dir / "metrics.json"
        if not path.is_file():
            return {}
        values = read_json(path)
        if isinstance(values, dict) and isinstance(values.get("test"), dict):
            values = values["test"]
        # Only MMSA's metrics: the file also stores bookkeeping such as "n" and "split".
        return {k: float(values[k]) for k in METRIC_ORDER
                if isinstance(values.get(k), (int, float))}

    def model_card(self) -> ModelCard:
        """Return the checkpoint's metrics, history, info and config plus the data card."""
        missing = [name for name in ("metrics.json", "history.json", "info.json", "config.json")
                   if not (self.checkpoint_dir / name).is_file()]
        history_path = self.checkpoint_dir / "history.json"
        info_path = self.checkpoint_dir / "info.json"
        config_path = self.checkpoint_dir / "config.json"
        return ModelCard(
            metrics=self.metrics(),
            history=history_frame(read_json(history_path)) if history_path.is_file() else None,
            info=read_json(info_path) if info_path.is_file() else {},
            config=read_json(config_path) if config_path.is_file() else {},
            data_card=dict(getattr(self.data, "card", {}) or {}),
            missing=missing,
        )


def metrics_table(metrics: dict[str, float]) -> pd.DataFrame:
    """Return rows (metric, this checkpoint, paper) in MMSA order.

    The paper column is text: the reported value, or "" where the paper reports none,
    so that no number is shown that the paper does not give.
    """
    names = [m for m in METRIC_ORDER if m in metrics] + sorted(set(metrics) - set(METRIC_ORDER))
    return pd.DataFrame({
        "metric": names,
        "this checkpoint": [metrics[m] for m in names],
        "paper (Wen & Tan 2025)": [f"{PAPER_METRICS[m]:g}" if m in PAPER_METRICS else ""
                                   for m in names],
    })


def most_similar_gates(frame: pd.DataFrame, utterance_id: str, k: int = 5) -> pd.DataFrame:
    """Return the ``k`` rows whose per-layer mean gates are closest to ``utterance_id``'s.

    Distance is Euclidean over the ``gate_L<k>`` columns; the utterance itself is left
    out. Raises KeyError when the id is not in ``frame``.
    """
    columns = [c for c in frame.columns if c.startswith("gate_L")]
    rows = frame.set_index("id")
    if utterance_id not in rows.index:
        raise KeyError(f"utterance id {utterance_id!r} is not in the overview table; "
                       "choose one from the test split")
    target = rows.loc[utterance_id, columns].to_numpy(dtype=float)
    others = rows.drop(index=utterance_id)
    distance = np.linalg.norm(others[columns].to_numpy(dtype=float) - target, axis=1)
    result = others.assign(gate_distance=distance).sort_values("gate_distance").head(k)
    return result.reset_index()[["id", "gate_distance", "label", "prediction", *columns]]


def filter_catalog(frame: pd.DataFrame, *, query: str = "", splits: tuple[str, ...] = (),
                   label_range: tuple[float, float] = (-3.0, 3.0),
                   min_abs_error: float = 0.0, has_video: bool = False,
                   has_visual: bool = False) -> pd.DataFrame:
    """Return the catalog rows that pass every filter.

    ``query`` matches the id or the transcript, case-insensitively and literally (no
    regular expression). ``min_abs_error`` > 0 keeps only rows with a prediction whose
    |error| is at least that value.
    """
    mask = pd.Series(True, index=frame.index)
    if query.strip():
        needle = query.strip().lower()
        mask &= (frame["id"].str.lower().str.contains(needle, regex=False)
                 | frame["text"].str.lower().str.contains(needle, regex=False))
    if splits:
        mask &= frame["split"].isin(splits)
    mask &= frame["label"].between(label_range[0], label_range[1])
    if min_abs_error > 0:
        mask &= frame["error"].abs() >= min_abs_error
    if has_video:
        mask &= frame["has_video"]
    if has_visual:
        mask &= frame["has_visual"]
    return frame[mask]


@dataclass(frozen=True)
class TourStep:
    """One stop of the demo tour: an utterance, a title and a caption for the audience."""

    id: str
    title: str
    caption: str


def tour_steps(frame: pd.DataFrame) -> list[TourStep]:
    """Choose the demo-tour utterances from an overview table, without repeats.

    Stops: a clearly positive and a clearly negative utterance the model gets right,
    the largest miss, the strongest reliance on the visual stream, a conflict between
    modalities, and the lowest mean gate (the most nonverbal mixing). A stop whose
    condition no row meets is left out. Each caption gives the reason for the choice
    and the utterance's numbers from the table.
    """
    frame = frame.reset_index(drop=True)
    gates = frame[[c for c in frame.columns if c.startswith("gate_L")]].mean(axis=1)
    shapley = frame[[f"shapley_{m}" for m in ("text", "acoustic", "visual")]]
    visual_share = shapley["shapley_visual"].abs() / shapley.abs().sum(axis=1).replace(0, np.nan)
    candidates = [
        ("A clear positive, predicted well", frame[frame["label"] >= 1.5]["error"].abs(),
         "Chosen as the utterance labelled +1.5 or more with the smallest error."),
        ("A clear negative, predicted well", frame[frame["label"] <= -1.5]["error"].abs(),
         "Chosen as the utterance labelled -1.5 or less with the smallest error."),
        ("The largest miss", -frame["error"].abs(),
         "Chosen as the utterance with the largest error in the split."),
        ("The most reliance on the face", -visual_share.dropna(),
         "Chosen as the utterance whose visual Shapley value has the largest share."),
        ("Modalities in conflict", frame[frame["interaction"] == "conflict"]["error"].abs(),
         "Chosen as the best-predicted utterance whose modalities push the score in "
         "opposite directions."),
        ("The most nonverbal mixing", gates,
         "Chosen as the utterance with the lowest mean gate, where the fused context "
         "gets its largest weight (1 - gate), however small that weight is."),
    ]
    steps, used = [], set()
    for title, scores, reason in candidates:
        for index in scores.sort_values().index:
            utterance_id = str(frame.loc[index, "id"])
            if utterance_id in used:
                continue
            used.add(utterance_id)
            row = frame.loc[index]
            largest = max(("text", "acoustic", "visual"),
                          key=lambda m: abs(float(row[f"shapley_{m}"])))
            facts = (f" Model {row['prediction']:+.2f}, annotators {row['label']:+.2f}. "
                     f"Mean gate {gates[index]:.4f} (1 keeps the text state). Largest "
                     f"Shapley value: {largest} ({row[f'shapley_{largest}']:+.2f}).")
            steps.append(TourStep(utterance_id, title, reason + facts))
            break
    return steps
