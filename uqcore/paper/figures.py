"""The Fig. 4 analog PNGs (plotly + kaleido)."""

from __future__ import annotations

import logging
import math
import os
import sys
from pathlib import Path

import plotly.graph_objects as go

from uqcore.paper.discussion import as_float
from uqcore.paper.report import Report
from uqcore.paper.values import NOISE
from uqcore.plots.charts import tolerability_figure


def tolerability_png_figure(report: Report, model: str, method: str):
    """One Fig. 4 panel: a sweep's loss vs pixel correlation, the chosen setting and the tolerance."""
    rows = report.sweeps[(model, method)]
    chosen = report.chosen[(model, method)]
    fig = tolerability_figure(rows, y="corr_pixel", x="loss", highlight=chosen, height=520)

    base = rows[0]["base_loss"]
    tol = report.settings.tolerance
    ys = [as_float(r.get("corr_pixel")) for r in rows if math.isfinite(as_float(r.get("corr_pixel")))] or [0.0, 1.0]
    pad = 0.05 * (max(ys) - min(ys) or 1.0)
    span = [min(ys) - pad, max(ys) + pad]
    for x, name, dash, colour in ((base, "unperturbed loss", "dot", "grey"),
                                  (base * (1 + tol), f"+{tol:.0%} loss (tolerance)", "dash", "firebrick")):
        fig.add_trace(go.Scatter(x=[x, x], y=span, mode="lines", name=name, hoverinfo="skip",
                                 line=dict(dash=dash, color=colour, width=1.5)))
    n = rows[0].get("n_images")
    losses = [as_float(r.get("loss")) for r in rows if math.isfinite(as_float(r.get("loss"))) and as_float(r.get("loss")) > 0]
    if losses and max(losses) > 10 * min(losses):
        fig.update_xaxes(type="log")  # a few very damaging settings would squash the tolerable ones
    fig.update_layout(
        title=f"{model}: infer-{method}, loss after perturbation vs pixel correlation "
              f"({n} calibration images; labels = {'noise std' if method == NOISE else 'dropout rate'})",
        xaxis_title="L1 loss after perturbation (mean over samples)", yaxis_title="pixel correlation (error vs variance)",
        width=960, legend_title_text="layer", margin=dict(l=60, r=20, t=60, b=50), template="plotly_white",
    )
    return fig


def write_figures(report: Report, folder: Path) -> None:
    """Fig. 4 analog PNGs, ``fig4_{model}_{method}.png``, with plotly + kaleido (headless Chrome:
    Debian's /usr/bin/chromium). If that fails, the report records why and lists no figures."""
    folder.mkdir(parents=True, exist_ok=True)
    keys = list(report.sweeps)
    figs = [tolerability_png_figure(report, m, meth) for m, meth in keys]
    paths = [folder / f"fig4_{m}_{meth}.png" for m, meth in keys]
    # kaleido finds Chrome through BROWSER_PATH: point it at Debian's chromium for this export only
    set_browser = "BROWSER_PATH" not in os.environ and Path("/usr/bin/chromium").exists()
    if set_browser:
        os.environ["BROWSER_PATH"] = "/usr/bin/chromium"
    quiet = [logging.getLogger(n) for n in ("choreographer", "kaleido", "logistro")]
    levels = [lg.level for lg in quiet]
    try:
        import plotly.io as pio  # lazy, inside the try: a missing or broken kaleido becomes a note

        for lg in quiet:
            lg.setLevel(logging.CRITICAL)  # headless Chrome chatter, not errors of ours
        pio.write_images(figs, paths, format="png", width=960, height=520, scale=1)
    except Exception as exc:  # noqa: BLE001 -- any export failure becomes a note, never a crash
        report.figure_note = (f"PNG export failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}); "
                              "install kaleido and Debian's chromium to get the figures")
        print(f"warning: {report.figure_note}", file=sys.stderr)
        return
    finally:
        for lg, lv in zip(quiet, levels):
            lg.setLevel(lv)
        if set_browser:
            os.environ.pop("BROWSER_PATH", None)
    for k, p in zip(keys, paths):
        report.figures[k] = str(p)


