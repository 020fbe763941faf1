"""Real-browser flow of the Dataset page, clicked as a user clicks: upload 16 images, rank them with
the bundled student, the gallery is sorted by uncertainty, the top image opens on Explore with
the same model and setting, and nothing raises."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.app.apptest_support import png_bytes
from tests.app.browser.browser_support import (ARTIFACTS, BROWSER_MARKS, PANEL_TIMEOUT_MS, choose, combo, go, open_app, settle,
                                       shown_metric)

pytestmark = BROWSER_MARKS

LABEL = re.compile(r"^#(\d+) (\S+) · (\S+)$")
GALLERY_NAME = re.compile(r"^#\d+ \S+ · \S+")  # a gallery button's accessible name


def gallery(page) -> list[tuple[int, str, float]]:
    """(rank, name, mean uncertainty) of the gallery's buttons, in reading order."""
    found = []
    for text in page.get_by_role("button").all_inner_texts():
        match = LABEL.match(text.strip())
        if match:
            found.append((int(match[1]), match[2], float(match[3])))
    return found


def wait_for_gallery(page, count: int) -> None:
    """Until the gallery shows ``count`` images and the script run is over."""
    try:
        expect(page.get_by_role("button", name=GALLERY_NAME)).to_have_count(count, timeout=PANEL_TIMEOUT_MS)
    except AssertionError:
        raise AssertionError(f"the gallery shows {len(gallery(page))} images, not {count}") from None
    settle(page)


def dataset_with(browser, server, files, method: str):
    """The Dataset page with ``files`` uploaded and ``method`` chosen."""
    page = open_app(browser, server)
    go(page, "Dataset")
    uploader = page.locator("[data-testid='stFileUploader']").filter(has_text="Images to rank")
    uploader.locator("input[type=file]").set_input_files([str(p) for p in files])
    page.get_by_text(f"{len(files)} image(s), ranked with").wait_for(timeout=PANEL_TIMEOUT_MS)
    settle(page)
    choose(page, "Method", method)
    return page


def test_dataset_upload_rank_and_open_on_explore(server, browser, tmp_path):
    files = []
    for i in range(16):  # noise of several sizes: textures the model finds more or less hard
        files.append(tmp_path / f"photo{i:02d}.png")
        files[-1].write_bytes(png_bytes(24 + 2 * (i % 4), 28, seed=i))
    page = dataset_with(browser, server, files, "student")
    page.get_by_role("button", name="Rank images").click()
    wait_for_gallery(page, 16)
    shown = gallery(page)
    assert len(shown) == 16 and {name for _, name, _ in shown} == {p.stem for p in files}
    ranks = sorted(shown)
    assert [r for r, _, _ in ranks] == list(range(1, 17))
    means = [m for _, _, m in ranks]
    assert means == sorted(means, reverse=True) and means[0] > means[-1]
    assert page.locator("[data-testid='stException']").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dataset_gallery.png"), full_page=True)

    top = ranks[0][1]
    page.get_by_role("button", name=re.compile(rf"^#1 {top} ")).click()
    page.wait_for_function("() => [...document.querySelectorAll('h1')].some(h => h.textContent.includes('Explore'))",
                           timeout=PANEL_TIMEOUT_MS)
    settle(page)
    page.get_by_text(f"Using {top} (uploaded earlier)").wait_for(timeout=PANEL_TIMEOUT_MS)
    assert combo(page, "Method") == "student"
    assert combo(page, "Model") == "srresnet"
    page.locator(".js-plotly-plot").first.wait_for(timeout=PANEL_TIMEOUT_MS)
    settle(page, rerun=False)
    assert "method=student" in page.url and "source=upload" in page.url
    page.locator(".uq-metric").filter(has_text="mean variance").wait_for(timeout=PANEL_TIMEOUT_MS)
    assert float(shown_metric(page, "mean variance")) == pytest.approx(ranks[0][2], rel=0.01)  # the same map
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "dataset_explore.png"), full_page=True)


def test_dataset_stop_keeps_the_rows_and_run_to_the_end_continues(server, browser, tmp_path):
    files = []
    for i in range(16):
        files.append(tmp_path / f"big{i:02d}.png")
        files[-1].write_bytes(png_bytes(64, 64, seed=100 + i))
    page = dataset_with(browser, server, files, "transform")  # 8 passes per image: a run long enough to stop
    page.get_by_role("button", name="Rank images").click()
    page.get_by_text(re.compile(r"Images ranked: [2-9]/16")).wait_for(timeout=PANEL_TIMEOUT_MS)
    page.locator("[data-testid='stButton']").get_by_role("button", name="Stop").click()  # not the header's
    page.get_by_text(re.compile(r"Stopped: images finished \(\d+\)")).wait_for(timeout=PANEL_TIMEOUT_MS)
    settle(page)
    kept = gallery(page)
    assert 2 <= len(kept) < 16
    means = [m for _, _, m in sorted(kept)]
    assert means == sorted(means, reverse=True)
    page.get_by_role("button", name="Run to the end").click()
    wait_for_gallery(page, 16)
    final = {name: mean for _, name, mean in gallery(page)}
    assert len(final) == 16 and all(final[name] == mean for _, name, mean in kept)  # the stopped rows, kept
    assert page.locator("[data-testid='stException']").count() == 0
