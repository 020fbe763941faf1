"""What a tile needs to know about a model: receptive field, total stride, output size.

``receptive_field(model)`` is measured once per model by a probe and cached on the model: one
input pixel of a seeded random image is changed and the output compared with the unchanged
one; the receptive field is how far (in input pixels) from the changed pixel the output still
changes, the largest over a few pixel phases of the stride grid. Where the change reaches the
probe's border at every probe size up to ``MAX_PROBE`` pixels, the model has global context
(global pooling, attention over the whole image) and the answer is None (also where an own
model's CPU input limit keeps the probe smaller than its receptive field).

``stride(model)``: the multiple the network needs its input to be (FCRN's encoder is /32; a
spandrel architecture's ``size_requirements.multiple_of``; 1 for SRResNet, which works at the
input resolution). Tiles start on that grid (:mod:`uqcore.engine.tiling`).
"""

from __future__ import annotations

import math
import weakref

import torch
from torch import nn

from uqcore.engine.model import UQModel, as_model, checked_forward

# Probe sizes (input pixels per side) double from a start of at least 4 strides up to this.
MAX_PROBE = 1024
START_PROBE = 64
# An output element counts as changed above this fraction of the largest change (float noise of
# a different input elsewhere stays far below it).
CHANGED = 1e-6
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def stride(model) -> int:
    """The total stride of ``model``'s network: its input is padded (or must be) to a multiple
    of it. Read from the model card (``stride`` or spandrel's ``size_requirements.multiple_of``)
    or an integer ``stride`` attribute of a (non-torch) module inside; 1 if none says."""
    model = as_model(model)
    found = [int(model.card.get("stride", 1) or 1)]
    req = model.card.get("size_requirements") or {}
    found.append(int(req.get("multiple_of", 1) or 1))
    for m in model.module.modules():
        value = getattr(m, "stride", None)
        if isinstance(value, int) and not type(m).__module__.startswith("torch."):
            found.append(value)
    return max(found)


def output_shape(model, x) -> tuple[int, int]:
    """(H', W') of ``model``'s output for input ``x`` [1, C, H, W] (or its shape), without running
    the network: the input size times the model's scale."""
    model = as_model(model)
    h, w = (x.shape if hasattr(x, "shape") else tuple(x))[-2:]
    return int(h) * model.scale, int(w) * model.scale


def receptive_field(model) -> int | None:
    """Input pixels of context an output pixel depends on (on each side); None for a model with
    global context. Measured once per model (module docstring) and cached on it."""
    model = as_model(model)
    if model not in _CACHE:
        _CACHE[model] = _probe(model)
    return _CACHE[model]


def _probe(model: UQModel) -> int | None:
    s = stride(model)
    cpu_limit = int(model.card.get("cpu_max_pixels") or 0)  # an own model's per-pass input limit
    largest = min(MAX_PROBE, math.isqrt(cpu_limit) // s * s) if cpu_limit else MAX_PROBE
    size = min(max(START_PROBE, 4 * s), largest)
    size = -(-size // s) * s
    while size <= largest:
        reach = _reach(model, size, s)
        if reach is not None:
            # a probe sees only the paths its image keeps open (a ReLU that is off cuts one), so
            # the measured reach is raised to the layers' bound where that is known
            return max(reach, _kernel_bound(model, size))
        size *= 2
    return None


@torch.inference_mode()
def _kernel_bound(model: UQModel, size: int) -> int:
    """An upper bound on a local network's receptive field: the sum, over every convolution and
    pooling layer, of its kernel's reach times the input pixels per position of its input grid
    (every path through the network passes through a subset of these), plus 2 pixels for an
    interpolation (bicubic) outside any layer. Layers after an up-sampling count at their finer
    grid; 0 where the network has no such layers."""
    from uqcore.engine.hooks import forward_hooks

    total = [0.0]

    def count(mod, inputs):
        total[0] += kernel_reach(mod, inputs, size)

    layers = {m: count for m in model.module.modules() if hasattr(m, "kernel_size")}
    x = torch.rand((1, model.in_channels, size, size), generator=torch.Generator().manual_seed(1))
    with forward_hooks(pre=layers):
        checked_forward(model.module, x)
    return int(-(-total[0] // 1)) + 2


def kernel_reach(module: nn.Module, inputs: tuple, size: int) -> float:
    """How far (input pixels of a ``size``-pixel input) a kernel layer (convolution, pooling)
    reaches on its input ``inputs[0]``: the kernel's reach times the input pixels per position
    of that input's grid (+1 for an even kernel); 0 for a non-image input."""
    k, d = getattr(module, "kernel_size", 1), getattr(module, "dilation", 1)
    k = max(k) if isinstance(k, tuple) else int(k)
    d = max(d) if isinstance(d, tuple) else int(d)
    if inputs and isinstance(inputs[0], torch.Tensor) and inputs[0].dim() == 4:
        return (k - 1) // 2 * d * size / inputs[0].shape[-1] + (k % 2 == 0)
    return 0.0


@torch.inference_mode()
def _reach(model: UQModel, size: int, s: int) -> int | None:
    """The farthest distance (input pixels) of a changed output from the changed input pixel,
    over a few phases of the stride grid; None if the change reaches the probe's border."""
    module: nn.Module = model.module
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((1, model.in_channels, size, size), generator=gen)
    base = model.split_output(checked_forward(module, x))[0]
    scale = base.shape[-1] / size
    reach = 0
    centre = size // 2 // s * s
    for phase in sorted({0, s // 2, s - 1}):
        c = centre + phase
        x2 = x.clone()
        x2[..., c, c] = 1.0 - x2[..., c, c]
        diff = (model.split_output(checked_forward(module, x2))[0] - base).abs().amax(dim=(0, 1))
        top = float(diff.max())
        if top == 0:
            continue
        rows = torch.nonzero(diff.amax(1) > top * CHANGED).flatten()
        cols = torch.nonzero(diff.amax(0) > top * CHANGED).flatten()
        first, last = int(min(rows[0], cols[0])), int(max(rows[-1], cols[-1]))
        if first == 0 or last >= diff.shape[-1] - 1 or int(max(rows[-1], cols[-1])) >= diff.shape[-2] - 1:
            return None
        reach = max(reach, c - int(first // scale), int(last // scale) - c)
    return reach
