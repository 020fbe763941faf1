"""``python -m uqcore map``: the uncertainty map of one image (or of each image of a folder),
whole, in tiles or for a region.

Writes to ``--out`` (with ``--images DIR``: to ``--out/<image name>/`` for each image, and the
HR images of ``--hr DIR`` are matched by name): ``prediction.png``; ``variance.npy`` (float32 [H', W']) and
``variance.png`` (16-bit, scaled to the map's maximum); with ``--hr``: ``error.npy`` (absolute
error averaged over channels, :func:`uqcore.metrics.error_map`) and ``metrics.json`` (Pearson
and Spearman of error vs variance, AUSE). ``--region`` and the HR image are in output pixels.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from uqcore.commands.options import add_device_option, add_tile_option
from uqcore.errors import InputError


def configure_parser(p) -> None:
    p.add_argument("--model", required=True, help="bundled model name or a model path/spec")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--image", help="the input image (LR for SR models)")
    which.add_argument("--images", help="a folder of input images: one output subfolder per image")
    p.add_argument("--hr", help="ground truth at the output size: adds error map and metrics (with --images: a "
                   "folder, matched by name)")
    p.add_argument("--method", default="noise")
    p.add_argument("--layer", default=None, help="injection point (noise, dropout); see python -m uqcore layers")
    p.add_argument("--strength", type=float, default=None)
    p.add_argument("--samples", default="8", help='a count or "auto"')
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--region", help="T,L,H,W in output pixels: only this box")
    add_tile_option(p)
    add_device_option(p)
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


def _inputs(args) -> list[tuple[str, Path, Path | None, Path]]:
    """(name, image, HR or None, output folder) per image; an InputError before any work if a
    folder is empty or an HR image is missing."""
    from uqcore.datasets import IMAGE_SUFFIXES

    out = Path(args.out)
    if args.image:
        return [(Path(args.image).stem, Path(args.image), Path(args.hr) if args.hr else None, out)]
    folder = Path(args.images)
    if not folder.is_dir():
        raise InputError(f"--images {folder} is not a folder; pass a folder of images (or --image PATH)")
    images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise InputError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    hr_dir = Path(args.hr) if args.hr else None
    if hr_dir is not None and not hr_dir.is_dir():
        raise InputError(f"with --images, --hr must be a folder of HR images matched by name; {hr_dir} is not one")
    found = []
    for path in images:
        hr = None
        if hr_dir is not None:
            hr = next((c for c in (hr_dir / f"{path.stem}{s}" for s in IMAGE_SUFFIXES) if c.is_file()), None)
            if hr is None:
                raise InputError(f"no HR image named {path.stem}.* in {hr_dir} for {path.name}")
        found.append((path.stem, path, hr, out / path.stem))
    return found


def _checked(model, inputs, region, tile) -> None:
    """Every image (and HR image) readable, the HR at the output's size, the region inside every
    output, the tile at least the stride: checked before the first estimate, so a bad input
    costs no work."""
    from uqcore.io import read_image
    from uqcore.engine.receptive import output_shape
    from uqcore.engine.tiling import check_region, check_tile

    if tile is not None:
        check_tile(model, tile)
    for _name, path, hr, _ in inputs:
        shape = output_shape(model, read_image(path))
        got = None if hr is None else tuple(read_image(hr).shape[-2:])
        if got is not None and got != shape:
            raise InputError(f"the HR image {hr.name} is {got[0]}×{got[1]}, the output of {path.name} is "
                             f"{shape[0]}×{shape[1]}; pass the ground truth at the output's size")
        if region is not None:
            try:
                check_region(region, shape)
            except InputError as exc:
                raise InputError(f"{path.name}: {exc}") from None


def run(args) -> int:
    import uqcore
    from tqdm import tqdm

    from uqcore.engine import methods
    from uqcore.io import read_image, to_uint8

    model = uqcore.load_model(args.model)
    samples = args.samples if args.samples == "auto" else int(args.samples)
    strength = args.strength if args.strength is not None else methods.DEFAULT_STRENGTH.get(args.method)
    region = _region(args.region)
    inputs = _inputs(args)
    _checked(model, inputs, region, args.tile)
    with tqdm(total=len(inputs), desc="map", unit="image", file=sys.stderr, disable=len(inputs) == 1) as images, \
            tqdm(desc="samples", unit="sample", file=sys.stderr, leave=False) as bar:
        for name, path, hr, out in inputs:
            bar.reset()
            bar.set_description(f"{name}: samples (over tiles)")

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            est = uqcore.estimate(model, read_image(path), args.method, args.layer, strength, samples, args.seed,
                                  args.device, region=region, tile=args.tile, progress=progress)
            out.mkdir(parents=True, exist_ok=True)
            _save(out, est, to_uint8)
            if hr is not None:
                _score(out, est, read_image(hr))
            tqdm.write(f"wrote {out} ({est.samples} samples, {est.tiles} tile(s), region {est.region})",
                       file=sys.stdout)
            images.update(1)
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
