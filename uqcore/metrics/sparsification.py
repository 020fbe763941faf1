"""Sparsification curves (Ilg et al. 2018), AUSE and AURG; definitions in ``uqcore.metrics``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from uqcore.errors import InputError
from uqcore.metrics.levels import prepare
from uqcore.metrics.ordering import descending_order
from uqcore.metrics.validation import check_finite

__all__ = ["Sparsification", "sparsification", "ause", "ause_rows", "aurg", "ause_in_error_units"]


def ause_in_error_units(ause_normalised: Any, mean_error: Any) -> Any:
    """The unnormalised AUSE (Poggi et al. 2020's convention: the curves in the error's own
    units, not divided by the mean error at f = 0) from the normalised one and that mean error.
    The two conventions differ by that one factor, because the area is linear in the curves.
    Works element-wise on arrays (per-image rows).

    >>> from uqcore.metrics import ause_in_error_units
    >>> float(ause_in_error_units(0.45, 0.25))  # ause(error, -error, steps=4) of the 2x2 example below
    0.1125
    """
    return np.asarray(ause_normalised, dtype=np.float64) * np.asarray(mean_error, dtype=np.float64)


@dataclass(frozen=True)
class Sparsification:
    """Sparsification curves, each normalised to start at 1 (see the module docstring).

    fractions: f_k = k/K, k = 0..K-1; estimate / oracle / random: the normalised mean error of
    the remaining points; mean_error: the un-normalised mean error at f = 0.

    >>> import numpy as np
    >>> from uqcore.metrics import sparsification
    >>> curves = sparsification(np.array([[0.1, 0.2], [0.3, 0.4]]), np.array([[4.0, 3.0], [2.0, 1.0]]), steps=4)
    >>> curves.estimate, curves.oracle
    (array([1. , 1.2, 1.4, 1.6]), array([1. , 0.8, 0.6, 0.4]))
    """

    fractions: np.ndarray
    estimate: np.ndarray
    oracle: np.ndarray
    random: np.ndarray
    mean_error: float

    @property
    def ause(self) -> float:
        return _area(self.estimate - self.oracle, len(self.fractions))

    @property
    def ause_raw(self) -> float:
        """The unnormalised AUSE: area between the estimate and oracle curves in the error's own
        units (:func:`ause_in_error_units`)."""
        return float(ause_in_error_units(self.ause, self.mean_error))

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


def _remaining_means(error: np.ndarray, score: np.ndarray, counts: np.ndarray,
                     order: np.ndarray | None = None) -> np.ndarray:
    """Mean error left after removing the ``counts`` highest-``score`` points; ties averaged.
    Row by row: ``error`` / ``score`` [B, N] give [B, len(counts)] (every row with the
    arithmetic of a single one, so a row gives the bits a 1-D call would). ``order``: the
    points by descending score, ties in index order (``np.argsort(-score, kind="stable")``)."""
    n = error.shape[-1]
    if order is None:
        order = descending_order(score) if score.ndim == 1 else np.argsort(-score, axis=-1, kind="stable")
    s = np.take_along_axis(score, order, -1)
    csum = np.concatenate((np.zeros((*error.shape[:-1], 1)), np.cumsum(np.take_along_axis(error, order, -1), -1)), -1)
    # the tie group of every sorted position: its start a and its end b (exclusive)
    new_group = np.ones(s.shape, dtype=bool)
    np.not_equal(s[..., 1:], s[..., :-1], out=new_group[..., 1:])
    position = np.arange(n)
    starts = np.maximum.accumulate(np.where(new_group, position, 0), axis=-1)
    next_start = np.minimum.accumulate(np.where(new_group, position, n)[..., ::-1], axis=-1)[..., ::-1]
    ends = np.concatenate((next_start[..., 1:], np.full((*s.shape[:-1], 1), n)), -1)
    removed = np.zeros((*s.shape[:-1], counts.size))
    pos = counts > 0
    last = counts[pos] - 1  # the last removed point; its group is removed in part, its mean error each
    a, b = starts[..., last], ends[..., last]
    m = counts[pos]
    removed[..., pos] = (np.take_along_axis(csum, a, -1)
                         + (m - a) * (np.take_along_axis(csum, b, -1) - np.take_along_axis(csum, a, -1)) / (b - a))
    return (csum[..., n:] - removed) / (n - counts)


def _check_steps(steps: int) -> int:
    if int(steps) != steps or int(steps) < 2:
        raise InputError(f"steps must be an integer >= 2, got {steps!r}")
    return int(steps)


def sparsification_vectors(e: np.ndarray, u: np.ndarray, steps: int, *, e_order: np.ndarray | None = None,
                           u_order: np.ndarray | None = None) -> Sparsification:
    """:func:`sparsification` of 1-D errors and uncertainties; ``e_order`` / ``u_order``: their
    :func:`stable_order`, when the caller has them (the ranking then takes linear time)."""
    steps = _check_steps(steps)
    n = e.size
    fractions = np.arange(steps) / steps
    counts = _removal_counts(n, steps)
    est = _remaining_means(e, u, counts, None if u_order is None else descending_order(u, u_order))
    ora = _remaining_means(e, e, counts, None if e_order is None else descending_order(e, e_order))
    mean = float(e.sum() / n)
    if mean == 0.0:
        z = np.zeros(steps)
        return Sparsification(fractions=fractions, estimate=z, oracle=z.copy(), random=z.copy(), mean_error=0.0)
    return Sparsification(
        fractions=fractions, estimate=est / mean, oracle=ora / mean, random=np.ones(steps), mean_error=mean
    )


def sparsification(error: Any, uncertainty: Any, steps: int = 50, mask: Any = None, *, level: str = "pixel",
                   patch: int = 16, segments: Any = None, prediction: Any = None, masks: Any = None) -> Sparsification:
    """Sparsification curves of ``uncertainty`` against ``error`` (see the module docstring).

    error, uncertainty: [H, W] maps (numpy or torch) of the same shape; for ``level="mean"``
    lists of per-image maps (with ``masks=`` a list of per-image masks) or 1-D per-image values.
    Returns :class:`Sparsification` with ``.fractions``, ``.estimate``, ``.oracle``, ``.random``
    (numpy, K = ``steps`` points, normalised to start at 1) and ``.ause`` / ``.aurg``.
    Ranking: descending uncertainty (oracle: descending error); tied values are averaged, so the
    result does not depend on pixel order. O(N log N) time, O(N) memory.

    >>> import numpy as np
    >>> from uqcore.metrics import sparsification
    >>> error = np.array([[0.1, 0.2], [0.3, 0.4]])
    >>> curves = sparsification(error, error * 10, steps=4)  # a perfect ranking
    >>> curves.fractions, curves.estimate, curves.random
    (array([0.  , 0.25, 0.5 , 0.75]), array([1. , 0.8, 0.6, 0.4]), array([1., 1., 1., 1.]))
    """
    e, u = prepare(error, uncertainty, level, mask, patch, segments, prediction, masks)
    return sparsification_vectors(e, u, steps)


def ause(error: Any, uncertainty: Any, steps: int = 50, mask: Any = None, *, normalise: bool = True,
         **kwargs: Any) -> float:
    """Area Under the Sparsification Error: area between the estimate and oracle curves
    (trapezoid over f_k = k/K, spacing 1/K). Lower is better; 0 for a perfect ranking.
    Same arguments as :func:`sparsification` (``level=``, ``patch=``, ``segments=``, ...).
    ``normalise=True`` (the default, this project's tables): the curves are divided by the mean
    error at f = 0, so the AUSE is unitless; ``normalise=False``: the curves in the error's own
    units (Poggi et al. 2020), i.e. the normalised AUSE times that mean error.

    >>> import numpy as np
    >>> from uqcore.metrics import ause
    >>> error = np.array([[0.1, 0.2], [0.3, 0.4]])
    >>> ause(error, error ** 2, steps=4)  # same ranking as the error: 0
    0.0
    >>> round(ause(error, -error, steps=4), 3)  # the worst ranking
    0.45
    >>> round(ause(error, -error, steps=4, normalise=False), 4)  # x the mean error 0.25
    0.1125
    """
    curves = sparsification(error, uncertainty, steps, mask, **kwargs)
    return curves.ause if normalise else curves.ause_raw


def ause_rows(error: Any, uncertainty: Any, steps: int = 50, *, normalise: bool = True) -> np.ndarray:
    """:func:`ause` of every row: ``error`` / ``uncertainty`` [B, N] are B separate rankings of N
    points each (e.g. the per-image means of B bootstrap resamples, the mean level's interval);
    [B] AUSEs, each the number :func:`ause` gives for that row as 1-D values at ``level="mean"``.
    A row whose mean error is 0 has AUSE 0.

    >>> import numpy as np
    >>> from uqcore.metrics import ause_rows
    >>> error = np.array([[0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4]])
    >>> ause_rows(error, np.stack([error[0] ** 2, -error[1]]), steps=4).round(3)  # perfect, worst
    array([0.  , 0.45])
    """
    steps = _check_steps(steps)
    e, u = np.asarray(error, dtype=np.float64), np.asarray(uncertainty, dtype=np.float64)
    if e.ndim != 2 or e.shape != u.shape:
        raise InputError(f"error and uncertainty must be [rows, points] arrays of one shape, got {e.shape} and {u.shape}")
    check_finite(e, "error")
    check_finite(u, "uncertainty")
    n = e.shape[1]
    counts = _removal_counts(n, steps)
    mean = e.sum(axis=1) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = (_remaining_means(e, u, counts) / mean[:, None]) - (_remaining_means(e, e, counts) / mean[:, None])
    area = np.where(mean == 0.0, 0.0, (diff[:, :-1] + diff[:, 1:]).sum(axis=1) / 2.0 / steps)
    return area if normalise else ause_in_error_units(area, mean)


def aurg(error: Any, uncertainty: Any, steps: int = 50, mask: Any = None, **kwargs: Any) -> float:
    """Area Under the Random Gain: area between the random and estimate curves (trapezoid over
    f_k = k/K, spacing 1/K). Higher is better; about 0 for a random uncertainty.

    >>> import numpy as np
    >>> from uqcore.metrics import aurg
    >>> error = np.array([[0.1, 0.2], [0.3, 0.4]])
    >>> round(aurg(error, error, steps=4), 3)
    0.225
    >>> aurg(error, np.ones((2, 2)), steps=4)  # a constant uncertainty is the random ranking
    0.0
    """
    return sparsification(error, uncertainty, steps, mask, **kwargs).aurg
