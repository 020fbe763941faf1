"""SRResNet with a stop-gradient variance branch: the likelihood head of "Pretrained Visual
Uncertainties" (seed 004) on a frozen super-resolution network (``srresnet-llm-head``).

    mean     = SRResNet's own output, computed by the same modules in the same order, so it is
               bit-identical to the plain network with the same weights;
    logvar   = branch(stop-gradient(body features)):
               ``head_blocks`` x [conv3x3 + ReLU] at the input's resolution (width ``head_feats``),
               upsampled as the image is (log2(scale) x conv3x3(W -> 4W) + PixelShuffle(2) + PReLU),
               then conv3x3(W -> 3): one log-variance per output pixel and channel.

The forward returns [B, 6, H*scale, W*scale] (3 mean + 3 log-variance: ``output="mean_logvar"``,
so ``method="llm"`` reads it). The trunk's parameter names are SRResNet's (this is a subclass),
so srresnet's weights load into it unchanged; the branch's are ``var_*``. Training
(``python -m uqcore train sr --arch llm-head``) freezes the trunk.
"""

from __future__ import annotations

import torch
from torch import nn

from uqcore.models.architectures import register_architecture
from uqcore.models.srresnet import SRResNet, Upsampler


@register_architecture("srresnet-head")
class SRResNetVarHead(SRResNet):
    """A frozen-trunk SRResNet plus a variance branch; see the module docstring."""

    def __init__(self, scale: int = 4, n_feats: int = 32, n_blocks: int = 8, head_feats: int = 32,
                 head_blocks: int = 3, logvar_init: float = -7.0) -> None:
        super().__init__(scale=scale, n_feats=n_feats, n_blocks=n_blocks)
        layers: list[nn.Module] = []
        for i in range(head_blocks):
            layers += [nn.Conv2d(n_feats if i == 0 else head_feats, head_feats, 3, padding=1), nn.ReLU()]
        self.var_body = nn.Sequential(*layers) if layers else nn.Identity()
        self.var_upsample = Upsampler(self.scale, head_feats if head_blocks else n_feats)
        self.var_tail = nn.Conv2d(head_feats if head_blocks else n_feats, 3, 3, padding=1)
        with torch.no_grad():  # start at a typical squared error of an 8-bit SR output (~0.03^2)
            self.var_tail.weight.mul_(0.1)
            self.var_tail.bias.fill_(logvar_init)

    def branch_parameters(self) -> list[nn.Parameter]:
        """The variance branch's parameters (the only ones its training updates)."""
        return [p for n, p in self.named_parameters() if n.startswith("var_")]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = nn.functional.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        feat = self.features(x)
        mean = self.tail(self.upsample(feat)) + base
        logvar = self.var_tail(self.var_upsample(self.var_body(feat.detach())))
        return torch.cat([mean, logvar], dim=1)
