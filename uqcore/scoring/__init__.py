"""Scoring estimates against ground truth.

* :mod:`~uqcore.scoring.scorer` -- the one scorer (per image and per dataset, the calibration split,
  the PSNR border and σ-scaling rules); its names are resolved here on first use, so
  ``uqcore.scoring.Scorer`` is ``uqcore.scoring.scorer.Scorer``;
* :mod:`~uqcore.scoring.results` -- the scorer's typed results (``DatasetSummary``, ``LevelSummary``,
  ``IntervalSummary``);
* :mod:`~uqcore.scoring.stats` -- the bootstrap over images, functional;
* :mod:`~uqcore.scoring.summary_ci` -- intervals of a dataset summary from its per-image values.
"""

from __future__ import annotations

from uqcore.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "uqcore.scoring.scorer": [
        "LEVELS", "IMAGE_LEVELS", "EPS", "SIGMA_TILE", "ENCE_BINS", "INTERVAL_COLUMNS", "DEPTH_QUALITY",
        "resize_to", "prepare_target", "psnr_border", "quality", "ImageScore", "align", "aligned",
        "at_target", "score_image", "Vectors", "fit_vectors", "residual_vectors", "interval_values",
        "score_vectors", "fit_scale", "checkerboard", "split_images", "image_values", "Scorer",
    ],
    "uqcore.scoring.results": ["LevelSummary", "IntervalSummary", "DatasetSummary"],
})
