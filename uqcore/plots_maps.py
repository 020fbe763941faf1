"""One image's maps side by side (the paper's Fig. 3): the prediction and its error map next to
each method's variance map, axes linked (zoom one, all follow). Pure arrays -> plotly figure.

Colour scales: ``shared_scale`` puts every variance map on one range (zero to the largest
value over the maps, one colour bar), so the methods' magnitudes compare directly; otherwise
each map has its own range and colour bar, so each map's pattern shows even where the
methods' magnitudes differ by orders of magnitude. The error map has its own unit and scale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from uqcore.plots import (MAX_DISPLAY_SIDE, Units, block_mean, colour_panel, display_factor, link_axes,
                          picture_source, pixel_grid, place_colorbar)

COLUMNS = 4  # panels per row


def _prediction_panel(prediction: np.ndarray, factor: int, units: Units, depth: bool) -> tuple[str, list]:
    pred = block_mean(prediction, factor)
    if not depth and pred.shape[0] == 3:
        return "prediction", [go.Image(source=picture_source(pred), **pixel_grid(factor), name="prediction",
                                       hovertemplate="prediction<br>x %{x}, y %{y}<extra></extra>")]
    z = pred[0] if pred.shape[0] == 1 else pred.mean(0)
    return "prediction (m)" if depth else "prediction", colour_panel(
        "prediction", z, factor, colorscale="magma", unit=units.output, name="prediction", colorbar=False)


def method_maps_figure(prediction: np.ndarray, error: np.ndarray | None, variances: Mapping[str, np.ndarray], *,
                       shared_scale: bool = False, colormap: str = "viridis", depth: bool = False,
                       max_side: int = MAX_DISPLAY_SIDE, columns: int = COLUMNS, panel_height: int = 300,
                       labels: Mapping[str, str] | None = None) -> go.Figure:
    """prediction [C, H, W] | error [H, W] (if given) | one variance map [H, W] per method
    (``variances``: name -> map, drawn in that order; ``labels``: name -> panel title). Images
    longer than ``max_side`` are drawn as block means, and the figure says so."""
    factor = display_factor(prediction.shape, max_side)
    units = Units("m" if depth else "intensity")
    panels = [_prediction_panel(prediction, factor, units, depth)]
    if error is not None:
        panels.append(("error |pred − target|", colour_panel("error", block_mean(error, factor), factor,
                                                             colorscale=colormap, unit=units.output, name="error")))
    maps = {name: block_mean(v, factor) for name, v in variances.items()}
    top = max((float(np.nanmax(v)) for v in maps.values() if np.isfinite(v).any()), default=1.0)
    for i, (name, v) in enumerate(maps.items()):
        title = f"variance: {(labels or {}).get(name, name)}"
        scale = dict(zmin=0.0, zmax=max(top, 1e-30), colorbar=i == len(maps) - 1) if shared_scale else {}
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
