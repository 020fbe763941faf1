"""Names of a package resolved from its submodules on first use, so importing the package stays cheap.

The pattern of ``lazy_loader.attach`` (scientific-python SPEC 1), without the dependency.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, names_by_module: dict[str, list[str]],
                 submodules: dict[str, str] | None = None) -> tuple[Callable[[str], object], list[str]]:
    """``(__getattr__, __all__)`` for ``package``: each name of ``names_by_module[module]`` is
    ``getattr(import_module(module), name)``; each key of ``submodules`` is the module it maps to."""
    where = {name: module for module, names in names_by_module.items() for name in names}
    submodules = submodules or {}

    def __getattr__(name: str):
        if name in where:
            return getattr(importlib.import_module(where[name]), name)
        if name in submodules:
            return importlib.import_module(submodules[name])
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__, [*where, *sorted(submodules)]
