"""Arrays → plotly figures, and downloads.

* :mod:`~uqcore.plots.figures` -- image panels and curves; its names resolve here on first use, so
  ``uqcore.plots.variance_figure`` is ``uqcore.plots.figures.variance_figure``;
* :mod:`~uqcore.plots.charts` -- charts of result tables (sweeps, metric bars, reliability, coverage);
* :mod:`~uqcore.plots.maps` -- one image's maps under several methods, the whole-image overview;
* :mod:`~uqcore.plots.export` -- downloads (PNG / NPY).
"""

from __future__ import annotations

from uqcore.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "uqcore.plots.figures": [
        "COLORMAPS", "MAX_DISPLAY_SIDE", "VIEW_SIDE", "OUTSIDE_COLORS", "JPEG_ABOVE", "CURVE_COLORS",
        "HOVER_SIDE", "display_factor", "block_mean", "picture_source", "rgb_colorscale", "colour_panel",
        "Units", "panels_figure", "Panel", "link_axes", "pixel_grid", "place_colorbar", "initial_view",
        "variance_figure", "colour_map", "sparsification_figure",
    ],
    "uqcore.plots.charts": [
        "tolerability_figure", "heatmap_figure", "metric_bars", "reliability_figure", "interval_reliability_figure",
        "coverage_figure",
    ],
})
