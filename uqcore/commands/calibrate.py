"""``python -m uqcore calibrate``: fit calibrated error bars on a folder and write them as JSON."""

from __future__ import annotations

import argparse
import sys

from uqcore.progress import ProgressBar
from uqcore.commands.options import add_cli_options, add_device_option, add_tile_option, cli_options
from uqcore.engine import methods as _methods
from uqcore.calibration.intervals import DEFAULT_KIND, DEFAULT_LEVEL, KINDS, MAX_VALUES, calibrate
from uqcore.datasets.folders import load_pairs
from uqcore.errors import InputError


# -- CLI ------------------------------------------------------------------------------------------
def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="bundled model name or model path")
    parser.add_argument("--data", required=True,
                        help="folder as for evaluate: SR -> HR images; depth -> name.png + name_depth.png (mm) / "
                             "name_depth.npy (m); image -> name.png + name_target.png")
    parser.add_argument("--method", default=_methods.DEFAULT_METHOD, help="one of " + ", ".join(_methods.VARIANTS))
    parser.add_argument("--layer", help="layer for noise / dropout (default: a middle block)")
    parser.add_argument("--strength", type=float, help="noise std / dropout rate (default: the method's)")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kind", default=DEFAULT_KIND, choices=KINDS,
                        help="conformal (split-conformal intervals, default), isotonic (Kuleshov recalibration), "
                             "sigma (σ-scaling), risk (conformal risk control over images; needs >= "
                             "1/(1-level) - 1 images)")
    parser.add_argument("--level", type=float, default=DEFAULT_LEVEL, help="interval level (default 0.9)")
    parser.add_argument("--limit", type=int, help="use only the first N images (sorted by name)")
    parser.add_argument("--max-values", type=int, default=MAX_VALUES,
                        help="values (pixels x channels) kept for fitting; a seeded subsample beyond "
                             f"(default {MAX_VALUES})")
    parser.add_argument("--variance-bins", default="auto",
                        help="isotonic kind: bins of its isotonic variance map -- auto (cross-validated over the "
                             "images, default), a number, or 0 for none (Kuleshov's map of r/σ alone)")
    add_tile_option(parser)
    add_device_option(parser)
    parser.add_argument("--out", required=True, help="calibration JSON to write")
    add_cli_options(parser)  # --workers, --ray-address, --resume (the run kept in <out>_run/)


def _bins(value: str) -> int | str | None:
    if value == "auto":
        return "auto"
    try:
        n = int(value)
    except ValueError:
        raise InputError(f"--variance-bins is auto or a whole number, got {value!r}") from None
    if n < 0:
        raise InputError(f"--variance-bins must be >= 0, got {n}")
    return n or None


def run(args: argparse.Namespace) -> int:
    # lazy: the model registry is needed by the CLI command only
    from uqcore.models import load_model

    model = load_model(args.model)
    scale_out = cli_options(args, rows="out")
    names, pairs = load_pairs(args.data, model, args.limit)
    print(f"{model.name} ({model.task}, x{model.scale}) on {len(pairs)} calibration image(s) from {args.data}",
          file=sys.stderr)
    with ProgressBar(len(pairs), "calibrate", unit="image") as bar:
        cal = calibrate(model, pairs, method=args.method, layer=args.layer, strength=args.strength,
                        samples=args.samples, seed=args.seed, level=args.level, kind=args.kind, names=names,
                        device=args.device, max_values=args.max_values, variance_bins=_bins(args.variance_bins),
                        progress=bar, tile=args.tile, **scale_out)
    cal.save(args.out)
    print(cal.summary())
    print(f"wrote {args.out}")
    return 0
