"""Uncertainty metrics: error maps, sparsification / AUSE / AURG, correlations, NLL, calibration.

Every function is functional: validate -> compute -> return a float / numpy array. Inputs may be
numpy arrays or torch tensors (CPU or CUDA); each input is copied to the host once and computed
on in float64. Memory stays O(pixels): sparsification sorts once and uses cumulative sums, the
calibration curve sorts once and uses ``searchsorted`` (no pixels x bins matrices).

Definitions (the contract of DESIGN.md):

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
  Lower AUSE / higher AURG is better.
* **Levels** (paper's supplement), for correlations and AUSE alike:
  ``pixel`` -- the pixels of one image; ``patch`` -- error and uncertainty replaced by their
  means over non-overlapping ``patch`` x ``patch`` tiles anchored at the top-left corner (a
  partial tile at the right / bottom edge is its own, smaller tile; tile means use valid pixels
  only), then computed over the (valid) pixels, so each tile weighs by its pixel count;
  ``block`` -- the same with superpixels of the *prediction* (:func:`superpixels`) instead of
  tiles; ``mean`` -- over a set of images, one point per image: the per-image mean error and
  mean uncertainty (pass lists of maps, or 1-D arrays of per-image values).
  In a dataset report pixel / patch / block values are averaged over images.
* **Correlation** -- Pearson's r (:func:`pearson`); Spearman's rho (:func:`spearman`, ties get
  average ranks) as an extra. A constant input has no correlation: the result is NaN.
* **NLL** -- Gaussian, mean over pixels (and channels) of
  1/2 log(2 pi (sigma^2 + eps)) + (y - mu)^2 / (2 (sigma^2 + eps)).
* **Calibration** (Kuleshov et al. 2018) -- for confidence levels p, the observed fraction of
  targets inside the central Gaussian interval mu +- z_{(1+p)/2} sigma against the expected p.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from uqcore.errors import InputError

LEVELS = ("pixel", "patch", "block", "mean")

# Superpixel parameters (block level); see :func:`superpixels`.
SLIC_COMPACTNESS = 10.0
SLIC_PIXELS_PER_SEGMENT = 256  # = a 16 x 16 tile, the default patch size


# -- conversion / validation ---------------------------------------------------------------------
def _host(x: Any, name: str) -> np.ndarray:
    """numpy float64 copy of an array or torch tensor (one device-to-host transfer)."""
    if x is None:
        raise InputError(f"{name} is missing; pass a numpy array or torch tensor")
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor without importing torch
        x = x.detach()
        if getattr(x, "dtype", None) is not None and str(x.dtype) in ("torch.bfloat16", "torch.float16"):
            x = x.float()
        x = x.cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a numeric array or tensor, got {type(x).__name__}") from exc
    return arr


def _squeeze_to(arr: np.ndarray, ndim: int) -> np.ndarray:
    while arr.ndim > ndim and arr.shape[0] == 1:
        arr = arr[0]
    return arr


def _map2d(x: Any, name: str) -> np.ndarray:
    """A 2-D [H, W] map (leading singleton dimensions are dropped)."""
    arr = _squeeze_to(_host(x, name), 2)
    if arr.ndim != 2:
        raise InputError(
            f"{name} must be a 2-D [H, W] map, got shape {tuple(arr.shape)}; "
            "average over channels first (error_map() and estimate().variance already do)"
        )
    if arr.size == 0:
        raise InputError(f"{name} is empty (shape {tuple(arr.shape)})")
    return arr


def _image(x: Any, name: str) -> np.ndarray:
    """A [C, H, W] image ([H, W] becomes [1, H, W]; a leading batch of 1 is dropped)."""
    arr = _squeeze_to(_host(x, name), 3)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise InputError(f"{name} must be [C, H, W] or [H, W] (batch of 1 allowed), got shape {tuple(arr.shape)}")
    if arr.size == 0:
        raise InputError(f"{name} is empty (shape {tuple(arr.shape)})")
    return arr


def _mask(mask: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """Bool [H, W] mask or None; raises if it selects nothing."""
    if mask is None:
        return None
    if hasattr(mask, "detach") and hasattr(mask, "cpu"):
        mask = mask.detach().cpu().numpy()
    m = _squeeze_to(np.asarray(mask), 2)
    if m.shape != tuple(shape):
        raise InputError(f"mask has shape {tuple(m.shape)} but the maps are {tuple(shape)}; pass a [H, W] mask of the map's size")
    m = m.astype(bool)
    if not m.any():
        raise InputError("the mask selects no pixels; there is nothing to score (check the ground truth: all of it is invalid)")
    return m


def _check_finite(values: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        raise InputError(
            f"{name} has {int(bad.sum())} NaN/inf value(s) among the scored pixels; "
            "exclude them with mask= (e.g. mask=valid_mask(target)) or fix the input"
        )


def _same_shape(a: np.ndarray, b: np.ndarray, na: str, nb: str) -> None:
    if a.shape != b.shape:
        raise InputError(f"{na} has shape {tuple(a.shape)} but {nb} has shape {tuple(b.shape)}; they must match")


# -- maps ----------------------------------------------------------------------------------------
def valid_mask(target: Any) -> np.ndarray:
    """Bool [H, W]: pixels with valid ground truth -- finite and > 0 in every channel.

    Meant for depth (missing depth is stored as 0, NaN or inf). ``target`` is [H, W] or
    [C, H, W] (a leading batch of 1 is dropped)."""
    t = _image(target, "target")
    with np.errstate(invalid="ignore"):
        return np.all(np.isfinite(t) & (t > 0), axis=0)


def error_map(prediction: Any, target: Any, kind: str = "abs", mask: Any = None) -> np.ndarray:
    """Per-pixel error, averaged over channels: float64 [H, W].

    ``kind="abs"``: |prediction - target|; ``kind="sq"``: (prediction - target)^2.
    ``prediction`` and ``target`` are [C, H, W] or [H, W] (a leading batch of 1 is dropped);
    a [H, W] target is broadcast against a [C, H, W] prediction. Pixels outside ``mask`` are NaN
    in the result -- pass the same mask to the metric functions."""
    if kind not in ("abs", "sq"):
        raise InputError(f"kind must be 'abs' or 'sq', got {kind!r}")
    p = _image(prediction, "prediction")
    t = _image(target, "target")
    if p.shape[1:] != t.shape[1:] or (t.shape[0] not in (1, p.shape[0])):
        raise InputError(
            f"prediction has shape {tuple(p.shape)} but target has shape {tuple(t.shape)}; "
            "they must have the same height and width (resize or crop one of them)"
        )
    m = _mask(mask, p.shape[1:])
    with np.errstate(invalid="ignore"):
        d = p - t
        err = (np.abs(d) if kind == "abs" else d * d).mean(axis=0)
    if m is not None:
        err[~m] = np.nan
    return err


# -- pooling (patch / block levels) --------------------------------------------------------------
def patch_labels(shape: tuple[int, int], patch: int = 16) -> np.ndarray:
    """int64 [H, W] tile index of every pixel: non-overlapping ``patch`` x ``patch`` tiles
    anchored at the top-left; a partial tile at the right / bottom edge is its own tile."""
    if int(patch) < 1:
        raise InputError(f"patch must be a positive integer, got {patch!r}")
    patch = int(patch)
    h, w = shape
    cols = -(-w // patch)
    rows = np.arange(h) // patch
    colsi = np.arange(w) // patch
    return rows[:, None] * cols + colsi[None, :]


def superpixels(prediction: Any, n_segments: int | None = None, compactness: float = SLIC_COMPACTNESS) -> np.ndarray:
    """int64 [H, W] superpixel labels (0..S-1) of a prediction, for the block level.

    Algorithm: ``skimage.segmentation.slic`` (SLIC, Achanta et al. 2012) with
    ``n_segments = max(1, round(H*W / 256))`` (about one segment per 16 x 16 tile, the default
    patch size), ``compactness=10``, ``sigma=0``, ``start_label=0``, ``enforce_connectivity=True``,
    ``max_num_iter=10``. A 3-channel prediction is clipped to [0, 1] and segmented in CIELAB
    (``convert2lab=True``, L in 0..100). Any other channel count (e.g. depth in metres) is
    min-max normalised per image to 0..100 -- the same range as L -- so that ``compactness``
    means the same thing for every task. Labels are relabelled to be consecutive. If enforcing
    connectivity leaves a single segment (an unstructured, noise-like prediction), SLIC is rerun
    with ``enforce_connectivity=False`` so the block level still has blocks."""
    from skimage.segmentation import slic

    p = _image(prediction, "prediction")
    c, h, w = p.shape
    _check_finite(p, "prediction")
    if n_segments is None:
        n_segments = max(1, int(round(h * w / SLIC_PIXELS_PER_SEGMENT)))
    img = np.moveaxis(p, 0, -1)
    if c == 3:
        img = np.clip(img, 0.0, 1.0)
        lab = True
    else:
        lo, hi = float(img.min()), float(img.max())
        img = (img - lo) / (hi - lo) * 100.0 if hi > lo else np.zeros_like(img)
        lab = False
    kw = dict(n_segments=int(n_segments), compactness=float(compactness), sigma=0, start_label=0,
              max_num_iter=10, convert2lab=lab, channel_axis=-1)
    labels = slic(img, enforce_connectivity=True, **kw)
    if labels.max() == 0 and n_segments > 1:
        # Pure noise (no structure) makes every SLIC cluster fragmented, and enforcing
        # connectivity then merges everything into one segment; keep the clusters instead.
        labels = slic(img, enforce_connectivity=False, **kw)
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse.reshape(h, w).astype(np.int64)


def _pool(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each entry replaced by the mean of its label group (1-D arrays of equal length)."""
    counts = np.bincount(labels)
    sums = np.bincount(labels, weights=values)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    return means[labels]


def _labels_for(level: str, shape: tuple[int, int], patch: int, segments: Any, prediction: Any) -> np.ndarray:
    if level == "patch":
        return patch_labels(shape, patch)
    # block
    if segments is not None:
        if hasattr(segments, "detach"):
            segments = segments.detach().cpu().numpy()
        seg = _squeeze_to(np.asarray(segments), 2)
        if seg.shape != tuple(shape):
            raise InputError(f"segments has shape {tuple(seg.shape)} but the maps are {tuple(shape)}; they must match")
        if not np.issubdtype(seg.dtype, np.integer):
            raise InputError("segments must be an integer label map (e.g. from uqcore.metrics.superpixels)")
        _, inverse = np.unique(seg, return_inverse=True)
        return inverse.reshape(shape).astype(np.int64)
    if prediction is None:
        raise InputError(
            "the block level needs superpixels of the prediction: pass prediction= (the model output) "
            "or segments=uqcore.metrics.superpixels(prediction)"
        )
    seg = superpixels(prediction)
    if seg.shape != tuple(shape):
        raise InputError(f"prediction is {seg.shape[0]}x{seg.shape[1]} but the maps are {shape[0]}x{shape[1]}; they must match")
    return seg


def _image_means(maps: Any, masks: Any, name: str) -> np.ndarray:
    """Per-image means for the ``mean`` level: a 1-D array passes through (already per image)."""
    if isinstance(maps, np.ndarray) or hasattr(maps, "detach"):
        arr = _host(maps, name)
        if arr.ndim == 1:
            return arr
        if arr.ndim != 3:
            raise InputError(f"the mean level needs a list of [H, W] maps, a [N, H, W] array or 1-D per-image values; {name} has shape {tuple(arr.shape)}")
        items = list(arr)
    elif isinstance(maps, Sequence):
        items = list(maps)
    else:
        raise InputError(f"the mean level needs a list of per-image maps for {name}, got {type(maps).__name__}")
    if not items:
        raise InputError(f"{name} is an empty list; the mean level needs at least two images")
    if masks is None or (isinstance(masks, np.ndarray) and masks.ndim == 2) or hasattr(masks, "detach"):
        masks = [masks] * len(items)
    elif len(masks) != len(items):
        raise InputError(f"got {len(items)} {name} maps but {len(masks)} masks; pass one mask per image")
    out = np.empty(len(items))
    for i, (m, k) in enumerate(zip(items, masks)):
        a = _map2d(m, f"{name}[{i}]")
        k = _mask(k, a.shape)
        v = a[k] if k is not None else a.ravel()
        _check_finite(v, f"{name}[{i}]")
        out[i] = v.mean()
    return out


def _prepare(error: Any, uncertainty: Any, level: str, mask: Any, patch: int, segments: Any, prediction: Any,
             masks: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Validated 1-D (error, uncertainty) vectors of the scored points at ``level``."""
    if level not in LEVELS:
        raise InputError(f"level must be one of {LEVELS}, got {level!r}")
    if level == "mean":
        if masks is None:
            masks = mask  # a list of per-image masks, or one mask for all images
        e = _image_means(error, masks, "error")
        u = _image_means(uncertainty, masks, "uncertainty")
        if e.shape != u.shape:
            raise InputError(f"got {e.size} error values but {u.size} uncertainty values; pass one of each per image")
        _check_finite(e, "error")
        _check_finite(u, "uncertainty")
        return e, u
    e = _map2d(error, "error")
    u = _map2d(uncertainty, "uncertainty")
    _same_shape(e, u, "error", "uncertainty")
    m = _mask(mask, e.shape)
    if m is None:
        ev, uv = e.ravel(), u.ravel()
    else:
        ev, uv = e[m], u[m]
    _check_finite(ev, "error")
    _check_finite(uv, "uncertainty")
    if level == "pixel":
        return ev, uv
    labels = _labels_for(level, e.shape, patch, segments, prediction)
    lv = labels.ravel() if m is None else labels[m]
    return _pool(ev, lv), _pool(uv, lv)


# -- sparsification ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sparsification:
    """Sparsification curves, each normalised to start at 1 (see the module docstring).

    fractions: f_k = k/K, k = 0..K-1; estimate / oracle / random: the normalised mean error of
    the remaining points; mean_error: the un-normalised mean error at f = 0."""

    fractions: np.ndarray
    estimate: np.ndarray
    oracle: np.ndarray
    random: np.ndarray
    mean_error: float

    @property
    def ause(self) -> float:
        return _area(self.estimate - self.oracle, len(self.fractions))

    @property
    def aurg(self) -> float:
        return _area(self.random - self.estimate, len(self.fractions))


def _area(diff: np.ndarray, steps: int) -> float:
    """Trapezoid rule over the K points with spacing 1/K."""
    if diff.size < 2:
        return 0.0
    return float((diff[:-1] + diff[1:]).sum() / 2.0 / steps)


def _removal_counts(n: int, steps: int) -> np.ndarray:
    return (np.arange(steps, dtype=np.int64) * n) // steps  # floor(k/K * N), exact in integers


def _remaining_means(error: np.ndarray, score: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Mean error left after removing the ``counts`` highest-``score`` points; ties averaged."""
    n = error.size
    order = np.argsort(-score, kind="stable")
    s = score[order]
    csum = np.concatenate(([0.0], np.cumsum(error[order])))
    # start position of the tie group of every sorted position
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    np.not_equal(s[1:], s[:-1], out=new_group[1:])
    starts = np.flatnonzero(new_group)
    ends = np.append(starts[1:], n)
    removed = np.zeros(counts.size)
    pos = counts > 0
    g = np.searchsorted(starts, counts[pos] - 1, side="right") - 1  # group of the last removed point
    a, b = starts[g], ends[g]
    m = counts[pos]
    removed[pos] = csum[a] + (m - a) * (csum[b] - csum[a]) / (b - a)
    return (csum[n] - removed) / (n - counts)


def _check_steps(steps: int) -> int:
    if int(steps) != steps or int(steps) < 2:
        raise InputError(f"steps must be an integer >= 2, got {steps!r}")
    return int(steps)


def _sparsification_vectors(e: np.ndarray, u: np.ndarray, steps: int) -> Sparsification:
    steps = _check_steps(steps)
    n = e.size
    fractions = np.arange(steps) / steps
    counts = _removal_counts(n, steps)
    est = _remaining_means(e, u, counts)
    ora = _remaining_means(e, e, counts)
    mean = float(e.sum() / n)
    if mean == 0.0:
        z = np.zeros(steps)
        return Sparsification(fractions, z, z.copy(), z.copy(), 0.0)
    return Sparsification(fractions, est / mean, ora / mean, np.ones(steps), mean)


def sparsification(error: Any, uncertainty: Any, steps: int = 50, mask: Any = None, *, level: str = "pixel",
                   patch: int = 16, segments: Any = None, prediction: Any = None, masks: Any = None) -> Sparsification:
    """Sparsification curves of ``uncertainty`` against ``error`` (see the module docstring).

    error, uncertainty: [H, W] maps (numpy or torch) of the same shape; for ``level="mean"``
    lists of per-image maps (with ``masks=`` a list of per-image masks) or 1-D per-image values.
    Returns :class:`Sparsification` with ``.fractions``, ``.estimate``, ``.oracle``, ``.random``
    (numpy, K = ``steps`` points, normalised to start at 1) and ``.ause`` / ``.aurg``.
    Ranking: descending uncertainty (oracle: descending error); tied values are averaged, so the
    result does not depend on pixel order. O(N log N) time, O(N) memory."""
    e, u = _prepare(error, uncertainty, level, mask, patch, segments, prediction, masks)
    return _sparsification_vectors(e, u, steps)


def ause(error: Any, uncertainty: Any, steps: int = 50, mask: Any = None, **kwargs: Any) -> float:
    """Area Under the Sparsification Error: area between the estimate and oracle curves
    (trapezoid over f_k = k/K, spacing 1/K). Lower is better; 0 for a perfect ranking.
    Same arguments as :func:`sparsification` (``level=``, ``patch=``, ``segments=``, ...)."""
    return sparsification(error, uncertainty, steps, mask, **kwargs).ause


def aurg(error: Any, uncertainty: Any, steps: int = 50, mask: Any = None, **kwargs: Any) -> float:
    """Area Under the Random Gain: area between the random and estimate curves (trapezoid over
    f_k = k/K, spacing 1/K). Higher is better; about 0 for a random uncertainty."""
    return sparsification(error, uncertainty, steps, mask, **kwargs).aurg


# -- correlation ---------------------------------------------------------------------------------
def _pearson_vectors(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 2:
        return float("nan")
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    xc = x - x.mean()
    yc = y - y.mean()
    # np.sum(a * b), not np.dot: BLAS threads contend badly on a busy CPU (50x slower here)
    den = np.sqrt(np.sum(xc * xc) * np.sum(yc * yc))
    if den == 0 or not np.isfinite(den):
        return float("nan")
    return float(np.clip(np.sum(xc * yc) / den, -1.0, 1.0))


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values get the average of their ranks (scipy's "average")."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    new_group = np.empty(x.size, dtype=bool)
    new_group[0] = True
    np.not_equal(xs[1:], xs[:-1], out=new_group[1:])
    group = np.cumsum(new_group) - 1
    starts = np.flatnonzero(new_group)
    ends = np.append(starts[1:], x.size)
    ranks = np.empty(x.size)
    ranks[order] = ((starts + ends - 1) / 2.0 + 1.0)[group]
    return ranks


def pearson(error: Any, uncertainty: Any, level: str = "pixel", patch: int = 16, segments: Any = None,
            prediction: Any = None, mask: Any = None, masks: Any = None) -> float:
    """Pearson correlation between error and uncertainty at ``level``.

    pixel: over the (valid) pixels of one image. patch: error and uncertainty replaced by their
    means over non-overlapping ``patch`` x ``patch`` tiles (partial edge tiles are their own
    tiles), then Pearson over the pixels. block: the same with superpixels of the prediction
    (``segments=`` labels, or ``prediction=`` to compute them with :func:`superpixels`).
    mean: ``error`` / ``uncertainty`` are lists of per-image maps (or 1-D per-image values);
    Pearson between per-image mean error and per-image mean uncertainty.
    Returns NaN when either side is constant (no correlation is defined)."""
    e, u = _prepare(error, uncertainty, level, mask, patch, segments, prediction, masks)
    return _pearson_vectors(e, u)


def spearman(error: Any, uncertainty: Any, level: str = "pixel", patch: int = 16, segments: Any = None,
             prediction: Any = None, mask: Any = None, masks: Any = None) -> float:
    """Spearman rank correlation (Pearson of average ranks) at ``level``; arguments as
    :func:`pearson`. NaN when either side is constant."""
    e, u = _prepare(error, uncertainty, level, mask, patch, segments, prediction, masks)
    if e.size < 2 or np.ptp(e) == 0 or np.ptp(u) == 0:
        return float("nan")
    return _pearson_vectors(_ranks(e), _ranks(u))


def correlations(error: Any, uncertainty: Any, mask: Any = None, patch: int = 16, segments: Any = None,
                 prediction: Any = None, steps: int = 50) -> dict[str, float]:
    """All single-image numbers in one pass over the inputs: ``{level: value}`` for Pearson
    (``corr_<level>``), Spearman (``spearman_<level>``), AUSE (``ause_<level>``) and AURG
    (``aurg_<level>``) at the pixel, patch and (when ``segments`` or ``prediction`` is given)
    block levels."""
    e = _map2d(error, "error")
    u = _map2d(uncertainty, "uncertainty")
    out: dict[str, float] = {}
    levels = ["pixel", "patch"]
    if segments is not None or prediction is not None:
        levels.append("block")
        if segments is None:
            segments = superpixels(prediction)
    for level in levels:
        ev, uv = _prepare(e, u, level, mask, patch, segments, None)
        out[f"corr_{level}"] = _pearson_vectors(ev, uv)
        out[f"spearman_{level}"] = (float("nan") if ev.size < 2 or np.ptp(ev) == 0 or np.ptp(uv) == 0
                                    else _pearson_vectors(_ranks(ev), _ranks(uv)))
        sp = _sparsification_vectors(ev, uv, steps)
        out[f"ause_{level}"] = sp.ause
        out[f"aurg_{level}"] = sp.aurg
    return out


# -- likelihood and calibration ------------------------------------------------------------------
def _gaussian_inputs(prediction: Any, target: Any, variance: Any, mask: Any, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(squared residuals, variances + eps) as 1-D vectors over valid pixels x channels."""
    if eps < 0:
        raise InputError(f"eps must be >= 0, got {eps!r}")
    p = _image(prediction, "prediction")
    t = _image(target, "target")
    if t.shape[1:] != p.shape[1:] or t.shape[0] not in (1, p.shape[0]):
        raise InputError(f"prediction has shape {tuple(p.shape)} but target has shape {tuple(t.shape)}; they must match")
    v = _image(variance, "variance")
    if v.shape[1:] != p.shape[1:] or v.shape[0] not in (1, p.shape[0]):
        raise InputError(
            f"variance has shape {tuple(v.shape)} but the prediction is {tuple(p.shape)}; pass a [H, W] variance "
            "(broadcast over channels) or one per channel [C, H, W]"
        )
    m = _mask(mask, p.shape[1:])
    c = p.shape[0]
    if m is not None:
        pv = p[:, m]
        tv = np.broadcast_to(t[:, m], pv.shape)
        vv = np.broadcast_to(v[:, m], pv.shape)
    else:
        pv = p.reshape(c, -1)
        tv = np.broadcast_to(t.reshape(t.shape[0], -1), pv.shape)
        vv = np.broadcast_to(v.reshape(v.shape[0], -1), pv.shape)
    _check_finite(pv, "prediction")
    _check_finite(tv, "target")
    _check_finite(vv, "variance")
    if (vv < 0).any():
        raise InputError("variance has negative values; pass a variance (>= 0), not a log-variance or a signed score")
    r2 = (pv - tv) ** 2
    var = vv + eps
    if (var <= 0).any():
        raise InputError("variance + eps is 0 at some pixels; use eps > 0 (the default 1e-6) for zero-variance pixels")
    return r2.ravel(), var.ravel()


def nll(prediction: Any, target: Any, variance: Any, eps: float = 1e-6, mask: Any = None) -> float:
    """Gaussian negative log-likelihood (nats), mean over valid pixels and channels of
    1/2 log(2 pi (sigma^2 + eps)) + (y - mu)^2 / (2 (sigma^2 + eps)).

    prediction (mu), target (y): [C, H, W] or [H, W]; variance (sigma^2): [H, W], broadcast over
    the channels (the channel-averaged variance of ``estimate``), or [C, H, W] per channel.
    Equals ``torch.nn.GaussianNLLLoss(full=True)`` with variance ``sigma^2 + eps``."""
    r2, var = _gaussian_inputs(prediction, target, variance, mask, eps)
    return float(np.mean(0.5 * np.log(2.0 * np.pi * var) + r2 / (2.0 * var)))


def _normal_ppf(q: np.ndarray) -> np.ndarray:
    from scipy.special import ndtri

    return ndtri(q)


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr

    return ndtr(z)


def default_levels() -> np.ndarray:
    """The default confidence levels p = 0.05, 0.10, ..., 0.95."""
    return np.round(np.arange(1, 20) * 0.05, 10)


def calibration_curve(prediction: Any, target: Any, variance: Any, levels: Any = None, eps: float = 1e-6,
                      mask: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """(expected, observed) coverage of central Gaussian intervals (Kuleshov et al. 2018).

    For each confidence level p (default 0.05, 0.10, ..., 0.95) the observed value is the
    fraction of valid pixels x channels with |y - mu| <= z_{(1+p)/2} * sqrt(sigma^2 + eps)
    (z: the standard normal quantile), i.e. inside the central p-interval. A calibrated
    predictor lies on the diagonal; observed < expected means over-confident (variance too
    small). Sorts the standardised residuals once: O(N log N), O(N) memory.
    ``prediction``, ``target``, ``variance`` may also be lists (one entry per image), in which
    case the pixels of all images are pooled (``mask`` then a list of masks or None)."""
    lv = default_levels() if levels is None else np.asarray(levels, dtype=np.float64).ravel()
    if lv.size == 0 or (lv < 0).any() or (lv > 1).any():
        raise InputError("levels must be confidence levels in [0, 1], e.g. [0.1, 0.5, 0.9]")
    r2, var = _pooled_gaussian(prediction, target, variance, mask, eps)
    # position of each residual in probability space: 2*Phi(|r|/sigma) - 1, compared with p
    p_needed = np.sort(2.0 * _normal_cdf(np.sqrt(r2 / var)) - 1.0)
    observed = np.searchsorted(p_needed, lv, side="right") / p_needed.size
    return lv.copy(), observed


def calibration_error(prediction: Any, target: Any, variance: Any, levels: Any = None, eps: float = 1e-6,
                      mask: Any = None) -> float:
    """Regression calibration error of Kuleshov et al. (2018), sum_j w_j (p_j - p^_j)^2 with
    w_j = 1/m over the m levels of :func:`calibration_curve` (i.e. the mean squared gap between
    expected and observed coverage of central Gaussian intervals). 0 is perfectly calibrated."""
    expected, observed = calibration_curve(prediction, target, variance, levels, eps, mask)
    return float(np.mean((expected - observed) ** 2))


def _as_list(x: Any) -> list:
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _pooled_gaussian(prediction: Any, target: Any, variance: Any, mask: Any, eps: float) -> tuple[np.ndarray, np.ndarray]:
    ps, ts, vs = _as_list(prediction), _as_list(target), _as_list(variance)
    if not (len(ps) == len(ts) == len(vs)):
        raise InputError(f"got {len(ps)} predictions, {len(ts)} targets and {len(vs)} variances; pass one of each per image")
    if isinstance(mask, (list, tuple)):
        ms = list(mask)
        if len(ms) != len(ps):
            raise InputError(f"got {len(ps)} images but {len(ms)} masks; pass one mask (or None) per image")
    else:
        ms = [mask] * len(ps)
    if not ps:
        raise InputError("no images given; pass at least one (prediction, target, variance)")
    parts = [_gaussian_inputs(p, t, v, m, eps) for p, t, v, m in zip(ps, ts, vs, ms)]
    return np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts])


# -- sigma-scaling -------------------------------------------------------------------------------
def fit_variance_scale(prediction: Any, target: Any, variance: Any, eps: float = 1e-6, mask: Any = None) -> float:
    """The factor s > 0 that minimises the Gaussian NLL of ``s * variance`` on a calibration set
    ("sigma-scaling" of the variance; Laves et al. 2020 / Kuleshov et al. 2018).

    With eps = 0 the minimiser has the closed form s = mean((y - mu)^2 / sigma^2) over valid
    pixels x channels. With eps > 0 (NLL evaluated at s*sigma^2 + eps, exactly as :func:`nll`
    and :func:`apply_variance_scale` then use it) the closed form ignoring eps is the starting
    point and the exact minimiser over log s is found by bounded Brent search. Pixels with
    zero variance cannot be rescaled and are left out of the fit.
    Arguments may be lists (one entry per image; pixels pooled), like :func:`calibration_curve`."""
    r2, var_eps = _pooled_gaussian(prediction, target, variance, mask, eps)
    return fit_scale_vectors(r2, var_eps - eps, eps)


def fit_scale_vectors(r2: np.ndarray, v: np.ndarray, eps: float = 1e-6) -> float:
    """:func:`fit_variance_scale` on 1-D vectors of squared residuals and variances (no eps).

    For a variance shared by the C channels of a pixel, the mean over channels of the squared
    residual is a sufficient statistic, so ``r2`` may be [C, N] or its channel mean [N]."""
    r2 = np.asarray(r2, dtype=np.float64)
    if r2.ndim == 2:  # [C, N] with a shared variance per pixel: the channel mean suffices
        r2 = r2.mean(axis=0)
    r2 = r2.ravel()
    v = np.asarray(v, dtype=np.float64).ravel()
    if v.size == 0:
        raise InputError("no pixels to fit the variance scale on; give a non-empty calibration set")
    keep = v > 0
    if not keep.any():
        raise InputError("the variance is zero everywhere on the calibration set; a zero variance cannot be rescaled")
    r2, v = r2[keep], v[keep]
    s0 = float(np.mean(r2 / v))
    if s0 == 0.0:
        raise InputError("the prediction equals the target on the whole calibration set; no variance scale can be fitted")
    if eps == 0.0:
        return s0
    from scipy.optimize import minimize_scalar

    def objective(t: float) -> float:
        var = np.exp(t) * v + eps
        return float(np.mean(0.5 * np.log(var) + r2 / (2.0 * var)))

    t0 = np.log(s0)
    res = minimize_scalar(objective, bounds=(t0 - 30.0, t0 + 30.0), method="bounded",
                          options={"xatol": 1e-8, "maxiter": 500})
    best = float(res.x)
    if objective(t0) < objective(best):
        best = t0
    return float(np.exp(best))


def nll_vectors(r2: np.ndarray, v: np.ndarray, eps: float = 1e-6) -> float:
    """:func:`nll` on squared residuals ``r2`` ([N] or [C, N]) and variances ``v`` ([N],
    broadcast over the channels; eps added here). NaN when there are no pixels."""
    var = np.asarray(v, dtype=np.float64) + eps
    if var.size == 0:
        return float("nan")
    return float(np.mean(0.5 * np.log(2.0 * np.pi * var) + np.asarray(r2, dtype=np.float64) / (2.0 * var)))


def calibration_vectors(r2: np.ndarray, v: np.ndarray, levels: Any = None, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """:func:`calibration_curve` on squared residuals ``r2`` ([N] or [C, N]) and variances ``v``
    ([N], broadcast over the channels; eps added here)."""
    lv = default_levels() if levels is None else np.asarray(levels, dtype=np.float64).ravel()
    z = np.sqrt(np.asarray(r2, dtype=np.float64) / (np.asarray(v, dtype=np.float64) + eps))
    p_needed = np.sort((2.0 * _normal_cdf(z) - 1.0).ravel())
    return lv.copy(), np.searchsorted(p_needed, lv, side="right") / p_needed.size


def apply_variance_scale(variance: Any, scale: float) -> np.ndarray:
    """``scale * variance`` as a float64 numpy array (use with :func:`nll` on held-out data)."""
    if not np.isfinite(scale) or scale <= 0:
        raise InputError(f"the variance scale must be a positive finite number, got {scale!r}")
    return _host(variance, "variance") * float(scale)


# -- prediction quality --------------------------------------------------------------------------
def _rgb_to_y(img: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of [3, H, W] RGB in [0, 1], in [0, 1] (16..235 scaled by 1/255)."""
    return (16.0 + 65.481 * img[0] + 128.553 * img[1] + 24.966 * img[2]) / 255.0


def _sr_pair(prediction: Any, target: Any, border: int, y_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    p = _image(prediction, "prediction")
    t = _image(target, "target")
    if p.shape != t.shape:
        raise InputError(f"prediction has shape {tuple(p.shape)} but target has shape {tuple(t.shape)}; they must match")
    p = np.round(np.clip(p, 0.0, 1.0) * 255.0) / 255.0
    t = np.round(np.clip(t, 0.0, 1.0) * 255.0) / 255.0
    if y_channel and p.shape[0] == 3:
        p, t = _rgb_to_y(p)[None], _rgb_to_y(t)[None]
    b = int(border)
    if b < 0:
        raise InputError(f"border must be >= 0, got {border!r}")
    if b:
        if p.shape[1] <= 2 * b or p.shape[2] <= 2 * b:
            raise InputError(f"a {b}-pixel border crop leaves nothing of a {p.shape[1]}x{p.shape[2]} image")
        p, t = p[:, b:-b, b:-b], t[:, b:-b, b:-b]
    return p, t


def psnr(prediction: Any, target: Any, border: int = 0, y_channel: bool = True) -> float:
    """PSNR in dB of an SR output against the HR image, both RGB in [0, 1] ([3, H, W]).

    Both are clipped to [0, 1] and rounded to 8 bits (what a saved PNG holds); with
    ``y_channel=True`` (default, the SR convention) on the ITU-R BT.601 luma Y, else on RGB;
    ``border`` pixels are cropped on each side (use the scale factor, as in the SR literature).
    ``skimage.metrics.peak_signal_noise_ratio`` with ``data_range=1``."""
    from skimage.metrics import peak_signal_noise_ratio

    p, t = _sr_pair(prediction, target, border, y_channel)
    if np.array_equal(p, t):
        return float("inf")
    return float(peak_signal_noise_ratio(t, p, data_range=1.0))


def ssim(prediction: Any, target: Any, border: int = 0, y_channel: bool = True) -> float:
    """SSIM of an SR output against the HR image; same preprocessing as :func:`psnr` (8-bit
    rounding, Y channel by default, ``border`` crop). ``skimage.metrics.structural_similarity``
    with the 11x11 Gaussian window (sigma 1.5) of Wang et al., ``data_range=1``; on RGB the mean
    over channels."""
    from skimage.metrics import structural_similarity

    p, t = _sr_pair(prediction, target, border, y_channel)
    if min(p.shape[1:]) < 7:
        raise InputError(f"SSIM needs at least 7x7 pixels after the border crop, got {p.shape[1]}x{p.shape[2]}")
    kw = dict(data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    if p.shape[0] == 1:
        return float(structural_similarity(t[0], p[0], **kw))
    return float(structural_similarity(t, p, channel_axis=0, **kw))


DEPTH_MIN = 1e-3  # metres; predictions are clipped to at least this for ratios and logs


def depth_quality(prediction: Any, target: Any, mask: Any = None) -> dict[str, float]:
    """Standard monocular-depth errors (Eigen et al. 2014) over valid pixels, depths in metres.

    abs_rel = mean |d - d*| / d*; rmse = sqrt(mean (d - d*)^2); log10 = mean |log10 d - log10 d*|;
    delta{1,2,3} = fraction with max(d/d*, d*/d) < 1.25^{1,2,3}. d: prediction clipped to
    >= 1 mm; d*: target. ``mask`` defaults to :func:`valid_mask` of the target."""
    p = _map2d(prediction, "prediction")
    t = _map2d(target, "target")
    _same_shape(p, t, "prediction", "target")
    m = valid_mask(t) if mask is None else _mask(mask, t.shape) & valid_mask(t)
    if not m.any():
        raise InputError("the depth target has no valid pixel (all zero, NaN or inf)")
    d, g = p[m], t[m]
    _check_finite(d, "prediction")
    d = np.maximum(d, DEPTH_MIN)
    ratio = np.maximum(d / g, g / d)
    return {
        "abs_rel": float(np.mean(np.abs(d - g) / g)),
        "rmse": float(np.sqrt(np.mean((d - g) ** 2))),
        "log10": float(np.mean(np.abs(np.log10(d) - np.log10(g)))),
        "delta1": float(np.mean(ratio < 1.25)),
        "delta2": float(np.mean(ratio < 1.25 ** 2)),
        "delta3": float(np.mean(ratio < 1.25 ** 3)),
    }


__all__ = [
    "LEVELS", "Sparsification", "valid_mask", "error_map", "patch_labels", "superpixels", "sparsification",
    "ause", "aurg", "pearson", "spearman", "correlations", "nll", "calibration_curve", "calibration_error",
    "default_levels", "fit_variance_scale", "fit_scale_vectors", "nll_vectors", "calibration_vectors",
    "apply_variance_scale", "psnr", "ssim", "depth_quality",
]
