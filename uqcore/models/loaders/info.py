"""What the dashboard shows about a loaded model: a summary and its module tree."""

from __future__ import annotations

from uqcore.engine.model import UQModel
from uqcore.models.loaders.torchscript import TorchScriptNet


def describe(model: UQModel) -> dict:
    """What was detected, for display: format, architecture, task, scale, parameters, methods."""
    card = model.card or {}
    return {
        "name": model.name,
        "format": card.get("format", "python"),
        "architecture": card.get("architecture", type(model.module).__name__),
        "task": model.task,
        "scale": model.scale,
        "parameters": model.parameter_count,
        "input channels": model.in_channels,
        "depth kind": model.depth_kind if model.task == "depth" else "",
        "methods": ", ".join(model.methods),
    }


def module_tree(model: UQModel) -> list[tuple[str, str]]:
    """(name, class) of every submodule, also inside a TorchScript model (which has no hookable layers)."""
    module = model.module
    if isinstance(module, TorchScriptNet):
        return module.scripted_modules()
    return [(n, type(m).__name__) for n, m in module.named_modules() if n]
