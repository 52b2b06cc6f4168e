"""The explainer on the tiny PGF-Net: record contents and the guarantees it states."""

from __future__ import annotations

import json
import threading
from dataclasses import fields, replace

import numpy as np
import pytest
import torch
from captum.attr import LayerIntegratedGradients

from pgfnet.explain.baselines import text_baseline_ids
from pgfnet.explain.engine import Explainer
from pgfnet.explain.record import ARRAY_FIELDS, Explanation
from pgfnet.explain.shapley import MODALITIES, coalition_name, coalitions

from explain_corpus import EMPTY_TEXT_ID, LONG_TEXT_ID, NO_FRAMES_ID, PLAIN_ID, TEXTS


def assert_records_equal(a: Explanation, b: Explanation) -> None:
    for f in fields(Explanation):
        left, right = getattr(a, f.name), getattr(b, f.name)
        if f.name in ARRAY_FIELDS:
            assert np.array_equal(left, right), f.name
        else:
            assert left == right, f.name


@pytest.fixture(scope="module")
def plain(explainer) -> Explanation:
    return explainer.explain(PLAIN_ID)


def test_record_shapes(plain, tiny_model):
    n_layers, n_heads = len(tiny_model.fused_layers), tiny_model.config.fusion_heads
    n_tokens, n_keys = len(plain.tokens), len(plain.key_labels)
    n_frames = 12
    assert plain.attention.shape == (n_layers, n_heads, n_tokens, n_keys)
    assert plain.gate_tokens.shape == (n_layers, n_tokens)
    assert plain.gate_channels.shape == (n_layers, tiny_model.hidden_size)
    assert plain.attr_text.shape == (n_tokens,)
    assert plain.attr_acoustic.shape == (73,)
    assert plain.attr_visual.shape == (n_frames, 22)
    assert plain.visual_times.shape == (n_frames,)
    assert n_keys == 1 + 1 + n_frames
    assert len(plain.token_word) == n_tokens
    assert plain.fused_layers == [0, 1]


def test_record_fields_filled(plain, tiny_data):
    assert plain.id == PLAIN_ID
    assert plain.split == "test"
    assert plain.text == TEXTS[PLAIN_ID]
    assert plain.label == pytest.approx(tiny_data.utterances[tiny_data.index_of(PLAIN_ID)].label)
    assert plain.tokens[0] == "[CLS]"
    assert plain.tokens[-1] == "[SEP]"
    assert plain.words[:3] == ["i", "really", "loved"]
    assert "unbelievably" in plain.words
    assert plain.key_labels[:3] == ["null", "acoustic", "visual 0.00 s"]
    assert plain.key_labels[-1] == "visual 0.73 s"
    assert plain.key_modality == ["null", "acoustic"] + ["visual"] * 12
    assert plain.acoustic_feature_names == tiny_data.feature_names["acoustic"]
    assert plain.visual_feature_names == tiny_data.feature_names["visual"]
    assert set(plain.baselines) == set(MODALITIES)
    assert set(plain.coalition_values) == {coalition_name(c) for c in coalitions()}
    assert plain.interaction in ("dominance", "complement", "conflict")
    assert plain.dominant_modality in MODALITIES
    assert plain.n_steps == 16
    assert plain.ig_method == "gausslegendre"
    assert plain.notes == []
    assert plain.settings == {}
    assert plain.text_truncated is False
    assert len(plain.model_id) == 64
    assert plain.dataset_sha256 == tiny_data.sha256


def test_attention_rows_sum_to_one(plain):
    np.testing.assert_allclose(plain.attention.sum(axis=-1), 1.0, atol=1e-5)


def test_gates_in_unit_interval(plain):
    assert np.all((plain.gate_tokens > 0) & (plain.gate_tokens < 1))
    assert np.all((plain.gate_channels > 0) & (plain.gate_channels < 1))


def test_shapley_efficiency(plain):
    total = sum(plain.shapley.values())
    expected = plain.coalition_values["text+acoustic+visual"] - plain.coalition_values["none"]
    assert abs(total - expected) < 1e-5


def test_prediction_is_full_coalition(plain):
    assert plain.prediction == plain.coalition_values["text+acoustic+visual"]


def test_attribution_totals_and_shares(plain):
    assert plain.attribution_totals["text"] == pytest.approx(float(plain.attr_text.sum()), abs=1e-6)
    assert plain.attribution_totals["visual"] == pytest.approx(float(plain.attr_visual.sum()), abs=1e-6)
    assert sum(plain.attribution_shares.values()) == pytest.approx(1.0)


def test_ig_completeness_tiny(plain):
    # The attributions of all modalities share one path from the all-absent baseline.
    difference = plain.coalition_values["text+acoustic+visual"] - plain.coalition_values["none"]
    total = sum(plain.attribution_totals.values())
    assert abs(plain.convergence_delta) <= 1e-3 + 0.05 * abs(difference)
    assert abs(total - difference) <= 1e-3 + 0.05 * abs(difference)


def test_special_tokens_get_zero_attribution(plain):
    # [CLS] and [SEP] are kept in the text baseline, so their path has length 0.
    assert plain.attr_text[0] == 0.0
    assert plain.attr_text[-1] == 0.0


def test_no_frames_zero_visual(explainer):
    record = explainer.explain(NO_FRAMES_ID)
    assert record.shapley["visual"] == 0.0
    assert record.attribution_totals["visual"] == 0.0
    assert record.attr_visual.shape == (0, 22)
    assert record.visual_times.shape == (0,)
    assert record.key_modality == ["null", "acoustic"]
    assert any(note.startswith("visual missing") for note in record.notes)
    np.testing.assert_allclose(record.attention.sum(axis=-1), 1.0, atol=1e-5)


def test_empty_transcript_zero_text(explainer):
    record = explainer.explain(EMPTY_TEXT_ID)
    assert record.tokens == ["[CLS]", "[SEP]"]
    assert record.words == []
    assert record.shapley["text"] == 0.0
    assert np.all(record.attr_text == 0.0)
    assert any(note.startswith("empty transcript") for note in record.notes)
    total = sum(record.shapley.values())
    expected = record.coalition_values["text+acoustic+visual"] - record.coalition_values["none"]
    assert abs(total - expected) < 1e-5


def test_long_transcript_truncated(explainer, tiny_model):
    record = explainer.explain(LONG_TEXT_ID)
    assert record.text_truncated is True
    assert len(record.tokens) == tiny_model.config.max_text_length
    assert record.tokens[-1] == "[SEP]"
    assert any(note.startswith("transcript truncated") and "50 of the 82" in note for note in record.notes)


def test_explain_deterministic(explainer, plain):
    assert_records_equal(plain, explainer.explain(PLAIN_ID))


def test_unknown_id_raises_key_error(explainer):
    with pytest.raises(KeyError, match="nosuchvideo_9"):
        explainer.explain("nosuchvideo_9")


@pytest.mark.parametrize("bad_id", ["../etc/passwd", "", "a b", "x" * 65])
def test_malformed_id_raises_value_error(explainer, bad_id):
    with pytest.raises(ValueError, match="invalid utterance id"):
        explainer.explain(bad_id)


def test_no_hooks_left(explainer, tiny_model):
    explainer.explain(NO_FRAMES_ID)
    for name, module in tiny_model.named_modules():
        assert not module._forward_hooks, name
        assert not module._forward_pre_hooks, name
        assert not module._backward_hooks, name


def test_no_parameter_gradients_left(explainer, tiny_model):
    explainer.explain(PLAIN_ID)
    assert all(p.grad is None for p in tiny_model.parameters())


def test_text_matches_layer_integrated_gradients(explainer, tiny_model, plain):
    # The hook-free text attribution equals Captum's LayerIntegratedGradients on the
    # word-embedding layer when the nonverbal input is held fixed at its baseline.
    example = explainer.example(PLAIN_ID)
    silent = replace(example, acoustic=np.zeros_like(example.acoustic), visual=np.zeros_like(example.visual))
    record = explainer.explain_example(silent)
    batch = explainer.collate([silent])

    def forward(input_ids):
        n = input_ids.shape[0]
        return tiny_model(
            input_ids, batch.attention_mask.expand(n, -1), batch.acoustic.expand(n, -1, -1),
            batch.acoustic_mask.expand(n, -1), batch.visual.expand(n, -1, -1),
            batch.visual_mask.expand(n, -1), batch.visual_times.expand(n, -1),
        ).prediction

    lig = LayerIntegratedGradients(forward, tiny_model.word_embeddings)
    baseline = text_baseline_ids(batch.input_ids, explainer.pad_id, explainer.keep_ids)
    attributions = lig.attribute(batch.input_ids, baselines=baseline, n_steps=16)
    expected = attributions[0].sum(dim=-1).detach().numpy()
    np.testing.assert_allclose(record.attr_text, expected, atol=1e-6)
    assert not tiny_model.word_embeddings._forward_hooks


def test_save_load_round_trip(plain, tmp_path):
    json_path, npz_path = plain.save(tmp_path / PLAIN_ID)
    assert json_path.is_file()
    assert npz_path.is_file()
    assert_records_equal(plain, Explanation.load(tmp_path / PLAIN_ID))


def test_json_dict_round_trip(plain):
    text = json.dumps(plain.to_json_dict())
    restored = Explanation.from_json_dict(json.loads(text))
    for name in ARRAY_FIELDS:
        np.testing.assert_allclose(getattr(restored, name), getattr(plain, name))
    assert restored.shapley == plain.shapley


def test_threads_match_sequential(explainer):
    ids = [PLAIN_ID, NO_FRAMES_ID, "vidA_2", "vidC_1"]
    sequential = {i: explainer.explain(i) for i in ids}
    results: dict[str, Explanation] = {}
    errors: list[BaseException] = []

    def work(utterance_id: str) -> None:
        try:
            results[utterance_id] = explainer.explain(utterance_id)
        except BaseException as error:  # reported by the main thread below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for i in ids:
        assert_records_equal(sequential[i], results[i])


def test_threads_with_forced_gates_do_not_leak(explainer):
    # A forced-gate explanation in one thread must not change another thread's gates.
    plain_sequential = explainer.explain(PLAIN_ID)
    forced_sequential = explainer.explain_example(explainer.example("vidA_2"), force_gates={1: 0.0})
    results = {}

    def plain_work():
        results["plain"] = explainer.explain(PLAIN_ID)

    def forced_work():
        results["forced"] = explainer.explain_example(explainer.example("vidA_2"), force_gates={1: 0.0})

    threads = [threading.Thread(target=plain_work), threading.Thread(target=forced_work)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert_records_equal(plain_sequential, results["plain"])
    assert_records_equal(forced_sequential, results["forced"])


def test_n_steps_setting(explainer):
    record = explainer.explain(PLAIN_ID, n_steps=4)
    assert record.n_steps == 4


def test_invalid_n_steps_rejected(tiny_model, tiny_data):
    with pytest.raises(ValueError, match="n_steps"):
        Explainer(tiny_model, tiny_data, n_steps=0)


def test_model_id_stable(tiny_model, tiny_data, explainer):
    other = Explainer(tiny_model, tiny_data)
    assert other.model_id == explainer.model_id
    assert torch.is_grad_enabled()


def test_text_only_model(tiny_data):
    from pgfnet.model.tiny import build_tiny_pgfnet

    model = build_tiny_pgfnet(seed=1, fusion_layers=[])
    explainer = Explainer(model, tiny_data, n_steps=8)
    record = explainer.explain(PLAIN_ID)
    assert record.fused_layers == []
    assert record.attention.shape[0] == 0
    assert record.gate_tokens.shape == (0, len(record.tokens))
    assert record.shapley["acoustic"] == 0.0
    assert record.shapley["visual"] == 0.0
    assert np.all(record.attr_visual == 0.0)
    assert sum(1 for note in record.notes if "no fused layer" in note) == 2
    expected = record.coalition_values["text+acoustic+visual"] - record.coalition_values["none"]
    assert abs(record.shapley["text"] - expected) < 1e-5
    overview = explainer.predict_overview("valid")
    assert overview.gate_means.shape == (1, 0)
    assert list(overview.to_frame().columns)[:6] == ["id", "split", "label", "prediction", "error", "abs_error"]


def test_ig_bound_flag(plain):
    import dataclasses

    change = plain.coalition_values["text+acoustic+visual"] - plain.coalition_values["none"]
    bound = 0.002 + 0.01 * abs(change)

    assert dataclasses.replace(plain, convergence_delta=0.9 * bound).ig_within_bound
    assert dataclasses.replace(plain, convergence_delta=-0.9 * bound).ig_within_bound
    assert not dataclasses.replace(plain, convergence_delta=1.1 * bound).ig_within_bound
    assert not dataclasses.replace(plain, convergence_delta=-1.1 * bound).ig_within_bound
