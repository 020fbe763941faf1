"""Headless commands: ``python -m uqcore <command> ...`` (or ``uqcore <command> ...`` once installed).

Each command is one module of :mod:`uqcore.commands`, which exposes ``configure_parser(parser)`` and
``run(args) -> int``. This file only dispatches, and
imports a command's module when that command is used, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from uqcore.errors import InputError

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "evaluate": ("uqcore.commands.evaluate", "score uncertainty methods on a folder of images"),
    "calibrate": ("uqcore.commands.calibrate", "fit calibrated error bars (conformal, isotonic, σ-scaling) on a folder"),
    "sweep": ("uqcore.commands.sweep", "tolerability sweep: layers x strengths on one image"),
    "train": ("uqcore.commands.train", "train a bundled model (sr or depth)"),
    "make-scenes": ("uqcore.commands.make_scenes", "render synthetic indoor RGB-D scenes"),
    "reproduce": ("uqcore.commands.reproduce", "reproduce the paper's tables and figures"),
    "layers": ("uqcore.commands.layers", "list a model's injection points"),
    "map": ("uqcore.commands.map", "the uncertainty map of an image or a folder of images (whole, tiled or a region)"),
    "distill": ("uqcore.commands.distill", "distil a one-pass student head from a training-free teacher (no labels)"),
    "triage": ("uqcore.commands.triage", "rank a folder of images by uncertainty (which to check first), no labels needed"),
    "card": ("uqcore.commands.card", "write the trained models' cards (config, provenance) from their weights"),
    "data": ("uqcore.commands.data", "rebuild the image data (SR training folder, eval / test photos, unseen photos)"),
    "import-upscalerjs": ("uqcore.commands.import_upscalerjs", "import UpscalerJS's ESRGAN models (npm) into the zoo"),
    "quality": ("uqcore.commands.quality", "measure the bundled models' quality (eval set) and student heads' (decision images)"),
    "recommend": ("uqcore.commands.recommend", "write each bundled model's recommended setting (from the sweeps)"),
    "select": ("uqcore.commands.select", "choose a trained baseline among its candidates on decision images"),
    "install-ensemble": ("uqcore.commands.install_ensemble", "bundle the finished ensemble members (runs/sr/ens.N)"),
}


def _prog() -> str:
    """How the user called us, for usage lines: the installed ``uqcore`` command or ``python -m uqcore``."""
    return "uqcore" if Path(sys.argv[0]).name == "uqcore" else "python -m uqcore"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=_prog(), description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        parser.print_help()
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(COMMANDS[name][0])
    sub = argparse.ArgumentParser(prog=f"{_prog()} {name}", description=COMMANDS[name][1])
    module.configure_parser(sub)
    args = sub.parse_args(rest)
    try:
        return int(module.run(args) or 0)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
