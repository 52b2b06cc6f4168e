"""Load a BERT-family text encoder, freeze it, add LoRA, and run it one layer at a time.

PGF-Net needs the hidden states between encoder layers, so it does not call the
backbone's own ``forward``: :func:`embed` and :func:`encoder_layers` expose the pieces
that every BERT-family model in ``transformers`` has (``embeddings``,
``encoder.layer``).
"""

from __future__ import annotations

import contextlib
import logging
import warnings

import torch
from torch import nn

from pgfnet.model.config import PGFNetConfig

logger = logging.getLogger(__name__)

# Backbone names of this form build a small random BERT instead of loading weights
# (see pgfnet.model.tiny), so tiny checkpoints reload without a backbone argument.
TINY_BACKBONE_PREFIX = "tiny-random-bert-seed"


def load_backbone(name: str) -> nn.Module:
    """Return the encoder ``name`` (an ``AutoModel``) with every parameter frozen.

    Raises OSError with the name and the fix when the weights cannot be found offline.
    """
    if name.startswith(TINY_BACKBONE_PREFIX):
        from pgfnet.model.tiny import build_tiny_backbone

        seed_text = name[len(TINY_BACKBONE_PREFIX):]
        if not seed_text.isdigit():
            raise ValueError(
                f"invalid tiny backbone name {name!r}: use '{TINY_BACKBONE_PREFIX}<seed>', "
                f"e.g. '{TINY_BACKBONE_PREFIX}0'"
            )
        return build_tiny_backbone(int(seed_text))

    from transformers import AutoModel

    from pgfnet.backbones import resolve_backbone

    path = resolve_backbone(name)
    try:
        # use_safetensors=True: a folder that contains its weights only as a pickle
        # (pytorch_model.bin) is rejected instead of unpickled.
        with quiet_transformers():
            model = AutoModel.from_pretrained(path, add_pooling_layer=False, use_safetensors=True)
    except OSError as error:
        raise OSError(
            f"backbone {name!r} could not be loaded from {path!r}: give a local model "
            "folder or use 'all-MiniLM-L6-v2', which ships offline"
        ) from error
    return model


@contextlib.contextmanager
def quiet_transformers():
    """Silence transformers' load report and progress bar while loading a backbone without its pooler.

    The report lists the checkpoint's ``pooler.dense`` weights as UNEXPECTED, which is
    intended here (``add_pooling_layer=False``) but reads like an error to users.
    Real load errors still raise.
    """
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    bar_was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)
        if bar_was_enabled:
            hf_logging.enable_progress_bar()


def base_encoder(backbone: nn.Module) -> nn.Module:
    """Return the plain encoder module inside a peft wrapper (or ``backbone`` itself)."""
    from peft import PeftModel

    if isinstance(backbone, PeftModel):
        return backbone.base_model.model
    return backbone


def add_lora(backbone: nn.Module, config: PGFNetConfig) -> nn.Module:
    """Freeze ``backbone`` and, when ``config.use_lora``, wrap it with peft LoRA.

    Returns the peft model (LoRA weights trainable, all else frozen) or the frozen
    backbone when LoRA is off.
    """
    for parameter in backbone.parameters():
        parameter.requires_grad_(False)
    if not config.use_lora:
        return backbone

    from peft import LoraConfig, get_peft_model

    lora_config = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        bias="none",
    )
    try:
        with warnings.catch_warnings():
            # peft 0.21 calls transformers' deprecated is_gradient_checkpointing; the
            # FutureWarning concerns peft, not this code.
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*",
                                    category=FutureWarning)
            return get_peft_model(backbone, lora_config)
    except ValueError as error:
        raise ValueError(
            f"LoRA could not be added with target_modules={config.target_modules}: "
            "name the backbone's attention projections (BERT: 'query', 'key', 'value')"
        ) from error


def embed(
    encoder: nn.Module,
    input_ids: torch.Tensor | None,
    inputs_embeds: torch.Tensor | None,
) -> torch.Tensor:
    """Return the embedding output (B, T, C): word (or ``inputs_embeds``), position and
    token-type embeddings, LayerNorm and dropout, as in HF BERT."""
    return encoder.embeddings(input_ids=input_ids, inputs_embeds=inputs_embeds)


def layer_attention_mask(
    encoder: nn.Module, embeddings: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor | None:
    """Return the self-attention mask in the form the encoder layers expect.

    ``transformers`` 5 builds it with ``create_bidirectional_mask`` for the configured
    attention implementation (None when nothing is padded); older releases use the
    additive extended mask.
    """
    try:
        from transformers.masking_utils import create_bidirectional_mask
    except ImportError:
        return encoder.get_extended_attention_mask(attention_mask, attention_mask.shape)
    return create_bidirectional_mask(
        config=encoder.config, inputs_embeds=embeddings, attention_mask=attention_mask
    )


def encoder_layers(encoder: nn.Module) -> nn.ModuleList:
    """Return the encoder's list of transformer layers."""
    try:
        return encoder.encoder.layer
    except AttributeError as error:
        raise ValueError(
            f"backbone {type(encoder).__name__} has no encoder.layer list: use a "
            "BERT-family model (BERT, MiniLM, RoBERTa, ...)"
        ) from error


def run_layer(layer: nn.Module, hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Run one encoder layer; handles layers that return a tuple (older releases)."""
    output = layer(hidden, mask)
    if isinstance(output, tuple):
        output = output[0]
    return output
