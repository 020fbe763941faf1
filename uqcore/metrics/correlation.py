"""Correlation between error and uncertainty at the four levels (Pearson, Spearman), and all
single-image numbers in one pass (``correlations``); definitions in ``uqcore.metrics``."""

from __future__ import annotations

from typing import Any

import numpy as np

from uqcore.metrics.levels import prepare
from uqcore.metrics.ordering import stable_order
from uqcore.metrics.segmentation import segment
from uqcore.metrics.sparsification import sparsification_vectors
from uqcore.metrics.validation import as_map

__all__ = ["pearson", "spearman", "correlations", "ranks"]


def pearson_vectors(x: np.ndarray, y: np.ndarray) -> float:
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


def ranks(x: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """1-based ranks, tied values get the average of their ranks (scipy's "average").
    ``order``: any ascending order of ``x`` (e.g. its :func:`stable_order`), when the caller has one.

    >>> import numpy as np
    >>> from uqcore.metrics import ranks
    >>> ranks(np.array([3.0, 1.0, 3.0]))
    array([2.5, 1. , 2.5])
    """
    # numpy's default sort (faster than the stable one): tied values get their average rank
    # whatever order the sort leaves them in
    if order is None:
        order = np.argsort(x)
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
    tiles), then Pearson over the pixels. block: the same with segments of the prediction
    (``segments=`` labels, or ``prediction=`` to compute them with :func:`segment`, local centre
    of mass).
    mean: ``error`` / ``uncertainty`` are lists of per-image maps (or 1-D per-image values);
    Pearson between per-image mean error and per-image mean uncertainty.
    Returns NaN when either side is constant (no correlation is defined).

    >>> import numpy as np
    >>> from uqcore.metrics import pearson
    >>> error = np.arange(64.0).reshape(8, 8)
    >>> pearson(error, 2 * error + 1)
    1.0
    >>> round(pearson(error, error ** 2, level="patch", patch=4), 4)
    0.998
    """
    e, u = prepare(error, uncertainty, level, mask, patch, segments, prediction, masks)
    return pearson_vectors(e, u)


def spearman(error: Any, uncertainty: Any, level: str = "pixel", patch: int = 16, segments: Any = None,
             prediction: Any = None, mask: Any = None, masks: Any = None) -> float:
    """Spearman rank correlation (Pearson of average ranks) at ``level``; arguments as
    :func:`pearson`. NaN when either side is constant.

    >>> import numpy as np
    >>> from uqcore.metrics import spearman
    >>> error = np.array([[0.1, 0.2], [0.3, 0.4]])
    >>> spearman(error, error ** 3)
    1.0
    """
    e, u = prepare(error, uncertainty, level, mask, patch, segments, prediction, masks)
    if e.size < 2 or np.ptp(e) == 0 or np.ptp(u) == 0:
        return float("nan")
    return pearson_vectors(ranks(e), ranks(u))


def correlations(error: Any, uncertainty: Any, mask: Any = None, patch: int = 16, segments: Any = None,
                 prediction: Any = None, steps: int = 50) -> dict[str, float]:
    """All single-image numbers in one pass over the inputs: ``{level: value}`` for Pearson
    (``corr_<level>``), Spearman (``spearman_<level>``), AUSE (``ause_<level>``, normalised;
    ``ause_raw_<level>``, in the error's units: :func:`uqcore.metrics.ause`) and AURG
    (``aurg_<level>``) at the pixel, patch and (when ``segments`` or ``prediction`` is given)
    block levels.

    >>> import numpy as np
    >>> from uqcore.metrics import correlations
    >>> error = np.array([[0.1, 0.2], [0.3, 0.4]])
    >>> numbers = correlations(error, error * 2, patch=1)
    >>> numbers["corr_pixel"], numbers["ause_pixel"], round(numbers["aurg_patch"], 2)
    (1.0, 0.0, 0.29)
    """
    e = as_map(error, "error")
    u = as_map(uncertainty, "uncertainty")
    out: dict[str, float] = {}
    levels = ["pixel", "patch"]
    if segments is not None or prediction is not None:
        levels.append("block")
        if segments is None:
            segments = segment(prediction)
    for level in levels:
        ev, uv = prepare(e, u, level, mask, patch, segments, None)
        # one stable sort of each side serves the ranks and both sparsification curves
        e_order, u_order = stable_order(ev), stable_order(uv)
        out[f"corr_{level}"] = pearson_vectors(ev, uv)
        out[f"spearman_{level}"] = (float("nan") if ev.size < 2 or np.ptp(ev) == 0 or np.ptp(uv) == 0
                                    else pearson_vectors(ranks(ev, e_order), ranks(uv, u_order)))
        sp = sparsification_vectors(ev, uv, steps, e_order=e_order, u_order=u_order)
        out[f"ause_{level}"] = sp.ause
        out[f"ause_raw_{level}"] = sp.ause_raw
        out[f"aurg_{level}"] = sp.aurg
    return out

