"""Real-browser flow of calibrated error bars (interval maps and their coverage), clicked as a user clicks: Compare's
"Calibrated error bars" tab fits a calibration for the current setting and keeps it, and the
link to Explore shows the interval-width and "outside the interval" maps and the coverage."""

from __future__ import annotations

from tests.app.browser.browser_support import ARTIFACTS, BROWSER_MARKS, PANEL_TIMEOUT_MS, wait_for_panels
from tests.app.browser.browser_support import go, metrics_json, open_app, settle, shown_metric

pytestmark = BROWSER_MARKS


def fill(page, label: str, value: int) -> None:
    box = page.get_by_role("spinbutton", name=label)
    box.fill(str(value))
    box.press("Enter")
    settle(page)


def test_fit_on_compare_then_interval_maps_on_explore(server, browser):
    page = open_app(browser, server)
    wait_for_panels(page)
    page.get_by_role("slider", name="Samples").focus()
    for key in ("Home", "ArrowRight"):  # 2 samples: a quick fit
        page.keyboard.press(key)
        settle(page)
    go(page, "Compare")
    page.get_by_role("tab", name="Calibrated error bars").click()
    settle(page)
    page.wait_for_selector("text=No calibration in use", timeout=PANEL_TIMEOUT_MS)
    fill(page, "Images to use", 3)
    fill(page, "Fit on the first", 2)
    assert page.get_by_text("2 samples, seed 0").count() == 1  # fitted for the setting Explore shows
    page.get_by_role("button", name="Fit calibration").click()
    page.wait_for_selector(".js-plotly-plot .gtitle:has-text('reliability diagram')", timeout=PANEL_TIMEOUT_MS)
    settle(page)
    legend = page.locator(".js-plotly-plot .legendtext").all_text_contents()
    assert any(t.startswith("raw variance (ENCE") for t in legend) and any(t.startswith("calibrated (ENCE")
                                                                             for t in legend)
    coverage = float(shown_metric(page, "Coverage (90% nominal)").rstrip("%"))
    assert 0 < coverage <= 100
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "compare_calibration.png"), full_page=True)
    page.get_by_role("button", name="Use on Explore").click()
    settle(page)
    page.get_by_role("link", name="See the interval maps on Explore").click()
    page.wait_for_selector("h1:has-text('Explore')", timeout=PANEL_TIMEOUT_MS)
    wait_for_panels(page)
    page.wait_for_selector(".js-plotly-plot .annotation-text:has-text('outside the interval')",
                           timeout=PANEL_TIMEOUT_MS)
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "explore_intervals.png"), full_page=True)
    titles = page.locator(".js-plotly-plot .annotation-text").all_text_contents()
    assert "interval width (90% interval)" in titles
    assert 0 < float(shown_metric(page, "Coverage (90%)").rstrip("%")) <= 100
    assert float(shown_metric(page, "Interval width")) > 0
    saved = metrics_json(page)  # the download carries the calibrated numbers and says which calibration
    assert saved["settings"]["calibration"].startswith("conformal calibration at level 0.9")
    assert f"{saved['metrics']['coverage']:.1%}" == shown_metric(page, "Coverage (90%)")
    assert page.locator("[data-testid='stException']").count() == 0
