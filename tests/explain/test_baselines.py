"""The absent-modality inputs shared by integrated gradients and Shapley values."""

from __future__ import annotations

import torch
from explain_corpus import EMPTY_TEXT_ID, NO_FRAMES_ID, PLAIN_ID

from pgfnet.explain.baselines import (
    absent_batch,
    coalition_batch,
    modalities_without_data,
    text_baseline_ids,
)
from pgfnet.explain.shapley import MODALITIES, coalitions

CLS, SEP, PAD = 101, 102, 0


def test_text_baseline_keeps_cls_sep():
    ids = torch.tensor([[CLS, 2023, 3185, SEP, PAD]])
    baseline = text_baseline_ids(ids, PAD, (CLS, SEP))
    assert baseline.tolist() == [[CLS, PAD, PAD, SEP, PAD]]
    assert ids.tolist() == [[CLS, 2023, 3185, SEP, PAD]]


def test_coalition_batch_rows(explainer):
    batch = explainer.collate([explainer.example(PLAIN_ID), explainer.example(NO_FRAMES_ID)])
    rows = coalition_batch(batch, PAD, (CLS, SEP))
    assert len(rows) == 16
    assert rows.ids == [PLAIN_ID] * 8 + [NO_FRAMES_ID] * 8
    for b in range(2):
        for c, coalition in enumerate(coalitions()):
            row = b * 8 + c
            text_absent = "text" not in coalition
            expected_ids = text_baseline_ids(batch.input_ids[b:b + 1], PAD, (CLS, SEP))[0] if text_absent else batch.input_ids[b]
            assert torch.equal(rows.input_ids[row], expected_ids)
            assert torch.equal(rows.attention_mask[row], batch.attention_mask[b])
            assert torch.equal(rows.acoustic_mask[row], batch.acoustic_mask[b])
            assert torch.equal(rows.visual_mask[row], batch.visual_mask[b])
            acoustic = rows.acoustic[row]
            visual = rows.visual[row]
            assert torch.equal(acoustic, batch.acoustic[b] if "acoustic" in coalition else torch.zeros_like(acoustic))
            assert torch.equal(visual, batch.visual[b] if "visual" in coalition else torch.zeros_like(visual))


def test_absent_batch_matches_coalition_row(explainer):
    batch = explainer.collate([explainer.example(PLAIN_ID)])
    rows = coalition_batch(batch, PAD, (CLS, SEP))
    for c, coalition in enumerate(coalitions()):
        absent = absent_batch(batch, set(MODALITIES) - set(coalition), PAD, (CLS, SEP))
        assert torch.equal(absent.input_ids[0], rows.input_ids[c])
        assert torch.equal(absent.acoustic[0], rows.acoustic[c])
        assert torch.equal(absent.visual[0], rows.visual[c])


def test_modalities_without_data(explainer):
    batch = explainer.collate([explainer.example(i) for i in (PLAIN_ID, NO_FRAMES_ID, EMPTY_TEXT_ID)])
    assert modalities_without_data(batch, 0, (CLS, SEP)) == set()
    assert modalities_without_data(batch, 1, (CLS, SEP)) == {"visual"}
    assert modalities_without_data(batch, 2, (CLS, SEP)) == {"text"}
