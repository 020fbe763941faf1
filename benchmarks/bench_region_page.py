"""Explore on a large photo: time to the first variance map in the browser against the whole
image's headless estimate, in one run (the target: first map / headless whole <= 0.35).

A 384×384 photo (assets/samples/sr/astronaut.png, a 1536×1536 srresnet output) is uploaded as
the LR input on Explore with the default setting (the model card's recommended one: noise at
body.5, 8 samples). The browser clock starts when the file is handed to the uploader; the first
variance map is the region's first live map ("variance so far", after its first chunk of
samples) or its finished panels, whichever is drawn first; the region's panels (1:1) and the
whole image's overview are timed too. The headless time is ``uqcore.estimate`` of the whole
image with the same setting, in this process, after the browser run (the server is stopped
first so the two do not share the CPU).

    .venv/bin/python benchmarks/bench_region_page.py [--runs 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.bench_page import CHROMIUM, start  # noqa: E402

PHOTO = ROOT / "assets" / "samples" / "sr" / "astronaut.png"
REGION_DRAWN = """() => [...document.querySelectorAll('.js-plotly-plot')].some(p => p.layout && p.layout.meta
    && p.layout.meta.display_factor === 1 && !p.layout.meta.overview
    && [...p.querySelectorAll('.annotation-text')].some(e => e.textContent.startsWith('variance')))"""
FIRST_MAP = """() => [...document.querySelectorAll('.js-plotly-plot .gtitle')].some(e => e.textContent.startsWith('variance so far'))
    || (""" + REGION_DRAWN + """)()"""
OVERVIEW_DRAWN = """() => [...document.querySelectorAll('.js-plotly-plot')].some(p => p.layout && p.layout.meta
    && p.layout.meta.overview && p.querySelector('.main-svg'))"""


def browser_run(browser, url: str) -> tuple[float, float]:
    """(first variance map, whole image's overview) seconds after the upload, in a fresh context;
    prints the region's panels time and its estimate's own time."""
    context = browser.new_context(viewport={"width": 1400, "height": 1700})
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("h1", timeout=300_000)
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=300_000)
    page.get_by_text("Upload", exact=True).click()
    page.wait_for_selector("input[type=file]", state="attached", timeout=60_000)
    started = time.perf_counter()
    page.locator("input[type=file]").nth(0).set_input_files(str(PHOTO))
    page.wait_for_function(FIRST_MAP, timeout=600_000, polling=50)
    first = time.perf_counter() - started
    page.wait_for_function(REGION_DRAWN, timeout=600_000, polling=50)
    print(f"the region's panels (1:1) drawn: {time.perf_counter() - started:.2f} s")
    cell = page.locator("[data-testid='stMetric']").filter(has=page.get_by_text("time", exact=True)).first
    print(f"the region's estimate (its time metric): {cell.locator('[data-testid=stMetricValue]').inner_text()}")
    page.wait_for_function(OVERVIEW_DRAWN, timeout=1_800_000, polling=200)
    whole = time.perf_counter() - started
    context.close()
    return first, whole


def headless_whole() -> float:
    import uqcore
    from uqcore.models.registry import load_model

    model = load_model("srresnet")
    rec = model.card["recommended"]
    x = uqcore.read_image(PHOTO)
    started = time.perf_counter()
    uqcore.estimate(model, x, method=rec["method"], layer=rec.get("layer"), strength=rec.get("strength"),
                    samples=int(rec.get("samples", 8)), seed=0)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="uploads, each in a fresh session (medians are printed)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    proc, url = start(ROOT / "app.py")
    firsts, wholes = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            for _ in range(args.runs):
                first, whole = browser_run(browser, url)
                firsts.append(first)
                wholes.append(whole)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(30)
    headless = headless_whole()
    first, whole = statistics.median(firsts), statistics.median(wholes)
    print(f"first variance map in the browser: {first:.2f} s ({', '.join(f'{v:.2f}' for v in firsts)})")
    print(f"whole image's overview in the browser: {whole:.2f} s")
    print(f"headless whole-image estimate: {headless:.2f} s")
    print(f"first map / headless whole: {first / headless:.2f} (target <= 0.35)")


if __name__ == "__main__":
    main()
