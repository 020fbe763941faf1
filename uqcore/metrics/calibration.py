"""Calibration of error bars: ENCE with its reliability diagram (Levi et al. 2022), empirical
coverage of intervals and their mean width; definitions in ``uqcore.metrics``.

* **ENCE** (expected normalised calibration error, Levi et al. 2022, "Evaluating and Calibrating
  Uncertainty Prediction in Regression Tasks"): sort the N valid pixels by predicted variance and
  cut them into ``bins`` equal-count bins (contiguous in that order; when N is not a multiple of
  ``bins`` the first N mod ``bins`` bins hold one pixel more, as ``numpy.array_split`` cuts). In
  bin j, RMV_j = sqrt(mean of sigma^2 + eps) and RMSE_j = sqrt(mean of the squared error), and
  ENCE = (1/B) sum_j |RMV_j - RMSE_j| / RMV_j. 0 is calibrated; a variance k times too small
  gives about sqrt(k) - 1. The squared error of a pixel is the channel mean of its squared
  residuals (the variance map is shared by the channels). Ties in the variance are broken by the
  pixels' row-major order (a stable sort), so the bins never depend on the sort's whim.
* **Coverage** -- the fraction of valid values (pixels x channels) with lower <= y <= upper.
* **Interval width** -- the mean of upper - lower over the valid values, in output units.

The ``*_vectors`` function takes 1-D squared errors and variances, for callers that pool the
pixels of many images themselves (the dataset scorer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from uqcore.errors import InputError
from uqcore.metrics.ordering import stable_order
from uqcore.metrics.validation import as_float64, as_image, as_mask, check_finite

__all__ = ["Reliability", "reliability_diagram", "reliability_vectors", "ence", "ence_vectors", "coverage",
           "interval_width"]

DEFAULT_BINS = 10


@dataclass(frozen=True)
class Reliability:
    """Reliability diagram data of :func:`reliability_diagram`: per equal-count bin (ascending
    variance) the root mean variance ``rmv``, the root mean squared error ``rmse`` and the number
    of pixels ``count``; ``sigma_edges`` are the smallest and largest predicted sigma of each bin
    ([B, 2]). A calibrated map has rmse == rmv (the diagonal); ``ence`` summarises the gaps.

    >>> import numpy as np
    >>> from uqcore.metrics import reliability_vectors
    >>> r = reliability_vectors(np.array([1.0, 1.0, 16.0, 16.0]), np.array([1.0, 1.0, 4.0, 4.0]), bins=2)
    >>> r.rmv, r.rmse, r.ence  # bin 2: RMV 2 but RMSE 4 -> |2 - 4| / 2 = 1; mean over 2 bins
    (array([1., 2.]), array([1., 4.]), 0.5)
    """

    rmv: np.ndarray
    rmse: np.ndarray
    count: np.ndarray
    sigma_edges: np.ndarray

    @property
    def ence(self) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            gaps = np.abs(self.rmv - self.rmse) / self.rmv
        gaps = np.where((self.rmv == 0) & (self.rmse == 0), 0.0, gaps)  # 0/0: a perfect bin
        return float(np.mean(gaps))


def reliability_vectors(sq_error: Any, variance: Any, bins: int = DEFAULT_BINS, eps: float = 0.0, *,
                        order_by: Any = None, hint: Any = None) -> Reliability:
    """:func:`reliability_diagram` on 1-D squared errors (or [C, N] squared residuals, averaged
    over channels) and variances [N]; eps is added to the variances here. ``order_by`` [N]: sort
    the pixels into bins by this key instead of the variance (e.g. the raw variance, so that a
    recalibrated variance that is a non-decreasing function of it -- with ties where the function
    is flat -- is binned exactly like the raw one). ``hint``: an order that may already sort the
    key (:func:`stable_order`'s hint; e.g. the raw variance's order for the variance + eps);
    it saves the sort and never changes the bins.

    >>> import numpy as np
    >>> from uqcore.metrics import reliability_vectors
    >>> reliability_vectors(np.array([0.25, 4.0]), np.array([1.0, 4.0]), bins=2).rmse
    array([0.5, 2. ])
    """
    r2 = np.asarray(as_float64(sq_error, "squared error"))
    if r2.ndim == 2:
        r2 = r2.mean(axis=0)
    r2 = r2.ravel()
    v = np.asarray(as_float64(variance, "variance")).ravel() + float(eps)
    if r2.size != v.size:
        raise InputError(f"got {r2.size} squared errors but {v.size} variances; pass one of each per pixel")
    if v.size == 0:
        raise InputError("no pixels to bin; the reliability diagram needs at least one valid pixel")
    if int(bins) < 1:
        raise InputError(f"bins must be at least 1, got {bins}")
    check_finite(r2, "squared error")
    check_finite(v, "variance")
    if (v < 0).any() or (r2 < 0).any():
        raise InputError("variance and squared error must be >= 0; pass a variance, not a log-variance")
    key = v if order_by is None else np.asarray(as_float64(order_by, "order_by")).ravel()
    if key.size != v.size:
        raise InputError(f"order_by has {key.size} values for {v.size} pixels")
    order = stable_order(key, hint)  # ties: row-major order of the pixels
    groups = [g for g in np.array_split(order, min(int(bins), v.size)) if g.size]
    rmv = np.array([np.sqrt(v[g].mean()) for g in groups])
    rmse = np.array([np.sqrt(r2[g].mean()) for g in groups])
    count = np.array([g.size for g in groups], dtype=np.int64)
    edges = np.array([[np.sqrt(v[g[0]]), np.sqrt(v[g[-1]])] for g in groups])
    return Reliability(rmv=rmv, rmse=rmse, count=count, sigma_edges=edges)


def _sq_error_and_variance(prediction: Any, target: Any, variance: Any, mask: Any) -> tuple[np.ndarray, np.ndarray]:
    p = as_image(prediction, "prediction")
    t = as_image(target, "target")
    if t.shape[1:] != p.shape[1:] or t.shape[0] not in (1, p.shape[0]):
        raise InputError(f"prediction has shape {tuple(p.shape)} but target has shape {tuple(t.shape)}; "
                         "they must match")
    v = as_image(variance, "variance")
    if v.shape[0] != 1 or v.shape[1:] != p.shape[1:]:
        raise InputError(f"variance has shape {tuple(v.shape)} but the prediction is {tuple(p.shape)}; pass the [H, W] "
                         "variance map (averaged over channels, as estimate() returns it)")
    m = as_mask(mask, p.shape[1:])
    if m is None:
        m = np.ones(p.shape[1:], bool)
    r2 = ((p - t)[:, m] ** 2).mean(axis=0)
    return r2, v[0][m]


def reliability_diagram(prediction: Any, target: Any, variance: Any, bins: int = DEFAULT_BINS, eps: float = 0.0,
                        mask: Any = None) -> Reliability:
    """Reliability diagram data for ENCE (Levi et al. 2022): equal-count bins by predicted
    variance, RMV vs RMSE per bin (see :class:`Reliability` and the module docstring).

    prediction, target: [C, H, W] or [H, W]; variance: [H, W] (shared by the channels); mask:
    valid pixels (e.g. ``valid_mask(depth)``).

    >>> import numpy as np
    >>> from uqcore.metrics import reliability_diagram
    >>> r = reliability_diagram(np.zeros((1, 4)), np.array([[1.0, 1.0, 2.0, 2.0]]), np.array([[1.0, 1.0, 1.0, 1.0]]),
    ...                         bins=2)
    >>> r.rmv, r.rmse, r.count
    (array([1., 1.]), array([1., 2.]), array([2, 2]))
    """
    r2, v = _sq_error_and_variance(prediction, target, variance, mask)
    return reliability_vectors(r2, v, bins=bins, eps=eps)


def ence(prediction: Any, target: Any, variance: Any, bins: int = DEFAULT_BINS, eps: float = 0.0,
         mask: Any = None) -> float:
    """Expected normalised calibration error (Levi et al. 2022): (1/B) sum_j |RMV_j - RMSE_j| / RMV_j
    over B equal-count bins of the pixels sorted by variance (module docstring). 0 is calibrated.

    >>> import numpy as np
    >>> from uqcore.metrics import ence
    >>> ence(np.zeros((1, 2)), np.array([[2.0, 2.0]]), np.ones((1, 2)), bins=1)  # RMSE 2 vs RMV 1
    1.0
    """
    return reliability_diagram(prediction, target, variance, bins=bins, eps=eps, mask=mask).ence


def ence_vectors(sq_error: Any, variance: Any, bins: int = DEFAULT_BINS, eps: float = 0.0, *,
                 order_by: Any = None, hint: Any = None) -> float:
    """:func:`ence` on 1-D squared errors (or [C, N] squared residuals) and variances [N]
    (``order_by``: the bins' sort key; ``hint``: an order that may sort it; as for
    :func:`reliability_vectors`).

    >>> import numpy as np
    >>> from uqcore.metrics import ence_vectors
    >>> ence_vectors(np.array([1.0, 1.0, 16.0, 16.0]), np.array([1.0, 1.0, 4.0, 4.0]), bins=2)
    0.5
    """
    return reliability_vectors(sq_error, variance, bins=bins, eps=eps, order_by=order_by, hint=hint).ence


def _bounds(target: Any, lower: Any, upper: Any, mask: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t, lo, hi = (as_float64(a, n) for a, n in ((target, "target"), (lower, "lower"), (upper, "upper")))
    try:
        shape = np.broadcast_shapes(t.shape, lo.shape, hi.shape)
    except ValueError:
        raise InputError(f"target {t.shape}, lower {lo.shape} and upper {hi.shape} do not broadcast; pass bounds "
                         "of the target's shape ([C, H, W], or [H, W] shared by the channels)") from None
    t, lo, hi = (np.broadcast_to(a, shape) for a in (t, lo, hi))
    if mask is not None:
        m = as_mask(mask, shape[-2:])
        t, lo, hi = t[..., m], lo[..., m], hi[..., m]
    if t.size == 0:
        raise InputError("no values to score; the target is empty")
    check_finite(t, "target")
    if np.isnan(lo).any() or np.isnan(hi).any():
        raise InputError("the interval bounds have NaN values among the scored pixels")
    if (hi < lo).any():
        raise InputError("some upper bounds are below their lower bounds; pass (lower, upper) in that order")
    return t, lo, hi


def coverage(target: Any, lower: Any, upper: Any, mask: Any = None) -> float:
    """Empirical coverage: the fraction of valid values (pixels x channels) with
    lower <= target <= upper. Bounds broadcast against the target (a [H, W] interval is shared by
    the channels); infinite bounds are allowed.

    >>> import numpy as np
    >>> from uqcore.metrics import coverage
    >>> coverage(np.array([[0.0, 1.0, 2.0, 3.0]]), np.zeros((1, 4)), np.full((1, 4), 2.0))  # 0, 1, 2 inside
    0.75
    """
    t, lo, hi = _bounds(target, lower, upper, mask)
    return float(np.mean((lo <= t) & (t <= hi)))


def interval_width(lower: Any, upper: Any, mask: Any = None) -> float:
    """Mean interval width: the mean of upper - lower over the valid values, in output units
    (inf if any bound is infinite).

    >>> import numpy as np
    >>> from uqcore.metrics import interval_width
    >>> interval_width(np.array([[0.0, 1.0]]), np.array([[1.0, 4.0]]))
    2.0
    """
    lo, hi = as_float64(lower, "lower"), as_float64(upper, "upper")
    _, lo, hi = _bounds(np.zeros(np.broadcast_shapes(lo.shape, hi.shape)), lo, hi, mask)
    return float(np.mean(hi - lo))
