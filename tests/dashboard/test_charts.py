"""Figure builders: the data inside each figure matches the record or table it draws."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from dashboard import charts
from synthetic import make_explanation, make_overview_frame


@pytest.fixture
def record():
    return make_explanation()


@pytest.fixture
def frame():
    return make_overview_frame()


def test_plain_escapes_markup():
    assert charts.plain("<b>x</b> & y") == "&lt;b&gt;x&lt;/b&gt; &amp; y"


def test_scatter_carries_ids(frame):
    fig = charts.prediction_scatter(frame)
    points = fig.data[0]
    assert list(points.customdata[:, 0]) == list(frame["id"])
    np.testing.assert_allclose(points.x, frame["label"])
    np.testing.assert_allclose(points.y, frame["prediction"])


def test_error_histogram_values(frame):
    fig = charts.error_histogram(frame)
    np.testing.assert_allclose(fig.data[0].x, frame["error"])


def test_gate_by_sentiment_means(frame):
    fig = charts.gate_by_sentiment(frame)
    positive = [t for t in fig.data if t.name.startswith("positive")][0]
    expected = frame[frame["label"] > 0][["gate_L3", "gate_L4", "gate_L5"]].mean()
    np.testing.assert_allclose(positive.y, expected.to_numpy())
    assert list(positive.x) == ["L3", "L4", "L5"]


def test_shapley_shares_sum_to_one(frame):
    table = charts.shapley_share_table(frame)
    assert table["mean_share"].sum() == pytest.approx(1.0)
    fig = charts.shapley_shares(frame)
    assert list(fig.data[0].x) == ["text", "acoustic", "visual"]


def test_shapley_shares_skip_all_zero_rows(frame):
    zero = frame.copy()
    zero.loc[0, ["shapley_text", "shapley_acoustic", "shapley_visual"]] = 0.0
    table = charts.shapley_share_table(zero)
    assert np.isfinite(table["mean_share"]).all()


def test_word_attributions_sum_pieces(record):
    record.token_word = [-1, 0, 0, 1, 2, 3, -1]
    record.tokens = ["[CLS]", "th", "##is", "movie", "was", "really", "[SEP]"]
    record.words = ["this", "movie", "was", "really"]
    record.attr_text = np.array([9, 1, 2, 3, 4, 5, 9], dtype=np.float32)
    np.testing.assert_allclose(charts.word_attributions(record), [3, 3, 4, 5])


def test_transcript_escapes_words(record):
    record.words = ["<script>alert(1)</script>", "ok"]
    record.tokens = ["[CLS]", "<script>alert(1)</script>", "ok", "[SEP]"]
    record.token_word = [-1, 0, 1, -1]
    record.attr_text = np.array([0, 1, -1, 0], dtype=np.float32)
    fig = charts.transcript_figure(record)
    cells = [c for row in fig.data[0].text for c in row if c]
    assert cells == ["&lt;script&gt;alert(1)&lt;/script&gt;", "ok"]
    assert "<script>" not in fig.to_json()


def test_attention_heatmap_mean_and_head(record):
    mean = charts.attention_heatmap(record, layer=1)
    np.testing.assert_allclose(mean.data[0].z, record.attention[1].mean(axis=0), rtol=1e-6)
    head = charts.attention_heatmap(record, layer=2, head=3)
    np.testing.assert_allclose(head.data[0].z, record.attention[2, 3], rtol=1e-6)
    assert list(head.data[0].x) == record.key_labels
    assert "encoder layer 5" in head.layout.title.text


def test_gate_heatmap_and_profile(record):
    fig = charts.gate_heatmap(record)
    np.testing.assert_allclose(fig.data[0].z, record.gate_tokens)
    assert list(fig.data[0].y) == ["L3", "L4", "L5"]
    profile = charts.gate_profiles([record, make_explanation("b_1", seed=1)])
    assert len(profile.data) == 2
    np.testing.assert_allclose(profile.data[0].y, record.gate_tokens.mean(axis=1), rtol=1e-6)


def test_gate_colours_span_data_range(record):
    # Gates that barely leave their start value must still get distinct colours.
    narrow = dataclasses.replace(record, gate_tokens=0.99 + 0.009 * record.gate_tokens)
    fig = charts.gate_heatmap(narrow)

    assert fig.data[0].zmin == pytest.approx(narrow.gate_tokens.min())
    assert fig.data[0].zmax == pytest.approx(narrow.gate_tokens.max())
    assert f"{narrow.gate_tokens.min():.4f}" in fig.layout.title.text

    flat = dataclasses.replace(record, gate_tokens=np.full_like(record.gate_tokens, 0.99))
    low, high = charts.gate_colour_range(flat.gate_tokens)
    assert high - low == pytest.approx(1e-3)
    assert low < 0.99 < high


def test_acoustic_bars_top_k_names(record):
    fig = charts.acoustic_bars(record, top_k=5)
    top = np.argsort(-np.abs(record.attr_acoustic))[:5]
    assert set(fig.data[0].y) == {record.acoustic_feature_names[i] for i in top}
    assert len(fig.data[0].x) == 5


def test_visual_heatmap_shape(record):
    fig = charts.visual_heatmap(record)
    assert np.asarray(fig.data[0].z).shape == record.attr_visual.shape
    assert list(fig.data[0].x) == record.visual_feature_names


def test_visual_heatmap_without_frames():
    record = make_explanation(n_frames=0)
    fig = charts.visual_heatmap(record)
    assert np.asarray(fig.data[0].z).size == 0


def test_waterfall_adds_up(record):
    fig = charts.shapley_waterfall(record)
    trace = fig.data[0]
    base, *steps, _ = trace.y
    assert base + sum(steps) == pytest.approx(record.prediction, abs=1e-5)
    assert "dominance" in fig.layout.title.text


def test_prediction_bar_marks(record):
    edited = make_explanation(seed=5, label=None)
    fig = charts.prediction_bar(record, edited)
    xs = [t.x[0] for t in fig.data]
    assert xs == pytest.approx([record.prediction, record.label, edited.prediction])


def test_compare_figures(record):
    other = make_explanation("b_1", "awful", seed=2, label=-2.0)
    shares = charts.attribution_shares_bars([record, other])
    assert [t.name for t in shares.data] == ["text", "acoustic", "visual"]
    assert shares.data[0].y[1] == pytest.approx(other.attribution_shares["text"])
    preds = charts.predictions_compare([record, other])
    assert list(preds.data[1].y) == [1.5, -2.0]


def test_action_unit_curves_time_axis():
    frames = np.arange(12, dtype=float).reshape(4, 3)
    fig = charts.action_unit_curves(frames, np.array([0, .5, 1, 1.5]), ["AU01_r", "x", "AU12_r"])
    assert [t.name for t in fig.data] == ["AU01_r", "AU12_r"]
    np.testing.assert_allclose(fig.data[1].y, frames[:, 2])
    np.testing.assert_allclose(fig.data[1].x, [0, .5, 1, 1.5])


def test_what_if_pair(record):
    edited = make_explanation(text="this movie was bad", seed=3, label=None)
    fig = charts.gate_heatmap_pair(record, edited)
    assert len(fig.data) == 2
    np.testing.assert_allclose(fig.data[1].z, edited.gate_tokens)
    both = np.concatenate([record.gate_tokens.ravel(), edited.gate_tokens.ravel()])
    assert fig.data[0].zmin == fig.data[1].zmin == pytest.approx(both.min())
    assert fig.data[0].zmax == fig.data[1].zmax == pytest.approx(both.max())
    bars = charts.shapley_compare(record, edited)
    assert bars.data[1].y[0] == pytest.approx(edited.shapley["text"])


def test_model_card_figures():
    fig = charts.parameter_breakdown({"lora": 100, "fusion": 2000})
    assert list(fig.data[0].x) == [100, 2000]
    history = pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5], "valid_MAE": [1.2, 1.0],
                            "improved": [True, False]})
    curves = charts.training_curves(history)
    assert [t.name for t in curves.data] == ["train_loss", "valid_MAE"]
    arch = charts.architecture_figure([3, 4, 5], 6, "all-MiniLM-L6-v2", ["acoustic", "visual"])
    texts = [a.text for a in arch.layout.annotations]
    assert sum(t == "gate" for t in texts) == 3
