"""One image's maps under several methods (uqcore.datasets.analysis.method_maps) and their figure."""

import numpy as np
import torch

import uqcore
from uqcore.datasets.analysis import method_maps
from uqcore.plots.maps import method_maps_figure

from tests.tiny_models import Affine, make_tiny_sr


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


def test_relative_depth_maps_are_aligned_to_the_truth_as_the_scores_are():
    from uqcore import metrics
    from uqcore.datasets.folders import load_pairs
    from uqcore.models.registry import SAMPLES_DIR

    fcrn = uqcore.load_model("fcrn", student=False).module
    _, pairs = load_pairs(SAMPLES_DIR / "depth", uqcore.load_model("fcrn", student=False), limit=1)
    x, truth = pairs[0][0][..., :64, :80], pairs[0][1][..., :64, :80]
    rel = uqcore.wrap(fcrn, task="depth", depth_kind="relative", probe_size=(64, 80))
    found = method_maps(rel, x, truth, ["transform"], samples=2)
    est = uqcore.estimate(rel, x, method="transform", samples=2)
    truth_np = truth.numpy().squeeze()
    fit = metrics.align_depth(est.prediction.numpy().astype(np.float64), truth_np, est.variance.numpy().astype(np.float64),
                              kind="relative")
    mask = metrics.valid_mask(truth_np)
    np.testing.assert_allclose(found.error[mask], np.abs(fit.prediction.squeeze() - truth_np)[mask], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(found.variances["transform"], fit.variance, rtol=1e-5, atol=1e-9)
    assert found.alignment.startswith("relative depth")
    # the maps do not depend on the relative output's scale and shift
    copy = method_maps(uqcore.wrap(Affine(fcrn), task="depth", depth_kind="relative", probe_size=(64, 80)), x, truth,
                       ["transform"], samples=2)
    np.testing.assert_allclose(copy.error[mask], found.error[mask], rtol=1e-3, atol=1e-4)
    metric = method_maps(uqcore.wrap(fcrn, task="depth", probe_size=(64, 80)), x, truth, ["transform"], samples=2)
    assert metric.alignment == "" and not np.allclose(metric.error[mask], found.error[mask])
