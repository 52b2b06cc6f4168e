"""The torch Dataset over a built MOSI file and the collate function that pads batches.

Truncation policy: a transcript is tokenised without special tokens, its first
``max_text_length - n_special`` word pieces are kept (n_special is 2 for BERT-style
tokenizers: [CLS] and [SEP]) and the tokenizer's special tokens are added around them, so
[CLS] and [SEP] always survive. ``Batch.text_truncated`` marks the rows that lost pieces.
An empty transcript becomes [CLS] [SEP]. Acoustic and visual sequences are never
truncated here: the builder already caps visual sequences at 120 frames.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from pgfnet.data.batch import Batch
from pgfnet.data.format import Example, MosiData


class MosiTorchDataset(Dataset):
    """The :class:`Example` objects of one split of a built dataset, in file order."""

    def __init__(self, data: MosiData, split: str):
        self.data = data
        self.split = split
        self.indices = data.split_indices(split)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int) -> Example:
        return self.data.example(self.indices[position])


def _pad(sequences: list[np.ndarray], width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack (L_i, width) arrays into (B, max L, width) float32 and a (B, max L) bool mask."""
    length = max((len(s) for s in sequences), default=0)
    values = torch.zeros(len(sequences), length, width, dtype=torch.float32)
    mask = torch.zeros(len(sequences), length, dtype=torch.bool)
    for row, sequence in enumerate(sequences):
        if len(sequence):
            values[row, : len(sequence)] = torch.from_numpy(np.asarray(sequence, np.float32))
            mask[row, : len(sequence)] = True
    return values, mask


def tokenize_texts(texts: Sequence[str], tokenizer, max_text_length: int
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Tokenise and pad ``texts`` with the documented truncation policy.

    Returns:
        input_ids (B, T) int64, attention_mask (B, T) int64 and truncated (B,) bool,
        where T <= max_text_length.
    """
    n_special = tokenizer.num_special_tokens_to_add(pair=False)
    if max_text_length < n_special + 1:
        raise ValueError(f"max_text_length={max_text_length} leaves no room for a word "
                         f"piece besides the {n_special} special tokens; use at least "
                         f"{n_special + 1}")
    budget = max_text_length - n_special
    lengths = [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]
    # The tokenizer's own truncation drops word pieces from the end and keeps the
    # special tokens, which is the documented policy.
    encoded = tokenizer(list(texts), truncation=True, max_length=max_text_length,
                        padding=True, return_tensors="pt")
    input_ids = encoded["input_ids"].to(torch.int64)
    attention_mask = encoded["attention_mask"].to(torch.int64)
    truncated = [length > budget for length in lengths]
    return input_ids, attention_mask, torch.tensor(truncated, dtype=torch.bool)


def collate_examples(examples: Sequence[Example], tokenizer, max_text_length: int) -> Batch:
    """Pad ``examples`` into a :class:`Batch` (shapes in its docstring).

    ``labels`` is None unless every example has a label. Visual and acoustic widths come
    from the examples, so a batch where no utterance has frames gives visual of shape
    (B, 0, D_v). Raises ValueError for an empty list, mismatched feature widths, or a
    NaN or infinite feature, time or label.
    """
    if not examples:
        raise ValueError("cannot collate an empty list of examples")
    for example in examples:
        _check_finite(example)
    widths = {(e.acoustic.shape[1], e.visual.shape[1]) for e in examples}
    if len(widths) != 1:
        raise ValueError(f"examples disagree on feature widths (acoustic, visual): {widths}")
    acoustic_width, visual_width = widths.pop()

    input_ids, attention_mask, truncated = tokenize_texts(
        [e.text for e in examples], tokenizer, max_text_length)
    acoustic, acoustic_mask = _pad([e.acoustic for e in examples], acoustic_width)
    visual, visual_mask = _pad([e.visual for e in examples], visual_width)
    times, _ = _pad([np.asarray(e.visual_times, np.float32).reshape(-1, 1) for e in examples], 1)
    labels = None
    if all(e.label is not None for e in examples):
        labels = torch.tensor([e.label for e in examples], dtype=torch.float32)
    return Batch(ids=[e.id for e in examples], input_ids=input_ids,
                 attention_mask=attention_mask, acoustic=acoustic, acoustic_mask=acoustic_mask,
                 visual=visual, visual_mask=visual_mask, visual_times=times[..., 0],
                 labels=labels, text_truncated=truncated)


def _check_finite(example: Example) -> None:
    """Reject non-finite numbers in a hand-built example. MosiData checks its own at load."""
    fields = {"acoustic": example.acoustic, "visual": example.visual,
              "visual_times": example.visual_times}
    if example.label is not None:
        fields["label"] = np.asarray(example.label, dtype=np.float64)
    for name, values in fields.items():
        values = np.asarray(values)
        if values.size and not np.isfinite(values).all():
            raise ValueError(
                f"example {example.id!r} has a NaN or infinite value in {name}: replace it "
                "(the MMSA importer maps -inf audio to 0) before building a batch"
            )


def make_collate(tokenizer, max_text_length: int) -> Callable[[Sequence[Example]], Batch]:
    """Return ``collate_fn`` for a DataLoader over :class:`MosiTorchDataset`."""

    def collate(examples: Sequence[Example]) -> Batch:
        return collate_examples(examples, tokenizer, max_text_length)

    return collate
