"""uqcore.datasets.sweep (uqcore.sweep): loss after perturbation against a naive per-sample reference, correlations,
recommendation, default layers, and the CLI."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import uqcore
from uqcore import metrics as M
from uqcore.errors import InputError
from uqcore.datasets.sweep import recommend, sweep
from uqcore.engine.layers import candidate_layers, default_layer, default_layers

from tests.tiny_models import block_draws, make_tiny_sr


def smooth(h, w, seed=0, c=3):
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand((1, c, h // 4 + 1, w // 4 + 1), generator=g)
    return torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)


def naive_losses(model, x, target, layer, strength, samples, seed, mask=None):
    """Per-sample L1 loss with one plain batch-1 forward per sample and a hand-written noise hook."""
    module = dict(model.module.named_modules())[layer]
    losses = []
    for i in range(samples):
        def hook(_m, _i, out, i=i):
            return out + strength * block_draws(seed, i, out.shape[1:])[None]

        handle = module.register_forward_hook(hook)
        try:
            with torch.no_grad():
                y = model.module(x)[0]
        finally:
            handle.remove()
        diff = (y - target).abs().mean(0)
        losses.append(float(diff[mask].mean() if mask is not None else diff.mean()))
    return losses


def test_loss_is_the_mean_per_sample_loss_and_correlations_match_metrics():
    model = make_tiny_sr()
    x = smooth(10, 12)
    target = smooth(20, 24, seed=1)[0]
    rows = sweep(model, x, target, method="noise", layers=["head", "body.1"], strengths=[0.0, 0.05, 0.5],
                 samples=5, seed=3)
    assert [(r["layer"], r["strength"]) for r in rows] == [(lay, s) for lay in ("head", "body.1") for s in (0.0, 0.05, 0.5)]
    with torch.no_grad():
        original = model.module(x)[0]
    base = float((original - target).abs().mean())
    for r in rows:
        assert r["base_loss"] == pytest.approx(base, rel=1e-6)
        ref = np.mean(naive_losses(model, x, target, r["layer"], r["strength"], 5, 3))
        assert r["loss"] == pytest.approx(ref, rel=1e-5)
        assert r["loss_increase"] == pytest.approx((r["loss"] - base) / base, rel=1e-6, abs=1e-9)
        assert r["reference"] == "target" and r["samples"] == 5
    zero = rows[0]
    assert zero["loss_increase"] == pytest.approx(0.0, abs=1e-9) and zero["variance_mean"] == 0.0
    assert math.isnan(zero["corr_pixel"])  # zero variance: no correlation
    strong = rows[2]
    assert strong["loss_increase"] > rows[1]["loss_increase"] > 0
    est = uqcore.estimate(model, x, method="noise", layer="head", strength=0.5, samples=5, seed=3)
    err = M.error_map(est.prediction, target)
    assert strong["corr_pixel"] == pytest.approx(M.pearson(err, est.variance), abs=1e-6)
    assert strong["corr_patch"] == pytest.approx(M.pearson(err, est.variance, level="patch"), abs=1e-6)
    assert strong["ause"] == pytest.approx(M.ause(err, est.variance), abs=1e-6)
    assert strong["variance_mean"] == pytest.approx(float(est.variance.mean()), rel=1e-6)


def test_without_target_loss_is_against_the_unperturbed_output():
    model = make_tiny_sr()
    x = smooth(10, 12)
    rows = sweep(model, x, None, method="noise", layers=["body.0"], strengths=[0.1], samples=3)
    r = rows[0]
    with torch.no_grad():
        original = model.module(x)[0]
    ref = np.mean(naive_losses(model, x, original, "body.0", 0.1, 3, 0))
    assert r["loss"] == pytest.approx(ref, rel=1e-5)
    assert r["base_loss"] == 0.0
    assert r["loss_increase"] == pytest.approx(r["loss"] / float(original.abs().mean()), rel=1e-5)
    assert r["corr_pixel"] is None and r["ause"] is None and r["variance_mean"] > 0
    assert r["reference"] == "unperturbed"


def test_depth_sweep_ignores_invalid_ground_truth():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 3, padding=1), nn.Softplus())
    model = uqcore.wrap(net, task="depth")
    x = smooth(12, 14)
    depth = 1.0 + smooth(12, 14, seed=3, c=1)[0, 0] * 3
    depth[:3] = 0.0
    depth[6, 6] = float("nan")
    mask = torch.from_numpy(M.valid_mask(depth.numpy()))
    rows = sweep(model, x, depth, method="noise", layers=["1"], strengths=[0.2], samples=3)
    ref = np.mean(naive_losses(model, x, torch.nan_to_num(depth), "1", 0.2, 3, 0, mask=mask))
    assert rows[0]["loss"] == pytest.approx(ref, rel=1e-5)
    assert math.isfinite(rows[0]["corr_pixel"]) and math.isfinite(rows[0]["base_loss"])


def test_dropout_sweep_runs_and_rejects_other_methods():
    model = make_tiny_sr()
    x = smooth(8, 8)
    rows = sweep(model, x, smooth(16, 16, seed=4)[0], method="dropout", layers=["body.0"], strengths=[0.1, 0.3],
                 samples=3)
    assert len(rows) == 2 and all(r["method"] == "dropout" for r in rows)
    assert rows[1]["variance_mean"] > rows[0]["variance_mean"]
    with pytest.raises(InputError, match="noise"):
        sweep(model, x, None, method="transform")
    with pytest.raises(InputError, match="layer"):
        sweep(model, x, None, layers=["nope"], strengths=[0.1], samples=2)


def test_progress_is_reported_per_setting():
    calls = []
    sweep(make_tiny_sr(), smooth(8, 8), None, layers=["head", "body.0"], strengths=[0.01, 0.1], samples=2,
          progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_recommend_picks_highest_correlation_within_tolerance():
    rows = [
        {"layer": "a", "strength": 0.01, "loss_increase": 0.01, "corr_pixel": 0.30, "variance_mean": 1.0},
        {"layer": "a", "strength": 0.10, "loss_increase": 0.04, "corr_pixel": 0.50, "variance_mean": 2.0},
        {"layer": "b", "strength": 0.10, "loss_increase": 0.20, "corr_pixel": 0.90, "variance_mean": 5.0},
        {"layer": "b", "strength": 0.00, "loss_increase": 0.00, "corr_pixel": float("nan"), "variance_mean": 0.0},
    ]
    assert recommend(rows)["strength"] == 0.10 and recommend(rows)["layer"] == "a"
    assert recommend(rows, tolerance=0.5)["layer"] == "b"
    assert recommend(rows, tolerance=0.005) is None
    no_gt = [{**r, "corr_pixel": None} for r in rows]
    assert recommend(no_gt)["variance_mean"] == 2.0  # falls back to the variance magnitude
    assert recommend([]) is None


def test_default_layers_spread_over_blocks():
    from uqcore.models.srresnet import SRResNet

    model = uqcore.wrap(SRResNet(scale=2, n_feats=4, n_blocks=8), task="sr", scale=2)
    cands = candidate_layers(model)
    assert cands == [f"body.{i}" for i in range(8)] + ["upsample"]
    assert default_layer(model) == "body.4"
    layers = default_layers(model, k=4)
    assert len(layers) == 4 and layers[0] == "body.0" and layers[-1] == "upsample"
    # a plain Sequential falls back to its leaves, never the output layer
    plain = uqcore.wrap(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 3, 3, padding=1)))
    assert candidate_layers(plain) == ["0", "1"]
    tiny = default_layers(make_tiny_sr())
    assert len(tiny) == 4 and "tail.1" not in tiny


def test_uqcore_sweep_is_callable_after_the_module_is_imported():
    import uqcore.datasets.sweep  # noqa: F401  (the module has its own name; uqcore.sweep stays the function)

    rows = uqcore.sweep(make_tiny_sr(), smooth(8, 8), None, layers=["head"], strengths=[0.05], samples=2)
    assert len(rows) == 1


def test_cli_sweep_from_hr(tmp_path, capsys):
    from tests.support import write_tiny_card
    from uqcore.cli import main

    card = write_tiny_card(tmp_path)
    hr = (smooth(20, 22, seed=7)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(hr).save(tmp_path / "hr.png")
    out = tmp_path / "rows.csv"
    code = main(["sweep", "--model", str(card), "--image", str(tmp_path / "hr.png"), "--hr", "--layers",
                 "body.0,body.1", "--strengths", "0.01,0.1", "--samples", "2", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "corr_pixel" in printed and "recommended" in printed or "no setting" in printed
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["layer"], float(r["strength"])) for r in rows] == [
        ("body.0", 0.01), ("body.0", 0.1), ("body.1", 0.01), ("body.1", 0.1)]
    assert all(math.isfinite(float(r["loss_increase"])) and r["corr_pixel"] != "" for r in rows)
    assert main(["sweep", "--model", str(card), "--image", str(tmp_path / "hr.png"), "--strengths", "x"]) == 2


def test_several_images_are_averaged():
    model = make_tiny_sr()
    xs = [smooth(8, 10, seed=s) for s in (1, 2)]
    ts = [smooth(16, 20, seed=s + 10)[0] for s in (1, 2)]
    kw = dict(method="noise", layers=["body.0"], strengths=[0.2], samples=3, seed=4)
    one = [sweep(model, x, t, **kw)[0] for x, t in zip(xs, ts)]
    both = sweep(model, xs, ts, **kw)[0]
    assert both["n_images"] == 2
    assert both["loss"] == pytest.approx(np.mean([r["loss"] for r in one]))
    base = np.mean([r["base_loss"] for r in one])
    assert both["loss_increase"] == pytest.approx((both["loss"] - base) / base)
    assert both["corr_pixel"] == pytest.approx(np.mean([r["corr_pixel"] for r in one]))
    assert both["variance_mean"] == pytest.approx(np.mean([r["variance_mean"] for r in one]))
    with pytest.raises(InputError, match="targets"):
        sweep(model, xs, ts[:1], **kw)


def test_sweep_samples_auto_records_the_samples_drawn():
    model = make_tiny_sr()
    x, target = smooth(8, 10, seed=1), smooth(16, 20, seed=11)[0]
    rows = sweep(model, x, target, method="noise", layers=["body.1"], strengths=[0.0, 0.2], samples="auto",
                 reliability_target=0.5, max_samples=12)
    zero, noisy = rows
    assert zero["samples"] == 4 and zero["reliability"] == 1.0  # nothing varies: stops at the first round
    est = uqcore.estimate(model, x, method="noise", layer="body.1", strength=0.2, samples="auto", target=0.5,
                          max_samples=12)
    assert noisy["samples"] == est.samples and noisy["reliability"] == est.reliability


def test_cli_sweep_samples_auto(tmp_path, capsys):
    from tests.support import write_tiny_card
    from uqcore.cli import main

    card = write_tiny_card(tmp_path)
    Image.fromarray((smooth(20, 22, seed=7)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(
        tmp_path / "hr.png")
    out = tmp_path / "rows.csv"
    code = main(["sweep", "--model", str(card), "--image", str(tmp_path / "hr.png"), "--hr", "--layers", "body.1",
                 "--strengths", "0,0.1", "--samples", "auto", "--max-samples", "8", "--out", str(out)])
    assert code == 0
    assert "reliability" in capsys.readouterr().out
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["samples"] == "4" and float(rows[0]["reliability"]) == 1.0
    assert 4 <= int(rows[1]["samples"]) <= 8
    assert main(["sweep", "--model", str(card), "--image", str(tmp_path / "hr.png"), "--samples", "x"]) == 2
