"""Regions and tiles are the whole image's numbers (uqcore.engine.tiling, uqcore.engine.positions, uqcore.engine.receptive)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

import uqcore
from uqcore.engine import positions
from uqcore.engine.receptive import output_shape, receptive_field, stride
from uqcore.engine.tiling import crop_for

from tests.tiny_models import make_tiny_sr


def smooth(h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand((1, 3, h // 4 + 2, w // 4 + 2), generator=g)
    return nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1)


def assert_same(whole, part, box):
    top, left, h, w = box
    scale = float(whole.variance.max())
    assert part.region == box and part.full_shape == tuple(whole.variance.shape) and part.exact
    torch.testing.assert_close(part.prediction, whole.prediction[:, top:top + h, left:left + w], atol=1e-4, rtol=0)
    torch.testing.assert_close(part.variance, whole.variance[top:top + h, left:left + w], atol=1e-3 * scale, rtol=0)


def settings(model, method):
    if method in ("noise", "dropout"):
        layer = "body.5" if model.name.startswith("srresnet") else {"depth": "encoder.layer2"}.get(model.task, "body.1")
        layer = "model.body.1" if model.card.get("format") == "spandrel" else layer
        return dict(method=method, layer=layer, strength=0.1 if method == "noise" else 0.2)
    return dict(method=method)


def check_model(model, x, region, tile, methods=None):
    for method in methods or model.methods:
        kw = settings(model, method)
        whole = uqcore.estimate(model, x, samples=2, seed=5, **kw)
        assert_same(whole, uqcore.estimate(model, x, samples=2, seed=5, region=region, **kw), region)
        tiled = uqcore.estimate(model, x, samples=2, seed=5, tile=tile, **kw)
        assert tiled.tiles > 1 and tiled.region == (0, 0, *whole.variance.shape)
        assert_same(whole, tiled, tiled.region)


def test_tiny_model_every_method_regions_at_borders_and_inside():
    model = make_tiny_sr()
    x = smooth(37, 29)
    check_model(model, x, (10, 7, 30, 21), 16)
    for box in [(0, 0, 5, 58), (60, 40, 14, 18), (73, 57, 1, 1)]:  # borders and the last pixel
        assert_same(uqcore.estimate(model, x, "noise", "body.1", 0.2, samples=3), uqcore.estimate(
            model, x, "noise", "body.1", 0.2, samples=3, region=box), box)


@pytest.mark.slow  # a bundled model: not in -m quick
@pytest.mark.parametrize("name", ["srresnet", "srresnet-ens", "srresnet-llm", "srresnet-mcdrop"])
def test_srresnet_family_region_and_tiles_equal_whole(name):
    model = uqcore.load_model(name)
    assert stride(model) == 1 and receptive_field(model) >= 20  # 20 conv layers deep at LR resolution
    x = smooth(70, 62)
    assert output_shape(model, x) == (280, 248)
    check_model(model, x, (101, 37, 90, 123), 128)


@pytest.mark.slow  # a bundled model: not in -m quick
def test_fcrn_stride_32_region_and_tiles_equal_whole():
    model = uqcore.load_model("fcrn")
    assert stride(model) == 32 and receptive_field(model) is not None
    x = smooth(600, 100)  # neither side a multiple of 32; crops exist along the height
    top, _, h, _ = crop_for(model, (300, 10, 40, 50), (600, 100))
    assert top % 32 == 0 and (600 - (top + h)) % 32 == 0 and h < 600
    check_model(model, x, (300, 10, 40, 50), 256, methods=["transform", "noise", "mc_dropout"])


def test_spandrel_compact_region_equals_whole(tmp_path):
    from safetensors.torch import save_file
    from spandrel.architectures.Compact import Compact

    from uqcore.models.loaders import load_user_model

    torch.manual_seed(0)
    path = tmp_path / "compact.safetensors"
    save_file(Compact(num_feat=8, num_conv=2, upscale=2).state_dict(), str(path))
    model = load_user_model(path)
    check_model(model, smooth(40, 36), (20, 30, 33, 17), 32, methods=["transform", "noise", "dropout"])


def test_same_position_same_draw_in_any_crop():
    seen = []

    def draws(top, left, h, w):
        row = torch.empty(2, h, w)
        with positions.input_box(top, left, h, w):
            positions.fill_row(row, 123, 0, positions.layer_offset((h, w)), torch.randn)
        return row

    whole = draws(0, 0, 100, 90)
    for box in [(33, 17, 40, 41), (64, 64, 36, 26), (1, 0, 5, 90)]:
        top, left, h, w = box
        seen.append(torch.equal(draws(*box), whole[:, top:top + h, left:left + w]))
    assert all(seen)
    with positions.input_box(64, 32, 128, 96):  # a layer at /2 of that crop starts at (32, 16)
        assert positions.layer_offset((64, 48)) == (32, 16)


class GlobalPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        return self.conv(x) + x.mean((2, 3), keepdim=True)


def test_global_context_model_is_refused_with_a_reason():
    model = uqcore.wrap(GlobalPool(), task="image")
    assert receptive_field(model) is None
    x = smooth(40, 40)
    assert uqcore.estimate(model, x, samples=2).tiles == 1  # untiled still works
    for kw in (dict(region=(0, 0, 8, 8)), dict(tile=16)):
        with pytest.raises(uqcore.InputError, match="global context"):
            uqcore.estimate(model, x, samples=2, **kw)


def test_bad_region_and_tile_are_input_errors():
    model, x = make_tiny_sr(), smooth(20, 20)
    for kw, msg in ((dict(region=(0, 0, 50, 5)), "not inside"), (dict(region="a"), "region must be"),
                    (dict(tile=0), "tile must be")):
        with pytest.raises(uqcore.InputError, match=msg):
            uqcore.estimate(model, x, samples=2, **kw)


def test_progress_and_stop_keep_finished_tiles():
    model, x = make_tiny_sr(), smooth(30, 30)
    progress, updates = [], []
    est = uqcore.estimate(model, x, "noise", "body.1", 0.2, samples=4, tile=20, progress=lambda d, t: progress.append((d, t)),
                          on_update=lambda e, t: updates.append((e.tiles, t)), stop=lambda: len(updates) >= 3)
    assert est.tiles == 3 and updates == [(1, 9), (2, 9), (3, 9)]
    assert progress[-1] == (12, 36) and all(t == 36 for _, t in progress)
    done = ~torch.isnan(est.variance)
    assert done.sum() == 3 * 20 * 20 and torch.isnan(est.prediction[:, 40:, :]).all()


MEMORY_SCRIPT = textwrap.dedent("""
    import json, sys, torch
    torch.set_num_threads(1)
    import uqcore
    from uqcore.engine import memory
    model = uqcore.load_model("srresnet")
    n, method = int(sys.argv[1]), sys.argv[2]
    uqcore.estimate(model, torch.rand(1, 3, 8, 8), method=method, layer="body.5", samples=2)  # warm up
    uqcore.receptive_field(model)  # the one-time probe (cached on the model) is not part of a request

    def status_kib(key):
        line = next(l for l in open("/proc/self/status") if l.startswith(key + ":"))
        return int(line.split()[1]) * 1024

    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident size (VmHWM) to the current one: earlier work must not count
    base = status_kib("VmRSS")
    est = uqcore.estimate(model, torch.rand(1, 3, n, n), method=method, layer="body.5", samples=4)
    peak = status_kib("VmHWM") - base
    print(json.dumps({"peak": peak, "estimate": memory.request_bytes(model, (n, n), 16), "tiles": est.tiles,
                      "limit": uqcore.limits.max_request_bytes()}))
""")


def measure(n, method, env=None):
    import os

    out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(n), method], capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # a bundled model: not in -m quick
@pytest.mark.parametrize("method", ["noise", "transform"])
def test_memory_estimate_bounds_the_measured_peak(method):
    got = measure(96, method)
    assert got["tiles"] == 1 and got["peak"] <= got["estimate"]


@pytest.mark.slow  # a bundled model: not in -m quick
def test_request_over_the_limit_runs_tiled_within_it():
    got = measure(96, "noise", {"UQCORE_MAX_REQUEST_MB": "200"})
    assert got["estimate"] > got["limit"] and got["tiles"] > 1 and got["peak"] <= got["limit"], got


@pytest.mark.slow  # a bundled model: not in -m quick
def test_map_cli_tiles_region_and_metrics(tmp_path):
    import numpy as np
    from PIL import Image

    from uqcore.cli import main

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (24, 20, 3), dtype=np.uint8)).save(tmp_path / "lr.png")
    Image.fromarray(rng.integers(0, 255, (96, 80, 3), dtype=np.uint8)).save(tmp_path / "hr.png")
    base = ["map", "--model", "srresnet", "--image", str(tmp_path / "lr.png"), "--layer", "body.5",
            "--samples", "3"]
    assert main(base + ["--hr", str(tmp_path / "hr.png"), "--tile", "48", "--out", str(tmp_path / "a")]) == 0
    var = np.load(tmp_path / "a" / "variance.npy")
    assert var.shape == (96, 80) and np.isfinite(var).all() and var.max() > 0
    assert Image.open(tmp_path / "a" / "variance.png").mode.startswith("I")
    assert Image.open(tmp_path / "a" / "prediction.png").size == (80, 96)
    got = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert set(got) >= {"pearson", "spearman", "ause"}
    assert main(base + ["--region", "8,4,40,30", "--out", str(tmp_path / "b")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "b" / "variance.npy"), var[8:48, 4:34], atol=1e-3 * var.max())
    assert main(base + ["--region", "90,0,40,30", "--out", str(tmp_path / "c")]) == 2  # outside: InputError


def test_auto_samples_in_tiles_use_the_first_tiles_count():
    model, x = make_tiny_sr(), smooth(30, 30)
    kw = dict(method="noise", layer="body.1", strength=0.2, seed=3)
    tiled = uqcore.estimate(model, x, samples="auto", target=0.5, round_size=4, tile=30, **kw)
    first = uqcore.estimate(model, x, samples="auto", target=0.5, round_size=4, region=(0, 0, 30, 30), **kw)
    assert tiled.samples == first.samples < 64
    assert_same(uqcore.estimate(model, x, samples=tiled.samples, **kw), tiled, tiled.region)


def test_region_reports_updates_of_the_box():
    model, x = make_tiny_sr(), smooth(30, 30)
    updates = []
    est = uqcore.estimate(model, x, "noise", "body.1", 0.2, samples=4, chunk_size=2, region=(5, 6, 20, 10),
                          on_update=lambda e, total: updates.append((e.samples, total, e.region, e.full_shape)))
    assert updates == [(2, 4, (5, 6, 20, 10), (60, 60)), (4, 4, (5, 6, 20, 10), (60, 60))]
    assert est.variance.shape == (20, 10)


def test_own_model_over_its_cpu_input_limit_is_tiled_not_refused(tmp_path):
    from safetensors.torch import save_file
    from spandrel.architectures.Compact import Compact

    from uqcore.models.loaders import load_user_model

    torch.manual_seed(0)
    path = tmp_path / "compact.safetensors"
    save_file(Compact(num_feat=8, num_conv=2, upscale=2).state_dict(), str(path))
    limited, free = load_user_model(path, max_pixels=48 * 48), load_user_model(path, max_pixels=0)
    x = smooth(80, 70)
    est = uqcore.estimate(limited, x, "noise", "model.body.1", 0.1, samples=2, device="cpu")
    assert est.tiles > 1
    assert_same(uqcore.estimate(free, x, "noise", "model.body.1", 0.1, samples=2, device="cpu"), est, est.region)


@pytest.mark.parametrize("full, tile", [((2000, 1536), 512), ((2880, 5120), 512), ((300, 90), 128), ((74, 58), 16)])
def test_tile_plan_covers_evenly_with_tiles_no_smaller_than_asked(full, tile):
    from uqcore.engine.tiling import tile_boxes

    boxes = tile_boxes(full, tile)
    covered = torch.zeros(full, dtype=torch.int32)
    for top, left, h, w in boxes:
        covered[top:top + h, left:left + w] += 1
        assert min(tile, full[0]) <= h < 2 * tile and min(tile, full[1]) <= w < 2 * tile
    assert (covered == 1).all()
    heights = {h for _, _, h, _ in boxes}
    assert max(heights) - min(heights) <= 1  # evenly sized
