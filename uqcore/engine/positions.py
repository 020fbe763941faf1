"""Feature-map draws keyed to positions, so that a tile draws what the whole image draws there.

A feature perturbation (noise, dropout, MC-dropout) draws its random numbers in fixed blocks of
``BLOCK`` x ``BLOCK`` positions (all channels of a position next to each other) of the perturbed layer's FULL output grid (the grid the layer has
on the whole image). Block (row r, column c) of sample i at layer L (the layer's place among the
perturbed layers: 0 for one layer) is drawn from a generator seeded by (sample seed of i, L, r, c)
alone. A forward pass over a crop of the input (a tile or
a region, :mod:`uqcore.engine.tiling`) therefore gets, at every position, the draw the whole image gets
there, whichever crop contains it.

Where the crop lies is told by :func:`input_box`: ``uqcore.engine.tiling`` sets the crop's offset in
the whole input and the crop's size; a hook converts it to the layer's grid with the layer's
resolution relative to the input (offset x layer size / crop size; layers of a strided network
are 1/2^k of the input, up-sampling layers an integer multiple). Without a box the crop is the
whole input (offset 0).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch

# Positions per side of one block of draws (a compromise between generator set-up per block and
# the draws a crop wastes on its partial blocks).
BLOCK = 32
_MASK = (1 << 64) - 1
# (top, left, height, width) of the current crop in the whole input; None = the whole input.
_BOX: ContextVar[tuple[int, int, int, int] | None] = ContextVar("uqcore_input_box", default=None)


@contextmanager
def input_box(top: int, left: int, height: int, width: int) -> Iterator[None]:
    """Forward passes inside this block run on the crop (top, left, height, width) of the whole
    input; feature draws take their positions from it (this caller's context only)."""
    reset = _BOX.set((int(top), int(left), int(height), int(width)))
    try:
        yield
    finally:
        _BOX.reset(reset)


def in_crop() -> bool:
    """Whether this context is running a crop of a larger input (a tile or a region)."""
    return _BOX.get() is not None


def _mix(*values: int) -> int:
    """splitmix64 over the values: a well-spread 63-bit seed from a few integers."""
    z = 0x9E3779B97F4A7C15
    for v in values:
        z = (z ^ (int(v) & _MASK)) & _MASK
        z = (z + 0x9E3779B97F4A7C15) & _MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        z ^= z >> 31
    return z >> 1


def block_seed(seed: int, layer: int, row: int, col: int) -> int:
    """The generator seed of block (row, col) of a layer's grid for a sample seeded ``seed``."""
    return _mix(seed, layer, row, col)


def _ratio(layer: int, crop: int) -> float:
    """The layer's resolution relative to the input along one axis: an integer factor for
    up-sampled layers, 1/2^k for strided ones (a model that pads its input to a multiple of its
    stride gives a slightly larger grid; the power of two absorbs that)."""
    r = layer / crop
    return float(max(1, round(r))) if r >= 1 else 2.0 ** round(math.log2(r))


def layer_offset(shape: tuple[int, int]) -> tuple[int, int]:
    """(row, column) of a layer output of spatial ``shape`` in the layer's full grid."""
    box = _BOX.get()
    if box is None:
        return 0, 0
    top, left, h, w = box
    return int(round(top * _ratio(shape[0], h))), int(round(left * _ratio(shape[1], w)))


def fill_rows(shape: tuple[int, int, int], seeds: list[int], layer: int, offset: tuple[int, int], sampler, write,
              dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> None:
    """Draw samples' numbers for a layer output of ``shape`` [C, H, W] at ``offset`` in the full
    grid, block by block: sample i's block (row, col) from a generator seeded by (seeds[i], layer,
    block). ``write(rows, cols, draws)`` receives each block's part, ``draws`` [k, C, h, w] for
    the positions ``[:, rows, cols]`` of the layer output, and puts it in place (the perturbation
    combines it with the layer's output while the block is in cache, so the sample batch is
    written once, and one operation serves all samples of a block)."""
    c, h, w = shape
    oy, ox = offset
    # a block's numbers run over channels fastest ([BLOCK, BLOCK, C] in memory): the layout of
    # the channels-last maps they are combined with, which element-wise ops stream through
    # several times faster than through mixed layouts
    blocks = torch.empty((len(seeds), BLOCK, BLOCK, c), dtype=dtype, device=device)
    as_maps = blocks.permute(0, 3, 1, 2)
    gen = torch.Generator(device=device)
    for by in range(oy // BLOCK, (oy + h - 1) // BLOCK + 1):
        y0, y1 = max(oy, by * BLOCK), min(oy + h, (by + 1) * BLOCK)
        for bx in range(ox // BLOCK, (ox + w - 1) // BLOCK + 1):
            x0, x1 = max(ox, bx * BLOCK), min(ox + w, (bx + 1) * BLOCK)
            for i, seed in enumerate(seeds):
                gen.manual_seed(block_seed(seed, layer, by, bx))
                sampler((BLOCK, BLOCK, c), generator=gen, out=blocks[i])
            write(slice(y0 - oy, y1 - oy), slice(x0 - ox, x1 - ox),
                  as_maps[:, :, y0 - by * BLOCK : y1 - by * BLOCK, x0 - bx * BLOCK : x1 - bx * BLOCK])


def fill_row(row: torch.Tensor, seed: int, layer: int, offset: tuple[int, int], sampler) -> None:
    """Fill ``row`` [C, H, W] (a layer's output for one sample, at ``offset`` in the full grid)
    with the draws :func:`fill_rows` takes for a sample seeded ``seed``."""

    def copy(rows: slice, cols: slice, draws: torch.Tensor) -> None:
        row[:, rows, cols] = draws[0]

    fill_rows(tuple(row.shape), [seed], layer, offset, sampler, copy, row.dtype, row.device)


def fill_flat(row: torch.Tensor, seed: int, layer: int, sampler) -> None:
    """Draws that do not depend on position (channel-wise dropout, non-image layers)."""
    gen = torch.Generator(device=row.device).manual_seed(_mix(seed, layer))
    sampler(tuple(row.shape), generator=gen, out=row)
