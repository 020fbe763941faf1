"""The paper run's per-image rows (``results_per_image.csv``) and the intervals of its table cells.

Every test image of every column contributes one row: ``model`` (the model that produced the
column; a baseline model in the SR tables), ``table`` (the table it appears in), ``method``,
``samples``, ``image`` (test image name), ``index`` (position in the test split) and the
per-image values of :data:`uqcore.scoring.summary_ci.IMAGE_FIELDS` (pixel / patch / block correlation and
AUSE, NLL, mean error and mean variance, from which the mean level is computed) plus the
prediction's quality. A table cell is the summary of those rows and carries their 95 % bootstrap
interval (:func:`uqcore.scoring.summary_ci.ci_columns`); the Discussion's verdicts compare two
columns with a paired bootstrap over the same rows (:func:`compare`), Holm-corrected over the
family of all such verdicts of a report (``report.paired_family``, a
:class:`uqcore.scoring.stats.HolmFamily`, when it has one)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from uqcore.scoring import summary_ci
from uqcore.scoring.scorer import LEVELS
from uqcore.scoring.stats import Interval

FILE_KIND = "per_image"  # results_per_image.csv beside --out


def column_rows(scorer: Any, label: str, n: int, steps: int,
                per_image: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The interval columns of each level of one column (in :data:`LEVELS` order) from the scorer's
    scored images; the column's per-image rows are appended to ``per_image`` (if given)."""
    images = [summary_ci.image_fields(s) for s in scorer.scores]
    if per_image is not None:
        per_image += [{"method": label, "samples": int(n), "index": i, **v, **s.quality}
                      for i, (v, s) in enumerate(zip(images, scorer.scores))]
    return [summary_ci.ci_columns(images, level, steps=steps) for level in LEVELS]


def name_rows(rows: Sequence[dict[str, Any]], names: Sequence[str], model: str, table: str,
              task: str) -> list[dict[str, Any]]:
    """Per-image rows with the test image names and the model / table / task they belong to."""
    return [{"model": model, "table": table, "task": task, "image": names[r["index"]], **r} for r in rows]


def column(report: Any, table: str, col: tuple[str, int]) -> list[dict[str, Any]]:
    """The per-image rows of one column ``(method, samples)`` of ``table``, in test-split order."""
    rows = [r for r in report.per_image.get(table, []) if r["method"] == col[0] and int(r["samples"]) == int(col[1])]
    return sorted(rows, key=lambda r: r["index"])


def compare(report: Any, table: str, a: tuple[str, int] | None, b: tuple[str, int] | None, metric: str,
            level: str) -> Interval | None:
    """Paired bootstrap of column a − column b (``metric`` "corr" / "ause" at ``level``) over the
    test images of ``table``; None where either column has no per-image rows or they differ in
    images."""
    if a is None or b is None:
        return None
    ra, rb = column(report, table, a), column(report, table, b)
    if not ra or [r["image"] for r in ra] != [r["image"] for r in rb]:
        return None
    return summary_ci.difference(ra, rb, metric, level)


def separated(diff: Interval, p_adjusted: float = float("nan"), alpha: float = 0.05) -> bool:
    """A Holm-adjusted p-value below ``alpha`` where there is one, else the paired 95 % interval
    excluding 0."""
    return p_adjusted < alpha if math.isfinite(p_adjusted) else not diff.contains(0.0)


def separation(diff: Interval | None, digits: int = 3, p_adjusted: float = float("nan"), holm: bool = True) -> str:
    """``difference +0.087 [0.041, 0.130], Holm p = 0.004, separated`` (``holm=False``: ``p = ``,
    an uncorrected p-value)."""
    if diff is None:
        return "no paired interval"
    word = "separated" if separated(diff, p_adjusted) else "not separated"
    p = f", {'Holm p' if holm else 'p'} = {p_adjusted:.3g}" if math.isfinite(p_adjusted) else ""
    return f"difference {diff.estimate:+.{digits}f} [{diff.lo:+.{digits}f}, {diff.hi:+.{digits}f}]{p}, {word}"


def duels(report: Any, table: str, pairs: dict[str, tuple[tuple[str, int] | None, tuple[str, int] | None]],
          metric: str = "corr") -> tuple[str, dict[str, str]]:
    """Paired verdicts "A beats B at level L": for each level, ``pairs[level] = (A, B)`` columns;
    returns (markdown text, {level: "A ahead" | "B ahead" | "not separated" | "no paired interval" |
    "n/a" (the level means nothing for the number of images, :func:`uqcore.scoring.summary_ci.level_note`)}).
    Higher is better for "corr", lower for "ause". With ``report.paired_family`` each verdict's
    p-value joins that family and the verdict uses its Holm-adjusted p-value."""
    family = getattr(report, "paired_family", None)
    parts, words = [], {}
    for lv, (a, b) in pairs.items():
        note = summary_ci.level_note(lv, len(column(report, table, a))) if a is not None else None
        if note:
            words[lv] = "n/a"
            parts.append(f"{lv} n/a ({note})")
            continue
        d = compare(report, table, a, b, metric, lv)
        if d is None or a is None or b is None:
            words[lv] = "no paired interval"
            continue
        p_adj = d.p
        if family is not None and math.isfinite(d.p):
            key = (table, a, b, metric, lv)
            family.add(key, d.p)
            p_adj = family.adjusted(key, d.p)
        # the side of 0 the interval lies on decides (a percentile interval need not hold the estimate)
        above = d.lo + d.hi > 0 if math.isfinite(p_adj) else d.lo > 0
        words[lv] = ("A ahead" if above == (metric == "corr") else "B ahead") if separated(d, p_adj) else "not separated"
        parts.append(f"{lv} {separation(d, p_adjusted=p_adj, holm=family is not None)}")
    rule = "Holm-adjusted p < 0.05" if family is not None else "p < 0.05"
    text = (f"Paired bootstrap (A − B over the same test images, 95 %; separated: {rule}): "
            + "; ".join(parts) + ".") if parts else ""
    return text, words
