"""Segmentations of a prediction for the block level: local centre of mass (default) and SLIC.

The paper's supplement segments the model output with "the local-center-of-mass approach
(Aganj et al. 2018)"; :func:`lcm_segments` is that flow (definition in its docstring), SLIC
(:func:`uqcore.metrics.superpixels`) stays available as ``method="slic"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from uqcore.errors import InputError
from uqcore.metrics.validation import as_image, check_finite

SEGMENTERS = ("lcm", "slic")
BLOCK_SEGMENTER = "lcm"  # what the block level uses when no segments= are passed
LCM_SIGMA = 3.0  # Gaussian window (px) of the local centre of mass
LCM_EDGE_SIGMA = 1.0  # Gaussian derivative scale (px) of the edge strength in the mass
# SLIC parameters (method="slic"); see :func:`superpixels`.
SLIC_COMPACTNESS = 10.0
SLIC_PIXELS_PER_SEGMENT = 256  # = a 16 x 16 tile, the default patch size

__all__ = ["SEGMENTERS", "BLOCK_SEGMENTER", "LCM_SIGMA", "segment", "lcm_segments", "lcm_mass", "superpixels"]


def segment(image: Any, method: str = BLOCK_SEGMENTER, *, sigma: float = LCM_SIGMA, mass: str = "homogeneity",
            n_segments: int | None = None, compactness: float | None = None) -> np.ndarray:
    """int64 [H, W] segment labels (0..S-1) of an image / prediction ([C, H, W], [H, W] or
    [1, C, H, W]; numpy or torch): ``method="lcm"`` (default, :func:`lcm_segments` with
    ``sigma`` and ``mass``) or ``method="slic"`` (:func:`uqcore.metrics.superpixels` with
    ``n_segments`` and ``compactness``). Deterministic.

    >>> import numpy as np
    >>> from uqcore.metrics import segment
    >>> img = np.zeros((1, 24, 24)); img[:, :, 12:] = 1.0
    >>> labels = segment(img)
    >>> bool((labels[:, :11, None] != labels[:, None, 13:]).all())  # no segment crosses the edge
    True
    """
    if method == "lcm":
        return lcm_segments(image, sigma=sigma, mass=mass)
    if method == "slic":
        return superpixels(image, n_segments, SLIC_COMPACTNESS if compactness is None else compactness)
    raise InputError(f"method must be one of {SEGMENTERS}, got {method!r}")


def _normalised(image: Any) -> np.ndarray:
    """float64 [C, H, W]: 3 channels clipped to [0, 1], any other count min-max scaled to [0, 1]
    (as :func:`uqcore.metrics.superpixels` prepares its input)."""
    p = as_image(image, "image")
    check_finite(p, "image")
    if p.shape[0] == 3:
        return np.clip(p, 0.0, 1.0)
    lo, hi = float(p.min()), float(p.max())
    return (p - lo) / (hi - lo) if hi > lo else np.zeros_like(p)


def lcm_mass(image: Any, mass: str = "homogeneity") -> np.ndarray:
    """float64 [H, W] mass density of :func:`lcm_segments`.

    ``homogeneity``: m = exp(-g / mean(g)) with g the colour gradient magnitude
    sqrt(sum_c |grad(G_1 * I_c)|^2) (``scipy.ndimage.gaussian_gradient_magnitude``, sigma 1 px,
    reflecting borders); m = 1 everywhere when g is 0. Mass sits inside uniform regions and is
    missing on edges. ``intensity``: m = the channel-mean intensity minus its minimum (Aganj et
    al.'s mass: with it a dark region's border flows into its brighter neighbour).

    >>> import numpy as np
    >>> from uqcore.metrics import lcm_mass
    >>> img = np.zeros((1, 9, 9)); img[:, :, 5:] = 1.0
    >>> m = lcm_mass(img)
    >>> bool(m[4, 0] > 0.99 and m[4, 4] < 0.1)  # mass inside the regions, none on the edge
    True
    """
    from scipy import ndimage as ndi  # lazy: keeps `import uqcore.metrics` light

    img = _normalised(image)
    if mass == "intensity":
        grey = img.mean(axis=0)
        return grey - grey.min()
    if mass != "homogeneity":
        raise InputError(f"mass must be 'homogeneity' or 'intensity', got {mass!r}")
    g = np.sqrt(sum(ndi.gaussian_gradient_magnitude(c, LCM_EDGE_SIGMA, mode="reflect") ** 2 for c in img))
    scale = float(g.mean())
    return np.exp(-g / scale) if scale > 0 else np.ones_like(g)


def lcm_segments(image: Any, sigma: float = LCM_SIGMA, mass: str = "homogeneity") -> np.ndarray:
    """int64 [H, W] local-centre-of-mass segments (after Aganj et al. 2018).

    Definition. With the mass m (:func:`lcm_mass`) and the Gaussian G_sigma, the local centre of
    mass of pixel x is c(x) = sum_y m(y) G(x - y) y / sum_y m(y) G(x - y), and its displacement
    c(x) - x = sigma^2 grad(M)(x) / M(x) with M = G_sigma * m: moving each pixel to its centre of
    mass is an ascent of M. On the pixel grid each pixel steps to the pixel of its 3 x 3
    neighbourhood (itself included) with the largest M (``scipy.ndimage.gaussian_filter``,
    truncate 4, reflecting borders; ties: the pixel itself, else the first in row-major order);
    pixels that step to themselves are sinks, and 8-connected sinks (necessarily of equal M)
    form one sink. Every pixel follows its steps to a sink; pixels are labelled by their sink,
    the labels numbered 0..S-1 in the raster order of the sinks. Segments therefore stop at
    edges (the mass is missing there, so pixels on either side flow into their own region) and
    have about the size of the Gaussian window (sigma = 3: about 100-500 pixels on natural
    images; a uniform region with no structure is one segment).

    >>> import numpy as np
    >>> from uqcore.metrics import lcm_segments
    >>> img = np.zeros((20, 20)); img[:, 10:] = 1.0
    >>> labels = lcm_segments(img)
    >>> labels.dtype, int(labels.min()), len(np.unique(labels[:, :9])), bool(set(labels[:, :9].ravel()) & set(labels[:, 11:].ravel()))
    (dtype('int64'), 0, 1, False)
    """
    from scipy import ndimage as ndi

    if not float(sigma) > 0:
        raise InputError(f"sigma must be positive, got {sigma!r}")
    field = ndi.gaussian_filter(lcm_mass(image, mass), float(sigma), mode="reflect")
    h, w = field.shape
    step = _steepest_neighbour(field)
    sinks, _ = ndi.label((step == np.arange(h * w)).reshape(h, w), structure=np.ones((3, 3), dtype=bool))
    end = step
    while True:  # pointer jumping: every pixel's path to its sink in O(log length) rounds
        nxt = end[end]
        if np.array_equal(nxt, end):
            break
        end = nxt
    _, labels = np.unique(sinks.ravel()[end], return_inverse=True)
    return labels.reshape(h, w).astype(np.int64)


def _steepest_neighbour(field: np.ndarray) -> np.ndarray:
    """Flat index of the pixel of each pixel's 3 x 3 neighbourhood with the largest value (the
    pixel itself on ties, then the first in row-major order)."""
    h, w = field.shape
    padded = np.pad(field, 1, constant_values=-np.inf)
    index = np.arange(h * w).reshape(h, w)
    best, step = field.copy(), index.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == dx == 0:
                continue
            value = padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
            better = value > best
            best = np.where(better, value, best)
            step = np.where(better, index + dy * w + dx, step)
    return step.ravel()


def superpixels(prediction: Any, n_segments: int | None = None, compactness: float = SLIC_COMPACTNESS) -> np.ndarray:
    """int64 [H, W] SLIC superpixel labels (0..S-1) of a prediction (``segment(..., method="slic")``;
    the block level's default is the local-centre-of-mass segmentation, :func:`uqcore.metrics.segment`).

    Algorithm: ``skimage.segmentation.slic`` (SLIC, Achanta et al. 2012) with
    ``n_segments = max(1, round(H*W / 256))`` (about one segment per 16 x 16 tile, the default
    patch size), ``compactness=10``, ``sigma=0``, ``start_label=0``, ``enforce_connectivity=True``,
    ``max_num_iter=10``. A 3-channel prediction is clipped to [0, 1] and segmented in CIELAB
    (``convert2lab=True``, L in 0..100). Any other channel count (e.g. depth in metres) is
    min-max normalised per image to 0..100 -- the same range as L -- so that ``compactness``
    means the same thing for every task. Labels are relabelled to be consecutive. If enforcing
    connectivity leaves a single segment (an unstructured, noise-like prediction), SLIC is rerun
    with ``enforce_connectivity=False`` so the block level still has blocks.

    >>> import numpy as np
    >>> from uqcore.metrics import superpixels
    >>> labels = superpixels(np.random.default_rng(0).random((3, 32, 32)))
    >>> labels.shape, labels.dtype, int(labels.min())
    ((32, 32), dtype('int64'), 0)
    """
    from skimage.segmentation import slic  # heavy (0.3 s): imported on first use, so `import uqcore.metrics` stays light

    p = as_image(prediction, "prediction")
    c, h, w = p.shape
    check_finite(p, "prediction")
    if n_segments is None:
        n_segments = max(1, int(round(h * w / SLIC_PIXELS_PER_SEGMENT)))
    img = np.moveaxis(p, 0, -1)
    if c == 3:
        img = np.clip(img, 0.0, 1.0)
        lab = True
    else:
        lo, hi = float(img.min()), float(img.max())
        img = (img - lo) / (hi - lo) * 100.0 if hi > lo else np.zeros_like(img)
        lab = False
    kw = dict(n_segments=int(n_segments), compactness=float(compactness), sigma=0, start_label=0,
              max_num_iter=10, convert2lab=lab, channel_axis=-1)
    labels = slic(img, enforce_connectivity=True, **kw)
    if labels.max() == 0 and n_segments > 1:
        # Pure noise (no structure) makes every SLIC cluster fragmented, and enforcing
        # connectivity then merges everything into one segment; keep the clusters instead.
        labels = slic(img, enforce_connectivity=False, **kw)
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse.reshape(h, w).astype(np.int64)
