"""The scoring levels (pixel, patch, block, mean): tiles, superpixels and pooling (the block
level's default segmentation is :func:`uqcore.metrics.segment`, local centre of mass).

``prepare`` turns (error, uncertainty) maps into the 1-D vectors scored at a level; the
sparsification and correlation families both use it. Definitions in ``uqcore.metrics``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from uqcore.errors import InputError
from uqcore.metrics.segmentation import SLIC_COMPACTNESS, SLIC_PIXELS_PER_SEGMENT, segment, superpixels
from uqcore.metrics.validation import (
    as_float64,
    as_image,
    as_map,
    as_mask,
    check_finite,
    check_same_shape,
    squeeze_to,
)

LEVELS = ("pixel", "patch", "block", "mean")


__all__ = ["LEVELS", "patch_labels", "superpixels"]


def patch_labels(shape: tuple[int, int], patch: int = 16) -> np.ndarray:
    """int64 [H, W] tile index of every pixel: non-overlapping ``patch`` x ``patch`` tiles
    anchored at the top-left; a partial tile at the right / bottom edge is its own tile.

    >>> from uqcore.metrics import patch_labels
    >>> patch_labels((3, 5), patch=2)
    array([[0, 0, 1, 1, 2],
           [0, 0, 1, 1, 2],
           [3, 3, 4, 4, 5]])
    """
    if int(patch) < 1:
        raise InputError(f"patch must be a positive integer, got {patch!r}")
    patch = int(patch)
    h, w = shape
    cols = -(-w // patch)
    rows = np.arange(h) // patch
    colsi = np.arange(w) // patch
    return rows[:, None] * cols + colsi[None, :]


def _pool(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each entry replaced by the mean of its label group (1-D arrays of equal length)."""
    counts = np.bincount(labels)
    sums = np.bincount(labels, weights=values)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    return means[labels]


def _labels_for(level: str, shape: tuple[int, int], patch: int, segments: Any, prediction: Any) -> np.ndarray:
    if level == "patch":
        return patch_labels(shape, patch)
    # block
    if segments is not None:
        if hasattr(segments, "detach"):
            segments = segments.detach().cpu().numpy()
        seg = squeeze_to(np.asarray(segments), 2)
        if seg.shape != tuple(shape):
            raise InputError(f"segments has shape {tuple(seg.shape)} but the maps are {tuple(shape)}; they must match")
        if not np.issubdtype(seg.dtype, np.integer):
            raise InputError("segments must be an integer label map (e.g. from uqcore.metrics.segment)")
        _, inverse = np.unique(seg, return_inverse=True)
        return inverse.reshape(shape).astype(np.int64)
    if prediction is None:
        raise InputError(
            "the block level needs segments (superpixels) of the prediction: pass prediction= (the model "
            "output) or segments=uqcore.metrics.segment(prediction)"
        )
    seg = segment(prediction)
    if seg.shape != tuple(shape):
        raise InputError(f"prediction is {seg.shape[0]}x{seg.shape[1]} but the maps are {shape[0]}x{shape[1]}; they must match")
    return seg


def _image_means(maps: Any, masks: Any, name: str) -> np.ndarray:
    """Per-image means for the ``mean`` level: a 1-D array passes through (already per image)."""
    if isinstance(maps, np.ndarray) or hasattr(maps, "detach"):
        arr = as_float64(maps, name)
        if arr.ndim == 1:
            return arr
        if arr.ndim != 3:
            raise InputError(f"the mean level needs a list of [H, W] maps, a [N, H, W] array or 1-D per-image values; {name} has shape {tuple(arr.shape)}")
        items = list(arr)
    elif isinstance(maps, Sequence):
        items = list(maps)
    else:
        raise InputError(f"the mean level needs a list of per-image maps for {name}, got {type(maps).__name__}")
    if not items:
        raise InputError(f"{name} is an empty list; the mean level needs at least two images")
    if masks is None or (isinstance(masks, np.ndarray) and masks.ndim == 2) or hasattr(masks, "detach"):
        masks = [masks] * len(items)
    elif len(masks) != len(items):
        raise InputError(f"got {len(items)} {name} maps but {len(masks)} masks; pass one mask per image")
    out = np.empty(len(items))
    for i, (m, k) in enumerate(zip(items, masks)):
        a = as_map(m, f"{name}[{i}]")
        k = as_mask(k, a.shape)
        v = a[k] if k is not None else a.ravel()
        check_finite(v, f"{name}[{i}]")
        out[i] = v.mean()
    return out


def prepare(error: Any, uncertainty: Any, level: str, mask: Any, patch: int, segments: Any, prediction: Any,
             masks: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Validated 1-D (error, uncertainty) vectors of the scored points at ``level``."""
    if level not in LEVELS:
        raise InputError(f"level must be one of {LEVELS}, got {level!r}")
    if level == "mean":
        if masks is None:
            masks = mask  # a list of per-image masks, or one mask for all images
        e = _image_means(error, masks, "error")
        u = _image_means(uncertainty, masks, "uncertainty")
        if e.shape != u.shape:
            raise InputError(f"got {e.size} error values but {u.size} uncertainty values; pass one of each per image")
        check_finite(e, "error")
        check_finite(u, "uncertainty")
        return e, u
    e = as_map(error, "error")
    u = as_map(uncertainty, "uncertainty")
    check_same_shape(e, u, "error", "uncertainty")
    m = as_mask(mask, e.shape)
    if m is None:
        ev, uv = e.ravel(), u.ravel()
    else:
        ev, uv = e[m], u[m]
    check_finite(ev, "error")
    check_finite(uv, "uncertainty")
    if level == "pixel":
        return ev, uv
    labels = _labels_for(level, e.shape, patch, segments, prediction)
    lv = labels.ravel() if m is None else labels[m]
    return _pool(ev, lv), _pool(uv, lv)

