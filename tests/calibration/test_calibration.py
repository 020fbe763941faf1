"""uqcore.calibration.intervals: conformal / isotonic / σ-scaling / risk-control intervals against known
truths (synthetic Gaussian residuals with known σ, hand-computed order statistics, scipy's
isotonic regression), save / load, refusal of another model or setting, depth masks, the
calibrate command and evaluate --calibration."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import scipy.optimize
import scipy.stats
import torch

import uqcore
from uqcore import metrics as M
from uqcore.calibration.intervals import Calibration, calibrate, load_calibration
from uqcore.engine.model import fingerprint
from uqcore.errors import InputError
from uqcore.datasets.evaluate import evaluate
from uqcore.scoring.scorer import EPS, fit_scale

from tests.tiny_models import make_tiny_sr
from tests.support import png_folder, sr_pairs, write_tiny_card
from tests.support import tiny_depth

RNG = np.random.default_rng(17)
Z90 = scipy.stats.norm.ppf(0.95)


def gaussian_images(n, pixels=4000, channels=1, scale=1.0, bias=0.0, seed=0):
    """Per image: (signed residuals [C, N], variance [N]); residual = sqrt(scale * v) * N(0, 1) + bias·sqrt(v)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        v = rng.uniform(0.01, 4.0, pixels)
        r = rng.standard_normal((channels, pixels)) * np.sqrt(scale * v) + bias * np.sqrt(v)
        out.append((r, v))
    return out


def pooled_coverage(cal, data):
    res = np.concatenate([r for r, _ in data], axis=1)
    v = np.concatenate([v for _, v in data])
    lo, hi = cal.offsets(v)
    return M.coverage(res, lo[None], hi[None])


# -- conformal ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_conformal_coverage_on_gaussian_data_with_known_sigma(scale):
    """σ known up to a factor: q recovers z_0.95 * sqrt(scale) and the coverage of new data is 90 %."""
    cal = Calibration.from_residuals("conformal", gaussian_images(10, scale=scale, seed=1), 0.9, eps=0.0)
    assert cal.fitted["q"] == pytest.approx(Z90 * math.sqrt(scale), rel=0.02)
    assert pooled_coverage(cal, gaussian_images(10, scale=scale, seed=2)) == pytest.approx(0.9, abs=0.01)
    # three channels share the variance: each value counts
    cal3 = Calibration.from_residuals("conformal", gaussian_images(5, channels=3, scale=scale, seed=3), 0.8, eps=0.0)
    assert pooled_coverage(cal3, gaussian_images(5, channels=3, scale=scale, seed=4)) == pytest.approx(0.8, abs=0.01)


def test_conformal_quantile_is_the_finite_sample_order_statistic():
    # scores 1..9 (v = 1, eps 0): level 0.8 -> rank ceil(10 * 0.8) = 8 -> q = 8
    r = np.arange(1.0, 10.0)[None] * np.array([1, -1, 1, -1, 1, -1, 1, -1, 1])
    cal = Calibration.from_residuals("conformal", [(r, np.ones(9))], 0.8, eps=0.0)
    assert cal.fitted["q"] == 8.0 and cal.fitted["rank"] == 8 and cal.fitted["n"] == 9
    lo, hi = cal.offsets(np.array([4.0]))
    assert (lo[0], hi[0]) == (-16.0, 16.0)  # q * sigma, sigma = 2
    # level 0.9 needs rank 9 of 9; level 0.95 needs rank 10 > 9 -> too few values
    assert Calibration.from_residuals("conformal", [(r, np.ones(9))], 0.9, eps=0.0).fitted["q"] == 9.0
    with pytest.raises(InputError, match="too few"):
        Calibration.from_residuals("conformal", [(r, np.ones(9))], 0.95, eps=0.0)


def test_conformal_marginal_coverage_over_repeated_splits():
    """Exchangeable values: the average coverage over many small splits is >= the level
    (and below level + 1/(n+1))."""
    cover = []
    for k in range(300):
        rng = np.random.default_rng(k)
        v = rng.uniform(0.1, 2, 20)
        r = rng.standard_normal(20) * np.sqrt(v) * 3
        cal = Calibration.from_residuals("conformal", [(r[None], v)], 0.9, eps=0.0)
        vt = rng.uniform(0.1, 2, 2000)
        rt = rng.standard_normal(2000) * np.sqrt(vt) * 3
        lo, hi = cal.offsets(vt)
        cover.append(np.mean((lo <= rt) & (rt <= hi)))
    assert 0.9 - 0.005 <= np.mean(cover) <= 0.9 + 1 / 21 + 0.005


# -- isotonic -----------------------------------------------------------------------------------------
def test_isotonic_maps_a_calibrated_input_to_itself_and_is_monotone():
    cal = Calibration.from_residuals("isotonic", gaussian_images(10, seed=5), 0.9, eps=0.0)
    p = np.linspace(0.0, 1.0, 201)
    rp = cal.recalibrate(p)
    assert rp[0] == 0.0 and rp[-1] == 1.0
    assert (np.diff(rp) >= 0).all()
    np.testing.assert_allclose(rp, p, atol=0.01)
    assert cal.fitted["second_moment"] == pytest.approx(1.0, abs=0.03)
    lo, hi = cal.offsets(np.ones(3))
    # 3 %: the isotonic variance map is fitted too (about 1 % noise in σ̃ at v = 1 with 40,000 values)
    np.testing.assert_allclose(hi, Z90, rtol=0.03)
    np.testing.assert_allclose(lo, -Z90, rtol=0.03)
    assert np.all(np.diff(cal.fitted["cdf"]) >= 0) and np.all(np.diff(cal.fitted["z"]) > 0)


def test_isotonic_equals_kuleshovs_isotonic_regression():
    """Reference: scipy's PAVA on Kuleshov's recalibration set {(p_t, P̂(p_t))}, p = Φ(r/σ)."""
    r, v = gaussian_images(1, pixels=3000, scale=2.0, seed=6)[0]
    r = np.round(r, 2)  # ties
    # without the variance map (variance_bins=None) the fit is Kuleshov's map of r/sqrt(v) alone
    cal = Calibration.from_residuals("isotonic", [(r, v)], 0.9, eps=0.0, variance_bins=None)
    p = np.sort(scipy.stats.norm.cdf(r.ravel() / np.sqrt(v)))
    phat = np.array([np.mean(p <= x) for x in p])
    ref = scipy.optimize.isotonic_regression(phat).x
    # the fit at every calibration point, read from the stored knots (1000 + 1 of 3000: compare at knots' p)
    zk = np.asarray(cal.fitted["z"])
    at_knots = np.interp(scipy.stats.norm.cdf(zk), p, ref)
    np.testing.assert_allclose(cal.recalibrate(scipy.stats.norm.cdf(zk)), at_knots, atol=2e-3)


def test_isotonic_recalibrates_biased_and_misscaled_maps():
    """Residuals with a bias of 0.5 σ and a variance 9x too small: the interval becomes asymmetric and
    covers 90 % of new data; σ-scaling (symmetric) does not centre it."""
    train = gaussian_images(8, scale=9.0, bias=0.5, seed=7)
    test = gaussian_images(8, scale=9.0, bias=0.5, seed=8)
    iso = Calibration.from_residuals("isotonic", train, 0.9, eps=0.0)
    assert pooled_coverage(iso, test) == pytest.approx(0.9, abs=0.01)
    lo, hi = iso.offsets(np.ones(1))
    assert hi[0] + lo[0] == pytest.approx(2 * 0.5, abs=0.1)  # centre shifted by the bias
    # another level from the same fit
    lo8, hi8 = iso.offsets(np.ones(1), level=0.5)
    assert hi8[0] - lo8[0] == pytest.approx(2 * scipy.stats.norm.ppf(0.75) * 3, rel=0.05)


# -- σ-scaling and risk control ------------------------------------------------------------------------
def test_sigma_reuses_the_scorers_rule():
    data = gaussian_images(4, channels=3, scale=25.0, seed=9)
    cal = Calibration.from_residuals("sigma", data, 0.9)
    s = fit_scale([((r ** 2).mean(0), v) for r, v in data])
    assert cal.fitted["scale"] == s and s == pytest.approx(25.0, rel=0.05)
    lo, hi = cal.offsets(np.array([2.0]))
    assert hi[0] == pytest.approx(Z90 * math.sqrt(s * 2.0 + EPS)) and lo[0] == -hi[0]
    assert cal.calibrated_variance(np.array([2.0]))[0] == pytest.approx(s * 2.0 + EPS)
    with pytest.raises(InputError, match="zero"):
        Calibration.from_residuals("sigma", [(np.ones((1, 4)), np.zeros(4))], 0.9)


def test_risk_control_hand_computed_and_expected_loss():
    # 9 images (n >= 1/α - 1 = 9 at level 0.9), image i has scores {i+1} * 4 values -> L_i(λ) = [λ < i+1]
    data = [(np.full((1, 4), float(i + 1)), np.ones(4)) for i in range(9)]
    cal = Calibration.from_residuals("risk", data, 0.9, eps=0.0)
    # need 9/10 * mean_i L_i(λ) + 1/10 <= 0.1 -> mean loss 0 -> λ = 9
    assert cal.fitted["lambda"] == 9.0
    data19 = [(np.full((1, 2), float(i + 1)), np.ones(2)) for i in range(19)]
    # (19/20) * m + 1/20 <= 0.1 -> m <= 1/19 -> one image may be outside -> λ = 18
    assert Calibration.from_residuals("risk", data19, 0.9, eps=0.0).fitted["lambda"] == 18.0
    with pytest.raises(InputError, match="at least 9"):
        Calibration.from_residuals("risk", data[:8], 0.9, eps=0.0)
    # the guarantee: E[fraction of a new image outside] <= α, averaged over many draws
    losses = []
    for k in range(200):
        imgs = gaussian_images(11, pixels=50, scale=4.0, seed=1000 + k)
        cal = Calibration.from_residuals("risk", imgs[:10], 0.9, eps=0.0)
        r, v = imgs[10]
        lo, hi = cal.offsets(v)
        losses.append(1 - np.mean((lo <= r) & (r <= hi)))
    assert np.mean(losses) <= 0.1 + 0.01


def test_bad_kind_level_and_inputs():
    data = gaussian_images(1, pixels=50)
    with pytest.raises(InputError, match="kind"):
        Calibration.from_residuals("platt", data, 0.9)
    for level in (0.0, 1.0, 1.5, "x"):
        with pytest.raises(InputError, match="level"):
            Calibration.from_residuals("conformal", data, level)
    with pytest.raises(InputError):
        Calibration.from_residuals("conformal", [(np.ones((1, 3)), -np.ones(3))], 0.9)
    conf = Calibration.from_residuals("conformal", data, 0.9)
    with pytest.raises(InputError, match="level 0.9"):
        conf.offsets(np.ones(2), level=0.5)


def test_subsampling_is_bounded_and_deterministic():
    data = gaussian_images(4, pixels=5000, channels=3, seed=11)
    a = Calibration.from_residuals("conformal", data, 0.9, max_values=3000, seed=3)
    b = Calibration.from_residuals("conformal", data, 0.9, max_values=3000, seed=3)
    assert a.values == {"used": 3000, "available": 60000} and a.fitted == b.fitted
    c = Calibration.from_residuals("conformal", data, 0.9, max_values=3000, seed=4)
    assert c.fitted != a.fitted


# -- on a model ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted():
    model = make_tiny_sr()
    pairs = [(f"img{i}", lr, hr[0]) for i, (lr, hr) in enumerate(sr_pairs(4))]
    cal = calibrate(model, pairs[:3], method="noise", layer="body.1", strength=0.1, samples=4, seed=2)
    return model, pairs, cal


def test_calibrate_records_model_setting_images_and_gives_interval_maps(fitted):
    model, pairs, cal = fitted
    assert cal.kind == "conformal" and cal.level == 0.9 and cal.images == ["img0", "img1", "img2"]
    assert cal.model["name"] == "tiny-sr" and cal.model["fingerprint"] == fingerprint(model)
    assert cal.setting == {"method": "noise", "engine": "noise", "prediction": "original", "layer": "body.1",
                           "strength": 0.1, "samples": 4, "samples_drawn": [4], "seed": 2}
    assert cal.values["used"] == cal.values["available"] == 3 * 3 * 24 * 28
    est = uqcore.estimate(model, pairs[3][1], method="noise", layer="body.1", strength=0.1, samples=4, seed=5)
    lower, upper = cal.interval(est, model=model)
    assert lower.shape == upper.shape == est.prediction.shape and lower.dtype == torch.float32
    sigma = torch.sqrt(est.variance.double() + EPS)
    half = (cal.fitted["q"] * sigma)[None].expand(3, -1, -1)
    torch.testing.assert_close(upper.double() - est.prediction.double(), half, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(cal.width(est), (upper - lower)[0], rtol=1e-5, atol=1e-6)
    # the image's numbers equal the metrics on the maps
    hr = pairs[3][2]
    values = cal.score(model, est, hr)
    assert values["coverage"] == pytest.approx(M.coverage(hr, lower, upper), abs=1e-6)
    assert values["interval_width"] == pytest.approx(M.interval_width(lower, upper), rel=1e-5)
    assert values["ence"] == pytest.approx(M.ence(est.prediction, hr, est.variance, eps=EPS), rel=1e-5)
    out = cal.outside(model, est, hr)
    assert out.shape == (24, 28) and 1 - out.mean() == pytest.approx(values["coverage"], abs=1e-6)
    raw, calibrated = cal.reliability(model, [est], [hr])
    assert raw.ence == pytest.approx(values["ence"], rel=1e-6)
    assert calibrated.ence == pytest.approx(values["ence_calibrated"], rel=1e-6)


def test_save_load_round_trip(fitted, tmp_path):
    model, pairs, cal = fitted
    for kind in ("conformal", "isotonic", "sigma"):
        c = cal if kind == "conformal" else calibrate(model, pairs[:3], method="noise", layer="body.1", strength=0.1,
                                                      samples=4, seed=2, kind=kind, level=0.8)
        path = c.save(tmp_path / f"{kind}.json")
        data = json.loads(path.read_text())
        assert data["format"] == "uqcore-calibration" and data["kind"] == kind
        assert data["model"]["name"] == "tiny-sr" and data["images"] == ["img0", "img1", "img2"]
        back = load_calibration(path)
        assert back == c
        est = uqcore.estimate(model, pairs[3][1], method="noise", layer="body.1", strength=0.1, samples=4)
        for a, b in zip(back.interval(est), c.interval(est)):
            assert torch.equal(a, b)
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something"}))
    broken = dict(json.loads((tmp_path / "sigma.json").read_text()), fitted={})
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    for name, match in (("missing.json", "does not exist"), ("bad.json", "not a calibration JSON"),
                        ("other.json", "not a uqcore calibration"), ("broken.json", "scale")):
        with pytest.raises(InputError, match=match):
            load_calibration(tmp_path / name)


def test_calibration_refused_for_another_model_or_setting(fitted):
    model, pairs, cal = fitted
    other = make_tiny_sr(seed=1)  # same name and architecture, other weights
    assert other.name == model.name
    with pytest.raises(InputError, match="fitted for model 'tiny-sr'"):
        cal.check(other)
    x = pairs[3][1]
    est = uqcore.estimate(other, x, method="noise", layer="body.1", strength=0.1, samples=4)
    with pytest.raises(InputError, match="weights"):
        cal.interval(est, model=other)
    for kwargs, match in ((dict(method="noise", layer="body.2", strength=0.1, samples=4), "layer body.2"),
                          (dict(method="noise", layer="body.1", strength=0.2, samples=4), "strength 0.2"),
                          (dict(method="noise", layer="body.1", strength=0.1, samples=8), "drawn"),
                          (dict(method="dropout", layer="body.1", strength=0.1, samples=4), "not for method"),
                          (dict(method="transform", samples=4), "not for method")):
        est = uqcore.estimate(model, x, **kwargs)
        with pytest.raises(InputError, match=match):
            cal.interval(est)
    assert cal.mismatch(model, method="noise", layer="body.1", strength=0.1, samples=4) is None
    assert "8 samples" in cal.mismatch(method="noise", samples=8)
    # MC-dropout variants: same samples, other prediction source
    mc = calibrate(model, pairs[:2], method="mc_dropout1", samples=4)
    assert mc.setting["prediction"] == "original"
    assert "prediction" in mc.mismatch(method="mc_dropout2")
    assert mc.mismatch(method="mc_dropout1") is None


def test_depth_masks_and_resized_outputs():
    model = tiny_depth()
    g = torch.Generator().manual_seed(3)
    pairs = []
    for i in range(3):
        x = torch.rand((1, 3, 16, 20), generator=g)
        depth = 1.0 + 3.0 * torch.rand((32, 40), generator=g)  # ground truth at 2x the output size
        depth[:8] = 0.0
        depth[10, 10] = float("nan")
        pairs.append((x, depth))
    cal = calibrate(model, pairs[:2], method="transform", samples=2, kind="isotonic")
    valid = int(M.valid_mask(pairs[0][1]).sum())
    assert valid == 32 * 40 - 8 * 40 - 1 and cal.values["used"] == 2 * valid
    est = uqcore.estimate(model, pairs[2][0], method="transform", samples=2)
    lower, upper = cal.interval(est)
    assert lower.shape == (1, 16, 20)  # at the output's size
    out = cal.outside(model, est, pairs[2][1])
    assert out.shape == (32, 40) and np.isnan(out[:8]).all() and np.isnan(out[10, 10])
    values = cal.score(model, est, pairs[2][1])
    assert 1 - np.nanmean(out) == pytest.approx(values["coverage"], abs=1e-9)
    rows = evaluate(model, pairs, methods=["transform"], samples=[2], calibration=cal)
    assert all(0 <= r["coverage"] <= 1 and r["interval_width"] > 0 for r in rows)


def test_evaluate_with_a_calibration(fitted, tmp_path):
    model, pairs, cal = fitted
    images = []
    rows = evaluate(model, pairs[3:], methods=["noise", "transform"], samples=[4], layer="body.1", strength=0.1,
                    calibration=cal, on_image=images.append)
    noise = [r for r in rows if r["method"] == "noise"]
    assert all(k in noise[0] for k in ("coverage", "interval_width", "ence", "ence_calibrated"))
    assert "coverage" not in [r for r in rows if r["method"] == "transform"][0]
    est = uqcore.estimate(model, pairs[3][1], method="noise", layer="body.1", strength=0.1, samples=4, seed=0)
    ref = cal.score(model, est, pairs[3][2])
    per = [r for r in images if r["method"] == "noise"][0]
    assert per["image"] == "img3"
    for k in ref:
        assert per[k] == pytest.approx(ref[k], rel=1e-4) and noise[0][k] == pytest.approx(ref[k], rel=1e-4)
    with pytest.raises(InputError, match="strength"):
        evaluate(model, pairs[3:], methods=["noise"], samples=[4], layer="body.1", strength=0.3, calibration=cal)
    with pytest.raises(InputError, match="weights"):
        evaluate(make_tiny_sr(seed=1), pairs[3:], methods=["noise"], samples=[4], layer="body.1", strength=0.1,
                 calibration=cal)


def test_public_api_exports():
    assert uqcore.calibrate is calibrate and uqcore.load_calibration is load_calibration
    assert uqcore.Calibration is Calibration
    for name in ("coverage", "interval_width", "ence", "reliability_diagram"):
        assert callable(getattr(uqcore.metrics, name))


# -- the commands ---------------------------------------------------------------------------------------
def test_cli_calibrate_then_evaluate(tmp_path, capsys):
    from uqcore.cli import main

    cal_dir = png_folder(tmp_path / "cal", 3, prefix="c")
    test_dir = png_folder(tmp_path / "test", 3, prefix="t", first_seed=10)
    card = write_tiny_card(tmp_path)
    out = tmp_path / "cal.json"
    code = main(["calibrate", "--model", str(card), "--data", str(cal_dir), "--method", "noise", "--layer", "body.1",
                 "--strength", "0.05", "--samples", "4", "--kind", "conformal", "--level", "0.9", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "conformal calibration at level 0.9 for tiny-srresnet" in printed and str(out) in printed
    data = json.loads(out.read_text())
    assert data["images"] == ["c0", "c1", "c2"] and data["setting"]["layer"] == "body.1"
    # evaluate takes the calibration's setting when none is given
    res = tmp_path / "ev.csv"
    code = main(["evaluate", "--model", str(card), "--data", str(test_dir), "--calibration", str(out),
                 "--out", str(res)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "per image (conformal interval at level 0.9)" in printed and "t2" in printed
    rows = list(csv.DictReader(res.open()))
    assert {r["method"] for r in rows} == {"noise"} and all(r["samples"] == "4" for r in rows)
    for k in ("coverage", "interval_width", "ence", "ence_calibrated"):
        assert all(math.isfinite(float(r[k])) for r in rows)
    per = list(csv.DictReader((tmp_path / "ev_images.csv").open()))
    assert [r["image"] for r in per] == ["t0", "t1", "t2"] and all(0 <= float(r["coverage"]) <= 1 for r in per)
    # in-sample images are flagged; another setting and another model are refused
    assert main(["evaluate", "--model", str(card), "--data", str(cal_dir), "--calibration", str(out)]) == 0
    assert "in-sample" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(card), "--data", str(test_dir), "--calibration", str(out),
                 "--strength", "0.2"]) == 2
    assert "strength" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    other_card = write_tiny_card(other)
    # same architecture, same seed -> same weights: accepted; rewrite the weights to make it another model
    from safetensors.torch import load_file, save_file

    weights = other / "tiny.safetensors"
    state = {k: v + 0.01 for k, v in load_file(str(weights)).items()}
    save_file(state, str(weights))
    assert main(["evaluate", "--model", str(other_card), "--data", str(test_dir), "--calibration", str(out)]) == 2
    assert "weights" in capsys.readouterr().err
    assert main(["calibrate", "--model", str(card), "--data", str(cal_dir), "--kind", "risk", "--out",
                 str(tmp_path / "r.json")]) == 2
    assert "at least 9" in capsys.readouterr().err


def test_one_class_per_kind_picked_from_the_saved_kind(tmp_path):
    """Calibration(kind=...) and load_calibration give the kind's class; a file keeps its format."""
    from uqcore.calibration.kinds import CALIBRATIONS, Calibration as Base

    data = gaussian_images(10, seed=7)
    for kind, cls in CALIBRATIONS.items():
        cal = Base.from_residuals(kind, data, 0.9, eps=0.0)
        assert type(cal) is cls and cal.kind == kind == cls.KIND
        back = load_calibration(cal.save(tmp_path / f"{kind}.json"))
        assert type(back) is cls and back == cal
    with pytest.raises(InputError, match="unknown calibration kind"):
        Base(kind="platt", level=0.9, fitted={})
