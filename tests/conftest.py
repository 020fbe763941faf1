"""Fixtures shared by the tests: a tiny SR model (tests/tiny_models.py) and an input image; the tiny
model zoo on ``UQCORE_MODEL_DIRS``; the reliability record option."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import uqcore
from tests.support import write_tiny_zoo
from tests.tiny_models import make_tiny_sr


def pytest_addoption(parser):
    parser.addoption("--reliability-record", metavar="PATH", default=None,
                     help="write what the reliability tests observed to PATH (bash scripts/test.sh "
                          "reliability passes docs/RELIABILITY.md); without it no file is written")


# ``-m quick``: the core's own folders (metrics, the engine with its tiny-model estimates, scoring),
# less their tests marked slow (bundled models); the edit loop's run, well under a minute
QUICK_FOLDERS = ("metrics", "engine", "scoring")


def pytest_ignore_collect(collection_path, config):
    """``-m quick`` alone: collect only the quick folders (importing the other test modules, Streamlit,
    Playwright and Ray among them, would take a good part of the minute); None: pytest decides."""
    if config.getoption("markexpr", "") != "quick":
        return None
    path = Path(collection_path).resolve()
    tests = Path(__file__).resolve().parent
    if path.parent == tests and (path.is_dir() and path.name not in QUICK_FOLDERS
                                 or path.is_file() and path.name.startswith("test_")):
        return True
    return None


def pytest_configure(config):
    """In a pytest-xdist worker (``bash scripts/test.sh`` runs two): torch and OpenMP use this
    worker's share of the cores, here and in what it starts (the Streamlit server, CLI
    subprocesses, a local Ray's processes). With each worker at the default (every core),
    OpenMP threads that spin while they wait took the cores from the other worker's work
    (docs/BENCHMARKS.md, "Test suite")."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if os.environ.get("PYTEST_XDIST_WORKER") and workers > 1:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        threads = max(1, cores // workers)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)


def pytest_collection_modifyitems(config, items):
    tests = Path(__file__).resolve().parent
    for item in items:
        path = Path(str(item.path)).resolve()
        if (path.parent.parent == tests and path.parent.name in QUICK_FOLDERS
                and item.get_closest_marker("slow") is None):
            item.add_marker(pytest.mark.quick)
    long_units_first(items)


# -- how ``bash scripts/test.sh`` (-n 2 --dist loadfile) shares the tests between its two workers --
BROWSER_FOLDER = "tests/app/browser/"
LONG_MARKS = ("browser", "ray", "slow")  # units with a test so marked start first, in this order


def unit_of(nodeid: str) -> str:
    """The tests one worker runs together: a test file (its module fixtures are set up once), or
    the whole real-browser folder (one Streamlit server and one chromium for all of it)."""
    return BROWSER_FOLDER if nodeid.startswith(BROWSER_FOLDER) else nodeid.split("::", 1)[0]


def long_units_first(items) -> None:
    """Order the collection so that the long units come first (the browser folder, then the files
    with Ray or slow tests; the rest as collected): the scheduler hands units out in this order,
    so neither worker is left running a long one at the end while the other is idle."""
    rank: dict[str, int] = {}
    for item in items:
        unit = unit_of(item.nodeid)
        marked = [i for i, mark in enumerate(LONG_MARKS) if item.get_closest_marker(mark)]
        rank[unit] = min([rank.get(unit, len(LONG_MARKS)), *marked])
    items.sort(key=lambda item: rank[unit_of(item.nodeid)])  # stable


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # a hook of pytest-xdist (absent with -p no:xdist)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` with :func:`unit_of`'s units, handed out in collection order (xdist would
    start with the units that have the most tests, whatever their length)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class UnitScheduling(LoadFileScheduling):
        # the method xdist's own scope schedulers override to define their units (xdist is pinned)
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    config.option.loadscopereorder = False
    return UnitScheduling(config, log)


def pytest_sessionfinish(session, exitstatus):
    """Write the reliability record only when asked to (``--reliability-record PATH``)."""
    from tests import reliability_record

    reliability_record.write_if_asked(session.config)


@pytest.fixture
def tiny_sr() -> uqcore.UQModel:
    return make_tiny_sr()


@pytest.fixture
def image() -> torch.Tensor:
    return torch.rand((1, 3, 12, 16), generator=torch.Generator().manual_seed(1))




@pytest.fixture(scope="session", autouse=True)
def tiny_zoo_on_model_dirs(tmp_path_factory):
    """A tiny model zoo (random weights, the bundled models' architectures; tests/support.py) on
    ``UQCORE_MODEL_DIRS`` for the whole session, from its first test on: AppTest runs fast on it,
    and every test sees the same model list whichever test runs first (tests that need the bundled
    zoo alone unset it with monkeypatch)."""
    folder = tmp_path_factory.mktemp("tiny_zoo")
    write_tiny_zoo(folder)
    old = os.environ.get("UQCORE_MODEL_DIRS")
    os.environ["UQCORE_MODEL_DIRS"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("UQCORE_MODEL_DIRS", None)
    else:
        os.environ["UQCORE_MODEL_DIRS"] = old
