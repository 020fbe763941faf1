"""Pure functions: arrays -> plotly figures (no Streamlit, no model calls).

Colour maps are perceptually uniform (viridis / magma / cividis / inferno). Image panels share
their axes (``matches``), so zooming or panning one moves all of them, and each pixel's hover
shows the value under the cursor. Colour-mapped panels (variance, error, depth) are sent as
PNG pictures with a transparent heatmap of block means on top for hover and colour bar: a few
times fewer bytes than full-resolution float heatmaps, which is most of what the browser waits for.
"""

from __future__ import annotations

import base64
import functools
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

COLORMAPS = ("viridis", "magma", "cividis", "inferno", "plasma")
MAX_DISPLAY_SIDE = 512  # pixels per panel side sent to the browser; metrics use full resolution
VIEW_SIDE = 448  # larger images open zoomed into their centre at full size
OUTSIDE_COLORS = [[0.0, "#f2f2f2"], [1.0, "#c0392b"]]  # inside light grey, outside red
JPEG_ABOVE = 128 * 128  # RGB pictures with more pixels are sent as JPEG, smaller ones as PNG
CURVE_COLORS = ("#0068c9", "#29b09d", "#808495")  # estimate, oracle, random (fixed: a figure's default
# colours follow its trace count, which the picture panels before the curve would shift)
HOVER_SIDE = 128  # cells per side of the hover heatmap over a colour-mapped picture


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


def _data_uri(image: Image.Image, fmt: str, **options) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buffer.getvalue()).decode()


def picture_source(rgb: np.ndarray) -> str:
    """[3, H, W] RGB in [0, 1] -> a data URI: PNG up to ``JPEG_ABOVE`` pixels (a model input, shown
    enlarged), else JPEG at quality 95 without chroma subsampling (about one grey level of mean
    difference, a fifth of the PNG's bytes: the figure's size is most of what the browser waits for)."""
    image = Image.fromarray(_rgb_uint8(rgb))
    if rgb.shape[-1] * rgb.shape[-2] <= JPEG_ABOVE:
        return _data_uri(image, "PNG", compress_level=1)
    return _data_uri(image, "JPEG", quality=95, subsampling=0)


def rgb_colorscale(colorscale) -> list:
    """A plotly colour scale (name or [[position, colour], ...]) as [[position, "rgb(r, g, b)"], ...].
    Figures carry this form: Streamlit's plotly theme rewrites the hex strings #000001-#000040 (its
    colour placeholders) wherever they occur, and magma and inferno begin with #000004."""
    scale = pc.get_colorscale(colorscale) if isinstance(colorscale, str) else colorscale
    return [[pos, pc.convert_colors_to_same_type(colour, "rgb")[0][0]] for pos, colour in scale]


def _lut(colorscale, steps: int) -> np.ndarray:
    """A plotly colour scale sampled at ``steps`` evenly spaced positions: [steps, 3] uint8,
    read-only (plotly's sampling takes milliseconds; every map of every rerun needs one)."""
    key = colorscale if isinstance(colorscale, str) else tuple((float(p), c if isinstance(c, str) else tuple(c))
                                                                  for p, c in colorscale)
    return _lut_of(key, int(steps))


@functools.lru_cache(maxsize=64)
def _lut_of(colorscale, steps: int) -> np.ndarray:
    scale = rgb_colorscale(colorscale if isinstance(colorscale, str) else [list(pair) for pair in colorscale])
    lut = np.array([pc.unlabel_rgb(c) for c in pc.sample_colorscale(scale, np.linspace(0, 1, steps))], np.uint8)
    lut.flags.writeable = False
    return lut


def _colour_source(z: np.ndarray, colorscale, zmin: float, zmax: float) -> str:
    """[H, W] values coloured on [zmin, zmax] (plotly's colour scale in 255 steps) as a palette PNG
    data URI (lossless for those steps, a byte per pixel); NaN is transparent."""
    finite = np.isfinite(z)
    scaled = (np.where(finite, z, zmin) - zmin) / max(zmax - zmin, 1e-30)
    codes = np.where(finite, np.clip(scaled * 254 + 0.5, 0, 254), 255).astype(np.uint8)
    palette = np.concatenate([_lut(colorscale, 255), np.zeros((1, 3), np.uint8)])  # code 255: NaN
    image = Image.frombytes("P", codes.shape[::-1], codes.tobytes())
    image.putpalette(palette.ravel().tolist())
    return _data_uri(image, "PNG", compress_level=1, **({} if finite.all() else {"transparency": 255}))


def colour_panel(title: str, z: np.ndarray, step: float, *, colorscale, unit: str, name: str,
                  zmin: float | None = None, zmax: float | None = None, colorbar: bool = True,
                  value: str = "%{z:.4g}") -> list:
    """A colour-mapped map: the full-resolution picture and, on top, an invisible heatmap of
    block means that gives the hover value and the colour bar (same colour scale and range)."""
    z = np.asarray(z, dtype=np.float64)
    finite = z[np.isfinite(z)]
    lo = float(finite.min()) if zmin is None and finite.size else 0.0 if zmin is None else zmin
    hi = float(finite.max()) if zmax is None and finite.size else 1.0 if zmax is None else zmax
    k = display_factor(z.shape, HOVER_SIDE)
    mean = f" ({k * step:g}×{k * step:g} px mean)" if k > 1 else ""  # in output pixels, as x and y are
    picture = go.Image(source=_colour_source(z, colorscale, lo, hi), **pixel_grid(step), name=name, hoverinfo="skip")
    hover = go.Heatmap(z=block_mean(z, k).astype(np.float32), colorscale=rgb_colorscale(colorscale), zmin=lo, zmax=hi,
                       opacity=0,
                       name=name, showscale=colorbar, colorbar=dict(title=dict(text=unit, side="top")),
                       **pixel_grid(step * k), hovertemplate=f"{title}<br>x %{{x}}, y %{{y}}<br>{value} {unit}{mean}"
                                                        "<extra></extra>")
    return [picture, hover]


@dataclass(frozen=True)
class Units:
    """What the colour bars say: the output's unit, e.g. "m" for depth, "intensity" for images
    in [0, 1]; the variance is in that unit squared."""

    output: str = "intensity"

    @property
    def variance(self) -> str:
        return f"{self.output}²"


def panels_figure(
    prediction: np.ndarray,
    variance: np.ndarray,
    error: np.ndarray | None = None,
    *,
    model_input: np.ndarray | None = None,
    truth: np.ndarray | None = None,
    colormap: str = "viridis",
    log_variance: bool = False,
    shared_scale: bool = False,
    depth: bool = False,
    max_side: int = MAX_DISPLAY_SIDE,
    view_side: int = VIEW_SIDE,
    panel_height: int = 330,
    interval_width: np.ndarray | None = None,
    outside: np.ndarray | None = None,
    level: float | None = None,
    curve=None,
) -> go.Figure:
    """The image panels of one estimate, axes linked (zoom or pan one, all follow), and its
    sparsification curve.

    Without ``model_input`` / ``truth``: one row, prediction | variance | error (if given).
    With them: the input and the ground truth join the prediction on a first row and the
    variance and error form a second. prediction / truth: [3, H, W] RGB in [0, 1], or
    [1, H, W] depth in metres (``magma``); model_input: [C, h, w] RGB drawn over the output's
    pixel grid (an LR input covers the same area, each of its pixels ``H / h`` output pixels).
    log_variance: colour by log10(variance). shared_scale: variance and error each divided by
    their 99th percentile and drawn on one colour range [0, 1] (relative units). Images longer
    than ``max_side`` are shown as block means; images larger than ``view_side`` open zoomed
    into their centre at full size (double-click to see all) instead of shrinking.
    interval_width / outside (a calibration's maps at ``level``, same grid as the prediction):
    a further row with the interval width (output units) and the fraction of the pixel's
    channels outside the interval (NaN: no valid ground truth). curve (``metrics.sparsification``'s
    result, with ground truth): a panel beside the maps with its own axes, AUSE and AURG in the
    legend (one figure rather than two: the browser draws one chart faster than two).
    """
    factor = display_factor(prediction.shape, max_side)
    units = Units("m" if depth else "intensity")
    pred = block_mean(prediction, factor)
    truth = None if truth is None else block_mean(truth, factor)
    images = _image_panels(pred, truth, model_input, prediction.shape[-1], factor, units, depth)
    maps = _map_panels(block_mean(variance, factor), None if error is None else block_mean(error, factor), factor,
                       units, colormap, log_variance, shared_scale)
    if curve is not None:
        maps.append(("sparsification", _curve_traces(curve)))
    rows = [images, maps] if model_input is not None or truth is not None else [images + maps]
    if interval_width is not None:
        rows.append(_interval_panels(block_mean(interval_width, factor),
                                     None if outside is None else block_mean(outside, factor), factor, units,
                                     colormap, level))
    cols = max(len(r) for r in rows)
    titles = [t for r in rows for t, _ in r + [("", [])] * (cols - len(r))]
    fig = make_subplots(rows=len(rows), cols=cols, subplot_titles=titles, horizontal_spacing=0.075,
                        vertical_spacing=0.08)
    pictures, curve_at = _place_panels(fig, rows, cols)
    height, width = (side * factor for side in pred.shape[-2:])
    view = initial_view(width, height, view_side)
    # explicit ranges, the whole image when it is small: the hover cells' last block may run past it
    link_axes(fig, pictures, view or ([-0.5, width - 0.5], [height - 0.5, -0.5]))
    notes = [f"display: {factor}×{factor} block means"] if factor > 1 else []
    if view:
        notes.append(f"zoomed into the centre at full size; double-click a panel to see the whole {width}×{height} image")
    fig.update_layout(height=panel_height * len(rows) + 40, margin=dict(l=5, r=5, t=30, b=40 if notes else 10),
                      dragmode="zoom", meta={"display_factor": factor}, showlegend=curve is not None,
                      legend=dict(font=dict(size=10), bgcolor="rgba(255,255,255,0.7)"))
    if curve_at is not None:  # inside the curve's panel, top right, where the estimate has fallen away
        x1, y1 = fig.layout[f"xaxis{_suffix(curve_at)}"].domain[1], fig.layout[f"yaxis{_suffix(curve_at)}"].domain[1]
        fig.update_layout(legend=dict(x=x1, xanchor="right", y=y1, yanchor="top"))
    if notes:  # below the panels, where it cannot collide with the titles
        fig.add_annotation(text=" · ".join(notes), showarrow=False, x=0, xanchor="left", y=0, xref="paper",
                           yref="paper", yanchor="top", yshift=-12, font=dict(size=11, color="grey"))
    return fig


Panel = tuple[str, list]  # (subplot title, its traces: a picture, and a hover heatmap over colour maps)


def _place_panels(fig: go.Figure, rows: list[list[Panel]], cols: int) -> tuple[list[int], int | None]:
    """Add each row's panels to ``fig``'s grid (empty cells without axes); returns the subplot
    numbers of the image panels and of the curve (None without one; it keeps its own axes)."""
    pictures, curve_at = [], None
    for i, row in enumerate(rows, start=1):
        for j in range(len(row) + 1, cols + 1):  # an empty cell: no axes, ticks or grid
            fig.update_xaxes(visible=False, row=i, col=j)
            fig.update_yaxes(visible=False, row=i, col=j)
        for j, (_, traces) in enumerate(row, start=1):
            for trace in traces:
                fig.add_trace(trace, row=i, col=j)
                place_colorbar(fig, fig.data[-1], i, j)
            if isinstance(traces[0], go.Scatter):
                _style_curve_axes(fig, i, j)
                curve_at = (i - 1) * cols + j
            else:
                pictures.append((i - 1) * cols + j)
    return pictures, curve_at


def _image_panels(pred: np.ndarray, truth: np.ndarray | None, model_input: np.ndarray | None, out_width: int,
                  factor: int, units: Units, depth: bool) -> list[Panel]:
    """Input (if given), prediction and ground truth (if given): RGB as PNG pictures, depth as
    heatmaps on one shared colour range so prediction and truth compare directly."""
    depth_range = {}
    if depth:
        finite = np.concatenate([b[np.isfinite(b) & (b > 0)] for b in [pred] + ([] if truth is None else [truth])])
        if finite.size:
            depth_range = dict(zmin=float(np.percentile(finite, 1)), zmax=float(np.percentile(finite, 99)))

    def picture(title: str, image: np.ndarray, step: float, colorbar: bool, rgb: bool) -> Panel:
        if rgb and image.shape[0] == 3:
            return title, [go.Image(source=picture_source(image), **pixel_grid(step), name=title,
                                    hovertemplate=f"{title}<br>x %{{x}}, y %{{y}}<extra></extra>")]
        z = image[0] if image.shape[0] == 1 else image.mean(0)
        return title, colour_panel(title, z, step, colorscale="magma", unit=units.output, name=title,
                                    colorbar=colorbar, **depth_range)

    panels = []
    if model_input is not None:  # drawn over the output's grid: one input pixel covers `step` output pixels
        title = f"input ({model_input.shape[-1]}×{model_input.shape[-2]})"
        panels.append(picture(title, model_input, out_width / model_input.shape[-1], False, True))
    unit = " (m)" if depth else ""
    panels.append(picture("prediction" + unit, pred, factor, truth is None, not depth))
    if truth is not None:
        panels.append(picture("ground truth" + unit, truth, factor, True, not depth))
    return panels


def _map_panels(var: np.ndarray, err: np.ndarray | None, factor: int, units: Units, colormap: str,
                log_variance: bool, shared_scale: bool) -> list[Panel]:
    """Variance and error (if given) heatmaps, each with its unit on the colour bar."""
    zrange: dict = {}
    var_title, var_unit = "variance", units.variance
    if shared_scale and err is not None:
        var = var / max(np.nanpercentile(var, 99), 1e-12)
        err = err / max(np.nanpercentile(err, 99), 1e-12)
        zrange, var_unit = dict(zmin=0.0, zmax=1.0), "relative"
    elif log_variance:
        var = np.log10(np.maximum(var, 1e-12))
        var_title, var_unit = "variance (log10)", f"log10 {units.variance}"
    maps = [(var_title, var, var_unit)]
    if err is not None:
        maps.append(("error |pred − target|", err, "relative" if shared_scale else units.output))
    return [(title, colour_panel(title, z, factor, colorscale=colormap, unit=unit, name=title.split(" ")[0], **zrange))
            for title, z, unit in maps]


def _interval_panels(width: np.ndarray, outside: np.ndarray | None, factor: int, units: Units, colormap: str,
                     level: float | None) -> list[Panel]:
    """A calibration's interval width map and, with ground truth, its "outside the interval" map."""
    at = "" if level is None else f" ({level * 100:g}% interval)"
    unit = units.output
    panels = [(f"interval width{at}", colour_panel("interval width", width, factor, colorscale=colormap, unit=unit,
                                                  name="interval"))]
    if outside is not None:
        panels.append((f"outside the interval{at}", colour_panel(
            "outside the interval", outside, factor, colorscale=OUTSIDE_COLORS, zmin=0.0, zmax=1.0, name="outside",
            unit="fraction outside", value="%{z:.2f}")))
    return panels


def _suffix(n: int) -> str:
    return "" if n == 1 else str(n)


def link_axes(fig: go.Figure, subplots: Sequence[int], view: tuple[list[float], list[float]]) -> None:
    """Every image panel follows the first (zoom and pan together), pixels square, y downwards
    (``view``: the x and y ranges shown first). The axes are hidden: a picture's pixel position
    is in its hover, and without ticks, grid or zero lines there is less for the browser to draw
    (zoom and pan work the same)."""
    first = _suffix(subplots[0])
    for n in subplots:
        suffix = _suffix(n)
        fig.layout[f"xaxis{suffix}"].update(matches=None if suffix == first else f"x{first}", visible=False,
                                            constrain="domain", range=view[0])
        fig.layout[f"yaxis{suffix}"].update(matches=None if suffix == first else f"y{first}", scaleanchor=f"x{suffix}",
                                            scaleratio=1, visible=False, constrain="domain", range=view[1])


def _curve_traces(curve) -> list:
    """Estimate, oracle and random sparsification curves; AUSE and AURG in their names."""
    f = np.asarray(curve.fractions)
    return [go.Scatter(x=f, y=curve.estimate, name=f"estimate (AUSE {curve.ause:.4f})", mode="lines",
                       line=dict(color=CURVE_COLORS[0], width=2)),
            go.Scatter(x=f, y=curve.oracle, name="oracle", mode="lines", line=dict(color=CURVE_COLORS[1], dash="dash")),
            go.Scatter(x=f, y=curve.random, name=f"random (AURG {curve.aurg:.4f})", mode="lines",
                       line=dict(color=CURVE_COLORS[2], dash="dot"))]


def _style_curve_axes(fig: go.Figure, row: int, col: int) -> None:
    """The curve's own axes; its y axis on the right, clear of the error map's colour bar."""
    fig.update_xaxes(title=dict(text="fraction removed", font=dict(size=10), standoff=4), tickfont=dict(size=9),
                     row=row, col=col)
    fig.update_yaxes(title=dict(text="mean error (normalised)", font=dict(size=10), standoff=4), tickfont=dict(size=9),
                     range=[0, 1.05], side="right", automargin=True, row=row, col=col)


def pixel_grid(step: float) -> dict:
    """Heatmap cell centres on the output's pixel grid (cell i covers [i·step, (i+1)·step))."""
    return dict(x0=(step - 1) / 2, dx=step, y0=(step - 1) / 2, dy=step)


def place_colorbar(fig: go.Figure, trace, row: int, col: int) -> None:
    """A vertical colour bar just right of its own panel, as tall as the panel."""
    if not isinstance(trace, go.Heatmap) or trace.showscale is False:
        return
    axis = fig.get_subplot(row, col)
    x0, x1 = axis.xaxis.domain
    y0, y1 = axis.yaxis.domain
    trace.colorbar.update(x=x1 + 0.004, xanchor="left", y=(y0 + y1) / 2, yanchor="middle", len=(y1 - y0) * 0.9,
                          thickness=8, tickfont=dict(size=9), nticks=4, title_font=dict(size=10))


def initial_view(width: int, height: int, side: int) -> tuple[list[float], list[float]] | None:
    """Axis ranges of a ``side``-pixel centre region, or None when the image is small enough."""
    if max(width, height) <= side:
        return None
    w, h = min(width, side), min(height, side)
    x0, y0 = (width - w) / 2, (height - h) / 2
    return [x0 - 0.5, x0 + w - 0.5], [y0 + h - 0.5, y0 - 0.5]


def variance_figure(variance: np.ndarray, title: str, *, colormap: str = "viridis", depth: bool = False,
                    max_side: int = MAX_DISPLAY_SIDE, height: int = 330) -> go.Figure:
    """One variance map (the live view while samples are drawn)."""
    factor = display_factor(variance.shape, max_side)
    unit = Units("m" if depth else "intensity").variance
    fig = go.Figure(go.Heatmap(z=block_mean(variance, factor).astype(np.float32), colorscale=rgb_colorscale(colormap),
                               colorbar=dict(title=dict(text=unit, side="right"), thickness=10), **pixel_grid(factor),
                               hovertemplate=f"x %{{x}}, y %{{y}}<br>%{{z:.4g}} {unit}<extra></extra>"))
    fig.update_xaxes(showticklabels=False, constrain="domain")
    fig.update_yaxes(autorange="reversed", scaleanchor="x", scaleratio=1, showticklabels=False, constrain="domain")
    fig.update_layout(title=title, height=height, margin=dict(l=5, r=5, t=40, b=5))
    return fig


def colour_map(z: np.ndarray, zmax: float, colormap: str = "viridis") -> np.ndarray:
    """[H, W] values coloured on [0, zmax] (255 steps of ``colormap``): uint8 [H, W, 3]; NaN is
    drawn as the lowest colour. A gallery's thumbnails share one ``zmax``, so they compare."""
    scaled = np.nan_to_num(np.asarray(z, dtype=np.float64), nan=0.0) / max(float(zmax), 1e-30)
    codes = np.clip(scaled * 254 + 0.5, 0, 254).astype(np.uint8)
    return _lut(colormap, 255)[codes]


def sparsification_figure(curve, *, title: str, x_title: str = "fraction removed", height: int = 360) -> go.Figure:
    """One sparsification curve (estimate, oracle, random; AUSE and AURG in the legend), e.g. the
    image-level curve of a folder: discard the most uncertain images, mean error of the rest."""
    fig = go.Figure(_curve_traces(curve))
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title="mean error of the rest (normalised)", rangemode="tozero")
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=50, b=10))
    return fig
