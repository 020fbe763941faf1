"""Command-line options that several commands share, spelled and explained once."""

from __future__ import annotations

import argparse


def add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")


def add_tile_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tile", type=int, default=None,
                        help="compute each image's map in tiles of about TILE x TILE output pixels (large images; "
                             "the same numbers as one pass)")
