"""The input picker's helpers (ui/inputs.py) that run without a page."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from uqcore.datasets.folders import explore_region


def test_explore_region_crops_bundled_samples_of_heavy_models_only():
    hr = torch.arange(2 * 3 * 10 * 12, dtype=torch.float32).reshape(2, 3, 10, 12)
    crop, side = explore_region(SimpleNamespace(card={"explore_crop": 4}), hr)
    assert side == 4 and torch.equal(crop, hr[..., 3:7, 4:8])
    assert explore_region(SimpleNamespace(card={}), hr) == (hr, None)
    assert explore_region(SimpleNamespace(card={"explore_crop": 16}), hr) == (hr, None)
