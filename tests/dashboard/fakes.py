"""Fakes for the dashboard tests: a small dataset, an explainer and checkpoint files.

The fake explainer returns the hand-made records of ``synthetic.py`` and records every
call, so page tests can assert what the page asked for and what it drew.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from pgfnet.data.format import Media, Utterance
from synthetic import ACOUSTIC_NAMES, VISUAL_NAMES, make_explanation, make_overview_frame

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = str(REPO_ROOT / "dashboard" / "app.py")
HOSTILE_TEXT = "<script>alert('x')</script> <b>bold</b> **stars** [link](http://x)"


class FakeData:
    """The slice of ``MosiData`` the dashboard reads, over a few utterances."""

    def __init__(self, utterances: list[Utterance]):
        self.utterances = utterances
        self.feature_names = {"acoustic": list(ACOUSTIC_NAMES), "visual": list(VISUAL_NAMES)}
        self.card = {"name": "fake MOSI", "utterances": len(utterances)}
        self.sha256 = "f" * 64
        self._index = {u.id: i for i, u in enumerate(utterances)}

    def index_of(self, utterance_id: str) -> int:
        try:
            return self._index[utterance_id]
        except KeyError:
            raise KeyError(f"utterance id {utterance_id!r} is not in the fake dataset") from None

    def visual(self, i: int, normalized: bool = True):
        n = self.utterances[i].n_frames
        times = (0.4 * np.arange(n)).astype(np.float32)
        frames = np.tile(np.linspace(0, 1, 22, dtype=np.float32), (n, 1)) * (1 + times[:, None])
        return frames, times


class FakeWhatIf:
    def __init__(self, original, edited, diff):
        self.original, self.edited, self.diff = original, edited, diff


class FakeExplainer:
    """Returns synthetic records; ``calls`` lists every (method, args) it received."""

    def __init__(self, data: FakeData, overview):
        self.data = data
        self.overview = overview
        self.calls: list[tuple] = []

    def record(self, utterance_id: str):
        u = self.data.utterances[self.data.index_of(utterance_id)]
        return make_explanation(u.id, u.text, seed=self.data.index_of(u.id), label=u.label,
                                n_frames=u.n_frames, split=u.split)

    def explain(self, utterance_id: str):
        self.calls.append(("explain", utterance_id))
        return self.record(utterance_id)

    def what_if(self, utterance_id, *, text=None, drop_modalities=(), force_gates=None):
        self.calls.append(("what_if", utterance_id, text, tuple(drop_modalities), force_gates))
        original = self.record(utterance_id)
        edited_text = original.text if text is None else text
        edited = make_explanation(utterance_id, edited_text or "[empty]", seed=99, label=None,
                                  split="custom")
        gates = edited.gate_tokens.copy()
        for layer, value in (force_gates or {}).items():
            gates[edited.fused_layers.index(layer)] = value
        shapley = dict(edited.shapley)
        for modality in drop_modalities:
            shapley[modality] = 0.0
        edited = replace(edited, gate_tokens=gates, shapley=shapley,
                         settings={"text": text, "force_gates": force_gates})
        change = edited.prediction - original.prediction
        return FakeWhatIf(original, edited, {"prediction": {"change": change}})

    def predict_overview(self, split, progress=None):
        self.calls.append(("predict_overview", split))
        frame = self.overview[self.overview["split"] == split].reset_index(drop=True)
        for done in range(0, len(frame) + 1, 10):
            if progress is not None:
                progress(min(done, len(frame)), len(frame))

        class Table:
            def to_frame(self_inner):
                return frame.copy()

        return Table()


def make_fake_dataset(video_path: Path | None = None) -> tuple[FakeData, object]:
    """Return a fake dataset of 40 test + 2 train utterances and its overview frame."""
    overview = make_overview_frame(40)
    utterances = []
    for i, row in overview.iterrows():
        verdict = "good" if row.label > 0 else "bad"
        text = HOSTILE_TEXT if i == 3 else f"utterance {i} says the film was {verdict}"
        n_frames = 5 if row.has_visual else 0
        utterances.append(Utterance(id=row.id, video_id=row.id.split("_")[0], segment=i % 10 + 1,
                                    start=0.0, end=3.0, text=text, label=float(row.label),
                                    split="test", n_frames=n_frames))
    media = Media("full_video", str(video_path), 1.0, 3.0) if video_path else None
    utterances.append(Utterance(id="train_1", video_id="train", segment=1, start=1.0, end=3.0,
                                text="a train utterance with video", label=2.0, split="train",
                                n_frames=4, media=media))
    utterances.append(Utterance(id="train_2", video_id="train", segment=2, start=3.0, end=5.0,
                                text="another train utterance", label=-1.0, split="train",
                                n_frames=0))
    return FakeData(utterances), overview


def write_checkpoint_files(folder: Path, weights: bool = True) -> Path:
    """Write the trainer's JSON files into a checkpoint folder.

    With ``weights`` a placeholder config.json and model.safetensors are written too
    (the fake backend never reads them); without, an existing model is kept.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if weights:
        (folder / "config.json").write_text(json.dumps({"backbone": "all-MiniLM-L6-v2",
                                                        "fusion_layers": None,
                                                        "modalities": ["acoustic", "visual"]}))
        (folder / "model.safetensors").write_bytes(b"not read by the pages")
    (folder / "metrics.json").write_text(json.dumps({
        "MAE": 0.95, "Corr": 0.61, "Mult_acc_7": 0.331, "Mult_acc_5": 0.379,
        "Has0_acc_2": 0.72, "Has0_F1_score": 0.718, "Non0_acc_2": 0.735,
        "Non0_F1_score": 0.736, "split": "test", "n": 40}))
    (folder / "history.json").write_text(json.dumps([
        {"epoch": 1, "train_loss": 1.2, "valid_MAE": 1.1, "valid_Non0_F1_score": 60.0,
         "improved": True},
        {"epoch": 2, "train_loss": 0.9, "valid_MAE": 1.0, "valid_Non0_F1_score": 65.0,
         "improved": True},
        {"epoch": 3, "train_loss": 0.7, "valid_MAE": 0.98, "valid_Non0_F1_score": 66.0,
         "improved": True}]))
    (folder / "info.json").write_text(json.dumps({
        "parameters": {"lora": 55296, "nonverbal_projections": 18000,
                       "fusion.3.attention": 1000, "fusion.3.gate": 200,
                       "fusion.4.attention": 1000, "fusion.4.gate": 200, "head": 49409,
                       "total_trainable": 125105, "total_frozen": 22000000},
        "best_epoch": 3}))
    return folder
