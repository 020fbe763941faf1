"""Holm's step-down correction and the paired bootstrap's p-value."""

import numpy as np
import pytest

from uqcore.scoring import stats


def test_holm_by_hand():
    # m = 4, sorted p: 0.01, 0.02, 0.03, 0.04 -> 4*0.01 = 0.04, 3*0.02 = 0.06, 2*0.03 = 0.06 (max with 0.06),
    # 1*0.04 = 0.04 -> running max 0.06; given in another order, returned in that order
    p = [0.03, 0.01, 0.04, 0.02]
    assert stats.holm(p) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    # capped at 1; NaN is left out of the family (m = 2 here)
    assert stats.holm([0.6, float("nan"), 0.01]) == pytest.approx([0.6, float("nan"), 0.02], nan_ok=True)
    # at alpha 0.05 only the smallest is rejected, where uncorrected all four would be
    assert list(stats.holm(p) < 0.05) == [False, True, False, False]


def test_holm_family_collects_then_adjusts():
    fam = stats.HolmFamily()
    for key, p in zip("abcd", [0.03, 0.01, 0.04, 0.02]):
        fam.add(key, p)
        assert fam.adjusted(key, p) == p  # still collecting: the raw p-value
    fam.close()
    fam.add("e", 0.001)  # closed: no new members
    assert len(fam) == 4 and fam.adjusted("b", 0.01) == pytest.approx(0.04) and fam.adjusted("a", 0.03) == pytest.approx(0.06)


def test_bootstrap_p_value():
    assert stats.bootstrap_p(np.ones(999)) == pytest.approx(2 / 1000)  # never crosses 0: the floor
    assert stats.bootstrap_p(np.r_[-np.ones(500), np.ones(499)]) == pytest.approx(1.0)
    d = np.r_[-np.ones(24), np.ones(975)]  # 24 of 999 at or below 0
    assert stats.bootstrap_p(d) == pytest.approx(2 * 25 / 1000)
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.5, 0.1, 30), rng.normal(0.3, 0.1, 30)
    iv = stats.paired_bootstrap([a], [b])
    assert iv.p < 0.01 and not iv.contains(0.0)
    same = stats.paired_bootstrap([a], [a + rng.normal(0, 0.01, 30)])
    assert same.p > 0.05
