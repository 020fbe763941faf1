"""Tiny models shared by the unit tests (random weights, fixed seeds), and the feature draws they check against."""

from __future__ import annotations

import torch
from torch import nn
import uqcore


class TinySR(nn.Module):
    """SRResNet-shaped x2 network: head, residual body with a global skip, dropout, sub-pixel tail."""

    def __init__(self, feats: int = 8, blocks: int = 3, dropout: float = 0.2):
        super().__init__()
        self.head = nn.Conv2d(3, feats, 3, padding=1)
        self.body = nn.Sequential(
            *[nn.Sequential(nn.Conv2d(feats, feats, 3, padding=1), nn.ReLU()) for _ in range(blocks)]
        )
        self.drop = nn.Dropout(dropout)
        self.tail = nn.Sequential(nn.Conv2d(feats, 3 * 4, 3, padding=1), nn.PixelShuffle(2))

    def forward(self, x):
        h = self.head(x)
        return self.tail(self.drop(self.body(h) + h))


class ConcatSkip(TinySR):
    """A skip connection concatenated after the body: prefix reuse cannot expand there."""

    def __init__(self):
        super().__init__()
        self.fuse = nn.Conv2d(16, 8, 1)

    def forward(self, x):
        h = self.head(x)
        return self.tail(self.fuse(torch.cat([self.body(h), h], 1)))


class Affine(nn.Module):
    """0.37 · depth + 1.3 of another network: the same depth up to scale and shift."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        return 0.37 * self.net(x) + 1.3


def make_tiny_sr(seed: int = 0, cls=TinySR) -> uqcore.UQModel:
    torch.manual_seed(seed)
    return uqcore.wrap(cls(), task="sr", scale=2, name="tiny-sr")


def block_draws(seed: int, index: int, shape, sampler=torch.randn, layer: int = 0) -> torch.Tensor:
    """Reference for the engine's position-keyed draws (uqcore.engine.positions): sample ``index``'s
    draws [C, H, W] for a whole layer grid, each 32x32 block drawn whole from its own generator
    seeded by (sample seed, layer key, block row, block column) in (row, column, channel) order,
    then stitched and cut to size."""
    from uqcore.engine.perturb import sample_seed
    from uqcore.engine.positions import BLOCK, block_seed

    c, h, w = shape
    rows = []
    for by in range(-(-h // BLOCK)):
        blocks = []
        for bx in range(-(-w // BLOCK)):
            gen = torch.Generator().manual_seed(block_seed(sample_seed(seed, index), layer, by, bx))
            blocks.append(sampler((BLOCK, BLOCK, c), generator=gen).permute(2, 0, 1))
        rows.append(torch.cat(blocks, dim=2))
    return torch.cat(rows, dim=1)[:, :h, :w]
