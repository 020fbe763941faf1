"""Reading and validating images and depth maps (files, paths or bytes).

Decoding is Pillow's; nothing is unpickled (``.npy`` is read with ``allow_pickle=False``).
Every problem raises ``InputError`` saying what is wrong and what to do.
"""

from __future__ import annotations

import io as _io
import warnings
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from uqcore import limits
from uqcore.errors import InputError

Source = Union[str, Path, bytes, bytearray, BinaryIO]


def _read_bytes(source: Source) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray)):
        return bytes(source), "the upload"
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"{path} does not exist or is not a file")
        return path.read_bytes(), path.name
    if hasattr(source, "read"):
        data = source.read()
        return data, getattr(source, "name", "the upload")
    raise InputError(f"expected a path, bytes or a file object, got {type(source).__name__}")


def _open(data: bytes, label: str, max_pixels: int) -> Image.Image:
    if not data:
        raise InputError(f"{label} is empty (0 bytes); choose an image file (PNG, JPEG, TIFF, ...)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(_io.BytesIO(data))
            w, h = img.size
            if w * h > max_pixels:
                raise InputError(
                    f"{label} is {w}×{h} pixels, more than the limit of {max_pixels:,} "
                    "(UQCORE_MAX_PIXELS); downscale or crop it first"
                )
            img.load()
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(f"{label} claims a huge size ({exc}); it was refused as a decompression bomb") from exc
    except UnidentifiedImageError as exc:
        raise InputError(f"{label} is not an image Pillow can read; upload a PNG, JPEG or TIFF") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{label} is damaged or truncated ({exc}); export it again") from exc
    return img


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    """float32 [H, W, 3] in [0, 1] from any Pillow mode (16-bit, palette, RGBA, CMYK, gray)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float32)
        peak = 65535.0 if arr.max(initial=0) > 255 or img.mode.startswith("I;16") else 255.0
        arr = np.clip(arr / peak, 0, 1)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode == "F":
        arr = np.clip(np.asarray(img, dtype=np.float32), 0, 1)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))  # transparent -> white
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def read_image(source: Source, *, max_pixels: int | None = None, min_size: int = 2) -> torch.Tensor:
    """float32 tensor [1, 3, H, W] in [0, 1]; EXIF orientation applied.

    Grayscale is replicated to RGB, transparency is composited on white, 16-bit images are
    scaled by 1/65535, CMYK and palette images are converted to RGB.
    """
    data, label = _read_bytes(source)
    img = _open(data, label, max_pixels or limits.max_pixels())
    img = ImageOps.exif_transpose(img)
    if min(img.size) < min_size:
        raise InputError(f"{label} is only {img.size[0]}×{img.size[1]} pixels; it needs at least {min_size}×{min_size}")
    arr = _to_rgb_array(img)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]


def read_depth(source: Source, *, max_pixels: int | None = None, name: str | None = None) -> torch.Tensor:
    """float32 tensor [H, W] in metres from a 16-bit PNG (millimetres) or a ``.npy`` (metres).

    Missing ground truth stays invalid: 0 in the PNG stays 0; NaN/inf in a .npy stay as they are;
    negative values become NaN. Metrics treat 0, NaN and inf as invalid pixels. A map with no
    valid pixel at all is refused.
    """
    data, label = _read_bytes(source)
    label = name or label
    max_pixels = max_pixels or limits.max_pixels()
    if not data:
        raise InputError(f"{label} is empty (0 bytes); give a 16-bit PNG in millimetres or a .npy in metres")
    if data[:6] == b"\x93NUMPY":
        try:
            arr = np.load(_io.BytesIO(data), allow_pickle=False)
        except ValueError as exc:
            raise InputError(f"{label} is not a plain numeric .npy array ({exc})") from exc
        arr = np.squeeze(np.asarray(arr))
        if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
            raise InputError(f"{label} must be a 2-D numeric array of metres, got shape {arr.shape} {arr.dtype}")
        if arr.size > max_pixels:
            raise InputError(f"{label} has {arr.size:,} pixels, more than the limit of {max_pixels:,}")
        depth = arr.astype(np.float32)
    else:
        img = _open(data, label, max_pixels)
        if img.mode not in ("I;16", "I;16B", "I;16L", "I", "F"):
            raise InputError(
                f"{label} is an {img.mode} image, not a 16-bit depth PNG; save depth as 16-bit PNG in "
                "millimetres or as .npy in metres"
            )
        depth = np.asarray(img, dtype=np.float32) / (1.0 if img.mode == "F" else 1000.0)
    depth = np.where(depth < 0, np.nan, depth)
    if not (np.isfinite(depth) & (depth > 0)).any():
        raise InputError(f"{label} has no valid depth (all pixels are 0, negative, NaN or inf)")
    return torch.from_numpy(np.ascontiguousarray(depth))


def write_depth_png(path: str | Path, depth_m: np.ndarray) -> None:
    """Save metres as a 16-bit PNG in millimetres (0 = invalid), the format ``read_depth`` reads."""
    depth = np.nan_to_num(np.asarray(depth_m, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    mm = np.clip(np.round(depth * 1000.0), 0, 65535).astype(np.uint16)
    Image.fromarray(mm).save(path)


def to_uint8(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """[C, H, W] or [1, C, H, W] float in [0, 1] -> uint8 [H, W, C] for display and saving."""
    arr = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    arr = arr[0] if arr.ndim == 4 else arr
    return (np.clip(arr.transpose(1, 2, 0), 0, 1) * 255.0 + 0.5).astype(np.uint8)
