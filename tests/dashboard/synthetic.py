"""Hand-made explanation records and overview tables for dashboard tests.

The values follow every invariant of :class:`pgfnet.explain.record.Explanation`
(attention rows sum to 1, gates in (0, 1), Shapley values add up to
f(all) - f(none)) so that chart code is tested against realistic shapes without a model.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from pgfnet.explain.record import Explanation

FUSED_LAYERS = [3, 4, 5]
N_HEADS = 4
ACOUSTIC_NAMES = [f"acoustic_{i:02d}" for i in range(73)]
VISUAL_NAMES = [
    "AU01_r", "AU02_r", "AU04_r", "AU05_r", "AU06_r", "AU07_r", "AU09_r", "AU10_r",
    "AU12_r", "AU14_r", "AU15_r", "AU17_r", "AU20_r", "AU23_r", "AU25_r", "AU26_r",
    "AU45_r", "gaze_angle_x", "gaze_angle_y", "pose_Rx", "pose_Ry", "pose_Rz",
]
MODALITIES = ("text", "acoustic", "visual")


def _coalitions(values: dict[str, float], base: float) -> dict[str, float]:
    """Return additive coalition predictions, so the Shapley values equal ``values``."""
    out = {"none": base}
    for size in (1, 2, 3):
        for combo in itertools.combinations(MODALITIES, size):
            out["+".join(combo)] = base + sum(values[m] for m in combo)
    return out


def make_explanation(
    utterance_id: str = "03bSnISJMiM_1",
    text: str = "this movie was really good",
    *,
    seed: int = 0,
    label: float | None = 1.5,
    n_frames: int = 6,
    split: str = "test",
) -> Explanation:
    """Build a consistent record for ``text`` (one word piece per word)."""
    rng = np.random.default_rng(seed)
    words = text.split()
    tokens = ["[CLS]", *words, "[SEP]"]
    token_word = [-1, *range(len(words)), -1]
    n_tokens = len(tokens)

    key_labels = ["null", "acoustic"] + [f"visual {0.4 * i:.2f} s" for i in range(n_frames)]
    key_modality = ["null", "acoustic"] + ["visual"] * n_frames
    logits = rng.normal(size=(len(FUSED_LAYERS), N_HEADS, n_tokens, len(key_labels)))
    attention = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)

    gate_tokens = 1 / (1 + np.exp(-rng.normal(1.5, 1.0, size=(len(FUSED_LAYERS), n_tokens))))
    gate_channels = 1 / (1 + np.exp(-rng.normal(1.5, 1.0, size=(len(FUSED_LAYERS), 16))))

    shapley = {"text": float(rng.normal(1.0, 0.5)), "acoustic": float(rng.normal(0, 0.1)),
               "visual": float(rng.normal(0, 0.3))}
    base = 0.1
    coalition_values = _coalitions(shapley, base)
    prediction = coalition_values["text+acoustic+visual"]

    attr_text = rng.normal(size=n_tokens)
    attr_acoustic = rng.normal(scale=0.05, size=73)
    attr_visual = rng.normal(scale=0.02, size=(n_frames, 22))
    totals = {"text": float(attr_text.sum()), "acoustic": float(attr_acoustic.sum()),
              "visual": float(attr_visual.sum())}
    norm = sum(abs(v) for v in totals.values())
    shares = {k: abs(v) / norm for k, v in totals.items()}

    return Explanation(
        id=utterance_id, split=split, text=text, label=label, prediction=float(prediction),
        tokens=tokens, words=words, token_word=token_word, text_truncated=False,
        fused_layers=list(FUSED_LAYERS), key_labels=key_labels, key_modality=key_modality,
        attention=attention.astype(np.float32), gate_tokens=gate_tokens.astype(np.float32),
        gate_channels=gate_channels.astype(np.float32), attr_text=attr_text.astype(np.float32),
        attr_acoustic=attr_acoustic.astype(np.float32),
        attr_visual=attr_visual.astype(np.float32),
        visual_times=(0.4 * np.arange(n_frames)).astype(np.float32),
        acoustic_feature_names=list(ACOUSTIC_NAMES), visual_feature_names=list(VISUAL_NAMES),
        attribution_totals=totals, attribution_shares=shares,
        convergence_delta=float(rng.normal(scale=1e-3)), n_steps=32,
        baselines={"text": "[PAD] embeddings", "acoustic": "zeros", "visual": "zeros"},
        shapley=shapley, coalition_values=coalition_values, interaction="dominance",
        notes=[] if n_frames else ["no visual frames for this utterance"],
        settings={}, model_id="synthetic",
    )


def make_overview_frame(n: int = 40, seed: int = 0) -> pd.DataFrame:
    """Build an overview table with the columns of ``OverviewTable.to_frame()``."""
    rng = np.random.default_rng(seed)
    label = np.round(rng.uniform(-3, 3, size=n), 1)
    prediction = np.clip(label + rng.normal(scale=0.8, size=n), -3, 3)
    frame = pd.DataFrame({
        "id": [f"vid{i // 10:02d}_{i % 10 + 1}" for i in range(n)],
        "split": "test",
        "label": label,
        "prediction": prediction,
        "error": prediction - label,
    })
    for layer in FUSED_LAYERS:
        frame[f"gate_L{layer}"] = rng.uniform(0.5, 1.0, size=n)
    frame["shapley_text"] = rng.normal(1.0, 0.5, size=n)
    frame["shapley_acoustic"] = rng.normal(0, 0.1, size=n)
    frame["shapley_visual"] = rng.normal(0, 0.3, size=n)
    frame["interaction"] = rng.choice(["dominance", "complement", "conflict"], size=n)
    frame["has_visual"] = rng.uniform(size=n) > 0.5
    frame["has_video"] = False
    return frame
