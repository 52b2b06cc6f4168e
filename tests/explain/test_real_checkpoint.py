"""The explainer on the shipped trained checkpoint and the real MOSI subset.

Marked real_weights, real_data and slow: it loads ``assets/checkpoint`` (or
``PGFNET_CHECKPOINT``) with its all-MiniLM-L6-v2 backbone and builds the dataset from the
MOSI source folder.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from pgfnet.cli import main
from pgfnet.explain.engine import Explainer
from pgfnet.paths import default_checkpoint

pytestmark = [pytest.mark.real_weights, pytest.mark.real_data, pytest.mark.slow]

# Completeness bound of integrated gradients at 64 steps, in sentiment units:
# |convergence delta| <= ABSOLUTE + RELATIVE * |f(x) - f(baseline)|.
IG_STEPS = 64
ABSOLUTE = 0.002
RELATIVE = 0.01

WITH_FRAMES_ID = "d3_k5Xpfmik_1"  # test split, 72 visual frames
NO_FRAMES_ID = "d6hH302o4v8_42"  # test split, starts after the last OpenFace frame
AUDIO_CLIP_ID = "03bSnISJMiM_1"  # train split, no frames, the shipped audio clip
LONGEST_TEST_ID = "phBUpBr1hSo_8"  # test split, 126 word pieces with [CLS] and [SEP]


@pytest.fixture(scope="module")
def checkpoint() -> Path:
    path = default_checkpoint()
    if not (path / "model.safetensors").is_file():
        pytest.fail(
            f"the trained checkpoint was not found at {path}: set PGFNET_CHECKPOINT to a "
            "folder written by PGFNet.save_pretrained"
        )
    return path


@pytest.fixture(scope="module")
def real_dataset(tmp_path_factory, mosi_source) -> Path:
    from pgfnet.data.mosi import build_mosi

    path = tmp_path_factory.mktemp("explain-real") / "mosi.pgfdata"
    build_mosi(mosi_source, path)
    return path


@pytest.fixture(scope="module")
def real_explainer(checkpoint, real_dataset) -> Explainer:
    return Explainer.from_checkpoint(checkpoint, real_dataset, n_steps=IG_STEPS)


@pytest.fixture(scope="module")
def records(real_explainer) -> dict:
    ids = (WITH_FRAMES_ID, NO_FRAMES_ID, AUDIO_CLIP_ID, LONGEST_TEST_ID)
    return {i: real_explainer.explain(i) for i in ids}


@pytest.mark.parametrize("utterance_id", [WITH_FRAMES_ID, NO_FRAMES_ID, AUDIO_CLIP_ID, LONGEST_TEST_ID])
def test_ig_completeness_at_64_steps(records, utterance_id):
    record = records[utterance_id]
    difference = record.coalition_values["text+acoustic+visual"] - record.coalition_values["none"]
    assert record.n_steps == IG_STEPS
    assert abs(record.convergence_delta) <= ABSOLUTE + RELATIVE * abs(difference)
    total = sum(record.attribution_totals.values())
    assert abs(total - difference) <= ABSOLUTE + RELATIVE * abs(difference)


@pytest.mark.parametrize("utterance_id", [WITH_FRAMES_ID, NO_FRAMES_ID, AUDIO_CLIP_ID, LONGEST_TEST_ID])
def test_shapley_efficiency_real(records, utterance_id):
    record = records[utterance_id]
    expected = record.coalition_values["text+acoustic+visual"] - record.coalition_values["none"]
    assert abs(sum(record.shapley.values()) - expected) < 1e-5
    assert record.prediction == record.coalition_values["text+acoustic+visual"]


@pytest.mark.parametrize("utterance_id", [WITH_FRAMES_ID, NO_FRAMES_ID, AUDIO_CLIP_ID, LONGEST_TEST_ID])
def test_attention_rows_real(records, utterance_id):
    record = records[utterance_id]
    assert record.attention.shape[0] == len(record.fused_layers)
    np.testing.assert_allclose(record.attention.sum(axis=-1), 1.0, atol=1e-5)


def test_frames_labelled_real(records):
    record = records[WITH_FRAMES_ID]
    assert record.attr_visual.shape == (72, 22)
    assert record.key_labels[0] == "null"
    assert record.key_labels[1] == "acoustic"
    assert record.key_labels[2].startswith("visual ")
    assert record.key_labels[2].endswith(" s")
    assert record.notes == []


@pytest.mark.parametrize("utterance_id", [NO_FRAMES_ID, AUDIO_CLIP_ID])
def test_no_frames_zero_visual_real(records, utterance_id):
    record = records[utterance_id]
    assert record.shapley["visual"] == 0.0
    assert record.attribution_totals["visual"] == 0.0
    assert record.attr_visual.shape == (0, 22)
    assert any(note.startswith("visual missing") for note in record.notes)


def test_longest_truncated_real(records, real_explainer):
    record = records[LONGEST_TEST_ID]
    assert record.text_truncated is True
    assert len(record.tokens) == real_explainer.model.config.max_text_length
    assert any(note.startswith("transcript truncated") for note in record.notes)


def test_deterministic_real(records, real_explainer):
    again = real_explainer.explain(WITH_FRAMES_ID)
    first = records[WITH_FRAMES_ID]
    np.testing.assert_array_equal(again.attention, first.attention)
    np.testing.assert_array_equal(again.attr_text, first.attr_text)
    np.testing.assert_array_equal(again.attr_visual, first.attr_visual)
    assert again.shapley == first.shapley
    assert again.convergence_delta == first.convergence_delta


def test_no_hooks_left_real(records, real_explainer):
    for name, module in real_explainer.model.named_modules():
        assert not module._forward_hooks, name
        assert not module._forward_pre_hooks, name


def test_threads_match_sequential_real(records, real_explainer):
    ids = [WITH_FRAMES_ID, NO_FRAMES_ID]
    results = {}

    def work(utterance_id: str) -> None:
        results[utterance_id] = real_explainer.explain(utterance_id)

    threads = [threading.Thread(target=work, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in ids:
        np.testing.assert_array_equal(results[i].attr_text, records[i].attr_text)
        np.testing.assert_array_equal(results[i].gate_tokens, records[i].gate_tokens)
        assert results[i].shapley == records[i].shapley


def test_cli_explain_real(checkpoint, real_dataset, capsys):
    code = main(["explain", "--checkpoint", str(checkpoint), "--data", str(real_dataset),
                 "--id", AUDIO_CLIP_ID, "--format", "json", "--n-steps", "8"])
    assert code == 0
    content = json.loads(capsys.readouterr().out)
    assert content["id"] == AUDIO_CLIP_ID
    assert content["text"] == "anyhow it was really good"
    assert content["words"] == ["anyhow", "it", "was", "really", "good"]
