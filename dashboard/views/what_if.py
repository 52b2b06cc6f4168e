"""What-if: edit the transcript, drop a modality or force gates, and see what changes."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, resources, ui

NONVERBAL = ("acoustic", "visual")

backend = resources.backend()
st.title("What-if")

utterance_id, original = ui.chosen_record(backend, key="whatif")

st.subheader(utterance_id)
st.caption("Original transcript:")
st.text(original.text)

with st.form("whatif_form"):
    text = st.text_area("Transcript", value=original.text, key=f"whatif_text_{utterance_id}",
                        max_chars=2000)
    remove_text = st.checkbox("Drop the text (explain an empty transcript)",
                              key="whatif_drop_text")
    dropped = st.multiselect("Drop nonverbal modalities", NONVERBAL, key="whatif_drop")
    st.write("Force gates (1 keeps the text state, 0 uses only the fused context):")
    forced = {}
    for layer in original.fused_layers:
        left, right = st.columns([1, 3])
        on = left.checkbox(f"Layer {layer}", key=f"whatif_force_{layer}")
        value = right.slider(f"Gate value, layer {layer}", 0.0, 1.0, 1.0, step=0.05,
                             key=f"whatif_gate_{layer}", label_visibility="collapsed")
        if on:
            forced[layer] = value
    submitted = st.form_submit_button("Run what-if")

if submitted:
    if remove_text:
        edited_text = ""
    elif text == original.text:
        edited_text = None
    else:
        edited_text = text
    with st.status("Running the model on the edited input...") as status:
        try:
            result = backend.what_if(utterance_id, text=edited_text,
                                     drop_modalities=tuple(dropped), force_gates=forced or None)
        except (ValueError, KeyError, RuntimeError) as error:
            status.update(label="The what-if run failed", state="error")
            st.code(str(error), language=None)
            st.stop()
        status.update(label="Done", state="complete")
    st.session_state["whatif_result"] = (utterance_id, result)

stored = st.session_state.get("whatif_result")
if stored is None or stored[0] != utterance_id:
    st.info("Change the input and press Run what-if.")
    st.stop()
result = stored[1]
edited = result.edited

st.subheader("Result")
columns = st.columns(3)
columns[0].metric("Original prediction", f"{result.original.prediction:+.2f}")
columns[1].metric("What-if prediction", f"{edited.prediction:+.2f}",
                  delta=f"{edited.prediction - result.original.prediction:+.2f}")
columns[2].metric("True label", "n/a" if original.label is None else f"{original.label:+.2f}")
st.caption("Edited transcript:")
st.text(edited.text)
for note in edited.notes:
    st.info(ui.escape_markdown(note))

ui.show_figure(charts.prediction_bar(result.original, edited), "whatif_prediction",
               key="whatif_prediction")
ui.show_figure(charts.gate_profiles([result.original, edited], names=["original", "what-if"]),
               "whatif_gate_profiles", key="whatif_profiles")
ui.show_figure(charts.gate_heatmap_pair(result.original, edited), "whatif_gate_maps",
               key="whatif_gate_maps")
left, right = st.columns(2)
with left:
    ui.show_figure(charts.transcript_figure(result.original), "whatif_original_transcript",
                   key="whatif_original_transcript")
with right:
    ui.show_figure(charts.transcript_figure(edited), "whatif_edited_transcript",
                   key="whatif_edited_transcript")
ui.show_figure(charts.shapley_compare(result.original, edited), "whatif_shapley",
               key="whatif_shapley")
with st.expander("Changes reported by the explainer"):
    st.json(result.diff)
ui.download_json({"original": result.original.to_json_dict(), "edited": edited.to_json_dict(),
                  "diff": result.diff}, f"{utterance_id}_what_if")
