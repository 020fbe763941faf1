"""The Discussion's disagreements with the paper beyond our own intervals: counts per table and
metric of ``disagreements.csv`` (:mod:`uqcore.paper.disagreement_rows`), which AUSE convention the
paper is closest to, the large correlation disagreements each with a one-line probable cause, the
order of the training-free methods against the paper's, and what the bundled models cannot show.

Rule: a cell of a column the paper also has disagrees when the paper's value lies outside our 95 %
bootstrap interval (:mod:`uqcore.scoring.summary_ci`); a correlation cell is **large** when the
two also differ by at least :data:`LARGE`. Large ones are listed one by one with a cause picked
from what the run itself measured (per-image spread of the errors, the baselines' PSNR, whose
baselines a column is). Every number comes from the report."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from uqcore.paper.baselines import foreign, missing
from uqcore.paper.disagreement_rows import FIELDS, FILE_NAME
from uqcore.paper.disagreement_rows import cells as rows_cells
from uqcore.paper.discussion import as_float, best, column_label, column_values, fmt
from uqcore.paper.per_image import column
from uqcore.paper.values import (LEVELS, LLM, MC_DROPOUT, METHOD_LABELS, NOISE, PAPER_TABLE_NAMES, PAPER_TABLES,
                                 paper_column, paper_method,
                                 TRAINING_FREE, TRANSFORM)

LARGE = 0.3
CEILING = 0.8  # every column's image-level correlation at least this: a ceiling effect, said so
PAPER_KEY = {"fcrn": "fcrn"}


def cells(report: Any, table: str, paper_key: str) -> list[dict[str, Any]]:
    """Every correlation cell of ``table`` with a paper counterpart: ours, interval, paper, outside, large."""
    rows = {(r["method"], int(r["samples"]), r["level"]): r for r in report.tables.get(table, [])}
    out = []
    for meth, n in dict.fromkeys((m, n) for m, n, _ in rows):
        paper = paper_column(paper_key, meth, n)
        if paper is None:
            continue
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
    if paper_method(meth) == LLM:
        cols = column_values(report.tables[table])
        psnr = cols.get(c["col"], {}).get("PSNR (dB)", float("nan"))
        best_psnr = max((v.get("PSNR (dB)", float("nan")) for v in cols.values()), default=float("nan"))
        if psnr < best_psnr - 0.5:
            return (f"the likelihood model's prediction is weaker ({fmt(psnr, 2)} dB vs up to {fmt(best_psnr, 2)} dB "
                    "in this table), so its error and its variance follow other structure than the paper's")
        return (f"the likelihood model predicts as well as the table's best ({fmt(psnr, 2)} dB); how well its "
                "variance head tracks the error on held-out images is in its card's `selection`; it was trained on a small "
                "photo set (its card's `training.data`) on a CPU budget")
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
    """The Discussion section: the disagreement counts per table and metric (``disagreements.csv``),
    which AUSE convention the paper's values are closest to, the large correlation disagreements
    with a cause, the order of the training-free methods, and what the models cannot show."""
    all_cells = report_cells(report)
    out = ["### 7. Where we disagree with the paper beyond our intervals", "",
           f"Rule: a cell (table, model, column, metric, level) disagrees when the paper's value lies outside our 95 % "
           f"bootstrap interval; `{FILE_NAME}` beside this file lists every such cell (columns "
           f"{', '.join(f'`{f}`' for f in FIELDS)}), computed from the per-image rows with the tables' own intervals. "
           f"Counts (outside / cells with an interval) per table and metric:", ""]
    out += count_table(all_cells) + [""]
    out += convention_lines(all_cells) + [""]
    out.append(f"Correlation cells that also differ by at least {LARGE} (absolute), with a one-line probable cause "
               "drawn from this run's numbers:")
    out.append("")
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
    out += [""] + order_lines(report, sr)
    out += ["", "**What the bundled models cannot show.** " + cannot_show(report, sr), ""]
    return out


def report_cells(report: Any) -> list[dict[str, Any]]:
    """Every cell with a paper counterpart (:func:`uqcore.paper.disagreement_rows.cells`) from the
    report's per-image rows, computed once per report."""
    cached = getattr(report, "disagreement_cells", None)
    if cached is None:
        cached = rows_cells([r for rows in report.per_image.values() for r in rows])
        try:
            report.disagreement_cells = cached
        except AttributeError:
            pass
    return cached


METRIC_NAMES = {"corr": "Corr", "ause": "AUSE (normalised)", "ause_raw": "AUSE raw (error units)", "nll": "NLL"}


def count_table(all_cells: list[dict[str, Any]]) -> list[str]:
    """Markdown: one row per table, one column per metric, ``outside / with an interval``."""
    tables = list(dict.fromkeys(c["table"] for c in all_cells))
    head = ["table", *METRIC_NAMES.values()]
    body = []
    for t in tables:
        row = [f"`{t}`"]
        for m in METRIC_NAMES:
            cs = [c for c in all_cells if c["table"] == t and c["metric"] == m and math.isfinite(c["lo"])]
            row.append(f"{sum(c['outside'] for c in cs)} / {len(cs)}")
        body.append(row)
    return ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1),
            *["| " + " | ".join(r) + " |" for r in body]]


def convention(all_cells: list[dict[str, Any]], table: str) -> dict[str, dict[str, float]]:
    """Per AUSE convention of ``table``'s cells: cells, outside, and the median of
    |log(ours / paper)| (how far our values are from the paper's, as a factor)."""
    out = {}
    for m in ("ause", "ause_raw"):
        cs = [c for c in all_cells if c["table"] == table and c["metric"] == m and c["ours"] > 0 and c["paper"] > 0
              and math.isfinite(c["lo"])]  # the cells with an interval, as counted in the table above
        logs = [abs(math.log(c["ours"] / c["paper"])) for c in cs]
        out[m] = {"n": len(cs), "outside": sum(c["outside"] for c in cs),
                  "factor": math.exp(float(np.median(logs))) if logs else float("nan"),
                  "ratio": math.exp(float(np.median([math.log(c["ours"] / c["paper"]) for c in cs]))) if cs else float("nan")}
    return out


def convention_lines(all_cells: list[dict[str, Any]]) -> list[str]:
    """Which AUSE convention the paper's values are closest to, per table (from the cells)."""
    text = ("**Which AUSE convention the paper's numbers are closest to.** The paper does not say whether its "
            "sparsification curves are divided by the mean error. Per table, the median factor between our AUSE and "
            "the paper's (exp of the median |log ratio| over the cells) and the cells outside our interval:")
    parts, votes = [], {}
    for t in dict.fromkeys(c["table"] for c in all_cells):
        cv = convention(all_cells, t)
        if not cv["ause"]["n"] or not cv["ause_raw"]["n"]:
            continue
        closer = "ause" if cv["ause"]["factor"] <= cv["ause_raw"]["factor"] else "ause_raw"
        votes[t] = closer
        parts.append(f"`{t}` normalised ×{fmt(cv['ause']['factor'], 2)} (ours/paper median "
                     f"{fmt(cv['ause']['ratio'], 2)}, {cv['ause']['outside']}/{cv['ause']['n']} outside), unnormalised "
                     f"×{fmt(cv['ause_raw']['factor'], 2)} (median {fmt(cv['ause_raw']['ratio'], 3)}, "
                     f"{cv['ause_raw']['outside']}/{cv['ause_raw']['n']} outside): closer to the "
                     f"{'normalised' if closer == 'ause' else 'unnormalised'} one")
    if not parts:
        return []
    names = {"ause": "normalised", "ause_raw": "unnormalised"}
    kinds = set(votes.values())
    summary = (f"The paper's AUSE is closest to the {names[kinds.pop()]} convention in every table." if len(kinds) == 1
               else "The closer convention differs between tables: " + ", ".join(f"{t} {names[v]}" for t, v in votes.items()) + ".")
    return [text + " " + "; ".join(parts) + ". " + summary]


def order_lines(report: Any, sr: list[str]) -> list[str]:
    """Infer-noise vs infer-transformation (and infer-dropout): the order of the training-free
    methods by each one's best column (chosen on the decision data), ours vs the paper's."""
    out = ["**Order of the training-free methods** (each method's best column, chosen on the calibration + held-out "
           "images, ranked by its test correlation; the paper's by its table):"]
    for table in sr:
        if table not in report.tables:
            continue
        cols = column_values(report.tables[table])
        paper = PAPER_TABLES.get(PAPER_KEY.get(table, table))
        per_level, ahead, p_ahead = [], 0, 0
        for lv in LEVELS:
            ours = _order(cols, f"Corr {lv}")
            text = f"{lv}: {' > '.join(METHOD_LABELS[m] for m in ours)}"
            ahead += _before(ours, NOISE, TRANSFORM)
            if paper:
                theirs = _order(paper, f"Corr {lv}")
                p_ahead += _before(theirs, NOISE, TRANSFORM)
                text += f" (paper {' > '.join(METHOD_LABELS[m] for m in theirs)})"
            per_level.append(text)
        line = (f"- **{table}**: " + "; ".join(per_level) + f". Infer-noise ahead of infer-transformation at {ahead}/4 "
                "levels")
        if paper:
            line += (f", in the paper at {p_ahead}/4: "
                     + ("the same order." if ahead == p_ahead else "the order of these two is reversed." if
                        (ahead == 4 and p_ahead == 0) or (ahead == 0 and p_ahead == 4) else "a different order."))
        else:
            line += " (no published table for this model)."
        out.append(line)
    return out


def _order(cols: dict[tuple[str, int], dict[str, float]], row: str) -> list[str]:
    vals = {m: best(cols, (m,), row)[0] for m in TRAINING_FREE}
    return sorted((m for m in vals if math.isfinite(vals[m])), key=lambda m: -vals[m])


def _before(order: list[str], a: str, b: str) -> bool:
    return a in order and b in order and order.index(a) < order.index(b)


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
    """A paragraph, data-driven where the run knows the answer (the tables and the model cards)."""
    text = ("They are small CPU-trained networks on crops (SR) and synthetic rooms (depth), so the absolute AUSE / "
            "NLL values and anything that depends on full-size models or real data (Set14/BSD, NYU-v2) are out of "
            "reach; only orderings and their intervals carry over.")
    for table in sr:
        other = foreign(report, table)
        if other:
            labels = ", ".join(dict.fromkeys(METHOD_LABELS.get(m, m) for m in sorted(other)))
            text += (f" The `{table}` table's training-required columns ({labels}) are another "
                     "model's baselines, so it cannot show how baselines made for it would compare.")
        elif missing(report, table):
            text += (f" The `{table}` table has no baselines made for it, so it cannot test the paper's training-free "
                     "vs training-required claim for that model.")
    ens = [n for (m, n) in column_values(report.tables.get(sr[0], [])) if m == "ensemble"] if sr else []
    if ens and max(ens) < 8:
        text += f" The ensemble has {max(ens)} members, so the paper's Ensemble (8) column has no counterpart."
    return text + _baseline_budget(report)


def _steps(card: dict[str, Any] | None) -> list[int]:
    runs = ((card or {}).get("training") or {}).get("runs", []) if isinstance((card or {}).get("training"), dict) else []
    return [int(r["steps"]) for r in runs if isinstance(r, dict) and str(r.get("steps", "")).isdigit()]


def _baseline_budget(report: Any) -> str:
    """How the baselines' training compares with their SR model's (from the cards)."""
    text = ""
    for meth, model in report.baselines.items():
        if meth != "ensemble":
            continue
        own = _steps(report.cards.get(model.split("-", 1)[0]))
        members = _steps(report.cards.get(model))
        if own and members and max(members) < max(own):
            text += (f" The ensemble `{model}`'s members had at most {max(members)} training steps against "
                     f"{max(own)} for the model they stand beside, so its columns understate a fully trained "
                     "ensemble.")
    mc = report.baselines.get("mc_dropout1")
    if mc:
        selection = (report.cards.get(mc) or {}).get("selection") or {}
        n = len(selection.get("candidates", [])) if isinstance(selection, dict) else 0
        if n < 9:
            how = (f"was chosen among only {n} place × rate setting(s)" if n else
                   "has one dropout place and rate, never swept (no selection in its card)")
            text += (f" MC-dropout (`{mc}`) {how}, where the training-free methods each had a sweep, so its "
                     "columns are not tuned alike.")
    return text
