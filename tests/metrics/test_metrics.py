"""uqcore.metrics against independent references (scipy, brute-force loops, hand-checked maps)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from uqcore import InputError
from uqcore import metrics as M

RNG = np.random.default_rng(1234)


def smooth_image(h=48, w=64, c=3, seed=0):
    """A smooth, structured RGB image in [0, 1] (superpixels need structure, not noise)."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    chans = [0.5 + 0.5 * np.sin(6 * xx + 3 * seed + k) * np.cos(5 * yy - k) for k in range(c)]
    img = np.stack(chans)
    img[:, h // 3: h // 2, w // 4: w // 2] = 0.9  # a flat block with sharp edges
    return img


# -- references, computed differently from the implementation ------------------------------------
def brute_sparsification(error, unc, steps):
    """Loop over fractions; for each one, remove the top pixels by a full argsort of -unc."""
    e, u = error.ravel(), unc.ravel()
    n = e.size
    est, ora = [], []
    for k in range(steps):
        m = int(math.floor(k / steps * n + 1e-9))
        keep_e = np.sort(e)[: n - m]  # oracle: drop the m largest errors
        idx = np.argsort(-u)[m:]
        est.append(e[idx].mean())
        ora.append(keep_e.mean())
    est, ora = np.array(est) / e.mean(), np.array(ora) / e.mean()
    x = np.arange(steps) / steps
    ause = sum((est[i] - ora[i] + est[i + 1] - ora[i + 1]) / 2 * (x[i + 1] - x[i]) for i in range(steps - 1))
    aurg = sum((2 - est[i] - est[i + 1]) / 2 * (x[i + 1] - x[i]) for i in range(steps - 1))
    return est, ora, ause, aurg


def tile_means_reference(a, patch):
    """Per-pixel tile means with explicit loops (partial edge tiles are their own tiles)."""
    out = np.empty_like(a)
    h, w = a.shape
    for i in range(0, h, patch):
        for j in range(0, w, patch):
            out[i:i + patch, j:j + patch] = a[i:i + patch, j:j + patch].mean()
    return out


# -- error maps and masks ------------------------------------------------------------------------
def test_error_map_hand_checked_and_channel_averaged():
    pred = np.zeros((2, 2, 2))
    tgt = np.array([[[1.0, -2.0], [0.0, 4.0]], [[3.0, 0.0], [0.0, -4.0]]])
    np.testing.assert_allclose(M.error_map(pred, tgt), [[2.0, 1.0], [0.0, 4.0]])
    np.testing.assert_allclose(M.error_map(pred, tgt, kind="sq"), [[5.0, 2.0], [0.0, 16.0]])
    # [H, W] inputs and batch-of-one inputs
    np.testing.assert_allclose(M.error_map(np.ones((2, 2)), np.zeros((1, 1, 2, 2))), np.ones((2, 2)))


def test_valid_mask_and_masked_error_map():
    depth = np.array([[1.0, 0.0], [np.nan, np.inf]])
    np.testing.assert_array_equal(M.valid_mask(depth), [[True, False], [False, False]])
    err = M.error_map(np.ones((2, 2)), depth, mask=M.valid_mask(depth))
    assert err[0, 0] == 0.0 and np.isnan(err[1, 0]) and np.isnan(err[0, 1])


def test_shape_mismatch_and_bad_inputs_raise_input_error():
    with pytest.raises(InputError, match="same height and width"):
        M.error_map(np.zeros((3, 4, 4)), np.zeros((3, 4, 5)))
    with pytest.raises(InputError, match="must match"):
        M.ause(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(InputError, match="NaN"):
        M.pearson(np.ones((4, 4)), np.full((4, 4), np.nan))
    with pytest.raises(InputError, match="no pixels"):
        M.ause(np.ones((4, 4)), np.ones((4, 4)), mask=np.zeros((4, 4), bool))
    with pytest.raises(InputError, match="2-D"):
        M.ause(np.ones((3, 4, 4)), np.ones((3, 4, 4)))
    with pytest.raises(InputError, match="superpixels"):
        M.pearson(np.ones((4, 4)), np.ones((4, 4)), level="block")
    with pytest.raises(InputError, match="level"):
        M.pearson(np.ones((4, 4)), np.ones((4, 4)), level="tile")
    with pytest.raises(InputError, match="negative"):
        M.nll(np.zeros((4, 4)), np.zeros((4, 4)), -np.ones((4, 4)))
    assert issubclass(InputError, ValueError)


# -- sparsification / AUSE ------------------------------------------------------------------------
def test_ause_rows_is_each_rows_ause_with_ties_and_zero_error():
    """The bootstrap's vectorised mean-level AUSE: every row as the brute-force reference (distinct
    values) and bit for bit as ``ause(level="mean")`` of that row alone (ties, a zero-error row)."""
    e = RNG.random((6, 11))
    u = e + 0.5 * RNG.random((6, 11))
    got = M.ause_rows(e, u, 10)
    assert got.tolist() == pytest.approx([brute_sparsification(e[i], u[i], 10)[2] for i in range(6)], abs=1e-12)
    e[1] = np.round(e[1], 1)
    u[2] = np.round(u[2], 1)  # tied uncertainties: averaged
    e[3] = 0.0  # no error at all: AUSE 0
    for normalise in (True, False):
        rows = M.ause_rows(e, u, 7, normalise=normalise)
        assert rows.tolist() == [M.ause(e[i], u[i], 7, level="mean", normalise=normalise) for i in range(6)]
    assert rows[3] == 0.0
    with pytest.raises(InputError, match="rows, points"):
        M.ause_rows(e[0], u[0])
    e[4, 2] = np.nan
    with pytest.raises(InputError, match="finite|NaN"):
        M.ause_rows(e, u)


@pytest.mark.parametrize("n,steps", [(16, 4), (37, 10), (400, 50)])
def test_sparsification_matches_brute_force(n, steps):
    e = RNG.random(n)[None, :]
    u = (e + 0.5 * RNG.random(n)[None, :])  # distinct values: no ties
    sp = M.sparsification(e, u, steps=steps)
    est, ora, ause, aurg = brute_sparsification(e, u, steps)
    np.testing.assert_allclose(sp.fractions, np.arange(steps) / steps)
    np.testing.assert_allclose(sp.estimate, est, rtol=1e-12)
    np.testing.assert_allclose(sp.oracle, ora, rtol=1e-12)
    np.testing.assert_allclose(sp.random, 1.0)
    assert sp.estimate[0] == pytest.approx(1.0) and sp.oracle[0] == pytest.approx(1.0)
    assert sp.ause == pytest.approx(ause, abs=1e-12) and M.ause(e, u, steps) == pytest.approx(ause, abs=1e-12)
    assert sp.aurg == pytest.approx(aurg, abs=1e-12) and M.aurg(e, u, steps) == pytest.approx(aurg, abs=1e-12)


def test_hand_checked_4x4_example():
    # errors 1..16; uncertainty ranks them exactly backwards in the first row only.
    e = np.arange(1.0, 17.0).reshape(4, 4)
    u = e.copy()
    u[0] = [4.0, 3.0, 2.0, 1.0]  # swaps inside the lowest-error row don't matter until f >= 3/4
    sp = M.sparsification(e, u, steps=4)  # remove 0, 4, 8, 12 pixels
    mean = 8.5
    # oracle: remaining {1..16}, {1..12}, {1..8}, {1..4}
    np.testing.assert_allclose(sp.oracle * mean, [8.5, 6.5, 4.5, 2.5])
    # estimate: the first row has uncertainties 1..4 (lowest) -> same sets as the oracle
    np.testing.assert_allclose(sp.estimate * mean, [8.5, 6.5, 4.5, 2.5])
    assert sp.ause == pytest.approx(0.0)
    # now make the uncertainty rank the largest error (16) last
    u2 = e.copy()
    u2[3, 3] = 0.0
    sp2 = M.sparsification(e, u2, steps=4)
    # f=1/4 removes 12..15 -> mean of {1..11,16} = 82/12; f=1/2 removes 8..15 -> {1..7,16} mean 44/8;
    # f=3/4 removes 4..15 -> {1,2,3,16} mean 22/4
    np.testing.assert_allclose(sp2.estimate * mean, [8.5, 82 / 12, 44 / 8, 22 / 4])
    d = sp2.estimate - sp2.oracle
    assert sp2.ause == pytest.approx(((d[0] + d[1]) + (d[1] + d[2]) + (d[2] + d[3])) / 2 / 4)


def test_perfect_uncertainty_gives_zero_ause_and_unit_correlation():
    e = RNG.random((32, 40))
    assert M.ause(e, e) == pytest.approx(0.0, abs=1e-12)
    assert M.pearson(e, e) == pytest.approx(1.0)
    assert M.spearman(e, e) == pytest.approx(1.0)
    assert M.ause(e, e ** 3 + 2) == pytest.approx(0.0, abs=1e-12)


def test_random_uncertainty_gives_aurg_near_zero():
    e = RNG.random((128, 128))
    u = RNG.random((128, 128))
    assert abs(M.aurg(e, u)) < 0.01
    assert abs(M.pearson(e, u)) < 0.03


def test_ties_are_averaged_and_order_independent():
    e = RNG.random((20, 20))
    # constant uncertainty: the estimate curve equals the random curve exactly
    sp = M.sparsification(e, np.zeros_like(e))
    np.testing.assert_allclose(sp.estimate, 1.0, rtol=1e-12)
    assert sp.aurg == pytest.approx(0.0, abs=1e-12)
    # two-valued uncertainty: equals the average over random tie orders (Monte Carlo reference)
    u = (RNG.random((20, 20)) > 0.5).astype(float)
    sp = M.sparsification(e, u, steps=10)
    runs = []
    for _ in range(2000):
        jitter = u + 1e-9 * RNG.random(u.shape)  # a random order inside each tie group
        runs.append(brute_sparsification(e, jitter, 10)[0])
    np.testing.assert_allclose(sp.estimate, np.mean(runs, axis=0), atol=1e-2)  # MC std ~2e-3
    # permuting the pixels changes nothing
    perm = RNG.permutation(e.size)
    sp_perm = M.sparsification(e.ravel()[perm][None], u.ravel()[perm][None], steps=10)
    np.testing.assert_allclose(sp.estimate, sp_perm.estimate, rtol=1e-12)


def test_ause_invariant_to_monotone_rescaling():
    e = RNG.random((30, 30))
    u = e + 0.4 * RNG.standard_normal((30, 30))
    ref = M.ause(e, u)
    assert M.ause(e, 3.0 * u + 7.0) == pytest.approx(ref, abs=1e-12)
    assert M.ause(e, np.exp(u)) == pytest.approx(ref, abs=1e-12)
    assert M.ause(e, np.arctan(u)) == pytest.approx(ref, abs=1e-12)
    assert M.spearman(e, np.exp(u)) == pytest.approx(M.spearman(e, u))


def test_zero_error_gives_zero_curves():
    sp = M.sparsification(np.zeros((4, 4)), RNG.random((4, 4)))
    assert sp.ause == 0.0 and sp.aurg == 0.0 and sp.mean_error == 0.0


def test_masks_are_respected():
    e = RNG.random((16, 16))
    u = e + 0.2 * RNG.random((16, 16))
    mask = RNG.random((16, 16)) > 0.3
    e_bad, u_bad = e.copy(), u.copy()
    e_bad[~mask] = np.nan  # garbage outside the mask must be ignored
    u_bad[~mask] = 1e9
    ref_e, ref_u = e[mask][None], u[mask][None]
    assert M.ause(e_bad, u_bad, mask=mask) == pytest.approx(M.ause(ref_e, ref_u))
    assert M.pearson(e_bad, u_bad, mask=mask) == pytest.approx(scipy.stats.pearsonr(e[mask], u[mask])[0])
    assert M.spearman(e_bad, u_bad, mask=mask) == pytest.approx(scipy.stats.spearmanr(e[mask], u[mask])[0])
    # patch level with a mask: tile means over valid pixels only, pixels outside excluded
    got = M.pearson(e_bad, u_bad, mask=mask, level="patch", patch=4)
    pe, pu = np.zeros_like(e), np.zeros_like(u)
    for i in range(0, 16, 4):
        for j in range(0, 16, 4):
            mm = mask[i:i + 4, j:j + 4]
            pe[i:i + 4, j:j + 4] = e[i:i + 4, j:j + 4][mm].mean() if mm.any() else 0
            pu[i:i + 4, j:j + 4] = u[i:i + 4, j:j + 4][mm].mean() if mm.any() else 0
    assert got == pytest.approx(scipy.stats.pearsonr(pe[mask], pu[mask])[0])


# -- correlation levels --------------------------------------------------------------------------
def test_pixel_correlations_match_scipy():
    e = RNG.random((25, 31))
    u = e ** 2 + 0.3 * RNG.random((25, 31))
    assert M.pearson(e, u) == pytest.approx(scipy.stats.pearsonr(e.ravel(), u.ravel())[0], abs=1e-12)
    assert M.spearman(e, u) == pytest.approx(scipy.stats.spearmanr(e.ravel(), u.ravel())[0], abs=1e-12)


@pytest.mark.parametrize("shape,patch", [((32, 32), 8), ((30, 45), 16), ((7, 5), 16)])
def test_patch_level_matches_loop_reference(shape, patch):
    e = RNG.random(shape)
    u = e + RNG.random(shape)
    pe, pu = tile_means_reference(e, patch), tile_means_reference(u, patch)
    if np.ptp(pe) == 0:
        assert math.isnan(M.pearson(e, u, level="patch", patch=patch))
        return
    assert M.pearson(e, u, level="patch", patch=patch) == pytest.approx(scipy.stats.pearsonr(pe.ravel(), pu.ravel())[0])
    assert M.ause(e, u, level="patch", patch=patch) == pytest.approx(M.ause(pe, pu))


def test_patch_labels_partial_edge_tiles():
    lab = M.patch_labels((5, 7), patch=4)
    assert lab.max() + 1 == 4  # 2 x 2 tiles, the right and bottom ones partial
    assert (lab[:4, :4] == 0).all() and (lab[4:, 4:] == 3).all() and (lab[:4, 4:] == 1).all()


@pytest.mark.parametrize("method", ["lcm", "slic"])
def test_segmenters_give_consecutive_deterministic_labels(method):
    pred = smooth_image(48, 64)
    seg = M.segment(pred, method=method)
    assert seg.shape == (48, 64) and seg.dtype == np.int64 and seg.min() == 0 and seg.max() >= 3
    assert np.array_equal(np.unique(seg), np.arange(seg.max() + 1))
    np.testing.assert_array_equal(seg, M.segment(torch.from_numpy(pred), method=method))  # deterministic
    depth_seg = M.segment(1.0 + 4.0 * pred[:1], method=method)  # depth-like, in metres
    assert depth_seg.shape == (48, 64) and depth_seg.max() >= 3


def test_block_level_uses_lcm_segments_of_the_prediction():
    pred = smooth_image(48, 64)
    seg = M.segment(pred)
    np.testing.assert_array_equal(seg, M.lcm_segments(pred))  # lcm is the default
    e = RNG.random((48, 64))
    u = e + RNG.random((48, 64))
    # reference: pool with explicit per-segment loops
    pe, pu = np.empty_like(e), np.empty_like(u)
    for s in np.unique(seg):
        pe[seg == s] = e[seg == s].mean()
        pu[seg == s] = u[seg == s].mean()
    ref = scipy.stats.pearsonr(pe.ravel(), pu.ravel())[0]
    assert M.pearson(e, u, level="block", segments=seg) == pytest.approx(ref)
    assert M.pearson(e, u, level="block", prediction=pred) == pytest.approx(ref)
    assert M.ause(e, u, level="block", segments=seg) == pytest.approx(M.ause(pe, pu))


def test_mean_level_over_images():
    errors = [RNG.random((8, 8)) * k for k in range(1, 6)]
    uncs = [e * 2 + RNG.random((8, 8)) for e in errors]
    me = [e.mean() for e in errors]
    mu = [u.mean() for u in uncs]
    assert M.pearson(errors, uncs, level="mean") == pytest.approx(scipy.stats.pearsonr(me, mu)[0])
    assert M.pearson(np.array(me), np.array(mu), level="mean") == pytest.approx(scipy.stats.pearsonr(me, mu)[0])
    assert M.ause(errors, uncs, level="mean", steps=5) == pytest.approx(brute_sparsification(np.array(me), np.array(mu), 5)[2])
    masks = [RNG.random((8, 8)) > 0.5 for _ in errors]
    me_m = [e[m].mean() for e, m in zip(errors, masks)]
    mu_m = [u[m].mean() for u, m in zip(uncs, masks)]
    assert M.pearson(errors, uncs, level="mean", masks=masks) == pytest.approx(scipy.stats.pearsonr(me_m, mu_m)[0])


def test_constant_input_has_no_correlation():
    assert math.isnan(M.pearson(RNG.random((4, 4)), np.ones((4, 4))))
    assert math.isnan(M.spearman(RNG.random((4, 4)), np.ones((4, 4))))


def test_correlations_bundle_agrees_with_single_functions():
    pred = smooth_image(32, 32)
    e = RNG.random((32, 32))
    u = e + RNG.random((32, 32))
    out = M.correlations(e, u, prediction=pred, patch=8)
    assert out["corr_pixel"] == pytest.approx(M.pearson(e, u))
    assert out["corr_patch"] == pytest.approx(M.pearson(e, u, level="patch", patch=8))
    assert out["corr_block"] == pytest.approx(M.pearson(e, u, level="block", prediction=pred))
    assert out["ause_block"] == pytest.approx(M.ause(e, u, level="block", prediction=pred))
    assert out["spearman_pixel"] == pytest.approx(M.spearman(e, u))


# -- torch inputs --------------------------------------------------------------------------------
def test_torch_input_equals_numpy_input():
    e = RNG.random((20, 24)).astype(np.float32)
    u = (e + RNG.random((20, 24))).astype(np.float32)
    te, tu = torch.from_numpy(e), torch.from_numpy(u)
    assert M.ause(te, tu) == M.ause(e, u)
    assert M.pearson(te, tu, level="patch", patch=8) == M.pearson(e, u, level="patch", patch=8)
    pred = torch.rand(3, 20, 24)
    tgt = torch.rand(3, 20, 24)
    np.testing.assert_array_equal(M.error_map(pred, tgt), M.error_map(pred.numpy(), tgt.numpy()))
    assert M.nll(pred, tgt, tu) == M.nll(pred.numpy(), tgt.numpy(), u)
    # batch-of-one tensors and requires_grad tensors are accepted
    assert M.nll(pred[None].requires_grad_(), tgt[None], tu[None]) == pytest.approx(M.nll(pred, tgt, tu))


# -- NLL, calibration, sigma-scaling -------------------------------------------------------------
@pytest.mark.parametrize("eps", [0.0, 1e-6, 0.01])
def test_nll_matches_torch_gaussian_nll_loss(eps):
    mu = torch.rand(3, 16, 20, dtype=torch.float64)
    y = torch.rand(3, 16, 20, dtype=torch.float64)
    var = torch.rand(16, 20, dtype=torch.float64) * 0.5 + 0.01
    ref = torch.nn.GaussianNLLLoss(full=True, eps=1e-12)(mu, y, (var + eps).expand(3, -1, -1))
    assert M.nll(mu, y, var, eps=eps) == pytest.approx(float(ref), rel=1e-10)
    # per-channel variance
    var3 = torch.rand(3, 16, 20, dtype=torch.float64) + 0.01
    ref3 = torch.nn.GaussianNLLLoss(full=True, eps=1e-12)(mu, y, var3 + eps)
    assert M.nll(mu, y, var3, eps=eps) == pytest.approx(float(ref3), rel=1e-10)


def test_nll_with_mask_uses_valid_pixels_only():
    mu, y = RNG.random((8, 8)), RNG.random((8, 8))
    var = RNG.random((8, 8)) + 0.1
    mask = RNG.random((8, 8)) > 0.5
    y_bad = y.copy()
    y_bad[~mask] = np.nan
    ref = np.mean(0.5 * np.log(2 * np.pi * var[mask]) + (y[mask] - mu[mask]) ** 2 / (2 * var[mask]))
    assert M.nll(mu, y_bad, var, eps=0.0, mask=mask) == pytest.approx(ref)


def test_calibration_curve_calibrated_and_overconfident():
    n = 200_000
    mu = np.zeros((1, n))
    sigma2 = RNG.uniform(0.1, 2.0, (1, n))
    y = RNG.standard_normal((1, n)) * np.sqrt(sigma2)
    expected, observed = M.calibration_curve(mu, y, sigma2, eps=0.0)
    np.testing.assert_allclose(expected, np.arange(1, 20) * 0.05)
    np.testing.assert_allclose(observed, expected, atol=0.01)
    assert M.calibration_error(mu, y, sigma2, eps=0.0) < 1e-4
    # reference by direct counting at a few levels
    z = np.abs(y) / np.sqrt(sigma2)
    for p in (0.5, 0.9):
        direct = np.mean(z <= scipy.stats.norm.ppf((1 + p) / 2))
        _, obs = M.calibration_curve(mu, y, sigma2, levels=[p], eps=0.0)
        assert obs[0] == pytest.approx(direct, abs=1e-4)
    # a variance 4x too small: over-confident, observed coverage below expected
    _, obs_small = M.calibration_curve(mu, y, sigma2 / 4, eps=0.0)
    assert (obs_small < expected).all()
    assert M.calibration_error(mu, y, sigma2 / 4, eps=0.0) > 0.01


def test_sigma_scaling_recovers_known_scale():
    n = 100_000
    true_s = 7.5
    var = RNG.uniform(0.001, 0.01, (2, n // 2))  # "training-free" variance, off by a factor 7.5
    mu = RNG.random((2, n // 2))
    y = mu + RNG.standard_normal((2, n // 2)) * np.sqrt(true_s * var)
    # closed form with eps = 0
    s0 = M.fit_variance_scale(mu, y, var, eps=0.0)
    assert s0 == pytest.approx(np.mean((y - mu) ** 2 / var))
    assert s0 == pytest.approx(true_s, rel=0.02)
    # with eps the exact minimiser; a list of images pools the pixels
    s = M.fit_variance_scale([mu[:1], mu[1:]], [y[:1], y[1:]], [var[:1], var[1:]], eps=1e-6)
    assert s == pytest.approx(true_s, rel=0.02)
    f = lambda k: M.nll(mu, y, M.apply_variance_scale(var, k), eps=1e-6)  # noqa: E731
    assert f(s) <= min(f(s * 1.01), f(s / 1.01))
    assert f(s) < f(1.0)


def test_sigma_scaling_exact_minimiser_with_large_eps():
    var = RNG.uniform(0.0, 0.02, (50, 50))
    mu = np.zeros((50, 50))
    y = RNG.standard_normal((50, 50)) * np.sqrt(3 * var + 0.01)
    s = M.fit_variance_scale(mu, y, var, eps=0.01)
    grid = np.exp(np.linspace(np.log(s) - 1, np.log(s) + 1, 201))
    vals = [M.nll(mu, y, k * var, eps=0.01) for k in grid]
    assert M.nll(mu, y, s * var, eps=0.01) <= min(vals) + 1e-9


def test_sigma_scaling_rejects_zero_variance():
    with pytest.raises(InputError, match="zero"):
        M.fit_variance_scale(np.zeros((4, 4)), np.ones((4, 4)), np.zeros((4, 4)))


# -- prediction quality ---------------------------------------------------------------------------
# -- ENCE, coverage, interval width ---------------------------------------------------------------
def test_ence_hand_computed_3x4():
    """12 pixels, 3 bins of 4 by variance; RMV / RMSE worked out by hand (exact squares)."""
    var = np.array([[1.0, 4.0, 9.0, 1.0], [4.0, 9.0, 1.0, 4.0], [9.0, 1.0, 4.0, 9.0]])
    err = np.array([[1.0, 2.0, 6.0, 1.0], [2.0, 6.0, 1.0, 2.0], [6.0, 1.0, 2.0, 6.0]])
    # bin 1 (var 1): RMV 1, RMSE 1 -> 0; bin 2 (var 4): RMV 2, RMSE 2 -> 0; bin 3 (var 9): RMV 3, RMSE 6 -> 1
    rel = M.reliability_diagram(np.zeros((1, 3, 4)), err[None], var, bins=3)
    np.testing.assert_allclose(rel.rmv, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(rel.rmse, [1.0, 2.0, 6.0])
    np.testing.assert_array_equal(rel.count, [4, 4, 4])
    np.testing.assert_allclose(rel.sigma_edges, [[1, 1], [2, 2], [3, 3]])
    assert M.ence(np.zeros((3, 4)), err, var, bins=3) == pytest.approx(1 / 3)
    # signed errors and several channels: the squared error of a pixel is the channel mean
    two = np.stack([err, -err])
    assert M.ence(np.zeros((2, 3, 4)), two, var, bins=3) == pytest.approx(1 / 3)
    # a mask keeps the var-1 and var-4 pixels only -> bins of (1, 1, 1, 1) ... all calibrated
    assert M.ence(np.zeros((3, 4)), err, var, bins=2, mask=var < 5) == pytest.approx(0.0)


def test_ence_unequal_bins_ties_and_eps():
    # 5 pixels into 2 bins: numpy.array_split sizes 3 + 2; ties (var 1) kept in row-major order
    var = np.array([1.0, 1.0, 1.0, 1.0, 4.0])
    sq = np.array([1.0, 1.0, 4.0, 9.0, 4.0])
    rel = M.reliability_vectors(sq, var, bins=2)
    np.testing.assert_array_equal(rel.count, [3, 2])
    assert rel.rmse[0] == pytest.approx(math.sqrt(2.0)) and rel.rmse[1] == pytest.approx(math.sqrt(6.5))
    assert rel.rmv[1] == pytest.approx(math.sqrt(2.5))
    ref = (abs(1 - math.sqrt(2)) / 1 + abs(math.sqrt(2.5) - math.sqrt(6.5)) / math.sqrt(2.5)) / 2
    assert M.ence_vectors(sq, var, bins=2) == pytest.approx(ref)
    assert M.ence_vectors(sq, var - 0.5, bins=2, eps=0.5) == pytest.approx(ref)  # eps added to the variance
    # more bins than pixels: one pixel per bin
    assert len(M.reliability_vectors(sq, var, bins=50).count) == 5
    with pytest.raises(InputError):
        M.ence_vectors(sq, -var)
    with pytest.raises(InputError):
        M.ence_vectors(sq, var[:3])


def test_ence_gaussian_calibrated_and_scaled():
    n = 200_000
    sigma2 = RNG.uniform(0.1, 4.0, n)
    r = RNG.standard_normal(n) * np.sqrt(sigma2)
    assert M.ence_vectors(r ** 2, sigma2, bins=10) < 0.02
    # a variance 4x too small: RMSE / RMV = 2 in every bin -> ENCE = 1
    assert M.ence_vectors(r ** 2, sigma2 / 4, bins=10) == pytest.approx(1.0, abs=0.03)


def test_coverage_and_width_hand_computed():
    y = np.array([[[0.0, 1.0], [2.0, 3.0]], [[0.5, 5.0], [2.0, -1.0]]])  # [2, 2, 2]
    lo = np.zeros((2, 2))
    hi = np.full((2, 2), 2.0)       # shared by both channels
    # inside: ch0 0, 1, 2 (3 is out); ch1 0.5, 2 (5 and -1 are out) -> 5 of 8
    assert M.coverage(y, lo, hi) == pytest.approx(5 / 8)
    mask = np.array([[True, True], [False, False]])
    assert M.coverage(y, lo, hi, mask=mask) == pytest.approx(3 / 4)  # 0, 1, 0.5 in; 5 out
    assert M.interval_width(lo, hi) == pytest.approx(2.0)
    assert M.interval_width(np.array([[0.0, 1.0]]), np.array([[1.0, 5.0]])) == pytest.approx(2.5)
    assert M.interval_width(lo, np.where(mask, 1.0, 9.0), mask=mask) == pytest.approx(1.0)
    assert M.coverage(y, np.full((2, 2), -np.inf), np.full((2, 2), np.inf)) == 1.0
    with pytest.raises(InputError):
        M.coverage(y, hi, lo)  # swapped bounds
    with pytest.raises(InputError):
        M.coverage(y, np.zeros((3, 3)), np.ones((3, 3)))


def test_psnr_ssim_match_skimage_on_y_channel_with_border():
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    hr = smooth_image(40, 40)
    sr = np.clip(hr + 0.05 * RNG.standard_normal(hr.shape), 0, 1)
    q = lambda a: np.round(a * 255) / 255  # noqa: E731
    y = lambda a: (16 + 65.481 * a[0] + 128.553 * a[1] + 24.966 * a[2]) / 255  # noqa: E731
    ys, yh = y(q(sr))[4:-4, 4:-4], y(q(hr))[4:-4, 4:-4]
    assert M.psnr(sr, hr, border=4) == pytest.approx(10 * np.log10(1 / np.mean((ys - yh) ** 2)))
    assert M.psnr(torch.from_numpy(sr), torch.from_numpy(hr), border=4) == pytest.approx(peak_signal_noise_ratio(yh, ys, data_range=1))
    assert M.ssim(sr, hr, border=4) == pytest.approx(
        structural_similarity(yh, ys, data_range=1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False))
    rgb = M.psnr(sr, hr, y_channel=False)
    assert rgb == pytest.approx(10 * np.log10(1 / np.mean((q(sr) - q(hr)) ** 2)))
    assert M.psnr(hr, hr) == float("inf")


def test_depth_quality_hand_checked():
    gt = np.array([[1.0, 2.0], [4.0, 0.0]])  # the 0 is missing ground truth
    pred = np.array([[1.1, 2.0], [2.0, 9.0]])
    q = M.depth_quality(pred, gt)
    assert q["abs_rel"] == pytest.approx((0.1 / 1 + 0 + 2 / 4) / 3)
    assert q["rmse"] == pytest.approx(np.sqrt((0.01 + 0 + 4) / 3))
    assert q["log10"] == pytest.approx((np.log10(1.1) + 0 + np.log10(2)) / 3)
    assert q["delta1"] == pytest.approx(2 / 3)
    assert q["delta2"] == pytest.approx(2 / 3)  # ratio 2 > 1.5625
    assert q["delta3"] == pytest.approx(2 / 3)  # 1.25**3 = 1.953 < 2
    with pytest.raises(InputError, match="no valid"):
        M.depth_quality(pred, np.zeros((2, 2)))


# -- properties ----------------------------------------------------------------------------------
finite = st.floats(0.0, 100.0, allow_nan=False, width=32)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, (6, 7), elements=finite), arrays(np.float64, (6, 7), elements=finite),
       st.integers(2, 20))
def test_property_ause_nonnegative_and_bounded(e, u, steps):
    sp = M.sparsification(e, u, steps=steps)
    assert sp.ause >= -1e-9
    assert np.all(sp.estimate >= sp.oracle - 1e-9)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, (5, 8), elements=finite), arrays(np.float64, (5, 8), elements=st.integers(0, 6).map(float)),
       st.floats(0.1, 10.0), st.floats(-5.0, 5.0))
def test_property_monotone_invariance_with_ties(e, u, a, b):
    # integer-valued uncertainty has many ties; an increasing affine map keeps ties and order
    ref = M.sparsification(e, u, steps=10)
    got = M.sparsification(e, a * u + b, steps=10)
    np.testing.assert_allclose(got.estimate, ref.estimate, atol=1e-9)
    assert M.ause(e, np.exp(u / 3), steps=10) == pytest.approx(ref.ause, abs=1e-9)


def test_spearman_with_many_ties_matches_scipy():
    e = RNG.integers(0, 5, (12, 12)).astype(float)
    u = RNG.integers(0, 3, (12, 12)).astype(float) + e
    assert M.spearman(e, u) == pytest.approx(scipy.stats.spearmanr(e.ravel(), u.ravel())[0], abs=1e-12)
    np.testing.assert_allclose(M.ranks(e.ravel()), scipy.stats.rankdata(e.ravel()))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_tensors_equal_numpy():
    e = torch.rand(20, 24, dtype=torch.float64)
    u = e + torch.rand(20, 24, dtype=torch.float64)
    assert M.ause(e.cuda(), u.cuda()) == M.ause(e.numpy(), u.numpy())
    assert M.pearson(e.cuda(), u.cuda(), level="patch", patch=8) == M.pearson(e.numpy(), u.numpy(), level="patch", patch=8)
    assert M.nll(e.cuda(), u.cuda(), u.cuda()) == M.nll(e.numpy(), u.numpy(), u.numpy())


# -- the docstrings' examples ---------------------------------------------------------------------
METRIC_FAMILIES = ["validation", "levels", "sparsification", "correlation", "likelihood", "calibration", "quality",
                  "alignment", "ordering"]


@pytest.mark.parametrize("family", METRIC_FAMILIES)
def test_docstring_examples_run(family):
    import doctest
    import importlib

    module = importlib.import_module(f"uqcore.metrics.{family}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0 and result.failed == 0, result


def test_every_public_metric_has_an_example():
    """As torchmetrics does: each public function (and class) shows a ``>>>`` example."""
    for name in M.__all__:
        obj = getattr(M, name)
        if callable(obj):
            assert ">>> " in (obj.__doc__ or ""), f"uqcore.metrics.{name} has no >>> example"
            assert obj.__module__.startswith("uqcore.metrics."), name
