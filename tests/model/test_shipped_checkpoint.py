"""The shipped checkpoint in assets/checkpoint with the real all-MiniLM-L6-v2 weights and
the real MOSI subset."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from pgfnet.data.dataset import collate_examples
from pgfnet.data.mosi import build_mosi
from pgfnet.model.config import PGFNetConfig
from pgfnet.model.pgfnet import PGFNet
from pgfnet.paths import DEFAULT_CHECKPOINT, REPO_ROOT
from pgfnet.training.evaluate import predict_split, tokenizer_for

pytestmark = [pytest.mark.real_weights, pytest.mark.real_data]


@pytest.fixture(scope="module")
def real_data(mosi_source, tmp_path_factory):
    """The real MOSI subset, built from the source folder once for this module."""
    return build_mosi(mosi_source, tmp_path_factory.mktemp("mosi") / "mosi.pgfdata")


@pytest.fixture(scope="module")
def shipped():
    return PGFNet.from_pretrained(DEFAULT_CHECKPOINT)


def test_shipped_files_present():
    for name in ("config.json", "model.safetensors", "metrics.json", "predictions.json",
                 "info.json", "history.json"):
        assert (DEFAULT_CHECKPOINT / name).is_file(), name
    assert (DEFAULT_CHECKPOINT / "adapter" / "adapter_config.json").is_file()


def test_shipped_is_default_config_within_budget(shipped):
    breakdown = shipped.parameter_breakdown()

    assert shipped.config.backbone == "all-MiniLM-L6-v2"
    default = PGFNetConfig.load(REPO_ROOT / "configs" / "default.json")
    assert shipped.config == dataclasses.replace(default, seed=shipped.config.seed)
    assert shipped.fused_layers == [3, 4, 5]
    assert 0 < breakdown["total_trainable"] <= 3_090_000
    info = json.loads((DEFAULT_CHECKPOINT / "info.json").read_text())
    assert info["parameters"] == breakdown


def test_shipped_predicts_stored_values(shipped, real_data):
    stored = json.loads((DEFAULT_CHECKPOINT / "predictions.json").read_text())["test"]
    tokenizer = tokenizer_for(shipped.config.backbone)
    indices = real_data.split_indices("test")[:: len(real_data.split_indices("test")) // 8][:8]
    examples = [real_data.example(i) for i in indices]

    with torch.no_grad():
        batch = collate_examples(examples, tokenizer, shipped.config.max_text_length)
        output = shipped.forward_batch(batch)

    assert len(examples) == 8
    for example, prediction in zip(examples, output.prediction.tolist()):
        assert prediction == pytest.approx(stored[example.id], abs=1e-4), example.id
    assert len(output.attentions) == 3
    assert all(torch.all((gate > 0) & (gate < 1)) for gate in output.gates)


@pytest.mark.slow
def test_shipped_reproduces_test_metrics(shipped, real_data):
    stored = json.loads((DEFAULT_CHECKPOINT / "metrics.json").read_text())
    metrics = predict_split(shipped, real_data, "test").metrics()

    assert metrics["n"] == stored["n"] == 686
    for name, value in stored.items():
        if isinstance(value, float):
            assert metrics[name] == pytest.approx(value, abs=1e-4), name
