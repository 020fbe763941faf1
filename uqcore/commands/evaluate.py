"""``python -m uqcore evaluate``: flags, the setting a calibration fills in, tables and files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from uqcore.progress import ProgressBar
from uqcore.commands.options import (add_auto_options, add_cli_options, add_device_option, add_tile_option, cli_options,
                                     parse_per_method, parse_samples)
from uqcore.engine import methods as _methods
from uqcore.calibration.intervals import load_calibration
from uqcore.datasets.folders import load_pairs
from uqcore.datasets.evaluate import (DEFAULT_METHODS, report_units, evaluate,
                               format_table, write_rows)
from uqcore.engine.estimate import AUTO
from uqcore.scoring.summary_ci import add_intervals, interval_frame
from uqcore.scoring.scorer import LEVELS


# -- CLI -----------------------------------------------------------------------------------------
def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="bundled model name or model path")
    parser.add_argument("--data", required=True,
                        help="folder: SR -> HR images; depth -> name.png + name_depth.png (mm) / name_depth.npy (m)")
    parser.add_argument("--methods", default=None,
                        help="comma-separated: " + ", ".join(_methods.VARIANTS)
                             + f" (default: {','.join(DEFAULT_METHODS)}; with --calibration its method)")
    parser.add_argument("--samples", default=None,
                        help="comma-separated sample counts and/or auto, e.g. 8,32,auto (auto: draw per image until "
                             "the variance map's split-half reliability reaches --reliability; default 8; with "
                             "--calibration its count)")
    parser.add_argument("--layer", help="layer for noise/dropout: NAME or noise:NAME,dropout:NAME (default: a middle "
                                        "block; with --calibration its layer)")
    parser.add_argument("--strength", help="noise std / dropout rate: VALUE or noise:0.05,dropout:0.1 (default: the "
                                           "method's; with --calibration its strength)")
    parser.add_argument("--seed", type=int, default=None, help="default 0 (with --calibration: its seed)")
    add_auto_options(parser)
    parser.add_argument("--limit", type=int, help="use only the first N images (sorted by name)")
    parser.add_argument("--sigma-split", type=float, default=0.5,
                        help="the σ-scaling split: share of images the variance scale is fitted on, the rest "
                             "held out (default 0.5)")
    parser.add_argument("--calibration", metavar="CAL.json",
                        help="a calibration from `python -m uqcore calibrate`: adds coverage, interval_width, ence, "
                             "ence_calibrated per image and to the summary of its method")
    parser.add_argument("--ci", action="store_true",
                        help="95%% bootstrap intervals over images (percentile, 2,000 seeded resamples; "
                             "uqcore.scoring.summary_ci) in the summary and the rows: corr_lo/_hi, ause_lo/_hi, nll_lo/_hi")
    add_tile_option(parser)
    add_device_option(parser)
    parser.add_argument("--out", help="write the rows to this .csv (or .json) file (per-image rows of a calibrated "
                                      "run to <name>_images.csv / .json next to it)")
    add_cli_options(parser)  # --workers, --ray-address, --resume (per-image rows: <out>_images.csv)


def _cli_setting(args: argparse.Namespace, cal: Any) -> tuple[list[str], list[int | str], Any, Any, int]:
    """methods, samples, layer, strength, seed from the flags; a calibration fills the ones not given."""
    s = cal.setting if cal is not None else {}
    methods = ([m.strip() for m in args.methods.split(",") if m.strip()] if args.methods
               else [s["method"]] if s.get("method") else list(DEFAULT_METHODS))
    text = args.samples or (str(s["samples"]) if isinstance(s.get("samples"), int) else "8")
    samples = [parse_samples(v, "--samples") for v in text.split(",") if v.strip()]
    layer = parse_per_method(args.layer, str, "--layer")
    strength = parse_per_method(args.strength, float, "--strength")
    if s.get("layer") is not None:
        layer = {s["engine"]: s["layer"]} if layer is None else layer
        strength = {s["engine"]: float(s["strength"])} if strength is None else strength
    seed = args.seed if args.seed is not None else int(s.get("seed", 0))
    return methods, samples, layer, strength, seed


def _image_table(rows: Sequence[dict[str, Any]]) -> str:
    cols = ["method", "samples", "image", "coverage", "interval_width", "ence", "ence_calibrated"]
    body = [[str(r.get(c, "")) if not isinstance(r.get(c), float) else f"{r[c]:.4g}" for c in cols] for r in rows]
    widths = [max(len(c), *(len(b[j]) for b in body)) for j, c in enumerate(cols)]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(line, widths)) for line in [cols, *body])


def run(args: argparse.Namespace) -> int:
    # lazy: the model registry is needed by the CLI command only
    from uqcore.models import load_model

    model = load_model(args.model)
    cal = load_calibration(args.calibration) if args.calibration else None
    methods, samples, layer, strength, seed = _cli_setting(args, cal)
    scale_out = cli_options(args, rows="images")
    names, pairs = load_pairs(args.data, model, args.limit, keep_errors=bool(scale_out))
    print(f"{model.name} ({model.task}, x{model.scale}) on {len(pairs)} image(s) from {args.data}", file=sys.stderr)
    if cal is not None:
        print(cal.summary(), file=sys.stderr)
        shared = sorted(set(names) & set(cal.images))
        if shared:
            print(f"note: {len(shared)} of these images ({', '.join(shared[:5])}{', ...' if len(shared) > 5 else ''}) "
                  "were used to fit the calibration; their coverage is in-sample (optimistic)", file=sys.stderr)
    images: list[dict[str, Any]] = []
    with ProgressBar(1, "evaluate", unit="image") as progress:
        named = [(name, x, t) for name, (x, t) in zip(names, pairs)]  # names key the per-image rows
        rows = evaluate(model, named, methods=methods, samples=samples, layer=layer, strength=strength, seed=seed,
                        sigma_split=args.sigma_split, device=args.device, progress=progress,
                        calibration=cal, on_image=images.append, reliability_target=args.reliability,
                        max_samples=args.max_samples, tile=args.tile, **scale_out)
    report_units(rows, scale_out.get("store"))
    print(format_table(rows))
    if args.ci:
        rows = add_intervals(rows, images)
        print("\n95% bootstrap intervals over images (percentile, 2,000 seeded resamples; uqcore.scoring.summary_ci):")
        print(interval_frame(rows).to_string())
    settings = sorted({(r["method"], r["layer"], r["strength"]) for r in rows if r["layer"]})
    for method, lay, st in settings:
        print(f"{method}: layer {lay}, strength {st:g}")
    for r in rows:
        if r["samples"] == AUTO and r["level"] == LEVELS[0]:
            rel = "-" if r["reliability"] is None else f"{r['reliability']:.3f}"
            print(f"{r['method']} (auto): {r['samples_drawn_min']}-{r['samples_drawn_max']} samples per image, "
                  f"mean map reliability {rel}")
    calibrated = [r for r in images if "coverage" in r]
    if calibrated:
        print(f"\nper image ({cal.kind} interval at level {cal.level:g}):")
        print(_image_table(calibrated))
        for r in rows:
            if "coverage" in r and r["level"] == LEVELS[0]:
                print(f"all images, {r['method']} ({r['samples']}): coverage {r['coverage']:.4f}, interval_width "
                      f"{r['interval_width']:.4g}, ence {r['ence']:.4g}, ence_calibrated {r['ence_calibrated']:.4g}")
    if args.out:
        write_rows(rows, args.out)
        print(f"wrote {len(rows)} rows to {args.out}")
        if calibrated:
            out = Path(args.out)
            per_image = out.with_name(f"{out.stem}_images{out.suffix}")
            store = scale_out.get("store")
            if store is None or store.rows_path != per_image:  # a run's store already wrote them there
                write_rows(images, per_image)
                print(f"wrote {len(images)} per-image rows to {per_image}")
    return 0
