"""Drive concurrent headless Chromium sessions at one dashboard server; print the figures.

Starts ``run_dashboard.py`` on a free port of 127.0.0.1 with an empty explanation cache,
so every page computes its explanation live. Then N Chromium sessions (selenium,
``/usr/bin/chromium``) open their page at the same moment. Most open the Explorer on
different utterances. The last ``--what-if`` sessions open What-if on their own
utterance and force the gate of a different fused layer to 1.0. Each session reads the
numbers its page shows (the "Prediction" metrics and the data of the prediction,
Shapley, gate and attribution charts) and compares them with the same charts built
in-process from ``Explainer.explain`` / ``Explainer.what_if`` on the same checkpoint.

While the sessions run, the resident memory (RSS) of the server's process tree is
sampled every 0.2 s with psutil. At the end the server log is scanned for
"Traceback", "Exception" and ERROR lines, and the server's listening sockets and XSRF
cookie are checked. The script prints the per-session latency (page request to
explanation shown), its p50/p90/p99/max, the peak RSS, and PASS or FAIL for each
check and for the memory bound (``--max-rss-gib``, default 3).

Usage::

    .venv/bin/python benchmarks/concurrency.py                 # assets/checkpoint, 8 sessions
    .venv/bin/python benchmarks/concurrency.py --untrained     # real MiniLM, random fusion
    .venv/bin/python benchmarks/concurrency.py --tiny --sessions 4

The whole run stops by itself after ``--timeout`` seconds (default 1200): the server,
the browsers and their drivers are killed and the script exits with code 3. Exit code
0 means every check passed, 1 that a check failed, 2 a setup error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
HOST = "127.0.0.1"
SAMPLE_SECONDS = 0.2
LOG_PATTERN = re.compile(r"Traceback|Exception|^ERROR|\bERROR\b")

# Charts compared with the in-process reference, by page.
EXPLORER_CHARTS = ("explorer_prediction", "explorer_shapley", "explorer_gates",
                   "explorer_text_attr")
WHAT_IF_CHARTS = ("whatif_prediction", "whatif_gate_maps", "whatif_shapley")

# Reads the traces of each keyed plotly chart. plotly.js keeps the figure's data on
# the chart's div; typed arrays become plain lists here.
READ_CHARTS_JS = """
const plain = (v) => {
  if (v === undefined || v === null) return null;
  if (v._inputArray !== undefined) return plain(v._inputArray);
  if (ArrayBuffer.isView(v)) return Array.from(v);
  if (Array.isArray(v)) return v.map(plain);
  return v;
};
const out = {};
for (const key of arguments[0]) {
  const div = document.querySelector('.st-key-' + key + ' .js-plotly-plot');
  if (!div || !div.data) { out[key] = null; continue; }
  out[key] = div.data.map((t) => ({x: plain(t.x), y: plain(t.y), z: plain(t.z)}));
}
return out;
"""


@dataclass
class SessionPlan:
    """The page, utterance and forced gate of one browser session."""

    index: int
    page: str  # "explorer" or "what-if"
    utterance_id: str
    force_layer: int | None = None


@dataclass
class SessionResult:
    """The latency, metrics and chart data one session read from its page."""

    plan: SessionPlan
    latency_s: float | None = None
    metrics: dict[str, str] = field(default_factory=dict)
    charts: dict[str, Any] = field(default_factory=dict)
    page_exceptions: list[str] = field(default_factory=list)
    error: str | None = None


# -- setup --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def prepare_checkpoint(args: argparse.Namespace, workdir: Path) -> tuple[Path, str]:
    """Return the checkpoint folder to serve and a description of it."""
    import torch

    from pgfnet.model.config import PGFNetConfig
    from pgfnet.model.pgfnet import PGFNet
    from pgfnet.model.tiny import build_tiny_pgfnet

    if args.tiny:
        folder = workdir / "tiny-checkpoint"
        build_tiny_pgfnet(seed=0).save_pretrained(folder)
        return folder, "tiny random PGF-Net (2-layer BERT, hidden size 32)"
    if args.untrained:
        folder = workdir / "untrained-checkpoint"
        torch.manual_seed(0)
        PGFNet(PGFNetConfig()).save_pretrained(folder)
        return folder, "untrained PGF-Net (real all-MiniLM-L6-v2, random fusion, seed 0)"
    folder = Path(args.checkpoint)
    if not (folder / "model.safetensors").is_file():
        raise SystemExit(f"error: checkpoint {folder} has no model.safetensors; pass "
                         "--checkpoint DIR, --untrained or --tiny")
    return folder, f"checkpoint {folder}"


def prepare_dataset(args: argparse.Namespace, workdir: Path) -> Path:
    """Return the built dataset file, building it from the MOSI source when missing."""
    from pgfnet.data.mosi import build_mosi
    from pgfnet.paths import default_dataset_path, default_source

    path = Path(args.data) if args.data else default_dataset_path()
    if path.is_file():
        return path
    source = default_source()
    if source is None or not source.is_dir():
        raise SystemExit(f"error: dataset {path} is missing and no MOSI source was found; "
                         "set PGFNET_MOSI_SOURCE or pass --data")
    path = workdir / "mosi.pgfdata"
    print(f"building the dataset from {source} into {path}", flush=True)
    build_mosi(source, path)
    return path


def plan_sessions(explainer, sessions: int, what_if: int, split: str
                  ) -> tuple[list[SessionPlan], str]:
    """Assign each session a different utterance of ``split``; return plans and a warm-up id.

    What-if session k forces the gate of fused layer number k (cycling) to 1.0.
    """
    data = explainer.data
    ids = [data.utterances[i].id for i in data.split_indices(split)
           if data.utterances[i].text.strip()]
    if len(ids) < sessions + 1:
        raise SystemExit(f"error: split {split!r} has {len(ids)} utterances with text; "
                         f"{sessions + 1} are needed")
    layers = sorted(explainer.fused_layers)
    plans = []
    for index in range(sessions):
        if index >= sessions - what_if and layers:
            layer = layers[(index - (sessions - what_if)) % len(layers)]
            plans.append(SessionPlan(index, "what-if", ids[index + 1], layer))
        else:
            plans.append(SessionPlan(index, "explorer", ids[index + 1]))
    return plans, ids[0]


# -- the server ---------------------------------------------------------------------------


def start_server(checkpoint: Path, data: Path, cache: Path, log_path: Path
                 ) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, PGFNET_CACHE=str(cache))
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "run_dashboard.py"), "--host", HOST, "--port",
         str(port), "--checkpoint", str(checkpoint), "--data", str(data), "--no-build"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    return process, f"http://{HOST}:{port}"


def wait_healthy(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the dashboard exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the dashboard at {url} did not become healthy in {timeout:.0f} s")


def process_tree(pid: int) -> list:
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


class MemorySampler(threading.Thread):
    """Sample the summed RSS of a process tree every ``SAMPLE_SECONDS`` until stopped."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, int]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        import psutil

        start = time.monotonic()
        while not self._stop_event.is_set():
            total = 0
            for process in process_tree(self.pid):
                try:
                    total += process.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            self.samples.append((time.monotonic() - start, total))
            self._stop_event.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)

    @property
    def peak_bytes(self) -> int:
        return max((rss for _, rss in self.samples), default=0)


def server_defaults(url: str, pid: int) -> dict[str, Any]:
    """Return the server's listening addresses and its responses to XSRF probes.

    Streamlit sets the ``_streamlit_xsrf`` cookie on the health endpoint only when XSRF
    protection is on, and then rejects an upload without the matching token with 403.
    """
    import urllib.error

    import psutil

    addresses = set()
    for process in process_tree(pid):
        try:
            connections = process.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        addresses.update(c.laddr.ip for c in connections if c.status == psutil.CONN_LISTEN)
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as response:
        cookies = response.headers.get_all("Set-Cookie") or []
    probe = urllib.request.Request(f"{url}/_stcore/upload_file/no-session/no-file",
                                   data=b"x", method="PUT")
    try:
        with urllib.request.urlopen(probe, timeout=10) as response:
            upload_status = response.status
    except urllib.error.HTTPError as error:
        upload_status = error.code
    return {"listen_addresses": sorted(addresses),
            "xsrf_cookie": any(c.startswith("_streamlit_xsrf=") for c in cookies),
            "upload_without_token_status": upload_status}


def scan_log(path: Path) -> list[str]:
    """Return the server log lines that report an exception or an error."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return [line for line in text.splitlines() if LOG_PATTERN.search(line)]


# -- browser sessions -----------------------------------------------------------------------


def new_driver(profile: Path, page_timeout: float):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    # Selenium waits 120 s for chromedriver to answer one command by default, which a
    # heavily loaded 2-core machine exceeded with 9 browsers (seen with selenium 4.51).
    # client_config is selenium's private connection setting, so it is set only if present.
    client_config = getattr(driver.command_executor, "_client_config", None)
    if client_config is not None:
        client_config.timeout = page_timeout
    driver.set_page_load_timeout(page_timeout)
    driver.set_script_timeout(60)
    return driver


def wait_until(driver, condition, timeout: float):
    """Poll ``condition(driver)`` until it is truthy; a stale element counts as not yet.

    Streamlit replaces page elements on every rerun, so an element found in one poll
    can be gone in the next.
    """
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.25,
                         ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def wait_idle(driver, timeout: float) -> None:
    """Wait until Streamlit shows no running-script indicator."""
    from selenium.webdriver.common.by import By

    time.sleep(0.5)
    wait_until(driver, lambda d: not d.find_elements(
        By.CSS_SELECTOR, '[data-testid="stStatusWidget"]'), timeout)


def read_charts(driver, keys: tuple[str, ...]) -> dict[str, Any]:
    return driver.execute_script(READ_CHARTS_JS, list(keys))


def dialog_texts(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [d.text for d in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stDialog"]')]


def read_metrics(driver) -> dict[str, str]:
    from selenium.webdriver.common.by import By

    metrics = {}
    for element in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stMetric"]'):
        label = element.find_elements(By.CSS_SELECTOR, '[data-testid="stMetricLabel"]')
        value = element.find_elements(By.CSS_SELECTOR, '[data-testid="stMetricValue"]')
        if label and value:
            metrics[label[0].text.strip()] = value[0].text.strip()
    return metrics


def charts_ready(driver, keys: tuple[str, ...]) -> bool:
    charts = read_charts(driver, keys)
    return all(charts.get(key) for key in keys)


def click_text(driver, selector: str, text: str, timeout: float,
               normalize=lambda text: text) -> None:
    """Click the first element matching ``selector`` whose visible text is ``text``.

    ``normalize`` is applied to the element's stripped text before comparing.
    """
    from selenium.common.exceptions import (
        ElementClickInterceptedException,
        StaleElementReferenceException,
    )
    from selenium.webdriver.common.by import By

    def find(d):
        for element in d.find_elements(By.CSS_SELECTOR, selector):
            if normalize(element.text.strip()) == text and element.is_displayed():
                return element
        return False

    # A rerun can replace the element between finding and clicking it; try again then.
    for attempt in range(10):
        element = wait_until(driver, find, timeout)
        try:
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
            element.click()
            return
        except (StaleElementReferenceException, ElementClickInterceptedException):
            if attempt == 9:
                raise
            time.sleep(0.5)


def run_session(driver, url: str, plan: SessionPlan, timeout: float) -> SessionResult:
    """Open the planned page, wait for its explanation, read what it shows."""
    from selenium.webdriver.common.by import By

    result = SessionResult(plan)
    start = time.monotonic()
    # Both pages are reached through the Explorer's ?id= link; the What-if session then
    # follows the sidebar link, as a user would.
    driver.get(f"{url}/explorer?id={plan.utterance_id}")
    keys = EXPLORER_CHARTS if plan.page == "explorer" else WHAT_IF_CHARTS
    wait_until(driver, lambda d: plan.utterance_id in [
        h.text for h in d.find_elements(By.CSS_SELECTOR, "h3")] and charts_ready(d, EXPLORER_CHARTS),
        timeout)
    if plan.page == "what-if":
        wait_idle(driver, timeout)
        click_text(driver, '[data-testid="stSidebarNavLink"]', "what if", timeout,
                   normalize=lambda text: text.lower().replace("-", " "))
        wait_until(driver, lambda d: any(b.text.strip() == "Run what-if"
                                         for b in d.find_elements(By.CSS_SELECTOR, "button")),
                   timeout)
        wait_idle(driver, timeout)
        click_text(driver, '[data-testid="stCheckbox"] label', f"Layer {plan.force_layer}", timeout)
        click_text(driver, "button", "Run what-if", timeout)
        wait_until(driver, lambda d: charts_ready(d, keys), timeout)
    wait_idle(driver, timeout)
    result.latency_s = time.monotonic() - start
    result.metrics = wait_until(driver, read_metrics, timeout)
    result.charts = read_charts(driver, keys)
    result.page_exceptions = [e.text for e in driver.find_elements(
        By.CSS_SELECTOR, '[data-testid="stException"]')]
    return result


# -- the in-process reference -----------------------------------------------------------------


def reference_charts(explainer, plans: list[SessionPlan]) -> dict[int, dict[str, Any]]:
    """Build each session's charts in-process from the engine: {session: {key: traces}}."""
    from dashboard import charts

    expected = {}
    for plan in plans:
        if plan.page == "explorer":
            record = explainer.explain(plan.utterance_id)
            figures = {
                "explorer_prediction": charts.prediction_bar(record),
                "explorer_shapley": charts.shapley_waterfall(record),
                "explorer_gates": charts.gate_heatmap(record),
                "explorer_text_attr": charts.token_attribution_bars(record),
            }
            metrics = {"Prediction": f"{record.prediction:+.2f}"}
        else:
            original = explainer.explain(plan.utterance_id)
            result = explainer.what_if(plan.utterance_id, force_gates={plan.force_layer: 1.0})
            figures = {
                "whatif_prediction": charts.prediction_bar(original, result.edited),
                "whatif_gate_maps": charts.gate_heatmap_pair(original, result.edited),
                "whatif_shapley": charts.shapley_compare(original, result.edited),
            }
            metrics = {"Original prediction": f"{original.prediction:+.2f}",
                       "What-if prediction": f"{result.edited.prediction:+.2f}"}
        traces = {}
        for key, figure in figures.items():
            traces[key] = [{axis: _plain(getattr(trace, axis, None)) for axis in ("x", "y", "z")}
                           for trace in figure.data]
        expected[plan.index] = {"charts": traces, "metrics": metrics}
    return expected


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def max_difference(shown: Any, expected: Any) -> float:
    """Return the largest absolute difference between two trace structures.

    Returns inf when their shapes or non-numeric entries (labels) differ.
    """
    if isinstance(expected, (list, tuple)):
        if not isinstance(shown, (list, tuple)) or len(shown) != len(expected):
            return float("inf")
        return max((max_difference(s, e) for s, e in zip(shown, expected)), default=0.0)
    if isinstance(expected, dict):
        if not isinstance(shown, dict):
            return float("inf")
        return max((max_difference(shown.get(k), v) for k, v in expected.items()), default=0.0)
    if expected is None:
        return 0.0 if shown is None or shown == [] else float("inf")
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        if not isinstance(shown, (int, float)):
            return float("inf")
        if np.isnan(expected) and np.isnan(shown):
            return 0.0
        return abs(float(shown) - float(expected))
    return 0.0 if shown == expected else float("inf")


# -- the run ------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q, method="linear")) if values else float("nan")


def kill_tree(pid: int) -> None:
    """Kill a process and its descendants (processes this script started)."""
    import psutil

    for process in reversed(process_tree(pid)):
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark; return every figure and check as a JSON-compatible dict."""
    workdir = Path(tempfile.mkdtemp(prefix="pgfnet-concurrency-"))
    checkpoint, description = prepare_checkpoint(args, workdir)
    data = prepare_dataset(args, workdir)
    from pgfnet.explain.engine import Explainer

    # The reference explainer loads the same checkpoint the server serves; it computes
    # only after the sessions, so it takes no CPU time from them.
    explainer = Explainer.from_checkpoint(checkpoint, dataset_path=data)
    plans, warmup_id = plan_sessions(explainer, args.sessions, args.what_if, args.split)
    log_path = workdir / "server.log"
    report: dict[str, Any] = {"checkpoint": description, "dataset": str(data),
                              "sessions": len(plans), "server_log": str(log_path)}

    server, url = start_server(checkpoint, data, workdir / "cache", log_path)
    drivers = []
    sampler = MemorySampler(server.pid)
    sampler.start()
    try:
        wait_healthy(url, server, timeout=args.page_timeout)
        report["server_defaults"] = server_defaults(url, server.pid)

        print(f"starting {len(plans) + 1} Chromium sessions", flush=True)
        drivers = [new_driver(workdir / f"profile-{i}", args.page_timeout)
                   for i in range(len(plans) + 1)]

        # One session first loads the backend and the model, so the timed sessions
        # measure concurrent explanations rather than the one-off model load.
        warmup = SessionPlan(-1, "explorer", warmup_id)
        started = time.monotonic()
        warm = run_session(drivers[-1], url, warmup, args.page_timeout)
        report["warmup_latency_s"] = warm.latency_s
        report["warmup_wall_s"] = time.monotonic() - started
        report["rss_before_sessions_gib"] = sampler.samples[-1][1] / 2**30

        results: dict[int, SessionResult] = {}
        barrier = threading.Barrier(len(plans))

        def work(plan: SessionPlan) -> None:
            barrier.wait()
            try:
                results[plan.index] = run_session(drivers[plan.index], url, plan,
                                                  args.page_timeout)
            except Exception as error:  # noqa: BLE001 - recorded and reported as FAIL
                results[plan.index] = SessionResult(
                    plan, error=f"{type(error).__name__}: {str(error)[:300]}; dialogs on the "
                                f"page: {dialog_texts(drivers[plan.index])}")
                drivers[plan.index].save_screenshot(str(workdir / f"session-{plan.index}.png"))

        print(f"running {len(plans)} sessions at once", flush=True)
        started = time.monotonic()
        threads = [threading.Thread(target=work, args=(plan,)) for plan in plans]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        report["concurrent_wall_s"] = time.monotonic() - started
    finally:
        sampler.stop()
        for driver in drivers:
            try:
                driver.quit()
            except Exception:  # noqa: BLE001 - a broken driver must not stop the cleanup
                pass
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            kill_tree(server.pid)

    for index in range(len(plans) + 1):
        shutil.rmtree(workdir / f"profile-{index}", ignore_errors=True)
    report["peak_rss_gib"] = sampler.peak_bytes / 2**30
    report["rss_samples"] = len(sampler.samples)
    report["log_errors"] = scan_log(log_path)

    print("computing the in-process reference", flush=True)
    expected = reference_charts(explainer, plans)
    sessions = []
    for plan in plans:
        result = results.get(plan.index) or SessionResult(plan, error="no result")
        reference = expected[plan.index]
        difference = (max_difference(result.charts, reference["charts"])
                      if result.error is None else float("inf"))
        metrics_match = all(result.metrics.get(k) == v for k, v in reference["metrics"].items())
        sessions.append({
            "index": plan.index, "page": plan.page, "utterance_id": plan.utterance_id,
            "force_layer": plan.force_layer, "latency_s": result.latency_s,
            "metrics": result.metrics, "expected_metrics": reference["metrics"],
            "metrics_match": metrics_match, "max_chart_difference": difference,
            "page_exceptions": result.page_exceptions, "error": result.error,
            "shown_charts": result.charts, "expected_charts": reference["charts"],
        })
    report["session_results"] = sessions
    latencies = [s["latency_s"] for s in sessions if s["latency_s"] is not None]
    report["latency_s"] = {"p50": percentile(latencies, 50), "p90": percentile(latencies, 90),
                           "p99": percentile(latencies, 99),
                           "max": max(latencies) if latencies else float("nan")}
    report["checks"] = {
        "every session matches the in-process reference": all(
            s["error"] is None and s["metrics_match"]
            and s["max_chart_difference"] <= args.tolerance for s in sessions),
        "no exception on any page": not any(s["page_exceptions"] for s in sessions),
        "no exception or error in the server log": not report["log_errors"],
        "server listens on 127.0.0.1 only": report["server_defaults"]["listen_addresses"] == [HOST],
        "XSRF protection on (cookie set, tokenless upload gets 403)": (
            report["server_defaults"]["xsrf_cookie"]
            and report["server_defaults"]["upload_without_token_status"] == 403),
        f"peak RSS under {args.max_rss_gib} GiB": report["peak_rss_gib"] < args.max_rss_gib,
    }
    report["passed"] = all(report["checks"].values())
    return report


def print_report(report: dict[str, Any]) -> None:
    print()
    print(f"model:    {report['checkpoint']}")
    print(f"dataset:  {report['dataset']}")
    print(f"machine:  {os.cpu_count()} CPU cores, "
          f"{_total_memory_gib():.0f} GiB RAM; server log {report['server_log']}")
    print(f"warm-up session (loads the model): {report['warmup_latency_s']:.1f} s")
    print(f"{report['sessions']} concurrent sessions, wall time {report['concurrent_wall_s']:.1f} s")
    print(f"{'#':>2} {'page':8} {'utterance':16} {'layer':>5} {'latency s':>9} "
          f"{'max |diff|':>10}  shown prediction(s)")
    for s in report["session_results"]:
        shown = ", ".join(f"{k} {v}" for k, v in s["metrics"].items() if "rediction" in k)
        layer = "" if s["force_layer"] is None else str(s["force_layer"])
        latency = "-" if s["latency_s"] is None else f"{s['latency_s']:.1f}"
        print(f"{s['index']:>2} {s['page']:8} {s['utterance_id']:16} {layer:>5} {latency:>9} "
              f"{s['max_chart_difference']:>10.2e}  {shown or s['error']}")
    latency = report["latency_s"]
    print(f"latency p50 {latency['p50']:.1f} s, p90 {latency['p90']:.1f} s, "
          f"p99 {latency['p99']:.1f} s, max {latency['max']:.1f} s")
    print(f"server RSS: {report['rss_before_sessions_gib']:.2f} GiB before the sessions, "
          f"peak {report['peak_rss_gib']:.2f} GiB ({report['rss_samples']} samples every "
          f"{SAMPLE_SECONDS} s)")
    print(f"listening on {report['server_defaults']['listen_addresses']}")
    for line in report["log_errors"][:20]:
        print(f"server log: {line}")
    for name, passed in report["checks"].items():
        print(f"{'PASS' if passed else 'FAIL'}  {name}")
    print("PASS" if report["passed"] else "FAIL")


def _total_memory_gib() -> float:
    import psutil

    return psutil.virtual_memory().total / 2**30


def start_watchdog(seconds: float) -> threading.Timer:
    """Kill every process this script started and exit with code 3 after ``seconds``."""

    def expire() -> None:
        import psutil

        print(f"error: the benchmark ran past --timeout {seconds:.0f} s; stopping", flush=True)

        for child in psutil.Process().children(recursive=True):
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        os._exit(3)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from pgfnet.paths import default_checkpoint

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--checkpoint", default=str(default_checkpoint()),
                       help="checkpoint folder to serve (default: %(default)s)")
    model.add_argument("--untrained", action="store_true",
                       help="serve an untrained PGF-Net with the real MiniLM backbone")
    model.add_argument("--tiny", action="store_true",
                       help="serve the tiny random PGF-Net (fast; for smoke runs)")
    parser.add_argument("--data", default=None,
                        help="built dataset file (default: the cache's mosi.pgfdata)")
    parser.add_argument("--sessions", type=int, default=8,
                        help="concurrent browser sessions (default: %(default)s)")
    parser.add_argument("--what-if", type=int, default=2,
                        help="how many of the sessions open What-if with a forced gate "
                             "(default: %(default)s)")
    parser.add_argument("--split", default="test", help="split the utterances come from")
    parser.add_argument("--page-timeout", type=float, default=600,
                        help="seconds one page may take to show its explanation")
    parser.add_argument("--timeout", type=float, default=1200,
                        help="hard limit in seconds for the whole run (default: %(default)s)")
    parser.add_argument("--max-rss-gib", type=float, default=3.0,
                        help="bound on the server's peak RSS in GiB (default: %(default)s)")
    parser.add_argument("--tolerance", type=float, default=1e-5,
                        help="largest accepted |shown - reference| in chart data")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    if not 1 <= args.sessions <= 16:
        parser.error(f"invalid --sessions {args.sessions}: use 1 to 16")
    if not 0 <= args.what_if <= args.sessions:
        parser.error(f"invalid --what-if {args.what_if}: use 0 to --sessions")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not Path(tool).is_file():
            print(f"error: {tool} not found: install Debian's chromium and chromium-driver",
                  file=sys.stderr)
            return 2
    watchdog = start_watchdog(args.timeout)
    try:
        report = run(args)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        watchdog.cancel()
    print_report(report)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1, default=float) + "\n")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
