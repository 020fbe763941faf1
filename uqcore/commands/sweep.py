"""``python -m uqcore sweep``: a tolerability sweep (layers x strengths) on one image, the rows as a table,
the recommended setting, and optionally the rows as CSV / JSON (:mod:`uqcore.datasets.sweep`)."""

from __future__ import annotations

import argparse
import sys

from uqcore.progress import ProgressBar
from uqcore.commands.options import add_auto_options, add_cli_options, add_device_option, cli_options, parse_samples
from uqcore.datasets.evaluate import write_rows
from uqcore.datasets.folders import make_lr
from uqcore.datasets.sweep import default_strengths, format_rows, recommend, sweep
from uqcore.engine.layers import default_layers
from uqcore.engine.methods import SWEEP_METHODS
from uqcore.errors import InputError
from uqcore.io import read_depth, read_image


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    return items or None


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="bundled model name or model path")
    parser.add_argument("--image", required=True, help="the model input (for SR with --hr: the HR image)")
    parser.add_argument("--target", help="ground truth: HR image (SR) or depth map (16-bit PNG mm / .npy m)")
    parser.add_argument("--hr", action="store_true",
                        help="SR: --image is the HR ground truth; the input is its bicubic downscale by the model's scale")
    parser.add_argument("--method", default=SWEEP_METHODS[0], choices=SWEEP_METHODS)
    parser.add_argument("--layers", help="comma-separated layer names (default: ~4 spread from early to late)")
    parser.add_argument("--strengths", help="comma-separated noise stds or dropout rates")
    parser.add_argument("--samples", default="8",
                        help="samples per setting, or auto (draw until the variance map's split-half "
                             "reliability reaches --reliability)")
    add_auto_options(parser)
    parser.add_argument("--seed", type=int, default=0)
    add_device_option(parser)
    parser.add_argument("--tolerance", type=float, default=0.05, help="relative loss increase allowed (default 0.05)")
    parser.add_argument("--out", help="write the rows to this .csv or .json file")
    add_cli_options(parser)  # --workers, --ray-address, --resume (rows stream to a .csv --out)


def run(args: argparse.Namespace) -> int:
    # lazy: the model registry is needed by the CLI command only
    from uqcore.models import load_model

    model = load_model(args.model)
    x = read_image(args.image)
    target = None
    if args.hr:
        if model.task != "sr":
            raise InputError("--hr only applies to super-resolution models")
        if args.target:
            raise InputError("give either --hr (the image is the HR target) or --target, not both")
        x, target = make_lr(x, model.scale)
        target = target[0]
    elif args.target:
        target = read_depth(args.target) if model.task == "depth" else read_image(args.target)[0]
    strengths = _split(args.strengths)
    try:
        strengths = None if strengths is None else [float(s) for s in strengths]
    except ValueError as exc:
        raise InputError(f"--strengths must be numbers separated by commas, got {args.strengths!r}") from exc
    layers = _split(args.layers)
    samples = parse_samples(args.samples, "--samples")
    n = len(layers or default_layers(model)) * len(strengths or default_strengths(args.method))
    scale_out = cli_options(args, rows="out")
    with ProgressBar(n, f"sweep {args.method}", unit="setting") as progress:
        rows = sweep(model, x, target, method=args.method, layers=layers, strengths=strengths,
                     samples=samples, seed=args.seed, device=args.device, progress=progress,
                     reliability_target=args.reliability, max_samples=args.max_samples, **scale_out)
    failed = [r for r in rows if r.get("error")]
    if failed:
        print(f"{len(failed)} setting(s) failed: " + "; ".join(f"{r['layer']} {r['strength']:g}: {r['error']}"
                                                          for r in failed[:3]), file=sys.stderr)
    print(format_rows(rows))
    best = recommend(rows, args.tolerance)
    if best is None:
        print(f"\nno setting stays within a {args.tolerance:.1%} loss increase")
    else:
        what = "corr_pixel" if best.get("corr_pixel") is not None else "variance_mean"
        print(f"\nrecommended (highest {what} within {args.tolerance:.1%} loss increase): "
              f"layer={best['layer']} strength={best['strength']:g} ({what}={best[what]:.4f}, "
              f"loss increase {best['loss_increase']:.2%})")
    if args.out:
        write_rows(rows, args.out)
        print(f"wrote {len(rows)} rows to {args.out}")
    return 0
