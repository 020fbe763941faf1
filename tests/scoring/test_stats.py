"""uqcore.scoring.stats: bootstrap intervals against independent references (a numpy loop, scipy)."""

import numpy as np
import pytest
from scipy import stats as sps

from uqcore.scoring import stats


def test_bootstrap_mean_matches_a_hand_loop_on_a_toy_table():
    values = np.array([0.41, 0.52, 0.38, 0.47, 0.60, 0.33, 0.44])
    got = stats.bootstrap([values], n_resamples=500, seed=3)
    # hand computation: the same indices, one resample at a time, then the two percentiles
    rng = np.random.default_rng(3)
    idx = rng.integers(0, len(values), (500, len(values)))
    means = sorted(float(sum(values[j] for j in row) / len(row)) for row in idx)
    lo, hi = np.percentile(means, [2.5, 97.5])
    assert got.estimate == pytest.approx(values.mean())
    assert got.lo == pytest.approx(lo) and got.hi == pytest.approx(hi)
    assert got.lo < got.estimate < got.hi and got.n == 7


def test_bootstrap_matches_scipy_percentile_with_the_same_resamples():
    x = np.random.default_rng(0).normal(size=30)
    ours = stats.bootstrap([x], n_resamples=2000, seed=11)
    ref = sps.bootstrap((x,), np.mean, n_resamples=2000, method="percentile", confidence_level=0.95,
                        rng=np.random.default_rng(11), vectorized=False)
    assert ours.lo == pytest.approx(ref.confidence_interval.low, rel=1e-12)
    assert ours.hi == pytest.approx(ref.confidence_interval.high, rel=1e-12)


def test_paired_pearson_matches_scipy_paired_resamples():
    rng = np.random.default_rng(1)
    x = rng.normal(size=25)
    y = x + rng.normal(size=25)
    ours = stats.bootstrap([x, y], stats.pearson_rows, n_resamples=1000, seed=5)

    def r(a, b):
        return np.corrcoef(a, b)[0, 1]
    ref = sps.bootstrap((x, y), r, paired=True, vectorized=False, n_resamples=1000, method="percentile",
                        rng=np.random.default_rng(5))
    assert ours.estimate == pytest.approx(r(x, y))
    assert ours.lo == pytest.approx(ref.confidence_interval.low, rel=1e-9)
    assert ours.hi == pytest.approx(ref.confidence_interval.high, rel=1e-9)


def test_nanmean_leaves_nan_out_and_loop_statistic_agrees():
    v = np.array([0.2, np.nan, 0.4, 0.6, np.nan, 0.1])
    vec = stats.bootstrap([v], n_resamples=300, seed=2)
    loop = stats.bootstrap([v], lambda a: np.nanmean(a) if np.isfinite(a).any() else np.nan, n_resamples=300,
                           seed=2, vectorized=False)
    assert vec.estimate == pytest.approx(0.325)
    assert (vec.lo, vec.hi) == pytest.approx((loop.lo, loop.hi))


def test_paired_bootstrap_separates_a_planted_difference_and_not_equal_methods():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.6, size=40)          # per-image values shared by both (image difficulty)
    a = base + 0.05 + rng.normal(0, 0.01, size=40)  # method A: 0.05 better on every image
    b = base + rng.normal(0, 0.01, size=40)
    diff = stats.paired_bootstrap([a], [b])
    assert not diff.contains(0.0) and diff.lo > 0.03
    same = stats.paired_bootstrap([b], [b + rng.normal(0, 0.01, size=40)])
    assert same.contains(0.0)
    # unpaired intervals overlap here: the pairing is what separates them
    ia, ib = stats.bootstrap([a]), stats.bootstrap([b])
    assert ia.lo < ib.hi


def test_paired_difference_is_the_difference_of_the_same_resamples():
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.5, 2.5, 2.0, 3.0])
    d = stats.paired_bootstrap([a], [b], n_resamples=200, seed=4)
    ref = stats.bootstrap([a - b], n_resamples=200, seed=4)  # the mean is linear: same numbers
    assert (d.estimate, d.lo, d.hi) == pytest.approx((ref.estimate, ref.lo, ref.hi))


def test_deterministic_small_n_and_formatting():
    v = np.array([0.1, 0.5, 0.3])
    assert stats.bootstrap([v], seed=9) == stats.bootstrap([v], seed=9)
    one = stats.bootstrap([np.array([0.449])])
    assert one.estimate == pytest.approx(0.449) and np.isnan(one.lo) and one.text() == "0.449"
    assert stats.Interval(0.449, 0.412, 0.486, 8).text() == "0.449 [0.412, 0.486]"
    assert stats.format_interval(float("nan"), 0, 1) == "–"
    with pytest.raises(ValueError):
        stats.bootstrap([np.array([1.0, 2.0]), np.array([1.0])])
