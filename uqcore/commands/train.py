"""``python -m uqcore train {sr,depth} ...``: dispatch to the task's training module."""

from __future__ import annotations

import argparse
import importlib

TASK_MODULES = {"sr": "uqcore.training.sr", "depth": "uqcore.training.depth"}


def configure_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="task", required=True, metavar="TASK")
    for task, module_name in TASK_MODULES.items():
        module = importlib.import_module(module_name)
        module.configure_parser(sub.add_parser(task, help=module.__doc__.splitlines()[0]))


def run(args: argparse.Namespace) -> int:
    return importlib.import_module(TASK_MODULES[args.task]).run(args)
