import numpy as np

from uqcore import metrics, plots


def test_panels_figure_structure_and_hover():
    rng = np.random.default_rng(0)
    pred, var, err = rng.random((3, 20, 30)), rng.random((20, 30)), rng.random((20, 30))
    fig = plots.panels_figure(pred, var, err)
    assert [t.type for t in fig.data] == ["image", "heatmap", "heatmap"]
    assert fig.layout.xaxis2.matches == "x" and fig.layout.yaxis3.matches == "y"
    custom = np.asarray(fig.data[1].customdata)
    assert custom.shape == (20, 30, 3) and np.allclose(custom[..., 1], var) and np.allclose(custom[..., 2], err)
    assert "variance" in fig.data[2].hovertemplate and "error" in fig.data[0].hovertemplate


def test_panels_figure_downsamples_large_images_and_options():
    rng = np.random.default_rng(1)
    fig = plots.panels_figure(rng.random((1, 700, 500)), rng.random((700, 500)) + 1e-9, None,
                              log_variance=True, depth=True)
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]
    assert np.asarray(fig.data[1].z).shape == (234, 167)  # 3×3 block means
    assert fig.layout.meta["display_factor"] == 3
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
    assert [t.name for t in tol.data] == ["a", "b", "recommended"] and list(tol.data[0].text) == ["0.1", "0.2"]
    heat = plots.heatmap_figure(rows)
    assert np.allclose(np.asarray(heat.data[0].z), [[0.05, 0.1], [0.05, 0.1]])
