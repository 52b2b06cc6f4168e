"""What-if results: an original and an edited explanation, and how they differ."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pgfnet.explain.record import Explanation
from pgfnet.explain.shapley import MODALITIES

KEY_MODALITIES = ("null", "acoustic", "visual")


def attention_mass(record: Explanation) -> dict[str, dict[str, float]]:
    """Return layer -> key modality -> attention weight on that modality's keys.

    The weight is summed over the modality's keys and averaged over heads and word
    pieces, so the three values of a layer sum to 1. Layers are named by their encoder
    layer index as a string ("3").
    """
    out = {}
    modality_of_key = np.asarray(record.key_modality)
    for index, layer in enumerate(record.fused_layers):
        weights = np.asarray(record.attention[index], dtype=np.float64)
        out[str(layer)] = {
            m: float(weights[..., modality_of_key == m].sum(axis=-1).mean()) for m in KEY_MODALITIES
        }
    return out


def mean_gates(record: Explanation) -> dict[str, float]:
    """Return layer -> gate value averaged over word pieces and channels."""
    return {
        str(layer): float(np.mean(np.asarray(record.gate_tokens[index], dtype=np.float64)))
        for index, layer in enumerate(record.fused_layers)
    }


def compare_explanations(original: Explanation, edited: Explanation) -> dict:
    """Return the differences ``edited - original`` as JSON-compatible values.

    Keys:
        prediction: {"original", "edited", "change"}.
        gate_mean_change: layer -> change of the mean gate.
        gate_token_change: layer -> (T,) per-piece gate change, or None when the word
            pieces differ (an edited transcript).
        attention_mass_change: layer -> key modality -> change of the attention mass.
        attention_change: layer -> mean |change| of every attention weight, or None when
            the shapes differ.
        shapley_change: modality -> change of the Shapley value.
        attribution_total_change: modality -> change of the summed attribution.
        interaction: {"original", "edited"} labels.
        tokens_changed: True when the word pieces differ.
    """
    same_tokens = list(original.tokens) == list(edited.tokens)
    same_shape = np.shape(original.attention) == np.shape(edited.attention)

    gate_original, gate_edited = mean_gates(original), mean_gates(edited)
    mass_original, mass_edited = attention_mass(original), attention_mass(edited)
    layers = [str(layer) for layer in original.fused_layers]

    gate_token_change = {}
    attention_change = {}
    for index, layer in enumerate(layers):
        if same_tokens:
            change = np.asarray(edited.gate_tokens[index], dtype=np.float64) - np.asarray(
                original.gate_tokens[index], dtype=np.float64
            )
            gate_token_change[layer] = change.tolist()
        else:
            gate_token_change[layer] = None
        if same_shape:
            difference = np.asarray(edited.attention[index], dtype=np.float64) - np.asarray(
                original.attention[index], dtype=np.float64
            )
            attention_change[layer] = float(np.abs(difference).mean()) if difference.size else 0.0
        else:
            attention_change[layer] = None

    return {
        "prediction": {
            "original": original.prediction,
            "edited": edited.prediction,
            "change": edited.prediction - original.prediction,
        },
        "gate_mean_change": {layer: gate_edited[layer] - gate_original[layer] for layer in layers},
        "gate_token_change": gate_token_change,
        "attention_mass_change": {
            layer: {m: mass_edited[layer][m] - mass_original[layer][m] for m in KEY_MODALITIES}
            for layer in layers
        },
        "attention_change": attention_change,
        "shapley_change": {m: edited.shapley[m] - original.shapley[m] for m in MODALITIES},
        "attribution_total_change": {
            m: edited.attribution_totals[m] - original.attribution_totals[m] for m in MODALITIES
        },
        "interaction": {"original": original.interaction, "edited": edited.interaction},
        "tokens_changed": not same_tokens,
    }


@dataclass
class WhatIfResult:
    """An utterance explained as it is and under what-if edits.

    Attributes:
        original: the unmodified explanation.
        edited: the explanation with the edits; its ``settings`` name them.
        diff: :func:`compare_explanations` of the two.
    """

    original: Explanation
    edited: Explanation
    diff: dict

    def to_json_dict(self) -> dict:
        """Return both records and the difference as JSON-compatible values."""
        return {
            "original": self.original.to_json_dict(),
            "edited": self.edited.to_json_dict(),
            "diff": self.diff,
        }
