"""PGF-Net: the backbone with LoRA, the gated fusion layers, and the typed output."""

from pgfnet.model.config import PGFNetConfig
from pgfnet.model.outputs import PGFNetOutput

__all__ = ["PGFNetConfig", "PGFNetOutput"]
