"""The typed output of a PGF-Net forward pass."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class PGFNetOutput:
    """What one forward pass returns.

    Shapes use B = batch, T = word pieces, K = keys, H = heads, C = hidden channels,
    L = number of fused layers.

    Attributes:
        prediction: (B,) sentiment scores in [-3, 3].
        fused_layers: the 0-based encoder layer index of each fused layer, length L.
        attentions: L tensors of shape (B, H, T, K): cross-attention weights of the text
            tokens over the nonverbal keys. Each row sums to 1 over unmasked keys and
            masked keys get weight 0. Keys are ordered [null, acoustic steps...,
            visual frames...] (see ``key_modality``).
        gates: L tensors of shape (B, T, C) with values in (0, 1): the weight of the
            original text state; 1 - gate goes to the fused context. A forced gate shows
            the forced value.
        key_modality: (K,) list of "null", "acoustic" or "visual" for each key.
        key_mask: (B, K) bool, True for keys an utterance may attend to.
        pooled: (B, C) the [CLS] representation fed to the head.
    """

    prediction: torch.Tensor
    fused_layers: list[int]
    attentions: list[torch.Tensor]
    gates: list[torch.Tensor]
    key_modality: list[str]
    key_mask: torch.Tensor
    pooled: torch.Tensor
