"""Explorer page: filters, the chosen record's charts, plain-text data, media."""

from __future__ import annotations

import numpy as np
import pytest

from apptest_helpers import chart_keys, figure, start, texts
from fakes import HOSTILE_TEXT


def explorer(backend, utterance_id=None):
    at = start("views/explorer.py")
    if utterance_id is not None:
        at.selectbox(key="explorer_select").set_value(utterance_id).run()
        assert not at.exception, at.exception
    return at


def test_explorer_draws_chosen_record(fake_backend):
    at = explorer(fake_backend, "vid01_4")
    record = fake_backend.explanation("vid01_4")
    assert at.subheader[0].value == "vid01_4"
    assert record.text in texts(at)

    transcript = figure(at, "explorer_transcript")["data"][0]
    cells = [c for row in transcript["text"] for c in row if c]
    assert cells == record.words

    gates = figure(at, "explorer_gates")["data"][0]
    np.testing.assert_allclose(gates["z"], record.gate_tokens, rtol=1e-6)

    waterfall = figure(at, "explorer_shapley")
    assert "interaction: dominance" in waterfall["layout"]["title"]["text"]
    base, *steps, _ = waterfall["data"][0]["y"]
    assert base + sum(steps) == pytest.approx(record.prediction, abs=1e-5)

    acoustic = figure(at, "explorer_acoustic_attr")["data"][0]
    assert set(acoustic["y"]) <= set(record.acoustic_feature_names)


def test_explorer_attention_layer_and_head(fake_backend):
    at = explorer(fake_backend, "vid00_2")
    record = fake_backend.explanation("vid00_2")
    mean = figure(at, "explorer_attention")["data"][0]
    np.testing.assert_allclose(mean["z"], record.attention[0].mean(axis=0), rtol=1e-5)

    at.selectbox(key="explorer_layer").set_value(2).run()
    at.selectbox(key="explorer_head").set_value(1).run()
    chosen = figure(at, "explorer_attention")
    np.testing.assert_allclose(chosen["data"][0]["z"], record.attention[2, 1], rtol=1e-6)
    assert chosen["data"][0]["x"] == record.key_labels
    assert "encoder layer 5 (head 1)" in chosen["layout"]["title"]["text"]


def test_explorer_filters_narrow_choices(fake_backend):
    at = explorer(fake_backend)
    everything = at.selectbox(key="explorer_select").options
    assert len(everything) == 42

    at.text_input(key="explorer_query").input("vid02").run()
    assert all(option.startswith("vid02") for option in at.selectbox(key="explorer_select").options)

    at.text_input(key="explorer_query").input("").run()
    at.slider(key="explorer_label").set_value((1.0, 3.0)).run()
    labels = fake_backend.catalog().set_index("id")["label"]
    chosen = at.selectbox(key="explorer_select").options
    assert chosen and all(labels[o.split(":")[0]] >= 1.0 for o in chosen)

    at.slider(key="explorer_label").set_value((-3.0, 3.0)).run()
    at.multiselect(key="explorer_splits").set_value(["train"]).run()
    assert [o.split(":")[0] for o in at.selectbox(key="explorer_select").options] == [
        "train_1", "train_2"]
    at.checkbox(key="explorer_visual").check().run()
    assert [o.split(":")[0] for o in at.selectbox(key="explorer_select").options] == ["train_1"]
    at.checkbox(key="explorer_video").check().run()  # this fixture has no media
    assert any("No utterance matches" in w.value for w in at.sidebar.warning)
    assert not at.get("plotly_chart")


def test_explorer_error_filter_uses_overview(fake_backend):
    start()  # the Overview computes the test table first
    at = start("views/explorer.py")
    at.slider(key="explorer_error").set_value(1.0).run()
    errors = fake_backend.cached_overview("test").set_index("id")["error"].abs()
    options = [o.split(":")[0] for o in at.selectbox(key="explorer_select").options]
    assert options
    assert all(errors[o] >= 1.0 for o in options)


def test_explorer_shows_markup_as_text(fake_backend):
    at = explorer(fake_backend, "vid00_4")
    assert HOSTILE_TEXT in texts(at)
    for element in at.markdown:
        assert "<script>" not in element.value
    transcript = figure(at, "explorer_transcript")["data"][0]
    cells = [c for row in transcript["text"] for c in row if c]
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in cells
    assert not any("<script>" in c for c in cells)


def test_explorer_no_frames_skips_visual(fake_backend):
    no_frames = fake_backend.catalog().query("has_visual == False")["id"].iloc[0]
    at = explorer(fake_backend, no_frames)
    assert "explorer_visual_attr" not in chart_keys(at)
    assert any("no visual frames" in i.value for i in at.info)


def test_explorer_plays_real_clip(video_backend):
    at = start("views/explorer.py")
    at.multiselect(key="explorer_splits").set_value(["train"]).run()
    at.selectbox(key="explorer_select").set_value("train_1").run()
    assert not at.exception
    assert len(at.get("video")) == 1
    clips = list(video_backend.clip_dir.glob("train_1_*.mp4"))
    assert len(clips) == 1
    curves = figure(at, "media_action_units")
    assert [t["name"] for t in curves["data"]][:2] == ["AU01_r", "AU02_r"]
    np.testing.assert_allclose(curves["data"][0]["x"], [0.0, 0.4, 0.8, 1.2], rtol=1e-6)


def test_explorer_truncated_video_warns(truncated_video_backend):
    at = start("views/explorer.py")
    at.multiselect(key="explorer_splits").set_value(["train"]).run()
    at.selectbox(key="explorer_select").set_value("train_1").run()
    assert not at.exception
    assert any("cannot be played" in w.value for w in at.warning)
    assert len(at.get("video")) == 0
    assert "media_action_units" in chart_keys(at)
    assert "explorer_shapley" in chart_keys(at)


def test_explorer_warns_when_ig_misses_bound(fake_backend, monkeypatch):
    import dataclasses

    explainer = fake_backend.fake_explainer
    plain_record = explainer.record
    monkeypatch.setattr(explainer, "record",
                        lambda uid: dataclasses.replace(plain_record(uid), convergence_delta=0.4))

    at = explorer(fake_backend, "vid01_4")

    warnings = [w.value for w in at.warning]
    assert any("do not add up" in w and "--n-steps 512" in w for w in warnings), warnings


def test_explorer_no_warning_when_ig_converges(fake_backend):
    at = explorer(fake_backend, "vid01_4")

    assert fake_backend.explanation("vid01_4").ig_within_bound
    assert not any("do not add up" in w.value for w in at.warning)
