"""Invariants of PGF-Net checked on a tiny randomly initialised 2-layer backbone."""

from __future__ import annotations

import json

import pytest
import torch

from pgfnet.model.pgfnet import PGFNet
from pgfnet.model.tiny import build_tiny_pgfnet


def test_output_shapes(tiny_model, inputs):
    output = tiny_model(**inputs)

    assert output.prediction.shape == (3,)
    assert output.fused_layers == [0, 1]
    assert len(output.attentions) == 2
    assert len(output.gates) == 2
    assert output.attentions[0].shape == (3, 2, 7, 1 + 1 + 5)
    assert output.gates[0].shape == (3, 7, 32)
    assert output.key_modality == ["null", "acoustic"] + ["visual"] * 5
    assert output.key_mask.shape == (3, 7)
    assert output.pooled.shape == (3, 32)


def test_predictions_within_label_range(tiny_model, inputs):
    # A huge head bias pushes the pre-activation far out; the output must stay bounded.
    with torch.no_grad():
        tiny_model.head[-1].bias.fill_(1e4)
    prediction = tiny_model(**inputs).prediction

    assert torch.all(prediction <= 3.0)
    assert torch.all(prediction >= -3.0)


def test_gate_values_in_open_interval(tiny_model, inputs):
    tiny_model.train()
    for gate in tiny_model(**inputs).gates:
        assert torch.all(gate > 0.0)
        assert torch.all(gate < 1.0)


def test_gate_starts_near_text_path(tiny_model, inputs):
    for gate in tiny_model(**inputs).gates:
        assert gate.mean().item() > 0.9


def test_attention_rows_sum_to_one(tiny_model, inputs):
    output = tiny_model(**inputs)
    for weights in output.attentions:
        sums = weights.sum(dim=-1)
        torch.testing.assert_close(sums, torch.ones_like(sums))


def test_padded_keys_get_zero_weight(tiny_model, inputs):
    output = tiny_model(**inputs)
    masked = ~output.key_mask  # (B, K)
    for weights in output.attentions:
        on_masked = weights.masked_select(masked[:, None, None, :].expand_as(weights))
        assert on_masked.numel() > 0
        assert torch.all(on_masked == 0.0)


def test_null_key_always_unmasked(tiny_model, inputs):
    output = tiny_model(**inputs)

    assert output.key_modality[0] == "null"
    assert torch.all(output.key_mask[:, 0])


def test_forced_gate_one_ignores_nonverbal(tiny_model, inputs, make_inputs):
    other = make_inputs(seed=1)
    changed = dict(inputs, acoustic=other["acoustic"], visual=other["visual"] * 5,
                   visual_times=other["visual_times"] + 2.0)
    force = {0: 1.0, 1: 1.0}

    forced_a = tiny_model(**inputs, force_gates=force).prediction
    forced_b = tiny_model(**changed, force_gates=force).prediction
    free_a = tiny_model(**inputs).prediction
    free_b = tiny_model(**changed).prediction

    torch.testing.assert_close(forced_a, forced_b, rtol=0, atol=0)
    assert not torch.allclose(free_a[:2], free_b[:2])


def test_forced_gate_reported_in_output(tiny_model, inputs):
    output = tiny_model(**inputs, force_gates={1: 0.25})

    assert torch.all(output.gates[1] == 0.25)
    assert not torch.all(output.gates[0] == 0.25)


def test_force_gates_rejects_unfused_layer(inputs):
    model = build_tiny_pgfnet(seed=0)  # fuses layer 1 only

    with pytest.raises(ValueError, match=r"\[1\]"):
        model(**inputs, force_gates={0: 1.0})


def test_force_gates_rejects_out_of_range_value(tiny_model, inputs):
    with pytest.raises(ValueError, match="1.5"):
        tiny_model(**inputs, force_gates={0: 1.5})


def test_drop_modalities_rejects_unknown_name(tiny_model, inputs):
    with pytest.raises(ValueError, match="text"):
        tiny_model(**inputs, drop_modalities=("text",))


def test_drop_both_equals_null_key_alone(tiny_model, inputs):
    dropped = tiny_model(**inputs, drop_modalities=("acoustic", "visual"))
    no_keys = dict(
        inputs,
        acoustic=inputs["acoustic"][:, :0],
        acoustic_mask=inputs["acoustic_mask"][:, :0],
        visual=inputs["visual"][:, :0],
        visual_mask=inputs["visual_mask"][:, :0],
        visual_times=inputs["visual_times"][:, :0],
    )
    null_only = tiny_model(**no_keys)

    torch.testing.assert_close(dropped.prediction, null_only.prediction, rtol=0, atol=1e-6)
    for weights in dropped.attentions:
        assert torch.all(weights[..., 0] == 1.0)
        assert torch.all(weights[..., 1:] == 0.0)


def test_drop_one_modality_masks_its_keys(tiny_model, inputs):
    output = tiny_model(**inputs, drop_modalities=("visual",))
    visual_columns = [i for i, name in enumerate(output.key_modality) if name == "visual"]

    assert not output.key_mask[:, visual_columns].any()
    assert output.key_mask[0, 1]


def test_calls_keep_no_state(tiny_model, inputs):
    before = tiny_model(**inputs).prediction
    tiny_model(**inputs, force_gates={0: 0.0, 1: 0.0}, drop_modalities=("acoustic",))
    after = tiny_model(**inputs).prediction

    torch.testing.assert_close(before, after, rtol=0, atol=0)


def test_inputs_embeds_matches_input_ids(tiny_model, inputs):
    embeds = tiny_model.word_embeddings(inputs["input_ids"])
    from_ids = tiny_model(**inputs).prediction
    from_embeds = tiny_model(**dict(inputs, input_ids=None), inputs_embeds=embeds).prediction

    torch.testing.assert_close(from_ids, from_embeds, rtol=0, atol=1e-6)


def test_only_lora_and_new_parts_train(tiny_model, inputs):
    trainable = [name for name, p in tiny_model.named_parameters() if p.requires_grad]
    new_prefixes = ("nonverbal.", "fusion.", "head.")

    assert trainable
    for name in trainable:
        assert "lora_" in name or name.startswith(new_prefixes), name
    assert any("lora_" in name for name in trainable)
    assert not tiny_model.word_embeddings.weight.requires_grad

    tiny_model.train()
    tiny_model(**inputs).prediction.sum().backward()
    for name, parameter in tiny_model.named_parameters():
        if not parameter.requires_grad:
            assert parameter.grad is None, name


def test_no_lora_freezes_whole_backbone():
    model = build_tiny_pgfnet(seed=0, use_lora=False)
    names = [name for name, p in model.named_parameters() if p.requires_grad]

    assert not any(name.startswith("backbone.") for name in names)
    assert model.parameter_breakdown()["lora"] == 0


def test_parameter_breakdown_adds_up(tiny_model):
    counts = tiny_model.parameter_breakdown()
    trainable = sum(p.numel() for p in tiny_model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in tiny_model.parameters() if not p.requires_grad)
    parts = {k: v for k, v in counts.items() if not k.startswith("total_")}

    assert counts["total_trainable"] == trainable
    assert counts["total_frozen"] == frozen
    assert sum(parts.values()) == trainable
    assert set(parts) >= {"lora", "nonverbal_projections", "head", "fusion.0.attention",
                          "fusion.1.gate", "fusion.1.adapter"}


def test_ablations_build_and_run(inputs):
    for overrides in ({"use_gate": False}, {"use_adapter": False}, {"modalities": ["visual"]},
                      {"pooling": "cls"}, {"fusion_dim": 16}):
        model = build_tiny_pgfnet(seed=0, **overrides)
        prediction = model(**inputs).prediction
        assert prediction.shape == (3,), overrides
        assert torch.isfinite(prediction).all(), overrides


def test_no_acoustic_ablation_masks_acoustic(inputs):
    model = build_tiny_pgfnet(seed=0, modalities=["visual"])
    output = model(**inputs)

    assert not output.key_mask[:, 1].any()


def test_save_load_round_trip(tmp_path, tiny_model, inputs):
    with torch.no_grad():
        for parameter in tiny_model.parameters():
            if parameter.requires_grad:
                parameter.add_(torch.randn_like(parameter) * 0.1)
    tiny_model.save_pretrained(tmp_path / "ckpt")
    loaded = PGFNet.from_pretrained(tmp_path / "ckpt")

    assert not loaded.training
    assert loaded.config == tiny_model.config
    original_state = tiny_model.state_dict()
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, original_state[name]), name
    torch.testing.assert_close(
        loaded(**inputs).prediction, tiny_model(**inputs).prediction, rtol=0, atol=0
    )


def _rewrite_config_copies(folder, json_config: dict, stored_config: dict) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file

    weights = folder / "model.safetensors"
    with safe_open(str(weights), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    save_file(tensors, str(weights), metadata=dict(metadata, config=json.dumps(stored_config)))
    (folder / "config.json").write_text(json.dumps(json_config))


def test_load_checkpoint_without_new_fields(tmp_path, tiny_model, caplog):
    tiny_model.save_pretrained(tmp_path / "ckpt")
    older = tiny_model.config.to_dict()
    del older["modality_dropout"], older["lr_fusion"]
    _rewrite_config_copies(tmp_path / "ckpt", older, older)

    with caplog.at_level("WARNING", logger="pgfnet.model.pgfnet"):
        loaded = PGFNet.from_pretrained(tmp_path / "ckpt")

    assert loaded.config == tiny_model.config
    assert "differs" not in caplog.text


def test_load_prefers_config_in_weights(tmp_path, tiny_model, caplog):
    tiny_model.save_pretrained(tmp_path / "ckpt")
    edited = dict(tiny_model.config.to_dict(), dropout=0.3)
    _rewrite_config_copies(tmp_path / "ckpt", edited, tiny_model.config.to_dict())

    with caplog.at_level("WARNING", logger="pgfnet.model.pgfnet"):
        loaded = PGFNet.from_pretrained(tmp_path / "ckpt")

    assert loaded.config.dropout == tiny_model.config.dropout
    assert "differs from the config stored" in caplog.text


def test_checkpoint_layout(tmp_path, tiny_model):
    tiny_model.save_pretrained(tmp_path / "ckpt")
    folder = tmp_path / "ckpt"

    assert (folder / "config.json").is_file()
    assert (folder / "model.safetensors").is_file()
    assert (folder / "adapter" / "adapter_config.json").is_file()
    assert json.loads((folder / "config.json").read_text())["fusion_layers"] == [0, 1]


def test_load_missing_folder_names_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        PGFNet.from_pretrained(tmp_path / "nowhere")


def test_load_incomplete_folder_names_file(tmp_path, tiny_model):
    tiny_model.save_pretrained(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "model.safetensors").unlink()

    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        PGFNet.from_pretrained(tmp_path / "ckpt")


def test_load_rejects_mismatched_weights(tmp_path, tiny_model):
    tiny_model.save_pretrained(tmp_path / "ckpt")
    other = build_tiny_pgfnet(seed=0, fusion_layers=[1])
    other.config.save(tmp_path / "ckpt" / "config.json")
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(tmp_path / "ckpt" / "model.safetensors"))
    save_file(tensors, str(tmp_path / "ckpt" / "model.safetensors"))  # drops stored config

    with pytest.raises(ValueError, match="does not match"):
        PGFNet.from_pretrained(tmp_path / "ckpt")


def test_save_over_previous_checkpoint(tmp_path, tiny_model, inputs):
    folder = tmp_path / "ckpt"
    tiny_model.save_pretrained(folder)
    with torch.no_grad():
        tiny_model.head[-1].bias.add_(0.5)
    tiny_model.save_pretrained(folder)
    loaded = PGFNet.from_pretrained(folder)

    torch.testing.assert_close(loaded(**inputs).prediction, tiny_model(**inputs).prediction)
    assert sorted(p.name for p in folder.iterdir()) == ["adapter", "config.json", "model.safetensors"]


def test_text_only_has_no_fusion(inputs, make_inputs):
    model = build_tiny_pgfnet(seed=0, fusion_layers=[])
    other = make_inputs(seed=1)
    output = model(**inputs)
    changed = model(**dict(inputs, acoustic=other["acoustic"], visual=other["visual"]))

    assert output.fused_layers == []
    assert output.attentions == []
    assert output.gates == []
    assert model.parameter_breakdown()["nonverbal_projections"] == 0
    torch.testing.assert_close(output.prediction, changed.prediction, rtol=0, atol=0)


def test_concurrent_calls_match_serial(tiny_model, make_inputs):
    from concurrent.futures import ThreadPoolExecutor

    input_sets = [make_inputs(seed=seed) for seed in range(4)]
    options = [{}, {"force_gates": {0: 1.0}}, {"drop_modalities": ("visual",)}, {}]
    serial = [tiny_model(**inputs, **kwargs).prediction for inputs, kwargs in zip(input_sets, options)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(lambda i=i, k=k: tiny_model(**i, **k).prediction)
                   for i, k in zip(input_sets, options)]
        parallel = [future.result() for future in futures]

    for expected, got in zip(serial, parallel):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_modality_dropout_masks_keys_in_training_only(inputs):
    model = build_tiny_pgfnet(seed=0, fusion_layers=[0, 1], modality_dropout=0.999)
    model.train()
    torch.manual_seed(0)
    trained = model(**inputs)
    model.eval()
    evaluated = model(**inputs)

    # With p near 1 every nonverbal key is masked in training; only the null key is left.
    assert torch.equal(trained.key_mask[:, 1:], torch.zeros_like(trained.key_mask[:, 1:]))
    assert torch.all(trained.key_mask[:, 0])
    expected = torch.cat([torch.ones(3, 1, dtype=torch.bool), inputs["acoustic_mask"],
                          inputs["visual_mask"]], dim=1)
    assert torch.equal(evaluated.key_mask, expected)


def test_modality_dropout_off_draws_no_random_numbers(inputs):
    from pgfnet.model.fusion import NonverbalEncoder

    encoder = NonverbalEncoder(73, 22, 32, 30.0, dropout=0.0, modality_dropout=0.0)
    encoder.train()
    torch.manual_seed(5)
    encoder(inputs["acoustic"], inputs["acoustic_mask"], inputs["visual"],
            inputs["visual_mask"], inputs["visual_times"])
    after = torch.rand(1)
    torch.manual_seed(5)

    # Runs recorded before modality dropout existed keep their random stream.
    assert torch.equal(after, torch.rand(1))


@pytest.mark.parametrize("value", [-0.1, 1.0, float("nan")])
def test_modality_dropout_rejects_bad_probability(value):
    from pgfnet.model.config import PGFNetConfig

    with pytest.raises(ValueError, match="modality_dropout"):
        PGFNetConfig(modality_dropout=value)
