"""FCRN-style monocular depth network (after Laina et al. 2016, "Deeper Depth Prediction with
Fully Convolutional Residual Networks"), small enough to train on a CPU.

    encoder.stem -> encoder.layer1..layer4   residual (ResNet basic-block) encoder, /32
    encoder.reduce                           1x1 conv + BN (FCRN's layer after the ResNet)
    decoder.up1..up4                         up-projection blocks, x2 each (back to /2)
    dropout                                  nn.Dropout before the prediction, as in FCRN
    predict                                  3x3 conv -> log-depth at /2, upsampled bilinearly
                                             to the input size; depth = exp(.) metres

Input: RGB float32 [B, 3, H, W] in [0, 1] (normalised with ImageNet statistics inside the
module); H and W multiples of 32 work best, other sizes are padded and cropped back.
Output: depth in metres [B, 1, H, W], strictly positive.

Differences from the published model, for CPU budgets: far fewer channels, basic blocks instead
of bottlenecks, 3x3 instead of 5x5 convolutions in the up-projections, and (``skips=True``)
encoder features added to the decoder at matching resolutions. The up-projection block itself is
Laina's: upsample x2, then (conv-BN-ReLU-conv-BN) + (conv-BN) projection, summed, ReLU.

``evaluate_folder`` scores a folder of RGB-D pairs with :func:`uqcore.metrics.depth_quality`
(abs-rel, RMSE, log10, delta thresholds) for the model card.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from uqcore.metrics.quality import DEPTH_METRICS, depth_quality
from uqcore.models.architectures import register_architecture

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class Encoder(nn.Module):
    def __init__(self, widths: tuple[int, ...], blocks: tuple[int, ...]):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, widths[0], 3, 2, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)
        )
        cin = widths[0]
        for i, (w, n) in enumerate(zip(widths[1:], blocks), start=1):
            layer = nn.Sequential(*[BasicBlock(cin if k == 0 else w, w, 2 if k == 0 else 1) for k in range(n)])
            setattr(self, f"layer{i}", layer)
            cin = w
        self.n_layers = len(blocks)

    def forward(self, x):
        feats = [self.stem(x)]  # /2
        for i in range(1, self.n_layers + 1):
            feats.append(getattr(self, f"layer{i}")(feats[-1]))  # /4, /8, /16, /32
        return feats


class UpProjection(nn.Module):
    """Laina et al.'s up-projection: x2 upsampling, then a residual pair of branches."""

    def __init__(self, cin: int, cout: int, kernel: int = 3):
        super().__init__()
        pad = kernel // 2
        self.conv1 = nn.Conv2d(cin, cout, kernel, 1, pad, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.proj = nn.Conv2d(cin, cout, kernel, 1, pad, bias=False)
        self.bn_proj = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x, skip=None):
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        if skip is not None:
            x = x + skip
        branch = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(branch + self.bn_proj(self.proj(x)))


class Decoder(nn.Module):
    """Up-projections up1..upN; with skip widths, ``skips.skip{i}`` (1x1 conv) projects the
    encoder feature of up{i}'s output resolution and adds it after up{i}'s upsampling."""

    def __init__(self, cin: int, widths: tuple[int, ...], skip_widths: tuple[int, ...] | None, kernel: int):
        super().__init__()
        self.skips = nn.ModuleDict()
        for i, w in enumerate(widths, start=1):
            if skip_widths is not None and i - 1 < len(skip_widths):
                self.skips[f"skip{i}"] = nn.Conv2d(skip_widths[i - 1], cin, 1)
            setattr(self, f"up{i}", UpProjection(cin, w, kernel))
            cin = w
        self.n_up = len(widths)

    def forward(self, x, feats=None):
        for i in range(1, self.n_up + 1):
            key = f"skip{i}"
            skip = self.skips[key](feats[i - 1]) if feats is not None and key in self.skips else None
            x = getattr(self, f"up{i}")(x, skip)
        return x


@register_architecture("fcrn")
class FCRN(nn.Module):
    """FCRN-style depth network: RGB in [0, 1] -> depth in metres at the input resolution.

    widths:        encoder channels: stem, then one entry per residual stage (each stage /2)
    blocks:        basic blocks per residual stage
    reduce:        channels of the 1x1 layer after the encoder (FCRN's "layer1" of the decoder)
    decoder:       channels of the up-projection blocks (each x2)
    dropout:       rate of the element-wise nn.Dropout before the prediction conv
    skips:         add projected encoder features to the decoder at matching resolutions
    depth_init:    initial output depth in metres (bias of the log-depth prediction)
    """

    def __init__(
        self,
        widths: tuple[int, ...] = (24, 32, 64, 96, 160),
        blocks: tuple[int, ...] = (1, 2, 2, 1),
        reduce: int = 128,
        decoder: tuple[int, ...] = (96, 64, 32, 24),
        dropout: float = 0.2,
        skips: bool = True,
        kernel: int = 3,
        depth_init: float = 3.0,
    ):
        super().__init__()
        widths, blocks, decoder = tuple(widths), tuple(blocks), tuple(decoder)
        if len(widths) != len(blocks) + 1:
            raise ValueError("widths needs one entry for the stem plus one per stage in blocks")
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.encoder = Encoder(widths, blocks)
        self.reduce = nn.Sequential(nn.Conv2d(widths[-1], reduce, 1, bias=False), nn.BatchNorm2d(reduce))
        # encoder features at the output resolutions of up1, up2, ...: /16, /8, /4, /2
        skip_widths = tuple(reversed(widths[:-1])) if skips else None
        self.decoder = Decoder(reduce, decoder, skip_widths, kernel)
        self.dropout = nn.Dropout(dropout)
        self.predict = nn.Conv2d(decoder[-1], 1, 3, 1, 1)
        nn.init.normal_(self.predict.weight, std=1e-3)
        nn.init.constant_(self.predict.bias, math.log(depth_init))
        self.stride = 2 ** len(widths)
        self.output_stride = 2 ** (len(widths) - len(decoder))

    def log_depth(self, x: torch.Tensor) -> torch.Tensor:
        """Log-depth at the input resolution (what the training loss sees)."""
        h, w = x.shape[-2:]
        s = self.stride
        ph, pw = (-h) % s, (-w) % s
        x = (x - self.mean) / self.std
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        feats = self.encoder(x)
        y = self.reduce(feats[-1])
        # up1 meets the /16 feature, up2 the /8 one, ...: hand them in that order
        y = self.decoder(y, list(reversed(feats[:-1])))
        y = self.predict(self.dropout(y))
        if self.output_stride != 1:
            y = F.interpolate(y, scale_factor=self.output_stride, mode="bilinear", align_corners=False)
        return y[..., :h, :w].clamp(-6.0, 6.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.log_depth(x))


# ------------------------------------------------------------------------------------------
# metrics
# ------------------------------------------------------------------------------------------
def mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    """Average per-image metric dicts over a set of images."""
    return {k: float(np.mean([r[k] for r in rows])) for k in DEPTH_METRICS}


@torch.no_grad()
def predict_depth(module: nn.Module, rgb: np.ndarray) -> np.ndarray:
    """Depth [H, W] (metres) for an RGB image [H, W, 3] in [0, 1]; module in eval mode."""
    device = next(module.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(rgb, np.float32)).permute(2, 0, 1)[None].to(device)
    return module(x)[0, 0].cpu().numpy()


def evaluate_folder(module: nn.Module, folder, limit: int | None = None, constant: float | None = None) -> dict:
    """Mean depth metrics of ``module`` over the ``name.png`` + ``name_depth.png`` pairs of
    ``folder`` (the first ``limit``), and of predicting ``constant`` metres everywhere if given.

    Returns {"model": {...}, "constant": {...} or None, "images": n}.
    """
    from uqcore.scenes import list_pairs, load_rgbd

    paths = list_pairs(folder)[:limit]
    if not paths:
        raise ValueError(f"no name.png + name_depth.png pairs in {folder}")
    module.eval()
    rows, base = [], []
    for path in paths:
        rgb, depth = load_rgbd(path)
        rows.append(depth_quality(predict_depth(module, rgb), depth))
        if constant is not None:
            base.append(depth_quality(np.full_like(depth, constant), depth))
    return {"model": mean_metrics(rows), "constant": mean_metrics(base) if base else None, "images": len(paths)}
