"""Compare: two to four utterances side by side, and the ones with similar gates."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, resources, ui
from dashboard.backend import OVERVIEW_SPLIT, most_similar_gates

backend = resources.backend()
st.title("Compare")

catalog = backend.catalog()
texts = catalog.set_index("id")["text"]
ids = catalog["id"].tolist()
default = [i for i in [ui.selected_utterance()] if i in texts.index]
default += [i for i in catalog[catalog["split"] == OVERVIEW_SPLIT]["id"] if i not in default]
chosen = st.multiselect("Utterances (two to four)", ids, default=default[:2], max_selections=4,
                        format_func=lambda i: f"{i}: {texts.get(i, '')[:50]}",
                        key="compare_ids")
if len(chosen) < 2:
    st.info("Choose at least two utterances.")
    st.stop()

records = []
for utterance_id in chosen:
    record = ui.load_record(backend, utterance_id)
    if record is not None:
        records.append(record)
if len(records) < 2:
    st.stop()

columns = st.columns(len(records))
for column, record in zip(columns, records):
    with column:
        st.markdown(f"**{ui.escape_markdown(record.id)}**")
        st.text(record.text)
        st.metric("Prediction", f"{record.prediction:+.2f}",
                  help="True label: " + ("n/a" if record.label is None else f"{record.label:+.2f}"))
        st.caption(f"Interaction: {ui.escape_markdown(record.interaction)}")

ui.show_figure(charts.gate_profiles(records), "compare_gate_profiles", key="compare_gates")
left, right = st.columns(2)
with left:
    ui.show_figure(charts.attribution_shares_bars(records), "compare_attribution_shares",
                   key="compare_shares")
with right:
    ui.show_figure(charts.predictions_compare(records), "compare_predictions",
                   key="compare_predictions")

st.subheader("Most similar gate behaviour")
frame = backend.cached_overview(OVERVIEW_SPLIT)
if frame is None:
    st.info("Open the Overview page once to compute the test-split table this needs.")
    st.stop()
in_table = [r.id for r in records if r.id in set(frame["id"])]
if not in_table:
    st.info(f"None of the chosen utterances is in the {OVERVIEW_SPLIT} split's table.")
    st.stop()
anchor = st.selectbox("Similar to", in_table, key="compare_anchor")
k = st.slider("How many", 1, 20, 5, key="compare_k")
similar = most_similar_gates(frame, anchor, k=k)
similar = similar.merge(catalog[["id", "text"]], on="id", how="left")
st.dataframe(similar, hide_index=True)
ui.download_csv(similar, f"similar_gates_{anchor}")
