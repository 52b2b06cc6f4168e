"""PGF-Net: a frozen BERT-family encoder with LoRA and gated nonverbal fusion in its
deep layers, and a regression head for one sentiment score in [-3, 3].

After each fused encoder layer, every text token attends to the nonverbal keys
(:class:`~pgfnet.model.fusion.GatedFusionLayer`), a per-token, per-channel gate mixes
the attended context into the text state, and a bottleneck adapter follows. The head
reads the pooled final states and outputs ``3 * tanh(z)``, so predictions always lie
in the open interval (-3, 3).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping
from pathlib import Path

import torch
from torch import nn

from pgfnet.data.batch import Batch
from pgfnet.model import backbone as backbone_lib
from pgfnet.model.config import PGFNetConfig
from pgfnet.model.fusion import MODALITIES, GatedFusionLayer, NonverbalEncoder
from pgfnet.model.outputs import PGFNetOutput

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
ADAPTER_DIR = "adapter"


class PGFNet(nn.Module):
    """Progressive gated-fusion network over a BERT-family text encoder.

    Args:
        config: every hyperparameter; saved beside the weights.
        backbone: an already built encoder module (tests pass a tiny random BERT).
            None loads ``config.backbone`` with ``transformers.AutoModel``.

    Only the LoRA weights and the new parts (nonverbal projections, fusion layers, head)
    require gradients; the backbone's own weights stay frozen.
    """

    def __init__(self, config: PGFNetConfig, backbone: nn.Module | None = None) -> None:
        super().__init__()
        self.config = config
        if backbone is None:
            backbone = backbone_lib.load_backbone(config.backbone)
        self.backbone = backbone_lib.add_lora(backbone, config)

        encoder = self.encoder
        self.num_layers = len(backbone_lib.encoder_layers(encoder))
        self.hidden_size = int(encoder.config.hidden_size)
        self.fused_layers = config.resolved_fusion_layers(self.num_layers)
        width = config.fusion_dim or self.hidden_size

        # With no fused layer (the text-only baseline) nothing reads the keys, so the
        # key encoder is left out and its parameters are not counted.
        self.nonverbal = NonverbalEncoder(
            config.acoustic_dim, config.visual_dim, width,
            config.time_encoding_max_seconds, config.dropout, config.modality_dropout,
        ) if self.fused_layers else None
        self.fusion = nn.ModuleDict({
            str(layer): GatedFusionLayer(
                self.hidden_size, width, config.fusion_heads, config.dropout,
                config.use_gate, config.use_adapter, config.adapter_bottleneck,
                config.gate_bias_init,
            )
            for layer in self.fused_layers
        })
        self.head = nn.Sequential(
            nn.Dropout(config.dropout),
            nn.Linear(self.hidden_size, config.head_hidden),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.head_hidden, 1),
        )

    @property
    def encoder(self) -> nn.Module:
        """The plain transformers encoder (inside the peft wrapper when LoRA is on)."""
        return backbone_lib.base_encoder(self.backbone)

    @property
    def word_embeddings(self) -> nn.Embedding:
        """The backbone's word-embedding table (for Captum LayerIntegratedGradients)."""
        return self.encoder.embeddings.word_embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor,
        acoustic: torch.Tensor,
        acoustic_mask: torch.Tensor,
        visual: torch.Tensor,
        visual_mask: torch.Tensor,
        visual_times: torch.Tensor,
        *,
        inputs_embeds: torch.Tensor | None = None,
        force_gates: Mapping[int, float] | None = None,
        drop_modalities: Collection[str] = (),
    ) -> PGFNetOutput:
        """Predict sentiment and return attention and gate values from the same pass.

        Args:
            input_ids: (B, T) token ids, or None when ``inputs_embeds`` is given.
            attention_mask: (B, T), 1 for real tokens.
            acoustic: (B, A, acoustic_dim); acoustic_mask: (B, A) bool.
            visual: (B, F, visual_dim); visual_mask: (B, F) bool;
                visual_times: (B, F) seconds from the utterance start.
            inputs_embeds: (B, T, C) vectors that replace the word-embedding lookup
                only; position and token-type embeddings and LayerNorm still apply.
            force_gates: {encoder layer index: gate value in [0, 1]} replaces the gate
                of those fused layers for this call only.
            drop_modalities: "acoustic" and/or "visual" keys to mask out for this call.

        Returns:
            :class:`PGFNetOutput`; ``prediction`` is (B,) in (-3, 3).

        The call keeps no state, so one model in eval mode may serve several threads.
        """
        forced = self._validate_force_gates(force_gates)
        dropped = self._validate_drop_modalities(drop_modalities)
        self._validate_shapes(input_ids, inputs_embeds, attention_mask, acoustic, visual)

        if self.nonverbal is not None:
            keys, key_mask, key_modality = self.nonverbal(
                acoustic, acoustic_mask, visual, visual_mask, visual_times, dropped
            )
        else:
            keys, key_mask, key_modality = None, acoustic_mask.new_zeros(acoustic.shape[0], 0), []

        encoder = self.encoder
        hidden = backbone_lib.embed(encoder, input_ids, inputs_embeds)
        self_attention_mask = backbone_lib.layer_attention_mask(encoder, hidden, attention_mask)

        attentions: list[torch.Tensor] = []
        gates: list[torch.Tensor] = []
        for index, layer in enumerate(backbone_lib.encoder_layers(encoder)):
            hidden = backbone_lib.run_layer(layer, hidden, self_attention_mask)
            if str(index) in self.fusion:
                hidden, weights, gate = self.fusion[str(index)](
                    hidden, keys, key_mask, forced.get(index)
                )
                attentions.append(weights)
                gates.append(gate)

        pooled = self._pool(hidden, attention_mask)
        prediction = 3.0 * torch.tanh(self.head(pooled).squeeze(-1))
        return PGFNetOutput(
            prediction=prediction,
            fused_layers=list(self.fused_layers),
            attentions=attentions,
            gates=gates,
            key_modality=key_modality,
            key_mask=key_mask,
            pooled=pooled,
        )

    def forward_batch(self, batch: Batch, **kwargs) -> PGFNetOutput:
        """Run :meth:`forward` on a :class:`Batch`; keyword arguments pass through."""
        return self(
            batch.input_ids, batch.attention_mask, batch.acoustic, batch.acoustic_mask,
            batch.visual, batch.visual_mask, batch.visual_times, **kwargs,
        )

    def _pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.config.pooling == "cls":
            return hidden[:, 0]
        weights = attention_mask.to(hidden.dtype).unsqueeze(-1)
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)

    def _validate_force_gates(self, force_gates: Mapping[int, float] | None) -> dict[int, float]:
        if not force_gates:
            return {}
        forced = {}
        for layer, value in force_gates.items():
            if layer not in self.fused_layers:
                raise ValueError(
                    f"invalid force_gates layer {layer!r}: gates exist only in the fused "
                    f"encoder layers {self.fused_layers}"
                )
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(
                    f"invalid forced gate value {value!r} for layer {layer}: use a value in [0, 1]"
                )
            forced[int(layer)] = float(value)
        return forced

    def _validate_drop_modalities(self, drop_modalities: Collection[str]) -> frozenset[str]:
        if isinstance(drop_modalities, str):
            drop_modalities = (drop_modalities,)
        unknown = sorted(set(drop_modalities) - set(MODALITIES))
        if unknown:
            raise ValueError(
                f"invalid drop_modalities {unknown}: choose from {list(MODALITIES)}"
            )
        # A modality left out of config.modalities (an ablation) is always dropped.
        disabled = set(MODALITIES) - set(self.config.modalities)
        return frozenset(drop_modalities) | frozenset(disabled)

    def _validate_shapes(self, input_ids, inputs_embeds, attention_mask, acoustic, visual) -> None:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("give exactly one of input_ids and inputs_embeds")
        if acoustic.shape[-1] != self.config.acoustic_dim:
            raise ValueError(
                f"acoustic features have width {acoustic.shape[-1]}, but the model expects "
                f"acoustic_dim={self.config.acoustic_dim}: rebuild the data or the config"
            )
        if visual.shape[-1] != self.config.visual_dim:
            raise ValueError(
                f"visual features have width {visual.shape[-1]}, but the model expects "
                f"visual_dim={self.config.visual_dim}: rebuild the data or the config"
            )
        text_shape = tuple(input_ids.shape) if input_ids is not None else tuple(inputs_embeds.shape[:2])
        if tuple(attention_mask.shape) != text_shape:
            raise ValueError(
                f"attention_mask has shape {tuple(attention_mask.shape)}, expected {text_shape}"
            )

    # -- parameters ---------------------------------------------------------------

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """Return the trainable parameters by name (LoRA and the new parts), detached."""
        return {
            name: parameter.detach()
            for name, parameter in self.named_parameters()
            if parameter.requires_grad
        }

    def parameter_breakdown(self) -> dict[str, int]:
        """Count trainable parameters by part, plus "total_trainable" and "total_frozen".

        Parts: "lora", "nonverbal_projections", "fusion.<layer>.attention",
        "fusion.<layer>.gate", "fusion.<layer>.adapter", "head".
        """
        counts: dict[str, int] = {"lora": 0, "nonverbal_projections": 0}
        for layer in self.fused_layers:
            for part in ("attention", "gate", "adapter"):
                counts[f"fusion.{layer}.{part}"] = 0
        counts["head"] = 0
        frozen = 0
        for name, parameter in self.named_parameters():
            if not parameter.requires_grad:
                frozen += parameter.numel()
                continue
            counts[_part_of(name)] += parameter.numel()
        counts["total_trainable"] = sum(counts.values())
        counts["total_frozen"] = frozen
        return counts

    # -- checkpoints ----------------------------------------------------------------

    def save_pretrained(self, directory: str | Path) -> None:
        """Write ``config.json``, ``adapter/`` (peft format) and ``model.safetensors``.

        ``model.safetensors`` contains every trainable weight and a copy of the config, and
        is written last with an atomic rename; :meth:`from_pretrained` reads only it and
        ``config.json``. A crash during saving therefore leaves the previous checkpoint
        in ``directory`` loadable.
        """
        from safetensors.torch import save_file

        from pgfnet.io import atomic_path

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config_text = json.dumps(self.config.to_dict(), indent=2, sort_keys=True) + "\n"

        if self.config.use_lora:
            self._save_adapter(directory / ADAPTER_DIR)

        tensors = {name: tensor.contiguous().clone() for name, tensor in self.trainable_state_dict().items()}
        with atomic_path(directory / WEIGHTS_FILE) as tmp:
            save_file(tensors, str(tmp), metadata={"config": config_text, "format": "pgfnet-1"})
        # config.json is the human-readable copy; a stale one is detected on loading.
        self.config.save(directory / CONFIG_FILE)

    def _save_adapter(self, adapter_dir: Path) -> None:
        import shutil
        import tempfile

        adapter_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".adapter.", dir=adapter_dir.parent))
        try:
            self.backbone.save_pretrained(str(staging))
            old = None
            if adapter_dir.exists():
                old = adapter_dir.with_name(f".{adapter_dir.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                adapter_dir.rename(old)
            staging.rename(adapter_dir)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @classmethod
    def from_pretrained(cls, directory: str | Path, backbone: nn.Module | None = None) -> "PGFNet":
        """Load a checkpoint written by :meth:`save_pretrained`, in eval mode.

        Reads only JSON and safetensors. Raises FileNotFoundError for a missing folder
        or file and ValueError for weights that do not match the config, naming the
        path and the fix.
        """
        from safetensors import safe_open

        directory = Path(directory)
        config_path = directory / CONFIG_FILE
        weights_path = directory / WEIGHTS_FILE
        if not directory.is_dir():
            raise FileNotFoundError(
                f"checkpoint folder {directory} not found: train one with "
                "'pgfnet train --config FILE --out DIR' or point to assets/checkpoint"
            )
        for required in (config_path, weights_path):
            if not required.is_file():
                raise FileNotFoundError(
                    f"checkpoint folder {directory} is incomplete: {required.name} is "
                    "missing; re-save it with PGFNet.save_pretrained or retrain"
                )

        with safe_open(str(weights_path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        config = PGFNetConfig.load(config_path)
        # Both copies go through from_dict, so fields added since the checkpoint was
        # written take their defaults in both and do not count as a difference.
        stored = PGFNetConfig.from_dict(json.loads(metadata["config"])) if "config" in metadata else config
        if stored != config:
            # config.json is written after the weights, so a crash in between leaves
            # the weights' own copy as the consistent one.
            logger.warning(
                "%s differs from the config stored in %s; using the stored copy",
                config_path, weights_path,
            )
            config = stored

        model = cls(config, backbone=backbone)
        expected = set(model.trainable_state_dict())
        missing = sorted(expected - set(tensors))
        unexpected = sorted(set(tensors) - expected)
        if missing or unexpected:
            raise ValueError(
                f"checkpoint {weights_path} does not match its config: missing "
                f"{missing[:5]} ({len(missing)} in all), unexpected {unexpected[:5]} "
                f"({len(unexpected)} in all); retrain or re-save the checkpoint"
            )
        model.load_state_dict(tensors, strict=False)
        model.eval()
        return model


def _part_of(name: str) -> str:
    """Map a trainable parameter name to its part in :meth:`PGFNet.parameter_breakdown`."""
    if "lora_" in name:
        return "lora"
    if name.startswith("nonverbal."):
        return "nonverbal_projections"
    if name.startswith("fusion."):
        _, layer, part = name.split(".", 2)
        if part.startswith("attention."):
            return f"fusion.{layer}.attention"
        if part.startswith("gate."):
            return f"fusion.{layer}.gate"
        if part.startswith("adapter."):
            return f"fusion.{layer}.adapter"
    if name.startswith("head."):
        return "head"
    raise ValueError(f"trainable parameter {name!r} belongs to no known part")
