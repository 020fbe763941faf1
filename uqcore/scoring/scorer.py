"""The one scorer: an estimate against its ground truth, per image (update) and per dataset (compute).

Every score in the project goes through here -- :func:`uqcore.evaluate`, the paper run
(:mod:`uqcore.paper`), the tolerability sweep's output resizing and the dashboard's metrics row
(:func:`uqcore.datasets.analysis.analyse`) -- so a definition changes in one place:

* **Per image** (:func:`score_image`): a depth output whose size differs from the target's is
  resized bilinearly to it (with its variance); SR / image outputs must match the target. A depth
  model whose ``depth_kind`` is "relative" or "disparity" is then aligned to the target by
  least-squares scale and shift, its variance scaled consistently (:func:`align`,
  :mod:`uqcore.metrics.alignment`): every number below is of the aligned prediction, and the
  summary says so (``aligned``). Error =
  channel-averaged absolute error over the valid pixels (depth: target > 0 and finite); AUSE /
  AURG / Pearson / Spearman at the pixel, patch (``patch``×``patch`` tiles) and block (local-
  centre-of-mass segments of the float64 prediction, :func:`uqcore.metrics.segment`) levels (:func:`uqcore.metrics.correlations`); Gaussian
  NLL (eps :data:`EPS`) over pixels and channels; prediction quality (:func:`quality`).
* **PSNR border rule** (:func:`psnr_border`): SR crops ``scale`` pixels at each border when the
  image is larger than ``2·scale + 7`` pixels per side (none otherwise); the generic image task
  uses RGB without border.
* **σ-scaling rule** (:func:`fit_scale`): the variance scale minimising the Gaussian NLL of the
  channel-mean squared residuals on the calibration pixels (:func:`uqcore.metrics.fit_scale_vectors`),
  then applied to the held-out ones. The images it is fitted on (the *fit images*) are a parameter:
  indices of the scored images (e.g. :func:`split_images`), an explicit list of images used only
  for fitting (:meth:`Scorer.add_fit_image`), or checkerboard tiles of one image
  (:func:`image_values` with ``split="checkerboard"``).
* **Dataset summary** (:meth:`Scorer.compute`): pixel / patch / block values averaged over the
  images (NaN left out); mean level across the images (per-image mean error vs mean variance);
  NLL averaged over images; ENCE (:data:`ENCE_BINS` equal-count bins, variance + :data:`EPS`)
  over the pooled pixels; calibration error, ENCE and σ-scaled NLL on the held-out images.
* **Calibrated intervals** (:mod:`uqcore.calibration.intervals` plugs in here): a scorer built with a
  fitted ``calibration`` adds to every image (:attr:`ImageScore.interval`) and to the summary
  ``coverage`` (fraction of valid values -- pixels x channels -- inside the interval),
  ``interval_width`` (mean, output units), ``ence`` (raw) and ``ence_calibrated`` (the
  calibration's variance); :meth:`Scorer.interval_summary` gives the same numbers for any fitted
  calibration over any of the scored images (the paper run fits its own on the calibration split,
  from the residuals :meth:`Scorer.add_fit_image` keeps).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from uqcore import metrics as M
from uqcore.errors import InputError
from uqcore.scoring.stats import finite_mean
from uqcore.scoring.results import DatasetSummary, IntervalSummary, LevelSummary

# The levels of a report, in the paper's row order (the same levels as ``uqcore.metrics.LEVELS``).
LEVELS = ("mean", "patch", "block", "pixel")
IMAGE_LEVELS = ("pixel", "patch", "block")  # computed per image and averaged; "mean" is across images
EPS = 1e-6
SIGMA_TILE = 16  # checkerboard tile size for the single-image σ-scaling split
ENCE_BINS = 10   # equal-count variance bins of the ENCE in summaries and calibration columns
INTERVAL_COLUMNS = ("coverage", "interval_width", "ence", "ence_calibrated")
DEPTH_QUALITY = ("abs_rel", "rmse", "log10", "delta1")
assert set(LEVELS) == set(M.LEVELS)


# -- inputs --------------------------------------------------------------------------------------
def resize_to(img: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """[C, H, W] or [H, W] -> same rank at ``shape`` (bilinear); unchanged if already there."""
    if tuple(img.shape[-2:]) == tuple(shape):
        return img
    x = img if img.dim() == 3 else img.unsqueeze(0)
    y = F.interpolate(x.unsqueeze(0).float(), size=tuple(shape), mode="bilinear", align_corners=False)[0]
    return y if img.dim() == 3 else y[0]


def prepare_target(task: str, target: Any) -> np.ndarray:
    """float64 target: [C, H, W] for SR / image tasks, [H, W] for depth (batch dims of 1 dropped)."""
    t = target.detach().cpu().numpy() if isinstance(target, torch.Tensor) else np.asarray(target)
    t = t.astype(np.float64)
    while t.ndim > (2 if task == "depth" else 3) and t.shape[0] == 1:
        t = t[0]
    if t.ndim == 2 and task != "depth":
        t = t[None]
    return t


def _as_map(x: Any, dims: int) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    t = t.detach().cpu()
    while t.dim() > dims and t.shape[0] == 1:
        t = t[0]
    return t


def psnr_border(task: str, scale: int, shape: tuple[int, int]) -> int:
    """The one PSNR/SSIM border rule: SR crops ``scale`` pixels per side when the image is
    larger than ``2·scale + 7`` per side; other tasks crop nothing."""
    if task != "sr":
        return 0
    return scale if min(shape) > 2 * scale + 7 else 0


def quality(model: Any, p: np.ndarray, target: np.ndarray, mask: np.ndarray | None) -> dict[str, float]:
    """Prediction quality: depth abs_rel / rmse / log10 / delta1 (valid pixels); SR PSNR / SSIM on
    the Y channel (BT.601, 8-bit rounding, :func:`psnr_border`); the generic image task PSNR (and
    SSIM from 7×7 up) on RGB without border."""
    tshape = tuple(target.shape[-2:])
    if model.task == "depth":
        q = M.depth_quality(p[0] if p.ndim == 3 else p, target, mask)
        return {k: q[k] for k in DEPTH_QUALITY}
    if model.task == "sr":
        border = psnr_border(model.task, model.scale, tshape)
        return {"psnr": M.psnr(p, target, border=border), "ssim": M.ssim(p, target, border=border)}
    out = {"psnr": M.psnr(p, target, y_channel=False)}
    if min(tshape) >= 7:
        out["ssim"] = M.ssim(p, target, y_channel=False)
    return out


# -- per image -----------------------------------------------------------------------------------
class ImageScore:
    """What one image contributes to a summary (O(valid pixels)).

    stats: ``{corr,spearman,ause,ause_raw,aurg}_{pixel,patch,block}``; mean_error / mean_variance over the
    valid pixels; r2: squared residuals [C, N] (float32) and var: variance [N] (float32) on the N
    valid pixels, in row-major order; res: the signed residuals target - prediction [C, N]
    (float32); valid: the [H, W] mask of those pixels; nll; quality; seconds and drawn (samples)
    of the estimate; interval: the :data:`INTERVAL_COLUMNS` of a calibrated scorer (else empty)."""

    __slots__ = ("stats", "mean_error", "mean_variance", "r2", "res", "var", "valid", "nll", "quality", "seconds",
                 "drawn", "interval")

    def values(self) -> dict[str, Any]:
        """The score as a plain dict (what a unit of a distributed run returns and a store keeps)."""
        return {slot: getattr(self, slot) for slot in self.__slots__}

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> ImageScore:
        """The score back from :meth:`values` (extra keys ignored)."""
        s = cls()
        for slot in cls.__slots__:
            setattr(s, slot, values[slot])
        return s


def _segments(p: np.ndarray, cache: dict | None, key: Any) -> np.ndarray:
    if cache is None:
        return M.segment(p)
    digest = hashlib.blake2b(np.ascontiguousarray(p).tobytes(), digest_size=16).hexdigest()
    if (key, digest) not in cache:
        cache[(key, digest)] = M.segment(p)
    return cache[(key, digest)]


def align(model: Any, prediction: np.ndarray, variance: np.ndarray | None,
          target: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """A non-metric depth model's (prediction, variance) aligned to ``target`` by least-squares
    scale and shift (:func:`uqcore.metrics.align_depth` with the model's ``depth_kind``); any
    other model's unchanged. Arrays at the target's size (:func:`at_target`)."""
    kind = getattr(model, "depth_kind", "metric")
    if model.task != "depth" or kind == "metric":
        return prediction, variance
    a = M.align_depth(prediction, target, variance, kind=kind)
    return a.prediction, a.variance


def aligned(model: Any) -> bool:
    """Whether the scorer aligns this model's predictions (a depth model that is not metric)."""
    return model.task == "depth" and getattr(model, "depth_kind", "metric") != "metric"


def at_target(model: Any, prediction: Any, variance: Any, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, variance) as float64 numpy at the target's size (depth resized, SR checked),
    aligned to the target for a non-metric depth model (:func:`align`): what every error-based
    number is computed on."""
    pred, var = _as_map(prediction, 3), _as_map(variance, 2)
    tshape = tuple(target.shape[-2:])
    if model.task == "depth":
        pred, var = resize_to(pred, tshape), resize_to(var, tshape)
    elif tuple(pred.shape[-2:]) != tshape:
        raise InputError(f"the model output is {pred.shape[-2]}x{pred.shape[-1]} but the target is "
                         f"{tshape[0]}x{tshape[1]}; for SR the target must be the HR image of the input")
    return align(model, pred.double().numpy(), var.double().numpy(), target)


def score_image(model: Any, prediction: Any, variance: Any, target: Any, *, seconds: float = 0.0, drawn: int = 0,
                segment_cache: dict | None = None, key: Any = None, patch: int = 16, steps: int = 50,
                calibration: Any = None) -> ImageScore:
    """Score one estimate (prediction [C, H, W], variance [H, W]) against ``target`` (see
    :func:`prepare_target`). Superpixels are cached in ``segment_cache`` under (key, prediction).
    With a fitted ``calibration`` (:class:`uqcore.calibration.kinds.Calibration`) the image's
    :data:`INTERVAL_COLUMNS` are computed too (:func:`interval_values`)."""
    target = prepare_target(model.task, target)
    p, v = at_target(model, prediction, variance, target)
    mask = M.valid_mask(target) if model.task == "depth" else None
    err = M.error_map(p, target, mask=mask)
    s = ImageScore()
    s.stats = M.correlations(err, v, mask=mask, patch=patch, segments=_segments(p, segment_cache, key), steps=steps)
    s.valid = np.ones(target.shape[-2:], bool) if mask is None else mask
    s.mean_error = float(err[s.valid].mean())
    s.mean_variance = float(v[s.valid].mean())
    pc = p if p.ndim == 3 else p[None]
    tc = target if target.ndim == 3 else target[None]
    res = (tc - pc)[:, s.valid]
    s.r2 = (res ** 2).astype(np.float32)  # [C, N]
    s.res = res.astype(np.float32)        # [C, N]
    s.var = v[s.valid].astype(np.float32)                     # [N]
    if (s.var < 0).any() or not np.isfinite(s.var).all():
        raise InputError("the method returned a negative or non-finite variance")
    s.interval = {} if calibration is None else interval_values(calibration, res, v[s.valid])
    s.nll = M.nll_vectors(s.r2.astype(np.float64), s.var.astype(np.float64), EPS)
    s.quality = quality(model, p, target, mask)
    s.seconds = seconds
    s.drawn = drawn
    return s


# -- σ-scaling -----------------------------------------------------------------------------------
Vectors = tuple[np.ndarray, np.ndarray]  # (channel-mean squared residual [N], variance [N]), float64


def fit_vectors(model: Any, prediction: Any, variance: Any, target: Any) -> Vectors:
    """An image used only for calibration: its (channel-mean squared residual, variance) on the
    valid pixels, in float64 (no rounding to the stored float32 of :class:`ImageScore`)."""
    res, v = residual_vectors(model, prediction, variance, target)
    return (res ** 2).mean(0), v


def residual_vectors(model: Any, prediction: Any, variance: Any, target: Any) -> Vectors:
    """(signed residuals target - prediction [C, N], variance [N]) on the valid pixels, float64,
    with depth outputs resized to the target as for scoring: what a calibration is fitted on."""
    target = prepare_target(model.task, target)
    p, v = at_target(model, prediction, variance, target)
    valid = M.valid_mask(target) if model.task == "depth" else np.ones(target.shape[-2:], bool)
    pc = p if p.ndim == 3 else p[None]
    tc = target if target.ndim == 3 else target[None]
    v = v[valid]
    if (v < 0).any() or not np.isfinite(v).all():
        raise InputError("the method returned a negative or non-finite variance")
    return (tc - pc)[:, valid], v


def interval_values(calibration: Any, res: np.ndarray, v: np.ndarray, bins: int = ENCE_BINS) -> dict[str, float]:
    """:data:`INTERVAL_COLUMNS` of signed residuals ``res`` [C, N] and variances ``v`` [N] under a
    fitted calibration (anything with ``offsets(v) -> (lo, hi)``, the interval around the
    prediction, and ``calibrated_variance(v)``): coverage of the values, mean width, ENCE of the
    raw variance (+ :data:`EPS`) and of the calibrated one, both binned by the raw variance (every
    calibrated variance is a non-decreasing function of it; the isotonic one has ties)."""
    res, v = _as_residuals(res, v)
    lo, hi = calibration.offsets(v)
    r2 = (res ** 2).mean(axis=0)
    order = M.stable_order(v)  # a hint for both keys: v + EPS and the calibrated variance never decrease along it
    return {"coverage": M.coverage(res, lo[None], hi[None]), "interval_width": M.interval_width(lo, hi),
            "ence": M.ence_vectors(r2, v, bins=bins, eps=EPS, hint=order),
            "ence_calibrated": M.ence_vectors(r2, calibration.calibrated_variance(v), bins=bins, order_by=v,
                                              hint=order)}


def interval_coverage(calibration: Any, res: np.ndarray, v: np.ndarray) -> float:
    """The "coverage" of :func:`interval_values` alone (no ENCE: two sorts fewer)."""
    res, v = _as_residuals(res, v)
    lo, hi = calibration.offsets(v)
    return M.coverage(res, lo[None], hi[None])


def _as_residuals(res: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    res, v = np.asarray(res, dtype=np.float64), np.asarray(v, dtype=np.float64)
    return (res[None] if res.ndim == 1 else res), v


def score_vectors(score: ImageScore, pixels: np.ndarray | None = None) -> Vectors:
    """A scored image's calibration vectors (optionally only ``pixels``, a mask over its N valid pixels)."""
    r2, v = score.r2.astype(np.float64), score.var.astype(np.float64)
    if pixels is not None:
        r2, v = r2[:, pixels], v[pixels]
    return r2.mean(0), v


def fit_scale(vectors: Sequence[Vectors]) -> float:
    """The σ-scaling rule: the variance scale minimising the NLL on the pooled calibration
    pixels; NaN where the variance is zero everywhere (e.g. a deterministic method)."""
    try:
        return M.fit_scale_vectors(np.concatenate([r for r, _ in vectors]), np.concatenate([v for _, v in vectors]), EPS)
    except InputError:
        return float("nan")


def _calibration_error(r2: np.ndarray, v: np.ndarray) -> float:
    e, o = M.calibration_vectors(r2, v, eps=EPS)
    return float(np.mean((e - o) ** 2))


def checkerboard(shape: tuple[int, int], tile: int = SIGMA_TILE) -> np.ndarray:
    """[H, W] bool: True on the "black" tiles of a ``tile``×``tile`` checkerboard."""
    rows = (np.arange(shape[0]) // tile)[:, None]
    cols = (np.arange(shape[1]) // tile)[None, :]
    return (rows + cols) % 2 == 0


def split_images(n: int, fraction: float, seed: int) -> tuple[list[int], list[int], str]:
    """The σ-scaling split: (fit, held-out, kind): a seeded random ``fraction`` of ``n`` images fits
    the scale. One image is both ("in-sample")."""
    if not 0.0 < fraction < 1.0:
        raise InputError(f"sigma_split (the share of images the σ-scale is fitted on) must be between 0 and 1, "
                         f"got {fraction}")
    if n < 2:
        return list(range(n)), list(range(n)), "in-sample"
    k = min(max(1, int(round(fraction * n))), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    return sorted(perm[:k].tolist()), sorted(perm[k:].tolist()), "held-out"


# -- one image's row (the dashboard's metrics row) ---------------------------------------------------
def image_values(model: Any, prediction: Any, variance: Any, target: Any, *, variance_scale: float | None = None,
                 split: str = "in-sample", patch: int = 16, steps: int = 50, tile: int = SIGMA_TILE) -> dict[str, float]:
    """Every single-image number as one flat dict: ``corr_`` / ``spearman_`` / ``ause_`` / ``aurg_``
    + ``pixel`` / ``patch`` / ``block``, ``nll``, ``calibration_error`` (raw), the quality of
    :func:`quality`, ``variance_scale`` and ``nll_scaled``. The scale is ``variance_scale`` if
    given (e.g. fitted on a calibration set), else fitted by ``split``: "in-sample" (on this image
    itself, an optimistic number) or "checkerboard" (on the black ``tile``×``tile`` tiles, with
    ``nll_scaled`` on the white ones). prediction [C, H, W] and variance [H, W] as ``estimate``
    returns them; target as for :func:`uqcore.evaluate`."""
    s = score_image(model, prediction, variance, target, patch=patch, steps=steps)
    out: dict[str, float] = dict(s.stats)
    out["nll"] = s.nll
    r2, v = s.r2.astype(np.float64), s.var.astype(np.float64)
    out["calibration_error"] = _calibration_error(r2, v)
    held = None
    if variance_scale is None:
        if split == "checkerboard":
            board = checkerboard(s.valid.shape, tile)[s.valid]
            variance_scale, held = fit_scale([score_vectors(s, board)]), ~board
        elif split == "in-sample":
            variance_scale = fit_scale([score_vectors(s)])
        else:
            raise InputError(f"split must be 'in-sample' or 'checkerboard', got {split!r}")
    out["variance_scale"] = float(variance_scale)
    if not math.isfinite(variance_scale):
        out["nll_scaled"] = float("nan")
    elif held is None:
        out["nll_scaled"] = M.nll_vectors(r2, variance_scale * v, EPS)
    else:
        out["nll_scaled"] = M.nll_vectors(r2[:, held], variance_scale * v[held], EPS)
    out.update(s.quality)
    return out


# -- a dataset -----------------------------------------------------------------------------------
@dataclass
class Scorer:
    """Scores images one at a time (:meth:`update`) and summarises them (:meth:`compute`).

    Settings: ``model``; ``patch`` and ``steps`` (the patch level's tile, the sparsification
    curves' points); ``segment_cache`` (block-level segments, by (key, prediction)).
    ``calibration``: a fitted interval calibration
    (:class:`uqcore.calibration.kinds.Calibration`; in this class "calibration" means only
    that): every image and the summary get its :data:`INTERVAL_COLUMNS` (the caller checks that it
    belongs to this model and setting). The σ-scaling split of the images: ``fit_images`` (indices
    of scored images the σ-scale is fitted on; None: the images given to :meth:`add_fit_image`,
    used only for fitting) and ``test_images`` (the held-out indices the scaled numbers are
    measured on; None: all scored images).

    State (what :meth:`reset` empties): ``scores`` (one :class:`ImageScore` per scored image, in
    order), ``scale_fit`` (the fit-only images' (channel-mean squared residual, variance) vectors)
    and ``fit_residuals`` (their signed residuals and variances, which the paper run fits its own
    interval calibrations on)."""

    model: Any
    patch: int = 16
    steps: int = 50
    segment_cache: dict | None = None
    calibration: Any = None
    fit_images: Sequence[int] | None = None
    test_images: Sequence[int] | None = None
    scores: list[ImageScore] = field(default_factory=list)
    scale_fit: list[Vectors] = field(default_factory=list)
    fit_residuals: list[Vectors] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.segment_cache = {} if self.segment_cache is None else self.segment_cache

    def update(self, prediction: Any, variance: Any, target: Any, *, seconds: float = 0.0, drawn: int = 0,
               key: Any = None) -> ImageScore:
        """Score one image (:func:`score_image`) and keep its score."""
        s = score_image(self.model, prediction, variance, target, seconds=seconds, drawn=drawn,
                        segment_cache=self.segment_cache, key=key, patch=self.patch, steps=self.steps,
                        calibration=self.calibration)
        self.scores.append(s)
        return s

    def merge(self, scores: Iterable[ImageScore]) -> Scorer:
        """Add images scored elsewhere (by :func:`score_image`, e.g. in a unit of a distributed
        run), in order, as if :meth:`update` had scored them here; returns the scorer."""
        self.scores.extend(scores)
        return self

    def reset(self) -> None:
        """Forget every scored and fit-only image (the settings and the segment cache stay)."""
        self.scores, self.scale_fit, self.fit_residuals = [], [], []

    def add_fit_image(self, prediction: Any, variance: Any, target: Any) -> None:
        self.add_fit_residuals(*residual_vectors(self.model, prediction, variance, target))

    def add_fit_residuals(self, res: np.ndarray, v: np.ndarray) -> None:
        """A fit image from its :func:`residual_vectors` (e.g. computed by a worker)."""
        self.scale_fit.append(((res ** 2).mean(0), v))
        self.fit_residuals.append((res, v))

    def interval_summary(self, calibration: Any, images: Sequence[int] | None = None) -> IntervalSummary:
        """:data:`INTERVAL_COLUMNS` of a fitted ``calibration`` over the pooled valid values of the
        scored ``images`` (indices; all if None)."""
        idx = range(len(self.scores)) if images is None else images
        res = np.concatenate([self.scores[i].res for i in idx], axis=1)
        v = np.concatenate([self.scores[i].var for i in idx])
        return IntervalSummary(**interval_values(calibration, res, v))

    def image_coverages(self, calibration: Any) -> list[float]:
        """The coverage of a fitted ``calibration``'s intervals on each scored image, in order
        (each image's ``interval_summary(calibration, [i]).coverage``)."""
        return [interval_coverage(calibration, s.res, s.var) for s in self.scores]

    def compute(self) -> DatasetSummary:
        """The summary of the scored images (:class:`~uqcore.scoring.results.DatasetSummary`):
        every level of :data:`LEVELS`; nll and ence over all scored images; the σ-scale fitted on
        the fit images and the held-out numbers raw and scaled on ``test_images``; quality,
        seconds per image, samples drawn, ``aligned`` (:func:`align`); with a ``calibration`` its
        interval columns over all scored images. An InputError when no image has been scored."""
        scores = self.scores
        if not scores:
            raise InputError("the scorer has no scored images to summarise; score some with update() or merge() first")
        test = list(range(len(scores))) if self.test_images is None else list(self.test_images)
        vectors = self.scale_fit if self.fit_images is None else [score_vectors(scores[i]) for i in self.fit_images]
        scale = fit_scale(vectors)
        r2_test = np.concatenate([scores[i].r2 for i in test], axis=1).astype(np.float64)
        v_test = np.concatenate([scores[i].var for i in test]).astype(np.float64)
        if math.isfinite(scale):
            scaled = (float(np.mean([M.nll_vectors(scores[i].r2.astype(np.float64),
                                                   scale * scores[i].var.astype(np.float64), EPS) for i in test])),
                      _calibration_error(r2_test, scale * v_test),
                      M.ence_vectors(r2_test, scale * v_test, bins=ENCE_BINS, eps=EPS))
        else:
            scaled = (float("nan"),) * 3
        intervals = None if self.calibration is None else self.interval_summary(self.calibration)
        ence = intervals.ence if intervals is not None else M.ence_vectors(
            np.concatenate([s.r2 for s in scores], axis=1).astype(np.float64),
            np.concatenate([s.var for s in scores]).astype(np.float64), bins=ENCE_BINS, eps=EPS)
        return DatasetSummary(
            levels=self._levels(), nll=float(np.mean([s.nll for s in scores])), variance_scale=scale,
            nll_heldout=float(np.mean([scores[i].nll for i in test])),
            calibration_error=_calibration_error(r2_test, v_test),
            ence_heldout=M.ence_vectors(r2_test, v_test, bins=ENCE_BINS, eps=EPS),
            nll_scaled=scaled[0], calibration_error_scaled=scaled[1], ence_scaled=scaled[2], ence=ence,
            quality={k: finite_mean([s.quality.get(k) for s in scores]) for k in scores[0].quality},
            aligned=aligned(self.model), seconds_per_image=float(np.mean([s.seconds for s in scores])),
            samples_drawn=int(round(np.mean([s.drawn for s in scores]))), intervals=intervals)

    def _levels(self) -> dict[str, LevelSummary]:
        scores = self.scores
        out: dict[str, LevelSummary] = {}
        for level in IMAGE_LEVELS:
            out[level] = LevelSummary(**{k: finite_mean([s.stats.get(f"{k}_{level}") for s in scores])
                                         for k in ("ause", "ause_raw", "aurg", "corr", "spearman")})
        me = np.array([s.mean_error for s in scores])
        mv = np.array([s.mean_variance for s in scores])
        if len(scores) >= 2:
            sp = M.sparsification(me, mv, steps=self.steps, level="mean")
            out["mean"] = LevelSummary(ause=sp.ause, ause_raw=sp.ause_raw, aurg=sp.aurg,
                                       corr=M.pearson(me, mv, level="mean"), spearman=M.spearman(me, mv, level="mean"))
        else:
            out["mean"] = LevelSummary(**{k: float("nan") for k in ("ause", "ause_raw", "aurg", "corr", "spearman")})
        return out
