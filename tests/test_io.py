import io

import numpy as np
import pytest
import torch
from PIL import Image

import uqcore
from uqcore.errors import InputError
from uqcore.io import to_uint8, write_depth_png


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


def test_rgb_png_roundtrip():
    arr = (np.random.default_rng(0).random((9, 7, 3)) * 255).astype(np.uint8)
    x = uqcore.read_image(encode(Image.fromarray(arr)))
    assert x.shape == (1, 3, 9, 7) and x.dtype == torch.float32
    assert np.array_equal(to_uint8(x), arr)


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "CMYK", "I;16"])
def test_modes_become_rgb(mode):
    base = Image.fromarray((np.random.default_rng(1).random((8, 8, 3)) * 255).astype(np.uint8))
    img = base.convert(mode) if mode != "I;16" else Image.fromarray(np.full((8, 8), 65535, np.uint16))
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    x = uqcore.read_image(encode(img, fmt))
    assert x.shape == (1, 3, 8, 8)
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    if mode == "I;16":
        assert float(x.min()) == 1.0  # 65535 -> 1.0


def test_transparent_pixels_composite_on_white():
    img = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert float(uqcore.read_image(encode(img)).min()) == 1.0


def test_exif_orientation_is_applied():
    arr = np.zeros((6, 10, 3), np.uint8)
    arr[:, :5] = 255  # left half white
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    x = uqcore.read_image(encode(img, "JPEG", exif=exif.tobytes(), quality=95))
    assert x.shape == (1, 3, 10, 6)
    assert float(x[0, :, :4].mean()) > 0.9 and float(x[0, :, 6:].mean()) < 0.1  # white on top


@pytest.mark.parametrize(
    "data,match",
    [
        (b"", "empty"),
        (b"plain text", "not an image"),
        (encode(Image.new("RGB", (64, 64)))[:60], "not an image|damaged or truncated"),
        (encode(Image.new("RGB", (1, 1))), "at least 2"),
    ],
)
def test_bad_images(data, match):
    with pytest.raises(InputError, match=match):
        uqcore.read_image(data)


def test_truncated_png_body():
    data = encode(Image.fromarray((np.random.default_rng(2).random((64, 64, 3)) * 255).astype(np.uint8)))
    with pytest.raises(InputError, match="damaged or truncated"):
        uqcore.read_image(data[: len(data) // 2])


def test_pixel_limit():
    with pytest.raises(InputError, match="more than the limit"):
        uqcore.read_image(encode(Image.new("RGB", (100, 100))), max_pixels=5000)


def test_depth_png_and_npy(tmp_path):
    depth = np.array([[1.5, 0.0], [2.25, 9.999]])
    write_depth_png(tmp_path / "d.png", depth)
    read = uqcore.read_depth(tmp_path / "d.png")
    assert read.dtype == torch.float32 and torch.allclose(read, torch.tensor(depth, dtype=torch.float32))
    buffer = io.BytesIO()
    np.save(buffer, np.array([[1.0, -2.0], [np.nan, np.inf]], np.float32))
    read = uqcore.read_depth(buffer.getvalue())
    assert read[0, 0] == 1.0 and torch.isnan(read[0, 1]) and torch.isnan(read[1, 0]) and torch.isinf(read[1, 1])


def test_depth_refusals(tmp_path):
    with pytest.raises(InputError, match="no valid depth"):
        uqcore.read_depth(encode(Image.fromarray(np.zeros((4, 4), np.uint16))))
    with pytest.raises(InputError, match="not a 16-bit depth PNG"):
        uqcore.read_depth(encode(Image.new("RGB", (4, 4))))
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="plain numeric"):
        uqcore.read_depth(buffer.getvalue())
