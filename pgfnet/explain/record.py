"""The explanation record: everything the dashboard shows for one utterance.

A record is serialised as a JSON document (scalars, strings, labels) plus an ``.npz``
file of arrays, loaded with ``allow_pickle=False``. The dashboard reads only records; it
never calls into the model.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

RECORD_FORMAT_VERSION = 1

# Completeness bound of integrated gradients, in sentiment units:
# |convergence delta| <= IG_DELTA_ABSOLUTE + IG_DELTA_RELATIVE * |f(x) - f(baseline)|.
IG_DELTA_ABSOLUTE = 0.002
IG_DELTA_RELATIVE = 0.01

# Fields stored in the .npz part; everything else goes to JSON.
ARRAY_FIELDS = (
    "attention",
    "gate_tokens",
    "gate_channels",
    "attr_text",
    "attr_acoustic",
    "attr_visual",
    "visual_times",
)


@dataclass
class Explanation:
    """One utterance's prediction and every view of why the model made it.

    Shapes: L = fused layers, H = heads, T = word pieces (with [CLS] and [SEP]),
    K = keys, C = hidden channels, F = visual frames, D_a = 73, D_v = 22.

    Attributes:
        id: utterance id, e.g. "03bSnISJMiM_1".
        split: "train", "valid", "test", or "custom" for an edited transcript.
        text: the transcript that was explained.
        label: the true sentiment in [-3, 3], or None for edited input.
        prediction: the model's score in [-3, 3].
        tokens: the T word pieces.
        words: the words the pieces merge into.
        token_word: (T,) index into ``words`` for each piece, -1 for [CLS], [SEP].
        text_truncated: True when the transcript lost pieces to the maximum length.
        fused_layers: the 0-based encoder layer of each of the L fused layers.
        key_labels: K labels, e.g. "null", "acoustic", "visual 1.20 s".
        key_modality: K modality names ("null", "acoustic", "visual").
        attention: (L, H, T, K) cross-attention weights; rows sum to 1.
        gate_tokens: (L, T) gate value per token, mean over channels.
        gate_channels: (L, C) gate value per channel, mean over real tokens.
        attr_text: (T,) integrated-gradients attribution per word piece.
        attr_acoustic: (D_a,) attribution per acoustic feature.
        attr_visual: (F, D_v) attribution per visual frame and feature.
        visual_times: (F,) frame times in seconds from the utterance start.
        acoustic_feature_names, visual_feature_names: feature names for the bars.
        attribution_totals: modality -> summed attribution.
        attribution_shares: modality -> |total| / sum of |totals|.
        convergence_delta: Captum's convergence delta of the integrated gradients.
        n_steps: integrated-gradients steps.
        baselines: modality -> a sentence describing the baseline used.
        shapley: modality -> exact Shapley value.
        coalition_values: coalition name (e.g. "text+visual", "none") -> prediction.
        interaction: "dominance", "complement" or "conflict".
        notes: human-readable notes (truncation, missing frames, forced gates...).
        settings: what-if settings that produced this record (forced gates, dropped
            modalities, edited text); empty for an unmodified utterance.
        model_id: checksum of the checkpoint that produced the record.
        dominant_modality: the modality with the largest |Shapley value|.
        interaction_thresholds: the thresholds behind ``interaction`` ("min_abs" in
            sentiment units, "min_share" of the total |Shapley| mass).
        ig_method: Captum's integration method for the attributions.
        dataset_sha256: sha256 of the dataset file the utterance came from.
    """

    id: str
    split: str
    text: str
    label: float | None
    prediction: float
    tokens: list[str]
    words: list[str]
    token_word: list[int]
    text_truncated: bool
    fused_layers: list[int]
    key_labels: list[str]
    key_modality: list[str]
    attention: np.ndarray
    gate_tokens: np.ndarray
    gate_channels: np.ndarray
    attr_text: np.ndarray
    attr_acoustic: np.ndarray
    attr_visual: np.ndarray
    visual_times: np.ndarray
    acoustic_feature_names: list[str]
    visual_feature_names: list[str]
    attribution_totals: dict[str, float]
    attribution_shares: dict[str, float]
    convergence_delta: float
    n_steps: int
    baselines: dict[str, str]
    shapley: dict[str, float]
    coalition_values: dict[str, float]
    interaction: str
    notes: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    model_id: str = ""
    dominant_modality: str = ""
    interaction_thresholds: dict[str, float] = field(default_factory=dict)
    ig_method: str = ""
    dataset_sha256: str = ""

    @property
    def ig_within_bound(self) -> bool:
        """Whether the convergence delta meets the completeness bound above, so that the
        attributions add up to f(x) - f(baseline). The baseline value is the "none"
        coalition, which uses the same all-absent inputs as the integration path."""
        change = self.coalition_values["text+acoustic+visual"] - self.coalition_values["none"]
        return abs(self.convergence_delta) <= IG_DELTA_ABSOLUTE + IG_DELTA_RELATIVE * abs(change)

    def to_json_dict(self) -> dict:
        """Return every field as JSON-compatible values (arrays as nested lists)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.tolist() if isinstance(value, np.ndarray) else value
        out["format_version"] = RECORD_FORMAT_VERSION
        return out

    def metadata_dict(self) -> dict:
        """Return the non-array fields (the JSON half of the on-disk pair)."""
        return {k: v for k, v in self.to_json_dict().items() if k not in ARRAY_FIELDS}

    def arrays_bytes(self) -> bytes:
        """Return the array fields as the bytes of an uncompressed .npz file."""
        buffer = io.BytesIO()
        np.savez(buffer, **{name: np.asarray(getattr(self, name)) for name in ARRAY_FIELDS})
        return buffer.getvalue()

    @classmethod
    def from_parts(cls, metadata: dict, arrays: dict[str, np.ndarray]) -> "Explanation":
        """Build a record from its JSON half and its arrays."""
        version = metadata.get("format_version")
        if version != RECORD_FORMAT_VERSION:
            raise ValueError(
                f"explanation format version {version!r} is not supported "
                f"(expected {RECORD_FORMAT_VERSION}); recompute it with `pgfnet precompute`"
            )
        values = {k: v for k, v in metadata.items() if k != "format_version"}
        for name in ARRAY_FIELDS:
            values[name] = np.asarray(arrays[name])
        return cls(**values)

    @classmethod
    def from_json_dict(cls, data: dict) -> "Explanation":
        """Inverse of :meth:`to_json_dict`."""
        arrays = {name: np.asarray(data[name], dtype=np.float32) for name in ARRAY_FIELDS}
        return cls.from_parts({k: v for k, v in data.items() if k not in ARRAY_FIELDS}, arrays)

    def save(self, stem: str | Path) -> tuple[Path, Path]:
        """Write ``<stem>.json`` and ``<stem>.npz`` atomically; return both paths."""
        from pgfnet.io import atomic_write_bytes, atomic_write_text

        stem = Path(stem)
        json_path, npz_path = stem.with_suffix(".json"), stem.with_suffix(".npz")
        atomic_write_bytes(npz_path, self.arrays_bytes())
        atomic_write_text(json_path, json.dumps(self.metadata_dict(), indent=1))
        return json_path, npz_path

    @classmethod
    def load(cls, stem: str | Path) -> "Explanation":
        """Read a record written by :meth:`save` (no pickle is ever loaded)."""
        stem = Path(stem)
        metadata = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))
        with np.load(stem.with_suffix(".npz"), allow_pickle=False) as arrays:
            return cls.from_parts(metadata, {name: arrays[name] for name in ARRAY_FIELDS})

