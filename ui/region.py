"""Explore's region-first view of a large output: the region shown at full resolution (1:1)
is computed first (``uqcore.estimate(region=...)``), the whole image then fills in tile by tile
(``uqcore.estimate(tile=...)``), and a box drawn on the whole image's overview picks another
region. The region is part of the shared setting (``ui.state``, ``region=T,L,H,W`` in the URL).

Regions are boxes (top, left, height, width) in output pixels, aligned to the model's scale so
that the input shown next to them covers exactly the same area.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

import uqcore
from ui import state
from uqcore.plots.figures import MAX_DISPLAY_SIDE, VIEW_SIDE

REGION_SIDE = VIEW_SIDE  # the region shown at first: today's centre view at full size
MAX_REGION_SIDE = MAX_DISPLAY_SIDE  # a larger box is cut to this around its centre (still 1:1)
TILE = 512  # output pixels per tile side of the whole-image run (smaller tiles recompute more of the
# receptive-field margin around each tile)
OVERVIEW_KEY = "overview"  # the overview chart's widget key (its selection state)

Region = tuple[int, int, int, int]


def output_shape(model: uqcore.UQModel, x) -> tuple[int, int]:
    """(H', W') of the model's output for ``x``."""
    return tuple(uqcore.output_shape(model, x))


def supports_regions(model: uqcore.UQModel) -> bool:
    """Region and tiles give the whole image's numbers: the model's receptive field is finite (a
    global-context model has none; Explore then computes the whole image at once, as before)."""
    try:
        return uqcore.receptive_field(model) is not None
    except uqcore.InputError:
        return False


def is_large(shape: tuple[int, int]) -> bool:
    """The output is larger than the view: Explore inspects a region first."""
    return max(shape) > REGION_SIDE


def centre_region(shape: tuple[int, int], scale: int = 1, side: int = REGION_SIDE) -> Region:
    h, w = min(shape[0], side), min(shape[1], side)
    return fit((shape[0] - h) // 2, (shape[1] - w) // 2, h, w, shape, scale)


def fit(top: float, left: float, height: float, width: float, shape: tuple[int, int], scale: int = 1,
        max_side: int = MAX_REGION_SIDE) -> Region:
    """The box inside the output, at most ``max_side`` on a side (cut around its centre), its
    corners on multiples of ``scale``, at least one input pixel (``scale`` output pixels) wide."""
    def axis(start: float, size: float, total: int) -> tuple[int, int]:
        if size > max_side:  # keep the centre of what was asked for
            start, size = start + (size - max_side) / 2, max_side
        size = int(min(max(round(size), scale), total))
        lo = int(round(min(max(start, 0), total - size)))
        lo -= lo % scale
        size = min(size, total - lo)
        if lo + size < total:
            size = max(size - size % scale, scale)
        return lo, size

    (t, h), (l, w) = axis(top, height, shape[0]), axis(left, width, shape[1])
    return t, l, h, w


def from_box(box: dict[str, Any], shape: tuple[int, int], scale: int = 1) -> Region | None:
    """A plotly box selection ({"x": [x0, x1], "y": [y0, y1]} in output-pixel coordinates, pixel
    centres at integers) as a region; None when it misses the image."""
    xs, ys = sorted(box.get("x") or []), sorted(box.get("y") or [])
    if len(xs) != 2 or len(ys) != 2:
        return None
    x0, x1 = max(xs[0] + 0.5, 0), min(xs[1] + 0.5, shape[1])
    y0, y1 = max(ys[0] + 0.5, 0), min(ys[1] + 0.5, shape[0])
    if x1 <= x0 or y1 <= y0:
        return None
    if max(x1 - x0, y1 - y0) > MAX_REGION_SIDE:  # too large for 1:1: the centre of the box
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        x0, x1 = cx - min(x1 - x0, MAX_REGION_SIDE) / 2, cx + min(x1 - x0, MAX_REGION_SIDE) / 2
        y0, y1 = cy - min(y1 - y0, MAX_REGION_SIDE) / 2, cy + min(y1 - y0, MAX_REGION_SIDE) / 2
    return fit(y0, x0, y1 - y0, x1 - x0, shape, scale)


def current(shape: tuple[int, int], scale: int) -> Region:
    """The region of the setting, fitted to this output; the centre view when none is set."""
    chosen = state.current().get("region")
    if chosen is None:
        return centre_region(shape, scale)
    return fit(*chosen, shape, scale)


def on_select(shape: tuple[int, int], scale: int) -> None:
    """The overview chart's selection callback: a box becomes the setting's region."""
    selection = (st.session_state.get(OVERVIEW_KEY) or {}).get("selection") or {}
    boxes = selection.get("box") or []
    region = from_box(boxes[-1], shape, scale) if boxes else None
    if region is not None:
        state.update(region=region)


def crop(array, region: Region, scale: int = 1):
    """The part of ``array`` (last two axes) under ``region`` (output pixels); ``scale``: the
    array is on a grid ``scale`` times coarser (the model input)."""
    t, l, h, w = (v // scale for v in region)
    return array[..., t:t + h, l:l + w]


def describe(region: Region, shape: tuple[int, int]) -> str:
    t, l, h, w = region
    if (h, w) == tuple(shape):
        return f"the whole {w}×{h} image"
    return f"region {w}×{h} at x {l}, y {t} of the {shape[1]}×{shape[0]} output"
