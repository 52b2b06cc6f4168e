"""Hostile or damaged files: pickled checkpoints, NaN in dataset files, escaping ids.

Checkpoints must load from ``model.safetensors`` and ``config.json`` only. A pickle
beside them (``pytorch_model.bin``, ``adapter_model.bin``) is never opened, and a
backbone folder that contains only a pickle is rejected. A dataset file whose arrays
contain NaN or inf is rejected when loaded instead of reaching the model.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from pgfnet.data.format import DatasetFormatError, MosiData
from pgfnet.model.pgfnet import PGFNet
from pgfnet.model.tiny import build_tiny_backbone, build_tiny_pgfnet
from pgfnet.paths import safe_child, validate_utterance_id


class _WritesMarker:
    """Unpickling this object runs ``os.system("touch <marker>")``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "code-ran"


@pytest.fixture
def no_unpickling(monkeypatch):
    """Make every pickle entry point fail the test if a checkpoint load reaches it."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a checkpoint load reached a pickle loader")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)


def _plant_pickles(folder: Path, marker: Path) -> None:
    """Write hostile pickles under the names transformers, peft and torch look for."""
    payload = pickle.dumps({"weight": _WritesMarker(marker)})
    for name in ("pytorch_model.bin", "training_args.bin", "optimizer.pt",
                 "adapter/adapter_model.bin", "model.pkl"):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)


def test_checkpoint_pickle_only_rejected(tmp_path, marker, no_unpickling):
    folder = tmp_path / "checkpoint"
    build_tiny_pgfnet(seed=0).save_pretrained(folder)
    (folder / "model.safetensors").unlink()
    _plant_pickles(folder, marker)

    with pytest.raises(FileNotFoundError) as caught:
        PGFNet.from_pretrained(folder)

    assert "model.safetensors" in str(caught.value)
    assert not marker.exists()


def test_pickles_beside_safetensors_ignored(tmp_path, marker, no_unpickling):
    folder = tmp_path / "checkpoint"
    model = build_tiny_pgfnet(seed=0)
    with torch.no_grad():
        model.head[-1].bias.add_(0.25)
    model.save_pretrained(folder)
    _plant_pickles(folder, marker)

    loaded = PGFNet.from_pretrained(folder)

    assert not marker.exists()
    expected = model.trainable_state_dict()
    for name, tensor in loaded.trainable_state_dict().items():
        assert torch.equal(tensor, expected[name]), name


def test_explainer_ignores_pickles(tmp_path, marker, no_unpickling, tiny_dataset,
                                   tiny_checkpoint):
    import shutil

    from pgfnet.explain.engine import Explainer

    folder = tmp_path / "checkpoint"
    shutil.copytree(tiny_checkpoint, folder)
    _plant_pickles(folder, marker)

    explainer = Explainer.from_checkpoint(folder, dataset_path=tiny_dataset, n_steps=2)

    assert explainer.explain("vidA_1").prediction == pytest.approx(
        explainer.explain("vidA_1").prediction)
    assert not marker.exists()


def test_backbone_folder_with_only_pickle_rejected(tmp_path, marker):
    # A config may name a local backbone folder. One that contains its weights only as
    # a pickle must not be loaded, even though torch could read it.
    backbone_dir = tmp_path / "backbone"
    backbone = build_tiny_backbone(seed=0)
    backbone.config.save_pretrained(backbone_dir)
    torch.save(backbone.state_dict(), backbone_dir / "pytorch_model.bin")

    from pgfnet.model.backbone import load_backbone

    with pytest.raises(OSError) as caught:
        load_backbone(str(backbone_dir))

    assert str(backbone_dir) in str(caught.value)


def test_backbone_folder_with_safetensors_loads(tmp_path):
    backbone_dir = tmp_path / "backbone"
    build_tiny_backbone(seed=0).save_pretrained(backbone_dir)
    assert (backbone_dir / "model.safetensors").is_file()

    from pgfnet.model.backbone import load_backbone

    assert load_backbone(str(backbone_dir)).config.hidden_size == 32


# -- dataset files -----------------------------------------------------------------------


def _rewrite(source: Path, target: Path, change) -> None:
    """Copy dataset file ``source`` to ``target`` after ``change(tensors)``, keeping metadata."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(source), framework="np") as handle:
        metadata = handle.metadata()
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    change(tensors)
    save_file(tensors, str(target), metadata=metadata)


def _set(name: str, value: float, index: int = 0):
    def change(tensors):
        array = tensors[name].copy()
        array.reshape(-1)[index] = value
        tensors[name] = array
    return change


@pytest.mark.parametrize("name", ["acoustic", "visual", "visual_times", "labels",
                                  "stats.acoustic.mean", "stats.visual.std"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_dataset_file_non_finite_rejected(tmp_path, tiny_dataset, name, value):
    tampered = tmp_path / "tampered.pgfdata"
    _rewrite(tiny_dataset, tampered, _set(name, value))

    with pytest.raises(DatasetFormatError) as caught:
        MosiData.load(tampered)

    assert name in str(caught.value)
    assert str(tampered) in str(caught.value)


def test_dataset_file_zero_std_rejected(tmp_path, tiny_dataset):
    tampered = tmp_path / "tampered.pgfdata"
    _rewrite(tiny_dataset, tampered, _set("stats.acoustic.std", 0.0))

    with pytest.raises(DatasetFormatError, match="stats.acoustic.std"):
        MosiData.load(tampered)


def test_untampered_dataset_loads(tmp_path, tiny_dataset):
    copy = tmp_path / "copy.pgfdata"
    _rewrite(tiny_dataset, copy, lambda tensors: None)

    data = MosiData.load(copy)

    for index in range(len(data)):
        assert np.all(np.isfinite(data.acoustic(index)))
        assert np.all(np.isfinite(data.visual(index)[0]))


# -- ids and paths -----------------------------------------------------------------------


HOSTILE_IDS = ["../etc/passwd", "..", "/etc/passwd", "a/../../b", "vid\x00_1", "vid_1\x00.json",
               "vid_1/..", "C:\\windows", "~root", "vid_1 ", "", "a" * 65, "\u202evid_1"]


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_cache_and_dataset_reject_hostile_ids(tmp_path, tiny_dataset, value):
    from pgfnet.explain.cache import ExplanationCache

    cache = ExplanationCache(tmp_path / "cache", "m" * 64, "d" * 64)
    data = MosiData.load(tiny_dataset)

    with pytest.raises(ValueError):
        validate_utterance_id(value)
    with pytest.raises(ValueError):
        cache.get(value)
    with pytest.raises(ValueError):
        data.index_of(value)
    assert sorted(p.name for p in (tmp_path / "cache").rglob("*")
                  if p.is_file()) == ["manifest.json"]


@pytest.mark.parametrize("value", ["../x", "/etc/passwd", "a/../../x", "x\x00y"])
def test_safe_child_rejects(tmp_path, value):
    with pytest.raises(ValueError):
        safe_child(tmp_path, value)


def test_explorer_url_with_hostile_id(live_backend):
    from streamlit.testing.v1 import AppTest

    from pgfnet.paths import REPO_ROOT

    at = AppTest.from_file(str(REPO_ROOT / "dashboard" / "app.py"), default_timeout=60)
    at.query_params["id"] = "../../etc/passwd\x00"
    at.run()
    at.switch_page("views/explorer.py").run()

    assert not at.exception, at.exception
    chosen = at.selectbox(key="explorer_select").value
    assert chosen == validate_utterance_id(chosen)
    assert all("passwd" not in element.value for element in at.text)


def test_manifest_json_is_plain(tmp_path):
    # The cache manifest is plain JSON that names the model and dataset it belongs to.
    from pgfnet.explain.cache import ExplanationCache

    cache = ExplanationCache(tmp_path / "cache", "m" * 64, "d" * 64)
    manifest = json.loads((cache.directory / "manifest.json").read_text())
    assert manifest["model_id"] == "m" * 64
