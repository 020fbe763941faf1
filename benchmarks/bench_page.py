"""Page-load time of the default Explore view against a floor page, in one run.

The floor is one Streamlit page showing one 256×256 plotly heatmap (benchmarks/pages/floor.py).
Both servers run side by side; visits alternate, each in a fresh browser context (nothing
cached in the browser), after one warm-up visit each (the Explore view's result is then shared
between sessions, as for any later visitor). A visit ends when the page's chart is drawn (Explore:
one figure, the image panels with the sparsification curve; the floor: its heatmap) and the
script run is over. Prints the median times and their ratio (goal: Explore / floor <= 1.25; bar <= 1.35, the allowance for noise).

    .venv/bin/python benchmarks/bench_page.py [--visits 5] [--baseline REV]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHARTS_DRAWN = """n => [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.querySelector('.main-svg')).length >= n
    && !document.querySelector('[data-testid="stStatusWidget"]')"""


def start(script: Path, cwd: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """``streamlit run script`` from ``cwd`` (whose ``.streamlit/config.toml`` applies)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"],
                            cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(180):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"{script} did not start")


@contextlib.contextmanager
def checkout(rev: str):
    """A temporary git worktree of ``rev`` (removed after): an earlier state of the app to serve
    beside this one."""
    folder = Path(tempfile.mkdtemp(prefix="bench-page-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), rev], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, check=False)
        shutil.rmtree(folder, ignore_errors=True)


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
    parser.add_argument("--baseline", metavar="REV",
                        help="also serve the app as of git revision REV (a temporary worktree, its own config) and "
                             "alternate its visits with the others': a change's effect, measured in one run")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        pages = {"explore": (ROOT / "app.py", ROOT), "floor": (ROOT / "benchmarks" / "pages" / "floor.py", ROOT)}
        if args.baseline:
            base = stack.enter_context(checkout(args.baseline))
            pages = {f"explore@{args.baseline}": (base / "app.py", base), **pages}
        times = measure(pages, args.visits)
    med = {k: statistics.median(v) for k, v in times.items()}
    for name, values in times.items():
        print(f"{name:8s} median {med[name]:.2f} s  ({', '.join(f'{v:.2f}' for v in values)})")
    for name in times:
        if name != "floor":
            print(f"{name}/floor: {med[name] / med['floor']:.2f} (goal <= 1.25, bar <= 1.35)")


def measure(pages: dict[str, tuple[Path, Path]], visits: int) -> dict[str, list[float]]:
    """Serve every page (name -> (script, folder to run it from)), warm each up once (model load
    and the default view's sampling), then alternate ``visits`` rounds of one visit each."""
    from playwright.sync_api import sync_playwright

    servers = {name: start(script, cwd) for name, (script, cwd) in pages.items()}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            for _, url in servers.values():
                visit(browser, url, 1)
            times: dict[str, list[float]] = {name: [] for name in servers}
            for _ in range(visits):
                for name, (_, url) in servers.items():
                    times[name].append(visit(browser, url, 1))
            browser.close()
    finally:
        for proc, _ in servers.values():
            proc.terminate()
    return times


if __name__ == "__main__":
    main()
