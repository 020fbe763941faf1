"""Regions and tiles (``estimate(region=...)``, ``estimate(tile=...)``), as ratios measured in one run.

1. region / whole: a 256x256 output region at the centre of a 384x384 LR photo
   (assets/samples/sr/astronaut.png) on srresnet, noise at body.5, 8 samples, against the whole
   1536x1536 estimate (bar <= 0.2).
2. tiled whole / untiled whole, tiles of --tile output pixels (default 512): noise at body.5 and transform
   (bar <= 1.15), with the largest deviation of the tiled maps from the untiled ones. Noise's tiles
   run on the narrower crops fed body.5's output (uqcore.engine.feed); ``--breakdown`` adds noise
   tiled without the feed, and with the feed in chunks of 8 samples (the default is 4).
3. a 512x512 LR request (the photo upscaled) under UQCORE_MAX_REQUEST_MB=768, in a fresh process:
   tiled or not, and its peak (VmHWM above the resident size before the call) against the limit.
4. ``--only margins``: the fed margins (narrow, wide) of the bundled models' layers against their
   receptive fields (None: not fed); ``--only chunks``: the untiled noise estimate in chunks of
   1, 2, 4 and 8 samples (``--repeats`` times each).

Each time is the best of ``--repeats`` runs (the machine is shared). The two sides of a ratio
alternate (untiled, tiled, untiled, tiled, ...) so that a burst of other jobs' load hits both
alike; each side's wall time and its process CPU time (``time.process_time``, which waiting for a
busy core does not inflate) are printed, and the ratio of each. Run:
``OMP_NUM_THREADS=2 python benchmarks/bench_tiles.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import uqcore  # noqa: E402

PHOTO = ROOT / "assets" / "samples" / "sr" / "astronaut.png"
NOISE = dict(method="noise", layer="body.5", strength=0.05, samples=8, seed=0)
TRANSFORM = dict(method="transform", samples=8, seed=0)

# The peak is VmHWM after a reset to the resident size, not ru_maxrss: Linux keeps the parent's
# high-water mark across fork and exec, so after the sections above ru_maxrss reported this
# process's own peak (3.5 GiB) instead of the child's.
MEMORY = """
import json, sys, torch
import torch.nn.functional as F
import uqcore
model = uqcore.load_model("srresnet")
x = F.interpolate(uqcore.read_image(sys.argv[1]), size=(512, 512), mode="bicubic", align_corners=False).clamp(0, 1)
uqcore.estimate(model, x[..., :8, :8], method="noise", layer="body.5", samples=2)

def status(key):
    return int(next(l for l in open("/proc/self/status") if l.startswith(key + ":")).split()[1]) * 1024

open("/proc/self/clear_refs", "w").write("5")  # the peak (VmHWM) restarts from the resident size
base = status("VmRSS")
est = uqcore.estimate(model, x, method="noise", layer="body.5", strength=0.05, samples=8)
print(json.dumps({"tiles": est.tiles, "peak": status("VmHWM") - base, "limit": uqcore.limits.max_request_bytes()}))
"""


def alternate(sides, repeats: int):
    """Run the ``sides`` (callables) in turn ``repeats`` times; per side (best wall s, best CPU s,
    last result)."""
    walls, cpus, outs = [[] for _ in sides], [[] for _ in sides], [None] * len(sides)
    for _ in range(repeats):
        for i, fn in enumerate(sides):
            c, t = time.process_time(), time.perf_counter()
            outs[i] = fn()
            walls[i].append(time.perf_counter() - t)
            cpus[i].append(time.process_time() - c)
    return [(min(w), min(c), o) for w, c, o in zip(walls, cpus, outs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--only", choices=["region", "tiles", "memory", "margins", "chunks"], help="run one part")
    parser.add_argument("--breakdown", action="store_true", help="also noise tiled without the feed / in chunks of 8")
    args = parser.parse_args()
    if args.only == "margins":
        return print_margins()
    model = uqcore.load_model("srresnet")
    x = uqcore.read_image(PHOTO)
    h, w = uqcore.output_shape(model, x)
    region = ((h - 256) // 2, (w - 256) // 2, 256, 256)
    for kw in (NOISE, TRANSFORM):  # warm-up: kernels for these shapes, the receptive-field probe
        uqcore.estimate(model, x[..., :64, :64], **kw)
    print(f"photo {PHOTO.name} {x.shape[-2]}x{x.shape[-1]} -> {h}x{w}; receptive field "
          f"{uqcore.receptive_field(model)} LR px; threads {torch.get_num_threads()}")
    if args.only == "chunks":  # the untiled run's time against its samples per chunk
        for _ in range(args.repeats):
            for chunk in (1, 2, 4, 8):
                t = time.perf_counter()
                uqcore.estimate(model, x, chunk_size=chunk, **NOISE)
                print(f"untiled noise body.5, chunks of {chunk}: {time.perf_counter() - t:.1f} s", flush=True)
        return
    if args.only in (None, "region"):
        (t_region, c_region, _), (t_whole, c_whole, _) = alternate(
            [lambda: uqcore.estimate(model, x, region=region, **NOISE), lambda: uqcore.estimate(model, x, **NOISE)],
            args.repeats)
        print(f"region 256x256 / whole: {t_region / t_whole:.3f} wall ({t_region:.1f} s / {t_whole:.1f} s), "
              f"{c_region / c_whole:.3f} CPU ({c_region:.1f} s / {c_whole:.1f} s)", flush=True)
    if args.only in (None, "tiles"):  # what any exact tiling must compute: each crop with its margin
        from uqcore.engine.tiling import crop_for, tile_boxes

        from uqcore.engine import feed

        boxes = tile_boxes((h, w), args.tile)
        narrow = feed.margins(model, NOISE["layer"]).narrow
        for what, margin in (("the receptive field's", None), (f"body.5's fed ({narrow} LR px)", narrow)):
            crops = [crop_for(model, b, tuple(x.shape[-2:]), margin) for b in boxes]
            share = sum(c[2] * c[3] for c in crops) / (x.shape[-2] * x.shape[-1])
            print(f"{len(crops)} tiles of ~{args.tile}: the crops hold {share:.3f} x the input's pixels ({what} "
                  "margin on every inner side)", flush=True)
    runs = [("noise body.5", NOISE, {}), ("transform", TRANSFORM, {})]
    if args.breakdown:
        runs += [("noise body.5, no feed", NOISE, {"feed": False}), ("noise body.5, chunks of 8", NOISE, {"chunk": 8})]
    for name, kw, how in runs if args.only in (None, "tiles") else ():
        def tiled_run(kw=kw, how=how):
            if how.get("feed", True):
                return uqcore.estimate(model, x, tile=args.tile, chunk_size=how.get("chunk"), **kw)
            with mock.patch("uqcore.engine.feed.margins", lambda *_: None):
                return uqcore.estimate(model, x, tile=args.tile, **kw)

        (t_untiled, c_untiled, untiled), (t_tiled, c_tiled, tiled) = alternate(
            [lambda: uqcore.estimate(model, x, **kw), tiled_run], args.repeats)
        dev = float((tiled.variance - untiled.variance).abs().max() / untiled.variance.max())
        print(f"tiled ({tiled.tiles} tiles) / untiled, {name}: {t_tiled / t_untiled:.3f} wall "
              f"({t_tiled:.1f} s / {t_untiled:.1f} s), {c_tiled / c_untiled:.3f} CPU ({c_tiled:.1f} s / "
              f"{c_untiled:.1f} s); max variance deviation {dev:.1e} of the map's max", flush=True)
    if args.only not in (None, "memory"):
        return
    env = {**os.environ, "UQCORE_MAX_REQUEST_MB": "768"}
    out = subprocess.run([sys.executable, "-c", MEMORY, str(PHOTO)], capture_output=True, text=True, env=env,
                         cwd=ROOT, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"512x512 under UQCORE_MAX_REQUEST_MB=768: {got['tiles']} tiles, peak {got['peak'] / 2**20:.0f} MiB "
          f"/ limit {got['limit'] / 2**20:.0f} MiB = {got['peak'] / got['limit']:.2f}")


def print_margins() -> None:
    from uqcore.engine import feed

    for name, layers in (("srresnet", ["body.0", "body.5", "body.7"]), ("fcrn", ["decoder.up1"]),
                         ("esrgan-thick", ["rrdb.0.rdb.0", "rrdb.5"])):
        model = uqcore.load_model(name)
        for layer in layers:
            t = time.perf_counter()
            found = feed.margins(model, layer)
            print(f"{name} {layer}: {found} (receptive field {uqcore.receptive_field(model)}; "
                  f"{time.perf_counter() - t:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
