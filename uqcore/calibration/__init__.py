"""Calibrated per-pixel error bars, one package.

* :mod:`~uqcore.calibration.intervals` -- ``Calibration`` (σ-scaling, isotonic, split-conformal, conformal
  risk control; intervals, checks, save), ``calibrate()`` (``uqcore.calibrate``), ``load_calibration()``;
* :mod:`~uqcore.calibration.fit` -- fitting from residual vectors (``fit_values``, the isotonic variance
  map, ``KINDS`` and the defaults);
* :mod:`~uqcore.calibration.check` -- fit on the first images of a set, check on the rest (Compare).

The names below resolve on first use; the command is :mod:`uqcore.commands.calibrate`.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "Calibration": "uqcore.calibration.intervals",
    "calibrate": "uqcore.calibration.intervals",
    "load_calibration": "uqcore.calibration.intervals",
    "pair_statistics": "uqcore.calibration.intervals",
    "Progress": "uqcore.calibration.intervals",
    "FORMAT": "uqcore.calibration.intervals",
    "VERSION": "uqcore.calibration.intervals",
    "READABLE_VERSIONS": "uqcore.calibration.intervals",
    "KINDS": "uqcore.calibration.fit",
    "DEFAULT_KIND": "uqcore.calibration.fit",
    "DEFAULT_LEVEL": "uqcore.calibration.fit",
    "MAX_VALUES": "uqcore.calibration.fit",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
