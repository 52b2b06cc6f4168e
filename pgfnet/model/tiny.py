"""A tiny randomly initialised PGF-Net for tests: builds in milliseconds, loads no weights.

The backbone is a 2-layer BERT (hidden size 32, 2 heads, intermediate size 64) with the
vocabulary size of all-MiniLM-L6-v2 (30,522), so the real MiniLM tokenizer
(``pgfnet.backbones.load_tokenizer("all-MiniLM-L6-v2")``) produces valid ids for it.
Its predictions are meaningless; it exists to check shapes and invariants quickly.
The explainer and dashboard tests use it too.
"""

from __future__ import annotations

import torch

from pgfnet.model.backbone import TINY_BACKBONE_PREFIX
from pgfnet.model.config import PGFNetConfig
from pgfnet.model.pgfnet import PGFNet

TINY_VOCAB_SIZE = 30522

# Small widths that keep every part of the model present.
TINY_DEFAULTS = {
    "fusion_heads": 2,
    "adapter_bottleneck": 8,
    "head_hidden": 16,
    "lora_r": 4,
    "lora_alpha": 8,
}


def build_tiny_backbone(seed: int = 0):
    """Return a randomly initialised 2-layer ``BertModel``, the same for the same seed.

    The global torch RNG is left as it was.
    """
    from transformers import BertConfig, BertModel

    bert_config = BertConfig(
        vocab_size=TINY_VOCAB_SIZE,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        pad_token_id=0,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(bert_config, add_pooling_layer=False)
    model.eval()
    return model


def build_tiny_pgfnet(seed: int = 0, **config_overrides) -> PGFNet:
    """Build a tiny PGF-Net over :func:`build_tiny_backbone`.

    Args:
        seed: seeds both the backbone and the new parts; the global torch RNG is left
            as it was.
        **config_overrides: any :class:`PGFNetConfig` field, e.g. ``use_gate=False``.
            The default fuses the upper half of the encoder, that is layer 1.

    Returns:
        The model in eval mode. Its ``config.backbone`` is ``"tiny-random-bert-seed<seed>"``,
        so ``PGFNet.from_pretrained`` rebuilds the same backbone without an argument.
    """
    values = dict(TINY_DEFAULTS)
    values.update(config_overrides)
    values.setdefault("backbone", f"{TINY_BACKBONE_PREFIX}{seed}")
    config = PGFNetConfig(**values)
    backbone = build_tiny_backbone(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = PGFNet(config, backbone=backbone)
    model.eval()
    return model
