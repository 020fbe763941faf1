"""The dataset tools, built on the engine and the scorer.

* :mod:`~uqcore.datasets.folders` -- dataset folders → (input, target) pairs (``load_pairs``,
  ``list_pair_files``, ``make_lr``; resolved here on first use);
* :mod:`~uqcore.datasets.evaluate` -- ``evaluate()`` (``uqcore.evaluate``): methods × sample counts → rows;
* :mod:`~uqcore.datasets.sweep` -- ``sweep()`` (``uqcore.sweep``): layers × strengths; ``recommend``;
* :mod:`~uqcore.datasets.analysis` -- one image for the dashboard (``analyse``).

``evaluate`` and ``sweep`` are not exported here: those names are the submodules.
"""

from __future__ import annotations

from uqcore.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "uqcore.datasets.folders": [
        "IMAGE_SUFFIXES", "make_lr", "list_pair_files", "load_pairs", "load_pair",
    ],
})
