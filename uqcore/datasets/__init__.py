"""The dataset tools, built on the engine and the scorer.

* :mod:`~uqcore.datasets.folders` -- dataset folders → (input, target) pairs (``load_pairs``,
  ``list_pair_files``, ``make_lr``; resolved here on first use);
* :mod:`~uqcore.datasets.evaluate` -- ``evaluate()`` (``uqcore.evaluate``): methods × sample counts → rows;
* :mod:`~uqcore.datasets.sweep` -- ``sweep()`` (``uqcore.sweep``): layers × strengths; ``recommend``;
* :mod:`~uqcore.datasets.analysis` -- one image for the dashboard (``analyse``).

``evaluate`` and ``sweep`` are not exported here: those names are the submodules.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "IMAGE_SUFFIXES": "uqcore.datasets.folders",
    "make_lr": "uqcore.datasets.folders",
    "list_pair_files": "uqcore.datasets.folders",
    "load_pairs": "uqcore.datasets.folders",
    "load_pair": "uqcore.datasets.folders",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
