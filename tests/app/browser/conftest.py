"""Fixtures of the real-browser tests: a ``streamlit run app.py`` server and a headless chromium,
started once for the session (in any test order). ``bash scripts/test.sh`` runs this folder in one
worker (tests/conftest.py), so one server and one chromium serve every test in it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from tests.app.browser.browser_support import CHROMIUM, ROOT, free_port


def started_log(proc: subprocess.Popen, deadline_s: float) -> list[str]:
    """Block on the server's output until it says where it serves (its "URL:" line), then keep
    draining it in a thread (a full pipe would stall the server); the lines, for a failure message."""
    lines: list[str] = []
    ready = threading.Event()

    def drain():
        for line in proc.stdout:
            lines.append(line)
            if "URL:" in line:
                ready.set()
        ready.set()  # the server exited

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(deadline_s) or proc.poll() is not None:
        proc.kill()
        raise RuntimeError(f"streamlit did not start within {deadline_s:g} s: {''.join(lines)}")
    return lines


@pytest.fixture(scope="session")
def server():
    """One ``streamlit run app.py`` for every real-browser test: each test opens its own browser
    context, i.e. its own Streamlit session (uploads, own models, heads and calibrations are kept
    per session); only bundled results are shared between sessions, as between any visitors."""
    port = free_port()
    # the flows load tests.models.factory_fixture:make as a factory (allowed modules: see README.md)
    env = dict(os.environ, PYTHONUNBUFFERED="1", UQCORE_FACTORY_MODULES="uqcore.models,tests.models")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    started_log(proc, deadline_s=90)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield b
        b.close()
