"""Demo tour: a guided sequence of chosen examples in large type, for presenting."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, resources, ui
from dashboard.backend import OVERVIEW_SPLIT, tour_steps

# Static CSS only: no data string is ever placed in this HTML.
LARGE_TYPE = """<style>
section.main [data-testid="stText"], .stMainBlockContainer [data-testid="stText"] {
  font-size: 1.6rem; line-height: 1.5; white-space: pre-wrap;
}
.stMainBlockContainer [data-testid="stCaptionContainer"] { font-size: 1.25rem; }
.stMainBlockContainer [data-testid="stMetricValue"] { font-size: 2.6rem; }
</style>"""

backend = resources.backend()
st.html(LARGE_TYPE)
st.title("Demo tour")

frame = backend.cached_overview(OVERVIEW_SPLIT)
if frame is None:
    frame = ui.run_with_progress(
        f"Computing the {OVERVIEW_SPLIT}-split table the tour chooses from...",
        lambda progress: backend.overview(OVERVIEW_SPLIT, progress=progress))
steps = tour_steps(frame)
if not steps:
    st.warning("The overview table is empty, so the tour has no stops.")
    st.stop()



def move(delta: int, count: int) -> None:
    position = st.session_state.get("tour_step", 0) + delta
    st.session_state["tour_step"] = max(0, min(count - 1, position))


position = min(st.session_state.get("tour_step", 0), len(steps) - 1)
left, middle, right = st.columns([1, 3, 1])
left.button("Previous", disabled=position == 0, key="tour_previous", width="stretch",
            on_click=move, args=(-1, len(steps)))
right.button("Next", disabled=position == len(steps) - 1, key="tour_next", width="stretch",
             on_click=move, args=(1, len(steps)))
middle.progress((position + 1) / len(steps), text=f"Stop {position + 1} of {len(steps)}")

step = steps[position]
record = ui.load_record(backend, step.id)
if record is None:
    st.stop()

st.header(step.title)
st.caption(step.caption)
st.text(record.text)
columns = st.columns(3)
columns[0].metric("Model", f"{record.prediction:+.2f}")
columns[1].metric("Annotators", "n/a" if record.label is None else f"{record.label:+.2f}")
columns[2].metric("Interaction", record.interaction)
ui.show_figure(charts.transcript_figure(record), "tour_transcript", key="tour_transcript")
left, right = st.columns(2)
with left:
    ui.show_figure(charts.shapley_waterfall(record), "tour_shapley", key="tour_shapley")
with right:
    ui.show_figure(charts.gate_heatmap(record), "tour_gates", key="tour_gates")
if st.button("Open in the Explorer", key="tour_open"):
    ui.select_utterance(step.id)
    st.switch_page("views/explorer.py")
