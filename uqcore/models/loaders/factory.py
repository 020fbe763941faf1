"""``package.module:factory``: a callable from the user's own code returning an ``nn.Module``.

Called with ``factory_kwargs`` (or returning a ``UQModel``); ``weights=`` optionally loads a state
dict into it (safetensors or weights-only ``torch.load``). Task and scale come from the
arguments, or are detected by running a probe input. Importing a module runs its code: this is
for the user's own, trusted code.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from uqcore.errors import InputError
from uqcore.engine.model import UQModel
from uqcore.models.loaders.common import (
    MAX_BYTES,
    finish,
    fit_state_dict,
    guess_task,
    parse_range,
    probe,
    read_state_dict,
    resolve_callable,
    scale_from_probe,
    shorten,
)


class RangeAdapter(nn.Module):
    """Feeds a network that expects another input range; the network is the ``net`` child."""

    def __init__(self, net: nn.Module, input_range=(0.0, 1.0), map_output: bool = True):
        super().__init__()
        self.net = net
        self.lo, self.hi = (float(v) for v in input_range)
        self.map_output = map_output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x * (self.hi - self.lo) + self.lo)
        return (out - self.lo) / (self.hi - self.lo) if self.map_output else out


def check_factory_module(spec: str, allowed: Sequence[str] | None) -> None:
    """An InputError unless the module of ``spec`` is one of the ``allowed`` module prefixes (or
    a submodule of one); None allows every module. Nothing is imported here."""
    if allowed is None:
        return
    module = spec.split(":", 1)[0]
    if not any(module == p or module.startswith(p + ".") for p in allowed):
        raise InputError(f"factories are only loaded from {', '.join(allowed) or 'no modules'} here; {module!r} is not "
                         "among them (the server's administrator can add module prefixes with UQCORE_FACTORY_MODULES)")


def call_factory(spec: str, factory, kwargs: dict):
    """``factory(**kwargs)``; whatever it raises, SystemExit included (a command-line ``main``
    typed as a factory exits), becomes an InputError naming the spec, so it never ends the caller
    (the dashboard's Models page callback, the CLI). Only KeyboardInterrupt passes through."""
    try:
        return factory(**kwargs)
    except InputError:
        raise
    except (KeyboardInterrupt, GeneratorExit):
        raise
    except Exception as exc:
        raise InputError(f"calling {spec} failed: {type(exc).__name__}: {shorten(str(exc))}") from None
    except BaseException as exc:  # SystemExit and other non-Exception exits
        raise InputError(f"calling {spec} ended with {type(exc).__name__}({shorten(str(exc))}) instead of returning "
                         "a network: a factory is a callable from your own code that returns a torch.nn.Module, not a "
                         "program's main") from None


def load_factory(spec: str, *, weights=None, task: str | None = None, scale: int | None = None,
                 name: str | None = None, input_range=None, in_channels: int | None = None,
                 factory_kwargs: dict | None = None, max_bytes: int = MAX_BYTES,
                 allowed_modules: Sequence[str] | None = None) -> UQModel:
    """``package.module:factory`` from the user's own code, called with ``factory_kwargs``.

    Importing a module runs its code: this is for the user's own, trusted code. Callables from
    the Python standard library are refused (a factory must build a network). ``allowed_modules``:
    module prefixes the spec must fall under, checked before anything is imported (the
    dashboard passes ``UQCORE_FACTORY_MODULES``); None (the Python API, the CLI) allows any."""
    check_factory_module(spec, allowed_modules)
    top = spec.split(":", 1)[0].split(".", 1)[0]
    if top in getattr(sys, "stdlib_module_names", ()) or top == "builtins":
        raise InputError(f"{spec!r} names the standard library; a factory is a callable from your own code "
                         "that returns a torch.nn.Module")
    factory = resolve_callable(spec)
    if not callable(factory):
        raise InputError(f"{spec!r} is not callable; it must be a function or class returning an nn.Module")
    built = call_factory(spec, factory, factory_kwargs or {})
    if isinstance(built, UQModel):
        base_task, base_scale, module = built.task, built.scale, built.module
        in_channels = in_channels or built.in_channels
    elif isinstance(built, nn.Module):
        base_task, base_scale, module = None, None, built
    else:
        raise InputError(f"{spec} returned {type(built).__name__}; it must return a torch.nn.Module")
    if isinstance(module, torch.jit.ScriptModule):
        raise InputError(f"{spec} returned a TorchScript module; save it with torch.jit.save and load the file")
    if weights is not None:
        fit_state_dict(module, read_state_dict(weights, max_bytes), Path(weights).name, spec)
    in_channels = int(in_channels or 3)
    rng = parse_range(input_range)
    task = task or base_task
    scale = scale if scale is not None else base_scale
    wrapped: nn.Module = RangeAdapter(module, rng) if rng != (0.0, 1.0) else module
    out = probe(wrapped.eval(), in_channels, (32, 32))
    found = scale_from_probe(out, (32, 32), None if scale is None else int(scale))
    detected_task = guess_task(found, out.shape[1], in_channels)
    task = task or detected_task
    if isinstance(wrapped, RangeAdapter):
        wrapped.map_output = task != "depth"
    card = {
        "format": "factory",
        "source": spec,
        "weights": None if weights is None else str(weights),
        "architecture": type(module).__name__,
        "detected_task": detected_task,
        "scale": found,
        "input_channels": in_channels,
        "output_channels": int(out.shape[1]),
        "input_range": list(rng),
    }
    return finish(wrapped, name=name or spec.rsplit(":", 1)[-1], task=task, scale=found,
                   in_channels=in_channels, card=card)

