"""Helpers that read the data behind an AppTest run's charts and texts."""

from __future__ import annotations

import base64
import json

import numpy as np
from streamlit.testing.v1 import AppTest

from fakes import APP


def start(page: str | None = None, timeout: float = 60) -> AppTest:
    """Run the app once, then switch to ``page`` (e.g. "views/explorer.py") and run it."""
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    assert not at.exception, at.exception
    if page is not None:
        at.switch_page(page).run()
        assert not at.exception, at.exception
    return at


def decode_arrays(value):
    """Replace plotly's typed-array encoding ({"dtype", "bdata", "shape"}) by numpy arrays."""
    if isinstance(value, dict):
        if "bdata" in value and "dtype" in value:
            array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
            shape = value.get("shape")
            if shape:
                dims = [int(n) for n in str(shape).split(",")]
                array = array.reshape(dims)
            return array
        return {k: decode_arrays(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_arrays(v) for v in value]
    return value


def figure(at: AppTest, key: str) -> dict:
    """Return the plotly figure (data and layout, arrays decoded) of chart ``key``."""
    for chart in at.get("plotly_chart"):
        if chart.key == key:
            return decode_arrays(json.loads(chart.proto.spec))
    keys = [chart.key for chart in at.get("plotly_chart")]
    raise AssertionError(f"no chart with key {key!r}; charts on the page: {keys}")


def chart_keys(at: AppTest) -> list[str]:
    """Return the widget keys of every chart on the page."""
    return [chart.key for chart in at.get("plotly_chart")]


def texts(at: AppTest) -> list[str]:
    """Return the values of every ``st.text`` element."""
    return [element.value for element in at.text]
