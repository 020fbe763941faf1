"""Real-browser flow of the one-pass student head (uncertainty in one forward pass), clicked as a
user clicks (navigation links only): Models → train a head on two uploaded images (a first run
stopped, which keeps its head so far; a second to the end) → Explore offers ``student`` and shows
its one-pass result."""

from __future__ import annotations

import pytest

from tests.app.browser.browser_support import BROWSER_MARKS, PANEL_TIMEOUT_MS
from tests.app.browser.browser_support import choose, go, open_app, settle, shown_metric
from tests.app.apptest_support import png_bytes

pytestmark = BROWSER_MARKS


def set_number(page, label: str, value: int) -> None:
    """Type a number and commit it (Enter); the run it starts is waited for. Typed again if the
    box does not show it afterwards (a value the box already shows starts no run)."""
    box = page.get_by_role("spinbutton", name=label)
    for _ in range(3):
        changed = box.input_value() != str(value)
        box.fill(str(value))
        box.press("Enter")
        settle(page, rerun=changed)
        if box.input_value() == str(value):
            return
    raise AssertionError(f"{label} did not keep {value}")


def alerts(page) -> list[str]:
    return page.locator("[data-testid='stAlert']").all_inner_texts()


def test_models_train_stop_train_then_explore_student(server, browser, tmp_path):
    images = []
    for i, (h, w) in enumerate(((64, 64), (56, 72))):
        images.append(tmp_path / f"train{i}.png")
        images[-1].write_bytes(png_bytes(h, w, seed=i))
    page = open_app(browser, server)
    go(page, "Models")
    assert page.get_by_text("One-pass student head for srresnet").is_visible()
    uploader = page.locator("[data-testid='stFileUploader']").filter(has_text="Training images")
    uploader.locator("input[type=file]").set_input_files([str(p) for p in images])
    settle(page)
    set_number(page, "Samples", 2)
    set_number(page, "Crop (input pixels)", 16)
    set_number(page, "Steps", 5000)
    page.locator("[data-testid='stCode']").filter(has_text="--samples 2 --steps 5000 --crop 16").wait_for(
        timeout=PANEL_TIMEOUT_MS)

    page.get_by_role("button", name="Train head").click()  # a long run, stopped after a step or two
    page.get_by_text("s a step, about").wait_for(timeout=PANEL_TIMEOUT_MS)
    page.get_by_test_id("stTabs").get_by_role("button", name="Stop").click()
    page.get_by_text("Stopped after").wait_for(timeout=PANEL_TIMEOUT_MS)
    settle(page)
    assert any("of 5000 steps: the head so far is attached" in a for a in alerts(page))
    assert page.get_by_text("Student head attached").is_visible()

    set_number(page, "Steps", 2)
    page.get_by_role("button", name="Train head").click()
    page.get_by_text("Trained a head for").wait_for(timeout=PANEL_TIMEOUT_MS)
    settle(page)
    assert any("(2 steps, " in a for a in alerts(page))

    go(page, "Explore")
    choose(page, "Method", "student")
    page.locator(".uq-metric").filter(has_text="AUSE pixel").wait_for(timeout=PANEL_TIMEOUT_MS)
    settle(page, rerun=False)  # choose() waited for its run already
    assert shown_metric(page, "Samples") == "1 pass"
    assert shown_metric(page, "samples") == "0 (one pass)"
    assert page.get_by_text("distilled from transform (2 samples) on 2 images, 2 steps").is_visible()
