"""Scoring estimates against ground truth.

* :mod:`~uqcore.scoring.scorer` -- the one scorer (per image and per dataset, the calibration split,
  the PSNR border and σ-scaling rules); its names are resolved here on first use, so
  ``uqcore.scoring.Scorer`` is ``uqcore.scoring.scorer.Scorer``;
* :mod:`~uqcore.scoring.stats` -- the bootstrap over images, functional;
* :mod:`~uqcore.scoring.summary_ci` -- intervals of a dataset summary from its per-image values.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "LEVELS": "uqcore.scoring.scorer",
    "IMAGE_LEVELS": "uqcore.scoring.scorer",
    "EPS": "uqcore.scoring.scorer",
    "SIGMA_TILE": "uqcore.scoring.scorer",
    "ENCE_BINS": "uqcore.scoring.scorer",
    "INTERVAL_COLUMNS": "uqcore.scoring.scorer",
    "DEPTH_QUALITY": "uqcore.scoring.scorer",
    "resize_to": "uqcore.scoring.scorer",
    "prepare_target": "uqcore.scoring.scorer",
    "psnr_border": "uqcore.scoring.scorer",
    "quality": "uqcore.scoring.scorer",
    "ImageScore": "uqcore.scoring.scorer",
    "align": "uqcore.scoring.scorer",
    "aligned": "uqcore.scoring.scorer",
    "at_target": "uqcore.scoring.scorer",
    "score_image": "uqcore.scoring.scorer",
    "Vectors": "uqcore.scoring.scorer",
    "fit_vectors": "uqcore.scoring.scorer",
    "residual_vectors": "uqcore.scoring.scorer",
    "interval_values": "uqcore.scoring.scorer",
    "score_vectors": "uqcore.scoring.scorer",
    "fit_scale": "uqcore.scoring.scorer",
    "checkerboard": "uqcore.scoring.scorer",
    "split_images": "uqcore.scoring.scorer",
    "image_values": "uqcore.scoring.scorer",
    "nanmean": "uqcore.scoring.scorer",
    "Scorer": "uqcore.scoring.scorer",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
