"""``python -m uqcore make-scenes``: render synthetic indoor RGB-D scenes into a folder
(:func:`uqcore.scenes.write_scenes`)."""

from __future__ import annotations

import argparse

from uqcore.errors import InputError
from uqcore.scenes.files import write_scenes


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, required=True, help="number of scenes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first scene (scene i uses seed+i)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--prefix", default="scene_", help="file name prefix")
    parser.add_argument("--supersample", type=int, default=2, help="rays per pixel side (anti-aliasing)")
    parser.add_argument("--workers", type=int, default=1, help="processes")


def run(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise InputError("--n must be at least 1")
    if args.height < 8 or args.width < 8:
        raise InputError("--height and --width must be at least 8 pixels")
    paths = write_scenes(
        args.out,
        args.n,
        args.seed,
        args.height,
        args.width,
        prefix=args.prefix,
        supersample=args.supersample,
        workers=args.workers,
        progress=True,
    )
    print(f"wrote {len(paths)} scenes (seeds {args.seed}..{args.seed + args.n - 1}) to {args.out}")
    return 0
