"""The report as markdown (plus the rows / sweeps CSVs next to it)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from uqcore.datasets.evaluate import write_rows
from uqcore.paper.discussion import as_float, column_label, column_values, discussion, fmt, pct
from uqcore.paper.intervals import markdown_lines as interval_lines
from uqcore.paper.heldout import DEPTH_SEED as HELDOUT_SEED
from uqcore.paper.heldout import DEPTH_TEST_SEED
from uqcore.paper.student import markdown_lines as student_lines
from uqcore.paper.report import ROOT, Report, Settings, required_models
from uqcore.paper.values import (DROPOUT, METHOD_LABELS, METRIC_ROWS, NOISE, PAPER_TABLE_NAMES, PAPER_TABLES,
                                 RAW_AUSE_ROWS, paper_column, paper_method, paper_row)
from uqcore.engine.methods import label as method_label
from uqcore.paper.baselines import caption as baseline_caption
from uqcore.paper.baselines import training_seconds
from uqcore.paper.disagreement_rows import FIELDS as DISAGREEMENT_FIELDS
from uqcore.paper.disagreement_rows import FILE_NAME as DISAGREEMENTS_FILE
from uqcore.paper.disagreement_rows import write as write_disagreements
from uqcore.paper.disagreements import lines as disagreement_lines
from uqcore.paper.disagreements import report_cells
from uqcore.paper.per_image import FILE_KIND
from uqcore.scoring.summary_ci import MIN_IMAGES, cell


def _names(names: Sequence[str], most: int = 30) -> str:
    """The names, or the first ones and the last where there are more than ``most``."""
    if len(names) <= most:
        return ", ".join(names)
    return ", ".join(names[:12]) + f", …, {names[-1]}"


def _samples_label(engine: str) -> str:
    """A sample-count key (an engine method) as the report names it."""
    return METHOD_LABELS.get(engine) or method_label(engine)


def _md_table(header: Sequence[str], body: Sequence[Sequence[str]], align: str = "r") -> list[str]:
    sep = ["---"] + [("---:" if align == "r" else "---") for _ in header[1:]]
    return ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |",
            *["| " + " | ".join(row) + " |" for row in body]]


def _column_order(cols: Sequence[tuple[str, int]], paper_cols: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    order = {m: i for i, m in enumerate(METHOD_LABELS)}
    allc = list(dict.fromkeys([*cols, *paper_cols]))
    return sorted(allc, key=lambda c: (order.get(c[0], 99), c[1]))


def _intervals(rows: Sequence[dict[str, Any]]) -> dict[tuple[tuple[str, int], str], str]:
    """{((method, samples), row label): "0.449 [0.412, 0.486]" or "n/a"} for the metric rows."""
    out = {}
    for r in rows:
        col = (r["method"], int(r["samples"]))
        if "corr_lo" not in r:
            continue
        for metric, label in (("ause", f"AUSE {r['level']}"), ("ause_raw", f"AUSE raw {r['level']}"),
                              ("corr", f"Corr {r['level']}"), ("nll", "NLL")):
            out[(col, label)] = "n/a" if metric != "nll" and r.get("level_note") else cell(r, metric)
    return out


TRAINING_ROW = "Training (CPU min)"
TRAINING_CAPTION = (f"**{TRAINING_ROW}**: what a column needs trained beyond the network itself, from the model "
                    "cards (one torch thread, the hardware each card names): 0 for a training-free column, the head's "
                    "distillation for the Student, a baseline model's training runs (an ensemble of k: its first k "
                    "members'). LLM is the stop-gradient head on the frozen network, LLM joint the mean and "
                    "log-variance fine-tuned together.")


def results_table(rows: Sequence[dict[str, Any]], paper_key: str | None, task: str,
                  training: dict[tuple[str, int], float | None] | None = None) -> list[str]:
    """Markdown: one column per (method, samples), cells "ours [95 % interval] (paper)"; with
    ``training`` ({column: CPU seconds}) a row of each column's training cost."""
    cols = column_values(rows)
    cis = _intervals(rows)
    paper = PAPER_TABLES.get(paper_key or "", {})
    # a column of ours the paper has under another name (two likelihood columns, one paper LLM)
    # shows the paper's value of that column; the paper's own columns we lack show it too
    shown = {c: paper_column(paper_key or "", *c) or {} for c in cols}
    missing = {c: v for c, v in paper.items() if c not in cols and c not in {(paper_method(m), n) for m, n in cols}}
    shown.update(missing)
    order = _column_order(list(cols), list(missing))
    header = ["", *[column_label((m, n)) for m, n in order]]
    extra = ["NLL (σ-scaled)", "σ scale"] + (["PSNR (dB)", "SSIM"] if task == "sr" else ["AbsRel", "RMSE (m)", "δ1"]) \
        + ["s / image"]
    body = []
    raw = [lb for lb in RAW_AUSE_ROWS if any(math.isfinite(v.get(lb, float("nan"))) for v in cols.values())]
    for label in [*METRIC_ROWS, *raw, *extra]:
        cells = [f"**{label}**"]
        for c in order:
            ours = cols.get(c, {}).get(label, float("nan"))
            p = shown.get(c, {}).get(paper_row(label)) if label in (*METRIC_ROWS, *raw) else None
            if c not in cols:
                cells.append(f"– ({fmt(p)})" if p is not None else "–")
            elif (c, label) in cis:
                cells.append(cis[(c, label)] + (f" ({fmt(p)})" if p is not None else ""))
            elif p is not None:
                cells.append(f"{fmt(ours, 3 if label != 'σ scale' else 4)} ({fmt(p)})")
            else:
                cells.append(fmt(ours, 2 if label in ("PSNR (dB)", "s / image") else 3)
                             if label != "σ scale" else f"{as_float(ours):.3g}")
        body.append(cells)
    if training is not None:
        body.append([f"**{TRAINING_ROW}**", *[("–" if c not in cols or training.get(c) is None
                                               else fmt(training[c] / 60.0, 1)) for c in order]])
    return _md_table(header, body)


def _settings_lines(report: Report) -> list[str]:
    lines = []
    for (m, meth), best in report.chosen.items():
        lines.append(f"| {m} | infer-{meth} | `{best['layer']}` | {float(best['strength']):g} | "
                     f"{pct(best['loss_increase'])} | {fmt(best.get('corr_pixel'))} | "
                     f"{'no setting within the tolerance: least-damaging setting used' if report.fallback[(m, meth)] else 'highest pixel correlation within the tolerance'} |")
    return ["| model | method | layer | strength | loss increase | pixel corr (calibration) | rule |",
            "|---|---|---|---:|---:|---:|---|", *lines]


def render_markdown(report: Report, out: Path, figures: Path | None) -> str:
    """The whole report; figure and CSV paths are written relative to ``out``."""
    s = report.settings
    L: list[str] = []
    L += ["# Reproducing the paper on the bundled models", "",
          "*Training-Free Uncertainty Estimation for Dense Regression: Sensitivity as a Surrogate* (Mi et al., AAAI 2022): "
          "Tables 1–2 and Fig. 4, on this project's small CPU-trained models and bundled eval sets.", "",
          f"> Written by `{report.command}` on {report.started}. Every number below comes from that command; do not edit "
          "this file by hand — rerun the command.", ""]
    if s.quick:
        L += ["> **Quick mode** (`--quick`): few, small images and few settings — a smoke test of the pipeline, "
              "not a result. Run without `--quick` for the real numbers.", ""]
    L += _setup_lines(report)
    L += _timing_and_tolerability_lines(report, out)
    L += _table_lines(report)
    L += interval_lines(report)
    L += student_lines([*s.sr_models, s.depth_model])
    L += ["## Discussion (generated from the numbers above)", ""]
    L += discussion(report)
    L += disagreement_lines(report, [m for m in s.sr_models if m in report.tables], s.depth_model)
    L += ["## Files", "",
          f"- `{_relpath(sibling_csv(out, 'rows'), out.parent)}`: every table row (one per model, method, sample count "
          "and level, with all fields of `uqcore.datasets.evaluate`).",
          f"- `{_relpath(sibling_csv(out, 'sweeps'), out.parent)}`: every sweep row.",
          f"- `{_relpath(sibling_csv(out, FILE_KIND), out.parent)}`: one row per model, table, column and test image "
          "(every level's correlation and AUSE, NLL, mean error / variance, quality): the tables' cells and intervals "
          "are their summaries.",
          f"- `{_relpath(out.with_name(DISAGREEMENTS_FILE), out.parent)}`: every cell (table, model, column, metric, level) "
          "whose 95 % interval excludes the paper's value (section 7); from a per-image CSV alone: "
          f"`python -m uqcore.paper.disagreement_rows {_relpath(sibling_csv(out, FILE_KIND), out.parent)}`.",
          f"- Settings: `{', '.join(f'{k}={v}' for k, v in _settings_dict(s).items())}`.", ""]
    return "\n".join(L)


def _setup_lines(report: Report) -> list[str]:
    s = report.settings
    hw = report.hardware
    L: list[str] = []
    L += ["## Setup", "",
          f"- **Hardware**: {hw['cpu']}, {hw['cpu_count']} logical CPUs, {hw['torch_threads']} torch threads, device "
          f"`{hw['device']}`{' (' + hw['gpu'] + ')' if hw.get('gpu') else ''}; torch {hw['torch']}, Python {hw['python']}; "
          f"load average at start {hw.get('load_average')}.",
          f"- **Total time**: {_total_line(report)}.",
          "- **Models** (cards in `assets/models/`): "
          + "; ".join(f"`{n}` — {report.cards[n].get('description', report.cards[n].get('architecture', ''))}".rstrip(" —")
                      for n in required_models(s)) + ".",
          f"- **SR data**: `{_rel(s.sr_data)}`, {len(report.splits['sr']['calibration']) + len(report.splits['sr']['test'])} "
          f"HR images{' (the first ' + str(s.sr_limit) + ' by name)' if s.sr_limit else ''}, "
          + (f"centre-cropped to at most {s.sr_crop}×{s.sr_crop} px, " if s.sr_crop else "whole images, ")
          + "cropped to a multiple of the scale and bicubic-downscaled (antialiased) to make the LR input. "
          f"Calibration split: {', '.join(report.splits['sr']['calibration'])}; test split "
          f"(n = {len(report.splits['sr']['test'])}): {_names(report.splits['sr']['test'])}.",
          f"- **Depth data**: `{_rel(s.depth_data)}` (synthetic indoor RGB-D scenes, 16-bit depth in mm), "
          f"{len(report.splits['depth']['calibration']) + len(report.splits['depth']['test']) - s.depth_test} scenes, "
          f"plus {s.depth_test} test scenes rendered at run time by `uqcore.scenes` with seeds {DEPTH_TEST_SEED}–"
          f"{DEPTH_TEST_SEED + max(s.depth_test - 1, 0)} (disjoint from fcrn's training, monitoring, the bundled and "
          f"the held-out seeds). Calibration split: {', '.join(report.splits['depth']['calibration'])}; test split "
          f"(n = {len(report.splits['depth']['test'])}): {_names(report.splits['depth']['test'])}.",
          f"- **Split**: seeded permutation (`numpy.random.default_rng({s.seed}).permutation`); its first "
          f"{s.sr_calibration} (SR) / {s.depth_calibration} (depth) images are the calibration split. The calibration "
          "split is used only to choose the infer-noise / infer-dropout settings (with the held-out images for the tasks "
          "named under the sweeps) and to fit the σ-scaling and (with "
          "the held-out calibration images) the calibrated error bars (conformal, isotonic); every table number is "
          "measured on the test split.",
          f"- **Held-out calibration images** (error bars, and the sweeps of the tasks named below; `uqcore.paper.heldout`): SR "
          f"{len(report.splits['sr'].get('heldout', []))} ({', '.join(report.splits['sr'].get('heldout', [])) or 'none'}; "
          "images shipped inside scikit-image that are neither in the eval set nor in the training data, read from the "
          "installed package); depth "
          f"{len(report.splits['depth'].get('heldout', []))} scenes rendered by `uqcore.scenes` with seeds "
          f"{HELDOUT_SEED}–{HELDOUT_SEED + max(len(report.splits['depth'].get('heldout', [])) - 1, 0)} (disjoint from "
          "fcrn's training, monitoring and the bundled seeds).",
          f"- **Tolerability sweeps** (calibration split; for {', '.join(s.sweep_heldout_tasks) or 'no'} task(s) also "
          "the held-out calibration images, so the chosen setting rests on more than 4 images): "
          f"{s.sweep_layers} layers spread from early to late "
          f"(`uqcore.sweep.default_layers`) × noise std {', '.join(f'{v:g}' for v in s.noise_strengths)} / dropout rate "
          f"{', '.join(f'{v:g}' for v in s.dropout_strengths)}, {s.sweep_samples} samples, seed {s.seed}; while a sweep's "
          f"choice is its grid's largest strength, the grid grows (noise std doubled, dropout rate halfway to 1; at most "
          f"{s.grid_growth} times), so the edge of the grid never decides. Loss = mean L1 of "
          "the perturbed samples against the ground truth; loss increase relative to the unperturbed loss; correlation "
          "= pixel-level Pearson between the unperturbed output's error and the variance, averaged over images. "
          f"Chosen setting: `uqcore.sweep.recommend` with tolerance {s.tolerance:.0%} (highest pixel correlation among "
          "settings whose loss increase is at most the tolerance; the paper's exact threshold is not given in its text).",
          "- **Sample counts**: SR " + ", ".join(f"{_samples_label(k)} "
                                              f"{'/'.join(map(str, v))}" for k, v in s.sr_samples.items())
          + "; depth " + ", ".join(f"{_samples_label(k)} {'/'.join(map(str, v))}"
                                   for k, v in s.depth_samples.items())
          + ". Infer-transformation uses the dihedral transforms in order identity, rot90, rot180, rot270, flip, "
            "flip+rot90, … (4 = the rotations, 8 = all) for SR and identity + horizontal flip for depth.",
          "- **Metrics** (`uqcore.metrics`, `uqcore.datasets.evaluate`): error = per-pixel absolute error averaged over channels; "
          "uncertainty = per-pixel sample variance averaged over channels; AUSE over 50 sparsification steps; levels "
          f"pixel / patch (16×16 tiles) / block ({block_segmenter_note()}) averaged over the test images, and "
          "mean (one point per test image). **AUSE** rows: the sparsification curves divided by the mean error "
          "(unitless); **AUSE raw** rows: the same curves in the error's own units (Poggi et al. 2020), i.e. times the "
          "mean error (`uqcore.metrics.ause(normalise=False)`). NLL: Gaussian, eps 1e-6, mean over pixels then images. "
          "**NLL (σ-scaled)** (not in the paper): the variance multiplied by the scale that minimises the NLL on the "
          "calibration split (`σ scale`). Training-free methods score the unperturbed output; MC-drop2, the ensemble "
          "and LLM score their mean.",
          f"- **Training-required baselines**: MC-drop1/MC-drop2 use `{s.mcdrop_model}`, a *separately trained* model "
          "(the same architecture with dropout, fine-tuned from srresnet) as in the paper — so MC-drop1's prediction "
          "(that model's output with dropout off) differs from the srresnet / srgan prediction the training-free "
          f"methods are scored on. The ensemble is `{s.ensemble_model}`, the likelihood models `{s.llm_model}` (LLM: a variance "
          f"branch on the frozen network) and `{s.llm_joint_model}` (LLM joint: mean and log-variance trained "
          "together). Each "
          "baseline appears only in the table of the SR model it was made from (its card's `--init`, else its name; "
          "`uqcore.paper.baselines`): the paper trained separate baselines for each model, and a column scored on "
          "another network's error compares nothing. " + ensemble_note(s.ensemble_model) + " "
          f"For depth, MC-dropout samples `{s.depth_model}`'s own dropout layer before the prediction, "
          "as the paper does with FCRN.",
          "- Our models are small and CPU-trained and the test sets small (n = "
          f"{len(report.splits['sr']['test'])} SR images / {len(report.splits['depth']['test'])} depth scenes), so the "
          "absolute numbers are not comparable with the paper's (Set14/BSD/NYU-v2, full-size models); every table cell "
          "carries its 95 % bootstrap interval over the test images and the Discussion's comparisons a paired one. "
          "Compare the orderings, which is what the claims are about.", ""]
    return L


def _kept_parts(report: Report) -> int:
    """How many parts this run reused from ``reproduce --cache`` (their seconds are the computing run's)."""
    return sum("kept from the run of" in what for _, _, what in report.timings)


def _total_line(report: Report) -> str:
    if not _kept_parts(report):
        return f"{report.total_seconds / 60:.1f} min (per part below)"
    return (f"{sum(sec for _, sec, _ in report.timings) / 60:.1f} min of computation, the sum of the parts below "
            f"({_kept_parts(report)} of them kept by an earlier run with `--cache` and reused: this run took "
            f"{report.total_seconds / 60:.1f} min)")


def _timing_and_tolerability_lines(report: Report, out: Path) -> list[str]:
    L: list[str] = []
    L += ["## Time per part", "", "| part | seconds | what |", "|---|---:|---|"]
    L += [f"| {name} | {sec:.1f} | {what} |" for name, sec, what in report.timings]
    if _kept_parts(report):
        L += [f"| **total (sum of the parts)** | **{sum(sec for _, sec, _ in report.timings):.1f}** | this run "
              f"{report.total_seconds:.1f} s, reusing {_kept_parts(report)} kept parts |", ""]
    else:
        L += [f"| **total** | **{report.total_seconds:.1f}** | |", ""]

    L += ["## Tolerability (Fig. 4 analog)", "",
          "Loss after perturbation vs pixel correlation on the calibration split, one line per layer, points "
          "labelled by strength; the star is the chosen setting, the dashed line the tolerance.", ""]
    L += _settings_lines(report) + [""]
    if report.figures:
        for (m, meth), path in report.figures.items():
            L.append(f"![{m} infer-{meth}]({_relpath(Path(path), out.parent)})")
            L.append("")
    else:
        L += [f"*No figures: {report.figure_note or 'rendering was skipped'}.*", ""]
    L += ["Sweep rows (all settings): `" + _relpath(sibling_csv(out, "sweeps"), out.parent) + "`.", ""]

    return L


def _table_lines(report: Report) -> list[str]:
    s = report.settings
    L: list[str] = []
    for m in s.sr_models:
        if m not in report.tables:
            continue
        L += [f"## Table 1 analog: `{m}` (super-resolution ×{_scale(report, m)})", "",
              f"**n = {report.tables[m][0]['n_images']} test images.** " + cells_caption(PAPER_TABLE_NAMES.get(m, '–'))
              + f" `–` where we have no such column. Infer-drop at `{report.chosen[(m, DROPOUT)]['layer']}` "
              f"p={float(report.chosen[(m, DROPOUT)]['strength']):g}, infer-noise at `{report.chosen[(m, NOISE)]['layer']}` "
              f"σ={float(report.chosen[(m, NOISE)]['strength']):g}. Lower AUSE / NLL is better, higher Corr is better. "
              + TRAINING_CAPTION + baseline_caption(report, m), ""]
        L += results_table(report.tables[m], m if m in PAPER_TABLES else None, "sr", _training(report, m)) + [""]
    d = s.depth_model
    if d in report.tables:
        L += [f"## Table 2 analog: `{d}` (depth)", "",
              f"**n = {report.tables[d][0]['n_images']} test scenes.** " + cells_caption(PAPER_TABLE_NAMES['fcrn']) + " "
              f"Infer-drop at `{report.chosen[(d, DROPOUT)]['layer']}` p={float(report.chosen[(d, DROPOUT)]['strength']):g}, "
              f"infer-noise at `{report.chosen[(d, NOISE)]['layer']}` σ={float(report.chosen[(d, NOISE)]['strength']):g}. "
              + TRAINING_CAPTION, ""]
        L += results_table(report.tables[d], "fcrn", "depth", _training(report, d)) + [""]
    return L


def _training(report: Report, table: str) -> dict[tuple[str, int], float | None]:
    """{column: CPU seconds of training it needs beyond the network} (:func:`training_seconds`)."""
    return {(r["method"], int(r["samples"])): training_seconds(report, r["model"], r["method"], int(r["samples"]))
            for r in report.tables.get(table, [])}


def cells_caption(paper: str) -> str:
    return (f"Cells: ours [95 % bootstrap interval over the test images: percentile, 2,000 seeded resamples] "
            f"(paper's {paper}); `n/a` where a level means nothing for n (the mean level needs ≥ "
            f"{MIN_IMAGES['mean']} images, `uqcore.scoring.summary_ci`). Per-image values: the `_per_image.csv` beside this file (Files).")


def _scale(report: Report, m: str) -> int:
    return int(report.cards.get(m, {}).get("scale", 4))


def _settings_dict(s: Settings) -> dict[str, Any]:
    d = asdict(s)
    d.pop("sr_data"), d.pop("depth_data")
    return {k: v for k, v in d.items() if k not in ("sr_samples", "depth_samples")}


def _rel(path: str | Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _relpath(path: Path, start: Path) -> str:
    try:
        return os.path.relpath(Path(path).resolve(), Path(start).resolve())
    except ValueError:
        return str(path)


def sibling_csv(out: Path, kind: str) -> Path:
    return out.with_name(f"{out.stem.lower()}_{kind}.csv")


def write_outputs(report: Report, out: Path, figures: Path | None) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = [r for m in report.tables for r in report.tables[m]]
    write_rows(rows, sibling_csv(out, "rows"))
    write_rows([r for rs in report.sweeps.values() for r in rs], sibling_csv(out, "sweeps"))
    write_rows([r for rs in report.per_image.values() for r in rs], sibling_csv(out, FILE_KIND))
    write_disagreements([{k: c[k] for k in DISAGREEMENT_FIELDS} for c in report_cells(report) if c["outside"]],
                        out.with_name(DISAGREEMENTS_FILE))
    out.write_text(render_markdown(report, out, figures))




def block_segmenter_note(path: Path = ROOT / "docs" / "results_segmenters.json") -> str:
    """Which segmentation the block level used and, when ``research/compare_segmenters.py --write``
    has run, one clause comparing it with SLIC (the optional segmenter)."""
    import json

    from uqcore.metrics import BLOCK_SEGMENTER, LCM_SIGMA

    note = (f"local-centre-of-mass segments of the prediction as in the paper (Aganj et al. 2018; "
            f"`uqcore.metrics.segment`, σ = {LCM_SIGMA:g} px, mass = local homogeneity)" if BLOCK_SEGMENTER == "lcm"
            else "SLIC superpixels of the prediction")
    if not path.exists():
        return note
    d = json.loads(path.read_text())
    lcm, slic = d["mean"]["lcm"], d["mean"]["slic"]
    return (note + f"; with SLIC superpixels instead, {d['model']} {method_label(d['method'])} ({d['samples']}) "
            f"has block Corr {slic['corr_block']:.3f} against {lcm['corr_block']:.3f} with LCM (mean segment "
            f"{slic['segment_px']:.0f} vs {lcm['segment_px']:.0f} px, {d['n_images']} images of {d['data']}, "
            f"`{d['command']}`)")


def ensemble_note(name: str) -> str:
    """The ensemble's member count (from its card) and what the Ensemble (4) / (8) columns use."""
    from uqcore.models.card import read_card
    from uqcore.models.registry import MODELS_DIR

    card = MODELS_DIR / f"{name}.json"
    n = int(read_card(card).config.get("members", 0)) if card.exists() else 0
    if n >= 8:
        return f"The ensemble has {n} members: Ensemble (4) uses the first 4, Ensemble (8) the first 8."
    return f"The ensemble has {n} members, so the paper's Ensemble (8) column has no counterpart."
