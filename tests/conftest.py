"""Fixtures shared by the unit tests: a tiny SR model (tests/tiny_models.py) and an input image; the
reliability record option."""

from __future__ import annotations

import pytest
import torch

import uqcore
from tests.tiny_models import make_tiny_sr


def pytest_addoption(parser):
    parser.addoption("--reliability-record", metavar="PATH", default=None,
                     help="write what the reliability tests observed to PATH (scripts/write_reliability.py "
                          "passes docs/RELIABILITY.md); without it no file is written")


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


