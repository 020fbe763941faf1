"""One image's maps under several methods (uqcore.datasets.analysis.method_maps) and their figure."""

import numpy as np
import torch

import uqcore
from uqcore.datasets.analysis import method_maps
from uqcore.plots.maps import method_maps_figure

from tests.tiny_models import make_tiny_sr


def test_method_maps_equal_the_estimates_and_the_error():
    model = make_tiny_sr()
    x, hr = torch.rand(1, 3, 12, 12), torch.rand(3, 24, 24)
    found = method_maps(model, x, hr, ["transform", "noise"], samples=3, layer="body.0", strength={"noise": 0.2},
                        seed=5)
    noise = uqcore.estimate(model, x, method="noise", layer="body.0", strength=0.2, samples=3, seed=5)
    assert np.array_equal(found.variances["noise"], noise.variance.numpy())
    assert list(found.variances) == ["transform", "noise"] and found.samples["noise"] == 3
    assert found.error_of == "transform"  # the unperturbed prediction
    expected = np.abs(noise.prediction.numpy().astype(np.float64) - hr.numpy()).mean(0)
    np.testing.assert_allclose(found.error, expected, atol=1e-6)
    assert method_maps(model, x, None, ["noise"], samples=2, layer="body.0").error is None


def test_figure_scales_and_overview_note():
    rng = np.random.default_rng(0)
    pred, err = rng.random((3, 40, 40)), rng.random((40, 40))
    maps = {"a": rng.random((40, 40)), "b": 100 * rng.random((40, 40))}
    own = method_maps_figure(pred, err, maps)
    heat = {t.name: t for t in own.data if t.type == "heatmap"}
    assert heat["variance:b"].zmax > 10 * heat["variance:a"].zmax  # each map's own range
    for name in ("a", "b"):  # from zero to the map's 99th percentile
        assert heat[f"variance:{name}"].zmin == 0 and heat[f"variance:{name}"].zmax == np.percentile(maps[name], 99)
    shared = method_maps_figure(pred, err, maps, shared_scale=True, max_side=16)
    heat = {t.name: t for t in shared.data if t.type == "heatmap"}
    assert heat["variance:a"].zmax == heat["variance:b"].zmax and not heat["variance:a"].showscale
    assert heat["variance:b"].zmax == np.percentile(heat["variance:b"].z, 99)  # the larger map's
    note = shared.layout.annotations[-1].text
    assert "3×3 block means" in note and "overview" in note and shared.layout.meta["display_factor"] == 3
    assert "block means" not in own.layout.annotations[-1].text
