"""Prediction quality: PSNR / SSIM for super-resolution, the standard depth errors."""

from __future__ import annotations

from typing import Any

import numpy as np

from uqcore.errors import InputError
from uqcore.metrics.validation import as_image, as_map, as_mask, check_finite, check_same_shape, valid_mask

DEPTH_MIN = 1e-3  # metres; predictions are clipped to at least this for ratios and logs
DEPTH_METRICS = ("abs_rel", "rmse", "log10", "delta1", "delta2", "delta3")  # depth_quality's keys, in order

__all__ = ["psnr", "ssim", "psnr_ssim", "depth_quality", "DEPTH_MIN", "DEPTH_METRICS"]


def _rgb_to_y(img: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of [3, H, W] RGB in [0, 1], in [0, 1] (16..235 scaled by 1/255)."""
    return (16.0 + 65.481 * img[0] + 128.553 * img[1] + 24.966 * img[2]) / 255.0


def _sr_pair(prediction: Any, target: Any, border: int, y_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    p = as_image(prediction, "prediction")
    t = as_image(target, "target")
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
    ``skimage.metrics.peak_signal_noise_ratio`` with ``data_range=1``.

    >>> import numpy as np
    >>> from uqcore.metrics import psnr
    >>> hr = np.full((3, 16, 16), 0.5)
    >>> sr = hr.copy(); sr[:, 0, 0] = 0.6
    >>> round(psnr(sr, hr), 2), psnr(hr, hr)
    (45.58, inf)
    """
    from skimage.metrics import peak_signal_noise_ratio  # heavy (0.6 s): imported on first use

    p, t = _sr_pair(prediction, target, border, y_channel)
    if np.array_equal(p, t):
        return float("inf")
    return float(peak_signal_noise_ratio(t, p, data_range=1.0))


def ssim(prediction: Any, target: Any, border: int = 0, y_channel: bool = True) -> float:
    """SSIM of an SR output against the HR image; same preprocessing as :func:`psnr` (8-bit
    rounding, Y channel by default, ``border`` crop). ``skimage.metrics.structural_similarity``
    with the 11x11 Gaussian window (sigma 1.5) of Wang et al., ``data_range=1``; on RGB the mean
    over channels.

    >>> import numpy as np
    >>> from uqcore.metrics import ssim
    >>> hr = np.random.default_rng(0).random((3, 16, 16))
    >>> ssim(hr, hr)
    1.0
    """
    from skimage.metrics import structural_similarity  # heavy (0.6 s): imported on first use

    p, t = _sr_pair(prediction, target, border, y_channel)
    if min(p.shape[1:]) < 11:  # the 11x11 Gaussian window must fit
        raise InputError(f"SSIM needs at least 11x11 pixels after the border crop, got {p.shape[1]}x{p.shape[2]}")
    kw = dict(data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    if p.shape[0] == 1:
        return float(structural_similarity(t[0], p[0], **kw))
    return float(structural_similarity(t, p, channel_axis=0, **kw))


def psnr_ssim(prediction: Any, target: Any, border: int = 0, y_channel: bool = True) -> tuple[float, float]:
    """(:func:`psnr`, :func:`ssim`) of one SR output: how the bundled SR models' cards and the
    model scripts score a model against bicubic upscaling (``border`` = the scale)."""
    return psnr(prediction, target, border, y_channel), ssim(prediction, target, border, y_channel)


def depth_quality(prediction: Any, target: Any, mask: Any = None) -> dict[str, float]:
    """Standard monocular-depth errors (Eigen et al. 2014) over valid pixels, depths in metres.

    abs_rel = mean |d - d*| / d*; rmse = sqrt(mean (d - d*)^2); log10 = mean |log10 d - log10 d*|;
    delta{1,2,3} = fraction with max(d/d*, d*/d) < 1.25^{1,2,3}. d: prediction clipped to
    >= 1 mm; d*: target. ``mask`` defaults to :func:`valid_mask` of the target.

    >>> import numpy as np
    >>> from uqcore.metrics import depth_quality
    >>> errors = depth_quality(np.array([[1.0, 2.0]]), np.array([[1.0, 4.0]]))
    >>> errors["abs_rel"], errors["delta1"], round(errors["rmse"], 4)
    (0.25, 0.5, 1.4142)
    """
    p = as_map(prediction, "prediction")
    t = as_map(target, "target")
    check_same_shape(p, t, "prediction", "target")
    m = valid_mask(t) if mask is None else as_mask(mask, t.shape) & valid_mask(t)
    if not m.any():
        raise InputError("the depth target has no valid pixel (all zero, NaN or inf)")
    d, g = p[m], t[m]
    check_finite(d, "prediction")
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

