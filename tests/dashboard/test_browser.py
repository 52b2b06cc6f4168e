"""End to end: the real server behind run_dashboard.py, driven by headless Chromium.

Starts ``run_dashboard.py`` on a free loopback port with a tiny PGF-Net checkpoint and
the real MOSI subset, picks an utterance, opens every page, checks its key elements and
the browser console, and saves a screenshot per page. Screenshots go to
``$PGFNET_SCREENSHOT_DIR`` when it is set, else to the test's temporary folder.
``$PGFNET_E2E_CHECKPOINT`` replaces the tiny checkpoint; the README's screenshot is
taken with both set::

    PGFNET_E2E_CHECKPOINT=assets/checkpoint PGFNET_SCREENSHOT_DIR=docs/screenshots \
        .venv/bin/pytest tests/dashboard/test_browser.py
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from fakes import REPO_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.real_data, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PAGE_TIMEOUT = 180
# The first Overview computes the test split's table; with the shipped checkpoint on two
# busy cores that took over three minutes.
FIRST_PAGE_TIMEOUT = 600
# Console lines that come from the browser itself, not from the app.
IGNORED_CONSOLE = ("favicon.ico",)
# A train utterance whose full source video is in the MOSI subset.
VIDEO_UTTERANCE = "Bfr499ggo-0_1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the dashboard exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the dashboard at {url} did not become healthy in {timeout} s")


@pytest.fixture
def server(tmp_path, real_dataset, tiny_checkpoint):
    """Run ``run_dashboard.py`` on a free loopback port; yield its base URL."""
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not Path(tool).is_file():
            pytest.fail(f"{tool} not found: install Debian's chromium and chromium-driver")
    checkpoint = Path(os.environ.get("PGFNET_E2E_CHECKPOINT") or tiny_checkpoint)
    port = free_port()
    env = dict(os.environ, PGFNET_CACHE=str(tmp_path / "cache"))
    log = open(tmp_path / "server.log", "wb")
    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "run_dashboard.py"), "--port", str(port),
         "--checkpoint", str(checkpoint), "--data", str(real_dataset), "--no-build"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1500,1100",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    folder = Path(os.environ.get("PGFNET_SCREENSHOT_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def wait_until(driver, condition, timeout: float = PAGE_TIMEOUT):
    """Wait for ``condition(driver)``; elements replaced by a rerun are retried."""
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
    )
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, timeout, ignored_exceptions=(
        NoSuchElementException, StaleElementReferenceException))
    return wait.until(condition)


def query_texts(driver, selector: str) -> list[str]:
    """Return the visible text of every element matching ``selector``, read atomically."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.innerText)",
        selector)


def count(driver, selector: str) -> int:
    return driver.execute_script("return document.querySelectorAll(arguments[0]).length", selector)


def wait_idle(driver, timeout: float = PAGE_TIMEOUT) -> None:
    """Wait until Streamlit has finished the current script run."""
    time.sleep(0.5)
    wait_until(driver, lambda d: count(d, '[data-testid="stStatusWidget"]') == 0, timeout)


def wait_for_text(driver, text: str, timeout: float = PAGE_TIMEOUT) -> None:
    wait_until(driver, lambda d: text in d.execute_script("return document.body.innerText"),
               timeout)


def wait_for_charts(driver, minimum: int, timeout: float = PAGE_TIMEOUT) -> int:
    wait_until(driver, lambda d: count(d, ".js-plotly-plot .main-svg") >= minimum, timeout)
    wait_idle(driver)
    return count(driver, ".js-plotly-plot")


def open_page(driver, title: str) -> None:
    """Click the sidebar navigation link of page ``title`` and wait for its title."""
    from selenium.webdriver.common.by import By

    def link(d):
        for element in d.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNavLink"]'):
            if element.text.strip().splitlines()[-1] == title:
                return element
        return False

    wait_until(driver, link).click()
    wait_until(driver, lambda d: title in query_texts(d, "h1"))


def console_errors(driver) -> list[str]:
    entries = driver.get_log("browser")
    return [e["message"] for e in entries
            if e["level"] == "SEVERE" and not any(s in e["message"] for s in IGNORED_CONSOLE)]


def test_dashboard_in_browser(server, browser, screenshot_dir):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    browser.get(server)
    wait_for_text(browser, "Test metrics")
    assert wait_for_charts(browser, 4, timeout=FIRST_PAGE_TIMEOUT) >= 4
    assert "Wen & Tan 2025" in browser.find_element(By.TAG_NAME, "body").text
    browser.save_screenshot(str(screenshot_dir / "overview.png"))

    # A click on a scatter point opens that utterance in the Explorer.
    point = wait_until(browser, lambda d: d.find_element(
        By.CSS_SELECTOR, ".js-plotly-plot .scatterlayer .trace:first-child .points path"))
    ActionChains(browser).move_to_element(point).click().perform()
    wait_until(browser, lambda d: "Explorer" in query_texts(d, "h1"))
    wait_for_charts(browser, 6)
    clicked = query_texts(browser, "h3")
    assert any(re.fullmatch(r"[A-Za-z0-9_-]+_\d+", h) for h in clicked), clicked

    open_page(browser, "Explorer")
    wait_for_charts(browser, 6)
    picker = wait_until(browser, lambda d: d.find_element(
        By.CSS_SELECTOR, '[data-testid="stSidebar"] [data-testid="stSelectbox"] input'))
    picker.click()
    picker.send_keys(f"{VIDEO_UTTERANCE}:")  # the option label is "<id>: <transcript>"
    picker.send_keys(Keys.ENTER)
    wait_until(browser, lambda d: VIDEO_UTTERANCE in query_texts(d, "h3"))
    wait_for_charts(browser, 8)
    wait_until(browser, lambda d: count(d, '[data-testid="stVideo"]') == 1)
    headings = query_texts(browser, "h3")
    assert {"Cross-attention", "Gates", "Modality Shapley values", "Video"} <= set(headings)
    browser.save_screenshot(str(screenshot_dir / "explorer.png"))

    expectations = {
        "Compare": "Most similar gate behaviour",
        "What-if": "Run what-if",
        "Demo tour": "Stop 1 of",
        "Model card": "Known limitations",
    }
    for title, marker in expectations.items():
        open_page(browser, title)
        wait_for_text(browser, marker)
        wait_idle(browser)
        browser.save_screenshot(str(screenshot_dir / f"{title.lower().replace(' ', '_')}.png"))

    assert query_texts(browser, '[data-testid="stException"]') == []
    errors = console_errors(browser)
    assert errors == [], "\n".join(errors)
    assert sorted(p.name for p in screenshot_dir.glob("*.png")) == [
        "compare.png", "demo_tour.png", "explorer.png", "model_card.png", "overview.png",
        "what-if.png"]
