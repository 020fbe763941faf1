"""Real-browser helpers (Playwright in Debian's chromium): constants, waiting, clicking as a user does."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
PANEL_TIMEOUT_MS = 120_000  # generous for loaded CI machines; the quality bar is printed, not hidden


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_panels(page) -> None:
    """The panels figure (the image panels and the sparsification curve, one chart) is drawn."""
    page.wait_for_function(
        """() => {
            const plots = document.querySelectorAll('.js-plotly-plot');
            if (plots.length < 1) return false;
            const titles = Array.from(document.querySelectorAll('.js-plotly-plot .annotation-text, .js-plotly-plot .gtitle'))
                .map(e => e.textContent);
            return ['prediction', 'variance', 'error', 'sparsification'].every(t => titles.some(x => x.startsWith(t)));
        }""",
        timeout=PANEL_TIMEOUT_MS,
    )


def settle(page) -> None:
    """Wait until the script run that the last click started is over."""
    page.wait_for_timeout(400)
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=PANEL_TIMEOUT_MS)


def open_app(browser, url: str):
    page = browser.new_context(viewport={"width": 1400, "height": 1700}, accept_downloads=True).new_page()
    page.goto(url)
    page.wait_for_selector("h1", timeout=PANEL_TIMEOUT_MS)
    settle(page)
    return page


def combo(page, label: str) -> str:
    """The value a selectbox shows."""
    return page.get_by_role("combobox", name=label).input_value()


def shows(page, label: str, value: str, timeout_ms: int = 30_000) -> bool:
    """True once the selectbox shows ``value`` (waits for a rerun still under way on a busy
    machine); False if it still shows something else after ``timeout_ms``."""
    box = page.get_by_role("combobox", name=label)
    try:
        page.wait_for_function("([el, v]) => el.value === v", arg=[box.element_handle(), value],
                               timeout=timeout_ms, polling=100)
    except PlaywrightTimeout:
        return False
    return True


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` (the start of its text) in a selectbox, typing to filter as a user does."""
    box = page.get_by_role("combobox", name=label)
    box.click()
    page.keyboard.type(option)
    page.get_by_role("option").filter(has_text=option).first.click()
    settle(page)


def go(page, link: str) -> None:
    page.get_by_role("link", name=link).click()
    page.wait_for_function(f"() => [...document.querySelectorAll('h1')].some(h => h.textContent.includes('{link}'))",
                           timeout=PANEL_TIMEOUT_MS)
    settle(page)


def metrics_json(page) -> dict:
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Metrics (JSON)").click()
    return json.loads(Path(download.value.path()).read_text())


def shown_metric(page, label: str) -> str:
    """The value of the metric labelled ``label``: a cell of a metrics row (ui.metric_row) or an
    ``st.metric``."""
    cell = page.locator(".uq-metric, [data-testid='stMetric']").filter(has=page.get_by_text(label, exact=True)).first
    return cell.locator(".uq-metric-value, [data-testid='stMetricValue']").inner_text()


# every real-browser test module: marked, and skipped where chromium is missing
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (scripts/test.sh installs it)"),
]
