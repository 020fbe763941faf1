"""Fixtures of the dashboard tests: a tiny model zoo (random weights, same architectures as the
bundled models; tests/support.py) registered through ``UQCORE_MODEL_DIRS`` so that AppTest runs
fast, and for the real-browser tests a ``streamlit run app.py`` server and a headless chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from tests.app.browser_support import CHROMIUM, ROOT, free_port
from tests.support import write_tiny_zoo


@pytest.fixture(scope="session", autouse=True)
def tiny_zoo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_zoo")
    write_tiny_zoo(folder)
    old = os.environ.get("UQCORE_MODEL_DIRS")
    os.environ["UQCORE_MODEL_DIRS"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("UQCORE_MODEL_DIRS", None)
    else:
        os.environ["UQCORE_MODEL_DIRS"] = old


@pytest.fixture(scope="module")
def server():
    port = free_port()
    # the flows load tests.models.factory_fixture:make as a factory (allowed modules: see README.md)
    env = dict(os.environ, PYTHONUNBUFFERED="1", UQCORE_FACTORY_MODULES="uqcore.models,tests.models")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited: {proc.stdout.read()}")
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("streamlit did not start within 90 s")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
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
