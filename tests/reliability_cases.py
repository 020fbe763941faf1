"""Bad and unusual inputs (images, depth maps) that the core and the dashboard must answer clearly."""

from __future__ import annotations

import io
import struct
import zlib
import numpy as np
from PIL import Image


def png(arr: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    img = Image.fromarray(arr) if mode is None else Image.fromarray(arr).convert(mode)
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def huge_header_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid tiny PNG whose IHDR claims ``width`` × ``height`` (a decompression bomb)."""
    data = bytearray(png(np.zeros((2, 2, 3), np.uint8)))
    ihdr = bytearray(data[12:29])  # b"IHDR" + 13 bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return bytes(data)


def jpeg(arr: np.ndarray, mode: str = "RGB", **kw) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(arr).convert(mode).save(buffer, format="JPEG", **kw)
    return buffer.getvalue()


RNG = np.random.default_rng(0)


RGB = (RNG.random((24, 20, 3)) * 255).astype(np.uint8)


GOOD_PNG = png(RGB)


# (case, bytes, expected message fragment or None when it must load)
IMAGE_CASES = [
    ("zero-byte file", b"", "empty"),
    ("text file named .png", b"definitely not an image\n", "not an image"),
    ("truncated PNG", GOOD_PNG[: len(GOOD_PNG) // 2], "damaged or truncated|not an image"),
    ("1×1 image", png(np.zeros((1, 1, 3), np.uint8)), "at least 2"),
    ("header claims 100000×100000 (decompression bomb)", huge_header_png(), "limit|decompression bomb"),
    ("16-bit grayscale PNG", png((RNG.random((24, 20)) * 65535).astype(np.uint16)), None),
    ("RGBA PNG", png(np.dstack([RGB, np.full((24, 20), 128, np.uint8)])), None),
    ("palette PNG", png(RGB, "P"), None),
    ("grayscale PNG", png(RGB, "L"), None),
    ("CMYK JPEG", jpeg(RGB, "CMYK"), None),
]


def depth_npy(values) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(values, np.float32))
    return buffer.getvalue()


DEPTH_CASES = [
    ("depth with NaN / inf / 0 / negative", depth_npy([[1, np.nan], [np.inf, 0], [-1, 2]]), None),
    ("all-invalid depth map", depth_npy([[0, np.nan], [-1, np.inf]]), "no valid depth"),
    ("8-bit RGB PNG as depth", GOOD_PNG, "not a 16-bit depth PNG"),
]
