"""95 % bootstrap intervals of a dataset summary (:meth:`uqcore.scoring.scorer.Scorer.compute`) from its
per-image values, the rule saying when a level means nothing for its number of images, and the
paired difference of two columns scored on the same images.

Every summary number is a statistic of per-image values (:func:`image_fields`), so its interval
resamples images (:mod:`uqcore.scoring.stats`: percentile, :data:`uqcore.scoring.stats.N_RESAMPLES` seeded
resamples):

* pixel / patch / block AUSE and correlation: the mean over images of the per-image value
  (NaN left out, :func:`uqcore.scoring.stats.nanmean_rows`), as in the summary;
* mean level: Pearson correlation / AUSE (``steps`` sparsification steps) across the images of
  (per-image mean error, per-image mean variance);
* NLL: the mean over images of the per-image NLL.

**Minimum images** (:data:`MIN_IMAGES`, :func:`level_note`): the mean level is one correlation over
n points, one per image; below :data:`MIN_IMAGES` ["mean"] = 10 its sampling spread is so wide
(the 95 % interval of a correlation over 4 points covers most of [−1, 1]) that the number says
nothing, so tables print a note instead. Every level needs :data:`MIN_INTERVAL_IMAGES` images for an
interval (resampling 2 images gives at most 3 distinct resamples)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from uqcore import metrics as M
from uqcore.scoring import stats
from uqcore.scoring.scorer import IMAGE_LEVELS, LEVELS

MIN_IMAGES = {"mean": 10, "patch": 1, "block": 1, "pixel": 1}
MIN_INTERVAL_IMAGES = 3
METRICS = ("corr", "ause", "ause_raw")  # ause: normalised; ause_raw: in the error's units (uqcore.metrics)
# per-image fields a summary interval needs (the per-image CSVs carry them)
IMAGE_FIELDS = (*(f"{k}_{lv}" for lv in IMAGE_LEVELS for k in METRICS), "nll", "mean_error", "mean_variance")


def level_note(level: str, n: int) -> str | None:
    """Why the ``level`` value over ``n`` images means nothing (None when it is meaningful)."""
    need = MIN_IMAGES.get(level, 1)
    if n < need:
        what = "a correlation / AUSE across images, one point per image" if level == "mean" else "a mean over images"
        return f"needs ≥ {need} images ({what}); {n} here"
    return None


def image_fields(score: Any) -> dict[str, float]:
    """The :data:`IMAGE_FIELDS` of one :class:`uqcore.scoring.scorer.ImageScore`."""
    out = {f"{k}_{lv}": float(score.stats.get(f"{k}_{lv}", np.nan)) for lv in IMAGE_LEVELS for k in METRICS}
    out.update(nll=float(score.nll), mean_error=float(score.mean_error), mean_variance=float(score.mean_variance))
    return out


def _column(images: Sequence[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([float(r[key]) if r.get(key) is not None else np.nan for r in images], dtype=np.float64)


def _statistic(metric: str, level: str, steps: int) -> tuple[tuple[str, ...], Any, bool]:
    """(per-image fields, statistic, vectorised) of one summary number."""
    if metric == "nll":
        return ("nll",), stats.nanmean_rows, True
    if level != "mean":
        return (f"{metric}_{level}",), stats.nanmean_rows, True
    if metric == "corr":
        return ("mean_error", "mean_variance"), stats.pearson_rows, True

    def ause(me: np.ndarray, mv: np.ndarray) -> np.ndarray:  # [resamples, images] -> [resamples]
        return M.ause_rows(me, mv, steps, normalise=metric != "ause_raw")
    return ("mean_error", "mean_variance"), ause, True


def interval(images: Sequence[dict[str, Any]], metric: str, level: str = "pixel", *, steps: int = 50,
             n_resamples: int = stats.N_RESAMPLES, seed: int = stats.SEED) -> stats.Interval:
    """Bootstrap interval of one summary number (``metric`` "corr" / "ause" at ``level``, or
    "nll") over the per-image rows ``images`` (:data:`IMAGE_FIELDS`). No interval (NaN bounds)
    below :data:`MIN_INTERVAL_IMAGES` images or where :func:`level_note` objects."""
    fields, statistic, vec = _statistic(metric, level, steps)
    data = [_column(images, f) for f in fields]
    n = len(images)
    if n < MIN_INTERVAL_IMAGES or (metric != "nll" and level_note(level, n)):
        est = stats.bootstrap(data, statistic, vectorized=vec, n_resamples=1).estimate if n else float("nan")
        return stats.Interval(estimate=est, lo=float("nan"), hi=float("nan"), n=n)
    return stats.bootstrap(data, statistic, vectorized=vec, n_resamples=n_resamples, seed=seed)


def difference(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]], metric: str, level: str = "pixel", *,
               steps: int = 50, n_resamples: int = stats.N_RESAMPLES, seed: int = stats.SEED) -> stats.Interval:
    """Paired bootstrap of (column a − column b) for one summary number; ``a`` and ``b`` are the
    per-image rows of two columns over the same images in the same order."""
    fields, statistic, vec = _statistic(metric, level, steps)
    if len(a) != len(b):
        raise ValueError("a paired difference needs the same images in both columns")
    return stats.paired_bootstrap([_column(a, f) for f in fields], [_column(b, f) for f in fields], statistic,
                                  vectorized=vec, n_resamples=n_resamples, seed=seed)


def ci_columns(images: Sequence[dict[str, Any]], level: str, *, steps: int = 50,
                     n_resamples: int = stats.N_RESAMPLES, seed: int = stats.SEED) -> dict[str, Any]:
    """The interval columns of one summary row (one level of one column): ``corr_lo`` / ``corr_hi``,
    ``ause_lo`` / ``ause_hi``, ``nll_lo`` / ``nll_hi`` (NaN where there is none), ``n_ci`` (images)
    and ``level_note`` (:func:`level_note`, "" when the level is meaningful)."""
    out: dict[str, Any] = {}
    for metric in (*METRICS, "nll"):
        iv = interval(images, metric, level, steps=steps, n_resamples=n_resamples, seed=seed)
        out[f"{metric}_lo"], out[f"{metric}_hi"] = iv.lo, iv.hi
    out["n_ci"] = len(images)
    out["level_note"] = level_note(level, len(images)) or ""
    return out


def add_intervals(rows: Sequence[dict[str, Any]], images: Sequence[dict[str, Any]], *, steps: int = 50,
                  n_resamples: int = stats.N_RESAMPLES, seed: int = stats.SEED) -> list[dict[str, Any]]:
    """Summary rows (one per method, samples, level, as :func:`uqcore.evaluate` returns them) with
    the :func:`ci_columns` of their level, from the per-image rows ``images`` (the
    ``on_image`` rows of :func:`uqcore.evaluate`, matched by method and samples)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in images:
        groups.setdefault((str(r["method"]), str(r["samples"])), []).append(r)
    out = []
    for r in rows:
        imgs = groups.get((str(r["method"]), str(r["samples"])), [])
        out.append({**r, **ci_columns(imgs, r["level"], steps=steps, n_resamples=n_resamples, seed=seed)})
    return out


def cell(row: dict[str, Any], metric: str, digits: int = 3) -> str:
    """A table cell ``0.449 [0.412, 0.486]`` of a row with interval columns; the level's note
    (``n/a: needs ≥ 10 images ...``) instead of a number where the level means nothing."""
    if metric != "nll" and row.get("level_note"):
        return f"n/a: {row['level_note']}"
    return stats.format_interval(float(row.get(metric, np.nan)), float(row.get(f"{metric}_lo", np.nan)),
                                 float(row.get(f"{metric}_hi", np.nan)), digits)


def interval_frame(rows: Sequence[dict[str, Any]]):
    """pandas DataFrame of text cells shaped like :func:`uqcore.datasets.evaluate.table_frame` (rows
    "AUSE mean" ... "Corr pixel", "NLL"; columns "method (samples)"): each cell :func:`cell`; then
    "NLL (σ-scaled)" and "s / image" (no interval) where the rows have them."""
    import pandas as pd  # lazy: only tables need it

    columns = list(dict.fromkeys(f"{r['method']} ({r['samples']})" for r in rows))
    index = [f"AUSE {lv}" for lv in LEVELS] + [f"Corr {lv}" for lv in LEVELS] + ["NLL"]
    frame = pd.DataFrame("–", index=index, columns=columns, dtype=object)
    for r in rows:
        c = f"{r['method']} ({r['samples']})"
        frame.loc[f"AUSE {r['level']}", c] = cell(r, "ause")
        frame.loc[f"Corr {r['level']}", c] = cell(r, "corr")
        frame.loc["NLL", c] = cell(r, "nll")
        for label, key, digits in (("NLL (σ-scaled)", "nll_scaled", 3), ("s / image", "seconds_per_image", 2)):
            if key in r:
                frame.loc[label, c] = stats.format_interval(float(r[key]), np.nan, np.nan, digits)
    return frame.fillna("–")
