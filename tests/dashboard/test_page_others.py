"""Compare, What-if, Demo tour and Model card pages, and the missing-input screen."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from apptest_helpers import chart_keys, figure, start, texts
from dashboard import resources
from dashboard.backend import most_similar_gates, tour_steps
from fakes import APP, REPO_ROOT


def test_compare_overlays_chosen(fake_backend):
    start()  # computes the overview table the similarity list needs
    at = start("views/compare.py")
    chosen = ["vid00_1", "vid01_2", "vid03_3"]
    at.multiselect(key="compare_ids").set_value(chosen).run()
    assert not at.exception

    profiles = figure(at, "compare_gates")["data"]
    assert [t["name"] for t in profiles] == chosen
    for trace, utterance_id in zip(profiles, chosen):
        record = fake_backend.explanation(utterance_id)
        np.testing.assert_allclose(trace["y"], record.gate_tokens.mean(axis=1), rtol=1e-6)

    shares = figure(at, "compare_shares")["data"]
    assert [t["name"] for t in shares] == ["text", "acoustic", "visual"]
    predictions = figure(at, "compare_predictions")["data"][0]
    assert list(predictions["x"]) == chosen

    at.selectbox(key="compare_anchor").set_value("vid01_2").run()
    at.slider(key="compare_k").set_value(3).run()
    similar = at.dataframe[0].value
    expected = most_similar_gates(fake_backend.cached_overview("test"), "vid01_2", k=3)
    assert list(similar["id"]) == list(expected["id"])
    assert "vid01_2" not in list(similar["id"])
    assert similar["gate_distance"].is_monotonic_increasing


def test_compare_needs_two(fake_backend):
    at = start("views/compare.py")
    at.multiselect(key="compare_ids").set_value(["vid00_1"]).run()
    assert any("at least two" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_what_if_forces_gates_and_edits_text(fake_backend):
    at = start("views/what_if.py")
    at.selectbox(key="whatif_select").set_value("vid00_3").run()
    at.text_area(key="whatif_text_vid00_3").input("<i>terrible</i> film")
    at.checkbox(key="whatif_force_4").check()
    at.slider(key="whatif_gate_4").set_value(0.25)
    at.multiselect(key="whatif_drop").set_value(["visual"])
    at.button[0].click().run()
    assert not at.exception, at.exception

    call = fake_backend.fake_explainer.calls[-1]
    assert call == ("what_if", "vid00_3", "<i>terrible</i> film", ("visual",), {4: 0.25})
    assert "<i>terrible</i> film" in texts(at)

    maps = figure(at, "whatif_gate_maps")["data"]
    np.testing.assert_allclose(maps[1]["z"][1], 0.25)
    shapley = figure(at, "whatif_shapley")["data"]
    assert shapley[1]["y"][2] == 0.0  # visual dropped
    prediction = figure(at, "whatif_prediction")["data"]
    assert [t["name"].split()[0] for t in prediction] == ["prediction", "true", "what-if"]


def test_what_if_drop_text_sends_empty(fake_backend):
    at = start("views/what_if.py")
    at.checkbox(key="whatif_drop_text").check()
    at.button[0].click().run()
    assert not at.exception
    assert fake_backend.fake_explainer.calls[-1][2] == ""


def test_tour_next_and_previous(fake_backend):
    at = start("views/tour.py")
    steps = tour_steps(fake_backend.cached_overview("test"))
    assert len(steps) >= 4
    assert at.header[0].value == steps[0].title
    assert at.button(key="tour_previous").disabled

    at.button(key="tour_next").click().run()
    assert at.header[0].value == steps[1].title
    record = fake_backend.explanation(steps[1].id)
    assert record.text in texts(at)
    waterfall = figure(at, "tour_shapley")["data"][0]
    assert waterfall["y"][1] == pytest.approx(record.shapley["text"])

    at.button(key="tour_previous").click().run()
    assert at.header[0].value == steps[0].title


def test_tour_steps_are_distinct(fake_backend):
    frame = fake_backend.overview("test")
    steps = tour_steps(frame)
    assert len({s.id for s in steps}) == len(steps)
    largest_miss = [s for s in steps if s.title == "The largest miss"][0]
    assert largest_miss.id == frame.loc[frame["error"].abs().idxmax(), "id"]


def test_model_card_reads_checkpoint_files(fake_backend):
    at = start("views/model_card.py")
    assert not at.exception
    parameters = figure(at, "card_parameters")["data"][0]
    assert list(parameters["x"]) == [55296, 18000, 1000, 200, 1000, 200, 49409]
    curves = figure(at, "card_history")["data"]
    assert [t["name"] for t in curves] == ["train_loss", "valid_MAE"]
    np.testing.assert_allclose(curves[1]["y"], [1.1, 1.0, 0.98])
    at.multiselect(key="card_curves").set_value(["valid_Non0_F1_score"]).run()
    curves = figure(at, "card_history")["data"]
    assert [t["name"] for t in curves] == ["valid_Non0_F1_score"]
    architecture = figure(at, "card_architecture")
    labels = [a["text"] for a in architecture["layout"]["annotations"]]
    assert labels.count("gate") == 2  # fusion.3 and fusion.4 in info.json
    assert "encoder layer 4 (all-MiniLM-L6-v2, LoRA)" in labels
    assert "encoder layer 5 (all-MiniLM-L6-v2, LoRA)" not in labels
    assert any("Visual coverage" in m.value for m in at.markdown)


def test_model_card_lists_missing_files(fake_backend):
    (fake_backend.checkpoint_dir / "history.json").unlink()
    at = start("views/model_card.py")
    assert "history.json" in texts(at)
    assert "card_history" not in chart_keys(at)


def test_missing_inputs_show_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PGFNET_CHECKPOINT", str(tmp_path / "no_checkpoint"))
    monkeypatch.setenv("PGFNET_DATASET", str(tmp_path / "mosi.pgfdata"))
    monkeypatch.setenv("PGFNET_MOSI_SOURCE", str(tmp_path / "no_source"))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert "inputs missing" in at.title[0].value
    commands = [c.value for c in at.code]
    config = REPO_ROOT / "configs" / "default.json"
    assert f"pgfnet train --config {config} --out {tmp_path / 'no_checkpoint'}" in commands
    assert "python run_dashboard.py --source /path/to/mosi" in commands
    assert not at.get("plotly_chart")


def test_missing_dataset_with_source(tmp_path, monkeypatch, mosi_source):
    config = resources.Settings(checkpoint=tmp_path, dataset=tmp_path / "d.pgfdata",
                                source=mosi_source)
    problems = resources.missing_inputs(config)
    assert [p.command for p in problems][1] == (
        f"pgfnet data build --source {mosi_source} --out {tmp_path / 'd.pgfdata'}")


def test_tour_captions_state_numbers(fake_backend):
    frame = fake_backend.overview("test")
    for step in tour_steps(frame):
        row = frame.set_index("id").loc[step.id]
        assert f"Model {row['prediction']:+.2f}" in step.caption
        assert f"annotators {row['label']:+.2f}" in step.caption


def test_missing_shipped_checkpoint_restores_from_git(tmp_path, monkeypatch):
    monkeypatch.setattr(resources, "DEFAULT_CHECKPOINT", tmp_path / "assets" / "checkpoint")
    config = resources.Settings(checkpoint=tmp_path / "assets" / "checkpoint",
                                dataset=tmp_path / "d.pgfdata", source=None)
    commands = [p.command for p in resources.missing_inputs(config)]
    assert commands[0] == f"git -C {REPO_ROOT} checkout HEAD -- assets/checkpoint"
