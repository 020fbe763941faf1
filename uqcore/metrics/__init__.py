"""Uncertainty metrics: error maps, sparsification / AUSE / AURG, correlations, NLL, calibration.

Every function is functional: validate -> compute -> return a float / numpy array. Inputs may be
numpy arrays or torch tensors (CPU or CUDA); each input is copied to the host once and computed
on in float64. Memory stays O(pixels): sparsification sorts once and uses cumulative sums, the
calibration curve sorts once and uses ``searchsorted`` (no pixels x bins matrices).

Definitions (the reference for every number in docs/; each function repeats its own):

* **Error map** -- per-pixel absolute error between prediction and target, averaged over
  channels (``kind="sq"``: squared error). **Uncertainty map** -- the per-pixel sample variance
  averaged over channels (what ``uqcore.estimate`` returns as ``variance``).
* **Valid pixels** -- ``mask=`` (bool [H, W]) restricts every metric to the pixels where it is
  True; values outside the mask are ignored (they may be NaN). :func:`valid_mask` gives the mask
  for depth ground truth (zero, negative, NaN and inf are invalid).
* **Sparsification curve** (Ilg et al. 2018) -- for fractions f = 0, 1/K, ..., (K-1)/K
  (K = ``steps``, default 50) remove the floor(f*N) of the N valid pixels with the highest
  uncertainty and take the mean error of the rest. The oracle curve ranks by the error itself;
  the random curve is flat at the mean error. All three are divided by the mean error at f = 0
  so each starts at 1 (if the mean error is 0 every curve is 0).
* **Ties** -- pixels with equal uncertainty (e.g. a zero-variance region, or all pixels of one
  tile at patch level) are *averaged*: when the cut at floor(f*N) falls inside a group of tied
  pixels, the removed part of the group counts with the group's mean error. This is exactly the
  expectation over all orderings of the tied pixels, is deterministic, and makes every curve
  independent of the pixel order (a constant uncertainty gives the random curve, AURG = 0).
  Ties in the oracle ranking (equal errors) cannot change the curve.
* **AUSE** -- area between the estimate and oracle curves, trapezoid rule over the K points
  f_k = k/K (x spacing 1/K). **AURG** -- area between the random and estimate curves.
  Lower AUSE / higher AURG is better. Two conventions: the **normalised** AUSE of the curves
  above (divided by the mean error, unitless; ``ause_<level>``, the tables' "AUSE" rows) and
  the **unnormalised** AUSE of the same curves in the error's own units (Poggi et al. 2020;
  ``ause(..., normalise=False)``, ``ause_raw_<level>``, the tables' "AUSE raw" rows) = the
  normalised one times the mean error (:func:`ause_in_error_units`).
* **Levels**, for correlations and AUSE alike (the four of the paper's supplement; the tile
  size and the segmentation's parameters are ours, the supplement gives none):
  ``pixel`` -- the pixels of one image; ``patch`` -- error and uncertainty replaced by their
  means over non-overlapping ``patch`` x ``patch`` tiles anchored at the top-left corner (a
  partial tile at the right / bottom edge is its own, smaller tile; tile means use valid pixels
  only), then computed over the (valid) pixels, so each tile weighs by its pixel count;
  ``block`` -- the same with segments of the *prediction* instead of tiles: by default the
  local-centre-of-mass segmentation the supplement names (Aganj et al. 2018;
  :func:`segment`, :func:`lcm_segments`; its mass is our choice, see there), or SLIC
  superpixels (``segment(..., method="slic")``, :func:`superpixels`); ``mean`` -- over a set of images, one point per image: the per-image mean error and
  mean uncertainty (pass lists of maps, or 1-D arrays of per-image values).
  In a dataset report pixel / patch / block values are averaged over images.
* **Correlation** -- Pearson's r (:func:`pearson`); Spearman's rho (:func:`spearman`, ties get
  average ranks) as an extra. A constant input has no correlation: the result is NaN.
* **NLL** -- Gaussian, mean over pixels (and channels) of
  1/2 log(2 pi (sigma^2 + eps)) + (y - mu)^2 / (2 (sigma^2 + eps)).
* **Alignment** (MiDaS / Marigold protocol) -- a relative-depth prediction is aligned per image
  to the target by least-squares scale and shift over the valid pixels (in depth space for
  ``"relative"``, in inverse-depth space for ``"disparity"``, then back to depth) before any
  error-based metric; its variance is scaled consistently (:func:`align_depth`).
* **Calibration** (Kuleshov et al. 2018) -- for confidence levels p, the observed fraction of
  targets inside the central Gaussian interval mu +- z_{(1+p)/2} sigma against the expected p.
* **ENCE** (Levi et al. 2022) -- pixels sorted by variance into ``bins`` equal-count bins
  (ties: row-major order); ENCE = (1/B) sum_j |RMV_j - RMSE_j| / RMV_j with RMV_j = sqrt(mean
  sigma^2) and RMSE_j = sqrt(mean squared error) in bin j (:func:`reliability_diagram` gives the
  per-bin values). **Coverage** -- the fraction of valid values (pixels x channels) inside
  [lower, upper]; **interval width** -- the mean of upper - lower over them.

Families (one module each): ``validation`` (inputs, valid pixels, error maps), ``levels`` (tiles,
superpixels, pooling), ``segmentation`` (local centre of mass, the block level's default), ``sparsification`` (curves, AUSE, AURG), ``correlation`` (Pearson,
Spearman, all single-image numbers), ``likelihood`` (NLL, calibration, sigma-scaling),
``calibration`` (ENCE and its reliability diagram, interval coverage and width), ``quality``
(PSNR, SSIM, depth errors), ``alignment`` (least-squares scale and shift of relative depth),
``ordering`` (the stable sort the rankings use, computed faster).
Every public function carries a ``>>>`` example that the tests run (``tests/metrics/test_metrics.py``).
"""

from __future__ import annotations

from uqcore.metrics.alignment import DEPTH_KINDS, align_depth, fit_scale_shift
from uqcore.metrics.calibration import (Reliability, coverage, ence, ence_vectors, interval_width,
                                        reliability_diagram, reliability_vectors)
from uqcore.metrics.correlation import correlations, pearson, ranks, spearman
from uqcore.metrics.levels import LEVELS, SLIC_COMPACTNESS, SLIC_PIXELS_PER_SEGMENT, patch_labels, superpixels
from uqcore.metrics.segmentation import BLOCK_SEGMENTER, LCM_SIGMA, SEGMENTERS, lcm_mass, lcm_segments, segment
from uqcore.metrics.likelihood import (
    apply_variance_scale,
    calibration_curve,
    calibration_error,
    calibration_vectors,
    default_levels,
    fit_scale_vectors,
    fit_variance_scale,
    nll,
    nll_vectors,
)
from uqcore.metrics.ordering import descending_order, stable_order
from uqcore.metrics.quality import DEPTH_MIN, depth_quality, psnr, ssim
from uqcore.metrics.sparsification import Sparsification, aurg, ause, ause_in_error_units, ause_rows, sparsification
from uqcore.metrics.validation import error_map, valid_mask

__all__ = [
    "LEVELS", "Sparsification", "valid_mask", "error_map", "patch_labels", "superpixels", "sparsification",
    "segment", "lcm_segments", "lcm_mass", "SEGMENTERS", "BLOCK_SEGMENTER", "LCM_SIGMA",
    "ause", "ause_in_error_units", "ause_rows", "aurg", "pearson", "spearman", "ranks", "correlations", "nll", "calibration_curve", "calibration_error",
    "default_levels", "fit_variance_scale", "fit_scale_vectors", "nll_vectors", "calibration_vectors",
    "apply_variance_scale", "psnr", "ssim", "depth_quality", "Reliability", "reliability_diagram",
    "reliability_vectors", "ence", "ence_vectors", "coverage", "interval_width",
    "DEPTH_KINDS", "align_depth", "fit_scale_shift", "stable_order", "descending_order",
]
