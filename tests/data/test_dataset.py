"""MosiTorchDataset and collate_examples with the real all-MiniLM-L6-v2 tokenizer."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from pgfnet.backbones import load_tokenizer
from pgfnet.data.dataset import MosiTorchDataset, collate_examples, make_collate
from pgfnet.data.format import Example, MosiData

pytestmark = pytest.mark.real_weights


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("all-MiniLM-L6-v2")


def _example(text: str, frames: int, label: float | None = 0.5, steps: int = 1) -> Example:
    return Example(id=f"ex_{frames}_{len(text)}", text=text,
                   acoustic=np.ones((steps, 73), np.float32),
                   visual=np.full((frames, 22), 2.0, np.float32),
                   visual_times=np.arange(frames, dtype=np.float32) / 10, label=label,
                   split="test")


def test_dataset_yields_split_examples(tiny_built):
    data = MosiData.load(tiny_built)
    dataset = MosiTorchDataset(data, "train")

    assert len(dataset) == 2
    assert [dataset[i].id for i in range(2)] == ["vidA_1", "vidA_2"]
    assert dataset[0].split == "train"


def test_dataset_unknown_split(tiny_built):
    with pytest.raises(ValueError):
        MosiTorchDataset(MosiData.load(tiny_built), "dev")


def test_loader_batch_shapes(tiny_built, tokenizer):
    data = MosiData.load(tiny_built)
    loader = DataLoader(MosiTorchDataset(data, "train"), batch_size=2,
                        collate_fn=make_collate(tokenizer, 64))
    batch = next(iter(loader))

    assert batch.ids == ["vidA_1", "vidA_2"]
    assert batch.acoustic.shape == (2, 1, 73)
    assert batch.acoustic_mask.tolist() == [[True], [True]]
    assert batch.visual.shape == (2, 120, 22)
    assert batch.visual_mask.sum(1).tolist() == [20, 120]
    assert batch.visual_times.shape == (2, 120)
    assert batch.labels.dtype == torch.float32
    assert batch.input_ids.dtype == torch.int64
    assert batch.attention_mask.shape == batch.input_ids.shape
    assert not batch.visual[0, 20:].any()


def test_truncation_keeps_cls_and_sep(tokenizer):
    long_text = " ".join(["wonderful"] * 30)
    batch = collate_examples([_example(long_text, 0), _example("ok", 0)], tokenizer, 8)
    pieces = tokenizer(long_text, add_special_tokens=False)["input_ids"]

    assert batch.input_ids.shape == (2, 8)
    assert batch.input_ids[0, 0].item() == tokenizer.cls_token_id
    assert batch.input_ids[0, 7].item() == tokenizer.sep_token_id
    assert batch.input_ids[0, 1:7].tolist() == pieces[:6]
    assert batch.text_truncated.tolist() == [True, False]
    assert batch.attention_mask[1].tolist() == [1, 1, 1, 0, 0, 0, 0, 0]


def test_exact_fit_is_not_truncated(tokenizer):
    text = " ".join(["good"] * 6)
    batch = collate_examples([_example(text, 0)], tokenizer, 8)

    assert batch.text_truncated.tolist() == [False]
    assert batch.attention_mask.sum().item() == 8


def test_empty_transcript_gives_cls_sep(tokenizer):
    batch = collate_examples([_example("", 3)], tokenizer, 16)

    assert batch.input_ids.tolist() == [[tokenizer.cls_token_id, tokenizer.sep_token_id]]
    assert batch.attention_mask.tolist() == [[1, 1]]


def test_all_visual_missing(tokenizer):
    batch = collate_examples([_example("a", 0), _example("b c", 0)], tokenizer, 16)

    assert batch.visual.shape == (2, 0, 22)
    assert batch.visual_mask.shape == (2, 0)
    assert batch.visual_times.shape == (2, 0)


def test_mixed_visual_masks(tokenizer):
    batch = collate_examples([_example("a", 0), _example("b", 4)], tokenizer, 16)

    assert batch.visual.shape == (2, 4, 22)
    assert batch.visual_mask.tolist() == [[False] * 4, [True] * 4]
    assert batch.visual_times[1].tolist() == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_labels_none_when_any_missing(tokenizer):
    batch = collate_examples([_example("a", 0), dataclasses.replace(_example("b", 0), label=None)],
                             tokenizer, 16)

    assert batch.labels is None


def test_ragged_acoustic_padded(tokenizer):
    batch = collate_examples([_example("a", 0, steps=3), _example("b", 0, steps=1)], tokenizer, 16)

    assert batch.acoustic.shape == (2, 3, 73)
    assert batch.acoustic_mask.tolist() == [[True] * 3, [True, False, False]]


def test_collate_rejects_bad_input(tokenizer):
    with pytest.raises(ValueError):
        collate_examples([], tokenizer, 16)
    with pytest.raises(ValueError):
        collate_examples([_example("a", 0)], tokenizer, 2)
    odd = dataclasses.replace(_example("a", 0), acoustic=np.ones((1, 5), np.float32))
    with pytest.raises(ValueError):
        collate_examples([_example("a", 0), odd], tokenizer, 16)


@pytest.mark.parametrize("field", ["acoustic", "visual", "visual_times", "label"])
def test_collate_rejects_non_finite_values(tokenizer, field):
    example = _example("fine words", 3)
    value = getattr(example, field)
    if field == "label":
        broken = dataclasses.replace(example, label=float("nan"))
    else:
        value = value.copy()
        value.flat[0] = -np.inf
        broken = dataclasses.replace(example, **{field: value})

    with pytest.raises(ValueError, match=f"'{example.id}'.* in {field}"):
        collate_examples([_example("ok", 0), broken], tokenizer, 16)
