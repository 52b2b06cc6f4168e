"""What "absent" means for a modality, shared by integrated gradients and Shapley values.

- text: every word piece is replaced by [PAD], except [CLS] and [SEP], which are kept.
  The attention mask is left unchanged, so the sequence keeps its length and the
  positions of its special tokens.
- acoustic and visual: all-zero features. Features are normalised with the training-split
  mean and standard deviation, so zero is the training mean. The masks are left unchanged,
  so the keys stay visible to the cross-attention and only their content changes.

Integrated gradients use these inputs as their baselines, and a Shapley coalition makes
the modalities outside it absent in the same way. The attributions of a modality and its
Shapley value therefore answer the same question: what changes when this modality is
replaced by its baseline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

import torch

from pgfnet.data.batch import Batch
from pgfnet.explain.shapley import MODALITIES, coalitions

BASELINE_DESCRIPTIONS: dict[str, str] = {
    "text": (
        "[PAD] word embeddings at every word piece, with [CLS] and [SEP] kept and the "
        "attention mask unchanged"
    ),
    "acoustic": (
        "all-zero features, that is the training-split mean after normalisation; the "
        "acoustic mask is unchanged"
    ),
    "visual": (
        "all-zero features in every frame, that is the training-split mean after "
        "normalisation; the visual mask and frame times are unchanged"
    ),
}


def text_baseline_ids(
    input_ids: torch.Tensor, pad_id: int, keep_ids: Sequence[int]
) -> torch.Tensor:
    """Return ``input_ids`` with every id replaced by ``pad_id`` except those in ``keep_ids``.

    Args:
        input_ids: (B, T) int64 token ids.
        pad_id: the [PAD] id.
        keep_ids: ids left in place, normally the [CLS] and [SEP] ids.

    Returns:
        (B, T) int64, a new tensor.
    """
    keep = torch.zeros_like(input_ids, dtype=torch.bool)
    for token_id in keep_ids:
        keep |= input_ids == token_id
    return torch.where(keep, input_ids, torch.full_like(input_ids, pad_id))


def absent_batch(
    batch: Batch, absent: Iterable[str], pad_id: int, keep_ids: Sequence[int]
) -> Batch:
    """Return a copy of ``batch`` with the modalities in ``absent`` replaced by their baselines."""
    absent = set(absent)
    unknown = absent - set(MODALITIES)
    if unknown:
        raise ValueError(f"invalid modalities {sorted(unknown)}: choose from {list(MODALITIES)}")

    changes = {}
    if "text" in absent:
        changes["input_ids"] = text_baseline_ids(batch.input_ids, pad_id, keep_ids)
    if "acoustic" in absent:
        changes["acoustic"] = torch.zeros_like(batch.acoustic)
    if "visual" in absent:
        changes["visual"] = torch.zeros_like(batch.visual)
    return replace(batch, **changes)


def _repeat_rows(value, index: torch.Tensor):
    if isinstance(value, torch.Tensor):
        return value.index_select(0, index)
    if isinstance(value, list):
        return [value[i] for i in index.tolist()]
    return value


def coalition_rows(
    batch: Batch, pad_id: int, keep_ids: Sequence[int], pairs: Sequence[tuple[int, tuple[str, ...]]]
) -> Batch:
    """Return a batch with one row per (utterance, coalition) pair.

    Args:
        batch: B utterances.
        pairs: (row of ``batch``, coalition) pairs; a coalition is the tuple of present
            modalities, and the others are replaced by their baselines.

    Returns:
        a Batch of ``len(pairs)`` rows in the order of ``pairs``.
    """
    index = torch.tensor([b for b, _ in pairs], dtype=torch.long)
    expanded = Batch(
        **{name: _repeat_rows(getattr(batch, name), index) for name in batch.__dataclass_fields__}
    )
    absent = {
        m: torch.tensor([m not in coalition for _, coalition in pairs], dtype=torch.bool)
        for m in MODALITIES
    }

    baseline_ids = text_baseline_ids(expanded.input_ids, pad_id, keep_ids)
    input_ids = torch.where(absent["text"][:, None], baseline_ids, expanded.input_ids)
    acoustic = expanded.acoustic.masked_fill(absent["acoustic"][:, None, None], 0.0)
    visual = expanded.visual.masked_fill(absent["visual"][:, None, None], 0.0)
    return replace(expanded, input_ids=input_ids, acoustic=acoustic, visual=visual)


def coalition_batch(batch: Batch, pad_id: int, keep_ids: Sequence[int]) -> Batch:
    """Return a batch with all 8 coalitions of every utterance.

    Row ``b * 8 + c`` contains utterance ``b`` with only the modalities of
    ``coalitions()[c]`` present, so row ``b * 8`` is the unchanged utterance and row
    ``b * 8 + 7`` has every modality absent.
    """
    pairs = [(b, c) for b in range(len(batch)) for c in coalitions()]
    return coalition_rows(batch, pad_id, keep_ids, pairs)


def modalities_without_data(batch: Batch, row: int, keep_ids: Sequence[int]) -> set[str]:
    """Return the modalities of ``batch`` row ``row`` whose input equals their baseline.

    Text has no data when every real word piece is in ``keep_ids``, as for an empty
    transcript ([CLS] and [SEP] only). Acoustic and visual have no data when their mask
    row is all False, as for an utterance without visual frames.
    """
    empty = set()
    real = batch.attention_mask[row].bool()
    ids = batch.input_ids[row][real]
    is_special = torch.zeros_like(ids, dtype=torch.bool)
    for token_id in keep_ids:
        is_special |= ids == token_id
    if bool(is_special.all()):
        empty.add("text")
    if not bool(batch.acoustic_mask[row].any()):
        empty.add("acoustic")
    if batch.visual.shape[1] == 0 or not bool(batch.visual_mask[row].any()):
        empty.add("visual")
    return empty
