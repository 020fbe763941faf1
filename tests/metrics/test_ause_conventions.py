"""The unnormalised AUSE (curves in the error's units) against an independent loop, and its link
to the normalised one."""

import numpy as np
import pytest

import uqcore.metrics as M


def _reference_raw_ause(e: np.ndarray, u: np.ndarray, steps: int) -> float:
    """Remove floor(k/K * N) pixels by descending uncertainty (no ties) or error, mean of the rest
    in the error's units, trapezoid over k/K: a plain loop, no normalisation anywhere."""
    e, u = e.ravel(), u.ravel()
    n = e.size
    by_u, by_e = e[np.argsort(-u)], np.sort(e)[::-1]
    diff = []
    for k in range(steps):
        m = (k * n) // steps
        diff.append(by_u[m:].mean() - by_e[m:].mean())
    return sum((diff[i] + diff[i + 1]) / 2 / steps for i in range(steps - 1))


def test_unnormalised_ause_matches_a_plain_loop():
    rng = np.random.default_rng(3)
    e = rng.gamma(2.0, 0.01, (17, 23))
    u = e * rng.uniform(0.2, 2.0, e.shape) + rng.uniform(0, 0.01, e.shape)  # continuous: no ties
    for steps in (4, 20, 50):
        ref = _reference_raw_ause(e, u, steps)
        assert M.ause(e, u, steps, normalise=False) == pytest.approx(ref, rel=1e-10)
        assert M.sparsification(e, u, steps).ause_raw == pytest.approx(ref, rel=1e-10)
        # the normalised AUSE is the same area divided by the mean error
        assert M.ause(e, u, steps) == pytest.approx(ref / e.mean(), rel=1e-10)


def test_both_conventions_in_the_single_image_numbers_and_the_identity():
    rng = np.random.default_rng(4)
    e = rng.gamma(2.0, 0.02, (32, 32))
    u = e + rng.uniform(0, 0.05, e.shape)
    out = M.correlations(e, u, patch=8)
    for lv in ("pixel", "patch"):
        assert out[f"ause_raw_{lv}"] == pytest.approx(M.ause(e, u, level=lv, patch=8, normalise=False), rel=1e-12)
        # patch tiles weigh by their pixel count: the curves' divisor is the image's mean error
        assert out[f"ause_raw_{lv}"] == pytest.approx(float(M.ause_in_error_units(out[f"ause_{lv}"], e.mean())),
                                                      rel=1e-10)
