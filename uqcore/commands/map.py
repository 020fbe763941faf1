"""``python -m uqcore map``: the uncertainty map of one image, whole, in tiles or for a region.

Writes to ``--out``: ``prediction.png``; ``variance.npy`` (float32 [H', W']) and
``variance.png`` (16-bit, scaled to the map's maximum); with ``--hr``: ``error.npy`` (absolute
error averaged over channels, :func:`uqcore.metrics.error_map`) and ``metrics.json`` (Pearson
and Spearman of error vs variance, AUSE). ``--region`` and the HR image are in output pixels.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from uqcore.errors import InputError


def configure_parser(p) -> None:
    p.add_argument("--model", required=True, help="bundled model name or a model path/spec")
    p.add_argument("--image", required=True, help="the input image (LR for SR models)")
    p.add_argument("--hr", help="ground truth at the output size: adds error map and metrics")
    p.add_argument("--method", default="noise")
    p.add_argument("--layer", default=None, help="injection point (noise, dropout); see python -m uqcore layers")
    p.add_argument("--strength", type=float, default=None)
    p.add_argument("--samples", default="8", help='a count or "auto"')
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--region", help="T,L,H,W in output pixels: only this box")
    p.add_argument("--tile", type=int, help="compute in tiles of about TILE x TILE output pixels")
    p.add_argument("--device", default=None)
    p.add_argument("--out", required=True, help="output folder")


def _region(text: str | None):
    if text is None:
        return None
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise InputError(f"--region must be T,L,H,W (four integers), got {text!r}")
    return values


def run(args) -> int:
    import uqcore
    from uqcore.engine import methods
    from uqcore.io import read_image, to_uint8

    model = uqcore.load_model(args.model)
    x = read_image(args.image)
    samples = args.samples if args.samples == "auto" else int(args.samples)
    strength = args.strength if args.strength is not None else methods.DEFAULT_STRENGTH.get(args.method)

    def progress(done: int, total: int) -> None:
        print(f"\r{done}/{total} samples", end="", file=sys.stderr, flush=True)

    est = uqcore.estimate(model, x, args.method, args.layer, strength, samples,
                          args.seed, args.device, region=_region(args.region), tile=args.tile, progress=progress)
    print(file=sys.stderr)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _save(out, est, to_uint8)
    if args.hr:
        _score(out, est, read_image(args.hr))
    print(f"wrote {out} ({est.samples} samples, {est.tiles} tile(s), region {est.region})")
    return 0


def _save(out: Path, est, to_uint8) -> None:
    from PIL import Image

    pred = est.prediction
    if pred.shape[0] == 3:
        Image.fromarray(to_uint8(pred)).save(out / "prediction.png")
    else:
        np.save(out / "prediction.npy", pred.numpy())
    var = est.variance.numpy().astype(np.float32)
    np.save(out / "variance.npy", var)
    top = float(np.nanmax(var)) if np.isfinite(var).any() else 0.0
    scaled = np.nan_to_num(var / top if top > 0 else var * 0) * 65535
    Image.fromarray(scaled.round().clip(0, 65535).astype(np.uint16)).save(out / "variance.png")


def _score(out: Path, est, hr) -> None:
    from uqcore import metrics as M

    top, left, h, w = est.region
    if tuple(hr.shape[-2:]) != tuple(est.full_shape):
        raise InputError(f"--hr is {hr.shape[-2]}×{hr.shape[-1]}, the output is {est.full_shape[0]}×{est.full_shape[1]}")
    target = hr[0, :, top:top + h, left:left + w]
    err = M.error_map(est.prediction[: target.shape[0]], target)
    np.save(out / "error.npy", np.asarray(err, dtype=np.float32))
    result = {"pearson": M.pearson(err, est.variance), "spearman": M.spearman(err, est.variance),
              "ause": M.ause(err, est.variance), "region": list(est.region), "samples": est.samples}
    (out / "metrics.json").write_text(json.dumps(result, indent=2))
