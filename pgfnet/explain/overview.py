"""The per-split overview table: prediction, gates and modality Shapley values per utterance.

Saved as one JSON file with a sha256 of its content, so it loads without pickle and a
damaged or edited file is detected.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pgfnet.explain.shapley import MODALITIES

OVERVIEW_FORMAT_VERSION = 1


def _canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")


@dataclass
class OverviewTable:
    """One row per utterance of a split, from :meth:`Explainer.predict_overview`.

    Shapes use N = utterances and L = fused layers.

    Attributes:
        split: the split name.
        model_id: checksum of the model that computed the table.
        dataset_sha256: sha256 of the dataset file.
        fused_layers: the L encoder layer indices of the gate columns.
        ids, splits: N utterance ids and their splits.
        labels: (N,) true sentiment in [-3, 3].
        predictions: (N,) predicted sentiment.
        gate_means: (N, L) gate value averaged over real word pieces and channels.
        shapley: (N, 3) Shapley values in the order text, acoustic, visual.
        interactions: N labels "dominance", "complement" or "conflict".
        has_visual: (N,) True when the utterance has at least one visual frame.
        has_video: (N,) True when a video (full video or clip) of the utterance exists.
        thresholds: the interaction thresholds used ("min_abs", "min_share").
    """

    split: str
    model_id: str
    dataset_sha256: str
    fused_layers: list[int]
    ids: list[str]
    splits: list[str]
    labels: np.ndarray
    predictions: np.ndarray
    gate_means: np.ndarray
    shapley: np.ndarray
    interactions: list[str]
    has_visual: np.ndarray
    has_video: np.ndarray
    thresholds: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def to_frame(self):
        """Return a pandas DataFrame with one row per utterance.

        Columns: id, split, label, prediction, error (prediction - label), abs_error,
        gate_L<k> for each fused encoder layer k, shapley_text, shapley_acoustic,
        shapley_visual, interaction, has_visual, has_video.
        """
        import pandas as pd

        labels = np.asarray(self.labels, dtype=np.float64)
        predictions = np.asarray(self.predictions, dtype=np.float64)
        columns = {
            "id": list(self.ids),
            "split": list(self.splits),
            "label": labels,
            "prediction": predictions,
            "error": predictions - labels,
            "abs_error": np.abs(predictions - labels),
        }
        gate_means = np.asarray(self.gate_means, dtype=np.float64).reshape(len(self.ids), len(self.fused_layers))
        for index, layer in enumerate(self.fused_layers):
            columns[f"gate_L{layer}"] = gate_means[:, index]
        shapley = np.asarray(self.shapley, dtype=np.float64).reshape(len(self.ids), len(MODALITIES))
        for index, modality in enumerate(MODALITIES):
            columns[f"shapley_{modality}"] = shapley[:, index]
        columns["interaction"] = list(self.interactions)
        columns["has_visual"] = np.asarray(self.has_visual, dtype=bool)
        columns["has_video"] = np.asarray(self.has_video, dtype=bool)
        return pd.DataFrame(columns)

    def to_json_dict(self) -> dict:
        """Return the table as JSON-compatible values, without the checksum."""
        return {
            "format_version": OVERVIEW_FORMAT_VERSION,
            "split": self.split,
            "model_id": self.model_id,
            "dataset_sha256": self.dataset_sha256,
            "fused_layers": [int(k) for k in self.fused_layers],
            "ids": list(self.ids),
            "splits": list(self.splits),
            "labels": np.asarray(self.labels, dtype=np.float64).tolist(),
            "predictions": np.asarray(self.predictions, dtype=np.float64).tolist(),
            "gate_means": np.asarray(self.gate_means, dtype=np.float64).tolist(),
            "shapley": np.asarray(self.shapley, dtype=np.float64).tolist(),
            "interactions": list(self.interactions),
            "has_visual": np.asarray(self.has_visual, dtype=bool).tolist(),
            "has_video": np.asarray(self.has_video, dtype=bool).tolist(),
            "thresholds": dict(self.thresholds),
        }

    def checksum(self) -> str:
        """Return the sha256 of the canonical JSON of :meth:`to_json_dict`."""
        return hashlib.sha256(_canonical_json(self.to_json_dict())).hexdigest()

    def save(self, path: str | Path) -> Path:
        """Write the table and its checksum as one JSON file, atomically; return the path."""
        from pgfnet.io import atomic_write_text

        content = self.to_json_dict()
        content["sha256"] = self.checksum()
        path = Path(path)
        atomic_write_text(path, json.dumps(content))
        return path

    @classmethod
    def from_json_dict(cls, content: dict) -> "OverviewTable":
        """Build a table from :meth:`to_json_dict` output (a "sha256" key is ignored)."""
        version = content.get("format_version")
        if version != OVERVIEW_FORMAT_VERSION:
            raise ValueError(
                f"overview format version {version!r} is not supported (expected "
                f"{OVERVIEW_FORMAT_VERSION}); recompute it with Explainer.predict_overview"
            )
        n, n_layers = len(content["ids"]), len(content["fused_layers"])
        return cls(
            split=content["split"],
            model_id=content["model_id"],
            dataset_sha256=content["dataset_sha256"],
            fused_layers=[int(k) for k in content["fused_layers"]],
            ids=list(content["ids"]),
            splits=list(content["splits"]),
            labels=np.asarray(content["labels"], dtype=np.float64),
            predictions=np.asarray(content["predictions"], dtype=np.float64),
            gate_means=np.asarray(content["gate_means"], dtype=np.float64).reshape(n, n_layers),
            shapley=np.asarray(content["shapley"], dtype=np.float64).reshape(n, len(MODALITIES)),
            interactions=list(content["interactions"]),
            has_visual=np.asarray(content["has_visual"], dtype=bool),
            has_video=np.asarray(content["has_video"], dtype=bool),
            thresholds=dict(content.get("thresholds", {})),
        )

    @classmethod
    def load(cls, path: str | Path) -> "OverviewTable":
        """Read a table written by :meth:`save`.

        Raises FileNotFoundError for a missing file and ValueError when the file is not
        valid JSON or its checksum does not match its content.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"overview file {path} not found: compute it with Explainer.predict_overview")
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"overview file {path} is not valid JSON ({error}): delete it and recompute it") from error
        stored = content.pop("sha256", None)
        table = cls.from_json_dict(content)
        if stored != table.checksum():
            raise ValueError(
                f"overview file {path} failed its sha256 check (stored {stored!r}): "
                "delete it and recompute it"
            )
        return table
