"""Integrated-gradients attributions of one prediction to each modality (Captum).

Text, acoustic and visual inputs are attributed in one call of Captum's
``IntegratedGradients``, along one straight path from the all-absent baseline (see
:mod:`pgfnet.explain.baselines`) to the input. The attributions of all three modalities
together therefore add up to f(input) - f(all absent), the same difference that the
Shapley values split, and Captum's convergence delta measures how far the sum is from it.

The text input is the output of the word-embedding layer, passed to the model as
``inputs_embeds``. This gives the same attributions as Captum's
``LayerIntegratedGradients`` on ``model.word_embeddings`` (the position and token-type
embeddings are added after that layer, so they stay fixed), but it registers no hook on
the shared embedding module: an explanation running in one thread cannot change a forward
pass of another thread.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import IntegratedGradients

from pgfnet.data.batch import Batch
from pgfnet.explain.baselines import text_baseline_ids

logger = logging.getLogger(__name__)


@dataclass
class ModalityAttributions:
    """Integrated-gradients attributions of one utterance.

    Attributes:
        text: (T,) attribution per word piece, summed over the embedding channels.
        acoustic: (D_a,) attribution per acoustic feature, summed over acoustic steps.
        visual: (F, D_v) attribution per visual frame and feature.
        convergence_delta: Captum's delta, sum of all attributions minus
            (f(input) - f(baseline)).
        n_steps: integration steps.
        method: Captum's integration method.
    """

    text: np.ndarray
    acoustic: np.ndarray
    visual: np.ndarray
    convergence_delta: float
    n_steps: int
    method: str

    def totals(self) -> dict[str, float]:
        """Return modality -> sum of its attributions."""
        return {
            "text": float(np.sum(self.text, dtype=np.float64)),
            "acoustic": float(np.sum(self.acoustic, dtype=np.float64)),
            "visual": float(np.sum(self.visual, dtype=np.float64)),
        }


def attribution_shares(totals: Mapping[str, float]) -> dict[str, float]:
    """Return modality -> |total| / sum of |totals| (all 0 when every total is 0)."""
    mass = sum(abs(v) for v in totals.values())
    if mass == 0.0:
        return {m: 0.0 for m in totals}
    return {m: abs(v) / mass for m, v in totals.items()}


def integrated_gradients(
    model: torch.nn.Module,
    batch: Batch,
    *,
    pad_id: int,
    keep_ids: Sequence[int],
    n_steps: int = 32,
    method: str = "gausslegendre",
    skip_modalities: Sequence[str] = (),
    force_gates: Mapping[int, float] | None = None,
    drop_modalities: Sequence[str] = (),
    internal_batch_size: int | None = None,
) -> ModalityAttributions:
    """Attribute one utterance's prediction to its word pieces, acoustic features and frames.

    Args:
        model: a PGF-Net in eval mode.
        batch: one utterance (B = 1), unpadded.
        pad_id, keep_ids: the text baseline (see :func:`text_baseline_ids`).
        n_steps: integration steps; one forward and backward pass of n_steps rows.
        method: Captum's integration method ("gausslegendre", "riemann_trapezoid", ...).
        skip_modalities: modalities left out of the integration path, for example one
            without data; they stay at their input value and get exactly 0 attribution.
        force_gates, drop_modalities: passed to the model unchanged.
        internal_batch_size: Captum's ``internal_batch_size`` (None: all steps at once).

    Returns:
        the attributions; ``text`` has one entry per position of ``batch.input_ids``.
    """
    if len(batch) != 1:
        raise ValueError(f"integrated_gradients explains one utterance at a time, got a batch of {len(batch)}")
    if n_steps < 1:
        raise ValueError(f"invalid n_steps {n_steps}: use a positive number of integration steps")

    active = [m for m in ("text", "acoustic", "visual") if m not in set(skip_modalities)]
    if "visual" in active and batch.visual.shape[1] == 0:
        active.remove("visual")

    embeddings = model.word_embeddings
    with torch.no_grad():
        text_input = embeddings(batch.input_ids)
        text_base = embeddings(text_baseline_ids(batch.input_ids, pad_id, keep_ids))
    inputs = {"text": text_input, "acoustic": batch.acoustic, "visual": batch.visual}
    baselines = {
        "text": text_base,
        "acoustic": torch.zeros_like(batch.acoustic),
        "visual": torch.zeros_like(batch.visual),
    }
    gates = dict(force_gates) if force_gates else None
    dropped = tuple(drop_modalities)

    def forward(*args: torch.Tensor) -> torch.Tensor:
        varying = dict(zip(active, args[: len(active)]))
        attention_mask, fixed_text, acoustic, acoustic_mask, visual, visual_mask, visual_times = args[len(active):]
        output = model(
            None,
            attention_mask,
            varying.get("acoustic", acoustic),
            acoustic_mask,
            varying.get("visual", visual),
            visual_mask,
            visual_times,
            inputs_embeds=varying.get("text", fixed_text),
            force_gates=gates,
            drop_modalities=dropped,
        )
        return output.prediction

    additional = (
        batch.attention_mask,
        text_input,
        batch.acoustic,
        batch.acoustic_mask,
        batch.visual,
        batch.visual_mask,
        batch.visual_times,
    )

    text_attr = np.zeros(batch.input_ids.shape[1], dtype=np.float32)
    acoustic_attr = np.zeros(batch.acoustic.shape[-1], dtype=np.float32)
    visual_attr = np.zeros(tuple(batch.visual.shape[1:]), dtype=np.float32)
    if not active:
        return ModalityAttributions(text_attr, acoustic_attr, visual_attr, 0.0, n_steps, method)

    ig = IntegratedGradients(forward)
    with torch.enable_grad():
        attributions, delta = ig.attribute(
            tuple(inputs[m] for m in active),
            baselines=tuple(baselines[m] for m in active),
            additional_forward_args=additional,
            n_steps=n_steps,
            method=method,
            internal_batch_size=internal_batch_size,
            return_convergence_delta=True,
        )
    by_modality = dict(zip(active, attributions))

    if "text" in by_modality:
        text_attr = by_modality["text"][0].sum(dim=-1).detach().numpy().astype(np.float32)
    if "acoustic" in by_modality:
        acoustic_attr = by_modality["acoustic"][0].sum(dim=0).detach().numpy().astype(np.float32)
    if "visual" in by_modality:
        visual_attr = by_modality["visual"][0].detach().numpy().astype(np.float32)
    return ModalityAttributions(
        text=text_attr,
        acoustic=acoustic_attr,
        visual=visual_attr,
        convergence_delta=float(delta.reshape(-1)[0]),
        n_steps=n_steps,
        method=method,
    )
