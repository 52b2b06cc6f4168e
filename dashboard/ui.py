"""Widgets shared by the pages: figures with downloads, the utterance picker, records.

Text from data or users goes through ``st.text``, ``st.code``, ``st.dataframe`` or
:func:`escape_markdown`; nothing here passes a data string to HTML.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import charts
from dashboard.backend import DashboardBackend, filter_catalog
from pgfnet.explain.record import Explanation

SELECTED_KEY = "utterance_id"

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&])")


def escape_markdown(value: object) -> str:
    """Return ``value`` with every Markdown and HTML metacharacter backslash-escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(value))


def figure_html(fig: go.Figure) -> str:
    """Return ``fig`` as a standalone interactive HTML page (plotly.js inlined)."""
    return fig.to_html(include_plotlyjs=True, full_html=True)


def show_figure(fig: go.Figure, name: str, *, key: str | None = None, **kwargs: Any) -> Any:
    """Draw ``fig`` with a download button for its interactive HTML.

    The HTML is built only when the button is clicked (a deferred download), so pages
    with many figures stay fast. Extra keyword arguments go to ``st.plotly_chart``.
    """
    event = st.plotly_chart(fig, key=key or f"fig_{name}", width="stretch", **kwargs)
    st.download_button(f"Download {name}.html", data=lambda: figure_html(fig),
                       file_name=f"{name}.html", mime="text/html",
                       key=f"download_{key or name}", on_click="ignore")
    return event


def download_json(payload: Any, name: str, label: str | None = None) -> None:
    """Offer ``payload`` (JSON-compatible) as ``name``.json."""
    st.download_button(label or f"Download {name}.json",
                       data=lambda: json.dumps(payload, indent=1, default=float),
                       file_name=f"{name}.json", mime="application/json",
                       key=f"download_{name}_json", on_click="ignore")


def download_csv(frame: pd.DataFrame, name: str, label: str | None = None) -> None:
    """Offer ``frame`` as ``name``.csv."""
    st.download_button(label or f"Download {name}.csv",
                       data=lambda: frame.to_csv(index=False),
                       file_name=f"{name}.csv", mime="text/csv",
                       key=f"download_{name}_csv", on_click="ignore")


def clicked_utterance(event, ids: list[str]) -> str | None:
    """Return the utterance id of the first point selected in a scatter of ``ids``.

    Reads the id from the point's ``customdata``; a point without it is looked up by
    its ``point_index`` in trace 0. Returns None when nothing valid is selected.
    """
    points = ((event or {}).get("selection") or {}).get("points") or []
    if not points:
        return None
    point = points[0]
    customdata = point.get("customdata")
    if customdata:
        chosen = str(customdata[0] if isinstance(customdata, (list, tuple)) else customdata)
    elif point.get("curve_number", 0) == 0 and isinstance(point.get("point_index"), int):
        index = point["point_index"]
        chosen = ids[index] if 0 <= index < len(ids) else None
    else:
        chosen = None
    return chosen if chosen in set(ids) else None


def select_utterance(utterance_id: str) -> None:
    """Make ``utterance_id`` the selected utterance of this session and of the URL."""
    st.session_state[SELECTED_KEY] = utterance_id
    st.session_state["_url_id_seen"] = utterance_id
    st.query_params["id"] = utterance_id


def selected_utterance(default: str | None = None) -> str | None:
    """Return this session's selected utterance id; a new ``?id=`` in the URL wins."""
    from_url = st.query_params.get("id")
    if from_url and from_url != st.session_state.get("_url_id_seen"):
        st.session_state["_url_id_seen"] = from_url
        st.session_state[SELECTED_KEY] = from_url
    return st.session_state.get(SELECTED_KEY, default)


def utterance_picker(backend: DashboardBackend, key: str) -> str | None:
    """Draw search and filters in the sidebar and return the chosen utterance id.

    Filters: id or text search, split, label range, minimum |error| (rows with a
    prediction only), has video, has visual frames. When the filters exclude the
    selected utterance, the first match becomes the selection.
    """
    catalog = backend.catalog()
    with st.sidebar:
        st.subheader("Utterance")
        query = st.text_input("Search id or transcript", key=f"{key}_query")
        splits = st.multiselect("Split", ["train", "valid", "test"],
                                default=["train", "valid", "test"], key=f"{key}_splits")
        low, high = st.slider("True label range", -3.0, 3.0, (-3.0, 3.0), step=0.1,
                              key=f"{key}_label")
        min_error = st.slider("Minimum |error| (utterances with a prediction)", 0.0, 6.0,
                              0.0, step=0.1, key=f"{key}_error")
        has_video = st.checkbox("Has video", key=f"{key}_video")
        has_visual = st.checkbox("Has visual frames", key=f"{key}_visual")
    rows = filter_catalog(catalog, query=query, splits=tuple(splits), label_range=(low, high),
                          min_abs_error=min_error, has_video=has_video, has_visual=has_visual)
    options = rows["id"].tolist()
    with st.sidebar:
        st.caption(f"{len(rows)} of {len(catalog)} utterances match")
        if not options:
            st.warning("No utterance matches these filters.")
            return None

    select_key = f"{key}_select"
    current = selected_utterance()
    if current not in options:
        current = options[0]
    # Seed the widget from the session's selection, which a click on another page or the
    # URL may have set. The widget's own changes reach the selection through on_change.
    st.session_state[select_key] = current
    labels = catalog.set_index("id")["text"]
    with st.sidebar:
        st.selectbox("Utterance", options, key=select_key,
                     format_func=lambda i: f"{i}: {_shorten(labels.get(i, ''))}",
                     on_change=lambda: select_utterance(st.session_state[select_key]))
    if st.session_state.get(SELECTED_KEY) != current:
        select_utterance(current)
    return current


def _shorten(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def load_record(backend: DashboardBackend, utterance_id: str) -> Explanation | None:
    """Return the record, computing it live behind a status box on a cache miss.

    Shows the error and returns None when the explanation fails.
    """
    record = backend.cached_explanation(utterance_id)
    if record is not None:
        return record
    with st.status(f"Explaining {utterance_id} live (not in the cache)...",
                   expanded=False) as status:
        try:
            record = backend.explanation(utterance_id)
        except (KeyError, ValueError, RuntimeError, OSError) as error:
            status.update(label="The explanation failed", state="error")
            st.code(str(error), language=None)
            return None
        status.update(label=f"Explained {utterance_id}", state="complete")
    return record


def chosen_record(backend: DashboardBackend, key: str) -> tuple[str, Explanation]:
    """Return the utterance id picked in the sidebar and its record.

    Stops the page run (``st.stop``) when no utterance matches the filters or the
    explanation failed; :func:`load_record` has shown the error by then.
    """
    utterance_id = utterance_picker(backend, key=key)
    if utterance_id is None:
        st.stop()
    record = load_record(backend, utterance_id)
    if record is None:
        st.stop()
    return utterance_id, record


def run_with_progress(label: str, work: Callable[[Callable[[int, int], None]], Any]) -> Any:
    """Run ``work(progress)`` behind an ``st.progress`` bar fed by ``progress(done, total)``."""
    bar = st.progress(0.0, text=label)

    def progress(done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{label} {done}/{total}")

    result = work(progress)
    bar.empty()
    return result


def record_header(record: Explanation) -> None:
    """Show the transcript (as plain text), ids, prediction, truth and notes."""
    st.text(record.text)
    columns = st.columns(4)
    columns[0].metric("Prediction", f"{record.prediction:+.2f}")
    columns[1].metric("True label", "n/a" if record.label is None else f"{record.label:+.2f}")
    error = None if record.label is None else record.prediction - record.label
    columns[2].metric("Error", "n/a" if error is None else f"{error:+.2f}")
    columns[3].metric("Interaction", record.interaction)
    for note in record.notes:
        st.info(escape_markdown(note))


def show_media(backend: DashboardBackend, utterance_id: str) -> None:
    """Play the utterance's clip (cut once into the cache) and draw its action units.

    A missing, truncated or corrupt media file shows a warning; the rest of the page
    is unaffected.
    """
    from dashboard.media import ClipError

    playable = None
    try:
        with st.spinner("Cutting the clip (first view only)..."):
            playable = backend.playable_media(utterance_id)
    except ClipError as error:
        st.warning("The video of this utterance cannot be played.")
        st.code(str(error), language=None)
    if playable is None:
        st.caption("No video or audio source for this utterance: the MOSI subset ships "
                   "media for a few train and valid videos only.")
    elif playable.kind == "video":
        st.video(str(playable.path))
        st.caption(f"Clip of {playable.duration:.2f} s, cut from the source video.")
    else:
        st.audio(str(playable.path))

    frames, times, names = backend.visual_frames(utterance_id)
    if len(times):
        show_figure(charts.action_unit_curves(frames, times, names), "action_units",
                    key="media_action_units")
        st.caption("Time axis: seconds from the utterance start, the same axis as the clip.")
    else:
        st.caption("No visual frames for this utterance.")
