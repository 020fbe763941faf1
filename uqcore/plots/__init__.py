"""Arrays → plotly figures, and downloads.

* :mod:`~uqcore.plots.figures` -- the figures (maps, curves, sweeps, reliability); its names resolve here
  on first use, so ``uqcore.plots.variance_figure`` is ``uqcore.plots.figures.variance_figure``;
* :mod:`~uqcore.plots.maps` -- one image's maps under several methods, the whole-image overview;
* :mod:`~uqcore.plots.export` -- downloads (PNG / NPY).
"""

from __future__ import annotations

import importlib

_LAZY = {
    "COLORMAPS": "uqcore.plots.figures",
    "MAX_DISPLAY_SIDE": "uqcore.plots.figures",
    "VIEW_SIDE": "uqcore.plots.figures",
    "OUTSIDE_COLORS": "uqcore.plots.figures",
    "JPEG_ABOVE": "uqcore.plots.figures",
    "CURVE_COLORS": "uqcore.plots.figures",
    "HOVER_SIDE": "uqcore.plots.figures",
    "display_factor": "uqcore.plots.figures",
    "block_mean": "uqcore.plots.figures",
    "picture_source": "uqcore.plots.figures",
    "rgb_colorscale": "uqcore.plots.figures",
    "colour_panel": "uqcore.plots.figures",
    "Units": "uqcore.plots.figures",
    "panels_figure": "uqcore.plots.figures",
    "Panel": "uqcore.plots.figures",
    "link_axes": "uqcore.plots.figures",
    "pixel_grid": "uqcore.plots.figures",
    "place_colorbar": "uqcore.plots.figures",
    "initial_view": "uqcore.plots.figures",
    "variance_figure": "uqcore.plots.figures",
    "tolerability_figure": "uqcore.plots.figures",
    "heatmap_figure": "uqcore.plots.figures",
    "metric_bars": "uqcore.plots.figures",
    "reliability_figure": "uqcore.plots.figures",
    "interval_reliability_figure": "uqcore.plots.figures",
    "coverage_figure": "uqcore.plots.figures",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
