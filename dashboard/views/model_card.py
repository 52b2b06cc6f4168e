"""Model card: architecture, trainable parameters, training curves, data card, limits."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, resources, ui
from dashboard.backend import TOTAL_KEYS, fused_layers_of, metrics_table, parameter_counts

LIMITATIONS = """
- **Backbone.** The shipped checkpoint adapts all-MiniLM-L6-v2 (6 layers, hidden size
  384) with LoRA, a far smaller encoder than BERT-base, so its numbers are not a
  reproduction of Wen & Tan 2025.
- **Acoustic features.** One 73-d utterance-level COVAREP-style vector per utterance.
  The cross-attention therefore has a single acoustic key and cannot point at a moment
  in time.
- **Visual features.** 22 OpenFace 2 columns (17 action-unit intensities, gaze, head
  pose), not the Facet features of CMU-MultimodalSDK's MOSI release.
- **Visual coverage.** OpenFace output exists for 36 of 93 videos; every other utterance
  is explained with no visual keys, and its visual Shapley value is 0 by construction.
- **Media.** Playable video exists for a few train and valid videos only.
- **Attributions** are integrated gradients from a baseline (listed with each record);
  the convergence delta shows how well the path integral was approximated.
"""

backend = resources.backend()
st.title("Model card")
card = backend.model_card()
if card.missing:
    st.warning("Files missing from the checkpoint folder:")
    st.text(", ".join(card.missing))

config = card.config
counts = parameter_counts(card.info)
fused = fused_layers_of(config, counts)
# With the default fusion (the upper half of the encoder) the last fused layer is the
# encoder's last layer; all-MiniLM-L6-v2 has 6.
n_layers = max(fused) + 1 if fused else 6
st.subheader("Architecture")
ui.show_figure(charts.architecture_figure(fused, n_layers, config.get("backbone", "?"),
                                          config.get("modalities", ["acoustic", "visual"]),
                                          config.get("pooling", "mean")),
               "architecture", key="card_architecture")

st.subheader("Trainable parameters")
if counts:
    ui.show_figure(charts.parameter_breakdown(counts), "parameters", key="card_parameters")
    totals = {k: v for k, v in card.info.get("parameters", {}).items() if k in TOTAL_KEYS}
    table = pd.DataFrame({"component": [*counts, *totals],
                          "parameters": [*counts.values(), *totals.values()]})
    st.dataframe(table, hide_index=True)
    ui.download_csv(table, "parameters")
else:
    st.info("info.json has no parameter breakdown.")

st.subheader("Test metrics")
if card.metrics:
    st.dataframe(metrics_table(card.metrics), hide_index=True)

st.subheader("Training curves")
if card.history is not None and not card.history.empty:
    available = charts.curve_columns(card.history)
    default = [c for c in ("train_loss", "valid_MAE") if c in available] or available[:2]
    selected = st.multiselect("Curves", available, default=default, key="card_curves")
    ui.show_figure(charts.training_curves(card.history, selected), "training_curves",
                   key="card_history")
    ui.download_csv(card.history, "history")
else:
    st.info("The checkpoint has no history.json.")

st.subheader("Configuration")
st.json(config)
ui.download_json(config, "config")

st.subheader("Data card")
st.json(card.data_card, expanded=False)
ui.download_json(card.data_card, "data_card")

st.subheader("Known limitations")
st.markdown(LIMITATIONS)
