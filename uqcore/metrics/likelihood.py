"""Likelihood and calibration: Gaussian NLL, calibration curve / error (Kuleshov et al. 2018)
and sigma-scaling of the variance; definitions in ``uqcore.metrics``.

The ``*_vectors`` functions take 1-D squared residuals and variances, for callers that pool
pixels of many images themselves (the dataset scorers)."""

from __future__ import annotations

from typing import Any

import numpy as np

from uqcore.errors import InputError
from uqcore.metrics.validation import as_float64, as_image, as_mask, check_finite

__all__ = [
    "nll", "calibration_curve", "calibration_error", "default_levels", "fit_variance_scale",
    "fit_scale_vectors", "nll_vectors", "calibration_vectors", "apply_variance_scale",
]


def _gaussian_inputs(prediction: Any, target: Any, variance: Any, mask: Any, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(squared residuals, variances + eps) as 1-D vectors over valid pixels x channels."""
    if eps < 0:
        raise InputError(f"eps must be >= 0, got {eps!r}")
    p = as_image(prediction, "prediction")
    t = as_image(target, "target")
    if t.shape[1:] != p.shape[1:] or t.shape[0] not in (1, p.shape[0]):
        raise InputError(f"prediction has shape {tuple(p.shape)} but target has shape {tuple(t.shape)}; they must match")
    v = as_image(variance, "variance")
    if v.shape[1:] != p.shape[1:] or v.shape[0] not in (1, p.shape[0]):
        raise InputError(
            f"variance has shape {tuple(v.shape)} but the prediction is {tuple(p.shape)}; pass a [H, W] variance "
            "(broadcast over channels) or one per channel [C, H, W]"
        )
    m = as_mask(mask, p.shape[1:])
    c = p.shape[0]
    if m is not None:
        pv = p[:, m]
        tv = np.broadcast_to(t[:, m], pv.shape)
        vv = np.broadcast_to(v[:, m], pv.shape)
    else:
        pv = p.reshape(c, -1)
        tv = np.broadcast_to(t.reshape(t.shape[0], -1), pv.shape)
        vv = np.broadcast_to(v.reshape(v.shape[0], -1), pv.shape)
    check_finite(pv, "prediction")
    check_finite(tv, "target")
    check_finite(vv, "variance")
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
    Equals ``torch.nn.GaussianNLLLoss(full=True)`` with variance ``sigma^2 + eps``.

    >>> import numpy as np
    >>> from uqcore.metrics import nll
    >>> round(nll(np.zeros((2, 2)), np.ones((2, 2)), np.ones((2, 2)), eps=0), 6)  # 1/2 log(2 pi) + 1/2
    1.418939
    """
    r2, var = _gaussian_inputs(prediction, target, variance, mask, eps)
    return float(np.mean(0.5 * np.log(2.0 * np.pi * var) + r2 / (2.0 * var)))



def _normal_cdf(z: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr  # heavy (0.2 s): imported on first use

    return ndtr(z)


def default_levels() -> np.ndarray:
    """The default confidence levels p = 0.05, 0.10, ..., 0.95.

    >>> from uqcore.metrics import default_levels
    >>> default_levels()[:3], len(default_levels())
    (array([0.05, 0.1 , 0.15]), 19)
    """
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
    case the pixels of all images are pooled (``mask`` then a list of masks or None).

    >>> import numpy as np
    >>> from uqcore.metrics import calibration_curve
    >>> calibration_curve(np.zeros((2, 2)), np.ones((2, 2)), np.ones((2, 2)), levels=[0.5, 0.9])  # |r| = 1 sigma
    (array([0.5, 0.9]), array([0., 1.]))
    """
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
    expected and observed coverage of central Gaussian intervals). 0 is perfectly calibrated.

    >>> import numpy as np
    >>> from uqcore.metrics import calibration_error
    >>> round(calibration_error(np.zeros((2, 2)), np.ones((2, 2)), np.ones((2, 2)), levels=[0.5, 0.9]), 6)
    0.13
    """
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
    Arguments may be lists (one entry per image; pixels pooled), like :func:`calibration_curve`.

    >>> import numpy as np
    >>> from uqcore.metrics import fit_variance_scale
    >>> fit_variance_scale(np.zeros((2, 2)), np.full((2, 2), 2.0), np.ones((2, 2)), eps=0)  # residual^2 / variance
    4.0
    """
    r2, var_eps = _pooled_gaussian(prediction, target, variance, mask, eps)
    return fit_scale_vectors(r2, var_eps - eps, eps)


def fit_scale_vectors(r2: np.ndarray, v: np.ndarray, eps: float = 1e-6) -> float:
    """:func:`fit_variance_scale` on 1-D vectors of squared residuals and variances (no eps).

    For a variance shared by the C channels of a pixel, the mean over channels of the squared
    residual is a sufficient statistic, so ``r2`` may be [C, N] or its channel mean [N].

    >>> import numpy as np
    >>> from uqcore.metrics import fit_scale_vectors
    >>> fit_scale_vectors(np.array([4.0, 4.0]), np.array([1.0, 1.0]), eps=0)
    4.0
    """
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
    from scipy.optimize import minimize_scalar  # heavy (0.3 s): imported on first use

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
    broadcast over the channels; eps added here). NaN when there are no pixels.

    >>> import numpy as np
    >>> from uqcore.metrics import nll_vectors
    >>> round(nll_vectors(np.array([1.0]), np.array([1.0]), eps=0), 6)
    1.418939
    """
    var = np.asarray(v, dtype=np.float64) + eps
    if var.size == 0:
        return float("nan")
    return float(np.mean(0.5 * np.log(2.0 * np.pi * var) + np.asarray(r2, dtype=np.float64) / (2.0 * var)))


def calibration_vectors(r2: np.ndarray, v: np.ndarray, levels: Any = None, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """:func:`calibration_curve` on squared residuals ``r2`` ([N] or [C, N]) and variances ``v``
    ([N], broadcast over the channels; eps added here).

    >>> import numpy as np
    >>> from uqcore.metrics import calibration_vectors
    >>> calibration_vectors(np.array([1.0, 4.0]), np.array([1.0, 1.0]), levels=[0.5, 0.9], eps=0)
    (array([0.5, 0.9]), array([0. , 0.5]))
    """
    lv = default_levels() if levels is None else np.asarray(levels, dtype=np.float64).ravel()
    z = np.sqrt(np.asarray(r2, dtype=np.float64) / (np.asarray(v, dtype=np.float64) + eps))
    p_needed = np.sort((2.0 * _normal_cdf(z) - 1.0).ravel())
    return lv.copy(), np.searchsorted(p_needed, lv, side="right") / p_needed.size


def apply_variance_scale(variance: Any, scale: float) -> np.ndarray:
    """``scale * variance`` as a float64 numpy array (use with :func:`nll` on held-out data).

    >>> import numpy as np
    >>> from uqcore.metrics import apply_variance_scale
    >>> apply_variance_scale(np.array([[1.0, 2.0]]), 3.0)
    array([[3., 6.]])
    """
    if not np.isfinite(scale) or scale <= 0:
        raise InputError(f"the variance scale must be a positive finite number, got {scale!r}")
    return as_float64(variance, "variance") * float(scale)

