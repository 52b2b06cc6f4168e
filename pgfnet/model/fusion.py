"""The nonverbal key encoder and one gated fusion layer of PGF-Net.

Shapes use B = batch, T = word pieces, A = acoustic steps, F = visual frames,
K = 1 + A + F keys, C = backbone hidden size, D = fusion width, H = fusion heads.
"""

from __future__ import annotations

import math

import torch
from torch import nn

MODALITIES = ("acoustic", "visual")


def sinusoidal_time_encoding(times: torch.Tensor, width: int, max_seconds: float) -> torch.Tensor:
    """Encode times in seconds as sin/cos features.

    Args:
        times: (B, F) seconds from the utterance start.
        width: output width; must be even.
        max_seconds: the maximum period of the encoding, in seconds.

    Returns:
        (B, F, width) float tensor with values in [-1, 1].
    """
    half = width // 2
    # Periods run geometrically from 0.1 s up to max_seconds, so both frame-level
    # motion and utterance-level position are resolved.
    periods = torch.logspace(
        math.log10(0.1), math.log10(max_seconds), half, device=times.device, dtype=torch.float32
    )
    angles = 2 * math.pi * times.float().unsqueeze(-1) / periods
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1).to(times.dtype)


class NonverbalEncoder(nn.Module):
    """Project acoustic and visual features into fusion keys, shared by every fused layer.

    Each modality gets a linear projection to width D plus a learned modality embedding.
    Visual frames also get a sinusoidal time encoding, projected to width D. One learned
    null key comes first in every utterance and is never masked, so that an utterance
    without acoustic or visual input still has a key to attend to.
    """

    def __init__(
        self,
        acoustic_dim: int,
        visual_dim: int,
        width: int,
        time_encoding_max_seconds: float,
        dropout: float,
        modality_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.width = width
        self.modality_dropout = modality_dropout
        self.time_encoding_max_seconds = time_encoding_max_seconds
        self.acoustic_projection = nn.Linear(acoustic_dim, width)
        self.visual_projection = nn.Linear(visual_dim, width)
        self.time_projection = nn.Linear(32, width, bias=False)
        self.modality_embedding = nn.Embedding(len(MODALITIES), width)
        self.null_key = nn.Parameter(torch.zeros(1, 1, width))
        self.layer_norm = nn.LayerNorm(width)
        self.dropout = nn.Dropout(dropout)
        nn.init.normal_(self.modality_embedding.weight, std=0.02)
        nn.init.normal_(self.null_key, std=0.02)

    def forward(
        self,
        acoustic: torch.Tensor,
        acoustic_mask: torch.Tensor,
        visual: torch.Tensor,
        visual_mask: torch.Tensor,
        visual_times: torch.Tensor,
        drop_modalities: frozenset[str] = frozenset(),
    ) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        """Build the key sequence [null, acoustic steps..., visual frames...].

        Args:
            acoustic: (B, A, D_a); acoustic_mask: (B, A) bool.
            visual: (B, F, D_v); visual_mask: (B, F) bool; visual_times: (B, F) seconds.
            drop_modalities: modalities whose keys are masked out.

        In training mode with ``modality_dropout`` > 0, each utterance also loses its
        acoustic keys, and independently its visual keys, with that probability.

        Returns:
            keys: (B, K, D) encoded keys.
            key_mask: (B, K) bool, True for keys that may be attended to; the null key
                is always True.
            key_modality: length-K list of "null", "acoustic" or "visual".
        """
        batch_size = acoustic.shape[0]

        acoustic_keys = self.acoustic_projection(acoustic) + self.modality_embedding.weight[0]
        visual_keys = self.visual_projection(visual) + self.modality_embedding.weight[1]
        if visual.shape[1] > 0:
            time_features = sinusoidal_time_encoding(visual_times, 32, self.time_encoding_max_seconds)
            visual_keys = visual_keys + self.time_projection(time_features.to(visual_keys.dtype))

        null = self.null_key.expand(batch_size, 1, self.width)
        keys = torch.cat([null, acoustic_keys, visual_keys], dim=1)
        keys = self.dropout(self.layer_norm(keys))

        acoustic_mask = acoustic_mask.bool()
        visual_mask = visual_mask.bool()
        if "acoustic" in drop_modalities:
            acoustic_mask = torch.zeros_like(acoustic_mask)
        if "visual" in drop_modalities:
            visual_mask = torch.zeros_like(visual_mask)
        if self.training and self.modality_dropout > 0:
            # Drawn only when on, so a run without it keeps the same random stream.
            keep = torch.rand(batch_size, 2, device=acoustic.device) >= self.modality_dropout
            acoustic_mask = acoustic_mask & keep[:, :1]
            visual_mask = visual_mask & keep[:, 1:]
        null_mask = torch.ones(batch_size, 1, dtype=torch.bool, device=acoustic.device)
        key_mask = torch.cat([null_mask, acoustic_mask, visual_mask], dim=1)

        key_modality = ["null"] + ["acoustic"] * acoustic.shape[1] + ["visual"] * visual.shape[1]
        return keys, key_mask, key_modality


class CrossModalAttention(nn.Module):
    """Multi-head cross-attention: text tokens (queries) over nonverbal keys and values."""

    def __init__(self, hidden_size: int, width: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        if width % num_heads:
            raise ValueError(
                f"invalid fusion_heads {num_heads}: the fusion width {width} must be divisible by it"
            )
        self.num_heads = num_heads
        self.head_dim = width // num_heads
        self.query = nn.Linear(hidden_size, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.output = nn.Linear(width, hidden_size)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, text: torch.Tensor, keys: torch.Tensor, key_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend from each text token to the keys.

        Args:
            text: (B, T, C) text states; keys: (B, K, D); key_mask: (B, K) bool.

        Returns:
            context: (B, T, C) attended values projected back to the hidden size.
            weights: (B, H, T, K) attention weights; each row sums to 1 over the keys
                where ``key_mask`` is True, and masked keys get exactly 0.
        """
        batch_size, text_length, _ = text.shape
        key_count = keys.shape[1]

        def split_heads(states: torch.Tensor, length: int) -> torch.Tensor:
            return states.view(batch_size, length, self.num_heads, self.head_dim).transpose(1, 2)

        query = split_heads(self.query(text), text_length)
        key = split_heads(self.key(keys), key_count)
        value = split_heads(self.value(keys), key_count)

        scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(self.head_dim)
        mask = key_mask[:, None, None, :]
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1)
        # The softmax already gives masked keys ~0; zeroing makes it exact, and the null
        # key keeps every row non-empty.
        weights = weights.masked_fill(~mask, 0.0)

        attended = torch.matmul(self.dropout(weights), value)
        attended = attended.transpose(1, 2).reshape(batch_size, text_length, -1)
        return self.output(attended), weights


class Adapter(nn.Module):
    """Bottleneck adapter (pre-LayerNorm, residual); its up-projection starts at zero, so
    it starts as the identity and keeps the backbone's own LayerNorm scale."""

    def __init__(self, hidden_size: int, bottleneck: int, dropout: float) -> None:
        super().__init__()
        self.down = nn.Linear(hidden_size, bottleneck)
        self.up = nn.Linear(bottleneck, hidden_size)
        self.activation = nn.GELU()
        self.dropout = nn.Dropout(dropout)
        self.layer_norm = nn.LayerNorm(hidden_size)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        """Return ``states + up(gelu(down(LayerNorm(states))))``, shape unchanged."""
        update = self.up(self.activation(self.down(self.layer_norm(states))))
        return states + self.dropout(update)


class GatedFusionLayer(nn.Module):
    """One fusion step after an encoder layer: cross-attention, adaptive gate, adapter.

    With text states H and attended context C, the gate is
    G = sigmoid(W [H; C] + b) per token and channel, and the fused state is
    G * H + (1 - G) * C, followed by the adapter. The gate bias starts at
    ``gate_bias_init`` and W at small values, so G starts near sigmoid(gate_bias_init)
    and training starts close to the text-only path.
    """

    def __init__(
        self,
        hidden_size: int,
        width: int,
        num_heads: int,
        dropout: float,
        use_gate: bool,
        use_adapter: bool,
        adapter_bottleneck: int,
        gate_bias_init: float,
    ) -> None:
        super().__init__()
        self.use_gate = use_gate
        self.attention = CrossModalAttention(hidden_size, width, num_heads, dropout)
        self.gate = nn.Linear(2 * hidden_size, hidden_size) if use_gate else None
        self.adapter = Adapter(hidden_size, adapter_bottleneck, dropout) if use_adapter else None
        self.dropout = nn.Dropout(dropout)
        if self.gate is not None:
            nn.init.normal_(self.gate.weight, std=0.02)
            nn.init.constant_(self.gate.bias, gate_bias_init)
        else:
            # Without a gate the context is added in full, so it starts small to keep
            # the first steps close to the text-only path.
            nn.init.normal_(self.attention.output.weight, std=0.002)
            nn.init.zeros_(self.attention.output.bias)

    def forward(
        self,
        text: torch.Tensor,
        keys: torch.Tensor,
        key_mask: torch.Tensor,
        forced_gate: float | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Fuse the keys into the text states.

        Args:
            text: (B, T, C) encoder-layer output; keys: (B, K, D); key_mask: (B, K).
            forced_gate: a value in [0, 1] that replaces the computed gate everywhere.

        Returns:
            fused: (B, T, C) states passed to the next encoder layer.
            weights: (B, H, T, K) cross-attention weights.
            gate: (B, T, C) gate values in (0, 1), or the forced value. A model built
                with ``use_gate=False`` reports 0.5 everywhere, because it adds H + C.
        """
        context, weights = self.attention(text, keys, key_mask)
        context = self.dropout(context)

        if forced_gate is not None:
            gate = torch.full_like(text, float(forced_gate))
            fused = gate * text + (1.0 - gate) * context
        elif self.gate is not None:
            gate = torch.sigmoid(self.gate(torch.cat([text, context], dim=-1)))
            fused = gate * text + (1.0 - gate) * context
        else:
            gate = torch.full_like(text, 0.5)
            fused = text + context

        if self.adapter is not None:
            fused = self.adapter(fused)
        return fused, weights, gate
