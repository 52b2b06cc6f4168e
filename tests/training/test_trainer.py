"""The training loop on a tiny backbone and a synthetic dataset: outputs and exact resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from pgfnet.model.config import PGFNetConfig
from pgfnet.model.pgfnet import PGFNet
from pgfnet.model.tiny import TINY_DEFAULTS
from pgfnet.training.trainer import (
    STATE_FILE, RunAlreadyExistsError, epoch_batches, learning_rate_factor, train,
)


def tiny_config(**overrides) -> PGFNetConfig:
    values = dict(TINY_DEFAULTS, backbone="tiny-random-bert-seed0", epochs=3, batch_size=4,
                  patience=5, checkpoint_every_steps=2, seed=3)
    values.update(overrides)
    return PGFNetConfig(**values)


def test_train_writes_checkpoint_layout(tmp_path, synthetic_data, synthetic_data_path):
    result = train(tiny_config(), synthetic_data, tmp_path / "run",
                   data_path=synthetic_data_path, progress=False)
    run = tmp_path / "run"

    for name in ("config.json", "model.safetensors", "metrics.json", "predictions.json",
                 "history.json", "info.json"):
        assert (run / name).is_file(), name
    assert (run / "adapter" / "adapter_config.json").is_file()
    assert not (run / STATE_FILE).exists()

    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["split"] == "test"
    assert metrics["n"] == 8
    assert metrics == result.metrics
    predictions = json.loads((run / "predictions.json").read_text())
    assert set(predictions) == {"test", "valid"}
    assert len(predictions["test"]) == 8
    history = json.loads((run / "history.json").read_text())
    assert [entry["epoch"] for entry in history] == [1, 2, 3]
    info = json.loads((run / "info.json").read_text())
    assert info["parameters"]["total_trainable"] > 0
    assert len(info["data_sha256"]) == 64


def test_saved_best_reproduces_metrics(tmp_path, synthetic_data):
    from pgfnet.training.evaluate import predict_split

    result = train(tiny_config(), synthetic_data, tmp_path / "run", progress=False)
    model = PGFNet.from_pretrained(tmp_path / "run")
    metrics = predict_split(model, synthetic_data, "test").metrics()

    for name, value in result.metrics.items():
        if isinstance(value, float):
            assert metrics[name] == pytest.approx(value, abs=1e-6), name


def test_resume_matches_uninterrupted_run(tmp_path, synthetic_data):
    config = tiny_config()
    train(config, synthetic_data, tmp_path / "straight", progress=False)

    # 6 steps per epoch: stop mid-epoch 1, then mid-epoch 2, then finish.
    assert train(config, synthetic_data, tmp_path / "resumed", progress=False,
                 stop_after_steps=3) is None
    assert train(config, synthetic_data, tmp_path / "resumed", resume=True, progress=False,
                 stop_after_steps=5) is None
    train(config, synthetic_data, tmp_path / "resumed", resume=True, progress=False)

    straight = load_file(str(tmp_path / "straight" / "model.safetensors"))
    resumed = load_file(str(tmp_path / "resumed" / "model.safetensors"))
    assert straight.keys() == resumed.keys()
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), name


def test_unfinished_run_needs_resume_flag(tmp_path, synthetic_data):
    train(tiny_config(), synthetic_data, tmp_path / "run", progress=False, stop_after_steps=2)

    with pytest.raises(RunAlreadyExistsError, match="--resume"):
        train(tiny_config(), synthetic_data, tmp_path / "run", progress=False)


def test_resume_rejects_changed_config(tmp_path, synthetic_data):
    train(tiny_config(), synthetic_data, tmp_path / "run", progress=False, stop_after_steps=2)

    with pytest.raises(ValueError, match="lr_new"):
        train(tiny_config(lr_new=0.5), synthetic_data, tmp_path / "run", resume=True,
              progress=False)


def test_resume_accepts_older_state(tmp_path, synthetic_data):
    from safetensors.torch import save_file

    train(tiny_config(), synthetic_data, tmp_path / "run", progress=False, stop_after_steps=2)
    state_path = tmp_path / "run" / STATE_FILE
    with safe_open(str(state_path), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    # A state from a version without these fields, which are left at their defaults.
    old_config = json.loads(metadata["config"])
    del old_config["modality_dropout"], old_config["lr_fusion"]
    save_file(tensors, str(state_path), metadata=dict(metadata, config=json.dumps(old_config)))

    assert train(tiny_config(), synthetic_data, tmp_path / "run", resume=True,
                 progress=False) is not None

    # A new field set away from its default still counts as a changed config.
    train(tiny_config(modality_dropout=0.2), synthetic_data, tmp_path / "other",
          progress=False, stop_after_steps=2)
    with pytest.raises(ValueError, match="modality_dropout"):
        train(tiny_config(), synthetic_data, tmp_path / "other", resume=True, progress=False)


def test_finished_run_is_not_overwritten(tmp_path, synthetic_data):
    train(tiny_config(epochs=1), synthetic_data, tmp_path / "run", progress=False)

    with pytest.raises(RunAlreadyExistsError, match="finished"):
        train(tiny_config(epochs=1), synthetic_data, tmp_path / "run", progress=False)


def test_early_stopping_stops(tmp_path, synthetic_data):
    # A zero learning rate never improves after the first epoch.
    result = train(tiny_config(epochs=10, patience=2, lr_new=0.0, lr_lora=0.0),
                   synthetic_data, tmp_path / "run", progress=False)

    assert result.epochs_run == 3
    assert result.best_epoch == 1


def test_epoch_batches_cover_every_position_once():
    lengths = [5, 3, 9, 1, 7, 2, 8, 4, 6, 10, 11]
    batches = epoch_batches(lengths, batch_size=3, seed=0, epoch=0)

    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert batches == epoch_batches(lengths, batch_size=3, seed=0, epoch=0)
    assert batches != epoch_batches(lengths, batch_size=3, seed=0, epoch=1)


def test_learning_rate_schedule_shape():
    factors = [learning_rate_factor(step, 100, 0.1) for step in range(100)]

    assert factors[0] == pytest.approx(0.1)
    assert factors[9] == pytest.approx(1.0)
    assert factors[10] == pytest.approx(1.0)
    assert factors[99] == pytest.approx(1 / 90)
    assert all(a >= b for a, b in zip(factors[9:], factors[10:]))


def _train_command(config_path, out, data_path):
    return [sys.executable, "-m", "pgfnet.cli", "train", "--config", str(config_path),
            "--out", str(out), "--data", str(data_path), "--threads", "1", "--no-progress"]


def _state_position(path) -> tuple[int, int] | None:
    """Return (epoch, batch_in_epoch) of a saved training state, or None before one exists."""
    if not path.is_file():
        return None
    with safe_open(str(path), framework="pt") as handle:
        state = json.loads(handle.metadata()["state"])
    return state["epoch"], state["batch_in_epoch"]


@pytest.mark.slow
def test_kill_9_mid_epoch_then_resume(tmp_path, larger_data_path):
    config_path = tmp_path / "config.json"
    tiny_config(epochs=2, batch_size=2, checkpoint_every_steps=5).save(config_path)
    env = dict(os.environ, OMP_NUM_THREADS="1")

    subprocess.run(_train_command(config_path, tmp_path / "straight", larger_data_path),
                   check=True, timeout=600, capture_output=True, env=env)

    process = subprocess.Popen(_train_command(config_path, tmp_path / "killed", larger_data_path),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    state_path = tmp_path / "killed" / STATE_FILE
    deadline = time.monotonic() + 300
    while _state_position(state_path) is None:
        assert process.poll() is None, "the run ended before it saved a state"
        assert time.monotonic() < deadline, "no training state appeared within 300 s"
        time.sleep(0.01)
    time.sleep(0.2)  # let it run past the saved state, so work is lost and redone
    assert process.poll() is None, "the run finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)

    position = _state_position(state_path)
    assert position is not None
    assert not (tmp_path / "killed" / "metrics.json").exists()
    subprocess.run(_train_command(config_path, tmp_path / "killed", larger_data_path) + ["--resume"],
                   check=True, timeout=600, capture_output=True, env=env)

    straight = load_file(str(tmp_path / "straight" / "model.safetensors"))
    resumed = load_file(str(tmp_path / "killed" / "model.safetensors"))
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), name
    assert (json.loads((tmp_path / "straight" / "metrics.json").read_text())
            == json.loads((tmp_path / "killed" / "metrics.json").read_text()))


def test_evaluate_force_gate_ignores_nonverbal(tmp_path, synthetic_data, synthetic_data_path):
    from pgfnet.training.evaluate import evaluate_checkpoint

    train(tiny_config(epochs=1), synthetic_data, tmp_path / "run", progress=False)
    _, free = evaluate_checkpoint(tmp_path / "run", "test", synthetic_data_path)
    _, forced = evaluate_checkpoint(tmp_path / "run", "test", synthetic_data_path, force_gate=1.0)
    _, forced_dropped = evaluate_checkpoint(tmp_path / "run", "test", synthetic_data_path,
                                            force_gate=1.0, drop_modalities=("acoustic", "visual"))

    assert forced.ids == free.ids
    assert (forced.predictions == forced_dropped.predictions).all()
    assert (forced.predictions != free.predictions).any()


def _group_of(optimizer, parameter) -> dict:
    return next(g for g in optimizer.param_groups if any(p is parameter for p in g["params"]))


def test_lr_fusion_gives_fused_parts_their_own_rate():
    from pgfnet.model.tiny import build_tiny_pgfnet
    from pgfnet.training.trainer import build_optimizer

    model = build_tiny_pgfnet(seed=0, lr_new=1e-3, lr_fusion=2e-4)
    optimizer = build_optimizer(model, model.config)
    fused = next(iter(model.fusion.values()))

    assert _group_of(optimizer, fused.gate.weight)["lr"] == 2e-4
    assert _group_of(optimizer, fused.gate.bias)["weight_decay"] == 0.0
    assert _group_of(optimizer, model.nonverbal.acoustic_projection.weight)["lr"] == 2e-4
    assert _group_of(optimizer, model.head[1].weight)["lr"] == 1e-3
    assert len(optimizer.param_groups) == 5

    plain = build_tiny_pgfnet(seed=0, lr_new=1e-3)
    assert [g["lr"] for g in build_optimizer(plain, plain.config).param_groups] == [
        plain.config.lr_lora, 1e-3, 1e-3]


def test_lr_fusion_rejects_non_positive_rate():
    with pytest.raises(ValueError, match="lr_fusion"):
        tiny_config(lr_fusion=0.0)


def test_text_only_ignores_fusion_settings():
    # The text-only baseline's recorded runs stay valid when only these settings change.
    from pgfnet.model.tiny import build_tiny_pgfnet
    from pgfnet.training.trainer import build_optimizer

    plain = build_tiny_pgfnet(seed=0, fusion_layers=[])
    tuned = build_tiny_pgfnet(seed=0, fusion_layers=[], gate_bias_init=5.0, fusion_dim=16,
                              modality_dropout=0.5, lr_fusion=1e-4)

    assert plain.state_dict().keys() == tuned.state_dict().keys()
    for name, value in plain.state_dict().items():
        assert torch.equal(value, tuned.state_dict()[name]), name
    groups = [[(g["lr"], g["weight_decay"], len(g["params"])) for g in build_optimizer(m, m.config).param_groups]
              for m in (plain, tuned)]
    assert groups[0] == groups[1]


def test_field_defaults_match_first_default():
    # Older config files omit newer fields, so those fields must default to the old behaviour.
    from pgfnet.paths import REPO_ROOT

    assert PGFNetConfig() == PGFNetConfig.load(REPO_ROOT / "configs" / "sweep" / "first_default.json")
