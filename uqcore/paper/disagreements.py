"""The Discussion's list of disagreements with the paper beyond our own intervals, each with a
one-line probable cause, and what the bundled models cannot show.

Rule: a correlation cell (any level) of a column the paper also has disagrees when the paper's
value lies outside our 95 % bootstrap interval (:mod:`uqcore.scoring.summary_ci`); it is **large** when the
two also differ by at least :data:`LARGE`. Large ones are listed one by one with a cause picked
from what the run itself measured (per-image spread of the errors, the baselines' PSNR, whose
baselines a column is); the others are counted per table. Every number comes from the report."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from uqcore.paper.baselines import foreign
from uqcore.paper.discussion import as_float, column_label, column_values, fmt
from uqcore.paper.per_image import column
from uqcore.paper.values import LEVELS, LLM, MC_DROPOUT, METHOD_LABELS, PAPER_TABLE_NAMES, PAPER_TABLES

LARGE = 0.3
CEILING = 0.8  # every column's image-level correlation at least this: a ceiling effect, said so
PAPER_KEY = {"fcrn": "fcrn"}


def cells(report: Any, table: str, paper_key: str) -> list[dict[str, Any]]:
    """Every correlation cell of ``table`` with a paper counterpart: ours, interval, paper, outside, large."""
    rows = {(r["method"], int(r["samples"]), r["level"]): r for r in report.tables.get(table, [])}
    out = []
    for (meth, n), paper in PAPER_TABLES.get(paper_key, {}).items():
        for lv in LEVELS:
            r = rows.get((meth, n, lv))
            if r is None:
                continue
            ours, lo, hi = (as_float(r.get(k)) for k in ("corr", "corr_lo", "corr_hi"))
            p = paper[f"Corr {lv}"]
            if not math.isfinite(ours):
                continue
            outside = (p < lo or p > hi) if math.isfinite(lo) and math.isfinite(hi) else False
            out.append({"col": (meth, n), "level": lv, "ours": ours, "lo": lo, "hi": hi, "paper": p,
                        "outside": outside, "large": outside and abs(ours - p) >= LARGE})
    return out


def _error_spread(report: Any, table: str, col: tuple[str, int]) -> float:
    me = np.array([as_float(r["mean_error"]) for r in column(report, table, col)])
    me = me[np.isfinite(me) & (me > 0)]
    return float(me.max() / me.min()) if me.size >= 2 else float("nan")


def cause(report: Any, table: str, c: dict[str, Any]) -> str:
    """One line: the probable cause of a large disagreement, from what the run measured."""
    meth, lv, higher = c["col"][0], c["level"], c["ours"] > c["paper"]
    task = report.tables[table][0].get("task")
    other = foreign(report, table)
    if meth in other:
        return (f"this column is `{other[meth]}`, another model's baseline scored on its own predictions, not one "
                f"made for `{table}`")
    if lv == "mean" and task == "sr" and higher:
        spread = _error_spread(report, table, c["col"])
        return (f"a ceiling effect: the test images' mean errors span a factor {fmt(spread, 1)} (per-image rows), so "
                "any variance that grows with an image's difficulty orders them; the paper's 100+ images of one kind "
                "(Set14/BSD) vary less")
    if meth == LLM:
        cols = column_values(report.tables[table])
        psnr = cols.get(c["col"], {}).get("PSNR (dB)", float("nan"))
        best_psnr = max((v.get("PSNR (dB)", float("nan")) for v in cols.values()), default=float("nan"))
        if psnr < best_psnr - 0.5:
            return (f"the likelihood model's prediction is weaker ({fmt(psnr, 2)} dB vs up to {fmt(best_psnr, 2)} dB "
                    "in this table), so its error and its variance follow other structure than the paper's")
        return (f"the likelihood model predicts as well as the table's best ({fmt(psnr, 2)} dB) but its variance "
                "head is small and briefly trained (see its card), so its variance tracks little of the error")
    if task == "depth" and lv == "mean" and meth.startswith(MC_DROPOUT):
        return ("fcrn's MC-dropout samples its one dropout layer just before the output: the per-scene spread follows "
                "the features' texture, not the synthetic scenes' depth range, which sets their mean error")
    if task == "depth" and lv == "mean":
        return ("the per-scene error of synthetic rooms is dominated by their depth range; a perturbation of "
                f"`{meth}`'s chosen layer (tuned on pixel correlation over 4 scenes) tracks it only partly")
    if task == "depth":
        return "synthetic scenes with exact depth and a small CPU-trained fcrn: another error structure than NYU-v2's"
    return ("small CPU-trained models on 256-px crops: their errors concentrate on edges and textures differently "
            "from the paper's full-size models")


def lines(report: Any, sr: list[str], depth: str) -> list[str]:
    """The Discussion section: disagreements beyond our intervals, then what the models cannot show."""
    out = ["### 7. Where we disagree with the paper beyond our intervals", "",
           f"Rule: a correlation cell disagrees when the paper's value lies outside our 95 % bootstrap interval; "
           f"it is listed when the two also differ by at least {LARGE} (absolute), with a one-line probable cause "
           "drawn from this run's numbers.", ""]
    for table in [*sr, depth]:
        key = PAPER_KEY.get(table, table)
        if table not in report.tables or key not in PAPER_TABLES:
            continue
        cs = cells(report, table, key)
        outside = [c for c in cs if c["outside"]]
        large = [c for c in cs if c["large"]]
        out.append(f"- **{table}** vs {PAPER_TABLE_NAMES[key]}: {len(outside)} of {len(cs)} correlation cells outside "
                   f"our interval, {len(large)} of them by ≥ {LARGE}" + (":" if large else "."))
        for c in large:
            out.append(f"  - {column_label(c['col'])} at the {c['level']} level: ours {fmt(c['ours'])} "
                       f"[{fmt(c['lo'])}, {fmt(c['hi'])}] vs paper {fmt(c['paper'])}. Probable cause: "
                       f"{cause(report, table, c)}.")
        out += ceiling(report, table)
    out += ["", "**What the bundled models cannot show.** " + cannot_show(report, sr), ""]
    return out


def ceiling(report: Any, table: str) -> list[str]:
    """A line where every column's image-level correlation is at least :data:`CEILING`."""
    vals = {col: v.get("Corr mean", float("nan")) for col, v in column_values(report.tables[table]).items()}
    vals = {col: v for col, v in vals.items() if math.isfinite(v)}
    if not vals or min(vals.values()) < CEILING:
        return []
    col = min(vals)
    return [f"  - Every column's image-level (mean) correlation lies in [{fmt(min(vals.values()))}, "
            f"{fmt(max(vals.values()))}]: a ceiling effect: the test images' mean errors span a factor "
            f"{fmt(_error_spread(report, table, col), 1)}, so this level orders the images by difficulty and "
            "hardly separates the methods (see the paired intervals above)."]


def cannot_show(report: Any, sr: list[str]) -> str:
    """A paragraph, data-driven where the run knows the answer."""
    text = ("They are small CPU-trained networks on crops (SR) and synthetic rooms (depth), so the absolute AUSE / "
            "NLL values and anything that depends on full-size models or real data (Set14/BSD, NYU-v2) are out of "
            "reach; only orderings and their intervals carry over.")
    for table in sr:
        other = foreign(report, table)
        if other:
            labels = ", ".join(dict.fromkeys(METHOD_LABELS.get(m, m) for m in sorted(other)))
            text += (f" The `{table}` table's training-required columns ({labels}) are another "
                     "model's baselines, so it cannot show how baselines made for it would compare.")
    ens = [n for (m, n) in column_values(report.tables.get(sr[0], [])) if m == "ensemble"] if sr else []
    if ens and max(ens) < 8:
        text += f" The ensemble has {max(ens)} members, so the paper's Ensemble (8) column has no counterpart."
    return text
