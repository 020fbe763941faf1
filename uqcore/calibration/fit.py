"""Fitting the calibrations of :mod:`uqcore.calibration.intervals` from residual vectors.

One image is a pair (signed residuals r = y − ŷ [C, N], variance v [N]) of its valid pixels;
σ = sqrt(v + eps). :func:`fit_values` turns a list of them into the fitted values of one kind
(what a :class:`uqcore.calibration.kinds.Calibration` stores); the kinds, their definitions and
guarantees are documented in :mod:`uqcore.calibration.intervals`. :func:`variance_map` is the isotonic
variance recalibration used by the isotonic kind: the non-decreasing function g of the raw
variance that is the isotonic (pool-adjacent-violators) regression of the squared residual on v
over equal-count bins of the calibration pixels; the recalibrated σ̃ = sqrt(g(v) + eps).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from uqcore.errors import InputError
from uqcore.metrics.ordering import stable_order
from uqcore.scoring.scorer import EPS, fit_scale

KINDS = ("sigma", "isotonic", "conformal", "risk")
DEFAULT_LEVEL = 0.9
DEFAULT_KIND = "conformal"
MAX_VALUES = 4_000_000   # values (pixels × channels) kept for fitting: 32 MB of float64
ISOTONIC_KNOTS = 1000    # the isotonic CDF map is stored as this many + 1 knots
VARIANCE_BINS = "auto"   # bins of the isotonic variance map: chosen by cross-validation over images
BIN_CHOICES = (5, 10, 20, 50, 100)   # ... among these (fewer bins: a smoother map)
CV_FOLDS = 5             # image folds of that cross-validation (leave-one-image-out with fewer images)
MIN_BIN_PIXELS = 50      # each bin has at least this many pixels (fewer bins for small sets)
FITTED_KEYS = {"sigma": ("scale",), "isotonic": ("z", "cdf", "second_moment"), "conformal": ("q",),
               "risk": ("lambda",)}

Vectors = tuple[np.ndarray, np.ndarray]  # (signed residuals [C, N], variance [N]) of one image


# -- checks -----------------------------------------------------------------------------------------
def normal_quantile(p: float | np.ndarray) -> Any:
    """The standard normal quantile Φ⁻¹(p)."""
    from scipy.special import ndtri  # heavy (0.2 s): imported on first use

    return ndtri(p)


def check_level(level: Any) -> float:
    """``level`` as a float in (0, 1), or an InputError."""
    try:
        level = float(level)
    except (TypeError, ValueError):
        raise InputError(f"level must be a number between 0 and 1 such as 0.9, got {level!r}") from None
    if not 0.0 < level < 1.0:
        raise InputError(f"level must be between 0 and 1 (exclusive), e.g. 0.9 for 90 % intervals; got {level}")
    return level


def check_kind(kind: str) -> str:
    """``kind`` if it is one of :data:`KINDS`, else an InputError."""
    if kind not in KINDS:
        raise InputError(f"unknown calibration kind {kind!r}; choose one of {', '.join(KINDS)}")
    return kind


def subsample(res: np.ndarray, v: np.ndarray, budget: int, seed: int, index: int) -> Vectors:
    """At most ``budget`` values (whole pixels) of one image: a seeded random subset of pixels
    (``default_rng([seed, index])``, without replacement)."""
    c, n = res.shape
    keep = max(1, budget // max(c, 1))
    if n <= keep:
        return res, v
    idx = np.sort(np.random.default_rng([int(seed), int(index)]).choice(n, size=keep, replace=False))
    return res[:, idx], v[idx]


# -- the isotonic variance map ----------------------------------------------------------------------
def _pooled(data: Sequence[Vectors]) -> tuple[np.ndarray, np.ndarray]:
    """(channel-mean squared residual [N], variance [N]) of images pooled."""
    r2 = np.concatenate([(np.asarray(r, dtype=np.float64) ** 2).mean(0) for r, _ in data])
    return r2, np.concatenate([np.asarray(v, dtype=np.float64) for _, v in data])


def _by_variance(r2: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pixels in the order of a stable sort by variance (ties: in the order given)."""
    order = stable_order(v)
    return r2[order], v[order]


def _isotonic_knots(r2: np.ndarray, v: np.ndarray, bins: int) -> dict[str, Any]:
    from scipy.optimize import isotonic_regression  # heavy: imported on first use

    b = max(1, min(int(bins), v.size // MIN_BIN_PIXELS))
    order = stable_order(v)
    groups = [g for g in np.array_split(order, b) if g.size]
    vm = np.array([v[g].mean() for g in groups])
    rm = np.array([r2[g].mean() for g in groups])
    w = np.array([g.size for g in groups], dtype=np.float64)
    vm, first = np.unique(vm, return_index=True)   # bins of equal mean variance: one knot, pooled
    rm = np.add.reduceat(rm * w, first) / np.add.reduceat(w, first)
    w = np.add.reduceat(w, first)
    g = isotonic_regression(rm, weights=w, increasing=True).x
    return {"v": vm.tolist(), "g": np.maximum(g, 0.0).tolist(), "bins": len(groups)}


def cross_validated_bins(data: Sequence[Vectors], choices: Sequence[int] = BIN_CHOICES, folds: int = CV_FOLDS,
                         eps: float = EPS, ence_bins: int = 10) -> tuple[int, dict[int, float]]:
    """The bin count of the variance map chosen without looking beyond the calibration images:
    images are split into ``folds`` interleaved folds (image i in fold i mod k; leave-one-image-out
    with fewer images); for each choice, every fold's pixels get the map fitted on the other
    folds and their ENCE (``ence_bins`` equal-count bins of the raw variance) is computed. The
    choice is the fewest bins whose mean ENCE over the folds is within one standard error of the
    lowest mean (the one-standard-error rule: the smoothest map the data cannot tell from the
    best). Returns (bins, {choice: mean ENCE}); with one image, (the largest choice, {})."""
    from uqcore import metrics as M  # the metrics package is heavy: imported on first use

    n = len(data)
    if n < 2:
        return max(choices), {}
    k = min(int(folds), n)
    # each fold's pixels put in raw-variance order once: the stable sorts below (the knots' bins and
    # the ENCE's bins, for every choice) then meet sorted input, which numpy's stable sort passes
    # over in linear time; every bin holds the same pixels in the same order, so the same numbers
    parts = [_by_variance(*_pooled([data[i] for i in range(n) if i % k == f])) for f in range(k)]
    rest = [_by_variance(*_pooled([data[i] for i in range(n) if i % k != f])) for f in range(k)]
    per_fold: dict[int, np.ndarray] = {}
    for b in sorted(set(int(c) for c in choices)):
        per_fold[b] = np.array([M.ence_vectors(parts[f][0], apply_variance_map(_isotonic_knots(*rest[f], b),
                                                                               parts[f][1], eps),
                                               bins=ence_bins, order_by=parts[f][1]) for f in range(k)])
    means = {b: float(e.mean()) for b, e in per_fold.items()}
    best = min(means, key=lambda b: (means[b], b))
    se = float(per_fold[best].std(ddof=1) / math.sqrt(k)) if k > 1 else 0.0
    return min(b for b in means if means[b] <= means[best] + se), means


def variance_map(data: Sequence[Vectors], bins: int | str = VARIANCE_BINS, eps: float = EPS) -> dict[str, Any]:
    """Isotonic variance recalibration: B equal-count bins of the pooled calibration pixels
    sorted by raw variance v (B = ``bins``, fewer so that each has >= :data:`MIN_BIN_PIXELS`;
    ``"auto"``: chosen by :func:`cross_validated_bins`), per bin the mean v and the mean squared
    residual (over channels and pixels), and g = the weighted isotonic (non-decreasing)
    regression of the bins' mean squared residual on their mean v. Stored as knots ``{"v": bin
    mean variances, "g": fitted values, "bins": B}`` (with ``"cv"``: the cross-validated ENCE
    per choice); :func:`apply_variance_map` interpolates linearly between knots and holds the end
    values beyond them. A calibrated map (E[r²|v] = v) gives g ≈ v."""
    cv: dict[int, float] = {}
    if bins == "auto":
        bins, cv = cross_validated_bins(data, eps=eps)
    out = _isotonic_knots(*_pooled(data), int(bins))
    if cv:
        out["cv"] = {str(b): float(e) for b, e in cv.items()}
    return out


def apply_variance_map(vmap: dict[str, Any] | None, v: Any, eps: float) -> np.ndarray:
    """σ̃² = g(v) + eps for the map of :func:`variance_map`; v + eps without one (``None``:
    calibrations fitted before the map existed)."""
    v = np.asarray(v, dtype=np.float64)
    if not vmap:
        return v + eps
    return np.interp(v, vmap["v"], vmap["g"]) + eps


# -- fitting ----------------------------------------------------------------------------------------
def standardised(data: Sequence[Vectors], eps: float, vmap: dict[str, Any] | None = None) -> list[np.ndarray]:
    """Per image r/σ [C, N] (σ² = v + eps, or the variance map's g(v) + eps)."""
    return [np.asarray(r, dtype=np.float64) / np.sqrt(apply_variance_map(vmap, v, eps))[None] for r, v in data]


def _fit_sigma(data: Sequence[Vectors]) -> dict[str, Any]:
    scale = fit_scale([((np.asarray(r, dtype=np.float64) ** 2).mean(0), np.asarray(v, dtype=np.float64))
                       for r, v in data])
    if not math.isfinite(scale):
        raise InputError("σ-scaling cannot be fitted: the variance is zero on every calibration pixel (or the "
                         "prediction equals the target); use kind='conformal' or another method")
    return {"scale": scale}


def _fit_conformal(data: Sequence[Vectors], level: float, eps: float) -> dict[str, Any]:
    scores = np.abs(np.concatenate([z.ravel() for z in standardised(data, eps)]))
    n = scores.size
    rank = int(math.ceil((n + 1) * level - 1e-9))
    if rank > n:
        raise InputError(f"{n} calibration value(s) are too few for a {level:.0%} conformal interval; it needs at "
                         f"least {math.ceil(level / (1 - level))}")
    q = float(np.partition(scores, rank - 1)[rank - 1])
    return {"q": q, "rank": rank, "n": n, "n_images": len(data)}


def _fit_risk(data: Sequence[Vectors], level: float, eps: float) -> dict[str, Any]:
    n, alpha = len(data), 1.0 - level
    target = ((n + 1) * alpha - 1.0) / n
    if target < -1e-12:
        raise InputError(f"risk control at level {level:g} needs at least {math.ceil(1 / alpha - 1 - 1e-9)} "
                         f"calibration images (n >= 1/α − 1); got {n}. Use kind='conformal' or more images")
    scores, weights = [], []
    for z in standardised(data, eps):
        s = np.abs(z).ravel()
        scores.append(s)
        weights.append(np.full(s.size, 1.0 / (n * s.size)))
    s, w = np.concatenate(scores), np.concatenate(weights)
    order = stable_order(s)
    s, w = s[order], w[order]
    values, first = np.unique(s, return_index=True)
    tail = 1.0 - np.cumsum(np.add.reduceat(w, first))  # mean loss at λ = values[k]: weight strictly above
    k = int(np.argmax(tail <= max(target, 0.0) + 1e-12))
    return {"lambda": float(values[k]), "n_images": n, "mean_loss": float(max(tail[k], 0.0))}


def _fit_isotonic(data: Sequence[Vectors], eps: float, vmap: dict[str, Any] | None,
                  knots: int = ISOTONIC_KNOTS) -> dict[str, Any]:
    z = np.sort(np.concatenate([s.ravel() for s in standardised(data, eps, vmap)]))
    n = z.size
    if n < 2:
        raise InputError("isotonic recalibration needs at least 2 calibration values")
    ecdf = np.searchsorted(z, z, side="right") / n          # P̂ at each value (ties share the top rank)
    idx = np.unique(np.round(np.linspace(0, n - 1, min(knots, n - 1) + 1)).astype(np.int64))
    zk, ck = z[idx], ecdf[idx]
    zk, first = np.unique(zk, return_index=True)             # ties in z: one knot
    ck = np.maximum.accumulate(ck[first])
    # moments of G itself (the empirical distribution of the calibration values), not of the stored
    # piecewise-linear knots: interpolating across the sparse extreme tail (the last knot spans the
    # top 0.1 % of the mass, up to |z| ~ 40 for raw maps) inflates the second moment (1.8 vs 1.0
    # on an SR map of this repository)
    m1, m2 = float(z.mean()), float(np.mean(z ** 2))
    out = {"z": zk.tolist(), "cdf": ck.tolist(), "mean": float(m1), "second_moment": float(m2), "n": n}
    if vmap is not None:
        out["variance_map"] = vmap
    return out


def fit_values(kind: str, data: Sequence[Vectors], level: float = DEFAULT_LEVEL, eps: float = EPS, *,
               variance_bins: int | str | None = VARIANCE_BINS) -> dict[str, Any]:
    """The fitted values of calibration ``kind`` from per-image (signed residuals [C, N],
    variance [N]) vectors (see :mod:`uqcore.calibration.intervals` for each kind). ``variance_bins``
    (isotonic only): the bins of the isotonic variance map (:func:`variance_map`; "auto":
    cross-validated over the images); None or 0: no variance map -- Kuleshov's recalibration of
    r/sqrt(v + eps) alone."""
    check_kind(kind)
    level = check_level(level)
    data = [(np.atleast_2d(np.asarray(r, dtype=np.float64)), np.asarray(v, dtype=np.float64).ravel()) for r, v in data]
    if not data or sum(v.size for _, v in data) == 0:
        raise InputError("no calibration pixels: give at least one (input, target) pair with valid ground truth")
    for r, v in data:
        if r.shape[-1] != v.size:
            raise InputError(f"residuals {r.shape} and variance {v.shape} do not match; pass [C, N] and [N]")
        if (v < 0).any() or not np.isfinite(v).all() or not np.isfinite(r).all():
            raise InputError("calibration residuals and variances must be finite, variances >= 0")
    if kind == "sigma":
        return _fit_sigma(data)
    if kind == "conformal":
        return _fit_conformal(data, level, eps)
    if kind == "risk":
        return _fit_risk(data, level, eps)
    return _fit_isotonic(data, eps, variance_map(data, variance_bins, eps) if variance_bins else None)
