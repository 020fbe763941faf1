"""calibration.check.fit_and_check (fit on the first images, check on the rest) and the
calibration figures of plots (reliability diagram, coverage per image, interval panels)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import uqcore
from tests.tiny_models import make_tiny_sr
from uqcore import plots
from uqcore.calibration.check import HELD_OUT, IN_SAMPLE, fit_and_check
from uqcore.metrics import reliability_vectors

SETTING = dict(method="noise", layer="body.1", strength=0.1, samples=3, seed=5)


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(3)
    hrs = [torch.rand(3, 16, 20, generator=g) for _ in range(5)]
    pairs = [(torch.nn.functional.avg_pool2d(hr[None], 2), hr) for hr in hrs]
    return make_tiny_sr(), pairs, [f"img{i}" for i in range(5)]


def test_fits_on_the_first_images_and_checks_on_the_others(data):
    model, pairs, names = data
    seen = []
    check = fit_and_check(model, pairs, names, 3, level=0.8, kind="conformal",
                          progress=lambda d, t: seen.append((d, t)), **SETTING)
    cal = check.calibration
    assert cal.images == names[:3] and cal.level == 0.8 and check.checked_on == HELD_OUT
    assert seen == [(i, 5) for i in range(1, 6)]
    assert [r["image"] for r in check.rows] == names[3:]
    # each row is the calibration's score of that image's own estimate (same seed, same map)
    ests = [uqcore.estimate(model, x, method="noise", layer="body.1", strength=0.1, samples=3, seed=5)
            for x, _ in pairs[3:]]
    for row, est, (_, hr) in zip(check.rows, ests, pairs[3:]):
        expected = cal.score(model, est, hr)
        assert {k: row[k] for k in expected} == pytest.approx(expected)
    assert check.mean("coverage") == pytest.approx(np.mean([r["coverage"] for r in check.rows]))
    # the diagram pools the held-out pixels: raw = variance + eps, calibrated = the calibrated variance
    r2 = np.concatenate([((hr - e.prediction) ** 2).mean(0).numpy().ravel() for e, (_, hr) in zip(ests, pairs[3:])])
    v = np.concatenate([e.variance.numpy().ravel() for e in ests]).astype(np.float64)
    np.testing.assert_allclose(check.raw.rmse, reliability_vectors(r2, v, eps=cal.eps).rmse, rtol=1e-5)
    np.testing.assert_allclose(check.calibrated.rmv, reliability_vectors(r2, cal.calibrated_variance(v)).rmv,
                               rtol=1e-5)


def test_nothing_held_out_checks_in_sample_and_bad_counts_are_refused(data):
    model, pairs, names = data
    check = fit_and_check(model, pairs[:2], names[:2], 2, kind="isotonic", **SETTING)
    assert check.checked_on == IN_SAMPLE and [r["image"] for r in check.rows] == names[:2]
    for bad in (0, 3):
        with pytest.raises(uqcore.InputError, match="fit on between 1 and 2"):
            fit_and_check(model, pairs[:2], names[:2], bad, **SETTING)
    with pytest.raises(uqcore.InputError, match="names"):
        fit_and_check(model, pairs[:2], names[:1], 1, **SETTING)


def test_calibration_figures():
    raw = reliability_vectors(np.array([1.0, 1.0, 16.0, 16.0]), np.array([0.01, 0.01, 0.04, 0.04]), bins=2)
    calibrated = reliability_vectors(np.array([1.0, 1.0, 16.0, 16.0]), np.array([1.0, 1.0, 16.0, 16.0]), bins=2)
    fig = plots.interval_reliability_figure(raw, calibrated, unit="m")
    assert [t.name for t in fig.data] == [f"raw variance (ENCE {raw.ence:.3g})", "calibrated (ENCE 0)",
                                          "ideal (RMSE = RMV)"]
    np.testing.assert_allclose(fig.data[0].x, [0.1, 0.2])
    np.testing.assert_allclose(fig.data[0].y, [1.0, 4.0])
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.title.text == "observed: RMSE (m)"
    assert fig.data[2].x[0] < 0.1 and fig.data[2].x[1] > 4.0  # the diagonal spans every point

    rows = [dict(image="a", coverage=0.85, interval_width=0.1), dict(image="b", coverage=0.95, interval_width=0.2)]
    fig = plots.coverage_figure(rows, 0.9)
    assert list(fig.data[0].x) == ["a", "b"] and list(fig.data[0].y) == [0.85, 0.95]
    assert fig.layout.shapes[0].y0 == 0.9 and fig.layout.annotations[0].text == "nominal 90%"


def test_panels_with_interval_maps_add_a_linked_row():
    rng = np.random.default_rng(0)
    pred, var, err = rng.random((3, 8, 10)), rng.random((8, 10)), rng.random((8, 10))
    width, outside = 2 * np.sqrt(var), (rng.random((8, 10)) > 0.9).astype(float)
    fig = plots.panels_figure(pred, var, err, model_input=pred[:, ::2, ::2], truth=pred, interval_width=width,
                              outside=outside, level=0.9)
    heatmaps = {t.name: t for t in fig.data if t.type == "heatmap"}  # under each: its picture
    assert [t.name for t in fig.data][-4:] == ["interval", "interval", "outside", "outside"]
    np.testing.assert_allclose(heatmaps["interval"].z, width.astype(np.float32))  # small: full resolution
    assert (heatmaps["outside"].zmin, heatmaps["outside"].zmax) == (0.0, 1.0)
    titles = [a.text for a in fig.layout.annotations]
    assert "interval width (90% interval)" in titles and "outside the interval (90% interval)" in titles
    assert fig.layout.xaxis8.matches == "x"  # row 3 zooms with the others
    no_truth = plots.panels_figure(pred, var, model_input=pred[:, ::2, ::2], interval_width=width, level=0.9)
    assert [t.name for t in no_truth.data][-1] == "interval"
