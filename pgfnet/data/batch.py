"""The padded batch that crosses from the data layer into the model."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch


@dataclass
class Batch:
    """A padded batch of MOSI utterances.

    Shapes use B = batch size, T = word pieces (with [CLS] and [SEP]), A = acoustic
    steps (1 for the utterance-level vector), F = visual frames, D_a = 73 and D_v = 22.
    Features are already normalised with the training-split statistics. A mask entry is
    True where the position contains real data; an utterance with a missing modality has an
    all-False row for it.

    Attributes:
        ids: utterance ids, length B.
        input_ids: (B, T) int64 token ids.
        attention_mask: (B, T) int64, 1 for real tokens.
        acoustic: (B, A, D_a) float32.
        acoustic_mask: (B, A) bool.
        visual: (B, F, D_v) float32 (F may be 0 when no utterance in the batch has frames).
        visual_mask: (B, F) bool.
        visual_times: (B, F) float32, seconds from the utterance start.
        labels: (B,) float32 sentiment in [-3, 3], or None at inference time.
        text_truncated: (B,) bool, True where the transcript lost word pieces to the
            maximum text length.
    """

    ids: list[str]
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    acoustic: torch.Tensor
    acoustic_mask: torch.Tensor
    visual: torch.Tensor
    visual_mask: torch.Tensor
    visual_times: torch.Tensor
    labels: torch.Tensor | None = None
    text_truncated: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> "Batch":
        """Return a copy with every tensor moved to ``device``."""
        moved = {}
        for field in fields(self):
            value = getattr(self, field.name)
            moved[field.name] = value.to(device) if isinstance(value, torch.Tensor) else value
        return replace(self, **moved)

    def __len__(self) -> int:
        return len(self.ids)
