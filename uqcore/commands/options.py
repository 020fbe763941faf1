"""Command-line options that several commands share, spelled and explained once: ``--device``,
``--tile``, per-method values (``--layer`` / ``--strength``), sample counts with ``auto`` and its stop
rule, and the scale-out flags (``--workers``, ``--ray-address``, ``--resume``) with what they become
(:func:`cli_options`)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from uqcore.distributed import Store, check_workers, uses_ray
from uqcore.engine.estimate import AUTO, DEFAULT_MAX_SAMPLES, DEFAULT_TARGET
from uqcore.errors import InputError


def add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")


def add_tile_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tile", type=int, default=None,
                        help="compute each image's map in tiles of about TILE x TILE output pixels (large images; "
                             "the same numbers as one pass)")


# -- per-method values and sample counts ----------------------------------------------------------
def parse_per_method(text: str | None, convert: Callable[[str], Any], flag: str) -> Any:
    """"VALUE" or "method:VALUE,method:VALUE" -> value or {method: value}."""
    if text is None:
        return None
    try:
        if ":" not in text:
            return convert(text)
        out = {}
        for part in text.split(","):
            name, _, value = part.partition(":")
            out[name.strip()] = convert(value.strip())
        return out
    except ValueError as exc:
        raise InputError(f"{flag} must be VALUE or method:VALUE,method:VALUE, got {text!r}") from exc


def parse_samples(text: str, flag: str) -> int | str:
    """A sample count or "auto" from the command line."""
    text = text.strip()
    if text.lower() == AUTO:
        return AUTO
    try:
        return int(text)
    except ValueError as exc:
        raise InputError(f"{flag} takes sample counts (integers) or auto, got {text!r}") from exc


def add_auto_options(parser: argparse.ArgumentParser) -> None:
    """--reliability / --max-samples: the stop rule of ``--samples auto`` (evaluate and sweep)."""
    parser.add_argument("--reliability", type=float, default=DEFAULT_TARGET,
                        help=f"with --samples auto: the split-half reliability to reach (default {DEFAULT_TARGET})")
    parser.add_argument("--max-samples", type=int, default=DEFAULT_MAX_SAMPLES,
                        help=f"with --samples auto: the most samples per image (default {DEFAULT_MAX_SAMPLES})")


# -- scale-out: Ray workers and the resumable store --------------------------------------------------------------------------------
def add_cli_options(parser: argparse.ArgumentParser, resume: bool = True) -> None:
    """``--workers N``, ``--ray-address ADDRESS`` and (with ``resume``) ``--resume`` for a dataset-level command."""
    group = parser.add_argument_group("scale-out (Ray) and resume" if resume else "scale-out (Ray)")
    group.add_argument("--workers", type=int, metavar="N",
                       help="run the per-image work on N Ray worker processes (a local Ray started for the run, "
                            "or the cluster of --ray-address); results are the serial run's")
    group.add_argument("--ray-address", metavar="ADDRESS",
                       help="join an existing Ray cluster (e.g. auto, 10.0.0.5:6379, ray://head:10001); default: "
                            "the RAY_ADDRESS variable. Nodes need this project and the model's files at the same paths")
    if resume:
        group.add_argument("--resume", action="store_true",
                           help="continue the run kept next to --out (in <out>_run/): finished units are not run again")


def cli_workers(args: Any) -> tuple[int | None, str | None]:
    """(workers, ray_address) from ``--workers`` / ``--ray-address`` / ``RAY_ADDRESS``; says on
    stderr where the units will run when that is Ray."""
    workers = check_workers(args.workers)
    ray_address = args.ray_address or os.environ.get("RAY_ADDRESS") or None
    if uses_ray(workers, ray_address):
        where = f"the Ray cluster at {ray_address}" if ray_address else "a local Ray started for this run"
        count = f"{workers} worker(s)" if workers else "one worker per GPU (or per CPU) of the cluster"
        print(f"{count} on {where}", file=sys.stderr)
    return workers, ray_address


def cli_options(args: Any, rows: str) -> dict[str, Any]:
    """evaluate/sweep keyword arguments from the flags of :func:`add_cli_options`; {} (the serial
    path) when none is given and RAY_ADDRESS is unset. With ``--out DIR/NAME.ext`` the run is kept
    in ``DIR/NAME_run/`` and its readable rows go to ``DIR/NAME_images.csv`` (``rows="images"``)
    or to the ``--out`` CSV itself (``rows="out"``; ``DIR/NAME_run/rows.csv`` for a JSON --out)."""
    if check_workers(args.workers) is None and not (args.ray_address or os.environ.get("RAY_ADDRESS")) \
            and not args.resume:
        return {}
    store = None
    if args.out:
        out = Path(args.out)
        folder = out.with_name(out.stem + "_run")
        if rows == "images":
            store = Store(folder, out.with_name(out.stem + "_images.csv"))
        else:
            store = Store(folder, out if out.suffix.lower() == ".csv" else None)
    elif args.resume:
        raise InputError("--resume needs --out: a run is kept next to its output file (in <out>_run/)")
    workers, ray_address = cli_workers(args)
    return {"workers": workers, "ray_address": ray_address, "store": store, "resume": bool(args.resume)}
