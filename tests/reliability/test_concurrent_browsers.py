"""Four headless Chromium sessions at once against one real dashboard server.

A smaller run of ``benchmarks/concurrency.py``: the server runs ``run_dashboard.py`` on
127.0.0.1 with a tiny checkpoint, the real MOSI subset and an empty explanation cache,
so each page computes its explanation live. Three sessions open the Explorer on
different utterances and one opens What-if with a forced gate, all at the same moment.
Every page must show exactly the numbers the engine computes in-process, and the
server log must contain no exception. Latency and memory figures are printed by the
benchmark, not asserted here.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys

import pytest

from pgfnet.paths import REPO_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.real_data, pytest.mark.slow]


def load_benchmark():
    spec = importlib.util.spec_from_file_location(
        "concurrency_benchmark", REPO_ROOT / "benchmarks" / "concurrency.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def real_dataset(tmp_path_factory, mosi_source):
    from pgfnet.data.mosi import build_mosi

    path = tmp_path_factory.mktemp("concurrency-data") / "mosi.pgfdata"
    build_mosi(mosi_source, path)
    return path


@pytest.fixture(scope="module")
def report(real_dataset):
    benchmark = load_benchmark()
    for tool in (benchmark.CHROMIUM, benchmark.CHROMEDRIVER):
        if not shutil.which(tool):
            pytest.fail(f"{tool} not found: install Debian's chromium and chromium-driver")
    args = benchmark.parse_args(["--tiny", "--data", str(real_dataset), "--sessions", "4",
                                 "--what-if", "1", "--page-timeout", "400"])
    result = benchmark.run(args)
    benchmark.print_report(result)
    return result


def test_sessions_match_single_engine(report):
    assert report["sessions"] == 4
    for session in report["session_results"]:
        assert session["error"] is None, session["error"]
        assert session["metrics_match"], (session["metrics"], session["expected_metrics"])
        assert session["max_chart_difference"] <= 1e-5, session["utterance_id"]
    assert [s["page"] for s in report["session_results"]].count("what-if") == 1


def test_sessions_got_different_utterances(report):
    ids = [s["utterance_id"] for s in report["session_results"]]
    assert len(set(ids)) == len(ids)


def test_no_exception_on_pages_or_log(report):
    assert not any(s["page_exceptions"] for s in report["session_results"])
    assert report["log_errors"] == []


def test_server_defaults_on_live_server(report):
    defaults = report["server_defaults"]
    assert defaults["listen_addresses"] == ["127.0.0.1"]
    assert defaults["xsrf_cookie"] is True
    assert defaults["upload_without_token_status"] == 403
