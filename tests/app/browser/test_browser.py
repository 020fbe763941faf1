"""Real-browser test: ``streamlit run app.py`` driven by Playwright in Debian's headless chromium."""

from __future__ import annotations

import time

from tests.app.browser.browser_support import (ARTIFACTS, BROWSER_MARKS, PANEL_TIMEOUT_MS, ROOT, choose, cpu_slowdown,
                                               download, drag_box, new_page, settle, shown_metric, wait_for_panels)


pytestmark = BROWSER_MARKS
QUALITY_BAR_S = 5.0  # a later visitor sees the default view's four panels within this, on an idle machine
VISITS = 3  # later visits at most; the best one counts


# the x and y ranges shown by each image panel of the panels figure (plotly's full layout: axes hidden or not)
PANEL_RANGES = """() => { const p = document.querySelector('.js-plotly-plot'); const L = p._fullLayout;
    return Object.keys(L).filter(k => /^xaxis\\d*$/.test(k) && L[k].matches === 'x' || k === 'xaxis')
        .map(k => [L[k].range, L['y' + k.slice(1)].range]); }"""


def _later_visit(browser, server):
    """A new session opens the page: (its page, seconds until the four panels are drawn, the CPU
    slowdown measured around it, when the figure / title / plotly.js chunk arrived)."""
    before = cpu_slowdown()
    page = new_page(browser, viewport={"width": 1280, "height": 1700}, accept_downloads=True)
    marks: dict[str, float] = {}
    started = time.perf_counter()

    def mark_once(name: str) -> None:
        marks.setdefault(name, time.perf_counter() - started)

    # where the time goes: the figure's websocket message, and Streamlit's lazily loaded plotly.js chunk
    page.on("websocket", lambda ws: ws.on(
        "framereceived", lambda frame: mark_once("figure received") if len(frame or b"") > 500_000 else None))
    page.on("requestfinished", lambda req: mark_once("plotly.js chunk loaded") if "/PlotlyChart" in req.url else None)
    page.goto(server)
    page.wait_for_selector("h1", timeout=PANEL_TIMEOUT_MS)
    mark_once("page title shown")
    wait_for_panels(page)
    seconds = time.perf_counter() - started
    return page, seconds, max(before, cpu_slowdown()), marks


def test_explore_default_view_and_upload(server, browser, capsys):
    ARTIFACTS.mkdir(exist_ok=True)
    # First visit: on a new server, it imports torch, loads the model and computes the default view.
    started = time.perf_counter()
    warm = new_page(browser, viewport={"width": 1280, "height": 1700})
    warm.goto(server)
    wait_for_panels(warm)
    first_visit = time.perf_counter() - started
    warm.context.close()
    # The quality bar: a user opening the page (a new session) sees the four panels of the default
    # view (bundled SR model, first sample, transform, 8 samples). Bundled results are shared
    # between sessions (ui/result_cache.py), so this is the page, transfer and rendering time. On a
    # shared or slower CPU the bar stretches by the slowdown measured around the visit; as in the
    # benchmarks, the best of up to VISITS visits counts (a burst of load from the suite's other
    # worker can hit one visit and not the loop that measures the slowdown).
    visits: list[tuple[float, float, dict[str, float]]] = []
    for _ in range(VISITS):
        if visits:
            page.context.close()
        page, seconds, slowdown, marks = _later_visit(browser, server)
        visits.append((seconds, slowdown, marks))
        if seconds <= QUALITY_BAR_S * slowdown:
            break
    seconds, slowdown, marks = min(visits, key=lambda v: v[0] / v[1])
    bar = QUALITY_BAR_S * slowdown
    with capsys.disabled():  # printed in every run (CI included), not only with -s
        print(f"\nfirst visit (model loading and sampling included if the server is new): {first_visit:.2f} s")
        print(f"default Explore view, a later visitor: four panels {seconds:.2f} s after opening the page "
              f"(quality bar: {QUALITY_BAR_S:g} s on the idle development machine; {bar:.1f} s at this CPU's slowdown "
              f"{slowdown:.2f}x; best of {len(visits)} visit(s): "
              + ", ".join(f"{s_:.2f} s at {f_:.2f}x" for s_, f_, _ in visits) + ")")
        print("  timeline: " + ", ".join(f"{name} {t:.2f} s" for name, t in sorted(marks.items(), key=lambda kv: kv[1])))
    page.screenshot(path=str(ARTIFACTS / "explore_default.png"), full_page=True)
    assert seconds <= bar, f"a later visitor waited {seconds:.2f} s for the panels (bar: {bar:.1f} s)"
    # the sparsification legend carries AUSE / AURG
    legend = page.locator(".js-plotly-plot .legendtext").all_text_contents()
    assert any("AUSE" in t for t in legend) and any("AURG" in t for t in legend)
    time_shown = shown_metric(page, "time")
    # a zoom box on the input panel zooms every image panel to the same region (their axes are hidden)
    (x_all, y_all), *_ = before = page.evaluate(PANEL_RANGES)
    assert len(before) == 5 and all(r == before[0] for r in before)  # input, prediction, truth, variance, error
    drag_box(page, page.locator(".js-plotly-plot").first, (0.2, 0.2), (0.6, 0.5))
    page.wait_for_function(f"() => {{ const [[x], _] = ({PANEL_RANGES})(); return x[1] - x[0] < {x_all[1] - x_all[0]} * 0.9; }}",
                           timeout=30_000, polling=50)  # the zoom is drawn
    after = page.evaluate(PANEL_RANGES)
    (x0, x1), (y0, y1) = after[0]
    assert len(after) == 5 and all(r == after[0] for r in after), after
    assert x_all[0] < x0 < x1 < x_all[1] and y_all[1] < y1 < y0 < y_all[0]  # inside the image, y downwards
    # the display options, in their popover: another colour map redraws the maps without a new estimate
    page.get_by_role("button", name="Display options").click()
    choose(page, "Colour map", "magma")
    page.wait_for_function("() => document.querySelector('.js-plotly-plot').data.filter(t => t.type === 'heatmap')"
                           ".every(t => t.colorscale[0][1] === 'rgb(0, 0, 4)')", timeout=30_000, polling=50)  # magma's
    assert shown_metric(page, "time") == time_shown  # the stored estimate's

    # the metrics JSON and the self-contained HTML report download (once the script run is over)
    import json

    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=PANEL_TIMEOUT_MS)

    metrics = json.loads(download(page, "Metrics (JSON)").read_text())
    assert "ause_pixel" in json.dumps(metrics)
    assert "plotly" in download(page, "HTML report").read_text()[:2_000_000].lower()

    # upload an HR image: the app makes the LR input and uses the HR as ground truth
    page.get_by_text("Upload", exact=True).click()
    page.wait_for_selector("input[type=file]", state="attached", timeout=30_000)
    sample = sorted((ROOT / "assets" / "samples" / "sr").glob("*.png"))[1]
    page.locator("input[type=file]").nth(1).set_input_files(str(sample))
    page.wait_for_selector("text=bicubic downscaling of the HR image", timeout=PANEL_TIMEOUT_MS)
    settle(page)  # the upload's run is over: the panels below are its own, not the default view's being replaced
    wait_for_panels(page)
    page.screenshot(path=str(ARTIFACTS / "explore_upload.png"), full_page=True)
    subplot_count = page.locator(".js-plotly-plot").first.locator(".cartesianlayer .subplot").count()
    assert subplot_count == 6  # input, prediction, ground truth, variance, error, sparsification
    assert page.locator("[data-testid='stException']").count() == 0
    page.close()
