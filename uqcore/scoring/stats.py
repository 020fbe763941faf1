"""Bootstrap intervals over images: how sure a dataset number is, and whether two methods differ.

Functional, numpy only. Definitions (the same in the docstrings below):

* **Percentile bootstrap interval** (Efron & Tibshirani 1993, §13.3): draw ``n_resamples``
  (default :data:`N_RESAMPLES` = 2,000) resamples of the n images *with replacement*; the indices
  are ``numpy.random.default_rng(seed).integers(0, n, (n_resamples, n))`` (one row per resample,
  the same call as ``scipy.stats.bootstrap``); compute the statistic on every resample; the
  interval at ``level`` (default 0.95) is the ``(1 - level)/2`` and ``(1 + level)/2`` percentiles
  of those values (``numpy.percentile``, linear interpolation). Resamples whose statistic is not
  finite (e.g. a correlation of a constant resample) are left out. The point estimate is the
  statistic on the images themselves.
* **Paired bootstrap of a difference**: two methods scored on the *same* images; each resample
  draws one set of image indices and uses it for both, the value is stat(A) − stat(B); the
  percentile interval of those differences. "Separated" means the interval excludes 0.
  Its two-sided **p-value** for "no difference" is p = min(1, 2 min((1 + #{d_b <= 0}) / (B + 1),
  (1 + #{d_b >= 0}) / (B + 1))) over the B finite resampled differences d_b (the bootstrap's
  estimate of how often a difference of the observed sign vanishes; the +1 keeps it above 0).
* **Holm's step-down correction** (Holm 1979) for a family of m such tests: sort the p-values
  p_(1) <= ... <= p_(m); the adjusted p_(i) = max over j <= i of min(1, (m - j + 1) p_(j)); a test
  is rejected at ``alpha`` when its adjusted p-value is below ``alpha``. This controls the
  family-wise error rate (the chance of any false "separated") at ``alpha`` under any dependence.
* The unit resampled is the **image**: pixels within an image are not independent, images are
  (approximately) exchangeable.

Statistics are *vectorised*: ``statistic(*arrays)`` receives each array with the resamples on
axis 0 (shape ``[B, n, ...]``) and returns ``B`` values (:func:`nanmean_rows`, :func:`pearson_rows`);
pass ``vectorized=False`` for a statistic of one resample (shape ``[n, ...]`` -> float).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

N_RESAMPLES = 2000
LEVEL = 0.95
SEED = 0


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval over ``n`` images (``lo``/``hi`` NaN when the
    interval cannot be computed, e.g. fewer than 2 images)."""

    estimate: float
    lo: float
    hi: float
    n: int
    p: float = float("nan")  # a paired bootstrap's two-sided p-value for 0 (module docstring)

    def contains(self, value: float = 0.0) -> bool:
        """Whether ``value`` lies in [lo, hi] (True when the interval is undefined: nothing shown)."""
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)):
            return True
        return self.lo <= value <= self.hi

    def text(self, digits: int = 3) -> str:
        """``0.449 [0.412, 0.486]``; only the estimate where there is no interval; ``–`` for NaN."""
        return format_interval(self.estimate, self.lo, self.hi, digits)


def format_interval(estimate: float, lo: float, hi: float, digits: int = 3) -> str:
    """``0.449 [0.412, 0.486]``: the estimate and its interval with ``digits`` decimals."""
    def f(v: float) -> str:
        return f"{v:.{digits}f}" if abs(v) < 100 else (f"{v:.1f}" if abs(v) < 1000 else f"{v:.0f}")
    if not math.isfinite(estimate):
        return "–"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f(estimate)
    return f"{f(estimate)} [{f(lo)}, {f(hi)}]"


def resample_indices(n: int, n_resamples: int = N_RESAMPLES, seed: int = SEED) -> np.ndarray:
    """[n_resamples, n] image indices drawn with replacement (the call ``scipy.stats.bootstrap`` makes)."""
    if n < 1:
        raise ValueError("a bootstrap needs at least one image")
    return np.random.default_rng(seed).integers(0, n, (int(n_resamples), n))


def nanmean_rows(x: np.ndarray) -> np.ndarray:
    """Vectorised statistic: the mean over axis 1 of the finite values (NaN where there are none);
    the dataset value of the pixel / patch / block levels (a mean over images, NaN left out)."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    count = ok.sum(axis=1)
    total = np.where(ok, x, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def finite_mean(values: Sequence[float | None]) -> float:
    """Mean of the finite values of one list (None / NaN / inf left out); NaN if there are none."""
    arr = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else float("nan")


def pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Vectorised statistic: Pearson's r between x[b] and y[b] for every row b (NaN where either
    row is constant); the mean level's value (per-image mean error vs mean variance)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    den = np.sqrt((xc * xc).sum(axis=1) * (yc * yc).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc * yc).sum(axis=1) / den
    return np.where(den > 0, np.clip(r, -1.0, 1.0), np.nan)


def _values(data: Sequence[np.ndarray], statistic: Callable, idx: np.ndarray, vectorized: bool) -> np.ndarray:
    arrays = [np.asarray(a) for a in data]
    if vectorized:
        return np.asarray(statistic(*[a[idx] for a in arrays]), dtype=np.float64).reshape(len(idx))
    return np.array([float(statistic(*[a[row] for a in arrays])) for row in idx], dtype=np.float64)


def _point(data: Sequence[np.ndarray], statistic: Callable, vectorized: bool) -> float:
    n = len(data[0])
    return float(_values(data, statistic, np.arange(n)[None], vectorized)[0])


def percentile_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The (1 − level)/2 and (1 + level)/2 percentiles of the finite ``values`` (NaN if none)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(v, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(lo), float(hi)


def _check(data: Sequence[np.ndarray]) -> int:
    if not data:
        raise ValueError("give at least one array")
    n = len(data[0])
    if any(len(a) != n for a in data):
        raise ValueError("the arrays of a bootstrap must have one entry per image, the same images")
    return n


def bootstrap(data: Sequence[np.ndarray], statistic: Callable = nanmean_rows, *, n_resamples: int = N_RESAMPLES,
              level: float = LEVEL, seed: int = SEED, vectorized: bool = True) -> Interval:
    """Percentile bootstrap interval of ``statistic(*data)`` over the images (axis 0 of every
    array in ``data``, resampled together); see the module docstring. Fewer than 2 images: the
    estimate without an interval."""
    n = _check(data)
    est = _point(data, statistic, vectorized) if n else float("nan")
    if n < 2:
        return Interval(estimate=est, lo=float("nan"), hi=float("nan"), n=n)
    lo, hi = percentile_interval(_values(data, statistic, resample_indices(n, n_resamples, seed), vectorized), level)
    return Interval(estimate=est, lo=lo, hi=hi, n=n)


def paired_bootstrap(a: Sequence[np.ndarray], b: Sequence[np.ndarray], statistic: Callable = nanmean_rows, *,
                     n_resamples: int = N_RESAMPLES, level: float = LEVEL, seed: int = SEED,
                     vectorized: bool = True) -> Interval:
    """Paired percentile bootstrap of ``statistic(*a) − statistic(*b)``: ``a`` and ``b`` hold one
    entry per image, the same images in the same order; every resample uses one set of indices
    for both (module docstring). ``Interval.contains(0)``: the two are not separated."""
    n = _check([*a, *b])
    est = _point(a, statistic, vectorized) - _point(b, statistic, vectorized)
    if n < 2:
        return Interval(estimate=est, lo=float("nan"), hi=float("nan"), n=n)
    idx = resample_indices(n, n_resamples, seed)
    diff = _values(a, statistic, idx, vectorized) - _values(b, statistic, idx, vectorized)
    lo, hi = percentile_interval(diff, level)
    return Interval(estimate=est, lo=lo, hi=hi, n=n, p=bootstrap_p(diff))


def bootstrap_p(diff: np.ndarray) -> float:
    """Two-sided p-value for "no difference" from resampled paired differences (module docstring)."""
    d = np.asarray(diff, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan")
    below, above = (1 + np.sum(d <= 0)) / (d.size + 1), (1 + np.sum(d >= 0)) / (d.size + 1)
    return float(min(1.0, 2 * min(below, above)))


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values, in the order given (module docstring); NaN stays NaN and is not
    counted in the family."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    order = ok[np.argsort(p[ok], kind="stable")]
    running = 0.0
    for j, i in enumerate(order):
        running = max(running, min(1.0, (m - j) * p[i]))
        out[i] = running
    return out


class HolmFamily:
    """A family of paired tests whose verdicts are Holm-corrected together: :meth:`add` each
    test's p-value under a key (while collecting), :meth:`close` adjusts them, then
    :meth:`adjusted` gives a key's adjusted p-value (the raw one before :meth:`close`)."""

    def __init__(self, alpha: float = 1 - LEVEL) -> None:
        self.alpha = alpha
        self.raw: dict = {}
        self._adjusted: dict | None = None

    def add(self, key, p: float) -> None:
        if self._adjusted is None:
            self.raw[key] = p

    def close(self) -> None:
        keys = list(self.raw)
        self._adjusted = dict(zip(keys, holm([self.raw[k] for k in keys])))

    def adjusted(self, key, p: float) -> float:
        return p if self._adjusted is None else self._adjusted.get(key, p)

    def __len__(self) -> int:
        return sum(math.isfinite(v) for v in self.raw.values())
