"""Calibrated per-pixel error bars, one package.

* :mod:`~uqcore.calibration.intervals` -- what the kinds guarantee, ``calibrate()`` (``uqcore.calibrate``),
  ``load_calibration()``;
* :mod:`~uqcore.calibration.kinds` -- ``Calibration`` (one interface: intervals, checks, save) and one class
  per kind (σ-scaling, isotonic, split-conformal, conformal risk control), ``CALIBRATIONS`` by kind;
* :mod:`~uqcore.calibration.fit` -- fitting from residual vectors (``fit_values``, the isotonic variance
  map, ``KINDS`` and the defaults);
* :mod:`~uqcore.calibration.check` -- fit on the first images of a set, check on the rest (Compare).

The names below resolve on first use; the command is :mod:`uqcore.commands.calibrate`.
"""

from __future__ import annotations

from uqcore.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "uqcore.calibration.intervals": ["calibrate", "load_calibration", "pair_statistics"],
    "uqcore.calibration.kinds": [
        "Calibration", "SigmaCalibration", "IsotonicCalibration", "ConformalCalibration", "RiskCalibration",
        "CALIBRATIONS", "register_calibration", "FORMAT", "VERSION", "READABLE_VERSIONS",
    ],
    "uqcore.calibration.fit": [
        "KINDS", "DEFAULT_KIND", "DEFAULT_LEVEL", "MAX_VALUES",
    ],
})
