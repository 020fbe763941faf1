"""spandrel checkpoints: a state dict of an architecture spandrel recognises.

A ``.pth`` / ``.pt`` / ``.ckpt`` / ``.bin`` / ``.safetensors`` file holding a state dict of an
architecture spandrel recognises (ESRGAN/Real-ESRGAN, SwinIR, HAT, EDSR, RCAN, SPAN, …): the
architecture, scale and channels come from spandrel's detection. These models take RGB in
[0, 1], like the engine; their output is *not* clamped to [0, 1] (clamping would hide the
spread of perturbed samples in saturated regions). Inputs that miss the architecture's size
requirements (minimum size, multiple of a window) are padded (reflect) and the output cropped.
On CPU, inputs above ``max_pixels`` per image are refused (no tiling: tiles would give
perturbation-based maps seams at the tile borders).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from uqcore.errors import InputError
from uqcore.engine.model import UQModel
from uqcore.models.loaders.common import (
    CPU_MAX_PIXELS,
    MAX_BYTES,
    check_pixels,
    finish,
    read_state_dict,
    shorten,
)


class SpandrelNet(nn.Module):
    """A spandrel architecture as the engine sees it: [0, 1] RGB in, unclamped output out.

    Pads inputs that miss the architecture's size requirements (reflect, then replicate, on the
    bottom/right, as spandrel does) and crops the output; refuses inputs above ``max_pixels`` on
    CPU. The network is the ``model`` child, so layer names read ``model.<name in checkpoint>``."""

    def __init__(self, model: nn.Module, *, scale: int, size_requirements=None, call_fn=None,
                 max_pixels: int = CPU_MAX_PIXELS):
        super().__init__()
        self.model = model
        self.scale = int(scale)
        self.size_requirements = size_requirements
        self.call_fn = call_fn
        self.max_pixels = int(max_pixels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_pixels(x, self.max_pixels, "spandrel")
        h, w = x.shape[-2:]
        padded = False
        if self.size_requirements is not None and not self.size_requirements.none:
            pad_w, pad_h = self.size_requirements.get_padding(w, h)
            if pad_w or pad_h:
                rw, rh = min(pad_w, w - 1), min(pad_h, h - 1)
                x = F.pad(x, (0, rw, 0, rh), mode="reflect")
                x = F.pad(x, (0, pad_w - rw, 0, pad_h - rh), mode="replicate")
                padded = True
        out = self.call_fn(self.model, x) if self.call_fn is not None else self.model(x)
        if padded:
            out = out[..., : h * self.scale, : w * self.scale]
        return out


def load_spandrel(path: str | os.PathLike, *, task: str | None = None, scale: int | None = None,
                  name: str | None = None, max_pixels: int = CPU_MAX_PIXELS,
                  max_bytes: int = MAX_BYTES) -> UQModel:
    """A state dict of an architecture spandrel recognises; task/scale from its detection."""
    path = Path(path)
    try:  # lazy: importing spandrel loads every architecture it knows (slow)
        import spandrel
    except ImportError as exc:  # pragma: no cover - spandrel is a requirement
        raise InputError("loading super-resolution checkpoints needs spandrel: pip install spandrel") from exc
    state = read_state_dict(path, max_bytes)
    try:
        desc = spandrel.ModelLoader(device="cpu").load_from_state_dict(state)
    except spandrel.UnsupportedModelError:
        keys = ", ".join(list(state)[:4])
        raise InputError(
            f"spandrel does not recognise the architecture in {path.name} (first keys: {keys}). If it is your "
            "own network, load it as 'package.module:factory' with weights= this file"
        ) from None
    except Exception as exc:  # detection matched but the weights do not fit: say so, never crash
        raise InputError(f"spandrel could not build a model from {path.name}: {type(exc).__name__}: "
                         f"{shorten(str(exc))}") from None
    if not isinstance(desc, spandrel.ImageModelDescriptor):
        raise InputError(f"{path.name} is a {desc.architecture.name} {desc.purpose} model that needs a mask as "
                         "well as an image; only image-to-image models are supported")
    detected_task = "sr" if desc.purpose in ("SR", "FaceSR") and desc.scale > 1 else "image"
    if scale is not None and int(scale) != desc.scale:
        raise InputError(f"scale={scale} was given but spandrel detected ×{desc.scale} in {path.name}")
    req = desc.size_requirements
    multiple = max(1, req.multiple_of)
    side = max(32, req.minimum)
    side = int(math.ceil(side / multiple) * multiple)
    card = {
        "format": "spandrel",
        "source": str(path),
        "architecture": desc.architecture.name,
        "architecture_id": str(desc.architecture.id),
        "purpose": desc.purpose,
        "detected_task": detected_task,
        "scale": desc.scale,
        "input_channels": desc.input_channels,
        "output_channels": desc.output_channels,
        "tags": list(desc.tags),
        "size_requirements": {"minimum": req.minimum, "multiple_of": req.multiple_of, "square": req.square},
        "tiling": desc.tiling.name,
        "input_range": "[0, 1] RGB (spandrel convention); output not clamped",
        "cpu_max_pixels": max_pixels,
    }
    module = SpandrelNet(desc.model, scale=desc.scale, size_requirements=req,
                         call_fn=getattr(desc, "_call_fn", None), max_pixels=max_pixels)
    return finish(module, name=name or path.stem, task=task or detected_task, scale=desc.scale,
                   in_channels=desc.input_channels, card=card, probe_size=(side, side))

