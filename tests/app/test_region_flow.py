"""Real-browser flows of issue 23's dashboard part, clicked as a user clicks them (navigation by
the sidebar links): a large photo on Explore (its region drawn first at 1:1, then the whole image
as an overview; a box drawn on the overview inspects another region), and Compare's
side-by-side maps. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.app.test_browser import ARTIFACTS, CHROMIUM, PANEL_TIMEOUT_MS, browser, server  # noqa: F401
from tests.app.test_flows import go, open_app, settle

ROOT = Path(__file__).resolve().parents[2]
PHOTO = ROOT / "assets" / "samples" / "sr" / "astronaut.png"  # a real 384×384 photo: a 1536×1536 output
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (scripts/test.sh installs it)"),
]
# the charts' layouts, read from plotly's graph divs
LAYOUTS = "() => [...document.querySelectorAll('.js-plotly-plot')].map(p => ({meta: (p.layout || {}).meta || null, " \
          "titles: [...p.querySelectorAll('.annotation-text, .gtitle')].map(e => e.textContent)}))"
# a 1:1 figure with a variance panel that is not left over from the previous script run (Streamlit marks those stale)
REGION_DRAWN = """() => [...document.querySelectorAll('.js-plotly-plot')].some(p => p.layout && p.layout.meta
    && !p.closest('[data-stale="true"]') && p.layout.meta.display_factor === 1 && !p.layout.meta.overview
    && [...p.querySelectorAll('.annotation-text')].some(e => e.textContent.startsWith('variance')))"""
OVERVIEW_DRAWN = """() => [...document.querySelectorAll('.js-plotly-plot')].some(p => p.layout && p.layout.meta
    && p.layout.meta.overview && p.querySelector('.main-svg'))"""


def drag_box(page, chart, frac0: tuple[float, float], frac1: tuple[float, float]) -> None:
    """Draw a box (dragmode select) on the first subplot of ``chart``, corners as fractions of its plot area."""
    chart.scroll_into_view_if_needed()  # mouse events land only inside the viewport
    area = chart.locator(".draglayer .nsewdrag").first.bounding_box()
    x0, y0 = area["x"] + frac0[0] * area["width"], area["y"] + frac0[1] * area["height"]
    x1, y1 = area["x"] + frac1[0] * area["width"], area["y"] + frac1[1] * area["height"]
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()


@pytest.mark.timeout(1500)  # the whole 1536×1536 image is computed too, on a shared CPU
def test_large_photo_region_first_box_selection_and_full_resolution(server, browser, capsys):
    page = open_app(browser, server)
    page.get_by_text("Upload", exact=True).click()
    page.wait_for_selector("input[type=file]", state="attached", timeout=30_000)
    started = time.perf_counter()
    page.locator("input[type=file]").nth(0).set_input_files(str(PHOTO))  # the LR input: no ground truth
    # the default sample's 1:1 panels are on the page until the upload's run replaces them
    page.wait_for_selector("text=Inspecting region 448×448", timeout=PANEL_TIMEOUT_MS)
    page.wait_for_function(REGION_DRAWN, timeout=PANEL_TIMEOUT_MS, polling=50)
    first_map = time.perf_counter() - started
    page.screenshot(path="/tmp/h23ui_region_first.png", full_page=True)
    page.wait_for_function(OVERVIEW_DRAWN, timeout=10 * PANEL_TIMEOUT_MS, polling=200)
    whole = time.perf_counter() - started
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "explore_region_overview.png"), full_page=True)
    with capsys.disabled():
        print(f"\n384×384 photo: first variance map (the region) {first_map:.2f} s, whole image drawn {whole:.2f} s "
              f"(ratio {first_map / whole:.2f})")
    assert first_map < whole
    assert page.get_by_text("Metrics of the whole 1536×1536 image", exact=False).count() == 1
    assert page.get_by_text("Metrics of the region 448×448", exact=False).count() == 1
    region = [c for c in page.evaluate(LAYOUTS) if c["meta"] and not c["meta"].get("overview")]
    assert region[0]["meta"]["display_factor"] == 1  # 1:1: full-resolution pixels
    assert not any("block means" in t for t in region[0]["titles"])
    overview = page.locator(".js-plotly-plot").filter(has=page.locator(".annotation-text", has_text="overview"))
    drag_box(page, overview.first, (0.05, 0.05), (0.2, 0.15))  # the top-left corner of the image
    page.wait_for_function("() => new URL(location.href).searchParams.get('region')", timeout=PANEL_TIMEOUT_MS)
    page.wait_for_function(REGION_DRAWN, timeout=PANEL_TIMEOUT_MS, polling=100)
    settle(page)
    top, left, height, width = map(int, page.url.split("region=")[1].split("&")[0].replace("%2C", ",").split(","))
    assert top < 300 and left < 400 and 0 < height <= 512 and 0 < width <= 512
    page.wait_for_selector(f"text=Inspecting region {width}×{height} at x {left}, y {top}", timeout=PANEL_TIMEOUT_MS)
    assert page.get_by_text(f"Inspecting region {width}×{height} at x {left}, y {top}", exact=False).count() == 1
    page.screenshot(path="/tmp/h23ui_region_selected.png", full_page=True)
    assert page.locator("[data-testid='stException']").count() == 0
    page.close()


def test_compare_side_by_side_maps(server, browser):
    page = open_app(browser, server)
    go(page, "Compare")
    page.get_by_label("Max images").fill("1")
    page.keyboard.press("Enter")
    settle(page)
    page.get_by_role("button", name="Run comparison").click()
    page.wait_for_selector("text=Maps of one image", timeout=PANEL_TIMEOUT_MS)
    settle(page)
    page.get_by_role("button", name="Draw the maps").click()
    page.wait_for_selector(".js-plotly-plot .annotation-text:has-text('variance: Infer-noise')", timeout=PANEL_TIMEOUT_MS)
    settle(page)
    maps = page.locator(".js-plotly-plot").filter(has=page.locator(".annotation-text", has_text="variance: Infer-trans"))
    titles = maps.first.locator(".annotation-text").all_text_contents()
    assert titles[:2] == ["prediction", "error |pred − target|"] and "each map on its own colour scale" in " ".join(titles)
    maps.first.scroll_into_view_if_needed()
    page.screenshot(path="/tmp/h23ui_compare_maps.png", full_page=True)
    page.get_by_text("Shared colour scale for the variance maps").click()
    page.wait_for_selector(".js-plotly-plot .annotation-text:has-text('shared colour scale for the variance maps')",
                           timeout=PANEL_TIMEOUT_MS)
    settle(page)
    page.screenshot(path="/tmp/h23ui_compare_maps_shared.png", full_page=True)
    assert page.locator("[data-testid='stException']").count() == 0
    page.close()
