"""Image helpers of the dataset folders (uqcore.datasets.folders)."""

from __future__ import annotations

import torch

from uqcore.datasets.folders import centre_crop


def test_centre_crop():
    img = torch.arange(10 * 6).float().reshape(1, 1, 10, 6)
    out = centre_crop(img, 4)
    assert out.shape[-2:] == (4, 4)
    assert out[0, 0, 0, 0] == img[0, 0, 3, 1]
    assert centre_crop(img, 0) is img
    assert centre_crop(img, 100).shape == img.shape
