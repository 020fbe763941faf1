"""Page-load time of the default Explore view against a floor page, in one run.

The floor is one Streamlit page showing one 256×256 plotly heatmap (benchmarks/pages/floor.py).
Both servers run side by side; visits alternate, each in a fresh browser context (nothing
cached in the browser), after one warm-up visit each (the Explore view's result is then shared
between sessions, as for any later visitor). A visit ends when the page's chart is drawn (Explore:
one figure, the image panels with the sparsification curve; the floor: its heatmap) and the
script run is over. Prints the median times and their ratio (goal: Explore / floor <= 1.25; bar <= 1.35, the allowance for noise).

    .venv/bin/python benchmarks/bench_page.py [--visits 5]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHARTS_DRAWN = """n => [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.querySelector('.main-svg')).length >= n
    && !document.querySelector('[data-testid="stStatusWidget"]')"""


def start(script: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(180):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"{script} did not start")


def visit(browser, url: str, charts: int) -> float:
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    page = context.new_page()
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function(CHARTS_DRAWN, arg=charts, timeout=300_000, polling=50)
    seconds = time.perf_counter() - started
    context.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visits", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    servers = [start(ROOT / "app.py"), start(ROOT / "benchmarks" / "pages" / "floor.py")]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            (_, explore), (_, floor) = servers
            visit(browser, explore, 1)  # warm-up: model load and the default view's sampling
            visit(browser, floor, 1)
            times: dict[str, list[float]] = {"explore": [], "floor": []}
            for _ in range(args.visits):
                times["explore"].append(visit(browser, explore, 1))
                times["floor"].append(visit(browser, floor, 1))
            browser.close()
    finally:
        for proc, _ in servers:
            proc.terminate()
    med = {k: statistics.median(v) for k, v in times.items()}
    for name, values in times.items():
        print(f"{name:8s} median {med[name]:.2f} s  ({', '.join(f'{v:.2f}' for v in values)})")
    print(f"explore/floor: {med['explore'] / med['floor']:.2f} (goal <= 1.25, bar <= 1.35)")


if __name__ == "__main__":
    main()
