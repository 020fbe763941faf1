"""Pure functions: arrays -> plotly figures (no Streamlit, no model calls).

Colour maps are perceptually uniform (viridis / magma / cividis / inferno). Image panels share
their axes (``matches``), so zooming or panning one moves all of them, and each pixel's hover
shows the prediction, variance and error at that pixel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

COLORMAPS = ("viridis", "magma", "cividis", "inferno", "plasma")
MAX_DISPLAY_SIDE = 320  # pixels per panel side sent to the browser; metrics use full resolution


def display_factor(shape: Sequence[int], max_side: int = MAX_DISPLAY_SIDE) -> int:
    """Integer block size that brings the longest side to at most ``max_side``."""
    return max(1, math.ceil(max(shape[-2:]) / max_side))


def block_mean(array: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor``×``factor`` blocks of the last two axes (edges padded by reflection of
    NaN-aware means); the identity for factor 1."""
    if factor == 1:
        return array
    h, w = array.shape[-2:]
    ph, pw = (-h) % factor, (-w) % factor
    pad = [(0, 0)] * (array.ndim - 2) + [(0, ph), (0, pw)]
    padded = np.pad(array.astype(np.float64), pad, constant_values=np.nan)
    shape = padded.shape[:-2] + (padded.shape[-2] // factor, factor, padded.shape[-1] // factor, factor)
    with np.errstate(invalid="ignore"), _quiet_nanmean():
        return np.nanmean(padded.reshape(shape), axis=(-3, -1))


class _quiet_nanmean:
    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", category=RuntimeWarning)

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)


def _rgb_uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(np.nan_to_num(image.transpose(1, 2, 0)), 0, 1) * 255 + 0.5).astype(np.uint8)


def panels_figure(
    prediction: np.ndarray,
    variance: np.ndarray,
    error: np.ndarray | None = None,
    *,
    colormap: str = "viridis",
    log_variance: bool = False,
    shared_scale: bool = False,
    depth: bool = False,
    max_side: int = MAX_DISPLAY_SIDE,
    height: int = 400,
) -> go.Figure:
    """Prediction | variance | error (if given), one row, axes matched, hover shows all three.

    prediction: [3, H, W] RGB in [0, 1], or [1, H, W] depth (shown with ``magma``).
    log_variance: colour by log10(variance) (hover still shows the variance itself).
    shared_scale: variance and error each divided by their 99th percentile and drawn on one
    colour range [0, 1] (relative units), so their patterns compare directly.
    Large images are shown block-averaged to at most ``max_side`` pixels a side.
    """
    factor = display_factor(prediction.shape, max_side)
    pred = block_mean(prediction, factor)
    var = block_mean(variance, factor)
    err = None if error is None else block_mean(error, factor)
    titles = ["prediction" + (" (m)" if depth else ""), "variance" + (" (log10)" if log_variance else "")]
    if err is not None:
        titles.append("error |pred − target|")
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles, horizontal_spacing=0.04)

    def colorbar(col: int) -> dict:  # horizontal, under its own panel: never over a neighbour
        lo, hi = fig.layout[f"xaxis{'' if col == 1 else col}"].domain
        return dict(orientation="h", x=(lo + hi) / 2, xanchor="center", len=0.8 * (hi - lo), y=-0.02,
                    yanchor="top", thickness=10, tickfont=dict(size=10), nticks=4)

    pred_value = pred[0] if pred.shape[0] == 1 else pred.mean(0)
    layers = [pred_value, var] + ([err] if err is not None else [])
    # float32: plotly sends numpy arrays as binary typed arrays, so this halves what the browser loads
    custom = np.stack(layers, axis=-1).astype(np.float32)
    names = ["prediction", "variance", "error"][: len(layers)]
    hover = "x %{x}, y %{y}<br>" + "<br>".join(
        f"{n}: %{{customdata[{i}]:.4g}}" for i, n in enumerate(names)
    ) + "<extra></extra>"
    scale_note = f" (display: {factor}×{factor} block means)" if factor > 1 else ""

    x = np.arange(pred.shape[-1]) * factor
    y = np.arange(pred.shape[-2]) * factor
    if depth or pred.shape[0] != 3:
        fig.add_trace(
            go.Heatmap(z=pred_value.astype(np.float32), x=x, y=y, colorscale="magma", customdata=custom, hovertemplate=hover,
                       colorbar=colorbar(1), name="prediction"),
            row=1, col=1,
        )
    else:
        fig.add_trace(
            go.Image(z=_rgb_uint8(pred), x0=0, dx=factor, y0=0, dy=factor, customdata=custom,
                     hovertemplate=hover, name="prediction"),
            row=1, col=1,
        )
    shown_var = var
    zrange: dict = {}
    if shared_scale and err is not None:
        shown_var = var / max(np.nanpercentile(var, 99), 1e-12)
        err = err / max(np.nanpercentile(err, 99), 1e-12)
        zrange = dict(zmin=0.0, zmax=1.0)
    elif log_variance:
        shown_var = np.log10(np.maximum(var, 1e-12))
    fig.add_trace(
        go.Heatmap(z=shown_var.astype(np.float32), x=x, y=y, colorscale=colormap, customdata=custom, hovertemplate=hover,
                   colorbar=colorbar(2), name="variance", **zrange),
        row=1, col=2,
    )
    if err is not None:
        fig.add_trace(
            go.Heatmap(z=err.astype(np.float32), x=x, y=y, colorscale=colormap, customdata=custom, hovertemplate=hover,
                       colorbar=colorbar(3), name="error", **zrange),
            row=1, col=3,
        )
    for i in range(1, len(titles) + 1):
        suffix = "" if i == 1 else str(i)
        fig.update_xaxes(matches="x", showticklabels=False, constrain="domain", row=1, col=i)
        fig.update_yaxes(matches="y", autorange="reversed", scaleanchor=f"x{suffix}", scaleratio=1,
                         showticklabels=False, constrain="domain", row=1, col=i)
    fig.update_layout(height=height, margin=dict(l=5, r=5, t=40, b=70 if scale_note else 50), dragmode="zoom",
                      meta={"display_factor": factor})
    if scale_note:  # below the panels, where it cannot collide with the titles
        fig.add_annotation(text=scale_note.strip(), showarrow=False, x=0.5, y=0, xref="paper", yref="paper",
                           yanchor="top", yshift=-48, font=dict(size=11, color="grey"))
    return fig


def sparsification_figure(curve, height: int = 400) -> go.Figure:
    """Estimate, oracle and random sparsification curves; AUSE and AURG in the legend."""
    fig = go.Figure()
    f = np.asarray(curve.fractions)
    fig.add_trace(go.Scatter(x=f, y=curve.estimate, name=f"estimate (AUSE {curve.ause:.4f})", mode="lines"))
    fig.add_trace(go.Scatter(x=f, y=curve.oracle, name="oracle", mode="lines", line=dict(dash="dash")))
    fig.add_trace(go.Scatter(x=f, y=curve.random, name=f"random (AURG {curve.aurg:.4f})", mode="lines",
                             line=dict(dash="dot")))
    fig.update_layout(
        title="sparsification", height=height, margin=dict(l=5, r=5, t=40, b=5),
        xaxis_title="fraction removed", yaxis_title="mean error (normalised)",
        legend=dict(orientation="h", y=-0.25, x=0),
    )
    return fig


def _strength_label(value) -> str:
    return f"{value:g}"


def tolerability_figure(rows: Sequence[dict], y: str = "corr_pixel", x: str = "loss",
                        highlight: dict | None = None, height: int = 420) -> go.Figure:
    """One line per layer: ``y`` (correlation, or variance magnitude) against ``x`` (loss after
    perturbation), points labelled by strength — the paper's Fig. 4."""
    fig = go.Figure()
    for layer in dict.fromkeys(r["layer"] for r in rows):
        pts = sorted((r for r in rows if r["layer"] == layer), key=lambda r: r["strength"])
        fig.add_trace(go.Scatter(
            x=[r[x] for r in pts], y=[r[y] for r in pts], mode="lines+markers+text", name=str(layer),
            text=[_strength_label(r["strength"]) for r in pts], textposition="top center",
            hovertemplate=f"layer {layer}<br>strength %{{text}}<br>{x} %{{x:.4g}}<br>{y} %{{y:.4g}}<extra></extra>",
        ))
    if highlight is not None:
        fig.add_trace(go.Scatter(
            x=[highlight[x]], y=[highlight[y]], mode="markers", name="recommended",
            marker=dict(size=18, symbol="star", color="gold", line=dict(width=1, color="black")),
        ))
    fig.update_layout(height=height, xaxis_title=x.replace("_", " "), yaxis_title=y.replace("_", " "),
                      margin=dict(l=5, r=5, t=30, b=5))
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
        z=grid, x=[_strength_label(s) for s in strengths], y=layers, colorscale=colormap,
        text=np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.3f}")(grid), texttemplate="%{text}",
        hovertemplate="layer %{y}<br>strength %{x}<br>" + value + " %{z:.4g}<extra></extra>",
    ))
    fig.update_layout(height=height, xaxis_title="strength", yaxis_title="layer",
                      xaxis_type="category", margin=dict(l=5, r=5, t=30, b=5), title=value.replace("_", " "))
    return fig


def metric_bars(frame, metric: str, height: int = 320) -> go.Figure:
    """Bar chart of ``metric`` per method / sample count (a long-format DataFrame with columns
    method, samples, level, and the metric)."""
    fig = go.Figure()
    for level in dict.fromkeys(frame["level"]):
        part = frame[frame["level"] == level]
        fig.add_trace(go.Bar(x=[f"{m} ×{s}" for m, s in zip(part["method"], part["samples"])],
                             y=part[metric], name=str(level)))
    fig.update_layout(barmode="group", height=height, title=metric, margin=dict(l=5, r=5, t=40, b=5))
    return fig
