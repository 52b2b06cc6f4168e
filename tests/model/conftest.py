"""Fixtures for the model tests: a tiny random PGF-Net and random inputs for it."""

from __future__ import annotations

import pytest
import torch

from pgfnet.model.tiny import build_tiny_pgfnet


def make_inputs(batch_size: int = 3, text_length: int = 7, frames: int = 5, seed: int = 0) -> dict:
    """Random forward() inputs with padding in the text, the acoustic and the visual keys.

    Utterance 0 is complete, utterance 1 has padded text and only 2 real frames,
    utterance 2 has no acoustic vector and no frames.
    """
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(1000, 30000, (batch_size, text_length), generator=generator)
    attention_mask = torch.ones(batch_size, text_length, dtype=torch.long)
    attention_mask[1, 4:] = 0
    input_ids[1, 4:] = 0
    acoustic_mask = torch.ones(batch_size, 1, dtype=torch.bool)
    acoustic_mask[2] = False
    visual_mask = torch.ones(batch_size, frames, dtype=torch.bool)
    visual_mask[1, 2:] = False
    visual_mask[2] = False
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "acoustic": torch.randn(batch_size, 1, 73, generator=generator),
        "acoustic_mask": acoustic_mask,
        "visual": torch.randn(batch_size, frames, 22, generator=generator),
        "visual_mask": visual_mask,
        "visual_times": torch.arange(frames, dtype=torch.float32).expand(batch_size, frames) / 15,
    }


@pytest.fixture
def tiny_model():
    """A tiny PGF-Net fusing both encoder layers, in eval mode."""
    return build_tiny_pgfnet(seed=0, fusion_layers=[0, 1])


@pytest.fixture
def inputs() -> dict:
    return make_inputs()


@pytest.fixture(name="make_inputs")
def make_inputs_fixture():
    """The :func:`make_inputs` factory, for tests that need a second input set."""
    return make_inputs
