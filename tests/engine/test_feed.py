"""Boxes of a layer method fed the layer's output from a wider crop (uqcore.engine.feed): the
margins, the whole image's numbers, and the usual crop where feeding does not fit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import uqcore
from uqcore.engine import feed, tiling
from uqcore.engine.receptive import receptive_field

from tests.support import smooth_hr


class Bypass(nn.Module):
    """The perturbed ``layer`` has a short reach to the output (a 1x1 conv after it), but a 9x9
    conv takes the input straight to the output: a path around the layer with a reach of 4. The
    skip runs first, so no kernel bound of the layers after ``layer`` covers it: only the probe."""

    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(3, 8, 3, padding=1)
        self.layer = nn.Conv2d(8, 8, 3, padding=1)
        self.out = nn.Conv2d(8, 3, 1)
        self.skip = nn.Conv2d(3, 3, 9, padding=4)

    def forward(self, x):
        skip = self.skip(x)
        return self.out(torch.relu(self.layer(torch.relu(self.head(x))))) + skip


def bypass_model():
    torch.manual_seed(0)
    return uqcore.wrap(Bypass(), task="image", name="bypass")


def crops_run(monkeypatch):
    """Record the input crops that the boxes' estimates run on, and the feeds' captures."""
    seen = {"crops": [], "captures": 0}
    run_crop, capture = tiling._run_crop, feed.Feeder.capture

    def record_crop(model, x, box, crop, run, on_update):
        seen["crops"].append(crop)
        return run_crop(model, x, box, crop, run, on_update)

    def record_capture(self, crop, box):
        seen["captures"] += 1
        return capture(self, crop, box)

    monkeypatch.setattr(tiling, "_run_crop", record_crop)
    monkeypatch.setattr(feed.Feeder, "capture", record_capture)
    return seen


def assert_same_as_whole(model, x, region=None, tile=None, **kw):
    whole = uqcore.estimate(model, x, samples=4, seed=3, **kw)
    part = uqcore.estimate(model, x, samples=4, seed=3, region=region, tile=tile, **kw)
    top, left, h, w = part.region
    torch.testing.assert_close(part.prediction, whole.prediction[:, top:top + h, left:left + w], atol=1e-5, rtol=0)
    torch.testing.assert_close(part.variance, whole.variance[top:top + h, left:left + w],
                               atol=1e-4 * float(whole.variance.max()), rtol=0)
    return part


@pytest.mark.slow  # a bundled model: not in -m quick
def test_srresnet_margins_are_what_follows_the_layer():
    model = uqcore.load_model("srresnet")
    rf = receptive_field(model)
    # after body.5: 2 residual blocks (4 convs), body_tail, the x2 conv at LR, a conv at 2x, the tail at 4x
    # = 6.75 LR pixels, so a margin of 7; the prefix pass keeps at least the receptive field
    assert feed.margins(model, "body.5") == feed.Margins(narrow=7, wide=max(rf, 24))
    assert feed.margins(model, "body.7").narrow == 3  # body_tail, upsampler, tail, and head's skip (3)
    assert feed.margins(model, "body.0") is None  # 17 of 22: not worth a second crop
    assert feed.margins(model, "body.5") is feed.margins(model, "body.5")  # measured once


@pytest.mark.slow  # a bundled model: not in -m quick
def test_fed_boxes_use_the_narrow_crop_and_equal_the_whole_image(monkeypatch):
    model = uqcore.load_model("srresnet")
    x = smooth_hr(72, 64, seed=1)
    seen = crops_run(monkeypatch)
    region = (100, 60, 80, 96)  # output pixels, inside: a margin on every side
    for method, strength in (("noise", 0.1), ("dropout", 0.2)):
        assert_same_as_whole(model, x, region=region, method=method, layer="body.5", strength=strength)
    top, left, h, w = seen["crops"][-1]
    assert seen["captures"] == 2 and (h, w) == (80 // 4 + 2 * 7, 96 // 4 + 2 * 7)
    tiled = assert_same_as_whole(model, x, tile=128, method="noise", layer="body.5", strength=0.1)
    assert tiled.tiles == 4 and seen["captures"] == 6
    assert_same_as_whole(model, x, tile=128, method="transform")  # nothing to feed: the usual crops
    assert seen["captures"] == 6 and seen["crops"][-1][2] > 64 // 2 + 22


def test_a_path_around_the_layer_sets_the_margin(monkeypatch):
    model, x = bypass_model(), smooth_hr(48, 48, seed=2)
    found = feed.margins(model, "layer")
    assert found.narrow == 4 and found.wide >= receptive_field(model)  # the skip's 9x9 kernel, not the 1x1
    kw = dict(method="noise", layer="layer", strength=0.5, region=(16, 16, 16, 16))
    assert_same_as_whole(model, x, **kw)
    # the check can fail: with only the layer's own reach as the margin the box is not exact
    monkeypatch.setattr(feed, "margins", lambda *_: feed.Margins(narrow=1, wide=found.wide))
    with pytest.raises(AssertionError):
        assert_same_as_whole(model, x, **kw)


@pytest.mark.slow  # a bundled model: not in -m quick
def test_a_kept_output_that_does_not_fit_falls_back_to_the_usual_crop(monkeypatch):
    model, x = uqcore.load_model("srresnet"), smooth_hr(100, 100)
    capture = feed.Feeder.capture
    monkeypatch.setattr(feed.Feeder, "capture", lambda self, crop, box: (
        lambda kept: (kept[0][..., :5, :5], kept[1]))(capture(self, crop, box)))
    seen = crops_run(monkeypatch)
    assert_same_as_whole(model, x, region=(180, 180, 40, 40), method="noise", layer="body.5", strength=0.1)
    assert seen["captures"] == 1 and seen["crops"][-1][2] == 40 // 4 + 2 * receptive_field(model)


def test_heavy_or_unknown_layers_are_not_probed(monkeypatch):
    model = bypass_model()
    monkeypatch.setattr(feed, "PROBE_WORK", 0)
    assert feed.margins(model, "layer") is None
    with pytest.raises(uqcore.InputError, match="no layer named"):
        uqcore.estimate(model, smooth_hr(16, 16), method="noise", layer="nope", region=(0, 0, 4, 4))


class Shared(nn.Module):
    """One block run twice in a pass (shared weights): there is no single output to keep."""

    def __init__(self):
        super().__init__()
        self.block = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        return self.block(torch.relu(self.block(x)))


def test_a_layer_run_twice_is_not_fed():
    torch.manual_seed(0)
    model = uqcore.wrap(Shared(), task="image", name="shared")
    assert feed.margins(model, "block") is None
    assert_same_as_whole(model, smooth_hr(32, 32), region=(8, 8, 8, 8), method="noise", layer="block", strength=0.3)
