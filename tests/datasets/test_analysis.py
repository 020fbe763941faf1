import numpy as np
import pytest
import torch

import uqcore
from uqcore.datasets.analysis import analyse, crop_to_multiple, prepare_depth, prepare_sr
from uqcore.errors import InputError

from tests.tiny_models import make_tiny_sr


def test_prepare_sr_from_hr_crops_and_downscales():
    model = make_tiny_sr()  # scale 2
    hr = torch.rand(1, 3, 17, 22)
    prepared = prepare_sr(model, hr=hr)
    assert prepared.x.shape == (1, 3, 8, 11) and prepared.target.shape == (1, 3, 16, 22)
    assert "cropped from 17×22 to 16×22" in prepared.note
    assert crop_to_multiple(hr, 4).shape[-2:] == (16, 20)


def test_prepare_sr_pair_must_match_scale():
    model = make_tiny_sr()
    with pytest.raises(InputError, match="×2 the LR image"):
        prepare_sr(model, lr=torch.rand(1, 3, 8, 8), hr=torch.rand(1, 3, 17, 16))
    assert prepare_sr(model, lr=torch.rand(1, 3, 8, 8)).target is None
    with pytest.raises(InputError):
        prepare_sr(model)


def test_prepare_depth_checks_size():
    with pytest.raises(InputError, match="same size"):
        prepare_depth(torch.rand(1, 3, 8, 8), torch.rand(8, 9))
    assert prepare_depth(torch.rand(1, 3, 8, 8), torch.rand(8, 8)).target.shape == (1, 8, 8)


def test_analyse_sr_matches_metric_functions():
    model = make_tiny_sr()
    x, hr = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 32, 32)
    est = uqcore.estimate(model, x, method="noise", layer="body.0", strength=0.2, samples=6)
    result = analyse(model, est, hr)
    err = (est.prediction - hr[0]).abs().mean(0).numpy()
    assert np.allclose(result.error, err, atol=1e-6)
    assert result.values["ause_pixel"] == pytest.approx(uqcore.metrics.ause(err, est.variance.numpy()))
    assert result.values["corr_pixel"] == pytest.approx(np.corrcoef(err.ravel(), est.variance.numpy().ravel())[0, 1])
    assert result.values["nll"] == pytest.approx(uqcore.metrics.nll(est.prediction, hr[0], est.variance))
    assert np.isfinite(result.values["nll_scaled"]) and result.values["sigma_scale"] > 0
    assert {"psnr", "ssim", "seconds", "samples"} <= set(result.values)


def test_analyse_depth_excludes_missing_ground_truth():
    model = uqcore.wrap(torch.nn.Conv2d(3, 1, 3, padding=1), task="depth")
    x = torch.rand(1, 3, 12, 12)
    target = torch.rand(12, 12) + 1
    target[:3] = 0  # missing rows
    est = uqcore.estimate(model, x, method="transform")
    result = analyse(model, est, target[None])
    assert np.isnan(result.error[:3]).all() and np.isfinite(result.error[3:]).all()
    assert result.mask[:3].sum() == 0 and "abs_rel" in result.values


def test_analyse_without_target():
    model = make_tiny_sr()
    est = uqcore.estimate(model, torch.rand(1, 3, 8, 8), method="transform", samples=2)
    result = analyse(model, est, None)
    assert result.error is None and result.curve is None
    assert result.values["variance_mean"] == pytest.approx(float(est.variance.mean()))


@pytest.mark.parametrize("task", ["sr", "depth"])
def test_dashboard_metrics_row_equals_evaluate(task):
    """The Explore page's numbers (analyse) are evaluate's for the same image and settings."""
    from uqcore.datasets.evaluate import evaluate

    torch.manual_seed(0)
    if task == "sr":
        model = make_tiny_sr()
        hr = torch.nn.functional.interpolate(torch.rand(1, 3, 10, 12), size=(40, 48), mode="bilinear")
        prepared = prepare_sr(model, hr=hr)
        target_for_eval = prepared.target[0]
        quality = ("psnr", "ssim")
    else:
        model = uqcore.wrap(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                                                torch.nn.Conv2d(8, 1, 3, padding=1), torch.nn.Softplus()),
                            task="depth")
        rgb = torch.rand(1, 3, 24, 28)
        depth = torch.rand(24, 28) * 3 + 0.5
        depth[:2] = 0  # missing ground truth
        prepared = prepare_depth(rgb, depth)
        target_for_eval = depth
        quality = ("abs_rel", "rmse", "log10", "delta1")
    est = uqcore.estimate(model, prepared.x, method="noise", layer="0" if task == "depth" else "body.0",
                          strength=0.05, samples=4, seed=3)
    values = analyse(model, est, prepared.target).values
    rows = evaluate(model, [(prepared.x, target_for_eval)], methods=["noise"], samples=[4],
                    layer="0" if task == "depth" else "body.0", strength=0.05, seed=3)
    by_level = {r["level"]: r for r in rows}
    for level in ("pixel", "patch", "block"):
        for key in ("corr", "ause", "aurg", "spearman"):
            assert values[f"{key}_{level}"] == pytest.approx(by_level[level][key], abs=1e-12, nan_ok=True)
    assert values["nll"] == pytest.approx(rows[0]["nll"], abs=1e-12)
    for key in quality:
        assert values[key] == pytest.approx(rows[0][key], abs=1e-12)
