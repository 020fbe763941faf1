"""Discovering a model's candidate injection points, resolving dotted layer names, and the default
choice of layers (the blocks a person would pick; a middle one for noise / dropout)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from uqcore.engine import methods as _methods
from uqcore.errors import InputError
from uqcore.engine.hooks import forward_hooks
from uqcore.engine.model import UQModel, as_model, checked_forward

# Plain containers: their output is that of their last child, so they add no new injection point.
_CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")
_TRIVIAL = ("Identity", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "Flatten")


@dataclass(frozen=True)
class LayerInfo:
    """One injection point: dotted name, class name, output shape for the probe, parameter count."""

    name: str
    kind: str
    shape: tuple[int, ...]
    parameter_count: int
    calls: int = 1

    def label(self) -> str:
        return f"{self.name} ({self.kind}, {'×'.join(map(str, self.shape[1:]))})"


def probe_input(model: UQModel) -> torch.Tensor:
    """A fixed smooth random image of the model's probe size (deterministic)."""
    gen = torch.Generator().manual_seed(0)
    return torch.rand((1, model.in_channels, *model.probe_size), generator=gen)


def list_layers(model: UQModel, x: torch.Tensor | None = None) -> list[LayerInfo]:
    """Candidate injection points in forward order (order of first call), with output shapes.

    Every named submodule whose output is a single tensor with a batch dimension qualifies;
    modules that are called but never produce a tensor (or are never called) are left out.
    """
    module = model.module
    x = probe_input(model) if x is None else x
    device = model.device
    order: list[str] = []
    calls: dict[str, int] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    named = [(n, m) for n, m in module.named_modules() if n]

    def pre_for(name):
        def fn(_module, _inputs):
            if name not in calls:
                order.append(name)
            calls[name] = calls.get(name, 0) + 1

        return fn

    def post_for(name):
        def fn(_module, _inputs, output):
            if name not in shapes and isinstance(output, torch.Tensor) and output.dim() >= 2:
                shapes[name] = tuple(output.shape)

        return fn

    with torch.inference_mode(), forward_hooks(
        post={m: post_for(n) for n, m in named}, pre={m: pre_for(n) for n, m in named}
    ):
        checked_forward(module, x.to(device))
    by_name = dict(named)
    return [
        LayerInfo(
            name=n,
            kind=type(by_name[n]).__name__,
            shape=shapes[n],
            parameter_count=sum(p.numel() for p in by_name[n].parameters()),
            calls=calls[n],
        )
        for n in order
        if n in shapes
    ]


def resolve_layer(module: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name``; an InputError listing valid names if there is none."""
    modules = dict(module.named_modules())
    if name and name in modules:
        return modules[name]
    valid = [n for n in modules if n]
    close = difflib.get_close_matches(str(name), valid, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    shown = ", ".join(valid[:40]) + (f", … ({len(valid)} in all)" if len(valid) > 40 else "")
    raise InputError(f"the model has no layer named {name!r}.{hint} Valid layer names: {shown}")


def candidate_layers(model: Any) -> list[str]:
    """Injection points a person would pick, in forward order.

    The model's *blocks*: modules with children that are not plain containers (Sequential,
    ModuleList, ModuleDict), are called once, and contain no other such block -- e.g.
    ``body.0`` ... ``body.7`` and ``upsample`` of SRResNet, the residual and up-projection blocks
    of FCRN. A model without such blocks (a plain ``nn.Sequential``) falls back to its leaf
    layers other than Identity/Dropout. The model's last layer (its output) is never a
    candidate: noise there is just noise on the output."""
    model = as_model(model)
    layers = list_layers(model)
    if not layers:
        raise InputError("the model has no named layers to perturb; wrap a model built from submodules")
    modules = dict(model.module.named_modules())
    last = layers[-1].name
    names = [info.name for info in layers]

    def has_children(name: str) -> bool:
        return any(True for _ in modules[name].children())

    blocks = [i.name for i in layers
              if i.calls == 1 and has_children(i.name) and i.kind not in _CONTAINERS and i.name != last]
    blocks = [b for b in blocks if not any(o != b and o.startswith(b + ".") for o in blocks)]
    if blocks:
        return blocks
    leaves = [i.name for i in layers if not has_children(i.name) and i.kind not in _TRIVIAL and i.name != last]
    if leaves:
        return leaves
    return [n for n in names if n != last] or names


def default_layers(model: Any, k: int = 4) -> list[str]:
    """About ``k`` layers spread evenly from early to late over :func:`candidate_layers`."""
    cands = candidate_layers(model)
    if len(cands) <= k:
        return cands
    idx = np.unique(np.round(np.linspace(0, len(cands) - 1, int(k))).astype(int))
    return [cands[i] for i in idx]


def default_layer(model: Any) -> str:
    """A middle layer of :func:`candidate_layers` (intermediate layers suit infer-noise/-dropout)."""
    cands = candidate_layers(model)
    return cands[len(cands) // 2]


def method_setting(model: Any, method: str, layer: str | None = None,
                   strength: float | None = None) -> tuple[str | None, float | None]:
    """(layer, strength) that engine ``method`` runs with on ``model``: the given ones, or the
    defaults (:func:`default_layer`, the spec's ``default_strength``); (None, None) for a method
    that takes no layer (the given values are ignored there, as ``estimate`` ignores them)."""
    spec = _methods.spec(method)
    if not spec.needs_layer:
        return None, None
    return layer or default_layer(model), float(spec.default_strength if strength is None else strength)
