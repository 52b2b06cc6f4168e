"""What-if explanations: edited transcripts, dropped modalities and forced gates."""

from __future__ import annotations

import json

import numpy as np
import pytest
from explain_corpus import NO_FRAMES_ID, PLAIN_ID


def test_drop_visual(explainer):
    result = explainer.what_if(PLAIN_ID, drop_modalities=["visual"])
    edited = result.edited
    assert edited.shapley["visual"] == 0.0
    assert edited.attribution_totals["visual"] == 0.0
    visual_keys = np.array(edited.key_modality) == "visual"
    assert np.all(edited.attention[..., visual_keys] == 0.0)
    np.testing.assert_allclose(edited.attention.sum(axis=-1), 1.0, atol=1e-5)
    assert edited.settings == {"drop_modalities": ["visual"]}
    assert any(note.startswith("visual dropped") for note in edited.notes)
    for layer in ("0", "1"):
        assert result.diff["attention_mass_change"][layer]["visual"] < 0.0


def test_drop_both_nonverbal_leaves_text_only(explainer):
    edited = explainer.what_if(PLAIN_ID, drop_modalities=("acoustic", "visual")).edited
    assert edited.shapley["acoustic"] == 0.0
    assert edited.shapley["visual"] == 0.0
    assert edited.shapley["text"] == pytest.approx(
        edited.coalition_values["text+acoustic+visual"] - edited.coalition_values["none"], abs=1e-9
    )
    np.testing.assert_array_equal(edited.attention[..., 0], 1.0)


def test_force_gates(explainer):
    result = explainer.what_if(PLAIN_ID, force_gates={1: 0.25})
    edited = result.edited
    np.testing.assert_allclose(edited.gate_tokens[1], 0.25, atol=1e-7)
    np.testing.assert_allclose(edited.gate_channels[1], 0.25, atol=1e-7)
    np.testing.assert_array_equal(edited.gate_tokens[0], result.original.gate_tokens[0])
    assert edited.settings == {"force_gates": {"1": 0.25}}
    assert any(note.startswith("gates forced: layer 1 = 0.25") for note in edited.notes)
    assert result.diff["gate_mean_change"]["0"] == 0.0
    assert result.diff["gate_mean_change"]["1"] == pytest.approx(
        0.25 - float(result.original.gate_tokens[1].mean()), abs=1e-6
    )
    assert len(result.diff["gate_token_change"]["1"]) == len(edited.tokens)
    assert result.diff["prediction"]["change"] == edited.prediction - result.original.prediction
    total = sum(edited.shapley.values())
    assert abs(total - (edited.coalition_values["text+acoustic+visual"] - edited.coalition_values["none"])) < 1e-5


def test_edited_text(explainer):
    result = explainer.what_if(PLAIN_ID, text="i hated this movie")
    edited = result.edited
    assert edited.text == "i hated this movie"
    assert edited.split == "custom"
    assert edited.label is None
    assert edited.words == ["i", "hated", "this", "movie"]
    assert edited.settings == {"text": "i hated this movie"}
    np.testing.assert_array_equal(edited.visual_times, result.original.visual_times)
    assert result.diff["tokens_changed"] is True
    assert result.diff["gate_token_change"]["0"] is None
    assert result.diff["attention_change"]["0"] is None


def test_edited_text_empty(explainer):
    edited = explainer.what_if(PLAIN_ID, text="").edited
    assert edited.shapley["text"] == 0.0
    assert any(note.startswith("empty transcript") for note in edited.notes)


def test_no_edit_gives_zero_diff(explainer):
    result = explainer.what_if(PLAIN_ID)
    assert result.diff["prediction"]["change"] == 0.0
    assert all(v == 0.0 for v in result.diff["shapley_change"].values())
    assert all(v == 0.0 for v in result.diff["attention_change"].values())
    assert result.diff["tokens_changed"] is False


def test_what_if_json_serialisable(explainer):
    result = explainer.what_if(NO_FRAMES_ID, drop_modalities=["acoustic"], force_gates={0: 1.0})
    content = json.loads(json.dumps(result.to_json_dict()))
    assert set(content) == {"original", "edited", "diff"}
    assert content["edited"]["settings"]["force_gates"] == {"0": 1.0}
    assert content["edited"]["shapley"]["visual"] == 0.0
    assert content["edited"]["shapley"]["acoustic"] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"drop_modalities": ["text"]}, "text=''"),
        ({"drop_modalities": ["smell"]}, "invalid drop_modalities"),
        ({"force_gates": {5: 0.5}}, "invalid force_gates layer"),
        ({"force_gates": {1: 1.5}}, "invalid forced gate value"),
        ({"text": 3}, "invalid text"),
    ],
)
def test_invalid_what_if_rejected(explainer, kwargs, message):
    with pytest.raises(ValueError, match=message):
        explainer.what_if(PLAIN_ID, **kwargs)


def test_unknown_character_stays_a_word(explainer):
    edited = explainer.what_if(PLAIN_ID, text="good \u2603 film").edited
    assert "[UNK]" in edited.tokens
    assert edited.words == ["good", "[UNK]", "film"]
    assert -1 not in edited.token_word[1:-1]


def test_edited_text_truncated(explainer):
    edited = explainer.what_if(PLAIN_ID, text=" ".join(["fine"] * 50)).edited
    assert edited.text_truncated is True
    assert any(note.startswith("transcript truncated") for note in edited.notes)
