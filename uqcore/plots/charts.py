"""Pure functions: tables of results -> plotly charts (sweeps, metric bars, reliability, coverage).

The image panels and curves are in :mod:`uqcore.plots.figures`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from uqcore.plots.figures import rgb_colorscale


def _strength_label(value) -> str:
    return f"{value:g}"


def tolerability_figure(rows: Sequence[dict], y: str = "corr_pixel", x: str = "loss",
                        highlight: dict | None = None, height: int = 420, tolerance: float | None = None) -> go.Figure:
    """One line per layer: ``y`` (correlation, or variance magnitude) against ``x`` (loss after
    perturbation, or its relative increase, drawn in percent) — the paper's Fig. 4. Strengths
    show on hover; only the highlighted (recommended) point carries a label, so labels never
    pile up. ``tolerance``: a dashed line at that loss increase."""
    fig = go.Figure()
    percent = x == "loss_increase"
    for layer in dict.fromkeys(r["layer"] for r in rows):
        pts = sorted((r for r in rows if r["layer"] == layer), key=lambda r: r["strength"])
        fig.add_trace(go.Scatter(
            x=[r[x] for r in pts], y=[r[y] for r in pts], mode="lines+markers", name=str(layer),
            customdata=[_strength_label(r["strength"]) for r in pts],
            hovertemplate=(f"layer {layer}<br>strength %{{customdata}}<br>{x.replace('_', ' ')} "
                           + ("%{x:.1%}" if percent else "%{x:.4g}") + f"<br>{y.replace('_', ' ')} %{{y:.4g}}<extra></extra>"),
        ))
    if highlight is not None:
        fig.add_trace(go.Scatter(
            x=[highlight[x]], y=[highlight[y]], mode="markers", name="recommended",
            marker=dict(size=18, symbol="star", color="gold", line=dict(width=1, color="black")),
        ))
        fig.add_annotation(x=highlight[x], y=highlight[y], text=f"{highlight['layer']} @ {_strength_label(highlight['strength'])}",
                           showarrow=True, arrowhead=0, ax=45, ay=-28, bgcolor="rgba(255,255,255,0.85)",
                           font=dict(size=11))
    if tolerance is not None and percent:
        fig.add_vline(x=tolerance, line_dash="dash", line_color="grey",
                      annotation_text=f"tolerance {tolerance:.0%}", annotation_position="top left")
    fig.update_layout(height=height, xaxis_title=("loss increase" if percent else x.replace("_", " ")),
                      yaxis_title=y.replace("_", " "), margin=dict(l=5, r=5, t=30, b=5),
                      legend=dict(orientation="h", y=-0.2, x=0))
    if percent:
        fig.update_xaxes(tickformat=".0%")
    return fig


def heatmap_figure(rows: Sequence[dict], value: str = "corr_pixel", colormap: str = "viridis",
                   height: int = 360) -> go.Figure:
    """Layer × strength grid coloured by ``value``."""
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    strengths = sorted({r["strength"] for r in rows})
    grid = np.full((len(layers), len(strengths)), np.nan)
    for r in rows:
        v = r.get(value)
        grid[layers.index(r["layer"]), strengths.index(r["strength"])] = np.nan if v is None else v
    fig = go.Figure(go.Heatmap(
        z=grid, x=[_strength_label(s) for s in strengths], y=layers, colorscale=rgb_colorscale(colormap),
        text=np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.3f}")(grid), texttemplate="%{text}",
        hovertemplate="layer %{y}<br>strength %{x}<br>" + value + " %{z:.4g}<extra></extra>",
    ))
    fig.update_layout(height=height, xaxis_title="strength", yaxis_title="layer",
                      xaxis_type="category", margin=dict(l=5, r=5, t=30, b=5), title=value.replace("_", " "))
    return fig


def metric_bars(frame, metric: str, height: int = 320) -> go.Figure:
    """Bar chart of ``metric`` per method / sample count (a long-format DataFrame with columns
    method, samples, level, and the metric); ``{metric}_lo`` / ``_hi`` columns as error bars, no bar
    where ``level_note`` says the level means nothing (:func:`uqcore.scoring.summary_ci.add_intervals`)."""
    fig = go.Figure()
    for level in dict.fromkeys(frame["level"]):
        part = frame[frame["level"] == level]
        y = part[metric].astype(float).to_numpy()
        if "level_note" in part and metric in ("corr", "ause"):
            y = np.where(part["level_note"].fillna("").astype(bool).to_numpy(), np.nan, y)
        error = None
        if f"{metric}_lo" in part:
            lo, hi = part[f"{metric}_lo"].astype(float).to_numpy(), part[f"{metric}_hi"].astype(float).to_numpy()
            error = dict(type="data", symmetric=False, array=hi - y, arrayminus=y - lo)
        fig.add_trace(go.Bar(x=[f"{m} ×{s}" for m, s in zip(part["method"], part["samples"])],
                             y=y, name=str(level), error_y=error))
    fig.update_layout(barmode="group", height=height, title=metric, margin=dict(l=5, r=5, t=40, b=5))
    return fig


def reliability_figure(trace: Sequence[tuple[int, float]], target: float | None = None, height: int = 220) -> go.Figure:
    """The variance map's split-half reliability against the samples drawn (``Estimate.trace``),
    with the ``samples="auto"`` target as a dashed line."""
    fig = go.Figure(go.Scatter(x=[n for n, _ in trace], y=[r for _, r in trace], mode="lines+markers",
                               name="reliability", hovertemplate="%{x} samples: reliability %{y:.3f}<extra></extra>"))
    if target is not None:
        fig.add_hline(y=target, line_dash="dash", line_color="grey", annotation_text=f"target {target:g}",
                      annotation_position="bottom right")
    fig.update_layout(height=height, margin=dict(l=5, r=5, t=30, b=5), title="map reliability",
                      xaxis_title="samples", yaxis=dict(title="reliability", range=[0, 1.02]), showlegend=False)
    return fig


def interval_reliability_figure(raw, calibrated, *, unit: str = "intensity", height: int = 400) -> go.Figure:
    """Reliability diagram of a calibration (the bins of ENCE, Levi et al. 2022): per equal-count
    variance bin the observed RMSE against the predicted RMV (root mean variance), for the raw
    variance and the calibrated one (``uqcore.metrics.Reliability`` each); a calibrated map lies
    on the diagonal. Log axes: raw training-free variances are off by orders of magnitude."""
    fig = go.Figure()
    for name, r, dash, colour in (("raw variance", raw, "dot", "#e67e22"), ("calibrated", calibrated, "solid",
                                                                           "#1f77b4")):
        fig.add_trace(go.Scatter(
            x=r.rmv, y=r.rmse, mode="lines+markers", name=f"{name} (ENCE {r.ence:.3g})",
            line=dict(dash=dash, color=colour), marker=dict(color=colour),
            customdata=np.asarray(r.count), hovertemplate=(f"{name}<br>RMV %{{x:.4g}} {unit}<br>RMSE %{{y:.4g}} {unit}"
                                                           "<br>%{customdata} pixels<extra></extra>")))
    values = np.concatenate([np.asarray(v, dtype=np.float64) for v in (raw.rmv, raw.rmse, calibrated.rmv,
                                                                       calibrated.rmse)])
    values = values[np.isfinite(values) & (values > 0)]
    if values.size:
        lo, hi = float(values.min()) / 1.5, float(values.max()) * 1.5
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="ideal (RMSE = RMV)", hoverinfo="skip",
                                 line=dict(dash="dash", color="grey", width=1)))
    fig.update_layout(height=height, margin=dict(l=5, r=5, t=40, b=5), title="reliability diagram (ENCE bins)",
                      xaxis=dict(type="log", title=f"predicted: root mean variance ({unit})"),
                      yaxis=dict(type="log", title=f"observed: RMSE ({unit})"),
                      legend=dict(orientation="h", y=-0.22, x=0))
    return fig


def coverage_figure(rows: Sequence[dict], level: float, height: int = 340) -> go.Figure:
    """Coverage per image (bars: the fraction of its valid values inside the interval) with the
    nominal level as a dashed line; rows: dicts with image, coverage, interval_width."""
    fig = go.Figure(go.Bar(
        x=[str(r["image"]) for r in rows], y=[r["coverage"] for r in rows], name="coverage",
        texttemplate="%{y:.1%}", textposition="inside",
        customdata=[r["interval_width"] for r in rows],
        hovertemplate="%{x}<br>coverage %{y:.1%}<br>mean interval width %{customdata:.4g}<extra></extra>"))
    fig.add_hline(y=level, line_dash="dash", line_color="grey", annotation_text=f"nominal {level * 100:g}%",
                  annotation_position="bottom right")
    fig.update_layout(height=height, margin=dict(l=5, r=5, t=40, b=5), title="coverage per image", showlegend=False,
                      xaxis=dict(title="image", type="category"), yaxis=dict(title="coverage", tickformat=".0%",
                                                                             range=[0, 1.02]))
    return fig
