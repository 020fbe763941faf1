"""Datasets from folders: (input, target) pairs for a model's task.

:func:`load_pairs` reads a folder the way ``evaluate`` and ``calibrate`` take it (``--data DIR``):

* SR -- every image is an HR image; it is cropped to a multiple of the model's scale (rows /
  columns beyond the largest multiple are dropped at the bottom / right) and the input is its
  bicubic downscale (:func:`make_lr`; :func:`uqcore.models.srresnet.bicubic_downscale`:
  antialiased bicubic, clamped to [0, 1]).
* Depth -- ``name.png`` (or .jpg / .jpeg / ...) with ``name_depth.png`` (16-bit, millimetres) or
  ``name_depth.npy`` (metres).
* Generic image task -- ``name.png`` with ``name_target.png``.

Files are taken in sorted name order; the name of a pair is its input file's stem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from uqcore.errors import InputError
from uqcore.io import read_depth, read_image
from uqcore.engine.model import as_model
from uqcore.models.srresnet import bicubic_downscale

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def make_lr(hr: torch.Tensor, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(LR input, cropped HR) from an HR image [1, C, H, W]: crop to a multiple of ``scale``
    (bottom/right rows and columns dropped), then bicubic downscale by ``scale``."""
    h, w = hr.shape[-2] // scale * scale, hr.shape[-1] // scale * scale
    if h < 2 * scale or w < 2 * scale:
        raise InputError(f"the HR image ({hr.shape[-2]}x{hr.shape[-1]}) is too small for x{scale} super-resolution")
    hr = hr[..., :h, :w].contiguous()
    return bicubic_downscale(hr, scale), hr


def centre_crop(img: torch.Tensor, side: int) -> torch.Tensor:
    """Centre crop [.., H, W] to at most ``side`` x ``side`` (0: unchanged)."""
    if side <= 0:
        return img
    h, w = img.shape[-2:]
    ch, cw = min(h, side), min(w, side)
    top, left = (h - ch) // 2, (w - cw) // 2
    return img[..., top:top + ch, left:left + cw]


def explore_region(model: Any, hr: torch.Tensor) -> tuple[torch.Tensor, int | None]:
    """A bundled SR sample as Explore first shows it: centre-cropped to the card's ``explore_crop``
    (HR pixels a side), for a model too heavy to run on whole samples on a CPU (esrgan-thick);
    returns ``(hr, side)``, side None when nothing was cropped. The dashboard and
    ``python -m uqcore quality explore`` both use it, so the timing is of what the page runs."""
    side = int(model.card.get("explore_crop") or 0)
    h, w = hr.shape[-2:]
    if not side or (h <= side and w <= side):
        return hr, None
    return centre_crop(hr, side), side


def list_pair_files(folder: str | Path, task: str) -> list[tuple[str, Path, Path | None]]:
    """(name, input file, target file or None for SR) in sorted order; see the module docstring."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder; --data needs a folder of images")
    files = sorted(p for p in root.iterdir() if p.is_file())
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    found: list[tuple[str, Path, Path | None]] = []
    if task == "sr":
        found = [(p.stem, p, None) for p in images if not p.stem.endswith(("_depth", "_target"))]
        what = "HR images (PNG/JPEG/...)"
    elif task == "depth":
        for p in images:
            if p.stem.endswith("_depth"):
                continue
            for cand in (root / f"{p.stem}_depth.png", root / f"{p.stem}_depth.npy"):
                if cand.is_file():
                    found.append((p.stem, p, cand))
                    break
        what = "RGB/depth pairs (name.png + name_depth.png in mm or name_depth.npy in m)"
    else:
        for p in images:
            if p.stem.endswith("_target"):
                continue
            cands = [root / f"{p.stem}_target{s}" for s in IMAGE_SUFFIXES]
            match = next((c for c in cands if c.is_file()), None)
            if match is not None:
                found.append((p.stem, p, match))
        what = "input/target pairs (name.png + name_target.png)"
    if not found:
        raise InputError(f"{root} holds no {what}")
    return found


def load_pairs(folder: str | Path, model: Any, limit: int | None = None, *,
               keep_errors: bool = False) -> tuple[list[str], list[tuple[torch.Tensor, torch.Tensor]]]:
    """(names, [(input [1, C, h, w], target)]) from a folder, for ``model``'s task.

    SR target: the cropped HR [3, H, W]; depth target: [H, W] metres; image: [C, H, W].
    ``keep_errors``: a pair that cannot be read becomes (its InputError, None) instead of stopping
    the load -- the unit path of :func:`uqcore.evaluate` reports it as a failed image."""
    model = as_model(model)
    entries = list_pair_files(folder, model.task)
    if limit is not None:
        if limit < 1:
            raise InputError(f"--limit must be at least 1, got {limit}")
        entries = entries[:limit]
    names, pairs = [], []
    for name, src, tgt in entries:
        try:
            pairs.append(load_pair(model, src, tgt))
        except InputError as exc:
            if not keep_errors:
                raise
            pairs.append((exc, None))
        names.append(name)
    return names, pairs


def load_pair(model: Any, src: Path, tgt: Path | None) -> tuple[torch.Tensor, Any]:
    """One (input, target) of :func:`load_pairs`."""
    img = read_image(src)
    if model.task == "sr":
        lr, hr = make_lr(img, model.scale)
        return lr, hr[0]
    if model.task == "depth":
        depth = read_depth(tgt)
        if tuple(depth.shape) != tuple(img.shape[-2:]):
            raise InputError(f"{tgt.name} is {depth.shape[0]}x{depth.shape[1]} but {src.name} is "
                             f"{img.shape[-2]}x{img.shape[-1]}; the depth map must match its image")
        return img, depth
    return img, read_image(tgt)[0]
