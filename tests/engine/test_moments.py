"""Half-sample maps and the reliability of a map shown as block means (uqcore.engine.moments)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch

import uqcore
from uqcore.engine.moments import block_reliability, maps_reliability

from tests.tiny_models import make_tiny_sr


def reference_block_reliability(first, second, block):
    """Independent: block means by explicit loops over blocks (NaN pixels skipped), Spearman by
    scipy over the blocks finite in both, Spearman-Brown 2r / (1 + r) with r < 0 counted as 0."""
    def means(m):
        h, w = m.shape
        out = []
        for top in range(0, h, block):
            for left in range(0, w, block):
                cell = m[top:top + block, left:left + block]
                cell = cell[np.isfinite(cell)]
                out.append(cell.mean() if cell.size else np.nan)
        return np.array(out)

    a, b = means(np.asarray(first, float)), means(np.asarray(second, float))
    keep = np.isfinite(a) & np.isfinite(b)
    r = max(scipy.stats.spearmanr(a[keep], b[keep]).statistic, 0.0)
    return 2 * r / (1 + r)


@pytest.mark.parametrize("shape, block", [((40, 36), 4), ((37, 29), 5), ((20, 20), 1)])
def test_block_reliability_matches_an_independent_computation(shape, block):
    g = np.random.default_rng(0)
    signal = g.gamma(2.0, size=shape)
    first, second = signal + g.normal(0, 0.8, shape), signal + g.normal(0, 0.8, shape)
    first[:7, :9] = np.nan  # a tile not computed yet
    second[:7, :9] = np.nan
    got = block_reliability(torch.from_numpy(first).float(), torch.from_numpy(second).float(), block)
    assert got == pytest.approx(reference_block_reliability(first.astype(np.float32), second.astype(np.float32),
                                                            block), abs=1e-9)


def test_block_means_are_steadier_than_pixels():
    """Averaging noisy half maps over blocks raises their agreement (what an overview shows)."""
    g = np.random.default_rng(1)
    smooth = np.kron(g.gamma(2.0, size=(8, 8)), np.ones((8, 8)))
    first, second = smooth + g.normal(0, 1.0, smooth.shape), smooth + g.normal(0, 1.0, smooth.shape)
    assert block_reliability(first, second, 8) > block_reliability(first, second, 1) + 0.2


def test_estimate_halves_give_its_reliability_and_tiles_assemble_them():
    model = make_tiny_sr()
    x = torch.rand((1, 3, 30, 26), generator=torch.Generator().manual_seed(0))
    kw = dict(method="noise", layer="body.1", strength=0.2, samples=6, seed=1)
    whole = uqcore.estimate(model, x, **kw)
    even, odd = whole.halves
    assert even.shape == odd.shape == whole.variance.shape
    # the two halves' variances combine to the whole map's (Chan's merge of 3 + 3 samples)
    assert whole.reliability == pytest.approx(maps_reliability(even, odd), abs=1e-6)
    tiled = uqcore.estimate(model, x, tile=20, **kw)
    assert tiled.tiles > 1
    torch.testing.assert_close(tiled.halves[0], even, atol=1e-3 * float(even.max()), rtol=0)
    assert tiled.reliability == pytest.approx(whole.reliability, abs=1e-3)
    box = (10, 8, 30, 24)
    part = uqcore.estimate(model, x, region=box, **kw)
    t, l, h, w = box
    assert part.reliability == pytest.approx(maps_reliability(even[t:t + h, l:l + w], odd[t:t + h, l:l + w]),
                                             abs=1e-3)
    assert uqcore.estimate(model, x, method="transform", samples=1).halves is None


def test_region_auto_stops_on_the_reliability_of_the_box_it_shows():
    model = make_tiny_sr()
    x = torch.rand((1, 3, 30, 26), generator=torch.Generator().manual_seed(2))
    kw = dict(method="noise", layer="body.1", strength=0.2, seed=2, samples="auto", target=0.2, round_size=4)
    box = (6, 4, 20, 16)
    part = uqcore.estimate(model, x, region=box, **kw)
    # every checkpoint of the trace is the box's reliability: the last one is what the estimate reports
    assert part.trace[-1][0] == part.samples
    assert part.trace[-1][1] == pytest.approx(part.reliability, abs=1e-4)
    assert part.reliability >= 0.2 and 4 < part.samples < 64
    # and the box's reliability, not the crop's, decided when to stop
    fixed = uqcore.estimate(model, x, region=box, **{**kw, "samples": part.samples})
    assert fixed.reliability == pytest.approx(part.reliability, abs=1e-6)
    before = uqcore.estimate(model, x, region=box, **{**kw, "samples": part.samples - 4})
    assert before.reliability < 0.2
