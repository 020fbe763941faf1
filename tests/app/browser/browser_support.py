"""Real-browser helpers (Playwright in Debian's chromium): constants, waiting, clicking as a user does."""

from __future__ import annotations

import json
import socket
import time
import weakref
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
PANEL_TIMEOUT_MS = 120_000  # generous for loaded CI machines
REQUEST_TIMEOUT_MS = 30_000  # an action's rerun request leaves the page well within this
# page checks every 50 ms rather than every animation frame (Playwright's default): a check per
# frame makes chromium draw 60 frames a second while a test waits, CPU the server and the other
# test worker need
POLL_MS = 50


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# CPU seconds of cpu_slowdown's loop on the development machine when the page bars were set (idle,
# Python 3.11). The same machine has since run it in 0.10-0.19 s on some days (its host's speed
# varies), and everything else there slowed alike: a bar in seconds holds for that machine's speed.
REFERENCE_LOOP_S = 0.05


def cpu_slowdown(samples: int = 3) -> float:
    """How much slower than the machine the bars were set on this one runs code right now: the wall
    time of a fixed loop over :data:`REFERENCE_LOOP_S` (1.0 at that speed and idle; 3.0 where the
    process gets a third of a core, or the core is three times slower). The median of ``samples``
    short loops."""
    walls = []
    for _ in range(samples):
        wall = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i
        walls.append(time.perf_counter() - wall)
    return max(1.0, sorted(walls)[len(walls) // 2] / REFERENCE_LOOP_S)


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
        timeout=PANEL_TIMEOUT_MS, polling=POLL_MS,
    )


class ScriptRuns:
    """What a page's Streamlit websocket says about script runs: each rerun the page asks for (a
    ``rerun_script`` BackMsg: a click, a committed value, a page link, the first connection) and
    each run's end (a ``script_finished`` ForwardMsg, not counting a run cut short for a newer
    one). Attached before the page connects (``new_page``)."""

    def __init__(self, page) -> None:
        self.reset()
        page.on("websocket", self._attach)

    def reset(self) -> None:
        """Nothing seen yet: at the start, and before the page loads the app again (a new
        websocket, a new session; frames still arriving on the old websocket are ignored)."""
        self.events = 0          # frames seen, in order: the "when" of the fields below
        self.requests = 0        # reruns asked for so far
        self.last_request = 0    # when the latest one was asked for
        self.last_start = 0      # when the latest run started (a new_session message)
        self.last_finish = 0     # when the latest run ended (not cut short for a newer one)
        self.settled_at = 0      # requests already waited for by settle()
        self.ws = None

    def _attach(self, ws) -> None:
        if "_stcore/stream" in ws.url:
            self.ws = ws
            ws.on("framesent", lambda payload: ws is self.ws and self._sent(payload))
            ws.on("framereceived", lambda payload: ws is self.ws and self._received(payload))

    def _sent(self, payload) -> None:
        self.events += 1
        if is_rerun_request(payload):
            self.requests += 1
            self.last_request = self.events

    def _received(self, payload) -> None:
        self.events += 1
        kind = forward_kind(payload)
        if kind == "new_session":
            self.last_start = self.events
        elif kind == "finished":
            self.last_finish = self.events

    def idle(self) -> bool:
        """Every run asked for so far has ended, and none has started since."""
        return self.last_finish > max(self.last_request, self.last_start)


def is_rerun_request(payload) -> bool:
    if not isinstance(payload, bytes):
        return False
    from streamlit.proto.BackMsg_pb2 import BackMsg

    return BackMsg.FromString(payload).WhichOneof("type") == "rerun_script"


def forward_kind(payload) -> str | None:
    """"new_session" (a run starts), "finished" (a run ended, not cut short for a newer one) or None."""
    if not isinstance(payload, bytes):
        return None
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    msg = ForwardMsg.FromString(payload)
    kind = msg.WhichOneof("type")
    if kind == "script_finished":
        return None if msg.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN else "finished"
    return "new_session" if kind == "new_session" else None


_RUNS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def new_page(browser, **options):
    """A page in a new browser context (a new Streamlit session) whose script runs are tracked."""
    page = browser.new_context(**options).new_page()
    # an action waits for its element as long as a run may take to draw it (on a busy CPU the
    # browser can draw a large figure for well over Playwright's default 30 s)
    page.set_default_timeout(PANEL_TIMEOUT_MS)
    _RUNS[page] = ScriptRuns(page)
    return page


def _runs(page) -> ScriptRuns:
    if page not in _RUNS:
        raise RuntimeError("settle() needs a page made by new_page() or open_app() (its websocket is tracked)")
    return _RUNS[page]


def settle(page, *, rerun: bool = True, timeout_ms: int = PANEL_TIMEOUT_MS) -> None:
    """Wait until the script run that the last action started is over: a rerun has been asked for
    since the previous ``settle`` (a slider sends its value after a short debounce: waited for,
    not slept through) and every run asked for has ended. ``rerun=False`` where the last action
    need not start a run (it only waits for a run under way to end)."""
    runs = _runs(page)
    deadline = time.monotonic() + timeout_ms / 1000

    def left_ms() -> float:
        left = (deadline - time.monotonic()) * 1000
        if left <= 0:
            raise AssertionError(f"no script run ended within {timeout_ms} ms (rerun asked for: {rerun})")
        return left

    if rerun and runs.requests <= runs.settled_at:
        runs.ws.wait_for_event("framesent", is_rerun_request, timeout=min(left_ms(), REQUEST_TIMEOUT_MS))
    while not runs.idle():
        runs.ws.wait_for_event("framereceived", lambda payload: forward_kind(payload) == "finished", timeout=left_ms())
    runs.settled_at = runs.requests
    # and the page has drawn it: not running, no "Running…" widget
    page.wait_for_function("""() => document.querySelector("[data-testid='stApp']")?.dataset.testScriptState === 'notRunning'
        && !document.querySelector("[data-testid='stStatusWidget']")""", timeout=left_ms(), polling=POLL_MS)


_TABS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def open_app(browser, url: str):
    """The app at ``url`` in a new Streamlit session, in the browser's one app tab (1400x1700).

    Loading a page opens a new websocket, and Streamlit gives each websocket a new session (the
    previous one ends as its websocket closes), so every call starts as a new visitor does. The tab
    is kept for the next call, so leave it open: a new tab's renderer would parse and compile the
    app's JavaScript again (docs/BENCHMARKS.md, "Test suite")."""
    page = _TABS.get(browser)
    if page is None or page.is_closed():
        page = _TABS[browser] = new_page(browser, viewport={"width": 1400, "height": 1700}, accept_downloads=True)
    _runs(page).reset()
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
                               timeout=timeout_ms, polling=POLL_MS)
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
                           timeout=PANEL_TIMEOUT_MS, polling=POLL_MS)
    settle(page)


def download(page, name: str) -> Path:
    """Click the download button ``name`` (opening Explore's Downloads popover first if it is
    closed); the downloaded file's path."""
    button = page.get_by_role("button", name=name)
    if not button.is_visible():
        page.locator("[data-testid='stPopover'] button").filter(has_text="Downloads").click()
    with page.expect_download(timeout=60_000) as done:
        button.click()
    return Path(done.value.path())


def metrics_json(page) -> dict:
    return json.loads(download(page, "Metrics (JSON)").read_text())


def shown_metric(page, label: str) -> str:
    """The value of the metric labelled ``label``: a cell of a metrics row (ui.metric_row) or an
    ``st.metric``."""
    cell = page.locator(".uq-metric, [data-testid='stMetric']").filter(has=page.get_by_text(label, exact=True)).first
    return cell.locator(".uq-metric-value, [data-testid='stMetricValue']").inner_text()


def drag_box(page, chart, frac0: tuple[float, float], frac1: tuple[float, float]) -> None:
    """Drag a box on the first subplot of ``chart`` (a selection in dragmode select, a zoom in dragmode zoom),
    corners as fractions of its plot area."""
    chart.scroll_into_view_if_needed()  # mouse events land only inside the viewport
    area = chart.locator(".draglayer .nsewdrag").first.bounding_box()
    x0, y0 = area["x"] + frac0[0] * area["width"], area["y"] + frac0[1] * area["height"]
    x1, y1 = area["x"] + frac1[0] * area["width"], area["y"] + frac1[1] * area["height"]
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()


# every real-browser test module: marked, and skipped where chromium is missing
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (scripts/test.sh installs it)"),
]
