"""Memory of one ``estimate`` call: the up-front estimate, and the tiling it decides.

:func:`request_bytes` estimates an untiled call's peak (tests/engine/test_tiling.py checks that it bounds
the peak measured with ``ru_maxrss`` in a fresh process). A request over ``UQCORE_MAX_REQUEST_MB``
(or, for an own model on CPU, over its per-image input limit) is computed in tiles
(:func:`auto_tile`, :mod:`uqcore.engine.tiling`) when the model's receptive field is finite; a model
with global context is refused as before.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from uqcore import limits
from uqcore.engine import tiling
from uqcore.engine.hooks import forward_hooks
from uqcore.errors import InputError
from uqcore.engine.model import UQModel
from uqcore.engine.receptive import output_shape, receptive_field, stride

# Memory bound for a chunk: a sample's activations are taken as ACTIVATION_FACTOR times its
# output (SR/depth networks carry tens of feature channels at output resolution); the chunk is
# shrunk so that chunk x output bytes x factor stays under CHUNK_MEMORY_BYTES.
ACTIVATION_FACTOR = 16
CHUNK_MEMORY_BYTES = 2 * 1024**3
# What a forward pass holds at once beyond ACTIVATION_FACTOR x its output (request_bytes).
PEAK_MARGIN = 2.0
# A tile's estimate may use this share of the limit (less the assembled whole output): what the
# engine holds between tiles (kernel caches for each crop shape, the allocator's free lists).
TILE_SHARE = 0.75
# Tiling for memory first lowers the samples per chunk to this (the CPU default), then tiles.
MIN_CHUNK = 4


def request_bytes(model: UQModel, shape: tuple[int, int], chunk: int) -> int:
    """Estimated peak memory of an untiled ``estimate`` on an input of spatial ``shape``: a chunk
    of samples' activations (ACTIVATION_FACTOR x the output each, times PEAK_MARGIN for what a
    forward pass holds at once beyond that: measured in tests/engine/test_tiling.py with ru_maxrss),
    the running moments (float64 mean and m2, all samples and the even half) and the outputs."""
    out_px = shape[0] * shape[1] * model.scale**2
    out_bytes = out_px * model.in_channels * 4
    chunk = max(1, min(chunk, CHUNK_MEMORY_BYTES // max(out_bytes * ACTIVATION_FACTOR, 1)))
    moments = out_px * model.in_channels * 8 * 2 * 2
    return int(chunk * out_bytes * ACTIVATION_FACTOR * PEAK_MARGIN + moments + 4 * out_bytes)


def check(model: UQModel, x: torch.Tensor, device: torch.device, chunk: int) -> None:
    """Up-front memory check, before any work (:func:`request_bytes`)."""
    estimated = request_bytes(model, tuple(x.shape[-2:]), chunk)
    limits.check_request_memory(estimated, f"a {x.shape[-2]}×{x.shape[-1]} input to this ×{model.scale} model")


def assembled_bytes(model: UQModel, shape: tuple[int, int]) -> int:
    """The whole output a tiled run assembles: prediction, original, mean, the variance map and
    the two half-sample variance maps."""
    out_px = shape[0] * shape[1] * model.scale**2
    return out_px * (3 * model.in_channels + 3) * 4


def _fits(model: UQModel, shape: tuple[int, int], device: torch.device, chunk: int, reserved: int = 0) -> bool:
    """Within the request limit, and an own model's CPU input limit; a tile (``reserved``: the
    assembled output's bytes) within TILE_SHARE of the limit less the assembled output."""
    cpu_limit = int(model.card.get("cpu_max_pixels") or 0) if device.type == "cpu" else 0
    if cpu_limit and shape[0] * shape[1] > cpu_limit:
        return False
    limit = limits.max_request_bytes()
    return request_bytes(model, shape, chunk) <= (limit * TILE_SHARE - reserved if reserved else limit)


def over_limits(model: UQModel, x: torch.Tensor, device: torch.device, chunk: int) -> bool:
    """Whether the untiled run would exceed a limit and the model can be tiled instead."""
    return not _fits(model, tuple(x.shape[-2:]), device, chunk) and receptive_field(model) is not None


def auto_plan(model: UQModel, x: torch.Tensor, device: torch.device, chunk: int) -> tuple[int, int]:
    """(tile in output pixels, samples per chunk) for a request over a limit: smaller chunks
    first (down to ``MIN_CHUNK``), then tiles shrinking by a quarter from the whole output, the
    largest whose crops fit; refused (the limit's own message) when not even the smallest does."""
    full = output_shape(model, x)
    chunks = sorted({chunk, *[c for c in (8, MIN_CHUNK) if c < chunk]}, reverse=True)
    for c in chunks:
        if _fits(model, tuple(x.shape[-2:]), device, c):
            return max(full), c
    chunk = chunks[-1]
    reserved = assembled_bytes(model, tuple(x.shape[-2:]))
    smallest = model.scale * stride(model)
    tile = max(full)
    while tile >= smallest:
        boxes = tiling.tile_boxes(full, tile)
        crops = [tiling.crop_for(model, b, tuple(x.shape[-2:])) for b in boxes]
        if all(_fits(model, (c[2], c[3]), device, chunk, reserved) for c in crops):
            return tile, chunk
        tile = tile * 3 // 4
    check(model, x, device, chunk)  # the memory limit's own message
    cpu_limit = int(model.card.get("cpu_max_pixels") or 0)
    raise InputError(
        f"the input is {x.shape[-2]}×{x.shape[-1]} = {x.shape[-2] * x.shape[-1]:,} pixels; on CPU this model is "
        f"limited to {cpu_limit:,} pixels per "
        "forward pass, and even its smallest tile with the margin of its receptive field needs more. Downscale "
        "the image, run on a GPU, or raise the limit (max_pixels= / UQCORE_CPU_MAX_PIXELS)"
    )


def prefix_share(forward: Callable[[nn.Module, torch.Tensor], torch.Tensor], module: nn.Module, x: torch.Tensor,
                 target: nn.Module) -> tuple[torch.Tensor, float]:
    """The unperturbed output (``forward(module, x)``), and the share of the forward pass's work done before ``target``'s
    output. Work is counted, not timed, so the chunk (and the map's last bits) never depend on
    machine load: a leaf module costs its output size times its weights per output channel."""
    done = [0.0]
    at_target: list[float] = []

    def count(mod, _inputs, output):
        if isinstance(output, torch.Tensor):
            weight = getattr(mod, "weight", None)
            per_out = weight.numel() / max(weight.shape[0], 1) if isinstance(weight, torch.Tensor) and weight.dim() > 1 else 1
            done[0] += output.numel() * per_out

    def mark(_mod, _inputs, _output):
        if not at_target:
            at_target.append(done[0])

    leaves = {m: count for m in module.modules() if next(m.children(), None) is None}
    with forward_hooks(post=leaves):
        with forward_hooks(post={target: mark}):
            original = forward(module, x)
    return original, at_target[0] / done[0] if at_target and done[0] > 0 else 0.0
