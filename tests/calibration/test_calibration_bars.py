"""What calibration promises, on synthetic data where the truth is known: the isotonic variance map
(monotone, identity on calibrated maps, lowers ENCE where one scale cannot), its
cross-validated bin count, the conformal / risk guarantees with heterogeneous images (pixels
within an image share a difficulty; images are exchangeable), ENCE binned by another key,
calibrations saved by version 1, and the held-out calibration images of the paper run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from uqcore import metrics as M
from uqcore.calibration.intervals import Calibration, load_calibration
from uqcore.calibration.fit import BIN_CHOICES, apply_variance_map, cross_validated_bins, variance_map
from uqcore.errors import InputError
from uqcore.scoring.scorer import EPS, interval_values


def heteroscedastic_images(n, pixels=3000, floor=0.5, slope=4.0, spread=0.0, seed=0):
    """Per image (r [1, N], v [N]) with E[r² | v] = floor + slope·v (a variance that is right in
    shape only above the floor) and, with ``spread``, an image-wide difficulty factor
    exp(spread·N(0, 1)) on the residual's std shared by all pixels of the image."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        v = rng.uniform(0.0, 1.0, pixels) ** 3
        hard = np.exp(spread * rng.standard_normal())
        out.append((hard * rng.standard_normal((1, pixels)) * np.sqrt(floor + slope * v), v))
    return out


def pooled(data):
    return np.concatenate([r for r, _ in data], axis=1), np.concatenate([v for _, v in data])


# -- the isotonic variance map -----------------------------------------------------------------------
def test_variance_map_is_monotone_and_recovers_the_truth():
    data = heteroscedastic_images(6, seed=1)
    vmap = variance_map(data, bins=20, eps=0.0)
    g = np.asarray(vmap["g"])
    assert vmap["bins"] == 20 and np.all(np.diff(g) >= 0) and np.all(np.diff(vmap["v"]) > 0)
    # the truth E[r² | v] = 0.5 + 4 v at the knots (bin means), within sampling noise
    np.testing.assert_allclose(g, 0.5 + 4.0 * np.asarray(vmap["v"]), rtol=0.2, atol=0.08)


def test_variance_map_is_the_identity_on_a_calibrated_map():
    rng = np.random.default_rng(2)
    v = rng.uniform(0.1, 3.0, 20000)
    cal = Calibration.from_residuals("isotonic", [(rng.standard_normal((1, v.size)) * np.sqrt(v), v)], 0.9, eps=0.0)
    probe = np.linspace(0.3, 2.8, 11)
    np.testing.assert_allclose(cal.calibrated_variance(probe), probe, rtol=0.12)
    assert cal.fitted["second_moment"] == pytest.approx(1.0, abs=0.03)


def test_isotonic_lowers_ence_where_sigma_scaling_cannot():
    """A variance map with an error floor: one global scale leaves the low-variance bins off,
    the isotonic variance map fixes them (ENCE on new images, bins of the raw variance)."""
    cal_data, test = heteroscedastic_images(8, seed=3), heteroscedastic_images(8, seed=4)
    res, v = pooled(test)
    iso = interval_values(Calibration.from_residuals("isotonic", cal_data, 0.9, eps=1e-6), res, v)
    sig = interval_values(Calibration.from_residuals("sigma", cal_data, 0.9, eps=1e-6), res, v)
    assert iso["ence_calibrated"] < 0.1 < 0.3 < sig["ence_calibrated"]
    assert iso["coverage"] == pytest.approx(0.9, abs=0.02)


def test_second_moment_is_the_calibration_values_mean_square():
    data = heteroscedastic_images(3, seed=5)
    cal = Calibration.from_residuals("isotonic", data, 0.9, eps=1e-6, variance_bins=None)
    z = np.concatenate([(r / np.sqrt(v + 1e-6)).ravel() for r, v in data])
    assert cal.fitted["second_moment"] == pytest.approx(float(np.mean(z ** 2)), rel=1e-9)
    assert "variance_map" not in cal.fitted


def test_cross_validated_bins_uses_held_out_images_only():
    data = heteroscedastic_images(6, seed=6)
    best, scores = cross_validated_bins(data)
    assert best in BIN_CHOICES and set(scores) == set(BIN_CHOICES)
    # one-standard-error rule: never more bins than the lowest mean out-of-fold ENCE
    lowest = min(scores, key=scores.get)
    assert best <= lowest and scores[best] >= scores[lowest]
    # deterministic (interleaved folds, no randomness); one image: nothing to cross-validate
    assert cross_validated_bins(data) == (best, scores)
    assert cross_validated_bins(data[:1]) == (max(BIN_CHOICES), {})
    cal = Calibration.from_residuals("isotonic", data, 0.9)
    assert cal.fitted["variance_map"]["bins"] == best and set(cal.fitted["variance_map"]["cv"]) == {
        str(b) for b in BIN_CHOICES}


def test_cross_validated_bins_equal_a_plain_recomputation():
    """Every fold's out-of-fold ENCE, recomputed from the images as given (the map fitted with
    variance_map on the other folds, ENCE binned by the fold's raw variance): bit for bit the
    same, variances with many ties included (their order decides the bins)."""
    data = heteroscedastic_images(7, pixels=2000, seed=3)
    data = [(r, np.round(v, 2)) for r, v in data]  # ~100 distinct values: large tie groups
    k = 5
    for b in BIN_CHOICES:
        per_fold = []
        for f in range(k):
            fit = [data[i] for i in range(len(data)) if i % k != f]
            held = [data[i] for i in range(len(data)) if i % k == f]
            r2 = np.concatenate([(r ** 2).mean(0) for r, _ in held])
            v = np.concatenate([v for _, v in held])
            mapped = apply_variance_map(variance_map(fit, bins=b), v, EPS)
            per_fold.append(M.ence_vectors(r2, mapped, bins=10, order_by=v))
        assert cross_validated_bins(data)[1][b] == float(np.array(per_fold).mean()), b


# -- guarantees with heterogeneous images ----------------------------------------------------------
def test_conformal_coverage_with_heterogeneous_images_needs_many_images():
    """Images with their own difficulty: the pooled conformal quantile is noisy with few images
    and settles with many; on average over draws the coverage is near the level."""
    def spread_of(n_images, draws=40):
        cov = []
        for k in range(draws):
            cal = Calibration.from_residuals("conformal", heteroscedastic_images(n_images, 400, spread=0.4,
                                                                                 seed=100 + k), 0.9)
            res, v = pooled(heteroscedastic_images(40, 400, spread=0.4, seed=1000 + k))
            lo, hi = cal.offsets(v)
            cov.append(M.coverage(res, lo[None], hi[None]))
        return np.asarray(cov)

    few, many = spread_of(4), spread_of(48)
    assert abs(many.mean() - 0.9) < 0.02
    assert many.std() < 0.6 * few.std()
    assert np.mean(np.abs(many - 0.9) <= 0.03) > np.mean(np.abs(few - 0.9) <= 0.03)


def test_risk_control_bounds_the_expected_fraction_outside_per_image():
    """E[fraction of a new image outside] <= α over draws of calibration and new images."""
    outside = []
    for k in range(150):
        cal = Calibration.from_residuals("risk", heteroscedastic_images(9, 200, spread=0.5, seed=k), 0.9)
        r, v = heteroscedastic_images(1, 200, spread=0.5, seed=10_000 + k)[0]
        lo, hi = cal.offsets(v)
        outside.append(1.0 - M.coverage(r, lo[None], hi[None]))
    assert np.mean(outside) <= 0.1 + 0.01


# -- ENCE binning, old files --------------------------------------------------------------------------
def test_ence_order_by_bins_ties_like_the_raw_variance():
    # calibrated variance with a tie (2, 2) between pixels whose raw variances differ
    r2 = np.array([1.0, 9.0, 1.0, 9.0])
    raw = np.array([1.0, 2.0, 3.0, 4.0])
    flat = np.array([1.0, 2.0, 2.0, 4.0])
    # raw order: bins {0, 1}, {2, 3}: RMV sqrt(1.5), sqrt(3); RMSE sqrt(5), sqrt(5)
    want = np.mean([abs(np.sqrt(1.5) - np.sqrt(5)) / np.sqrt(1.5), abs(np.sqrt(3) - np.sqrt(5)) / np.sqrt(3)])
    assert M.ence_vectors(r2, flat, bins=2, order_by=raw) == pytest.approx(want)
    with pytest.raises(InputError, match="order_by"):
        M.ence_vectors(r2, flat, bins=2, order_by=raw[:3])


def test_version_1_files_load_and_behave_as_before(tmp_path):
    data = heteroscedastic_images(2, seed=7)
    old = Calibration.from_residuals("isotonic", data, 0.9, variance_bins=None)
    d = old.to_dict()
    d["version"] = 1
    (tmp_path / "v1.json").write_text(json.dumps(d))
    loaded = load_calibration(tmp_path / "v1.json")
    v = np.array([0.0, 0.5, 1.0])
    np.testing.assert_allclose(loaded.offsets(v)[1], old.offsets(v)[1])
    np.testing.assert_allclose(loaded.calibrated_variance(v), old.fitted["second_moment"] * (v + old.eps))
    new = Calibration.from_residuals("isotonic", data, 0.9)
    path = new.save(tmp_path / "v2.json")
    assert json.loads(path.read_text())["version"] == 2
    np.testing.assert_allclose(load_calibration(path).offsets(v)[0], new.offsets(v)[0])
    d["version"] = 3
    (tmp_path / "v3.json").write_text(json.dumps(d))
    with pytest.raises(InputError, match="version 3"):
        load_calibration(tmp_path / "v3.json")


# -- the paper run's held-out calibration images --------------------------------------------------------
def test_heldout_images_are_not_in_the_eval_set():
    from uqcore.paper import heldout
    from uqcore.paper.report import SR_DATA

    bundled = {p.stem for p in SR_DATA.iterdir()}
    stems = {f.split(".")[0] for f, _ in heldout.SR_HELDOUT}
    assert not stems & bundled and all(lic for _, lic in heldout.SR_HELDOUT)
    names, images = heldout.sr_heldout(2)
    assert names == ["skimage:grass", "skimage:moon"] and images[0].shape[:2] == (1, 3)
    # depth seeds are disjoint from training (0-7199), monitoring (2000000-) and the bundled set (1000000-)
    assert heldout.DEPTH_SEED > 2_000_023


def test_cli_variance_bins(tmp_path, capsys):
    from tests.support import png_folder, write_tiny_card
    from uqcore.cli import main

    cal_dir = png_folder(tmp_path / "cal", 3, prefix="c")
    card = write_tiny_card(tmp_path)
    base = ["calibrate", "--model", str(card), "--data", str(cal_dir), "--method", "noise", "--layer", "body.1",
            "--strength", "0.05", "--samples", "2", "--kind", "isotonic"]
    fitted = {}
    for bins in ("auto", "0", "5"):
        out = tmp_path / f"cal{bins}.json"
        assert main([*base, "--variance-bins", bins, "--out", str(out)]) == 0
        fitted[bins] = json.loads(out.read_text())["fitted"]
    assert "cv" in fitted["auto"]["variance_map"] and "variance_map" not in fitted["0"]
    assert fitted["5"]["variance_map"]["bins"] <= 5 and "cv" not in fitted["5"]["variance_map"]
    assert main([*base, "--variance-bins", "many", "--out", str(tmp_path / "x.json")]) == 2
    assert "--variance-bins" in capsys.readouterr().err


def test_depth_test_scenes_are_rendered_disjoint_and_leave_no_temporary_folder(tmp_path, monkeypatch):
    import tempfile

    import torch

    import uqcore
    from uqcore.paper import heldout
    from uqcore.paper.report import Settings

    # test seeds: after the held-out ones, which the full run uses up to depth_heldout of
    assert heldout.DEPTH_TEST_SEED >= heldout.DEPTH_SEED + Settings().depth_heldout
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    model = uqcore.wrap(torch.nn.Conv2d(3, 1, 1), task="depth")
    names, pairs = heldout.depth_heldout(2, model, seed=heldout.DEPTH_TEST_SEED)
    assert len(names) == len(pairs) == 2 and pairs[0][1].shape == (128, 160)
    assert not list(tmp_path.iterdir())  # rendered, loaded into memory, and the folder removed
