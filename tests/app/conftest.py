"""Fixtures of the dashboard's AppTest tests. (The tiny model zoo that AppTest runs on is registered
for the whole session: tests/conftest.py; the real-browser tests' server and chromium:
tests/app/browser/conftest.py.)"""

from __future__ import annotations

import functools

from streamlit.components.v2 import manifest_scanner

# Every AppTest scans the installed packages' metadata for custom components (about 0.7 s here);
# the installed packages do not change during a test run, so one scan serves them all.
manifest_scanner.scan_component_manifests = functools.cache(manifest_scanner.scan_component_manifests)
