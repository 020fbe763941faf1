"""uqcore.metrics.segment / lcm_segments: a slow reference, the LCM identity, region properties."""

import math

import numpy as np
import pytest
import torch

import uqcore.metrics as M
from uqcore.errors import InputError


def reflect(i: int, n: int) -> int:
    """scipy.ndimage's 'reflect' border (d c b a | a b c d | d c b a)."""
    while i < 0 or i >= n:
        i = -i - 1 if i < 0 else 2 * n - 1 - i
    return i


def slow_field(mass: np.ndarray, sigma: float) -> np.ndarray:
    """G_sigma * mass by explicit sums over the truncated (4 sigma) normalised 1-D kernels."""
    r = int(4 * sigma + 0.5)
    k = np.array([math.exp(-(j * j) / (2 * sigma * sigma)) for j in range(-r, r + 1)])
    k /= k.sum()
    h, w = mass.shape
    out = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            out[y, x] = sum(k[a + r] * k[b + r] * mass[reflect(y + a, h), reflect(x + b, w)]
                            for a in range(-r, r + 1) for b in range(-r, r + 1))
    return out


def slow_lcm(mass: np.ndarray, sigma: float) -> np.ndarray:
    """Walk every pixel uphill one 3x3 step at a time; flood-fill the sinks; label by sink."""
    field = slow_field(mass, sigma)
    h, w = field.shape

    def step(y, x):
        best, to = field[y, x], (y, x)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                yy, xx = y + dy, x + dx
                if 0 <= yy < h and 0 <= xx < w and field[yy, xx] > best:
                    best, to = field[yy, xx], (yy, xx)
        return to

    sink_of = {}
    sinks = {(y, x) for y in range(h) for x in range(w) if step(y, x) == (y, x)}
    for start in sorted(sinks):  # raster order: the label numbering
        if start in sink_of:
            continue
        stack, sink_of[start] = [start], len({*sink_of.values()})
        while stack:
            y, x = stack.pop()
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    n = (y + dy, x + dx)
                    if n in sinks and n not in sink_of:
                        sink_of[n] = sink_of[start]
                        stack.append(n)
    labels = np.zeros((h, w), dtype=np.int64)
    for y in range(h):
        for x in range(w):
            p = (y, x)
            while step(*p) != p:
                p = step(*p)
            labels[y, x] = sink_of[p]
    return labels


def four_regions(seed: int, n: int = 48, noise: float = 0.05):
    rng = np.random.default_rng(seed)
    truth = np.zeros((n, n), dtype=int)
    truth[: n // 2, n // 2:], truth[n // 2:, : n // 2], truth[n // 2:, n // 2:] = 1, 2, 3
    levels = rng.permutation([0.15, 0.4, 0.65, 0.9])
    img = levels[truth][None] + rng.normal(0, noise, (3, n, n))
    return img, truth


def purity(labels: np.ndarray, truth: np.ndarray) -> float:
    return sum(np.bincount(truth[labels == s]).max() for s in np.unique(labels)) / labels.size


@pytest.mark.parametrize("mass", ["homogeneity", "intensity"])
def test_lcm_matches_a_slow_reference(mass):
    rng = np.random.default_rng(3)
    img = np.clip(np.kron(rng.random((3, 3, 4)), np.ones((1, 5, 4))) + rng.normal(0, 0.03, (3, 15, 16)), 0, 1)
    sigma = 1.5
    expected = slow_lcm(M.lcm_mass(img, mass), sigma)
    got = M.lcm_segments(img, sigma=sigma, mass=mass)
    np.testing.assert_array_equal(got, expected)
    assert got.max() >= 1


def test_homogeneity_mass_definition():
    from scipy import ndimage as ndi

    img = np.random.default_rng(0).random((3, 10, 12))
    g = np.sqrt(sum(ndi.gaussian_gradient_magnitude(c, 1.0) ** 2 for c in img))
    np.testing.assert_allclose(M.lcm_mass(img), np.exp(-g / g.mean()))
    np.testing.assert_array_equal(M.lcm_mass(np.full((3, 5, 5), 0.3)), np.ones((5, 5)))  # no edges: uniform


def test_flow_follows_the_local_centre_of_mass():
    """c(x) - x computed by explicit Gaussian-weighted sums points where the pixels step."""
    img = np.random.default_rng(1).random((3, 6, 6))
    img = np.kron(img, np.ones((1, 4, 4)))  # 24 x 24, blocky
    sigma = 2.0
    mass = M.lcm_mass(img)
    field = slow_field(mass, sigma)
    h, w = mass.shape
    r = int(4 * sigma)
    agree = total = 0
    for y in range(r, h - r):
        for x in range(r, w - r):
            ys, xs = np.mgrid[y - r:y + r + 1, x - r:x + r + 1]
            wgt = mass[ys, xs] * np.exp(-((ys - y) ** 2 + (xs - x) ** 2) / (2 * sigma ** 2))
            d = np.array([(wgt * ys).sum(), (wgt * xs).sum()]) / wgt.sum() - (y, x)
            nb = field[y - 1:y + 2, x - 1:x + 2]
            dy, dx = np.unravel_index(np.argmax(nb), nb.shape)
            if (dy, dx) == (1, 1) or np.hypot(*d) < 0.05:
                continue
            total += 1
            agree += (dy - 1) * d[0] + (dx - 1) * d[1] > 0
    assert total > 10 and agree / total > 0.9


def test_piecewise_constant_images_give_their_regions():
    truth = np.zeros((40, 40), dtype=int)
    truth[:, 20:] = 1
    truth[25:, :] += 2  # four rectangles
    img = np.array([0.1, 0.5, 0.8, 0.3])[truth]
    labels = M.segment(img)
    assert len(np.unique(labels)) == 4
    majority = {s: np.bincount(truth[labels == s]).argmax() for s in np.unique(labels)}
    assert sorted(majority.values()) == [0, 1, 2, 3]  # one segment per region
    wrong = np.argwhere(np.vectorize(majority.get)(labels) != truth)
    # only where the four regions meet (rows 24/25, columns 19/20) may a pixel go astray
    assert len(wrong) <= 4 and all(abs(y - 24.5) <= 1 and abs(x - 19.5) <= 1 for y, x in wrong)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bar_four_flat_noisy_regions(seed):
    img, truth = four_regions(seed)
    labels = M.segment(img)
    assert purity(labels, truth) >= 0.9
    assert labels.size / (labels.max() + 1) >= 16  # regions, not pixels
    np.testing.assert_array_equal(labels, M.segment(torch.from_numpy(img)))  # deterministic


def test_segment_options_and_errors():
    img, _ = four_regions(0, n=32)
    np.testing.assert_array_equal(M.segment(img, method="slic"), M.superpixels(img))
    assert M.BLOCK_SEGMENTER == "lcm" and set(M.SEGMENTERS) == {"lcm", "slic"}
    with pytest.raises(InputError, match="method"):
        M.segment(img, method="watershed")
    with pytest.raises(InputError, match="sigma"):
        M.segment(img, sigma=0)
    with pytest.raises(InputError, match="mass"):
        M.lcm_mass(img, mass="depth")
