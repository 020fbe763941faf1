"""Relative depth: least-squares alignment, the scorer using it, depth_kind on models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import uqcore
from uqcore import metrics as M
from uqcore.scoring import scorer as scoring
from uqcore.datasets.folders import load_pairs
from uqcore.models.registry import ASSETS

from tests.tiny_models import Affine


def _scene(seed: int = 0, shape=(24, 32)):
    rng = np.random.default_rng(seed)
    depth = rng.uniform(0.5, 8.0, size=shape)
    depth[rng.random(shape) < 0.2] = 0.0          # missing ground truth
    depth[0, :3] = np.nan
    return depth, rng


def _lstsq(x, y):
    """The independent reference: numpy's least squares on the design matrix [x, 1]."""
    sol, *_ = np.linalg.lstsq(np.stack([x, np.ones_like(x)], 1), y, rcond=None)
    return sol


def test_relative_alignment_matches_numpy_lstsq_on_valid_pixels():
    y, rng = _scene(0)
    p = rng.normal(size=y.shape)
    v = rng.uniform(0, 1, size=y.shape)
    valid = np.isfinite(y) & (y > 0)
    s, t = _lstsq(p[valid], y[valid])
    a = M.align_depth(p[None], y, v, kind="relative")
    assert a.prediction.shape == (1, *y.shape) and a.pixels == valid.sum()
    np.testing.assert_allclose([a.scale, a.shift], [s, t], rtol=1e-10)
    np.testing.assert_allclose(a.prediction[0], s * p + t, rtol=1e-10)
    np.testing.assert_allclose(a.variance, s * s * v, rtol=1e-10)
    # missing ground truth plays no part: changing the prediction there changes nothing else
    q = np.where(valid, p, 1e6)
    b = M.align_depth(q, y, kind="relative")
    np.testing.assert_allclose(b.prediction[valid], a.prediction[0][valid], rtol=1e-10)


def test_disparity_alignment_is_in_inverse_depth_space():
    y, rng = _scene(1)
    valid = np.isfinite(y) & (y > 0)
    inv = 1.0 / np.where(valid, y, 1.0)
    p = 3.0 * inv + 0.2 + rng.normal(scale=0.01, size=y.shape)   # noisy disparity up to scale and shift
    v = rng.uniform(0, 0.1, size=y.shape)
    s, t = _lstsq(p[valid], inv[valid])
    a = M.align_depth(p, y, v, kind="disparity")
    np.testing.assert_allclose([a.scale, a.shift], [s, t], rtol=1e-9)
    z = s * p + t
    np.testing.assert_allclose(a.prediction[valid], 1.0 / z[valid], rtol=1e-9)
    np.testing.assert_allclose(a.variance[valid], s * s * v[valid] / z[valid] ** 4, rtol=1e-9)  # delta method
    exact = M.align_depth(3.0 * inv + 0.2, y, kind="disparity")     # exact disparity -> the depth itself
    np.testing.assert_allclose(exact.prediction[valid], y[valid], rtol=1e-9)
    far = M.align_depth(-p, y, kind="disparity")  # a wrong sign stays finite and positive (clamped)
    assert np.isfinite(far.prediction).all() and (far.prediction > 0).all()


@pytest.mark.parametrize("kind", ["relative", "disparity"])
def test_alignment_is_invariant_to_affine_changes(kind):
    y, rng = _scene(2)
    p = rng.uniform(0.1, 2.0, size=y.shape)
    v = rng.uniform(0, 1, size=y.shape)
    a = M.align_depth(p, y, v, kind=kind)
    b = M.align_depth(0.37 * p + 1.3, y, 0.37 ** 2 * v, kind=kind)
    np.testing.assert_allclose(b.prediction, a.prediction, rtol=1e-8)
    np.testing.assert_allclose(b.variance, a.variance, rtol=1e-8)


def test_metric_kind_and_bad_inputs():
    y, rng = _scene(3)
    p = rng.uniform(size=y.shape)
    a = M.align_depth(p, y, kind="metric")
    assert (a.scale, a.shift) == (1.0, 0.0) and np.array_equal(a.prediction, p)
    with pytest.raises(uqcore.InputError, match="depth_kind must be one of"):
        M.align_depth(p, y, kind="inverse")
    with pytest.raises(uqcore.InputError, match="no valid pixels"):
        M.align_depth(p, np.zeros_like(y), kind="relative")
    with pytest.raises(uqcore.InputError, match="depth models"):
        uqcore.wrap(nn.Conv2d(3, 3, 1), task="sr", depth_kind="relative")


def _depth_pairs(n=2):
    _, pairs = load_pairs(ASSETS / "samples" / "depth", uqcore.load_model("fcrn", student=False), limit=n)
    return [(x[..., :64, :80], t[..., :64, :80]) for x, t in pairs]


@pytest.mark.slow  # a bundled model: not in -m quick
def test_affine_copy_of_fcrn_gives_the_same_evaluate_numbers():
    fcrn = uqcore.load_model("fcrn", student=False).module
    pairs = _depth_pairs()
    rel = uqcore.wrap(fcrn, task="depth", depth_kind="relative", probe_size=(64, 80))
    copy = uqcore.wrap(Affine(fcrn), task="depth", depth_kind="relative", probe_size=(64, 80))
    rows = uqcore.evaluate(rel, pairs, methods=["transform"], samples=[4], seed=0)
    rows2 = uqcore.evaluate(copy, pairs, methods=["transform"], samples=[4], seed=0)
    assert all(r["aligned"] is True for r in rows + rows2)
    # The σ-scale is a ratio dominated by the few pixels whose variance is almost 0, where the
    # float32 sampling of 0.37·depth + 1.3 rounds differently: it (and the NLL after it) agrees
    # to a few per cent; every other number to 1e-4.
    loose = {"variance_scale": 0.05, "nll_scaled": 0.01}
    compared = 0
    for a, b in zip(rows, rows2):
        for k, va in a.items():
            if isinstance(va, float) and k != "seconds_per_image" and np.isfinite(va):
                assert b[k] == pytest.approx(va, rel=loose.get(k, 1e-4), abs=1e-6), k
                compared += 1
    assert compared > 40
    # metric models are unchanged: no alignment, and the numbers differ from the aligned ones
    metric = uqcore.evaluate(uqcore.wrap(fcrn, task="depth", probe_size=(64, 80)), pairs, methods=["transform"],
                             samples=[4], seed=0)
    assert all(r["aligned"] is False for r in metric)
    assert metric[0]["abs_rel"] != pytest.approx(rows[0]["abs_rel"])


def test_scorer_aligns_non_metric_models_only():
    y, rng = _scene(4)
    y = np.where(np.isfinite(y), y, 0.0)
    p = torch.tensor(0.5 * y[None] + 2.0, dtype=torch.float32)
    v = torch.rand(y.shape, generator=torch.Generator().manual_seed(0))
    rel = uqcore.wrap(nn.Identity(), task="depth", depth_kind="relative")
    metric = uqcore.wrap(nn.Identity(), task="depth")
    aligned = scoring.score_image(rel, p, v, y)
    raw = scoring.score_image(metric, p, v, y)
    assert aligned.quality["abs_rel"] < 1e-5 < raw.quality["abs_rel"]
    np.testing.assert_allclose(aligned.var, 4.0 * v.numpy()[y > 0], rtol=1e-5)  # (1 / 0.5)^2 · v
    assert scoring.aligned(rel) and not scoring.aligned(metric)


@pytest.mark.slow  # a bundled model: not in -m quick
def test_analysis_shows_the_aligned_prediction_and_says_so():
    from uqcore.datasets.analysis import analyse

    model = uqcore.wrap(Affine(uqcore.load_model("fcrn", student=False).module), task="depth",
                        depth_kind="relative", probe_size=(64, 80))
    x, t = _depth_pairs(1)[0]
    est = uqcore.estimate(model, x, method="transform", samples=4, seed=0)
    result = analyse(model, est, t)
    assert "aligned" in result.alignment and "relative" in result.alignment
    fit = M.align_depth(est.prediction.numpy(), t.numpy(), est.variance.numpy(), kind="relative")
    np.testing.assert_allclose(result.prediction, fit.prediction, rtol=1e-5)
    np.testing.assert_allclose(result.variance, fit.variance, rtol=1e-5)
    assert analyse(uqcore.wrap(model.module, task="depth", probe_size=(64, 80)), est, t).alignment == ""


def test_depth_kind_from_card_sidecar_and_argument(tmp_path):
    import json

    from uqcore.models.loaders import load_user_model

    card = uqcore.model_card("fcrn")
    card.update(name="fcrn-rel", depth_kind="disparity")
    (tmp_path / "fcrn-rel.json").write_text(json.dumps(card))
    (tmp_path / card["weights"]).symlink_to(ASSETS / "models" / card["weights"])
    assert uqcore.load_model(str(tmp_path / "fcrn-rel.json"), student=False).depth_kind == "disparity"
    assert uqcore.load_model("fcrn").depth_kind == "metric"
    scripted = torch.jit.script(nn.Conv2d(3, 1, 1).eval())
    scripted.save(str(tmp_path / "d.pt"))
    (tmp_path / "d.json").write_text(json.dumps({"task": "depth", "depth_kind": "relative"}))
    assert load_user_model(tmp_path / "d.pt").depth_kind == "relative"
    assert load_user_model(tmp_path / "d.pt", depth_kind="disparity").card["depth_kind"] == "disparity"


@pytest.mark.slow  # a bundled model: not in -m quick
def test_hf_depth_anything_is_disparity_and_metric_when_configured(tmp_path):
    transformers = pytest.importorskip("transformers")
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    backbone = Dinov2Config(hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32,
                            patch_size=14, image_size=28, out_features=["stage1", "stage2", "stage3", "stage4"],
                            reshape_hidden_states=False)
    processor = transformers.DPTImageProcessor(size={"height": 28, "width": 28}, keep_aspect_ratio=True,
                                               ensure_multiple_of=14)
    for kind, expected in (("relative", "disparity"), ("metric", "metric")):
        config = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=16, patch_size=14,
                                     neck_hidden_sizes=[8, 8, 16, 16], fusion_hidden_size=8, head_hidden_size=8,
                                     depth_estimation_type=kind, max_depth=10)
        folder = tmp_path / f"tiny-da-{kind}"
        torch.manual_seed(0)
        DepthAnythingForDepthEstimation(config).save_pretrained(folder)
        processor.save_pretrained(folder)
        model = uqcore.load_model(str(folder))
        assert (model.task, model.depth_kind, model.card["depth_kind"]) == ("depth", expected, expected)


@pytest.mark.parametrize("kind", ["relative", "disparity"])
def test_fit_maps_other_samples_and_variances_as_the_fitted_one(kind):
    y, rng = _scene(5)
    p = rng.uniform(0.2, 2.0, size=y.shape)
    v = rng.uniform(0, 1, size=y.shape)
    a = M.align_depth(p, y, v, kind=kind)
    np.testing.assert_allclose(a.apply(p), a.prediction, rtol=1e-12)
    np.testing.assert_allclose(a.apply(torch.from_numpy(p)).numpy(), a.prediction, rtol=1e-12)
    np.testing.assert_allclose(a.variance_of(v), a.variance, rtol=1e-12)


@pytest.mark.slow  # a bundled model: not in -m quick
def test_sweep_of_an_affine_copy_matches_the_relative_original():
    fcrn = uqcore.load_model("fcrn", student=False).module
    x, t = _depth_pairs(1)[0]
    layer = "encoder.layer3.0"
    kw = dict(method="noise", strengths=[0.05], samples=3, seed=0)
    rel = uqcore.sweep(uqcore.wrap(fcrn, task="depth", depth_kind="relative", probe_size=(64, 80)), x, t,
                       layers=[layer], **kw)
    copy = uqcore.sweep(uqcore.wrap(Affine(fcrn), task="depth", depth_kind="relative", probe_size=(64, 80)), x, t,
                        layers=[f"net.{layer}"], **kw)
    metric = uqcore.sweep(uqcore.wrap(fcrn, task="depth", probe_size=(64, 80)), x, t, layers=[layer], **kw)
    for key in ("loss", "base_loss", "loss_increase", "corr_pixel", "corr_patch", "ause"):
        assert copy[0][key] == pytest.approx(rel[0][key], rel=1e-3, abs=1e-6), key
    assert metric[0]["base_loss"] != pytest.approx(rel[0]["base_loss"], rel=1e-3)


@pytest.mark.slow  # a bundled model: not in -m quick
def test_calibration_of_a_relative_model_is_fitted_and_applied_on_the_aligned_maps():
    model = uqcore.wrap(Affine(uqcore.load_model("fcrn", student=False).module), task="depth",
                        depth_kind="relative", probe_size=(64, 80))
    pairs = _depth_pairs(2)
    cal = uqcore.calibrate(model, pairs, method="transform", samples=4, seed=0, kind="sigma")
    x, t = pairs[0]
    est = uqcore.estimate(model, x, method="transform", samples=4, seed=0)
    fit = M.align_depth(est.prediction.numpy(), t.numpy(), est.variance.numpy(), kind="relative")
    lo, hi = cal.offsets(fit.variance)
    np.testing.assert_allclose(cal.width(est, model=model, target=t).numpy(), hi - lo, rtol=1e-5)
    outside = cal.outside(model, est, t)
    inside = (t.numpy() >= fit.prediction[0] + lo) & (t.numpy() <= fit.prediction[0] + hi)
    np.testing.assert_array_equal(outside == 0, inside)
