"""Overview: test metrics beside Wen & Tan 2025's, and the model's behaviour over the split."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, resources, ui
from dashboard.backend import OVERVIEW_SPLIT, metrics_table

backend = resources.backend()
st.title("Overview")

st.subheader("Test metrics")
metrics = backend.metrics()
if metrics:
    table = metrics_table(metrics)
    st.dataframe(table, hide_index=True)
    st.caption("Paper: Wen & Tan 2025 (arXiv 2508.15852), PGF-Net on MOSI; blank where "
               "the paper reports no value. Accuracies and F1 scores are fractions in "
               "[0, 1], as MMSA reports them (the paper's 86.9 % is 0.869).")
    ui.download_csv(table, "metrics")
else:
    st.warning("The checkpoint has no metrics.json; evaluate it with `pgfnet evaluate`.")

frame = backend.cached_overview(OVERVIEW_SPLIT)
if frame is None:
    frame = ui.run_with_progress(
        f"Computing predictions, gates and Shapley values for the {OVERVIEW_SPLIT} split "
        "(first launch only)...",
        lambda progress: backend.overview(OVERVIEW_SPLIT, progress=progress),
    )
st.caption(f"{len(frame)} {OVERVIEW_SPLIT} utterances. Click a point of the scatter plot "
           "to open that utterance in the Explorer.")

left, right = st.columns(2)
with left:
    event = ui.show_figure(charts.prediction_scatter(frame), "prediction_scatter",
                           key="overview_scatter", on_select="rerun",
                           selection_mode="points")
    chosen = ui.clicked_utterance(event, frame["id"].tolist())
    if chosen is not None:
        ui.select_utterance(chosen)
        st.switch_page("views/explorer.py")
with right:
    ui.show_figure(charts.error_histogram(frame), "error_histogram")

left, right = st.columns(2)
with left:
    ui.show_figure(charts.gate_by_sentiment(frame), "gate_by_sentiment")
with right:
    ui.show_figure(charts.shapley_shares(frame), "shapley_shares")
    shares = charts.shapley_share_table(frame)
    st.dataframe(shares, hide_index=True)
    ui.download_csv(shares, "shapley_shares")

st.subheader("Per-utterance table")
st.dataframe(frame, hide_index=True)
ui.download_csv(frame, f"overview_{OVERVIEW_SPLIT}")
