"""Time the dashboard's heavy paths: first launch, later launches, utterance switches.

    python benchmarks/bench_dashboard.py                   # shipped checkpoint
    python benchmarks/bench_dashboard.py --tiny --n 5      # tiny random model, quick
    python benchmarks/bench_dashboard.py --browser         # also real server + Chromium

Every run starts from an empty cache folder (``--cache`` keeps one), so the first-launch
figures are cold. Figures:

- overview cold: computing predictions, gates and Shapley values for the test split,
  model loading included (what the first launch does behind its progress bar).
- overview warm: reading that table back in a new backend (later launches).
- explorer switch, cached: an AppTest run of the Explorer after choosing another
  utterance whose record is in the cache (script run and chart building, no browser).
- explorer switch, live: the same for an utterance that is not cached yet.
- browser first / later launch: process start to the Overview's charts drawn in
  headless Chromium, with an empty and then a filled cache.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {"n": len(ordered), "median_s": statistics.median(ordered),
            "p90_s": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
            "max_s": ordered[-1]}


def tiny_checkpoint(folder: Path) -> Path:
    from pgfnet.model.tiny import build_tiny_pgfnet

    build_tiny_pgfnet(seed=0).save_pretrained(folder)
    return folder


def time_backend(checkpoint: Path, dataset: Path, n: int) -> tuple[dict, list[str], list[str]]:
    from dashboard import resources

    results = {}
    began = time.perf_counter()
    backend = resources.create_backend(checkpoint, dataset)
    results["backend_open_s"] = time.perf_counter() - began

    began = time.perf_counter()
    frame = backend.overview("test")
    results["overview_cold_s"] = time.perf_counter() - began
    results["overview_rows"] = len(frame)

    began = time.perf_counter()
    fresh = resources.create_backend(checkpoint, dataset)
    fresh.cached_overview("test")
    results["overview_warm_s"] = time.perf_counter() - began

    ids = frame["id"].tolist()
    cached_ids, live_ids = ids[:n], ids[n:2 * n]
    live = []
    for utterance_id in cached_ids:
        began = time.perf_counter()
        backend.explanation(utterance_id)
        live.append(time.perf_counter() - began)
    results["explain_live"] = summary(live)
    return results, cached_ids, live_ids


def time_explorer(checkpoint: Path, dataset: Path, cached_ids: list[str],
                  live_ids: list[str]) -> dict:
    from streamlit.testing.v1 import AppTest

    from dashboard import resources

    backend = resources.create_backend(checkpoint, dataset)
    resources.backend = lambda: backend
    at = AppTest.from_file(str(REPO_ROOT / "dashboard" / "app.py"), default_timeout=600).run()
    at.switch_page("views/explorer.py").run()

    results = {}
    for name, ids in (("explorer_switch_cached", cached_ids), ("explorer_switch_live", live_ids)):
        seconds = []
        for utterance_id in ids:
            began = time.perf_counter()
            at.selectbox(key="explorer_select").set_value(utterance_id).run()
            seconds.append(time.perf_counter() - began)
            if at.exception:
                raise RuntimeError(f"the Explorer raised on {utterance_id}: {at.exception}")
        results[name] = summary(seconds)
    return results


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def time_browser_launch(checkpoint: Path, dataset: Path, cache: Path) -> float:
    """Return seconds from starting run_dashboard.py to the Overview's charts in Chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    port = free_port()
    env = dict(os.environ, PGFNET_CACHE=str(cache))
    began = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "run_dashboard.py"), "--port", str(port),
         "--checkpoint", str(checkpoint), "--data", str(dataset), "--no-build"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="bench-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError("the dashboard exited before it became healthy")
                time.sleep(0.2)
        driver.get(url)
        WebDriverWait(driver, 600).until(lambda d: d.execute_script(
            "return document.querySelectorAll('.js-plotly-plot .main-svg').length") >= 4)
        return time.perf_counter() - began
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    from pgfnet.paths import default_checkpoint, default_dataset_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=default_checkpoint(),
                        help="checkpoint folder (default: %(default)s)")
    parser.add_argument("--data", type=Path, default=None,
                        help=f"built dataset file (default: {default_dataset_path()})")
    parser.add_argument("--tiny", action="store_true",
                        help="use a tiny random PGF-Net instead of --checkpoint")
    parser.add_argument("--n", type=int, default=10,
                        help="utterances per switch measurement (default: %(default)s)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="cache folder to use (default: a new empty temporary folder)")
    parser.add_argument("--browser", action="store_true",
                        help="also time two real launches in headless Chromium")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    # The dataset default lives in the user's cache, so resolve it before PGFNET_CACHE
    # points at the benchmark's empty folder.
    dataset = (args.data or default_dataset_path()).resolve()
    workdir = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    cache = args.cache or workdir / "cache"
    os.environ["PGFNET_CACHE"] = str(cache)
    checkpoint = tiny_checkpoint(workdir / "tiny") if args.tiny else args.checkpoint
    # The app checks its inputs at these paths before it opens the backend.
    os.environ["PGFNET_DATASET"] = str(dataset)
    os.environ["PGFNET_CHECKPOINT"] = str(Path(checkpoint).resolve())

    import torch

    figures = {"checkpoint": str(checkpoint), "dataset": str(dataset),
               "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count()}
    backend_figures, cached_ids, live_ids = time_backend(checkpoint, dataset, args.n)
    figures.update(backend_figures)
    figures.update(time_explorer(checkpoint, dataset, cached_ids, live_ids))
    if args.browser:
        browser_cache = workdir / "browser-cache"
        figures["browser_first_launch_s"] = time_browser_launch(checkpoint, dataset, browser_cache)
        figures["browser_later_launch_s"] = time_browser_launch(checkpoint, dataset, browser_cache)

    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
