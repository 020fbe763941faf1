"""``python -m uqcore reproduce``: the command line of the paper run."""

from __future__ import annotations

import argparse
import shlex
from dataclasses import replace
from pathlib import Path

import torch

from uqcore.commands.options import add_cli_options, add_device_option, cli_workers
from uqcore.errors import InputError
from uqcore.paper.intervals import text as interval_text
from uqcore.paper.markdown import sibling_csv
from uqcore.paper.report import DEPTH_DATA, QUICK, SR_DATA, Settings
from uqcore.paper.run import run_reproduction

DEFAULT_OUT = "docs/RESULTS.md"  # relative to the working directory: run it from the repository root


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="few small images and settings (about a minute): a smoke test, used in CI")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"markdown report to write (default {DEFAULT_OUT})")
    parser.add_argument("--figures", default=None, help="folder for the Fig. 4 PNGs (default: figures/ next to --out)")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNGs")
    parser.add_argument("--seed", type=int, default=0)
    add_device_option(parser)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice; 1 is much faster on a busy machine)")
    parser.add_argument("--sr-crop", type=int, default=None,
                        help="HR centre crop, pixels per side (default 256; --quick 96; 0 = whole images)")
    parser.add_argument("--tolerance", type=float, default=0.05,
                        help="relative loss increase a chosen perturbation may cause (default 0.05)")
    parser.add_argument("--interval-level", type=float, default=0.9,
                        help="level of the calibrated error bars (conformal / isotonic; default 0.9)")
    parser.add_argument("--sr-heldout", type=int, default=None,
                        help="held-out calibration images of the SR error bars (uqcore.paper.heldout; default 7, "
                             "--quick 2; 0: the calibration split only)")
    parser.add_argument("--depth-heldout", type=int, default=None,
                        help="held-out scenes (seeds 3000000-) of the depth error bars (default 48, --quick 4)")
    parser.add_argument("--depth-test", type=int, default=None,
                        help="rendered scenes (seeds 4000000-) added to the depth test split (default 200, --quick 8)")
    parser.add_argument("--sr-models", default=None,
                        help="comma-separated SR models for Table 1 (default: uqcore.paper.report.Settings.sr_models; "
                             "--quick: the first two)")
    parser.add_argument("--mcdrop-model", default="srresnet-mcdrop")
    parser.add_argument("--ensemble-model", default="srresnet-ens")
    parser.add_argument("--llm-model", default="srresnet-llm-head",
                        help="the likelihood baseline of the LLM column (default: the stop-gradient head on "
                             "srresnet's frozen trunk)")
    parser.add_argument("--llm-joint-model", default="srresnet-llm",
                        help="the likelihood baseline of the LLM joint column (default: srresnet's mean and "
                             "log-variance fine-tuned together)")
    parser.add_argument("--depth-model", default="fcrn")
    parser.add_argument("--sr-data", default=str(SR_DATA), help="folder of HR images")
    parser.add_argument("--depth-data", default=str(DEPTH_DATA), help="folder of name.png + name_depth.png")
    parser.add_argument("--cache", default=None, metavar="DIR",
                        help="keep every sweep and table unit in DIR as it finishes; a rerun with the same DIR reuses "
                             "the units of unchanged models, settings and images (an interrupted run continues; new "
                             "weights recompute only their own columns)")
    add_cli_options(parser, resume=False)  # --workers / --ray-address: sweeps and tables on Ray


def settings_from_args(args: argparse.Namespace) -> Settings:
    s = Settings(**QUICK) if args.quick else Settings()
    sr_models = s.sr_models if args.sr_models is None else tuple(
        m.strip() for m in args.sr_models.split(",") if m.strip())
    if not sr_models:
        raise InputError("--sr-models needs at least one model name")
    if not 0 < args.tolerance < 10:
        raise InputError(f"--tolerance is a relative loss increase such as 0.05, got {args.tolerance}")
    s = replace(s, seed=args.seed, device=args.device, tolerance=args.tolerance, sr_models=sr_models,
                mcdrop_model=args.mcdrop_model, ensemble_model=args.ensemble_model, llm_model=args.llm_model,
                llm_joint_model=args.llm_joint_model,
                depth_model=args.depth_model, sr_data=args.sr_data, depth_data=args.depth_data,
                interval_level=args.interval_level)
    if not 0 < args.interval_level < 1:
        raise InputError(f"--interval-level must be between 0 and 1, e.g. 0.9; got {args.interval_level}")
    for name in ("sr_heldout", "depth_heldout", "depth_test"):
        value = getattr(args, name, None)
        if value is not None:
            if value < 0:
                raise InputError(f"--{name.replace('_', '-')} must be >= 0, got {value}")
            s = replace(s, **{name: value})
    if args.sr_crop is not None:
        if args.sr_crop < 0:
            raise InputError(f"--sr-crop must be 0 (whole images) or a positive size, got {args.sr_crop}")
        s = replace(s, sr_crop=args.sr_crop)
    return s


def command_line(args: argparse.Namespace) -> str:
    """The command as it would be typed: ``python -m uqcore reproduce`` plus every option that differs
    from its default."""
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    defaults = vars(parser.parse_args([]))
    parts = ["python -m uqcore reproduce"]
    for action in parser._actions:
        dest = action.dest
        if dest == "help" or dest not in vars(args) or getattr(args, dest) == defaults.get(dest):
            continue
        flag = action.option_strings[-1]
        value = getattr(args, dest)
        parts.append(flag if isinstance(value, bool) else f"{flag} {shlex.quote(str(value))}")
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    s = settings_from_args(args)
    if args.threads is not None:
        if args.threads < 1:
            raise InputError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    figures = None if args.no_figures else (Path(args.figures) if args.figures else out.parent / "figures")
    command = command_line(args)
    workers, ray_address = cli_workers(args)
    report = run_reproduction(s, command=command, out=out, figures=figures, workers=workers, ray_address=ray_address,
                              cache=None if args.cache is None else Path(args.cache))
    print(interval_text(report))
    print(f"wrote {out} ({report.total_seconds:.0f} s), {sibling_csv(out, 'rows')}, {sibling_csv(out, 'sweeps')}, "
          f"{sibling_csv(out, 'per_image')}"
          + (f" and {len(report.figures)} figures in {figures}" if report.figures else ""))
    return 0

