"""Per-image least-squares scale-and-shift alignment of relative depth predictions.

Relative-depth networks (MiDaS, DPT, Depth Anything) predict depth -- or inverse depth -- only up
to an unknown scale and shift. Their evaluation protocol (MiDaS, Ranftl et al. 2020; Marigold,
Ke et al. 2024) aligns each prediction to its ground truth before measuring any error. The kinds:

* ``"metric"`` -- the prediction is depth in the target's units: nothing is aligned.
* ``"relative"`` -- depth up to scale and shift: (s, t) = argmin over the valid pixels of
  sum (s·p + t - y)^2, with p the prediction and y the target depth; the aligned depth is
  d = s·p + t and its variance s^2·v (the variance of an affine map of the samples).
* ``"disparity"`` -- inverse depth up to scale and shift: (s, t) = argmin sum (s·p + t - 1/y)^2
  in inverse-depth space; z = s·p + t is clamped to at least 1 / (``depth_cap`` · max y) (so
  depths stay positive and below ``depth_cap`` times the deepest ground truth) and the aligned
  depth is d = 1/z. Its variance follows the first-order (delta-method) propagation through
  both maps: Var(d) = (dd/dz)^2 · s^2 · v = s^2 · v / z^4.

Valid pixels: the given ``mask`` (default :func:`uqcore.metrics.valid_mask` of the target: depth
> 0 and finite) where the prediction is finite too. The fit is the closed form of ordinary least
squares, s = cov(p, y) / var(p), t = mean(y) - s·mean(p) (a constant prediction gets s = 0,
t = mean(y)). Alignment with respect to the target makes every error-based metric of an aligned
prediction invariant to any affine change of the raw prediction (of the inverse depth for
``"disparity"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from uqcore.errors import InputError
from uqcore.metrics.validation import valid_mask

DEPTH_KINDS = ("metric", "relative", "disparity")
DEPTH_CAP = 10.0  # disparity: aligned depths are capped at this many times the deepest ground truth


@dataclass(frozen=True)
class Alignment:
    """An aligned prediction: ``prediction`` (depth, the shape given), ``variance`` (or None),
    the fitted ``scale`` and ``shift``, the ``kind``, and ``pixels`` (number of valid pixels fitted)."""

    prediction: np.ndarray
    variance: np.ndarray | None
    scale: float
    shift: float
    kind: str
    pixels: int
    floor: float = 0.0  # "disparity": the least inverse depth (1 / (depth_cap · max target))

    def apply(self, raw: Any) -> Any:
        """Another raw prediction (numpy or torch: e.g. the perturbed samples) mapped with this
        fit's scale and shift into aligned depth, as the fitted prediction was."""
        z = self.scale * raw + self.shift
        if self.kind != "disparity":
            return z
        return 1.0 / (z.clamp(min=self.floor) if hasattr(z, "clamp") else np.maximum(z, self.floor))

    def variance_of(self, variance: Any) -> np.ndarray:
        """Another variance map [H, W] of the raw prediction scaled as this fit scales it (s²·v;
        "disparity": s²·v / z⁴ with z = 1 / the aligned depth)."""
        v = np.asarray(variance, dtype=np.float64)
        if self.kind != "disparity":
            return self.scale ** 2 * v
        return self.scale ** 2 * v * self.prediction.reshape(v.shape) ** 4


def check_kind(kind: str) -> str:
    if kind not in DEPTH_KINDS:
        raise InputError(f"depth_kind must be one of {', '.join(DEPTH_KINDS)}, got {kind!r}")
    return kind


def fit_scale_shift(x: Any, y: Any) -> tuple[float, float]:
    """Ordinary least squares of y ≈ s·x + t over 1-D arrays: (s, t), in float64.

    >>> fit_scale_shift([1.0, 2.0, 3.0], [3.0, 5.0, 7.0])
    (2.0, 1.0)
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size == 0:
        raise InputError("no valid pixels to align the prediction on (the ground truth is missing everywhere)")
    mx, my = x.mean(), y.mean()
    dx = x - mx
    var = float(np.dot(dx, dx))
    s = float(np.dot(dx, y - my)) / var if var > 0 else 0.0
    return s, float(my - s * mx)


def align_depth(prediction: Any, target: Any, variance: Any = None, *, kind: str = "relative",
                mask: Any = None, depth_cap: float = DEPTH_CAP) -> Alignment:
    """The prediction aligned per image to ``target`` by least-squares scale and shift (see the
    module docstring for the definitions of each ``kind``). prediction: [H, W] or [1, H, W];
    target: [H, W] depth; variance: [H, W] or None. Values outside the valid pixels are aligned
    with the same (s, t) but play no part in the fit.

    >>> import numpy as np
    >>> y = np.array([[1.0, 2.0], [4.0, 0.0]])          # 0: missing ground truth
    >>> a = align_depth(0.5 * y + 3, y, kind="relative")
    >>> np.round(a.prediction[y > 0], 6).tolist(), round(a.scale, 6), round(a.shift, 6)
    ([1.0, 2.0, 4.0], 2.0, -6.0)
    >>> b = align_depth(2.0 / np.where(y > 0, y, 1.0) + 1, y, kind="disparity")
    >>> np.round(b.prediction[y > 0], 6).tolist()
    [1.0, 2.0, 4.0]
    """
    check_kind(kind)
    p = np.asarray(prediction, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    while y.ndim > 2 and y.shape[0] == 1:
        y = y[0]
    p2 = p.reshape(p.shape[-2:]) if p.ndim == 3 and p.shape[0] == 1 else p
    if p2.shape != y.shape:
        raise InputError(f"the prediction is {p2.shape} but the target is {y.shape}; align single-channel depth "
                         "maps of the same size")
    v = None if variance is None else np.asarray(variance, dtype=np.float64).reshape(y.shape)
    valid = (valid_mask(y) if mask is None else np.asarray(mask, dtype=bool)) & np.isfinite(p2)
    if kind == "metric":
        return Alignment(
            prediction=p.copy(),
            variance=None if v is None else v.copy(),
            scale=1.0,
            shift=0.0,
            kind=kind,
            pixels=int(valid.sum()),
        )
    space = y if kind == "relative" else 1.0 / np.where(valid, y, 1.0)
    s, t = fit_scale_shift(p2[valid], space[valid])
    z = s * p2 + t
    if kind == "relative":
        depth, var = z, None if v is None else s * s * v
    else:
        floor = 1.0 / (depth_cap * float(y[valid].max()))
        z = np.maximum(z, floor)
        depth, var = 1.0 / z, None if v is None else s * s * v / z ** 4
        return Alignment(
            prediction=depth.reshape(p.shape),
            variance=var,
            scale=s,
            shift=t,
            kind=kind,
            pixels=int(valid.sum()),
            floor=floor,
        )
    return Alignment(
        prediction=depth.reshape(p.shape), variance=var, scale=s, shift=t, kind=kind, pixels=int(valid.sum())
    )
