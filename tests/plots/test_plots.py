import base64
import io

import numpy as np
from PIL import Image

from uqcore import metrics
from uqcore import plots


def decode(source: str) -> np.ndarray:
    """A data URI's picture as RGB(A) pixels."""
    header, data = source.split(",", 1)
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    return np.asarray(image.convert("RGBA" if "transparency" in image.info else "RGB"))


def heatmaps(fig) -> dict:
    return {t.name: t for t in fig.data if t.type == "heatmap"}


def test_panels_figure_structure_and_hover():
    rng = np.random.default_rng(0)
    pred, var, err = rng.random((3, 20, 30)), rng.random((20, 30)), rng.random((20, 30))
    fig = plots.panels_figure(pred, var, err)
    # the prediction; variance and error each a picture under a transparent hover heatmap
    assert [t.type for t in fig.data] == ["image", "image", "heatmap", "image", "heatmap"]
    assert fig.layout.xaxis2.matches == "x" and fig.layout.yaxis3.matches == "y"
    maps = heatmaps(fig)
    assert np.allclose(np.asarray(maps["variance"].z), var) and np.allclose(np.asarray(maps["error"].z), err)
    assert maps["variance"].opacity == 0 and fig.data[1].hoverinfo == "skip"  # hover reads the heatmap
    assert "intensity²" in maps["variance"].hovertemplate and maps["variance"].colorbar.title.text == "intensity²"
    assert maps["error"].colorbar.title.text == "intensity"  # error in output units, variance in their square
    assert fig.data[0].source.startswith("data:image/png;base64,")  # small RGB: PNG


def test_colour_mapped_picture_matches_the_colour_scale():
    """The picture's pixels are plotly's own colour scale at the value's position in the range
    (255 steps), computed here independently with plotly.colors; NaN is transparent."""
    from plotly.colors import get_colorscale, sample_colorscale, unlabel_rgb

    z = np.linspace(0, 2, 60).reshape(6, 10)
    z[0, 0] = np.nan
    fig = plots.panels_figure(np.zeros((1, 6, 10)), z, None, depth=True)
    picture = decode(fig.data[2].source)  # prediction picture, its heatmap, then the variance picture
    hover = heatmaps(fig)["variance"]
    assert (hover.zmin, hover.zmax) == (float(np.nanmin(z)), float(np.nanmax(z)))
    for i, j in [(0, 1), (2, 5), (5, 9)]:
        position = round((z[i, j] - hover.zmin) / (hover.zmax - hover.zmin) * 254) / 254
        expected = unlabel_rgb(sample_colorscale(get_colorscale("viridis"), [position])[0])
        assert np.abs(picture[i, j, :3].astype(int) - np.array(expected)).max() <= 1
    assert picture[0, 0, 3] == 0 and picture[1, 1, 3] == 255


def test_each_colour_scale_keeps_its_own_colours():
    """The sampled colour scales are kept between figures (a cache): a named scale, the same
    scale given as a list, and another one, each against plotly.colors computed here."""
    from plotly.colors import get_colorscale, sample_colorscale, unlabel_rgb

    z = np.linspace(0, 1, 255).reshape(15, 17)
    for scale in ("magma", get_colorscale("magma"), "viridis", [[0, "rgb(0, 0, 0)"], [1, "#ff8000"]], "magma"):
        picture = decode(plots.colour_panel("v", z, 1.0, colorscale=scale, unit="", name="v")[0].source)
        reference = get_colorscale(scale) if isinstance(scale, str) else scale
        for i, j in [(0, 0), (7, 3), (14, 16)]:
            expected = unlabel_rgb(sample_colorscale(reference, [round(z[i, j] * 254) / 254])[0])
            assert np.abs(picture[i, j, :3].astype(int) - np.array(expected)).max() <= 1, (scale, i, j)


def test_figures_carry_no_streamlit_colour_placeholders():
    """Streamlit's plotly theme rewrites #000001-#000040 anywhere in a figure; magma starts with
    #000004, so colour scales go out as rgb() strings (else the darkest values turned pink)."""
    import re

    import plotly.io as pio

    rng = np.random.default_rng(7)
    depth = rng.random((1, 8, 8)) + 1
    fig = plots.panels_figure(depth, rng.random((8, 8)), rng.random((8, 8)), truth=depth + 0.1, depth=True,
                              colormap="inferno")
    # the traces only: the template is Streamlit's own when streamlit is imported (placeholders by design)
    text = pio.to_json({"data": [t.to_plotly_json() for t in fig.data]}, validate=False)
    assert "rgb(0, 0, 4)" in text and not re.search(r"#0000([0-3][0-9]|40)\b", text)
    assert plots.rgb_colorscale("magma")[0] == [0.0, "rgb(0, 0, 4)"]


def test_large_pictures_are_jpeg_and_hover_block_means():
    rng = np.random.default_rng(5)
    side = 4 * plots.HOVER_SIDE  # above JPEG_ABOVE pixels; hover cells of 4 x 4 pixels
    assert side * side > plots.figures.JPEG_ABOVE
    pred, var = rng.random((3, side, side)), rng.random((side, side))
    fig = plots.panels_figure(pred, var, None)
    assert fig.data[0].source.startswith("data:image/jpeg;base64,")
    assert np.abs(decode(fig.data[0].source) / 255 - pred.transpose(1, 2, 0)).mean() < 0.02  # quality 95
    hover = heatmaps(fig)["variance"]
    assert np.allclose(np.asarray(hover.z), plots.block_mean(var, 4), atol=1e-6) and hover.dx == 4
    assert "(4×4 px mean)" in hover.hovertemplate
    # a display factor too: 2 x MAX_DISPLAY_SIDE rows are shown as 2 x 2 block means, and a hover cell
    # covers MAX_DISPLAY_SIDE / HOVER_SIDE display pixels: said in output pixels
    rows = 2 * plots.figures.MAX_DISPLAY_SIDE
    cell = 2 * plots.figures.MAX_DISPLAY_SIDE // plots.HOVER_SIDE
    big = plots.panels_figure(rng.random((1, rows, 6)), rng.random((rows, 6)))
    assert heatmaps(big)["variance"].dx == cell and f"({cell}×{cell} px mean)" in heatmaps(big)["variance"].hovertemplate


def test_panels_figure_with_input_and_truth_links_all_panels():
    rng = np.random.default_rng(3)
    pred, var, err = rng.random((3, 40, 60)), rng.random((40, 60)), rng.random((40, 60))
    fig = plots.panels_figure(pred, var, err, model_input=rng.random((3, 10, 15)), truth=rng.random((3, 40, 60)))
    assert [t.name for t in fig.data] == ["input (15×10)", "prediction", "ground truth", "variance", "variance",
                                          "error", "error"]
    assert fig.data[0].dx == 4 and fig.data[0].x0 == 1.5  # each input pixel covers 4×4 output pixels, centred
    assert {fig.layout[f"xaxis{n}"].matches for n in range(2, 6)} == {"x"}
    depth = plots.panels_figure(pred[:1] + 1, var, err, truth=pred[:1] + 1.5, depth=True)
    maps = [t for t in depth.data if t.type == "heatmap"]
    assert (maps[0].zmin, maps[0].zmax) == (maps[1].zmin, maps[1].zmax)  # prediction and truth: one depth scale
    assert maps[3].colorbar.title.text == "m"


def test_panels_figure_with_the_sparsification_curve():
    rng = np.random.default_rng(6)
    pred, var, err = rng.random((3, 16, 16)), rng.random((16, 16)), rng.random((16, 16))
    curve = metrics.sparsification(err, var)
    fig = plots.panels_figure(pred, var, err, model_input=pred[:, ::2, ::2], truth=pred, curve=curve)
    lines = [t for t in fig.data if t.type == "scatter"]
    assert [t.name for t in lines][1] == "oracle" and lines[0].name == f"estimate (AUSE {curve.ause:.4f})"
    assert fig.layout.showlegend and fig.layout.xaxis6.matches is None and fig.layout.yaxis6.scaleanchor is None
    assert "sparsification" in [a.text for a in fig.layout.annotations]
    assert {fig.layout[f"xaxis{n}"].matches for n in range(2, 6)} == {"x"}  # the pictures still zoom together
    assert "AURG" in lines[2].name and fig.layout.xaxis6.visible is None  # the curve's axes are shown
    no_curve = plots.panels_figure(pred, var, err, model_input=pred[:, ::2, ::2], truth=pred)
    assert no_curve.layout.xaxis6.visible is False and no_curve.layout.yaxis6.visible is False  # an empty cell


def test_panels_figure_opens_large_images_zoomed_in():
    rng = np.random.default_rng(4)
    fig = plots.panels_figure(rng.random((3, 500, 480)), rng.random((500, 480)), None, view_side=200)
    assert list(fig.layout.xaxis.range) == [139.5, 339.5] and list(fig.layout.yaxis.range) == [349.5, 149.5]
    small = plots.panels_figure(rng.random((3, 50, 40)), rng.random((50, 40))).layout
    assert list(small.xaxis.range) == [-0.5, 39.5] and list(small.yaxis.range) == [49.5, -0.5]  # the whole image


def test_panels_figure_downsamples_large_images_and_options():
    rng = np.random.default_rng(1)
    fig = plots.panels_figure(rng.random((1, 700, 500)), rng.random((700, 500)) + 1e-9, None,
                              log_variance=True, depth=True)
    assert [t.type for t in fig.data] == ["image", "heatmap", "image", "heatmap"]
    assert decode(fig.data[2].source).shape[:2] == (350, 250)  # 2×2 block means (longest side at most 512)
    assert fig.layout.meta["display_factor"] == 2
    assert np.asarray(heatmaps(fig)["variance"].z).max() <= 0  # log10 of values in (0, 1]


def test_block_mean_matches_reference():
    a = np.arange(20.0).reshape(4, 5)
    out = plots.block_mean(a, 2)
    assert out.shape == (2, 3)
    assert out[0, 0] == np.mean([0, 1, 5, 6]) and out[1, 2] == np.mean([14, 19])


def test_sweep_figures():
    rows = [dict(layer=l, strength=s, loss=s, loss_increase=s, corr_pixel=s / 2) for l in ("a", "b") for s in (0.1, 0.2)]
    tol = plots.tolerability_figure(rows, highlight=rows[1])
    assert [t.name for t in tol.data] == ["a", "b", "recommended"] and list(tol.data[0].customdata) == ["0.1", "0.2"]
    assert tol.data[0].text is None and [a.text for a in tol.layout.annotations] == ["a @ 0.2"]  # only the recommended point
    pct = plots.tolerability_figure(rows, x="loss_increase", tolerance=0.05)
    assert pct.layout.xaxis.tickformat == ".0%" and pct.layout.shapes[0].x0 == 0.05
    heat = plots.heatmap_figure(rows)
    assert np.allclose(np.asarray(heat.data[0].z), [[0.05, 0.1], [0.05, 0.1]])
