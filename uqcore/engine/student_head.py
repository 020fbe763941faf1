"""The student head: a few convolutions that read the frozen network's feature maps and prediction
and output a per-pixel log-variance, in the same forward pass as the prediction.

Architecture (``StudentHead``), cheapest where the pixels are many:

* base path, at the resolution of the smallest feature map: every feature map (average-pooled to
  that size where larger) and the prediction (pooled too), normalised per channel by fixed
  statistics (``fit_normalisation``, from the first training batch), concatenated -> 3x3 conv
  (``hidden``) -> ReLU -> 3x3 conv (``hidden``) -> ReLU -> 1x1 conv (``fine``);
* fine path, at the resolution of the last feature map: a ``last_kernel`` conv of that map plus a
  3x3 conv of the prediction (pooled to that size where larger), both normalised by folding the
  statistics into the weights (no normalised copy of the large maps), plus the base path upsampled
  bilinearly -> ReLU -> 3x3 conv (``fine``) -> ReLU -> 1x1 conv -> log-variance, upsampled
  bilinearly to the prediction's size where that is larger: [B, 1, H', W'].

The features are captured with ``uqcore.engine.hooks.forward_hooks`` as observers (the hook returns None,
so the network's output is untouched) and detached: a stop-gradient, the frozen network never
receives a gradient from the head's loss.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from uqcore.errors import InputError
from uqcore.engine.hooks import forward_hooks
from uqcore.engine.model import checked_forward

# The log-variance is clamped to this range: exp() stays finite in float32 and the NLL bounded.
LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0


@dataclass(frozen=True)
class HeadConfig:
    """What a head reads and how big it is (stored in the safetensors metadata and the card).

    layers:    dotted names of the captured feature layers (forward order).
    channels:  their channel counts.
    ratios:    their spatial size relative to the model's input (e.g. 1.0 at input resolution,
               4.0 after a x4 upsampler, 0.25 after two stride-2 stages), for the fit check.
    out_channels: channels of the model's prediction.
    hidden / fine: widths of the base path and of the output-resolution path.
    last_kernel: kernel size of the conv that reads the last feature map at output resolution.
    """

    layers: tuple[str, ...]
    channels: tuple[int, ...]
    ratios: tuple[float, ...]
    out_channels: int
    hidden: int = 16
    fine: int = 8
    last_kernel: int = 1

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> "HeadConfig":
        try:
            return cls(layers=tuple(data["layers"]), channels=tuple(int(c) for c in data["channels"]),
                       ratios=tuple(float(r) for r in data["ratios"]), out_channels=int(data["out_channels"]),
                       hidden=int(data.get("hidden", 16)), fine=int(data.get("fine", 8)),
                       last_kernel=int(data.get("last_kernel", 1)))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a student head configuration ({type(exc).__name__}: {exc})") from None


class StudentHead(nn.Module):
    """Per-pixel log-variance from captured features and the prediction (module docstring)."""

    def __init__(self, config: HeadConfig):
        super().__init__()
        self.config = config
        c = config
        self.register_buffer("feat_mean", torch.zeros(sum(c.channels)))
        self.register_buffer("feat_std", torch.ones(sum(c.channels)))
        self.register_buffer("pred_mean", torch.zeros(c.out_channels))
        self.register_buffer("pred_std", torch.ones(c.out_channels))
        self.base1 = nn.Conv2d(sum(c.channels) + c.out_channels, c.hidden, 3, padding=1)
        self.base2 = nn.Conv2d(c.hidden, c.hidden, 3, padding=1)
        self.to_fine = nn.Conv2d(c.hidden, c.fine, 1)
        self.last = nn.Conv2d(c.channels[-1], c.fine, c.last_kernel, padding=c.last_kernel // 2)
        self.pred = nn.Conv2d(c.out_channels, c.fine, 3, padding=1)
        self.fine2 = nn.Conv2d(c.fine, c.fine, 3, padding=1)
        self.out = nn.Conv2d(c.fine, 1, 1)

    def forward(self, features: list[torch.Tensor], prediction: torch.Tensor) -> torch.Tensor:
        """features (as captured, in ``config.layers`` order), prediction [B, C, H', W'] ->
        log-variance [B, 1, H', W']."""
        base = min((f.shape[-2:] for f in features), key=lambda s: s[0] * s[1])
        feats = _normalise(torch.cat([_fit(f, base) for f in features], 1), self.feat_mean, self.feat_std)
        pred_small = _normalise(_fit(prediction, base), self.pred_mean, self.pred_std)
        h = F.relu(self.base1(torch.cat([feats, pred_small], 1)))
        h = self.to_fine(F.relu(self.base2(h)))
        last = features[-1]
        size = last.shape[-2:]
        n_last = self.config.channels[-1]
        z = (_folded(self.last, last, self.feat_mean[-n_last:], self.feat_std[-n_last:])
             + _folded(self.pred, _fit(prediction, size), self.pred_mean, self.pred_std) + _fit(h, size))
        z = F.relu(self.fine2(F.relu(z)))
        return _fit(self.out(z), prediction.shape[-2:]).clamp(LOGVAR_MIN, LOGVAR_MAX)

    @torch.no_grad()
    def fit_normalisation(self, features: list[torch.Tensor], prediction: torch.Tensor) -> None:
        """Per-channel mean / std of the features and the prediction (over batch and pixels)."""
        flat = [f.transpose(0, 1).reshape(f.shape[1], -1) for f in features]
        self.feat_mean.copy_(torch.cat([f.mean(1) for f in flat]))
        self.feat_std.copy_(torch.cat([f.std(1) for f in flat]).clamp_min(1e-6))
        p = prediction.transpose(0, 1).reshape(prediction.shape[1], -1)
        self.pred_mean.copy_(p.mean(1))
        self.pred_std.copy_(p.std(1).clamp_min(1e-6))

    def predict(self, module: nn.Module, x: torch.Tensor, split=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(prediction [B, C, H', W'], log-variance [B, 1, H', W']) in one forward pass of the frozen
        ``module`` (features captured, detached) plus the head. ``split(output) -> (mean, other)``
        picks the prediction out of the output (``UQModel.split_output``); default: all of it."""
        out, features = capture(module, x, self.config.layers)
        prediction = split(out)[0] if split is not None else out
        return prediction, self(features, prediction.detach())


def _fit(x: torch.Tensor, size) -> torch.Tensor:
    """``x`` at spatial ``size``: itself, average-pooled when larger, bilinear when smaller."""
    if x.shape[-2:] == size:
        return x
    if x.shape[-2] >= size[0] and x.shape[-1] >= size[1]:
        return F.adaptive_avg_pool2d(x, size)
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def _folded(conv: nn.Conv2d, x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``conv((x - mean) / std)`` with the per-channel normalisation folded into the weights (the
    zero padding then pads the raw map): no normalised copy of a large map is made."""
    weight = conv.weight / std.view(1, -1, 1, 1)
    bias = conv.bias - (weight * mean.view(1, -1, 1, 1)).sum((1, 2, 3))
    return F.conv2d(x, weight, bias, padding=conv.padding)


def _normalise(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


def find_layers(module: nn.Module, names) -> list[nn.Module]:
    """The submodules called ``names``; an InputError naming the missing ones."""
    modules = dict(module.named_modules())
    missing = [n for n in names if n not in modules or not n]
    if missing:
        raise InputError(f"the model has no layer named {', '.join(map(repr, missing))}; "
                         "see uqcore.list_layers(model) for valid names")
    return [modules[n] for n in names]


def capture(module: nn.Module, x: torch.Tensor, names) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(output, [feature maps of ``names``, detached]) of one forward pass; the hooks only observe
    (they return None), so the output is the network's own, bit for bit. A layer called more than
    once keeps its first output."""
    found: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(_module, _inputs, output):
            if name not in found:
                if not isinstance(output, torch.Tensor) or output.dim() != 4:
                    raise InputError(f"layer {name!r} does not output one [B, C, H, W] feature map")
                found[name] = output.detach()
        return hook

    layers = find_layers(module, names)
    with forward_hooks(post={m: keep(n) for m, n in zip(layers, names)}):
        out = checked_forward(module, x)
    never = [n for n in names if n not in found]
    if never:
        raise InputError(f"layer(s) {', '.join(never)} never ran in the model's forward pass")
    return out, [found[n] for n in names]


_COPIES_LOCK = threading.Lock()


def head_on(head: StudentHead, device: torch.device) -> StudentHead:
    """``head`` on ``device``: itself if it is there, else a copy made once and kept on the head
    (thread-safe; the dashboard shares one model between sessions)."""
    device = torch.device(device)
    current = next(head.parameters()).device
    if current.type == device.type and (device.type != "cuda" or current.index == (device.index or 0)):
        return head
    with _COPIES_LOCK:
        copies = head.__dict__.setdefault("device_copies", {})
        if str(device) not in copies:
            copies[str(device)] = copy.deepcopy(head).to(device).eval()
        return copies[str(device)]
