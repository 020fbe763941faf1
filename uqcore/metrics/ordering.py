"""Stable orders of 1-D arrays: what ``np.argsort(key, kind="stable")`` returns, computed faster.

The metrics rank pixels with a stable sort (ties in pixel order) so that bins and cumulative
sums never depend on the sort's whim. Numpy's stable sort is slower than its default one on
floats (benchmarks/bench_ordering.py); maps rarely tie, so sorting with the default and then
putting each run of equal keys back in index order gives the same order for less. A key that
is a non-decreasing function of an already sorted one (the variance plus eps, a scaled or
recalibrated variance) is ordered from that order without a full sort (``hint``). The results are
the stable sort's, element for element (tests/metrics/test_ordering.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from uqcore.errors import InputError

__all__ = ["stable_order", "descending_order"]


def stable_order(key: Any, hint: Any = None) -> np.ndarray:
    """``np.argsort(key, kind="stable")`` of a 1-D ``key``: ascending, equal keys in index order.

    ``hint``: an order of the indices in which ``key`` may already be non-decreasing (e.g. the
    stable order of values that ``key`` is a non-decreasing function of); it is checked, then
    only its runs of equal keys are put in index order. Without it, or where it does not sort
    ``key``, numpy's default sort is used (its stable one where a sample shows many ties:
    plateaus, tile means, where it is no slower).

    >>> import numpy as np
    >>> from uqcore.metrics import stable_order
    >>> stable_order(np.array([3.0, 1.0, 3.0, 1.0]))  # ties in index order
    array([1, 3, 0, 2])
    """
    key = np.asarray(key)
    if key.ndim != 1:
        raise InputError(f"stable_order takes a 1-D key, got shape {key.shape}; pass the values flattened")
    n = key.size
    if n < 2:
        return np.arange(n)
    if hint is not None:
        order = np.array(hint, dtype=np.intp)  # a copy: its ties are reordered in place
        if order.shape == key.shape:
            ordered = key[order]
            if (ordered[1:] >= ordered[:-1]).all():
                return _ties_in_index_order(order, ordered)
    if (key[1:] >= key[:-1]).all():  # already sorted: nothing moves
        return np.arange(n)
    sample = np.sort(key[::max(1, n // TIE_SAMPLE)])
    if np.count_nonzero(sample[1:] == sample[:-1]) * TIED_SHARE > sample.size:
        return np.argsort(key, kind="stable")  # many ties: fixing them would cost more than this sort saves
    order = np.argsort(key)
    ordered = key[order]
    if ordered.dtype.kind == "f" and np.isnan(ordered[-1]):  # NaN sorts last but never ties with itself
        return np.argsort(key, kind="stable")
    return _ties_in_index_order(order, ordered)


def descending_order(key: Any, ascending: Any = None) -> np.ndarray:
    """``np.argsort(-key, kind="stable")`` of a 1-D ``key``: descending, equal keys in index order.
    ``ascending``: the key's :func:`stable_order`, when the caller already has it (then this
    takes linear time: the reverse of that order, each run of equal keys turned back).

    >>> import numpy as np
    >>> from uqcore.metrics import descending_order
    >>> descending_order(np.array([3.0, 1.0, 3.0, 1.0]))
    array([0, 2, 1, 3])
    """
    key = np.asarray(key)
    order = np.array((stable_order(key) if ascending is None else ascending)[::-1], dtype=np.intp)
    n = order.size
    if n < 2:
        return order
    ordered = key[order]
    if ordered.dtype.kind == "f" and np.isnan(ordered[0]):  # NaN goes last in this order too
        return np.argsort(-key, kind="stable")
    new_run = np.ones(n, dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=new_run[1:])
    if new_run.all():
        return order
    starts = np.flatnonzero(new_run)
    lengths = np.diff(np.append(starts, n))
    # a run [a, b) holds its indices in descending order: position p takes the one at a + b - 1 - p
    return order[np.repeat(2 * starts + lengths - 1, lengths) - np.arange(n)]


TIE_SAMPLE = 2048  # values looked at (evenly spaced) to tell whether ties abound
TIED_SHARE = 16    # more than 1 in 16 sampled neighbours equal once sorted: many ties


def _ties_in_index_order(order: np.ndarray, ordered: np.ndarray) -> np.ndarray:
    """``order`` (whose keys ``ordered`` are sorted) with every run of equal keys sorted by
    index, in place: one sort of the tied positions' (run, index) pairs."""
    same = ordered[1:] == ordered[:-1]
    if not same.any() or (order[1:][same] > order[:-1][same]).all():
        return order
    tied = np.zeros(order.size, dtype=bool)
    tied[1:] = same
    tied[:-1] |= same
    run = np.cumsum(np.concatenate(([True], ~same)))[tied]  # the run of each tied position, non-decreasing
    n = order.size
    merged = np.sort(run.astype(np.int64) * n + order[tied])  # by run, then by index within the run
    order[tied] = merged % n
    return order
