"""Real-browser flows of the tuning loop, clicked as a user clicks them (sidebar navigation links,
never URL jumps, except where a bookmarked URL is the point): the current setting holds across
pages, the Tolerability → Explore hand-off, uploads keep the controls, bookmarks restore a view,
and live maps while sampling."""

from __future__ import annotations

import time

import pytest

from tests.app.browser.browser_support import ROOT, BROWSER_MARKS, ARTIFACTS, PANEL_TIMEOUT_MS, wait_for_panels
from tests.app.browser.browser_support import choose, combo, go, metrics_json, open_app, settle, shown_metric, shows

pytestmark = BROWSER_MARKS


def test_model_and_task_survive_page_changes(server, browser):
    page = open_app(browser, server)
    wait_for_panels(page)
    choose(page, "Model", "srgan")
    for link in ("Tolerability", "Compare", "Explore"):
        go(page, link)
        assert shows(page, "Model", "srgan"), f"the model was lost on the way to {link}: {combo(page, 'Model')}"
    page.get_by_text("Depth", exact=True).click()
    settle(page)
    assert shows(page, "Model", "fcrn"), combo(page, "Model")
    go(page, "Compare")
    assert shows(page, "Model", "fcrn") and page.get_by_label("Depth").is_checked(), combo(page, "Model")


def test_model_loaded_on_models_page_is_selected_on_explore(server, browser):
    page = open_app(browser, server)
    go(page, "Models")
    page.get_by_text("Path, module:factory or Hugging Face id").click()
    # Enter commits each field before the click (a busy server may otherwise run the click
    # before the blur's value arrives)
    for field, text in (("own_spec", "tests.models.factory_fixture:make"), ("own_name", "my-upscaler")):
        page.locator(f".st-key-{field} input").fill(text)
        page.locator(f".st-key-{field} input").press("Enter")
        settle(page)
    page.get_by_role("button", name="Load model").click()
    page.wait_for_selector("text=Loaded", timeout=PANEL_TIMEOUT_MS)
    settle(page)
    go(page, "Explore")
    wait_for_panels(page)
    assert shows(page, "Model", "my-upscaler"), combo(page, "Model")


def test_tolerability_hand_off_to_explore(server, browser):
    page = open_app(browser, server)
    choose(page, "Model", "srgan")
    go(page, "Tolerability")
    for layer in ("body.0", "body.3", "upsample"):  # one layer, two strengths, two samples: a quick sweep
        page.get_by_role("button", name=f"Remove {layer} ·").click()
        settle(page)
    for name in ("Strengths", "Samples"):
        page.get_by_role("slider", name=name).focus()
        page.keyboard.press("Home")
        settle(page)
    page.get_by_role("button", name="Run sweep").click()
    page.wait_for_selector("text=Recommended:", timeout=PANEL_TIMEOUT_MS)
    settle(page)
    text = page.get_by_text("Recommended:").inner_text()
    strength = float(text.split("strength ")[1].split(" ")[0])
    page.get_by_role("button", name="Use this setting on the Explore page").click()
    page.wait_for_selector("h1:has-text('Explore')", timeout=PANEL_TIMEOUT_MS)
    wait_for_panels(page)
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "handoff_explore.png"), full_page=True)
    assert shows(page, "Model", "srgan") and shows(page, "Method", "noise"), (combo(page, "Model"), combo(page, "Method"))
    assert combo(page, "Layer").startswith("body.5 ")
    computed = metrics_json(page)["settings"]
    assert (computed["model"], computed["method"], computed["layer"]) == ("srgan", "noise", "body.5")
    assert computed["strength"] == pytest.approx(strength)


def test_upload_keeps_the_controls_and_uses_them(server, browser):
    page = open_app(browser, server)
    wait_for_panels(page)
    choose(page, "Method", "dropout")
    choose(page, "Layer", "body.3")
    page.get_by_role("slider", name="Dropout rate").focus()
    page.keyboard.press("ArrowRight")
    settle(page)
    wanted = (combo(page, "Method"), combo(page, "Layer"), page.url.split("strength=")[1].split("&")[0])
    page.get_by_text("Upload", exact=True).click()
    settle(page)
    sample = sorted((ROOT / "assets" / "samples" / "sr").glob("*.png"))[2]
    page.locator("input[type=file]").nth(1).set_input_files(str(sample))
    page.wait_for_selector("text=bicubic downscaling of the HR image", timeout=PANEL_TIMEOUT_MS)
    wait_for_panels(page)
    settle(page)
    assert (combo(page, "Method"), combo(page, "Layer"), page.url.split("strength=")[1].split("&")[0]) == wanted
    computed = metrics_json(page)["settings"]
    assert (computed["method"], computed["layer"]) == ("dropout", "body.3")
    assert f"{computed['strength']:g}" == wanted[2] and computed["input"] == sample.name
    go(page, "Tolerability")  # the upload is the input there too, and still there on the way back
    assert page.get_by_text(f"Using **{sample.name}**").count() or page.get_by_text(sample.name).count()


def test_default_depth_view_tracks_the_error(server, browser):
    page = open_app(browser, server)
    page.get_by_text("Depth", exact=True).click()
    # the SR view stays on screen while the depth run goes: wait for the depth metrics row itself
    page.locator(".uq-metric").filter(has=page.get_by_text("abs-rel", exact=True)).first.wait_for(
        timeout=PANEL_TIMEOUT_MS)
    wait_for_panels(page)
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "explore_depth.png"), full_page=True)
    assert float(shown_metric(page, "Corr pixel")) > 0
    assert float(shown_metric(page, "samples")) == metrics_json(page)["settings"]["samples"]
    assert page.get_by_text("PSNR/SSIM").count() == 0  # no SR footnote on depth


def test_bookmarked_url_restores_the_view(server, browser):
    url = f"{server}/?task=sr&model=srgan&sample=coins&method=dropout&layer=body.3&strength=0.35&samples=4&seed=7"
    page = open_app(browser, url)
    wait_for_panels(page)
    settle(page, rerun=False)
    assert (combo(page, "Model"), combo(page, "Sample"), combo(page, "Method")) == ("srgan", "coins", "dropout")
    assert combo(page, "Layer").startswith("body.3 ")
    computed = metrics_json(page)["settings"]
    assert computed == dict(model="srgan", input="coins.png", method="dropout", layer="body.3", strength=0.35,
                            samples=4, seed=7, samples_drawn=4)


def test_live_map_while_sampling(server, browser, capsys):
    page = open_app(browser, f"{server}/?model=srresnet&method=noise&layer=body.5&strength=0.1&samples=32")
    wait_for_panels(page)
    settle(page, rerun=False)
    slider = page.get_by_role("slider", name="Noise std (log scale)")
    slider.focus()
    started = time.perf_counter()
    page.keyboard.press("ArrowLeft")  # a setting change: the next noise std down
    page.wait_for_selector(".js-plotly-plot .gtitle:has-text('variance so far')", timeout=PANEL_TIMEOUT_MS)
    first_map = time.perf_counter() - started
    page.screenshot(path=str(ARTIFACTS / "explore_live.png"), full_page=True)
    settle(page)
    wait_for_panels(page)
    full = time.perf_counter() - started
    with capsys.disabled():
        print(f"\nnoise at 32 samples: first updated variance map {first_map:.2f} s after the setting change, "
              f"full run drawn {full:.2f} s (ratio {first_map / full:.2f})")
    assert first_map < full
