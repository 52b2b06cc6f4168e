"""Explorer: every view of one utterance's prediction, from the record and the dataset."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, resources, ui

backend = resources.backend()
st.title("Explorer")

utterance_id, record = ui.chosen_record(backend, key="explorer")

st.subheader(utterance_id)
ui.record_header(record)
ui.show_figure(charts.prediction_bar(record), "prediction", key="explorer_prediction")
ui.show_figure(charts.transcript_figure(record), "transcript_attribution",
               key="explorer_transcript")

st.subheader("Cross-attention")
left, right = st.columns(2)
layer = left.selectbox("Fused layer", range(len(record.fused_layers)),
                       format_func=lambda i: f"encoder layer {record.fused_layers[i]}",
                       key="explorer_layer")
n_heads = record.attention.shape[1]
head = right.selectbox("Head", [None, *range(n_heads)],
                       format_func=lambda h: "mean over heads" if h is None else f"head {h}",
                       key="explorer_head")
ui.show_figure(charts.attention_heatmap(record, layer, head), "attention",
               key="explorer_attention")

st.subheader("Gates")
left, right = st.columns([2, 1])
with left:
    ui.show_figure(charts.gate_heatmap(record), "gate_heatmap", key="explorer_gates")
with right:
    ui.show_figure(charts.gate_profiles([record]), "gate_profile", key="explorer_gate_profile")

st.subheader("Attributions (integrated gradients)")
st.caption(f"Captum integrated gradients, {record.n_steps} steps; convergence delta "
           f"{record.convergence_delta:+.2e} (the gap between the summed attributions and "
           "f(input) - f(baseline)).")
if not record.ig_within_bound:
    st.warning(
        f"The attributions do not add up: the convergence delta {record.convergence_delta:+.3f} "
        f"is outside the completeness bound at {record.n_steps} steps, so the path has sharp "
        "features the integration missed. Recompute with more steps, for example "
        f"`pgfnet explain {record.id} --n-steps 512`."
    )
ui.show_figure(charts.token_attribution_bars(record), "text_attribution",
               key="explorer_text_attr")
left, right = st.columns(2)
with left:
    ui.show_figure(charts.acoustic_bars(record), "acoustic_attribution",
                   key="explorer_acoustic_attr")
with right:
    if record.attr_visual.size:
        ui.show_figure(charts.visual_heatmap(record), "visual_attribution",
                       key="explorer_visual_attr")
    else:
        st.info("This utterance has no visual frames, so it has no visual attribution.")
with st.expander("Baselines"):
    st.json(record.baselines)

st.subheader("Modality Shapley values")
ui.show_figure(charts.shapley_waterfall(record), "shapley_waterfall", key="explorer_shapley")
st.caption(f"Interaction: {ui.escape_markdown(record.interaction)}. Shapley values add up "
           "to f(all modalities) - f(no modality).")
ui.download_json({"shapley": record.shapley, "coalition_values": record.coalition_values,
                  "interaction": record.interaction}, f"{utterance_id}_shapley")

st.subheader("Video")
ui.show_media(backend, utterance_id)

st.divider()
ui.download_json(record.to_json_dict(), f"{utterance_id}_explanation",
                 label="Download the whole explanation (JSON)")
