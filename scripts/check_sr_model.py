"""Uncertainty bar and Explore timings of one bundled SR model on the bundled samples.

    .venv/bin/python scripts/check_sr_model.py --model esrgan-thick [--threads 1] [--write]

* ``transform``: for every image of assets/samples/sr (whole image; LR = bicubic_downscale(HR, 4)),
  ``uqcore.estimate(method="transform", samples=8)`` and the pixel-level Pearson correlation
  (``uqcore.metrics.pearson``) between the variance and the absolute error of the prediction
  (``uqcore.metrics.error_map``); the mean over images is the issue-24 bar (>= 0.15).
* ``explore``: wall-clock seconds of what Explore computes first for the model on its default
  sample (the first bundled sample, as ui/session.py picks it, centre-cropped to the card's
  ``explore_crop`` as ui/inputs.py does): one forward, transform (8), the
  card's recommended setting, and the student head when the model has one. Seconds on
  ``--threads`` CPU threads of a shared machine.
``--write`` stores both in the card as ``uq_check`` and ``explore_seconds``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import uqcore  # noqa: E402
from ui.inputs import explore_region  # noqa: E402
from uqcore.metrics import error_map, pearson  # noqa: E402
from uqcore.models.registry import MODELS_DIR  # noqa: E402
from uqcore.models.srresnet import bicubic_downscale, load_hr  # noqa: E402

SAMPLES = ROOT / "assets" / "samples" / "sr"


def transform_correlations(model, paths) -> dict[str, float]:
    out = {}
    for path in paths:
        hr = load_hr(path, model.scale)
        est = uqcore.estimate(model, bicubic_downscale(hr, model.scale), method="transform", samples=8, seed=0)
        out[path.name] = round(pearson(error_map(est.prediction, hr[0]), est.variance), 4)
        print(path.name, out[path.name], flush=True)
    return out


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return round(time.perf_counter() - t, 2)


def explore_seconds(model, path: Path) -> dict:
    hr, side = explore_region(model, load_hr(path, model.scale))  # what Explore shows first
    x = bicubic_downscale(hr, model.scale)
    rec = model.card.get("recommended") or {}
    with torch.inference_mode():
        out = {"image": path.name, "explore_crop": side, "lr_size": list(x.shape[-2:]),
               "forward": timed(lambda: model.module(x))}
    out["transform_8"] = timed(lambda: uqcore.estimate(model, x, method="transform", samples=8, seed=0))
    if rec.get("method") in ("noise", "dropout"):
        out["recommended"] = {**{k: rec.get(k) for k in ("method", "layer", "strength", "samples")},
                              "seconds": timed(lambda: uqcore.estimate(
                                  model, x, method=rec["method"], layer=rec["layer"], strength=rec["strength"],
                                  samples=int(rec.get("samples", 8)), seed=0))}
    if "student" in model.methods:
        out["student"] = timed(lambda: uqcore.estimate(model, x, method="student"))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-bar", action="store_true", help="only the Explore timings")
    ap.add_argument("--images", default="", help="comma-separated sample names (e.g. astronaut.png) for the bar "
                    "instead of every bundled sample: a re-check on a subset, for CPU time")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = uqcore.load_model(args.model)
    paths = sorted(SAMPLES.glob("*.png"))
    subset = [SAMPLES / n for n in args.images.split(",") if n]
    if any(not p.is_file() for p in subset):
        ap.error(f"--images: not in {SAMPLES}: {[p.name for p in subset if not p.is_file()]}")
    command = ".venv/bin/python scripts/check_sr_model.py " + " ".join(sys.argv[1:] if argv is None else argv)
    load = round(os.getloadavg()[0], 1)  # a shared CPU: the timings move with the machine's load
    explore = {**explore_seconds(model, paths[0]), "threads": torch.get_num_threads(), "load_average": load,
               "command": command}
    print("explore seconds:", explore, flush=True)
    found = {"explore_seconds": explore}
    if not args.skip_bar:
        per_image = transform_correlations(model, subset or paths)
        mean = round(float(np.mean(list(per_image.values()))), 4)
        print(f"transform (8) pixel correlation with the error: mean {mean} over {len(per_image)} samples", flush=True)
        found["uq_check"] = {"transform_8_corr_pixel_mean": mean, "per_image": per_image, "command": command,
                            "how": "uqcore.estimate(method='transform', samples=8, seed=0) on each whole bundled "
                                   "sample (LR = bicubic_downscale(HR, 4)); uqcore.metrics.pearson(error_map("
                                   "prediction, HR), variance)"}
    if args.write:  # read now: other scripts may have written the card meanwhile
        card_path = MODELS_DIR / f"{args.model}.json"
        card = {**json.loads(card_path.read_text()), **found}
        card_path.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
