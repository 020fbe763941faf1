"""``python -m uqcore layers``: a model's injection points (name, class, output shape, parameters)."""

from __future__ import annotations

import argparse

from uqcore.engine.layers import list_layers


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="bundled model name or model card path")


def run(args: argparse.Namespace) -> int:
    from uqcore.models import load_model  # lazy: the registry and loaders are only needed by the CLI

    for info in list_layers(load_model(args.model)):
        print(f"{info.name:32s} {info.kind:20s} {'x'.join(map(str, info.shape)):>20s} {info.parameter_count:>10d}")
    return 0
