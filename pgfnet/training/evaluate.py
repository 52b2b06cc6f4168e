"""Prediction over a dataset split and MMSA metrics for a model or a checkpoint folder."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pgfnet.training.metrics import mosi_regression_metrics

logger = logging.getLogger(__name__)


@dataclass
class SplitPredictions:
    """Predictions for one split, in the dataset's file order.

    Attributes:
        split: "train", "valid" or "test".
        ids: utterance ids, length N.
        predictions: (N,) float64 predicted scores in (-3, 3).
        labels: (N,) float64 true scores.
    """

    split: str
    ids: list[str]
    predictions: np.ndarray
    labels: np.ndarray

    def metrics(self) -> dict[str, float]:
        """Return MMSA's metrics plus "split" and "n"."""
        values: dict = mosi_regression_metrics(self.predictions, self.labels)
        values["split"] = self.split
        values["n"] = len(self.ids)
        return values

    def as_dict(self) -> dict[str, float]:
        """Return {utterance id: prediction}."""
        return {utterance_id: float(value) for utterance_id, value in zip(self.ids, self.predictions)}


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Group positions into batches of similar length (longest first), to limit padding.

    The grouping depends only on ``lengths``, so evaluation batches, and therefore the
    floating-point results, are the same on every run.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def token_lengths(texts: Sequence[str], tokenizer) -> list[int]:
    """Return the word-piece count of each text, special tokens excluded."""
    return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]


@torch.no_grad()
def predict_split(model, data, split: str, tokenizer=None, batch_size: int = 64,
                  **forward_kwargs) -> SplitPredictions:
    """Predict every utterance of ``split`` of a built dataset with ``model`` in eval mode.

    Args:
        model: a :class:`~pgfnet.model.pgfnet.PGFNet`.
        data: a loaded :class:`~pgfnet.data.format.MosiData`.
        split: "train", "valid" or "test".
        tokenizer: the backbone's tokenizer; None loads it for ``model.config.backbone``.
        batch_size: utterances per forward pass; does not change the result beyond
            floating-point noise.
        **forward_kwargs: passed to ``model.forward``, e.g. ``drop_modalities`` or
            ``force_gates``.

    Returns:
        :class:`SplitPredictions` in the split's file order. The model's train/eval
        mode is restored afterwards.
    """
    from pgfnet.data.dataset import MosiTorchDataset, collate_examples

    tokenizer = tokenizer if tokenizer is not None else tokenizer_for(model.config.backbone)
    dataset = MosiTorchDataset(data, split)
    examples = [dataset[i] for i in range(len(dataset))]
    lengths = token_lengths([e.text for e in examples], tokenizer)

    was_training = model.training
    model.eval()
    predictions = np.zeros(len(examples), dtype=np.float64)
    try:
        for positions in length_sorted_batches(lengths, batch_size):
            batch = collate_examples([examples[i] for i in positions], tokenizer,
                                     model.config.max_text_length)
            output = model.forward_batch(batch, **forward_kwargs)
            predictions[positions] = output.prediction.double().numpy()
    finally:
        model.train(was_training)

    labels = np.array([e.label for e in examples], dtype=np.float64)
    return SplitPredictions(split, [e.id for e in examples], predictions, labels)


def tokenizer_for(backbone: str):
    """Return the tokenizer for a backbone name; tiny test backbones use MiniLM's."""
    from pgfnet.backbones import load_tokenizer
    from pgfnet.model.backbone import TINY_BACKBONE_PREFIX
    from pgfnet.model.config import MINILM_ALIASES

    if backbone.startswith(TINY_BACKBONE_PREFIX):
        return load_tokenizer(MINILM_ALIASES[0])
    return load_tokenizer(backbone)


def evaluate_checkpoint(checkpoint: str | Path, split: str, data_path: str | Path | None = None,
                        batch_size: int = 64, **forward_kwargs) -> tuple[dict, SplitPredictions]:
    """Load a checkpoint folder and compute its metrics on ``split``.

    ``forward_kwargs`` go to ``model.forward``; ``force_gate`` (a float) is also accepted
    and forces that gate value in every fused layer.

    Returns:
        (metrics with "split" and "n", the predictions).
    """
    from pgfnet.data.format import MosiData
    from pgfnet.model.pgfnet import PGFNet
    from pgfnet.paths import default_dataset_path

    data_path = Path(data_path) if data_path is not None else default_dataset_path()
    model = PGFNet.from_pretrained(checkpoint)
    force_gate = forward_kwargs.pop("force_gate", None)
    if force_gate is not None:
        forward_kwargs["force_gates"] = {layer: force_gate for layer in model.fused_layers}
    data = MosiData.load(data_path)
    predictions = predict_split(model, data, split, batch_size=batch_size, **forward_kwargs)
    return predictions.metrics(), predictions
