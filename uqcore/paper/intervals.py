"""Calibrated error bars in the paper run: conformal coverage / width and ENCE per
(model, method, samples), the bars checked, as markdown and as printed text.

Every column of the tables gets a split-conformal, an isotonic and a σ-scaling calibration at
``Settings.interval_level`` fitted on the calibration split plus the held-out calibration
images (:mod:`uqcore.paper.heldout`) and measured on the test split
(:func:`uqcore.paper.run.error_bar_columns`). The bars:

1. **Coverage**: conformal coverage on the test split (pooled over its valid values) within
   ±:data:`COVERAGE_TOLERANCE` of the level for every (model, method, samples) column.
2. **ENCE**: isotonic recalibration gives a lower ENCE than σ-scaling (the scorer's rule, fitted
   on the same calibration images; both ENCEs binned by the raw variance) on the test split for
   at least :data:`ENCE_SHARE` of the columns.

A baseline model (MC-dropout, ensemble, likelihood head) appears in every SR table but is one
column here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from uqcore.paper.discussion import as_float, column_label, fmt
from uqcore.paper.report import Report
from uqcore.scoring.scorer import ENCE_BINS

COVERAGE_TOLERANCE = 0.03
ENCE_SHARE = 2 / 3


def interval_rows(report: Report) -> list[dict[str, Any]]:
    """One row per (model, method, samples): the interval columns of the tables' rows."""
    seen: dict[tuple[str, str, int], dict[str, Any]] = {}
    for rows in report.tables.values():
        for r in rows:
            key = (r["model"], r["method"], int(r["samples"]))
            if key not in seen and "conformal_coverage" in r:
                seen[key] = r
    return list(seen.values())


def bars(rows: Sequence[dict[str, Any]], level: float) -> dict[str, Any]:
    """The two bars: coverage misses and the ENCE comparison, with counts and verdicts."""
    cov = [(r, as_float(r.get("conformal_coverage"))) for r in rows]
    misses = [r for r, c in cov if not (math.isfinite(c) and abs(c - level) <= COVERAGE_TOLERANCE + 1e-12)]
    compared = [r for r in rows if math.isfinite(as_float(r.get("ence_isotonic")))
                and math.isfinite(as_float(r.get("ence_sigma")))]
    lower = [r for r in compared if as_float(r["ence_isotonic"]) < as_float(r["ence_sigma"])]
    return {"n": len(rows), "coverage_met": bool(rows) and not misses, "coverage_misses": misses,
            "ence_lower": len(lower), "ence_compared": len(compared),
            "ence_met": bool(rows) and len(lower) >= ENCE_SHARE * len(rows) - 1e-12}


def _cells(r: dict[str, Any]) -> list[str]:
    def pct(v: Any) -> str:
        v = as_float(v)
        return f"{100 * v:.1f}" if math.isfinite(v) else "–"

    return [f"`{r['model']}`", column_label((r["method"], int(r["samples"]))),
            str(int(as_float(r.get("n_interval_calibration", float("nan"))))) if math.isfinite(
                as_float(r.get("n_interval_calibration", float("nan")))) else "–", fmt(r.get("conformal_q"), 3),
            pct(r.get("conformal_coverage")),
            f"{pct(r.get('conformal_coverage_min'))}–{pct(r.get('conformal_coverage_max'))}",
            fmt(r.get("conformal_width"), 3), pct(r.get("isotonic_coverage")), fmt(r.get("isotonic_width"), 3),
            fmt(r.get("ence"), 3), fmt(r.get("ence_sigma"), 3), fmt(r.get("ence_isotonic"), 3),
            f"{pct(r.get('conformal_splits_mean'))} / {pct(r.get('conformal_splits_within'))}"]


HEADER = ["model", "method (samples)", "calibration images", "q (σ)", "coverage %", "per image %", "width", "isotonic coverage %",
          "isotonic width", "ENCE raw", "ENCE σ-scaled", "ENCE isotonic", "re-splits: mean % / within ±3 %"]


def _spread_line(rows: Sequence[dict[str, Any]]) -> list[str]:
    within = [as_float(r.get("conformal_splits_within")) for r in rows]
    means = [as_float(r.get("conformal_splits_mean")) for r in rows]
    within = [w for w in within if math.isfinite(w)]
    means = [m for m in means if math.isfinite(m)]
    if not within:
        return []
    n = int(max(as_float(r.get("conformal_splits")) for r in rows))
    return [f"How much that owes to which images calibrate: over {n} ways of choosing the calibration images from "
            f"all images of the run (same count), the pooled test coverage averages {100 * min(means):.1f}–"
            f"{100 * max(means):.1f} % per column, and {100 * min(within):.0f}–{100 * max(within):.0f} % of the "
            f"splits are within ±{100 * COVERAGE_TOLERANCE:.0f} points (last column)."]


def verdict_lines(b: dict[str, Any], level: float, rows: Sequence[dict[str, Any]] = ()) -> list[str]:
    miss = ", ".join(f"{r['model']} {column_label((r['method'], int(r['samples'])))} "
                     f"{100 * as_float(r.get('conformal_coverage')):.1f} %" for r in b["coverage_misses"])
    return ["Printed by `python -m uqcore reproduce` (this section; `--quick` for a smoke run).",
            f"Bar 1 (conformal {level:.0%} coverage within ±{100 * COVERAGE_TOLERANCE:.0f} points on the test split, "
            f"every column): **{'met' if b['coverage_met'] else 'not met'}** — "
            f"{b['n'] - len(b['coverage_misses'])} of {b['n']} columns within"
            + (f"; outside: {miss}." if miss else "."),
            f"Bar 2 (isotonic ENCE below σ-scaled ENCE for at least {ENCE_SHARE:.0%} of the columns): "
            f"**{'met' if b['ence_met'] else 'not met'}** — lower in {b['ence_lower']} of {b['n']}.",
            *_spread_line(rows)]


def markdown_lines(report: Report) -> list[str]:
    rows = interval_rows(report)
    if not rows:
        return []
    level = report.settings.interval_level
    b = bars(rows, level)
    body = [_cells(r) for r in rows]
    L = ["## Calibrated error bars (conformal and isotonic)", "",
         f"Per column of the tables: a **split-conformal** interval at level {level:g} (nonconformity |y − ŷ|/σ over "
         "the calibration images' values, σ = sqrt(variance + 1e-6), q its ⌈(N+1)·level⌉-th smallest, interval "
         "ŷ ± q·σ), **isotonic recalibration** (an isotonic variance map g — the non-decreasing regression of the "
         "squared residual on the raw variance over 100 equal-count bins — then Kuleshov et al. 2018's map: the "
         "empirical CDF of the residuals standardised by σ̃ = sqrt(g(v) + 1e-6); central interval of the "
         "recalibrated CDF) and **σ-scaling** (the scorer's NLL-optimal variance scale), all fitted on the "
         "calibration images — the calibration split plus the held-out calibration images (see Settings; column "
         "`calibration images`) — and measured on the test split: coverage = fraction of valid values (pixels × "
         "channels) inside, pooled over the test images (per image: smallest–largest), width = mean interval "
         f"width in output units. ENCE (Levi et al. 2022, {ENCE_BINS} equal-count bins of the raw variance for "
         "every variance, pooled test pixels) of the raw variance, of the σ-scaled variance and of the isotonic "
         "recalibration's variance (its second moment times σ̃²). Module `uqcore.calibration.intervals` documents "
         "what each guarantees: conformal coverage holds for exchangeable values, but pixels within an image "
         "are not exchangeable — images are — so the pooled quantile is only as good as the number of calibration "
         "images, and the per-image coverage spreads: the last column refits the conformal interval on other "
         "choices of the same number of calibration images from all the run's images (calibration + held-out + "
         "test) and gives the mean test coverage and the share of choices within the bar's tolerance. "
         "σ-scaling is one global scale of the variance; the isotonic variance map can change the calibration "
         "from one variance bin to the next, which is what ENCE measures (docs/CALIBRATION.md).", "",
         "| " + " | ".join(HEADER) + " |", "|---|---|" + "---:|" * (len(HEADER) - 2),
         *["| " + " | ".join(c) + " |" for c in body], ""]
    L += [f"- {line}" for line in verdict_lines(b, level, rows)] + [""]
    return L


def text(report: Report) -> str:
    """The same table and verdicts as plain text (what ``reproduce`` prints)."""
    rows = interval_rows(report)
    if not rows:
        return ""
    level = report.settings.interval_level
    body = [[c.replace("`", "") for c in _cells(r)] for r in rows]
    widths = [max(len(h), *(len(b[j]) for b in body)) for j, h in enumerate(HEADER)]
    lines = [f"Calibrated error bars (level {level:g}, fitted on the calibration split + held-out calibration images, "
             "measured on the test split):",
             "  ".join(h.ljust(w) for h, w in zip(HEADER, widths)),
             *["  ".join(v.ljust(w) for v, w in zip(b, widths)) for b in body]]
    lines += [line.replace("**", "") for line in verdict_lines(bars(rows, level), level, rows)]
    return "\n".join(lines)
