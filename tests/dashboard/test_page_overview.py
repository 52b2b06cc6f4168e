"""Overview page: metrics beside Wen & Tan 2025's, charts built from the overview table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apptest_helpers import figure, start


def test_overview_metrics_with_paper(fake_backend):
    at = start()
    table = at.dataframe[0].value
    row = table.set_index("metric")
    assert list(table["metric"]) == ["MAE", "Corr", "Mult_acc_7", "Mult_acc_5", "Has0_acc_2",
                                     "Has0_F1_score", "Non0_acc_2", "Non0_F1_score"]
    assert row.loc["MAE", "this checkpoint"] == pytest.approx(0.95)
    assert row.loc["MAE", "paper (Wen & Tan 2025)"] == "0.691"
    assert row.loc["Non0_F1_score", "this checkpoint"] == pytest.approx(0.736)
    assert row.loc["Non0_F1_score", "paper (Wen & Tan 2025)"] == "0.869"
    assert row.loc["Corr", "paper (Wen & Tan 2025)"] == ""


def test_overview_computes_once_and_caches(fake_backend):
    start()
    assert fake_backend.fake_explainer.calls == [("predict_overview", "test")]
    assert fake_backend.overview_path("test").is_file()

    fake_backend._overview.clear()
    start()
    assert fake_backend.fake_explainer.calls == [("predict_overview", "test")]
    cached = pd.read_csv(fake_backend.overview_path("test"))
    assert len(cached) == 40


def test_overview_chart_data(fake_backend):
    at = start()
    frame = fake_backend.cached_overview("test")

    scatter = figure(at, "overview_scatter")["data"][0]
    assert [point[0] for point in scatter["customdata"]] == list(frame["id"])
    np.testing.assert_allclose(scatter["y"], frame["prediction"])

    histogram = figure(at, "fig_error_histogram")["data"][0]
    np.testing.assert_allclose(histogram["x"], frame["error"])

    gates = figure(at, "fig_gate_by_sentiment")["data"]
    negative = [t for t in gates if t["name"].startswith("negative")][0]
    expected = frame[frame["label"] < 0][["gate_L3", "gate_L4", "gate_L5"]].mean()
    np.testing.assert_allclose(negative["y"], expected.to_numpy())

    shares = figure(at, "fig_shapley_shares")["data"][0]
    assert shares["x"] == ["text", "acoustic", "visual"]
    assert sum(shares["y"]) == pytest.approx(1.0)


def test_overview_click_opens_explorer(fake_backend):
    at = start()
    at.session_state["overview_scatter"] = {
        "selection": {"points": [{"customdata": ["vid02_5"]}], "point_indices": [24],
                      "box": [], "lasso": []}}
    at.run()
    assert not at.exception
    assert at.title[0].value == "Explorer"
    assert at.subheader[0].value == "vid02_5"
    assert at.session_state["utterance_id"] == "vid02_5"


def test_overview_downloads_present(fake_backend):
    at = start()
    names = {button.label for button in at.get("download_button")}
    assert {"Download prediction_scatter.html", "Download metrics.csv",
            "Download overview_test.csv"} <= names


def test_click_without_customdata_uses_index(fake_backend):
    at = start()
    at.session_state["overview_scatter"] = {
        "selection": {"points": [{"curve_number": 0, "point_index": 7}], "point_indices": [7],
                      "box": [], "lasso": []}}
    at.run()
    expected = fake_backend.cached_overview("test")["id"].iloc[7]
    assert at.subheader[0].value == expected


def test_click_on_unknown_id_stays(fake_backend):
    at = start()
    at.session_state["overview_scatter"] = {
        "selection": {"points": [{"customdata": ["../../etc/passwd"]}], "point_indices": [0],
                      "box": [], "lasso": []}}
    at.run()
    assert not at.exception
    assert at.title[0].value == "Overview"
