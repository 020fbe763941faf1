import numpy as np

from uqcore import metrics, plots


def test_panels_figure_structure_and_hover():
    rng = np.random.default_rng(0)
    pred, var, err = rng.random((3, 20, 30)), rng.random((20, 30)), rng.random((20, 30))
    fig = plots.panels_figure(pred, var, err)
    assert [t.type for t in fig.data] == ["image", "heatmap", "heatmap"]
    assert fig.layout.xaxis2.matches == "x" and fig.layout.yaxis3.matches == "y"
    assert np.allclose(np.asarray(fig.data[1].z), var) and np.allclose(np.asarray(fig.data[2].z), err)
    assert "intensity²" in fig.data[1].hovertemplate and fig.data[1].colorbar.title.text == "intensity²"
    assert fig.data[2].colorbar.title.text == "intensity"  # error in output units, variance in their square
    assert fig.data[0].source.startswith("data:image/png;base64,")  # RGB as PNG, not raw pixels


def test_panels_figure_with_input_and_truth_links_all_panels():
    rng = np.random.default_rng(3)
    pred, var, err = rng.random((3, 40, 60)), rng.random((40, 60)), rng.random((40, 60))
    fig = plots.panels_figure(pred, var, err, model_input=rng.random((3, 10, 15)), truth=rng.random((3, 40, 60)))
    assert [t.name for t in fig.data] == ["input (15×10)", "prediction", "ground truth", "variance", "error"]
    assert fig.data[0].dx == 4 and fig.data[0].x0 == 1.5  # each input pixel covers 4×4 output pixels, centred
    assert {fig.layout[f"xaxis{n}"].matches for n in range(2, 7)} == {"x"}
    depth = plots.panels_figure(pred[:1] + 1, var, err, truth=pred[:1] + 1.5, depth=True)
    assert (depth.data[0].zmin, depth.data[0].zmax) == (depth.data[1].zmin, depth.data[1].zmax)  # one depth scale
    assert depth.data[3].colorbar.title.text == "m"


def test_panels_figure_opens_large_images_zoomed_in():
    rng = np.random.default_rng(4)
    fig = plots.panels_figure(rng.random((3, 500, 480)), rng.random((500, 480)), None, view_side=200)
    assert list(fig.layout.xaxis.range) == [139.5, 339.5] and list(fig.layout.yaxis.range) == [349.5, 149.5]
    assert plots.panels_figure(rng.random((3, 50, 50)), rng.random((50, 50))).layout.xaxis.range is None


def test_panels_figure_downsamples_large_images_and_options():
    rng = np.random.default_rng(1)
    fig = plots.panels_figure(rng.random((1, 700, 500)), rng.random((700, 500)) + 1e-9, None,
                              log_variance=True, depth=True)
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]
    assert np.asarray(fig.data[1].z).shape == (350, 250)  # 2×2 block means (longest side at most 512)
    assert fig.layout.meta["display_factor"] == 2
    assert np.asarray(fig.data[1].z).max() <= 0  # log10 of values in (0, 1]


def test_block_mean_matches_reference():
    a = np.arange(20.0).reshape(4, 5)
    out = plots.block_mean(a, 2)
    assert out.shape == (2, 3)
    assert out[0, 0] == np.mean([0, 1, 5, 6]) and out[1, 2] == np.mean([14, 19])


def test_sparsification_and_sweep_figures():
    rng = np.random.default_rng(2)
    e = rng.random((16, 16))
    curve = metrics.sparsification(e, e + 0.1 * rng.random((16, 16)))
    fig = plots.sparsification_figure(curve)
    assert "AUSE" in fig.data[0].name and "AURG" in fig.data[2].name
    rows = [dict(layer=l, strength=s, loss=s, loss_increase=s, corr_pixel=s / 2) for l in ("a", "b") for s in (0.1, 0.2)]
    tol = plots.tolerability_figure(rows, highlight=rows[1])
    assert [t.name for t in tol.data] == ["a", "b", "recommended"] and list(tol.data[0].customdata) == ["0.1", "0.2"]
    assert tol.data[0].text is None and [a.text for a in tol.layout.annotations] == ["a @ 0.2"]  # only the recommended point
    pct = plots.tolerability_figure(rows, x="loss_increase", tolerance=0.05)
    assert pct.layout.xaxis.tickformat == ".0%" and pct.layout.shapes[0].x0 == 0.05
    heat = plots.heatmap_figure(rows)
    assert np.allclose(np.asarray(heat.data[0].z), [[0.05, 0.1], [0.05, 0.1]])
