"""One image's maps side by side (the paper's Fig. 3): the prediction and its error map next to
each method's variance map, axes linked (zoom one, all follow). Pure arrays -> plotly figure.

Colour scales start at zero and end at a map's 99th percentile (the few larger values
saturate; otherwise a handful of edge pixels would leave the rest of the map dark, as in the
paper's figure). ``shared_scale`` puts every variance map on one range (up to the largest of
their 99th percentiles, one colour bar), so the methods' magnitudes compare directly;
otherwise each map has its own range and colour bar, so each map's pattern shows even where
the methods' magnitudes differ by orders of magnitude. The error map has its own unit and scale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from uqcore.plots.figures import (MAX_DISPLAY_SIDE, Units, block_mean, colour_panel, display_factor, link_axes,
                          picture_source, pixel_grid, place_colorbar)

PANELS_PER_ROW = 5  # panels per row
TOP_PERCENTILE = 99  # a colour range ends here; larger values saturate


def _prediction_panel(prediction: np.ndarray, factor: int, units: Units, depth: bool) -> tuple[str, list]:
    pred = block_mean(prediction, factor)
    if not depth and pred.shape[0] == 3:
        return "prediction", [go.Image(source=picture_source(pred), **pixel_grid(factor), name="prediction",
                                       hovertemplate="prediction<br>x %{x}, y %{y}<extra></extra>")]
    z = pred[0] if pred.shape[0] == 1 else pred.mean(0)
    return "prediction (m)" if depth else "prediction", colour_panel(
        "prediction", z, factor, colorscale="magma", unit=units.output, name="prediction", colorbar=False)


def top_of(z: np.ndarray) -> float:
    """The upper end of a map's colour range: its ``TOP_PERCENTILE`` th percentile (finite values)."""
    finite = z[np.isfinite(z)]
    return max(float(np.percentile(finite, TOP_PERCENTILE)), 1e-30) if finite.size else 1.0


def method_maps_figure(prediction: np.ndarray, error: np.ndarray | None, variances: Mapping[str, np.ndarray], *,
                       shared_scale: bool = False, colormap: str = "viridis", depth: bool = False,
                       max_side: int = MAX_DISPLAY_SIDE, columns: int = PANELS_PER_ROW, panel_height: int = 300,
                       labels: Mapping[str, str] | None = None) -> go.Figure:
    """prediction [C, H, W] | error [H, W] (if given) | one variance map [H, W] per method
    (``variances``: name -> map, drawn in that order; ``labels``: name -> panel title). Images
    longer than ``max_side`` are drawn as block means, and the figure says so."""
    factor = display_factor(prediction.shape, max_side)
    units = Units("m" if depth else "intensity")
    panels = [_prediction_panel(prediction, factor, units, depth)]
    if error is not None:
        err = block_mean(error, factor)
        panels.append(("error |pred − target|", colour_panel("error", err, factor, colorscale=colormap,
                                                             unit=units.output, name="error", zmin=0.0,
                                                             zmax=top_of(err))))
    maps = {name: block_mean(v, factor) for name, v in variances.items()}
    shared_top = max((top_of(v) for v in maps.values()), default=1.0)
    for i, (name, v) in enumerate(maps.items()):
        title = f"variance: {(labels or {}).get(name, name)}"
        scale = dict(zmin=0.0, zmax=shared_top, colorbar=i == len(maps) - 1) if shared_scale else \
            dict(zmin=0.0, zmax=top_of(v))
        panels.append((title, colour_panel(title, v, factor, colorscale=colormap, unit=units.variance,
                                           name=f"variance:{name}", **scale)))
    cols = min(columns, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[t for t, _ in panels], horizontal_spacing=0.07,
                        vertical_spacing=0.1)
    for n, (_, traces) in enumerate(panels):
        row, col = divmod(n, cols)
        for trace in traces:
            fig.add_trace(trace, row=row + 1, col=col + 1)
            place_colorbar(fig, fig.data[-1], row + 1, col + 1)
    for n in range(len(panels), rows * cols):  # empty cells of the last row: no axes
        fig.update_xaxes(visible=False, row=rows, col=n % cols + 1)
        fig.update_yaxes(visible=False, row=rows, col=n % cols + 1)
    height, width = prediction.shape[-2:]
    link_axes(fig, list(range(1, len(panels) + 1)), ([-0.5, width - 0.5], [height - 0.5, -0.5]))
    notes = [("shared colour scale for the variance maps" if shared_scale else "each map on its own colour scale")]
    if factor > 1:
        notes.append(f"overview: {factor}×{factor} block means of the {width}×{height} output")
    fig.update_layout(height=panel_height * rows + 40, margin=dict(l=5, r=5, t=30, b=40), dragmode="zoom",
                      meta={"display_factor": factor, "shared_scale": shared_scale}, showlegend=False)
    fig.add_annotation(text=" · ".join(notes), showarrow=False, x=0, xanchor="left", y=0, xref="paper", yref="paper",
                       yanchor="top", yshift=-12, font=dict(size=11, color="grey"))
    return fig


SELECT_GRID = 24  # invisible points per side that make the overview's panels box-selectable


def overview_figure(prediction: np.ndarray, variance: np.ndarray, error: np.ndarray | None = None, *,
                    region: tuple[int, int, int, int] | None = None, colormap: str = "viridis", depth: bool = False,
                    max_side: int = 256, panel_height: int = 300, title: str = "") -> go.Figure:
    """The whole image as an overview: prediction | variance | error (if given) as block means
    (the note says so), the inspected ``region`` (top, left, height, width, output pixels)
    outlined, and box selection on (a box drawn on a panel picks the next region; invisible
    points make the panels selectable). NaN (tiles not computed yet) is transparent."""
    factor = display_factor(prediction.shape, max_side)
    units = Units("m" if depth else "intensity")
    panels = [_prediction_panel(np.nan_to_num(prediction), factor, units, depth),
              ("variance", colour_panel("variance", block_mean(variance, factor), factor, colorscale=colormap,
                                        unit=units.variance, name="variance"))]
    if error is not None:
        panels.append(("error |pred − target|", colour_panel("error", block_mean(error, factor), factor,
                                                             colorscale=colormap, unit=units.output, name="error")))
    height, width = prediction.shape[-2:]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for t, _ in panels], horizontal_spacing=0.07)
    gx, gy = np.meshgrid(np.linspace(0, width - 1, SELECT_GRID), np.linspace(0, height - 1, SELECT_GRID))
    for col, (_, traces) in enumerate(panels, start=1):
        for trace in traces:
            fig.add_trace(trace, row=1, col=col)
            place_colorbar(fig, fig.data[-1], 1, col)
        fig.add_trace(go.Scatter(x=gx.ravel(), y=gy.ravel(), mode="markers", marker=dict(opacity=0, size=4),
                                 hoverinfo="skip", showlegend=False, name="select"), row=1, col=col)
        if region is not None:
            t, l, h, w = region
            fig.add_shape(type="rect", x0=l - 0.5, x1=l + w - 0.5, y0=t - 0.5, y1=t + h - 0.5, row=1, col=col,
                          line=dict(color="red", width=2))
    link_axes(fig, list(range(1, len(panels) + 1)), ([-0.5, width - 0.5], [height - 0.5, -0.5]))
    note = (f"overview: {factor}×{factor} block means of the {width}×{height} output" if factor > 1 else
            f"the whole {width}×{height} output") + " · draw a box (box select) to inspect a region at full resolution"
    fig.update_layout(height=panel_height + 40, margin=dict(l=5, r=5, t=50 if title else 30, b=40), dragmode="select",
                      meta={"display_factor": factor, "overview": True}, showlegend=False,
                      title=dict(text=title, font=dict(size=13)) if title else None)
    fig.add_annotation(text=note, showarrow=False, x=0, xanchor="left", y=0, xref="paper", yref="paper",
                       yanchor="top", yshift=-12, font=dict(size=11, color="grey"))
    return fig
