"""The dashboard on the real backend under hostile input and damaged files.

Uses the production backend (real explainer and cache over a tiny checkpoint) so that
what the page shows is what the engine computed: markup typed into the What-if
transcript, a 100,000-character transcript, a garbage or empty video file, a damaged
cache entry, and the launcher's network defaults.
"""

from __future__ import annotations

import json
import re

import pytest
from reliability_corpus import CORRUPT_VIDEO_ID, EMPTY_VIDEO_ID, HOSTILE_MARKUP, HOSTILE_TEXT_ID
from streamlit.testing.v1 import AppTest

from pgfnet.paths import REPO_ROOT

APP = str(REPO_ROOT / "dashboard" / "app.py")
# Element types whose text Streamlit renders as Markdown (HTML tags inside are shown
# only with unsafe_allow_html, which no element may use).
MARKDOWN_TYPES = {"markdown", "caption", "info", "warning", "error", "success", "toast",
                  "exception", "latex"}


def start(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def walk(node):
    """Yield every element and block of an AppTest tree."""
    yield node
    for child in getattr(node, "children", {}).values():
        yield from walk(child)


def assert_markup_inert(at: AppTest) -> None:
    """No element allows HTML, and no Markdown element carries the raw markup."""
    for element in walk(at._tree):
        proto = getattr(element, "proto", None)
        if proto is not None and "allow_html" in type(proto).DESCRIPTOR.fields_by_name:
            assert not proto.allow_html, f"{element.type} allows HTML: {proto}"
        if getattr(element, "type", None) in MARKDOWN_TYPES:
            value = str(element.value)
            assert "<script>" not in value, value
            assert "<img " not in value, value
        if getattr(element, "type", None) == "plotly_chart":
            spec = element.proto.spec
            assert "<script>" not in spec
            assert "<img " not in spec


def texts(at: AppTest) -> list[str]:
    return [element.value for element in at.text]


def chart_keys(at: AppTest) -> list[str]:
    return [chart.key for chart in at.get("plotly_chart")]


def test_what_if_markup_shown_as_text(live_backend):
    at = start("views/what_if.py")
    at.selectbox(key="whatif_select").set_value("vidA_1").run()
    at.text_area(key="whatif_text_vidA_1").input(HOSTILE_MARKUP)
    at.button[0].click().run()

    assert not at.exception, at.exception
    assert HOSTILE_MARKUP in texts(at)
    assert_markup_inert(at)
    edited = json.loads(next(c.proto.spec for c in at.get("plotly_chart")
                             if c.key == "whatif_edited_transcript"))
    cells = [cell for row in edited["data"][0]["text"] for cell in row if cell]
    assert any("&lt;" in cell for cell in cells)
    assert not any("<" in cell for cell in cells)


def test_explorer_markup_transcript_as_text(live_backend):
    at = start("views/explorer.py")
    at.selectbox(key="explorer_select").set_value(HOSTILE_TEXT_ID).run()

    assert not at.exception, at.exception
    assert HOSTILE_MARKUP in texts(at)
    assert_markup_inert(at)


def test_long_transcript_truncated_with_note(live_backend):
    long_text = ("a remarkably long and winding review sentence " * 2200)[:100_000]
    assert len(long_text) == 100_000

    view = live_backend.what_if("vidA_1", text=long_text)

    edited = view.edited
    assert edited.text_truncated is True
    max_length = live_backend.explainer().model.config.max_text_length
    assert len(edited.tokens) == max_length
    assert edited.tokens[0] == "[CLS]"
    assert edited.tokens[-1] == "[SEP]"
    notes = [note for note in edited.notes if note.startswith("transcript truncated")]
    assert len(notes) == 1
    left_out, total = map(int, re.search(r"so (\d+) of the (\d+) were left out", notes[0]).groups())
    assert total > 10_000
    assert left_out == total - max_length  # both counts include [CLS] and [SEP]


def test_long_transcript_page_truncates_input(live_backend):
    # The What-if text area accepts at most 2,000 characters, so the page itself never
    # sends a 100,000-character transcript.
    at = start("views/what_if.py")
    at.selectbox(key="whatif_select").set_value("vidA_1").run()
    area = at.text_area(key="whatif_text_vidA_1")

    assert area.proto.max_chars == 2000


@pytest.mark.parametrize("utterance_id", [CORRUPT_VIDEO_ID, EMPTY_VIDEO_ID])
def test_broken_video_keeps_page_working(live_backend, utterance_id):
    at = start("views/explorer.py")
    at.selectbox(key="explorer_select").set_value(utterance_id).run()

    assert not at.exception, at.exception
    assert any("cannot be played" in warning.value for warning in at.warning)
    assert len(at.get("video")) == 0
    for key in ("explorer_prediction", "explorer_gates", "explorer_shapley",
                "media_action_units"):
        assert key in chart_keys(at), key
    record = live_backend.cached_explanation(utterance_id)
    assert f"{record.prediction:+.2f}" in [metric.value for metric in at.metric]


def test_corrupt_cache_entry_recomputed_not_shown(live_backend, tiny_checkpoint, tiny_dataset):
    from dashboard import resources

    good = live_backend.explanation("vidA_2")
    npz_path = next(live_backend._cache.directory.glob("vidA_2.npz"))
    damaged = bytearray(npz_path.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    npz_path.write_bytes(bytes(damaged))

    fresh = resources.create_backend(tiny_checkpoint, tiny_dataset)

    assert fresh.cached_explanation("vidA_2") is None
    recomputed = fresh.explanation("vidA_2")
    assert recomputed.to_json_dict() == good.to_json_dict()
    assert fresh._cache.get("vidA_2").to_json_dict() == good.to_json_dict()


# -- launcher defaults -------------------------------------------------------------------


def load_launcher():
    """Import run_dashboard.py from the repository root (it is a script, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_dashboard", REPO_ROOT / "run_dashboard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_launcher_binds_loopback_with_xsrf():
    run_dashboard = load_launcher()

    args = run_dashboard.parse_args([])
    command = run_dashboard.streamlit_command(args.host, args.port)
    options = dict(zip(command[5::2], command[6::2]))

    assert args.host == "127.0.0.1"
    assert options["--server.address"] == "127.0.0.1"
    assert options["--server.enableXsrfProtection"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"
    assert "--server.enableCORS" not in options


def test_launcher_host_only_when_asked():
    run_dashboard = load_launcher()

    assert run_dashboard.parse_args(["--host", "0.0.0.0"]).host == "0.0.0.0"
    assert run_dashboard.is_loopback("127.0.0.1")
    assert run_dashboard.is_loopback("::1")
    assert not run_dashboard.is_loopback("0.0.0.0")

