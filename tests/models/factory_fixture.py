"""Factories for tests/models/test_loaders.py: research code as users would point at it
(``tests.models.factory_fixture:make``)."""

from __future__ import annotations

import sys

import torch
from torch import nn


class TinyUpscaler(nn.Module):
    """x2 image-to-image network with a dropout layer: conv head, two residual convs, sub-pixel tail."""

    def __init__(self, feats: int = 8, dropout: float = 0.1):
        super().__init__()
        self.head = nn.Conv2d(3, feats, 3, padding=1)
        self.body = nn.Sequential(nn.Conv2d(feats, feats, 3, padding=1), nn.ReLU(), nn.Conv2d(feats, feats, 3, padding=1))
        self.drop = nn.Dropout2d(dropout)
        self.tail = nn.Sequential(nn.Conv2d(feats, 12, 3, padding=1), nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        return self.tail(self.drop(self.body(h) + h))


def make(feats: int = 8) -> nn.Module:
    torch.manual_seed(0)
    return TinyUpscaler(feats)


def not_a_module():
    return "a string"


def exits():
    """A command-line ``main`` typed as a factory: it ends the program."""
    sys.exit(2)


def interrupted():
    raise KeyboardInterrupt
