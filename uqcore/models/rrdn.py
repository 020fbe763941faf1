"""The RDN / RRDN super-resolution networks of idealo's ISR, as shipped by UpscalerJS on npm
(``@upscalerjs/esrgan-slim`` / ``-medium``: RDN; ``@upscalerjs/esrgan-thick``: RRDN, the
ESRGAN generator). Weights come from ``python -m uqcore import-upscalerjs``, which maps the Keras
layer names onto these grouped submodule names and checks the result against a numpy
evaluation of the original Keras graph (:mod:`uqcore.models.tfjs`).

RRDN (``RRDN(C, D, G, G0, T, scale)``), Keras names in brackets:

    head                 conv3x3 3 -> G0                                  [Pre_blocks_conv]
    rrdb.t (t < T)       x + 0.2 * rdb.D-1(... rdb.0(x))                   [RRDB_{t+1}_out]
      rdb.d (d < D)      y = x + 0.2 * lff(cat(x, relu(conv1), ..., relu(convC)))
        conv{c}          conv3x3 G0 + (c-1)G -> G, ReLU after              [F_{t+1}_{d+1}_{c}]
        lff              conv3x3 G0 + C*G -> G0                            [LFF_{t+1}_{d+1}]
    tail                 conv3x3 G0 -> G0, + head output                   [post_blocks_conv, GRL]
    upsample.conv        conv3x3 G0 -> 3*scale^2                           [PreShuffle]
    upsample.shuffle     TF depth_to_space (NHWC channel order, not torch's pixel_shuffle)
    out                  conv3x3 3 -> 3                                    [SR]

RDN (``RDN(C, D, G, G0, scale)``):

    sfe1, sfe2           conv3x3 3 -> G0, G0 -> G0                         [F_m1, F_0]
    rdb.d (d < D)        y = x + lff(cat(x, relu(conv1), ..., relu(convC))), lff 1x1  [LRL_{d+1}]
    gff1, gff2           conv1x1 D*G0 -> G0 over cat(rdb outputs), conv3x3; + sfe1 output [GFF_1/2, FDF]
    upsample.conv1/2/3   conv5x5 G0 -> 64 ReLU, conv3x3 64 -> 32 ReLU, conv3x3 32 -> 3*scale^2 [UPN1-3]
    upsample.resize      nearest-neighbour x scale (Keras UpSampling2D)    [UPsample]
    out                  conv3x3 3*scale^2 -> 3                            [SR]

``value_range`` is what the network itself expects (UpscalerJS: RRDN [0, 1], RDN [0, 255]);
the module always takes and returns RGB in [0, 1] (output not clamped), scaling inside.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from uqcore.models.architectures import register_architecture

BETA = 0.2  # ISR's residual scaling (the MultiplyBeta layers)


def conv(cin: int, cout: int, k: int = 3) -> nn.Conv2d:
    """Keras Conv2D(padding="same", stride 1) for odd ``k``."""
    return nn.Conv2d(cin, cout, k, padding=k // 2)


def depth_to_space_nhwc(x: torch.Tensor, s: int) -> torch.Tensor:
    """TF ``depth_to_space`` on an NCHW tensor: output (h*s+i, w*s+j, c) takes input channel
    ``(i*s + j) * C + c``. ``nn.PixelShuffle`` takes channel ``c*s*s + i*s + j`` instead."""
    b, ch, h, w = x.shape
    c = ch // (s * s)
    return x.view(b, s, s, c, h, w).permute(0, 3, 4, 1, 5, 2).reshape(b, c, h * s, w * s)


class DepthToSpace(nn.Module):
    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = int(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return depth_to_space_nhwc(x, self.scale)


class DenseBlock(nn.Module):
    """The residual dense block: C densely connected conv+ReLU layers, a local fusion ``lff``,
    and the local residual ``x + beta * lff(...)``."""

    def __init__(self, C: int, G: int, G0: int, lff_kernel: int, beta: float) -> None:
        super().__init__()
        for c in range(1, C + 1):
            self.add_module(f"conv{c}", conv(G0 + (c - 1) * G, G))
        self.lff = conv(G0 + C * G, G0, lff_kernel)
        self.C, self.beta = C, beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = x
        for c in range(1, self.C + 1):
            feats = torch.cat([feats, F.relu(getattr(self, f"conv{c}")(feats))], dim=1)
        return x + self.beta * self.lff(feats)


class RRDB(nn.Module):
    """Residual in residual dense block: ``x + beta * rdb(x)`` over D dense blocks."""

    def __init__(self, C: int, D: int, G: int, G0: int) -> None:
        super().__init__()
        self.rdb = nn.Sequential(*[DenseBlock(C, G, G0, 3, BETA) for _ in range(D)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + BETA * self.rdb(x)


class _Scaled(nn.Module):
    """[0, 1] in and out around a network that works in [0, value_range]."""

    value_range: float

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * self.value_range) / self.value_range


@register_architecture("rrdn")
class RRDN(_Scaled):
    """The ESRGAN generator as ISR builds it (see the module docstring)."""

    def __init__(self, C: int = 4, D: int = 3, G: int = 32, G0: int = 64, T: int = 10, scale: int = 4,
                 value_range: float = 1.0) -> None:
        super().__init__()
        self.scale, self.value_range = int(scale), float(value_range)
        self.head = conv(3, G0)
        self.rrdb = nn.Sequential(*[RRDB(C, D, G, G0) for _ in range(T)])
        self.tail = conv(G0, G0)
        self.upsample = nn.Sequential()
        self.upsample.add_module("conv", conv(G0, 3 * self.scale ** 2))
        self.upsample.add_module("shuffle", DepthToSpace(self.scale))
        self.out = conv(3, 3)

    def net(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.head(x)
        return self.out(self.upsample(feat + self.tail(self.rrdb(feat))))


class NearestUp(nn.Module):
    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = int(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="nearest")


class RDNUpsampler(nn.Module):
    def __init__(self, G0: int, scale: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = conv(G0, 64, 5), conv(64, 32)
        self.conv3 = conv(32, 3 * scale ** 2)
        self.resize = NearestUp(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resize(self.conv3(F.relu(self.conv2(F.relu(self.conv1(x))))))


@register_architecture("rdn")
class RDN(_Scaled):
    """ISR's residual dense network (see the module docstring)."""

    def __init__(self, C: int = 1, D: int = 10, G: int = 64, G0: int = 64, scale: int = 4,
                 value_range: float = 255.0) -> None:
        super().__init__()
        self.scale, self.value_range = int(scale), float(value_range)
        self.sfe1, self.sfe2 = conv(3, G0), conv(G0, G0)
        self.rdb = nn.ModuleList([DenseBlock(C, G, G0, 1, 1.0) for _ in range(D)])
        self.gff1, self.gff2 = conv(D * G0, G0, 1), conv(G0, G0)
        self.upsample = RDNUpsampler(G0, self.scale)
        self.out = conv(3 * self.scale ** 2, 3)

    def net(self, x: torch.Tensor) -> torch.Tensor:
        f1 = self.sfe1(x)
        feat, locals_ = self.sfe2(f1), []
        for block in self.rdb:
            feat = block(feat)
            locals_.append(feat)
        fused = self.gff2(self.gff1(torch.cat(locals_, dim=1))) + f1
        return self.out(self.upsample(fused))
