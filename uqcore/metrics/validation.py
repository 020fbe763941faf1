"""Validation and the basic maps: inputs to float64 numpy, masks of valid pixels, error maps.

Every metric goes through these: an array or torch tensor (CPU or CUDA) is copied to the host
once and computed on in float64; shapes, masks and finiteness are checked with messages that
say what to do. ``valid_mask`` and ``error_map`` are the public maps (definitions in
``uqcore.metrics``); the other functions are the metrics' own input checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from uqcore.errors import InputError

__all__ = ["valid_mask", "error_map"]


def as_float64(x: Any, name: str) -> np.ndarray:
    """numpy float64 copy of an array or torch tensor (one device-to-host transfer)."""
    if x is None:
        raise InputError(f"{name} is missing; pass a numpy array or torch tensor")
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor without importing torch
        x = x.detach()
        if getattr(x, "dtype", None) is not None and str(x.dtype) in ("torch.bfloat16", "torch.float16"):
            x = x.float()
        x = x.cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a numeric array or tensor, got {type(x).__name__}") from exc
    return arr


def squeeze_to(arr: np.ndarray, ndim: int) -> np.ndarray:
    while arr.ndim > ndim and arr.shape[0] == 1:
        arr = arr[0]
    return arr


def as_map(x: Any, name: str) -> np.ndarray:
    """A 2-D [H, W] map (leading singleton dimensions are dropped)."""
    arr = squeeze_to(as_float64(x, name), 2)
    if arr.ndim != 2:
        raise InputError(
            f"{name} must be a 2-D [H, W] map, got shape {tuple(arr.shape)}; "
            "average over channels first (error_map() and estimate().variance already do)"
        )
    if arr.size == 0:
        raise InputError(f"{name} is empty (shape {tuple(arr.shape)})")
    return arr


def as_image(x: Any, name: str) -> np.ndarray:
    """A [C, H, W] image ([H, W] becomes [1, H, W]; a leading batch of 1 is dropped)."""
    arr = squeeze_to(as_float64(x, name), 3)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise InputError(f"{name} must be [C, H, W] or [H, W] (batch of 1 allowed), got shape {tuple(arr.shape)}")
    if arr.size == 0:
        raise InputError(f"{name} is empty (shape {tuple(arr.shape)})")
    return arr


def as_mask(mask: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """Bool [H, W] mask or None; raises if it selects nothing."""
    if mask is None:
        return None
    if hasattr(mask, "detach") and hasattr(mask, "cpu"):
        mask = mask.detach().cpu().numpy()
    m = squeeze_to(np.asarray(mask), 2)
    if m.shape != tuple(shape):
        raise InputError(f"mask has shape {tuple(m.shape)} but the maps are {tuple(shape)}; pass a [H, W] mask of the map's size")
    m = m.astype(bool)
    if not m.any():
        raise InputError("the mask selects no pixels; there is nothing to score (check the ground truth: all of it is invalid)")
    return m


def check_finite(values: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        raise InputError(
            f"{name} has {int(bad.sum())} NaN/inf value(s) among the scored pixels; "
            "exclude them with mask= (e.g. mask=valid_mask(target)) or fix the input"
        )


def check_same_shape(a: np.ndarray, b: np.ndarray, na: str, nb: str) -> None:
    if a.shape != b.shape:
        raise InputError(f"{na} has shape {tuple(a.shape)} but {nb} has shape {tuple(b.shape)}; they must match")


# -- maps ----------------------------------------------------------------------------------------
def valid_mask(target: Any) -> np.ndarray:
    """Bool [H, W]: pixels with valid ground truth -- finite and > 0 in every channel.

    Meant for depth (missing depth is stored as 0, NaN or inf). ``target`` is [H, W] or
    [C, H, W] (a leading batch of 1 is dropped).

    >>> import numpy as np
    >>> from uqcore.metrics import valid_mask
    >>> valid_mask(np.array([[1.0, 0.0], [np.nan, 2.0]]))
    array([[ True, False],
           [False,  True]])
    """
    t = as_image(target, "target")
    with np.errstate(invalid="ignore"):
        return np.all(np.isfinite(t) & (t > 0), axis=0)


def error_map(prediction: Any, target: Any, kind: str = "abs", mask: Any = None) -> np.ndarray:
    """Per-pixel error, averaged over channels: float64 [H, W].

    ``kind="abs"``: |prediction - target|; ``kind="sq"``: (prediction - target)^2.
    ``prediction`` and ``target`` are [C, H, W] or [H, W] (a leading batch of 1 is dropped);
    a [H, W] target is broadcast against a [C, H, W] prediction. Pixels outside ``mask`` are NaN
    in the result -- pass the same mask to the metric functions.

    >>> import numpy as np
    >>> from uqcore.metrics import error_map
    >>> error_map(np.array([[0.5, 1.0], [1.0, 0.0]]), np.array([[0.0, 0.0], [0.5, 0.0]]))
    array([[0.5, 1. ],
           [0.5, 0. ]])
    >>> error_map(np.array([[0.5, 1.0]]), np.zeros((1, 2)), kind="sq")
    array([[0.25, 1.  ]])
    """
    if kind not in ("abs", "sq"):
        raise InputError(f"kind must be 'abs' or 'sq', got {kind!r}")
    p = as_image(prediction, "prediction")
    t = as_image(target, "target")
    if p.shape[1:] != t.shape[1:] or (t.shape[0] not in (1, p.shape[0])):
        raise InputError(
            f"prediction has shape {tuple(p.shape)} but target has shape {tuple(t.shape)}; "
            "they must have the same height and width (resize or crop one of them)"
        )
    m = as_mask(mask, p.shape[1:])
    with np.errstate(invalid="ignore"):
        d = p - t
        err = (np.abs(d) if kind == "abs" else d * d).mean(axis=0)
    if m is not None:
        err[~m] = np.nan
    return err

