"""SRResNet-style x4 super-resolution generator (used by srresnet, srgan, mcdrop, ens, llm).

Architecture (Ledig et al. 2017, "SRResNet", simplified for CPU speed):

    head       conv3x3(3 -> F) + PReLU
    body.0..N-1  residual blocks: conv3x3 - ReLU - conv3x3, + skip  (NO BatchNorm, as in EDSR:
                 BN costs time, hurts SR colour fidelity and is not needed at this depth)
    body_tail  conv3x3(F -> F), added to the head output (global skip)
    upsample   log2(scale) x [conv3x3(F -> 4F) + PixelShuffle(2) + PReLU]
    tail       conv3x3(F -> 3) (or 6 with ``logvar=True``: 3 mean + 3 log-variance)

The mean output is added to the bicubic upscaling of the input (a global residual in image
space), which makes training converge much faster on a small CPU budget. Inputs and outputs are
RGB in [0, 1]; the output is not clamped.

``dropout_at=k`` inserts an ``nn.Dropout(dropout_p)`` (element-wise) after body block ``k``
(named ``body.{k}.dropout``), the MC-dropout baseline; at eval it is inactive until the
engine switches it on.

Also here: :func:`bicubic_downscale` (THE LR degradation used for training and evaluation) and
:func:`psnr_gain` / :func:`evaluate_images` (PSNR/SSIM of a model vs bicubic upscaling).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from uqcore.metrics.quality import psnr_ssim
from uqcore.models.architectures import register_architecture


def bicubic_downscale(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """The LR degradation: ``F.interpolate(mode="bicubic", antialias=True, align_corners=False)``
    of the HR image [B, C, H, W] (H, W divisible by ``scale``) to (H/scale, W/scale), clamped to
    [0, 1]. Used both to make training pairs and to make the eval inputs."""
    h, w = hr.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"HR size {h}x{w} is not divisible by scale {scale}; crop it first")
    lr = F.interpolate(hr, size=(h // scale, w // scale), mode="bicubic", antialias=True, align_corners=False)
    return lr.clamp(0.0, 1.0)


def bicubic_upscale(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """The bicubic baseline: ``F.interpolate(scale_factor=scale, mode="bicubic",
    align_corners=False)`` (no antialias needed when upscaling), clamped to [0, 1]."""
    return F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0.0, 1.0)


class ResBlock(nn.Module):
    """conv3x3 - ReLU - conv3x3, plus the identity. ``dropout`` (optional) acts on the sum."""

    def __init__(self, n_feats: int, res_scale: float = 1.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(n_feats, n_feats, 3, padding=1)
        self.act = nn.ReLU()  # not in-place: hooks may keep references to conv1 outputs
        self.conv2 = nn.Conv2d(n_feats, n_feats, 3, padding=1)
        self.res_scale = res_scale
        self.dropout: nn.Module | None = None  # set to nn.Dropout for the MC-dropout variant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x + self.res_scale * self.conv2(self.act(self.conv1(x)))
        return out if self.dropout is None else self.dropout(out)


class Upsampler(nn.Sequential):
    """log2(scale) stages of conv3x3(F -> 4F) + PixelShuffle(2) + PReLU (sub-pixel conv)."""

    def __init__(self, scale: int, n_feats: int) -> None:
        if scale < 1 or scale & (scale - 1):
            raise ValueError(f"scale must be a power of 2, got {scale}")
        layers: list[nn.Module] = []
        for _ in range(int(math.log2(scale))):
            layers += [nn.Conv2d(n_feats, 4 * n_feats, 3, padding=1), nn.PixelShuffle(2), nn.PReLU(n_feats)]
        super().__init__(*layers)


@register_architecture("srresnet")
class SRResNet(nn.Module):
    """x``scale`` SRResNet generator without BatchNorm; see the module docstring."""

    def __init__(
        self,
        scale: int = 4,
        n_feats: int = 32,
        n_blocks: int = 8,
        dropout_p: float = 0.0,
        dropout_at: int | None = None,
        logvar: bool = False,
        res_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.scale = int(scale)
        self.logvar = bool(logvar)
        self.head = nn.Sequential(nn.Conv2d(3, n_feats, 3, padding=1), nn.PReLU(n_feats))
        self.body = nn.Sequential(*[ResBlock(n_feats, res_scale) for _ in range(n_blocks)])
        if dropout_at is not None:
            if not 0 <= dropout_at < n_blocks:
                raise ValueError(f"dropout_at must be in [0, {n_blocks}), got {dropout_at}")
            self.body[dropout_at].dropout = nn.Dropout(dropout_p)
        self.body_tail = nn.Conv2d(n_feats, n_feats, 3, padding=1)
        self.upsample = Upsampler(self.scale, n_feats)
        self.tail = nn.Conv2d(n_feats, 6 if self.logvar else 3, 3, padding=1)
        with torch.no_grad():  # start close to bicubic: small output conv
            self.tail.weight.mul_(0.1)
            self.tail.bias.zero_()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The body's features at the input's resolution (after the global skip), what the
        upsampler reads; a variance branch (:mod:`uqcore.models.srresnet_head`) reads them too."""
        feat = self.head(x)
        return feat + self.body_tail(self.body(feat))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        out = self.tail(self.upsample(self.features(x)))
        if self.logvar:
            return torch.cat([out[:, :3] + base, out[:, 3:]], dim=1)
        return out + base


# -- evaluation --------------------------------------------------------------------------------
def load_hr(path: str | Path, scale: int = 4) -> torch.Tensor:
    """Read an RGB image as float32 [1, 3, H, W] in [0, 1], cropped to a multiple of ``scale``."""
    from PIL import Image

    img = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    h, w = img.shape[0] // scale * scale, img.shape[1] // scale * scale
    return torch.from_numpy(img[:h, :w].copy()).permute(2, 0, 1).unsqueeze(0)


@torch.inference_mode()
def evaluate_images(model, paths, scale: int = 4) -> dict[str, dict[str, float]]:
    """Per-image PSNR/SSIM (Y channel, ``scale``-pixel border) of ``model`` and of bicubic.

    ``model`` is an ``nn.Module`` or a ``UQModel`` (for an ensemble, the members' mean is used;
    for a mean+log-variance model, the mean). LR input = :func:`bicubic_downscale` of the HR.
    Returns {file name: {psnr, ssim, bicubic_psnr, bicubic_ssim, psnr_gain}}.
    """
    members = getattr(model, "members", None) or [model]
    results = {}
    for path in paths:
        hr = load_hr(path, scale)
        lr = bicubic_downscale(hr, scale)
        outs = []
        for m in members:
            m.eval()
            out = m(lr)
            outs.append(out[:, :3])
        sr = torch.stack(outs).mean(0)
        bic = bicubic_upscale(lr, scale)
        p, s = psnr_ssim(sr, hr, border=scale)
        bp, bs = psnr_ssim(bic, hr, border=scale)
        results[Path(path).name] = {
            "psnr": round(p, 4), "ssim": round(s, 5),
            "bicubic_psnr": round(bp, 4), "bicubic_ssim": round(bs, 5),
            "psnr_gain": round(p - bp, 4),
        }
    return results


def psnr_gain(model, paths, scale: int = 4) -> float:
    """Mean over ``paths`` of (model PSNR - bicubic PSNR), Y channel, ``scale``-px border, in dB."""
    res = evaluate_images(model, paths, scale)
    return float(np.mean([r["psnr_gain"] for r in res.values()]))
