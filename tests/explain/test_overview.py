"""The per-split overview table: agreement with single explanations and its file format."""

from __future__ import annotations

import json

import numpy as np
import pytest
from explain_corpus import NO_FRAMES_ID, SPLITS

from pgfnet.explain.overview import OverviewTable
from pgfnet.explain.shapley import MODALITIES


@pytest.fixture(scope="module")
def overview(explainer) -> OverviewTable:
    return explainer.predict_overview("test", rows_per_pass=16)


def test_overview_rows(overview, tiny_data):
    expected = [u.id for u in tiny_data.utterances if u.split == "test"]
    assert overview.ids == expected
    assert len(overview) == sum(1 for s in SPLITS.values() if s == "test")
    assert overview.gate_means.shape == (len(expected), 2)
    assert overview.shapley.shape == (len(expected), 3)


def test_overview_matches_explain(overview, explainer):
    for row, utterance_id in enumerate(overview.ids):
        record = explainer.explain(utterance_id, n_steps=1)
        assert overview.predictions[row] == pytest.approx(record.prediction, abs=1e-5)
        for column, modality in enumerate(MODALITIES):
            assert overview.shapley[row, column] == pytest.approx(record.shapley[modality], abs=1e-5)
        real_gates = record.gate_tokens.mean(axis=1)
        np.testing.assert_allclose(overview.gate_means[row], real_gates, atol=1e-5)


def test_overview_shapley_efficiency(overview, explainer):
    for row, utterance_id in enumerate(overview.ids):
        record = explainer.explain(utterance_id, n_steps=1)
        expected = record.coalition_values["text+acoustic+visual"] - record.coalition_values["none"]
        assert abs(overview.shapley[row].sum() - expected) < 1e-5


def test_overview_no_frames_row(overview):
    row = overview.ids.index(NO_FRAMES_ID)
    assert overview.shapley[row, MODALITIES.index("visual")] == 0.0
    assert not overview.has_visual[row]


def test_overview_frame_columns(overview):
    frame = overview.to_frame()
    assert list(frame.columns) == [
        "id", "split", "label", "prediction", "error", "abs_error", "gate_L0", "gate_L1",
        "shapley_text", "shapley_acoustic", "shapley_visual", "interaction", "has_visual",
        "has_video",
    ]
    np.testing.assert_allclose(frame["error"], frame["prediction"] - frame["label"])
    assert frame["has_video"].tolist() == [i.startswith("vidA") for i in overview.ids]


def test_overview_progress_calls(explainer):
    calls = []
    explainer.predict_overview("test", progress=lambda done, total: calls.append((done, total)), rows_per_pass=16)
    assert calls[0] == (0, 5)
    assert calls[-1] == (5, 5)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_overview_identity(overview, explainer, tiny_data):
    assert overview.model_id == explainer.model_id
    assert overview.dataset_sha256 == tiny_data.sha256
    assert overview.split == "test"


def test_overview_save_load(overview, tmp_path):
    path = overview.save(tmp_path / "overview.json")
    loaded = OverviewTable.load(path)
    assert loaded.ids == overview.ids
    np.testing.assert_array_equal(loaded.shapley, overview.shapley)
    np.testing.assert_array_equal(loaded.gate_means, overview.gate_means)
    assert loaded.to_frame().equals(overview.to_frame())


def test_overview_tampered_file_rejected(overview, tmp_path):
    path = overview.save(tmp_path / "overview.json")
    content = json.loads(path.read_text())
    content["predictions"][0] += 1.0
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError, match="sha256"):
        OverviewTable.load(path)


def test_overview_unknown_split(explainer):
    with pytest.raises(ValueError, match="unknown split"):
        explainer.predict_overview("dev")
