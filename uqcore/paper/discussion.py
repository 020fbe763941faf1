"""The discussion: each of the paper's claims tested with a stated rule on our numbers and, where
the rule applies to a published table, on the paper's numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from uqcore.paper.per_image import duels
from uqcore.paper.report import Report
from uqcore.scoring.stats import HolmFamily
from uqcore.paper.values import (DEPTH_REQUIRED, DROPOUT, LEVELS, LLM, METHOD_LABELS, NOISE, PAPER_TABLE_NAMES, STUDENT,
                                 PAPER_TABLES, TRAINING_FREE, TRAINING_REQUIRED, TRANSFORM, paper_method)

# A training-free method is "within reach" of the training-required ones at a level when its best
# correlation is at most this much (absolute) below theirs.
REACH_MARGIN = 0.05


def as_float(v: Any) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return float("nan")
    return v


def column_values(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, int], dict[str, float]]:
    """{(method, samples): {row label: value}} from table rows (labels of :data:`METRIC_ROWS`
    plus "NLL (σ-scaled)", "σ scale", "PSNR", "SSIM", "AbsRel", "RMSE", "δ1", "s / image")."""
    out: dict[tuple[str, int], dict[str, float]] = {}
    for r in rows:
        col = out.setdefault((r["method"], int(r["samples"])), {})
        col[f"AUSE {r['level']}"] = as_float(r.get("ause"))
        col[f"AUSE raw {r['level']}"] = as_float(r.get("ause_raw"))
        col[f"Corr {r['level']}"] = as_float(r.get("corr"))
        col["NLL"] = as_float(r.get("nll"))
        col["NLL (σ-scaled)"] = as_float(r.get("nll_scaled"))
        col["σ scale"] = as_float(r.get("variance_scale"))
        for k, label in (("psnr", "PSNR (dB)"), ("ssim", "SSIM"), ("abs_rel", "AbsRel"), ("rmse", "RMSE (m)"),
                         ("delta1", "δ1")):
            if k in r:
                col[label] = as_float(r.get(k))
        col["s / image"] = as_float(r.get("seconds_per_image"))
        for key in DECISION_KEYS:
            col[f"decision {key}"] = as_float(r.get(f"decision_{key}"))
    return out


DECISION_KEYS = ("corr_pixel", "ause_pixel", "corr_mean", "ause_mean")


def decision_row(row: str) -> str | None:
    """The decision value (:mod:`uqcore.paper.decision`) a choice by table row ``row`` is made on:
    "Corr mean" -> "decision corr_mean", "Corr patch" -> "decision corr_pixel" (the decision
    images keep no tiles or segments), None for rows that are not a correlation or AUSE."""
    metric, _, level = row.partition(" ")
    if metric not in ("Corr", "AUSE") or level not in LEVELS:
        return None
    return f"decision {metric.lower()}_{'mean' if level == 'mean' else 'pixel'}"


def best(cols: dict[tuple[str, int], dict[str, float]], methods: Sequence[str], row: str,
          higher: bool = True) -> tuple[float, tuple[str, int] | None]:
    """The best column of ``methods`` (any sample count) for ``row`` and its value of ``row``.

    Our tables carry decision values (calibration split + held-out images, :func:`decision_row`):
    the column is chosen on them and the test split only reports its value (no decision values
    for a column: not chosen). The paper's tables have none: their own values choose."""
    key = decision_row(row)
    by = key if key is not None and any(key in v for v in cols.values()) else row
    best_by, arg = float("nan"), None
    for (m, n), vals in cols.items():
        v = vals.get(by, float("nan"))
        if m not in methods or not math.isfinite(v) or not math.isfinite(vals.get(row, float("nan"))):
            continue
        if arg is None or (v > best_by if higher else v < best_by):
            best_by, arg = v, (m, n)
    return (cols[arg][row] if arg is not None else float("nan")), arg


def column_label(col: tuple[str, int] | None) -> str:
    if col is None:
        return "-"
    m, n = col
    return f"{METHOD_LABELS.get(m, m)} ({0 if paper_method(m) in (LLM, STUDENT) else n})"


def transform_best(cols: dict[tuple[str, int], dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Per level: is infer-transformation's best correlation the highest among the training-free
    methods / among all methods?"""
    out = {}
    for lv in LEVELS:
        row = f"Corr {lv}"
        t, _ = best(cols, (TRANSFORM,), row)
        other_tf, other_tf_col = best(cols, [m for m in TRAINING_FREE if m != TRANSFORM], row)
        all_v, all_col = best(cols, TRAINING_FREE + TRAINING_REQUIRED, row)
        out[lv] = {"method": t, "best_other_tf": other_tf, "best_other_tf_col": other_tf_col,
                   "best_all": all_v, "best_all_col": all_col,
                   "best_tf": math.isfinite(t) and (not math.isfinite(other_tf) or t >= other_tf),
                   "best_overall": math.isfinite(t) and math.isfinite(all_v) and t >= all_v}
    return out


def reach(cols: dict[tuple[str, int], dict[str, float]], required: Sequence[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for lv in LEVELS:
        row = f"Corr {lv}"
        tf, tf_col = best(cols, TRAINING_FREE, row)
        tr, tr_col = best(cols, required, row)
        a_tf, a_tf_col = best(cols, TRAINING_FREE, f"AUSE {lv}", higher=False)
        a_tr, a_tr_col = best(cols, required, f"AUSE {lv}", higher=False)
        out[lv] = {"tf": tf, "tf_col": tf_col, "tr": tr, "tr_col": tr_col,
                   "within": math.isfinite(tf) and math.isfinite(tr) and tf >= tr - REACH_MARGIN,
                   "ause_tf": a_tf, "ause_tf_col": a_tf_col, "ause_tr": a_tr, "ause_tr_col": a_tr_col}
    return out


def layer_profile(rows: Sequence[dict[str, Any]], key: str = "corr_pixel") -> list[tuple[str, float, float]]:
    """[(layer, best correlation over strengths, strength of it)] in sweep (early -> late) order."""
    out = []
    for layer in dict.fromkeys(r["layer"] for r in rows):
        pts = [r for r in rows if r["layer"] == layer and math.isfinite(as_float(r.get(key)))]
        if not pts:
            out.append((layer, float("nan"), float("nan")))
            continue
        b = max(pts, key=lambda r: r[key])
        out.append((layer, float(b[key]), float(b["strength"])))
    return out


def tolerance_trend(rows: Sequence[dict[str, Any]], tolerance: float) -> dict[str, Any]:
    pts = [(r["loss_increase"], r["corr_pixel"]) for r in rows
           if math.isfinite(as_float(r.get("loss_increase"))) and math.isfinite(as_float(r.get("corr_pixel")))]
    out: dict[str, Any] = {"n": len(pts), "rho": float("nan"), "p": float("nan")}
    if len(pts) >= 3 and len({p[0] for p in pts}) > 1 and len({p[1] for p in pts}) > 1:
        res = spearmanr([p[0] for p in pts], [p[1] for p in pts])
        out["rho"], out["p"] = float(res.statistic), float(res.pvalue)
    if pts:
        best = max(rows, key=lambda r: as_float(r.get("corr_pixel")) if math.isfinite(as_float(r.get("corr_pixel"))) else -math.inf)
        out["best_layer"], out["best_strength"] = best["layer"], best["strength"]
        out["best_corr"], out["best_increase"] = float(best["corr_pixel"]), float(best["loss_increase"])
        out["best_within"] = best["loss_increase"] <= tolerance
        within = [p for p in pts if p[0] <= tolerance]
        beyond = [p for p in pts if p[0] > tolerance]
        out["mean_within"] = float(np.mean([p[1] for p in within])) if within else float("nan")
        out["mean_beyond"] = float(np.mean([p[1] for p in beyond])) if beyond else float("nan")
        out["n_within"], out["n_beyond"] = len(within), len(beyond)
    return out


def fmt(v: Any, digits: int = 3) -> str:
    v = as_float(v)
    if not math.isfinite(v):
        return "–"
    if abs(v) >= 1000:
        return f"{v:.0f}"
    if abs(v) >= 100:
        return f"{v:.1f}"
    return f"{v:.{digits}f}"


def pct(v: Any) -> str:
    v = as_float(v)
    return "–" if not math.isfinite(v) else f"{v:+.1%}"


def verdict(k: int, n: int) -> str:
    if n == 0:
        return "cannot be checked"
    if k == n:
        return "holds"
    if k == 0:
        return "does not hold"
    return "holds only partly"


def _heading(title: str, rule: str) -> list[str]:
    """A claim's markdown heading and the rule it is tested with."""
    return [f"### {title}", "", rule, ""]


def discussion(report: Report) -> list[str]:
    """The claims, each tested with a stated rule on our numbers (and the paper's, where the rule
    applies to a published table). Returns markdown lines. Every sentence depends on the numbers.

    The paired verdicts of all claims form one family: a first pass collects their bootstrap
    p-values, Holm's correction adjusts them together, the second pass writes the verdicts."""
    sr = [m for m in report.settings.sr_models if m in report.tables]
    depth = report.settings.depth_model
    report.paired_family = HolmFamily()
    _claims(report, sr, depth, [])
    report.paired_family.close()
    n = len(report.paired_family)
    lines = [f"Every paired verdict below (\"separated\", \"ahead\", \"behind\") is corrected for multiple "
             f"comparisons: the paired bootstrap's p-values of all {n} paired tests of this Discussion are adjusted "
             "together with Holm's step-down procedure (family-wise error 5 %; `uqcore.scoring.stats.holm`), and a "
             "difference counts as separated when its adjusted p-value is below 0.05.", ""]
    verdicts: list[str] = []
    lines += _claims(report, sr, depth, verdicts)
    return lines + ["### Verdicts, one line per claim", "", *[f"- {v}" for v in verdicts], ""]


def _claims(report: Report, sr: list[str], depth: str, verdicts: list[str]) -> list[str]:
    """Every claim's lines; each claim appends its one-line verdict to ``verdicts``."""
    lines: list[str] = []
    for claim in (_claim_transform, _claim_dropout_layers, _claim_tolerance, _claim_reach, _claim_depth_noise, _claim_nll):
        lines += claim(report, sr, depth, verdicts)
    return lines


def _claim_transform(report: Report, sr: list[str], depth: str, verdicts: list[str]) -> list[str]:
    """1. Does infer-transformation give the best correlation for super-resolution?"""
    lines = _heading("1. Does infer-transformation give the best correlation for super-resolution?",
                     "Rule: at each level, infer-transformation's best correlation (over its sample counts) is compared "
                     "with the best of infer-dropout and infer-noise (the other training-free methods) and with the best "
                     "of all methods. The same rule is applied to the paper's published table of the same model.")
    per_model: list[str] = []
    for m in sr:
        ours = transform_best(column_values(report.tables[m]))
        k_tf = [lv for lv in LEVELS if ours[lv]["best_tf"]]
        k_all = [lv for lv in LEVELS if ours[lv]["best_overall"]]
        text = (f"- **{m}**: infer-transformation is the best training-free method at {len(k_tf)}/4 levels"
                f"{' (' + ', '.join(k_tf) + ')' if k_tf else ''} and the best of all methods at {len(k_all)}/4"
                f"{' (' + ', '.join(k_all) + ')' if k_all else ''}.")
        misses = [f"{lv}: {fmt(ours[lv]['method'])} vs {fmt(ours[lv]['best_other_tf'])} for "
                  f"{column_label(ours[lv]['best_other_tf_col'])}" for lv in LEVELS if not ours[lv]["best_tf"]]
        if misses:
            text += " Where it is not the best training-free method: " + "; ".join(misses) + "."
        cols = column_values(report.tables[m])
        paired, words = duels(report, m, {lv: (best(cols, (TRANSFORM,), f"Corr {lv}")[1],
                                               ours[lv]["best_other_tf_col"]) for lv in LEVELS})
        k_sep = [lv for lv in LEVELS if words[lv] == "A ahead"]
        text += (f" A = infer-transformation's best column, B = the best other training-free column. {paired} "
                 f"Separated ahead at {len(k_sep)}/4, behind at {sum(w == 'B ahead' for w in words.values())}/4, "
                 f"not separated at {sum(w == 'not separated' for w in words.values())}/4.")
        if m in PAPER_TABLES:
            paper = transform_best(PAPER_TABLES[m])
            p_tf = [lv for lv in LEVELS if paper[lv]["best_tf"]]
            p_all = [lv for lv in LEVELS if paper[lv]["best_overall"]]
            agree = set(k_tf) == set(p_tf)
            text += (f" In the paper's {PAPER_TABLE_NAMES[m]}: best training-free at {len(p_tf)}/4"
                     f"{' (' + ', '.join(p_tf) + ')' if p_tf else ''}, best overall at {len(p_all)}/4. "
                     + ("Our levels match the paper's." if agree else "Our levels differ from the paper's."))
        text += (f" Verdict for {m}: the claim {verdict(len(k_tf), 4)} on the point values (among training-free "
                 f"methods), {verdict(len(k_sep), 4)} where the paired interval separates them.")
        lines.append(text)
        per_model.append(f"{m} {verdict(len(k_tf), 4)} on the point values ({len(k_tf)}/4 levels), "
                         f"{verdict(len(k_sep), 4)} when separated ({len(k_sep)}/4)")
    verdicts.append("**Infer-transformation is the best training-free method for SR**: " + "; ".join(per_model) + ".")
    lines.append("")
    return lines


def _claim_dropout_layers(report: Report, sr: list[str], depth: str, verdicts: list[str]) -> list[str]:
    """2. Are intermediate layers best for infer-dropout?"""
    lines = _heading("2. Are intermediate layers best for infer-dropout?",
                     "Rule: in each dropout sweep (calibration split), take every layer's best pixel correlation over the "
                     "swept rates; the claim holds for a model when the best layer is neither the first nor the last swept "
                     "layer. The paper also says location matters less for infer-noise, so the spread (max − min over "
                     "layers of the per-layer best) is shown for both.")
    held = 0
    checked = 0
    for m in [*sr, depth]:
        if (m, DROPOUT) not in report.sweeps:
            continue
        prof = layer_profile(report.sweeps[(m, DROPOUT)])
        finite = [p for p in prof if math.isfinite(p[1])]
        if len(prof) < 3 or not finite:
            lines.append(f"- **{m}**: fewer than 3 layers swept (or no correlation); cannot be checked.")
            continue
        checked += 1
        top = max(finite, key=lambda p: p[1])
        inter = top[0] not in (prof[0][0], prof[-1][0])
        held += inter
        spread_d = max(p[1] for p in finite) - min(p[1] for p in finite)
        nprof = [p for p in layer_profile(report.sweeps.get((m, NOISE), [])) if math.isfinite(p[1])]
        spread_n = (max(p[1] for p in nprof) - min(p[1] for p in nprof)) if nprof else float("nan")
        chosen = report.chosen[(m, DROPOUT)]
        lines.append(
            f"- **{m}**: per-layer best correlation " + ", ".join(f"`{p[0]}` {fmt(p[1])} (p={p[2]:g})" for p in prof)
            + f" → best at `{top[0]}`, {'an intermediate' if inter else 'the ' + ('first' if top[0] == prof[0][0] else 'last')} layer. "
            f"The setting chosen within the tolerance is `{chosen['layer']}` p={float(chosen['strength']):g}. "
            f"Spread over layers: dropout {fmt(spread_d)}, noise {fmt(spread_n)}"
            + (" (location matters less for noise, as the paper says)." if math.isfinite(spread_n) and spread_n < spread_d
               else " (location matters at least as much for noise, unlike the paper's observation)."
               if math.isfinite(spread_n) else "."))
    verdicts.append(f"**Intermediate layers are best for infer-dropout**: {verdict(held, checked)} ({held} of {checked} "
                    "models).")
    lines += ["", f"Verdict: the claim {verdict(held, checked)} ({held} of {checked} models have their best dropout "
                  "layer in the middle).", ""]
    return lines


def _claim_tolerance(report: Report, sr: list[str], depth: str, verdicts: list[str]) -> list[str]:
    """3. Do perturbations with a small loss increase give the highest correlation?"""
    s = report.settings
    lines = _heading("3. Do perturbations with a small loss increase give the highest correlation?",
                     f"Rule: over all rows of a sweep (layers × strengths, calibration split), the Spearman rank correlation "
                     f"ρ between the relative loss increase and the pixel correlation (negative supports the claim), and "
                     f"whether the highest-correlation setting stays within the {s.tolerance:.0%} tolerance.")
    support = 0
    n_sweeps = 0
    for (m, meth), rows in report.sweeps.items():
        tr = tolerance_trend(rows, s.tolerance)
        if tr["n"] == 0 or "best_layer" not in tr:
            lines.append(f"- **{m} infer-{meth}**: no correlations to compare.")
            continue
        n_sweeps += 1
        ok = math.isfinite(tr["rho"]) and tr["rho"] < 0 and tr["best_within"]
        support += ok
        lines.append(
            f"- **{m} infer-{meth}**: ρ = {fmt(tr['rho'], 2)} (p = {fmt(tr['p'], 3)}, {tr['n']} settings); "
            + (f"mean correlation {fmt(tr['mean_within'])} over the {tr['n_within']} settings within the tolerance vs "
               f"{fmt(tr['mean_beyond'])} over the {tr['n_beyond']} beyond it" if tr["n_within"] and tr["n_beyond"] else
               f"all {tr['n']} settings are {'within' if tr['n_within'] else 'beyond'} the tolerance")
            + f"; the best setting (`{tr['best_layer']}`, "
            f"{float(tr['best_strength']):g}: {fmt(tr['best_corr'])}) has a loss increase of {pct(tr['best_increase'])}"
            f" ({'within' if tr['best_within'] else 'beyond'} the tolerance). "
            + ("Consistent with the claim." if ok else "Not consistent with the claim."))
    verdicts.append(f"**Perturbations with a small loss increase give the highest correlation**: "
                    f"{verdict(support, n_sweeps)} ({support} of {n_sweeps} sweeps).")
    lines += ["", f"Verdict: the claim {verdict(support, n_sweeps)} ({support} of {n_sweeps} sweeps have ρ < 0 and "
                  "their best setting within the tolerance).", ""]
    return lines


def _claim_reach(report: Report, sr: list[str], depth: str, verdicts: list[str]) -> list[str]:
    """4. Do the training-free methods come within reach of the training-required ones?"""
    lines = _heading("4. Do the training-free methods come within reach of the training-required ones?",
                     f"Rule: at each level, the best training-free correlation (infer-trans / -drop / -noise, any sample "
                     f"count) is \"within reach\" when it is at most {REACH_MARGIN} below the best training-required one "
                     f"(MC-drop1/2, ensemble, both LLMs for SR; MC-drop1/2 for depth). The best AUSE (lower is better) of each "
                     f"group is listed too. The same rule is applied to the paper's table.")
    per_model: list[str] = []
    for m in [*sr, depth]:
        if m not in report.tables:
            continue
        req = TRAINING_REQUIRED if m != depth else DEPTH_REQUIRED
        ours = reach(column_values(report.tables[m]), req)
        if all(ours[lv]["tr_col"] is None for lv in LEVELS):
            lines.append(f"- **{m}**: no training-required column in this table (its caption says why): cannot be "
                         "checked.")
            per_model.append(f"{m} cannot be checked (no baselines made for it)")
            continue
        k = [lv for lv in LEVELS if ours[lv]["within"]]
        parts = [f"{lv}: {fmt(ours[lv]['tf'])} ({column_label(ours[lv]['tf_col'])}) vs {fmt(ours[lv]['tr'])} "
                 f"({column_label(ours[lv]['tr_col'])}), AUSE {fmt(ours[lv]['ause_tf'])} vs {fmt(ours[lv]['ause_tr'])}"
                 for lv in LEVELS]
        better = [lv for lv in LEVELS if math.isfinite(ours[lv]["tf"]) and math.isfinite(ours[lv]["tr"])
                  and ours[lv]["tf"] >= ours[lv]["tr"]]
        text = (f"- **{m}**: within reach at {len(k)}/4 levels{' (' + ', '.join(k) + ')' if k else ''}, "
                f"training-free at least as good at {len(better)}/4. " + "; ".join(parts) + ".")
        sampling = [r for r in req if paper_method(r) != LLM]
        if len(sampling) < len(req):
            ours_s = reach(column_values(report.tables[m]), sampling)
            ks = [lv for lv in LEVELS if ours_s[lv]["within"]]
            text += f" Against the sampling baselines only (MC-drop1/2, ensemble; no LLM): within reach at {len(ks)}/4."
        if m in PAPER_TABLES:
            paper = reach(PAPER_TABLES[m], req)
            pk = [lv for lv in LEVELS if paper[lv]["within"]]
            text += f" Paper ({PAPER_TABLE_NAMES[m]}), same rule: within reach at {len(pk)}/4 levels"
            if len(sampling) < len(req):
                paper_s = reach(PAPER_TABLES[m], sampling)
                text += f", {len([lv for lv in LEVELS if paper_s[lv]['within']])}/4 against the sampling baselines only"
            text += "."
        paired, words = duels(report, m, {lv: (ours[lv]["tf_col"], ours[lv]["tr_col"]) for lv in LEVELS})
        if paired:
            text += (f" A = the best training-free column, B = the best training-required one. {paired} "
                     f"Training-free separated ahead at {sum(w == 'A ahead' for w in words.values())}/4, behind at "
                     f"{sum(w == 'B ahead' for w in words.values())}/4, not separated at "
                     f"{sum(w == 'not separated' for w in words.values())}/4.")
        text += f" Verdict for {m}: the claim {verdict(len(k), 4)}."
        lines.append(text)
        per_model.append(f"{m} {verdict(len(k), 4)} ({len(k)}/4 levels)")
    verdicts.append("**Training-free methods come within reach of the training-required ones**: "
                    + ("; ".join(per_model) if per_model else "cannot be checked") + ".")
    lines.append("")
    return lines


def _claim_depth_noise(report: Report, sr: list[str], depth: str, verdicts: list[str]) -> list[str]:
    """5. Is infer-noise the best training-free method for depth?"""
    lines: list[str] = []
    if depth in report.tables:
        cols = column_values(report.tables[depth])
        wins = {}
        for lv in LEVELS:
            _, col = best(cols, TRAINING_FREE, f"Corr {lv}")
            wins[lv] = col[0] if col else None
        noise_lv = [lv for lv in LEVELS if wins[lv] == NOISE]
        paired, words = duels(report, depth, {lv: (best(cols, (NOISE,), f"Corr {lv}")[1],
                                                    best(cols, [m for m in TRAINING_FREE if m != NOISE],
                                                         f"Corr {lv}")[1]) for lv in LEVELS})
        p_wins = [(best(PAPER_TABLES["fcrn"], TRAINING_FREE, f"Corr {lv}")[1] or ("-",))[0] for lv in LEVELS]
        lines += ["### 5. Is infer-noise the best training-free method for depth?", "",
                  f"The paper suggests infer-noise for depth estimation. Best training-free correlation per level for "
                  f"**{depth}**: " + ", ".join(f"{lv}: {METHOD_LABELS.get(wins[lv] or '', '–')}" for lv in LEVELS)
                  + " (paper's Table 2: " + ", ".join(f"{lv}: {METHOD_LABELS.get(w, w)}" for lv, w in zip(LEVELS, p_wins))
                  + f"). A = infer-noise's best column, B = the best other training-free column. {paired} "
                    f"Verdict: the suggestion {verdict(len(noise_lv), 4)} here on the point values (infer-noise best "
                    f"at {len(noise_lv)}/4 levels); infer-noise is separated ahead at "
                    f"{sum(w == 'A ahead' for w in words.values())}/4 and not separated at "
                    f"{sum(w == 'not separated' for w in words.values())}/4.", ""]
        verdicts.append(f"**Infer-noise is the best training-free method for depth**: {verdict(len(noise_lv), 4)} on "
                        f"{depth} ({len(noise_lv)}/4 levels on the point values, separated ahead at "
                        f"{sum(w == 'A ahead' for w in words.values())}/4).")
    return lines


def _claim_nll(report: Report, sr: list[str], depth: str, verdicts: list[str]) -> list[str]:
    """6. NLL and σ-scaling."""
    lines = _heading("6. NLL and σ-scaling",
                     "The paper argues that NLL mixes the quality of the uncertainty with the scale of the variance and the "
                     "accuracy of the prediction. Raw NLL vs NLL after σ-scaling (scale fitted on the calibration split):")
    changed, checked = [], 0
    for m in [*sr, depth]:
        if m not in report.tables:
            continue
        cols = column_values(report.tables[m])
        raw, raw_col = best(cols, list(METHOD_LABELS), "NLL", higher=False)
        sc, sc_col = best(cols, list(METHOD_LABELS), "NLL (σ-scaled)", higher=False)
        worst, worst_col = best(cols, list(METHOD_LABELS), "NLL", higher=True)
        tf_sc, tf_sc_col = best(cols, TRAINING_FREE, "NLL (σ-scaled)", higher=False)
        lines.append(
            f"- **{m}**: raw NLL from {fmt(raw)} ({column_label(raw_col)}) to {fmt(worst)} ({column_label(worst_col)}); after "
            f"σ-scaling the best is {fmt(sc)} ({column_label(sc_col)}), the best training-free one {fmt(tf_sc)} "
            f"({column_label(tf_sc_col)}).")
        if raw_col is not None and sc_col is not None:
            checked += 1
            if raw_col != sc_col:
                changed.append(m)
    verdicts.append(f"**NLL mixes the variance's scale with its quality** (rule: σ-scaling changes which column has the "
                    f"lowest NLL): {verdict(len(changed), checked)} ({len(changed)} of {checked} models"
                    + (f": {', '.join(changed)}" if changed else "") + ").")
    lines.append("")
    return lines
